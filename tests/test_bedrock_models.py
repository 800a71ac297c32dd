"""Model ids: which API trains which base model, and which id Converse takes (backends/bedrock/models.py)."""

from __future__ import annotations

import pytest

from rftlab.aws.models import inference_id
from rftlab.backends.bedrock.models import rft_base_model
from rftlab.errors import InputError

FOUNDATION_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-lite-v1:0:256k"


@pytest.mark.parametrize(("model", "region", "want"), [
    # Nova 2 user guide, "Core inference": Converse takes us./global. profiles for Nova 2 Lite
    ("amazon.nova-2-lite-v1:0:256k", "us-east-1", "us.amazon.nova-2-lite-v1:0"),
    ("amazon.nova-2-lite-v1:0", "us-west-2", "us.amazon.nova-2-lite-v1:0"),
    ("amazon.nova-2-lite-v1:0", "eu-west-1", "global.amazon.nova-2-lite-v1:0"),
    (FOUNDATION_ARN, "us-east-1", "us.amazon.nova-2-lite-v1:0"),
    ("global.amazon.nova-2-lite-v1:0", "us-east-1", "global.amazon.nova-2-lite-v1:0"),
    ("arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/a1b2c3d4e5f6", "us-east-1",
     "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/a1b2c3d4e5f6"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "us-east-1", "anthropic.claude-3-haiku-20240307-v1:0"),
])
def test_converse_gets_an_inference_id(model, region, want):
    assert inference_id(model, region) == want


@pytest.mark.parametrize("model", ["amazon.nova-2-lite-v1:0:256k", FOUNDATION_ARN])
def test_nova_2_lite_is_an_rft_base_model(model):
    assert rft_base_model(model) == model


@pytest.mark.parametrize(("model", "says"), [
    ("openai.gpt-oss-20b", "open-weight model"),
    ("qwen.qwen3-32b-v1:0", "OpenAI-compatible fine-tuning API"),
    ("amazon.nova-lite-v1:0:300k", "not a base model for Bedrock RFT"),
    ("us.amazon.nova-2-lite-v1:0", "not a base model for Bedrock RFT"),  # an inference profile, not a training id
])
def test_other_base_models_are_refused_naming_the_supported_ids(model, says):
    with pytest.raises(InputError) as exc:
        rft_base_model(model)
    msg = str(exc.value)
    assert says in msg and "amazon.nova-2-lite-v1:0:256k" in msg and "rft.bedrock.base_model_id" in msg
    assert "\n" not in msg


def test_bedrock_runtime_client_waits_as_long_as_nova_may_take():
    """AWS: Nova inference can take up to 60 minutes; set read_timeout=3600 (Nova 2 user guide)."""
    from rftlab import aws

    aws.reset_clients()
    try:
        assert aws.client("bedrock-runtime", "us-east-1").meta.config.read_timeout == 3600
        assert aws.client("bedrock", "us-east-1").meta.config.read_timeout == 60  # botocore's default
        assert aws.client("bedrock-runtime", "us-east-1").meta.config.retries["mode"] == "adaptive"
    finally:
        aws.reset_clients()
