"""params.yaml `rft`: the backend, its hyperparameters (one set per backend), prices."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rftlab.config.base import Section, YamlPath


class HyperParameters(Section):
    """RFT hyperparameters under Bedrock's names (docs/hyperparameters.md), one set per backend.

    `batchSize` counts PROMPTS per optimizer step on both backends, as Bedrock does (AWS's Nova
    sample: "6k training samples / 32 batch size = ~188 steps per epoch"); each prompt brings
    `trainingSamplePerPrompt` completions. A value left null is not sent to Bedrock.
    """

    epochCount: int = Field(1, ge=1)
    batchSize: int = Field(16, ge=1)
    learningRate: float = Field(1e-5, gt=0)
    trainingSamplePerPrompt: int = Field(4, ge=2)
    inferenceMaxTokens: int = Field(256, ge=1)
    maxPromptLength: int = Field(1024, ge=1)
    reasoningEffort: Literal["low", "medium", "high"] | None = None
    evalInterval: int | None = Field(None, ge=1)


class LocalHyperParameters(HyperParameters):
    """The tiny local model: a large step, short completions, a few prompts per step."""

    batchSize: int = Field(4, ge=1)
    learningRate: float = Field(1e-3, gt=0)
    inferenceMaxTokens: int = Field(32, ge=1)
    maxPromptLength: int = Field(256, ge=1)
    evalInterval: int | None = Field(10, ge=1)


class BedrockHyperParameters(HyperParameters):
    """Defaults seeded from AWS's published values; ranges checked against botocore's service model.

    Sources: aws-samples/amazon-bedrock-samples, custom-models/bedrock-reinforcement-fine-tuning/
    models/nova/nova_gsm8k_rft.ipynb (batchSize 32, epochCount 1, learningRate 5e-5,
    inferenceMaxTokens 750, trainingSamplePerPrompt 4); AWS ML blog "Reinforcement fine-tuning on
    Amazon Bedrock: Best practices" (learningRate ~1e-4 for LoRA, batch 128). `evalInterval` stays
    null: Bedrock chooses it when it is not sent.
    """

    batchSize: int = 32
    learningRate: float = 5e-5
    inferenceMaxTokens: int = 750
    maxPromptLength: int = 1024

    @field_validator("*", mode="before")
    @classmethod
    def _in_botocore_range(cls, value: Any, info: ValidationInfo) -> Any:
        from rftlab.jobs.hyperparams import range_problem

        checkable = isinstance(value, int | float | str) and not isinstance(value, bool)
        if checkable and info.field_name and (problem := range_problem(info.field_name, value)):
            raise ValueError(problem)
        return value


class LoraParams(Section):
    enabled: bool = False
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None


class LocalBackendParams(Section):
    max_steps: int | None = Field(None, ge=1)
    hourly_usd: float = Field(0.0, ge=0)
    beta: float = Field(0.04, ge=0)
    temperature: float = Field(1.0, gt=0)
    per_device_max: int = Field(8, ge=1)     # completions per forward pass (batchSize -> grad accumulation)
    val_prompts: int = Field(64, ge=1)       # validation prompts scored every evalInterval steps
    lora: LoraParams = LoraParams()
    hyperparameters: LocalHyperParameters = LocalHyperParameters()


class InvocationLogsParams(Section):
    """Train a Nova job from the account's model invocation logs instead of the prompts file.

    Sent as CreateModelCustomizationJob `trainingDataConfig.invocationLogsConfig`
    (`invocationLogSource.s3Uri`, `requestMetadataFilters`, `usePromptResponse`: botocore's bedrock
    service model; user guide "Option 2: Use invocation logs for data preparation",
    https://docs.aws.amazon.com/bedrock/latest/userguide/rft-option-2.html). `request_metadata_filters`
    is botocore's RequestMetadataFilters union as is: exactly one of `equals` / `notEquals` (one
    key: value) or `andAll` / `orAll` (lists of those). Checked against the service model when loaded.
    """

    s3_uri: str | None = None                            # null: train from the prompts file
    request_metadata_filters: dict[str, Any] | None = None
    use_prompt_response: bool = False

    @model_validator(mode="after")
    def _botocore_shape(self) -> InvocationLogsParams:
        if self.s3_uri is None:
            if self.request_metadata_filters is not None or self.use_prompt_response:
                raise ValueError("s3_uri is not set: filters and use_prompt_response need the log location")
            return self
        from rftlab.jobs.bedrock.invocation_logs import config_problems

        problems = config_problems(self.s3_uri, self.request_metadata_filters, self.use_prompt_response)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class OpenAIHyperParameters(Section):
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


class OpenAIBackendParams(Section):
    """Bedrock's OpenAI-compatible fine-tuning API (open-weight models, docs/open_weight.md).

    The grader Lambda is the one `rft.bedrock` describes (function, image, roles), published in
    this region; AWS's examples use us-west-2 (https://bedrock-mantle.us-west-2.api.aws/v1).
    """

    region: str = "us-west-2"
    base_model_id: str = "openai.gpt-oss-20b"
    endpoint: str | None = None             # null: OPENAI_BASE_URL, else https://bedrock-mantle.<region>.api.aws/v1
    api_key_env: str = Field("OPENAI_API_KEY", min_length=1)  # the Bedrock API key (docs: OPENAI_API_KEY)
    stop_on_budget: bool = True
    poll_s: float = Field(60.0, gt=0)
    poll_max_s: float = Field(600.0, gt=0)
    hyperparameters: OpenAIHyperParameters = OpenAIHyperParameters()


class BedrockBackendParams(Section):
    region: str = "us-east-1"
    base_model_id: str = "amazon.nova-2-lite-v1:0:256k"
    role_arn: str | None = None
    bucket: str | None = None
    prefix: str = "rftlab"
    kms_key_id: str | None = None
    lambda_function: str = "rftlab-grader"
    lambda_role_arn: str | None = None
    lambda_timeout_s: int = Field(300, ge=60, le=900)
    lambda_memory_mb: int = Field(2048, ge=128, le=10240)
    ecr_repository: str = "rftlab-grader"
    image_uri: str | None = None
    stop_on_budget: bool = True
    poll_s: float = Field(60.0, gt=0)
    poll_max_s: float = Field(600.0, gt=0)
    deployment_name: str | None = None
    build_context: YamlPath = Path("build/grader-lambda")
    invocation_logs: InvocationLogsParams = InvocationLogsParams()
    hyperparameters: BedrockHyperParameters = BedrockHyperParameters()


class PriceParams(Section):
    """All prices are estimates: AWS publishes no RFT training price."""

    training_usd_per_hour: float = Field(61.0, ge=0)
    lambda_usd_per_gb_s: float = Field(0.0000166667, ge=0)
    lambda_usd_per_request: float = Field(0.0000002, ge=0)
    inference_usd_per_1k_input_tokens: float = Field(0.0003, ge=0)
    inference_usd_per_1k_output_tokens: float = Field(0.0025, ge=0)
    training_tokens_per_hour: float = Field(2_000_000, gt=0)
    training_overhead_hours: float = Field(0.5, ge=0)
    lambda_avg_duration_s: float = Field(0.5, ge=0)
    chars_per_token: float = Field(1.0, gt=0)


class RftParams(Section):
    backend: Literal["local", "bedrock", "openai"] = "local"
    base_model: str | None = None  # a Bedrock id here picks its API (bedrock or openai, jobs/bedrock/models.py)
    seed: int = 0
    budget_usd: float | None = Field(None, ge=0)
    local: LocalBackendParams = LocalBackendParams()
    bedrock: BedrockBackendParams = BedrockBackendParams()
    openai: OpenAIBackendParams = OpenAIBackendParams()
    prices: PriceParams = PriceParams()

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "hyperparameters" in data:
            raise ValueError("rft.hyperparameters moved: each backend has its own, "
                             "rft.local.hyperparameters and rft.bedrock.hyperparameters")
        return data

    @property
    def hyperparameters(self) -> HyperParameters | OpenAIHyperParameters:
        """The active backend's hyperparameters."""
        return self.hyperparameters_for(self.backend)

    def hyperparameters_for(self, backend: str) -> HyperParameters | OpenAIHyperParameters:
        """One backend's hyperparameters (a routed job uses its API's, not rft.backend's)."""
        return {"bedrock": self.bedrock.hyperparameters, "openai": self.openai.hyperparameters}.get(
            backend, self.local.hyperparameters)
