"""The caller policy grants the inference-profile calls, tagging on create, and Lambda's image pull; the image's Region.

Shapes from AWS's pages: a geographic profile needs InvokeModel on the profile in the source Region and on the
foundation model in each destination Region (user guide, geographic-cross-region-inference.html); a tagged Lambda
needs lambda:TagResource / lambda:ListTags (Lambda developer guide, configuration-tags.html); Lambda pulls with
ecr:BatchGetImage + ecr:GetDownloadUrlForLayer granted to lambda.amazonaws.com (images-create.html).
"""

from __future__ import annotations

import json

import pytest
from bedrock_support import ACCOUNT, REGION
from test_bedrock_iam import allowed


def _docs():
    from rftlab.backends.bedrock.iam import documents
    from rftlab.config import load_params

    return documents(load_params(), account=ACCOUNT)


@pytest.mark.parametrize("destination", ["us-east-1", "us-east-2", "us-west-2"])
def test_converse_on_the_us_profile_is_granted_on_the_profile_and_the_model_in_each_destination(project, destination):
    policy = _docs()["caller-policy.json"]
    profile = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.amazon.nova-2-lite-v1:0"
    assert allowed(policy, "bedrock:InvokeModel", profile)
    assert allowed(policy, "bedrock:InvokeModel", f"arn:aws:bedrock:{destination}::foundation-model/amazon.nova-2-lite-v1:0")
    assert not allowed(policy, "bedrock:InvokeModel", f"arn:aws:bedrock:{destination}::foundation-model/anthropic.claude-x")
    assert not allowed(policy, "bedrock:InvokeModel", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.other-v1:0")


def test_global_profiles_get_the_region_less_foundation_model_arn():
    from rftlab.backends.bedrock.caller_policy import inference_profile_resources

    res = inference_profile_resources([("global.amazon.nova-2-lite-v1:0", "us-east-1"),
                                       ("arn:aws:bedrock:us-east-1:1:custom-model-deployment/x", "us-east-1")], "1")
    assert "arn:aws:bedrock:::foundation-model/amazon.nova-2-lite-v1:0" in res
    assert not any("custom-model-deployment" in r for r in res)


def test_tagging_on_create_and_the_repository_policy_are_granted(project):
    docs = _docs()
    policy = docs["caller-policy.json"]
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rftlab-grader"
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/rftlab-grader"
    for action, resource in (("lambda:TagResource", fn), ("lambda:ListTags", fn), ("ecr:SetRepositoryPolicy", repo),
                             ("ecr:GetRepositoryPolicy", repo),
                             ("bedrock:TagResource", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/d1")):
        assert allowed(policy, action, resource), action


def test_open_weight_documents_are_scoped_to_the_open_weight_region(project):
    docs = _docs()
    ow = docs["open-weight-caller-policy.json"]
    fn = f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:rftlab-grader"
    assert allowed(ow, "lambda:CreateFunction", fn) and allowed(ow, "lambda:InvokeFunction", f"{fn}:3")
    assert allowed(ow, "ecr:PutImage", f"arn:aws:ecr:us-west-2:{ACCOUNT}:repository/rftlab-grader")
    assert not allowed(ow, "lambda:CreateFunction", fn.replace("us-west-2", REGION))
    assert allowed(ow, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/rftlab-grader-exec",
                   {"iam:PassedToService": "lambda.amazonaws.com"})
    logs = docs["grader-lambda-policy.json"]
    for region in (REGION, "us-west-2"):
        assert allowed(logs, "logs:CreateLogStream", f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/rftlab-grader:x")


def test_an_image_in_another_region_is_refused_with_the_key():
    from rftlab.backends.bedrock.ecr_pull import check_image_region, parse_image_uri
    from rftlab.errors import ConfigError

    uri = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/rftlab-grader:abc"
    assert parse_image_uri(uri) == (ACCOUNT, "us-east-1", "rftlab-grader")
    assert parse_image_uri("public.ecr.aws/lambda/python:3.13") is None
    with pytest.raises(ConfigError, match="rft.bedrock_open_weight.image_uri: .* us-east-1.*us-west-2"):
        check_image_region(uri, "us-west-2", "rft.bedrock_open_weight.image_uri")


def test_the_lambda_pull_statement_is_added_once_and_other_statements_kept():
    from rftlab.backends.bedrock.ecr_pull import with_lambda_pull

    other = {"Sid": "Team", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": ["ecr:BatchGetImage"]}
    added = json.loads(with_lambda_pull(json.dumps({"Version": "2012-10-17", "Statement": [other]})))
    assert added["Statement"][0] == other
    assert added["Statement"][1]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert set(added["Statement"][1]["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    assert with_lambda_pull(json.dumps(added)) is None
    assert with_lambda_pull(None) is not None
