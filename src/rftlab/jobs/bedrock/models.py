"""Which Bedrock model ids do what: RFT base models per API, and the ids Converse takes.

Pure (no boto3): the one table of model ids, so launch, evaluation, the judge and prompt
paraphrasing agree.

- RFT through CreateModelCustomizationJob: Amazon Nova 2 Lite, customization id
  `amazon.nova-2-lite-v1:0:256k` in us-east-1 (user guide "Fine-tune Amazon Nova models with
  reinforcement fine-tuning", https://docs.aws.amazon.com/bedrock/latest/userguide/rft-nova-models.html;
  AWS's sample passes it as `arn:aws:bedrock:<region>::foundation-model/amazon.nova-2-lite-v1:0:256k`,
  aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/nova/).
- RFT of open-weight models goes through the OpenAI-compatible fine-tuning API instead
  (user guide fine-tuning-openai-job-create; aws-samples ... /models/gpt-oss/, /models/qwen/).
- Inference: Converse on Nova 2 Lite takes the inference profiles `us.amazon.nova-2-lite-v1:0`
  and `global.amazon.nova-2-lite-v1:0`, not the customization id (Nova 2 user guide "Core
  inference", https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html).
"""

from __future__ import annotations

import re

from rftlab.errors import InputError

NOVA_2_LITE = "amazon.nova-2-lite-v1:0"
# customization (training) id -> foundation id whose inference profiles serve it
RFT_BASE_MODELS: dict[str, str] = {f"{NOVA_2_LITE}:256k": NOVA_2_LITE}
OPEN_WEIGHT_RFT_MODELS = ("openai.gpt-oss-20b", "qwen.qwen3-32b-v1:0")
# foundation id -> geographies with a cross-region inference profile (Nova 2 user guide, core inference)
INFERENCE_PROFILES: dict[str, tuple[str, ...]] = {NOVA_2_LITE: ("us", "global")}

_FOUNDATION_ARN = re.compile(r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]*::foundation-model/(?P<id>.+)")
_PROFILE = re.compile(r"(us|eu|apac|jp|au|ca|us-gov|global)\.")


def bare_id(model: str) -> str:
    """`arn:aws:bedrock:us-east-1::foundation-model/X` -> `X`; anything else unchanged."""
    m = _FOUNDATION_ARN.fullmatch(model)
    return m.group("id") if m else model


def rft_base_model(model: str) -> str:
    """The id to send as baseModelIdentifier, or InputError naming the supported ids per API."""
    if bare_id(model) in RFT_BASE_MODELS:
        return model
    if bare_id(model) in OPEN_WEIGHT_RFT_MODELS:
        raise InputError(
            f"rft.bedrock.base_model_id: {model} is an open-weight model; Bedrock fine-tunes it through the "
            f"OpenAI-compatible fine-tuning API, which rftlab does not speak yet. CreateModelCustomizationJob "
            f"RFT takes: {', '.join(RFT_BASE_MODELS)}")
    raise InputError(
        f"rft.bedrock.base_model_id: {model} is not a base model for Bedrock RFT. CreateModelCustomizationJob "
        f"takes {', '.join(RFT_BASE_MODELS)}; the OpenAI-compatible fine-tuning API takes "
        f"{', '.join(OPEN_WEIGHT_RFT_MODELS)} (not supported by rftlab yet)")


def geography(region: str | None) -> str:
    """Inference-profile geography for a region (us-east-1 -> us); `global` elsewhere."""
    return "us" if (region or "").startswith("us-") else "global"


def inference_id(model: str, region: str | None = None) -> str:
    """The modelId Converse takes for `model`.

    A customization id (`...:256k`) or a bare foundation id that is only served through
    inference profiles becomes the profile of the region's geography; ARNs (deployments,
    custom models, profiles) and profile ids pass through unchanged.
    """
    if model.startswith("arn:") and not _FOUNDATION_ARN.fullmatch(model):
        return model
    base = bare_id(model)
    if _PROFILE.match(base):
        return base
    foundation = RFT_BASE_MODELS.get(base, base)
    geos = INFERENCE_PROFILES.get(foundation)
    if not geos:
        return base
    geo = geography(region)
    return f"{geo if geo in geos else geos[-1]}.{foundation}"
