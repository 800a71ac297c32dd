"""The caller policy: what the person (or CI) running rftlab needs, one statement per group of calls.

Each statement names the calls it is for; docs/bedrock.md lists them per call with the same sources.
The rehearsal runs the pipeline as an IAM user holding exactly this document (moto enforces it for
S3/IAM/STS/Lambda/ECR, the Bedrock stand-in checks it with rftlab.backends.bedrock.policy_eval), and
tests/test_rehearsal_iam.py removes one statement at a time to see the call that needed it fail.
"""

from __future__ import annotations

import re
from typing import Any

VERSION = "2012-10-17"
BEDROCK = "bedrock.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"
# the geography prefix of a cross-Region inference profile id (us.amazon.nova-2-lite-v1:0 -> amazon.nova-2-lite-v1:0)
_GEO = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.")


def _arn_s3(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def _p(prefix: str, sub: str) -> str:
    return "/".join(x for x in (prefix.strip("/"), sub) if x)


def inference_profile_resources(calls: list[tuple[str, str]], account: str) -> list[str]:
    """InvokeModel resources for Converse on inference profiles: `(model id, source Region)` pairs.

    A geographic cross-Region inference profile needs InvokeModel on the profile in the source Region
    and on the foundation model in every destination Region it routes to (user guide, "Geographic
    cross-Region inference", IAM policy requirements:
    https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html, and
    "Prerequisites for inference profiles": inference-profiles-prereq.html, whose example grants
    `arn:aws:bedrock:*::foundation-model/*`). A global profile routes to any commercial Region and its
    foundation-model resource also takes the Region-less form `arn:aws:bedrock:::foundation-model/<id>`
    (user guide, "Global cross-Region inference": global-cross-region-inference.html). Here the
    destination Regions are `*`, since AWS adds Regions to a profile without notice.
    """
    out: list[str] = []
    for model, region in calls:
        foundation = _GEO.sub("", model)
        if model.startswith("arn:") or foundation == model:  # not a profile id: a deployment or a bare model
            continue
        out += [f"arn:aws:bedrock:{region}:{account}:inference-profile/{model}",
                f"arn:aws:bedrock:*::foundation-model/{foundation}"]
        if model.startswith("global."):
            out.append(f"arn:aws:bedrock:::foundation-model/{foundation}")
    return list(dict.fromkeys(out))


def _bedrock_statements(region: str, account: str, role_arn: str, profiles: list[str]) -> list[dict[str, Any]]:
    """Jobs, custom models, deployments, Converse. Actions are named after the operations (Service
    Authorization Reference, "Actions, resources, and condition keys for Amazon Bedrock":
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html);
    Converse needs bedrock:InvokeModel (API_runtime_Converse.html). CreateModelCustomizationJob sends
    `jobTags`/`customModelTags` and CreateCustomModelDeployment sends `tags` (API reference,
    API_CreateCustomModelDeployment.html). The pages found do not say whether tagging on create is
    authorized as bedrock:TagResource on the new resource (services that authorize tags on create do
    it that way: IAM user guide, "Controlling access during AWS requests", aws:RequestTag); rftlab
    grants bedrock:TagResource on jobs, custom models and deployments so a tagged create works either
    way, and the rehearsal's stand-in requires it, as Lambda does for CreateFunction with Tags.
    """
    bedrock = lambda kind: f"arn:aws:bedrock:{region}:{account}:{kind}"  # noqa: E731
    stmts: list[dict[str, Any]] = [
        {"Sid": "PassServiceRoleToBedrock", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [role_arn],
         "Condition": {"StringEquals": {"iam:PassedToService": BEDROCK}}},
        {"Sid": "CheckServiceRoleTrust", "Effect": "Allow", "Action": ["iam:GetRole"], "Resource": [role_arn]},
        {"Sid": "RftJobs", "Effect": "Allow", "Action": [
            "bedrock:CreateModelCustomizationJob", "bedrock:GetModelCustomizationJob",
            "bedrock:StopModelCustomizationJob", "bedrock:ListTagsForResource", "bedrock:TagResource",
            "bedrock:GetCustomModel"],
         "Resource": [bedrock("model-customization-job/*"), bedrock("custom-model/*"),
                      f"arn:aws:bedrock:{region}::foundation-model/*"]},
        # List* operations take no resource: Resource "*" (the reference lists no resource type for them)
        {"Sid": "ListJobs", "Effect": "Allow", "Action": [
            "bedrock:ListModelCustomizationJobs", "bedrock:ListCustomModelDeployments"], "Resource": ["*"]},
        {"Sid": "Deployments", "Effect": "Allow", "Action": [
            "bedrock:CreateCustomModelDeployment", "bedrock:GetCustomModelDeployment",
            "bedrock:UpdateCustomModelDeployment", "bedrock:TagResource"],
         "Resource": [bedrock("custom-model-deployment/*"), bedrock("custom-model/*")]},
        {"Sid": "InvokeDeployments", "Effect": "Allow", "Action": ["bedrock:InvokeModel"],
         "Resource": [bedrock("custom-model-deployment/*"), bedrock("custom-model/*")]},
    ]
    if profiles:
        stmts.append({"Sid": "InvokeInferenceProfiles", "Effect": "Allow", "Action": ["bedrock:InvokeModel"],
                      "Resource": profiles})
    return stmts


def grader_statements(function_arn: str, ecr_repository_arn: str, lambda_role_arn: str,
                      sid_suffix: str = "") -> list[dict[str, Any]]:
    """Deploying the grader Lambda from an image in ECR, in the function's Region.

    Lambda actions are named after their operations and scoped to the function (Lambda developer guide,
    lambda-api-permissions-ref.html). CreateFunction with `Tags` needs lambda:TagResource, and
    GetFunction on a tagged function needs lambda:ListTags (Lambda developer guide, "Using tags on
    Lambda functions", permissions required: configuration-tags.html). Lambda pulls the image with
    ecr:BatchGetImage + ecr:GetDownloadUrlForLayer granted to lambda.amazonaws.com by the repository
    policy; rftlab reads and sets that policy (ecr:GetRepositoryPolicy, ecr:SetRepositoryPolicy;
    Lambda developer guide, images-create.html "Amazon ECR permissions", and AWS re:Post knowledge
    center "lambda-ecr-image"). `docker push` needs the actions of the ECR user guide's push policy
    (image-push-iam.html). Passing the execution role: iam:PassRole with iam:PassedToService.
    """
    s = sid_suffix
    return [
        {"Sid": f"PassGraderExecutionRole{s}", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [lambda_role_arn], "Condition": {"StringEquals": {"iam:PassedToService": LAMBDA}}},
        {"Sid": f"DeployGrader{s}", "Effect": "Allow", "Action": [
            "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:CreateFunction",
            "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
            "lambda:ListVersionsByFunction"], "Resource": [function_arn, f"{function_arn}:*"]},
        {"Sid": f"TagGrader{s}", "Effect": "Allow", "Action": ["lambda:TagResource", "lambda:ListTags"],
         "Resource": [function_arn]},
        {"Sid": f"GraderImage{s}", "Effect": "Allow", "Action": [
            "ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:BatchGetImage", "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer"], "Resource": [ecr_repository_arn]},
        {"Sid": f"GraderImagePull{s}", "Effect": "Allow", "Action": [
            "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"], "Resource": [ecr_repository_arn]},
    ]


def ecr_login_statement() -> dict[str, Any]:
    """ecr:GetAuthorizationToken takes no resource (ECR user guide, image-push-iam.html: Resource "*")."""
    return {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]}


def caller_policy(
    role_arn: str, bucket: str, prefix: str, function_arn: str, ecr_repository_arn: str, region: str = "*",
    account: str = "*", lambda_role_arn: str | None = None, kms_key_arn: str | None = None,
    profile_calls: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The Nova backend's caller policy. S3 HeadObject needs s3:GetObject and HeadBucket / ListObjectsV2
    need s3:ListBucket (Amazon S3 API reference: API_HeadObject.html, API_HeadBucket.html, API_ListObjectsV2.html).
    """
    exec_role = lambda_role_arn or f"arn:aws:iam::{account}:role/rftlab-grader-exec"
    stmts = _bedrock_statements(region, account, role_arn,
                                inference_profile_resources(profile_calls or [], account))
    stmts += [
        {"Sid": "StagePrompts", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": [_arn_s3(bucket, f"{_p(prefix, 'data')}/*"), _arn_s3(bucket, f"{_p(prefix, 'output')}/*")]},
        {"Sid": "ListPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [_arn_s3(bucket)]},
        *grader_statements(function_arn, ecr_repository_arn, exec_role),
        ecr_login_statement(),
    ]
    if kms_key_arn:
        # SSE-KMS uploads need kms:GenerateDataKey, reading them back kms:Decrypt (Amazon S3 user guide,
        # "Using server-side encryption with AWS KMS keys (SSE-KMS)"); a custom model encrypted with the key
        # (customModelKmsKeyId) needs the caller to describe the key and let Bedrock create a grant on it
        # (Bedrock user guide, "Encryption of custom models": encryption-custom-job.html).
        stmts.append({"Sid": "UseEncryptionKey", "Effect": "Allow",
                      "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
                      "Resource": [kms_key_arn]})
    return {"Version": VERSION, "Statement": stmts}


def open_weight_caller_policy(region: str, account: str, function: str, ecr_repository: str,
                              lambda_role_arn: str) -> dict[str, Any]:
    """The open-weight backend's caller, all in the open-weight Region: deploy the grader there (the image
    must be in the function's Region: Lambda developer guide, images-create.html) and let the jobs call it.

    Open-weight jobs pass no service role: the grader is invoked with the permissions of the identity
    behind the Bedrock API key, next to the managed policy AmazonBedrockMantleFullAccess for the
    OpenAI-compatible API (user guide, rft-open-weight-access-security.html).
    """
    fn = f"arn:aws:lambda:{region}:{account}:function:{function}"
    repo = f"arn:aws:ecr:{region}:{account}:repository/{ecr_repository}"
    return {"Version": VERSION, "Statement": [
        {"Sid": "InvokeGrader", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": [fn, f"{fn}:*"]},
        *grader_statements(fn, repo, lambda_role_arn),
        ecr_login_statement(),
    ]}
