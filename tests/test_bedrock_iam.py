"""The generated caller policy grants every AWS action rftlab's code actually calls.

A botocore `provide-client-params` hook records each (service, operation, params) the code
sends while it checks the role, uploads prompts, deploys the grader (create, reuse, update)
and reads job metrics against moto. Each call is mapped to its IAM action and resource and
checked against caller-policy.json as `rftlab bedrock policies` writes it; a new call that the
policy does not grant fails here. Bedrock itself cannot run on moto (see docs/bedrock.md), so
its operations are collected from the source instead.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
from bedrock_support import ACCOUNT, BUCKET, JOB_ARN, REGION, ROLE, rft_params

SRC = Path(__file__).resolve().parents[1] / "src" / "rftlab"

# Operations whose IAM action is not `<prefix>:<Operation>`:
# S3 HeadObject needs s3:GetObject (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html),
# HeadBucket and ListObjectsV2 need s3:ListBucket (API_HeadBucket.html, API_ListObjectsV2.html);
# Lambda Invoke is lambda:InvokeFunction and bedrock-runtime Converse is bedrock:InvokeModel
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html,
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
ACTION = {("s3", "HeadObject"): "s3:GetObject", ("s3", "HeadBucket"): "s3:ListBucket",
          ("s3", "ListObjectsV2"): "s3:ListBucket", ("lambda", "Invoke"): "lambda:InvokeFunction",
          ("bedrock", "Converse"): "bedrock:InvokeModel"}
# sts:GetCallerIdentity needs no permission (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)
FREE = {("sts", "GetCallerIdentity")}
# `docker push` to ECR (not a boto call): https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html
DOCKER_PUSH = ("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
               "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage")


def _resource(prefix: str, op: str, params: dict) -> str:
    if prefix == "lambda":
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return arn + (f":{params['Qualifier']}" if params.get("Qualifier") else "")
    if prefix == "ecr":
        names = params.get("repositoryNames") or [params.get("repositoryName")]
        return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{names[0]}" if names[0] else "*"
    if prefix == "s3":
        return f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if "Key" in params else "")
    if prefix == "iam":
        return f"arn:aws:iam::{ACCOUNT}:role/{params['RoleName']}"
    return "*"


def _implied(prefix: str, op: str, params: dict) -> list[tuple[str, str, dict]]:
    """Permissions a call needs besides its own action: passing the execution role to Lambda; tagging on
    create needs lambda:TagResource and GetFunction of a tagged function lambda:ListTags (Lambda developer
    guide, configuration-tags.html, "Permissions required for working with tags")."""
    fn = _resource(prefix, op, params) if prefix == "lambda" else ""
    if (prefix, op) == ("lambda", "CreateFunction"):
        return [("iam:PassRole", params["Role"], {"iam:PassedToService": "lambda.amazonaws.com"})] + (
            [("lambda:TagResource", fn, {})] if params.get("Tags") else [])
    if (prefix, op) == ("lambda", "GetFunction"):
        return [("lambda:ListTags", fn, {})]
    return []


def _matches(patterns, value: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(value.lower() if p.count(":") <= 1 else value, p.lower() if p.count(":") <= 1 else p)
               for p in patterns)


def _conditions_hold(cond: dict, context: dict) -> bool:
    for op, pairs in cond.items():
        for key, want in pairs.items():
            if key not in context:  # a condition on a key the request does not carry fails
                return False
            want = [want] if isinstance(want, str) else want
            if op == "StringEquals" and context[key] not in want:
                return False
            if op == "StringLike" and not any(fnmatch.fnmatchcase(context[key], w) for w in want):
                return False
    return True


def allowed(policy: dict, action: str, resource: str, context: dict | None = None) -> bool:
    return any(s["Effect"] == "Allow" and _matches(s["Action"], action) and _matches(s["Resource"], resource)
               and _conditions_hold(s.get("Condition", {}), context or {}) for s in policy["Statement"])


@pytest.fixture
def calls(aws, monkeypatch):
    """Every (IAM prefix, operation, params) sent through clients made from here on."""
    import boto3.session

    from rftlab.aws import reset_clients

    seen: list[tuple[str, str, dict]] = []

    def record(params, model, **_):
        seen.append((model.service_model.signing_name, model.name, dict(params)))

    original = boto3.session.Session.client

    def client(self, *a, **kw):
        c = original(self, *a, **kw)
        c.meta.events.register("provide-client-params", record)
        return c

    monkeypatch.setattr(boto3.session.Session, "client", client)
    reset_clients()
    yield seen
    reset_clients()  # later tests get clients without the hook


def _caller_policy() -> dict:
    from rftlab.backends.bedrock.iam import documents
    from rftlab.config import load_params

    return documents(load_params(), account=ACCOUNT)["caller-policy.json"]


def test_caller_policy_grants_every_call_of_the_deploy_and_data_paths(project, calls, monkeypatch):
    from rftlab.backends.bedrock import data, grader, iam, metrics
    from rftlab.errors import ConfigError
    from rftlab.grader import deployment

    b = rft_params().bedrock
    iam.check_service_role(ROLE, REGION)
    ups = data.upload_prompts("data/prompts/train.jsonl", "data/prompts/val.jsonl", bucket=BUCKET,
                              prefix=b.prefix, region=REGION)
    data.upload_prompts("data/prompts/train.jsonl", None, bucket=BUCKET, prefix=b.prefix, region=REGION)
    with pytest.raises(ConfigError):  # no Docker: packages, creates the ECR repository, prints commands
        grader.deploy_grader("data/grader/grader.json", b, docker=False, echo=lambda m: None)
    monkeypatch.setattr(grader, "build_and_push", lambda cmds: None)
    first = grader.deploy_grader("data/grader/grader.json", b, docker=True, sleep=lambda s: None)  # create
    assert grader.deploy_grader("data/grader/grader.json", b, docker=True).reused  # reuse
    real = deployment.source_digests
    monkeypatch.setattr(deployment, "source_digests", lambda root=None: {**real(root), "grader/x.py": "changed"})
    second = grader.deploy_grader("data/grader/grader.json", b, docker=True, sleep=lambda s: None)  # update
    assert second.lambda_arn != first.lambda_arn
    output = data.output_uri(BUCKET, b.prefix, "abc")
    metrics.read_job_metrics(output, JOB_ARN, REGION)

    assert {"s3", "iam", "ecr", "lambda"} <= {c[0] for c in calls}
    assert ("lambda", "GetFunctionConfiguration") in {c[:2] for c in calls}
    assert {("ecr", "GetRepositoryPolicy"), ("ecr", "SetRepositoryPolicy")} <= {c[:2] for c in calls}
    assert ups["train"].uri.startswith(f"s3://{BUCKET}/")
    policy = _caller_policy()
    needed = []
    for prefix, op, params in calls:
        if (prefix, op) in FREE:
            continue
        needed.append((ACTION.get((prefix, op), f"{prefix}:{op}"), _resource(prefix, op, params), {}))
        needed += _implied(prefix, op, params)
    needed += [(a, "*" if a == "ecr:GetAuthorizationToken" else f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/"
                f"{b.ecr_repository}", {}) for a in DOCKER_PUSH]
    missing = sorted({f"{a} on {r}" for a, r, ctx in needed if not allowed(policy, a, r, ctx)})
    assert not missing, "caller-policy.json lacks: " + "; ".join(missing)


def test_caller_policy_grants_every_bedrock_operation_in_the_source(project):
    """Bedrock calls go through backend.call("<method>", ...) and bedrock-runtime .converse(...)."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model("bedrock")
    ops = {xform_name(name): name for name in model.operation_names}
    called: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        called |= {ops[m] for m in re.findall(r"\.call\(\s*\"([a-z_]+)\"", text) if m in ops}
        if ".converse(" in text:
            called.add("Converse")
    assert {"CreateModelCustomizationJob", "GetModelCustomizationJob", "CreateCustomModelDeployment"} <= called
    policy = _caller_policy()
    missing = sorted(a for a in (ACTION.get(("bedrock", op), f"bedrock:{op}") for op in called)
                     if not any(_matches(s["Action"], a) for s in policy["Statement"]))
    assert not missing, "caller-policy.json lacks: " + ", ".join(missing)
    # CreateModelCustomizationJob passes the service role to Bedrock
    assert allowed(policy, "iam:PassRole", ROLE, {"iam:PassedToService": "bedrock.amazonaws.com"})


def test_service_role_matches_aws_examples_and_invokes_the_qualified_version(project):
    from rftlab.backends.bedrock.iam import documents
    from rftlab.config import load_params

    b = load_params().rft.bedrock
    role = documents(load_params(), account=ACCOUNT)["bedrock-service-role-policy.json"]
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{b.lambda_function}"
    # the job is pinned to a published version: the qualified ARN must be invocable (and the bare one)
    assert allowed(role, "lambda:InvokeFunction", f"{fn}:7") and allowed(role, "lambda:InvokeFunction", fn)
    assert not allowed(role, "lambda:InvokeFunction", f"{fn}-other:7")
    data, out = f"{b.prefix}/data/0a1b/train.jsonl", f"{b.prefix}/output/abc/model-customization-job-x/m.csv"
    bucket = f"arn:aws:s3:::{BUCKET}"
    assert allowed(role, "s3:GetObject", f"{bucket}/{data}") and not allowed(role, "s3:PutObject", f"{bucket}/{data}")
    # AWS's customization role reads and lists the output location too, not only writes it
    for action in ("s3:GetObject", "s3:PutObject"):
        assert allowed(role, action, f"{bucket}/{out}")
    for prefix in (f"{b.prefix}/output/abc/", f"{b.prefix}/data/0a1b/"):
        assert allowed(role, "s3:ListBucket", bucket, {"s3:prefix": prefix})
    assert not allowed(role, "s3:GetObject", f"{bucket}/elsewhere/secret.txt")
    assert not allowed(role, "s3:ListBucket", bucket, {"s3:prefix": "elsewhere/"})


def test_caller_may_use_the_configured_kms_key(tmp_path, monkeypatch):
    """kms_key_id encrypts the uploads (SSE-KMS) and the custom model: the caller policy grants the key."""
    import yaml

    from rftlab.backends.bedrock.iam import documents
    from rftlab.config import parse_params

    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    params = parse_params(yaml.safe_load(f"rft:\n  bedrock:\n    bucket: b\n    kms_key_id: {key}\n"))
    stmts = documents(params, account="123456789012")["caller-policy.json"]["Statement"]
    kms = [s for s in stmts if any(a.startswith("kms:") for a in s["Action"])]
    assert kms and kms[0]["Resource"] == [key]
    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= set(kms[0]["Action"])
    without = documents(parse_params({}), account="123456789012")["caller-policy.json"]["Statement"]
    assert not any(a.startswith("kms:") for s in without for a in s["Action"])
