"""Before anything is uploaded or deployed, the whole CreateModelCustomizationJob request is valid.

Each case goes through `rftlab rft` against moto (S3, IAM, Lambda, ECR) with a Bedrock Stubber that has
no responses queued: a request that reached Bedrock, an upload or a Lambda deployment fails the test.
"""

from __future__ import annotations

import pytest
import yaml
from bedrock_support import BUCKET, REGION, write_params
from typer.testing import CliRunner

from rftlab.cli import app

runner = CliRunner()


def _nothing_left_the_machine():
    from rftlab.aws import client

    assert client("s3", REGION).list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert client("lambda", REGION).list_functions()["Functions"] == []
    assert client("ecr", REGION).describe_repositories()["repositories"] == []


def _params(project, **bedrock):
    data = yaml.safe_load(write_params(project, image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/g:1",
                                       **bedrock).read_text())
    return data


@pytest.mark.parametrize(("setting", "says"), [
    ({"role_arn": "rftlab-bedrock-rft"}, "roleArn"),                        # a role name, not an ARN
    ({"kms_key_id": "my key!"}, "customModelKmsKeyId"),                    # not a key id/ARN/alias
    ({"base_model_id": "qwen.qwen3-32b-v1:0"}, "OpenAI-compatible fine-tuning API"),  # open weights: other API
    ({"base_model_id": "amazon.nova-pro-v1:0:300k"}, "amazon.nova-2-lite-v1:0:256k"),  # not an RFT model
    ({"prefix": "has space"}, "s3Uri"),                                    # an S3 URI botocore refuses
    ({"lambda_function": "rftlab grader"}, "lambdaArn"),                    # a function name Lambda refuses
])
def test_invalid_request_is_refused_before_any_side_effect(project, bedrock, no_sleep, setting, says):
    params = _params(project, **setting)
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = runner.invoke(app, ["rft"])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    _nothing_left_the_machine()
    bedrock.assert_no_pending_responses()


def test_hyperparameters_out_of_botocore_range_are_refused_before_upload(project, bedrock, no_sleep):
    """A spec built outside params.yaml (e.g. an Optuna trial) is still checked against botocore."""
    from bedrock_support import rft_params

    from rftlab.backends.bedrock import commands as bedrock_commands
    from rftlab.errors import InputError
    from rftlab.jobs.spec import build_spec

    spec = build_spec(rft_params(), train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json")
    spec = spec.model_copy(update={"hyperparameters": {**spec.hyperparameters, "learningRate": 0.5}})
    with pytest.raises(InputError, match=r"learningRate: 0.5 is outside the allowed range"):
        bedrock_commands.make_backend(rft_params()).submit(spec)
    _nothing_left_the_machine()
