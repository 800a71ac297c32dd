"""Least-privilege IAM documents for Bedrock RFT, and the pre-launch trust-policy check.

Two principals are involved: the *service role* Bedrock assumes while training (reads
the prompts, writes the outputs, invokes the grader Lambda) and the *caller* running
rftlab (launches/follows jobs, passes the role, deploys the grader and the model).
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from rftlab.aws import AwsError, aws_errors, client
from rftlab.aws.models import inference_id
from rftlab.backends.bedrock.caller_policy import caller_policy, open_weight_caller_policy
from rftlab.backends.bedrock.grader_iam import grader_execution_policy
from rftlab.errors import ConfigError
from rftlab.io import write_json

SERVICE = "bedrock.amazonaws.com"
VERSION = "2012-10-17"


def _arn_s3(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def _p(prefix: str, sub: str) -> str:
    return "/".join(x for x in (prefix.strip("/"), sub) if x)


def trust_policy(account: str = "*", region: str = "*") -> dict[str, Any]:
    """Lets Bedrock (and only Bedrock, only for this account's customization jobs) assume the service role."""
    stmt: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": SERVICE},
        "Action": "sts:AssumeRole",
    }
    if account != "*":
        stmt["Condition"] = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{region}:{account}:model-customization-job/*"},
        }
    return {"Version": VERSION, "Statement": [stmt]}


def _function_arns(function_arn: str) -> list[str]:
    """InvokeFunction resources: a version ARN as given, else the function ARN and `<arn>:*`.

    A job calls the *qualified* version ARN (`function:NAME:3`). IAM matches Resource strings
    literally, and Lambda's ARN forms are function `...:function:NAME`, version
    `...:function:NAME:1`, alias `...:function:NAME:TEST`, so the unqualified ARN alone does
    not match a version; `NAME:*` matches every version and alias (Lambda developer guide,
    "Fine-tuning the Resources and Conditions sections of policies":
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html). A role made
    for one published version may name just that version.
    """
    parts = function_arn.split(":")
    if len(parts) > 7 and parts[5] == "function":
        return [function_arn]
    return [function_arn, f"{function_arn}:*"]


def invocation_log_statements(s3_uri: str) -> list[dict[str, Any]]:
    """Read access to the model invocation logs a job trains on (rft.bedrock.invocation_logs.s3_uri).

    The RFT access page's "Invocation log access" example grants s3:GetObject and s3:ListBucket on
    the bucket holding the logs (https://docs.aws.amazon.com/bedrock/latest/userguide/rft-access-security.html);
    here scoped to the log prefix as for the prompts (ListBucket with an `s3:prefix` condition).
    """
    bucket, prefix = s3_uri.removeprefix("s3://").partition("/")[::2]
    prefix = prefix.strip("/")
    keys = f"{prefix}/*" if prefix else "*"
    listing: dict[str, Any] = {"Sid": "ListInvocationLogs", "Effect": "Allow", "Action": ["s3:ListBucket"],
                               "Resource": [_arn_s3(bucket)]}
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return [{"Sid": "ReadInvocationLogs", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": [_arn_s3(bucket, keys)]}, listing]


def service_role_policy(bucket: str, prefix: str, lambda_arn: str, kms_key_arn: str | None = None,
                        invocation_logs_uri: str | None = None) -> dict[str, Any]:
    """What Bedrock needs during the job: read prompts, read and write outputs, call the grader.

    Compared with AWS's examples: the Bedrock user guide's customization role ("Create a service
    role for model customization", https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-iam-role.html,
    and its code samples page, model-customization-code-samples.html) grants GetObject + ListBucket
    on the training data and GetObject + PutObject + ListBucket on the output location, and says to
    restrict ListBucket to a folder with an `s3:prefix` condition; the RFT page
    (https://docs.aws.amazon.com/bedrock/latest/userguide/rft-access-security.html) adds
    lambda:InvokeFunction on the reward function. AWS's RFT sample role
    (aws-samples/amazon-bedrock-samples, custom-models/bedrock-reinforcement-fine-tuning/helpers/iam_roles.py)
    grants GetObject + ListBucket on the whole bucket, PutObject on the output prefix and
    InvokeFunction on the unqualified function ARN. Here: the same actions, scoped to rftlab's
    two prefixes, with GetObject and ListBucket on the output prefix too, and InvokeFunction on
    the function's versions because the job uses the qualified version ARN (see _function_arns).
    """
    data, out = _p(prefix, "data"), _p(prefix, "output")
    stmts: list[dict[str, Any]] = [
        {"Sid": "ReadPrompts", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [_arn_s3(bucket, f"{data}/*")]},
        {
            "Sid": "ListPromptAndOutputPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [_arn_s3(bucket)],
            "Condition": {"StringLike": {"s3:prefix": [data, f"{data}/*", out, f"{out}/*"]}},
        },
        {"Sid": "ReadOutputs", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [_arn_s3(bucket, f"{out}/*")]},
        {"Sid": "WriteOutputs", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [_arn_s3(bucket, f"{out}/*")]},
        {"Sid": "InvokeGrader", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": _function_arns(lambda_arn)},
    ]
    if kms_key_arn:
        stmts.append({"Sid": "UseDataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                      "Resource": [kms_key_arn]})
    if invocation_logs_uri:
        stmts += invocation_log_statements(invocation_logs_uri)
    return {"Version": VERSION, "Statement": stmts}


def account_id(region: str | None = None) -> str | None:
    """The caller's account (sts:GetCallerIdentity), or None when AWS cannot be reached."""
    try:
        with aws_errors("reading the caller identity"):
            return client("sts", region).get_caller_identity()["Account"]
    except AwsError:
        return None


def profile_calls(params: Any) -> list[tuple[str, str]]:
    """(Converse model id, Region) of the inference-profile calls the params configure: evaluation's base side and
    the preflight (the job's base model, rft.bedrock.region, unless evaluate.bedrock_base_model_id names one),
    prompt paraphrasing (prompts.augment), evaluation's judge (evaluate.judge)."""
    b = params.rft.bedrock
    ev = getattr(params, "evaluate", None)
    base = getattr(ev, "bedrock_base_model_id", None) or b.base_model_id
    calls = [(inference_id(base, b.region), b.region)]
    aug = getattr(getattr(params, "prompts", None), "augment", None)
    if aug is not None and getattr(aug, "paraphrase_model_id", None):
        calls.append((inference_id(aug.paraphrase_model_id, aug.region), aug.region))
    judge = getattr(ev, "judge", None)
    if judge is not None and getattr(judge, "model_id", None):
        calls.append((inference_id(judge.model_id, judge.region), judge.region))
    return calls


def documents(params: Any, *, account: str = "ACCOUNT_ID") -> dict[str, dict]:
    """All generated documents for the configured bucket/prefix/function (file name -> document)."""
    b = params.rft.bedrock
    bucket = b.bucket or "YOUR-BUCKET"
    region = b.region
    fn = f"arn:aws:lambda:{region}:{account}:function:{b.lambda_function}"
    role = b.role_arn or f"arn:aws:iam::{account}:role/rftlab-bedrock-rft"
    repo = f"arn:aws:ecr:{region}:{account}:repository/{b.ecr_repository}"
    kms = b.kms_key_id if (b.kms_key_id or "").startswith("arn:") else None
    ow_region = params.rft.section("bedrock_open_weight").region
    return {
        "bedrock-service-role-trust.json": trust_policy(account, region),
        "bedrock-service-role-policy.json": service_role_policy(bucket, b.prefix, fn, kms,
                                                                b.invocation_logs.s3_uri),
        "caller-policy.json": caller_policy(role, bucket, b.prefix, fn, repo, region, account, b.lambda_role_arn, kms,
                                            profile_calls(params)),
        "open-weight-caller-policy.json": open_weight_caller_policy(
            ow_region, account, b.lambda_function, b.ecr_repository,
            b.lambda_role_arn or f"arn:aws:iam::{account}:role/rftlab-grader-exec"),
        "grader-lambda-trust.json": {"Version": VERSION, "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "grader-lambda-policy.json": grader_execution_policy(region, account, b.lambda_function,
                                                             getattr(params, "relevance", None),
                                                             also_regions=(ow_region,)),  # grader_iam.py
    }


def write_documents(docs: dict[str, dict], out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in docs.items():
        write_json(out / name, doc)
        paths.append(out / name)
    return paths


def _trusts_bedrock(doc: dict[str, Any]) -> bool:
    for stmt in doc.get("Statement", []):
        if stmt.get("Effect") != "Allow":
            continue
        actions = stmt.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in {"sts:AssumeRole", "sts:*", "*"} for a in actions):
            continue
        services = (stmt.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if SERVICE in services:
            return True
    return False


def check_service_role(role_arn: str | None, region: str | None = None) -> None:
    """Refuse to launch unless the role exists and its trust policy names bedrock.amazonaws.com."""
    if not role_arn:
        raise ConfigError("rft.bedrock.role_arn is not set: create the service role (rftlab bedrock policies) and set it")
    name = role_arn.rsplit("/", 1)[-1]
    with aws_errors(f"checking the trust policy of {role_arn}"):
        role = client("iam", region).get_role(RoleName=name)["Role"]
    doc = role.get("AssumeRolePolicyDocument", {})
    if isinstance(doc, str):
        doc = json.loads(urllib.parse.unquote(doc))
    if not _trusts_bedrock(doc):
        raise AwsError(
            f"role {role_arn} does not trust {SERVICE}: add a trust statement allowing sts:AssumeRole "
            f"by Service {SERVICE} (see build/iam/bedrock-service-role-trust.json from `rftlab bedrock policies`)",
            "UntrustedRole",
        )
