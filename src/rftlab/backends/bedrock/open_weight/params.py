"""params.yaml `rft.bedrock_open_weight`: open-weight models through Bedrock's OpenAI-compatible fine-tuning API."""

from __future__ import annotations

from pydantic import Field

from rftlab.config.base import Section


class OpenWeightHyperParameters(Section):
    """The open-weight RFT hyperparameters, under the names AWS documents for the OpenAI-compatible API.

    Names and the values AWS's examples use (n_epochs 1, batch_size 4 prompts per step,
    learning_rate_multiplier 1.0): user guide fine-tuning-openai-job-create
    (https://docs.aws.amazon.com/bedrock/latest/userguide/fine-tuning-openai-job-create.html) and
    aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/gpt-oss/
    gptoss_gsm8k_rft.ipynb ("batch_size - Prompts per training step"). AWS publishes no ranges, so only
    the sign is checked here. n_epochs / batch_size mean what epochCount / batchSize mean on the other
    backends and are also recorded under those names (docs/open_weight.md).
    """

    n_epochs: int = Field(1, ge=1)
    batch_size: int = Field(4, ge=1)
    learning_rate_multiplier: float = Field(1.0, gt=0)


class OpenWeightBackendParams(Section):
    """Bedrock's OpenAI-compatible fine-tuning API (open-weight models, docs/open_weight.md).

    The grader Lambda is the one `rft.bedrock` describes (function, roles, repository name), published in
    this region from an image in this region's ECR (`image_uri`; Lambda needs the image in the function's
    Region: Lambda developer guide, images-create.html); AWS's examples use us-west-2
    (https://bedrock-mantle.us-west-2.api.aws/v1).
    """

    region: str = "us-west-2"
    base_model_id: str = "openai.gpt-oss-20b"
    endpoint: str | None = None             # null: https://bedrock-mantle.<region>.api.aws/v1 (OPENAI_BASE_URL is ignored)
    api_key_env: str | None = None          # a variable holding a Bedrock API key; null: short-term keys (token.py)
    token_lifetime_s: int = Field(3600, gt=0, le=43200)       # short-term keys: asked lifetime (AWS max 12 h)
    token_refresh_before_s: int = Field(600, gt=0)            # make a new key this long before the current ends
    image_uri: str | None = None            # the grader image in THIS region's ECR; null: build and push it here
    usd_per_hour: float | None = Field(None, gt=0)  # training price estimate; null: none published (see cost)
    stop_on_budget: bool = True
    poll_s: float = Field(60.0, gt=0)
    poll_max_s: float = Field(600.0, gt=0)
    hyperparameters: OpenWeightHyperParameters = OpenWeightHyperParameters()
