"""Which Bedrock model ids do what: RFT base models per API, and the ids Converse takes.

Pure (no boto3): the one table of model ids, so launch, evaluation, the judge and prompt
paraphrasing agree.

- RFT through CreateModelCustomizationJob: Amazon Nova 2 Lite, customization id
  `amazon.nova-2-lite-v1:0:256k` in us-east-1 (user guide "Fine-tune Amazon Nova models with
  reinforcement fine-tuning", https://docs.aws.amazon.com/bedrock/latest/userguide/rft-nova-models.html;
  AWS's sample passes it as `arn:aws:bedrock:<region>::foundation-model/amazon.nova-2-lite-v1:0:256k`,
  aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/nova/).
- RFT of open-weight models goes through the OpenAI-compatible fine-tuning API instead:
  `openai.gpt-oss-20b` and `qwen.qwen3-32b-v1:0` (user guide "Create and manage fine-tuning jobs for
  open-weight models using OpenAI APIs",
  https://docs.aws.amazon.com/bedrock/latest/userguide/fine-tuning-openai-job-create.html; the MODEL_ID
  of aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/gpt-oss/
  gptoss_gsm8k_rft.ipynb and models/qwen/qwen_gsm8k_rft.ipynb). `rft_api` routes an id to its API.
- Inference: Converse on Nova 2 Lite takes the inference profiles `us.amazon.nova-2-lite-v1:0`
  and `global.amazon.nova-2-lite-v1:0`, not the customization id (Nova 2 user guide "Core
  inference", https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html).
"""

from __future__ import annotations

from rftlab.aws.models import CUSTOMIZATION_IDS, bare_id
from rftlab.errors import InputError

# customization (training) id -> foundation id whose inference profiles serve it (rftlab.aws.models)
RFT_BASE_MODELS: dict[str, str] = dict(CUSTOMIZATION_IDS)
OPEN_WEIGHT_RFT_MODELS = ("openai.gpt-oss-20b", "qwen.qwen3-32b-v1:0")

# API names: the rftlab backend that speaks each (rft.backend)
NOVA_API = "bedrock"   # CreateModelCustomizationJob
OPEN_WEIGHT_API = "bedrock_open_weight"  # the OpenAI-compatible fine-tuning API (bedrock-mantle)


def _supported() -> str:
    return (f"CreateModelCustomizationJob (rft.backend bedrock) takes {', '.join(RFT_BASE_MODELS)}; the "
            f"OpenAI-compatible fine-tuning API (rft.backend bedrock_open_weight) takes {', '.join(OPEN_WEIGHT_RFT_MODELS)}")


def rft_api(model: str, key: str = "rft.base_model") -> str:
    """Which API fine-tunes `model`: NOVA_API or OPEN_WEIGHT_API; InputError naming the ids per API."""
    if bare_id(model) in RFT_BASE_MODELS:
        return NOVA_API
    if bare_id(model) in OPEN_WEIGHT_RFT_MODELS:
        return OPEN_WEIGHT_API
    raise InputError(f"{key}: {model} is not a base model for Bedrock RFT. {_supported()}")


def rft_base_model(model: str) -> str:
    """The id to send as baseModelIdentifier (CreateModelCustomizationJob), or InputError naming the
    supported ids per API. An open-weight id here is refused with where it belongs: `rft.base_model`
    (routed by `rft_api`) or `rft.bedrock_open_weight.base_model_id`."""
    key = "rft.bedrock.base_model_id"
    if rft_api(model, key) == OPEN_WEIGHT_API:
        raise InputError(
            f"{key}: {model} is an open-weight model; Bedrock fine-tunes it through the OpenAI-compatible "
            f"fine-tuning API: set rft.base_model: {model} (rftlab routes it there) or rft.backend: bedrock_open_weight. "
            f"CreateModelCustomizationJob RFT takes: {', '.join(RFT_BASE_MODELS)}")
    return model


def open_weight_base_model(model: str) -> str:
    """The `model` to send to fine_tuning.jobs.create, or InputError naming the supported ids per API."""
    key = "rft.bedrock_open_weight.base_model_id"
    if rft_api(model, key) == NOVA_API:
        raise InputError(
            f"{key}: {model} is a Nova model; Bedrock fine-tunes it through CreateModelCustomizationJob: set "
            f"rft.base_model: {model} (rftlab routes it there) or rft.backend: bedrock. The OpenAI-compatible "
            f"fine-tuning API takes: {', '.join(OPEN_WEIGHT_RFT_MODELS)}")
    return bare_id(model)
