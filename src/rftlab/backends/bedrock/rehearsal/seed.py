"""The seeded fake account: bucket, roles, ECR repositories and grader images (one per backend Region), and
the IAM user the pipeline runs as when IAM is enforced, holding exactly the generated caller policy."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rftlab.backends.bedrock.iam import documents, trust_policy
from rftlab.backends.bedrock.rehearsal.options import StandInOptions

ACCOUNT = "123456789012"  # moto's default account id
SERVICE_ROLE = "rftlab-bedrock-rft"
LAMBDA_ROLE = "rftlab-grader-exec"
CALLER = "rftlab-caller"


def fake_manifest(context: Path | None) -> str:
    """A Docker image manifest whose config digest names the build context's manifest (moto reads config.size)."""
    seed = (context / "manifest.json").read_bytes() if context and (context / "manifest.json").exists() else b"{}"
    digest = "sha256:" + hashlib.sha256(seed).hexdigest()
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(seed),
                                  "digest": digest}, "layers": []})


def push_image(opts: StandInOptions, region: str, repository: str, tag: str, context: Path | None) -> str:
    """The repository in `region` (created when missing) holding the fake image `<repo>:<tag>`; its URI."""
    ecr = opts.client("ecr", region)
    found = ecr.describe_repositories()["repositories"]
    repo = next((r for r in found if r["repositoryName"] == repository), None)
    uri = (repo or ecr.create_repository(repositoryName=repository)["repository"])["repositoryUri"]
    ecr.put_image(repositoryName=repository, imageManifest=fake_manifest(context), imageTag=tag)
    if context is not None:
        opts.images[f"{uri}:{tag}"] = context
    return f"{uri}:{tag}"


def seed(opts: StandInOptions, *, bucket: str, repository: str, tag: str | None, context: Path | None,
         open_weight_region: str) -> dict[str, Any]:
    """Bucket, the two roles, the ECR repository and (with `tag`) the grader image in the Nova backend's Region and
    in the open-weight Region (Lambda needs the image in the function's Region); returns the params to set."""

    opts.client("s3").create_bucket(Bucket=bucket)
    iam = opts.client("iam")
    lam_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    roles = {}
    for name, doc in ((SERVICE_ROLE, trust_policy(ACCOUNT, opts.region)), (LAMBDA_ROLE, lam_trust)):
        roles[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
    opts.client("ecr").create_repository(repositoryName=repository)
    settings: dict[str, Any] = {"rft.bedrock.bucket": bucket, "rft.bedrock.role_arn": roles[SERVICE_ROLE],
                                "rft.bedrock.lambda_role_arn": roles[LAMBDA_ROLE],
                                "rft.bedrock.region": opts.region, "rft.bedrock.ecr_repository": repository,
                                "rft.bedrock_open_weight.region": open_weight_region}
    if tag:
        settings["rft.bedrock.image_uri"] = push_image(opts, opts.region, repository, tag, context)
        settings["rft.bedrock_open_weight.image_uri"] = push_image(opts, open_weight_region, repository, tag, context)
    return settings


def policy_for(settings: dict[str, Any], params: Any, name: str = "caller-policy.json") -> dict[str, Any]:
    """`name` of `rftlab bedrock policies` for the project's params with the seeded account's settings applied."""
    rft = params.rft
    for section in ("bedrock", "bedrock_open_weight"):
        prefix = f"rft.{section}."
        update = {k.removeprefix(prefix): v for k, v in settings.items() if k.startswith(prefix) and "." not in
                  k.removeprefix(prefix)}
        rft = rft.with_section(section, rft.section(section).model_copy(update=update))
    return documents(params.model_copy(update={"rft": rft}), account=ACCOUNT)[name]


def add_caller(opts: StandInOptions, policy: dict[str, Any]) -> tuple[str, str, str]:
    """The IAM user the pipeline runs as, holding exactly `policy` inline: (user ARN, access key id, secret)."""
    iam = opts.client("iam")
    arn = iam.create_user(UserName=CALLER)["User"]["Arn"]
    iam.put_user_policy(UserName=CALLER, PolicyName="rftlab-caller-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=CALLER)["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


CallerPolicy = Callable[[dict[str, Any]], dict[str, Any]]
