"""Which model id Converse takes for a Bedrock model: inference profiles of the models only served through them.

Pure (no boto3), so evaluation, the judges, prompt paraphrasing and the Bedrock backends agree.
Converse on Nova 2 Lite takes the inference profiles `us.amazon.nova-2-lite-v1:0` and
`global.amazon.nova-2-lite-v1:0`, not the customization id `amazon.nova-2-lite-v1:0:256k` (Nova 2
user guide "Core inference", https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html).
"""

from __future__ import annotations

import re

NOVA_2_LITE = "amazon.nova-2-lite-v1:0"
# customization (training) id -> the foundation id whose inference profiles serve it
CUSTOMIZATION_IDS: dict[str, str] = {f"{NOVA_2_LITE}:256k": NOVA_2_LITE}
# foundation id -> geographies with a cross-region inference profile (Nova 2 user guide, core inference)
INFERENCE_PROFILES: dict[str, tuple[str, ...]] = {NOVA_2_LITE: ("us", "global")}

_FOUNDATION_ARN = re.compile(r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]*::foundation-model/(?P<id>.+)")
_PROFILE = re.compile(r"(us|eu|apac|jp|au|ca|us-gov|global)\.")


def bare_id(model: str) -> str:
    """`arn:aws:bedrock:us-east-1::foundation-model/X` -> `X`; anything else unchanged."""
    m = _FOUNDATION_ARN.fullmatch(model)
    return m.group("id") if m else model


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
    foundation = CUSTOMIZATION_IDS.get(base, base)
    geos = INFERENCE_PROFILES.get(foundation)
    if not geos:
        return base
    geo = geography(region)
    return f"{geo if geo in geos else geos[-1]}.{foundation}"
