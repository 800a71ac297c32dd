"""Ship the grader to Lambda (container image) and pin jobs to one published version.

The image carries unidic-lite (too big for a zip package), so: ECR repository, docker
build/push (or the exact commands when no Docker engine answers), Lambda function with
PackageType Image, and a published version. Everything is keyed by the *deployment version*
(rftlab.grader.deployment: bundle + the image's rftlab sources + pinned requirements + base
image), so a change to the scoring code builds and publishes a new version; the bundle's own
version stays the grader version recorded in MLflow. A job uses the *qualified* version ARN,
so redeploying never changes a running job's reward.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftlab.aws import aws_errors, client
from rftlab.backends.bedrock import ecr_pull
from rftlab.errors import ConfigError, GateFailed, InputError, RftlabError
from rftlab.grader.bundle import load_grader
from rftlab.grader.deployment import (
    ENV_VERSION,
    context_deployment_version,
    deployment_version,
)
from rftlab.grader.handler import handle, to_payload
from rftlab.grader.package import package
from rftlab.io import iter_jsonl

log = logging.getLogger(__name__)


def ensure_repository(name: str, region: str) -> str:
    """The ECR repository URI, creating the repository (scan on push) if missing."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    ecr = client("ecr", region)
    with aws_errors(f"finding ECR repository {name}"):
        try:
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
                raise
        repo = ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    log.info("created ECR repository %s", name)
    return repo["repository"]["repositoryUri"]


def docker_available() -> bool:
    """True when a Docker engine answers `docker info`."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def push_commands(repo_uri: str, tag: str, context: str | Path, region: str) -> list[str]:
    """The shell commands that build and push the grader image (Lambda needs linux/amd64, no provenance index)."""
    registry = repo_uri.split("/", 1)[0]
    image = f"{repo_uri}:{tag}"
    return [
        f"aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {registry}",
        f"docker build --platform linux/amd64 --provenance=false -t {image} {context}",
        f"docker push {image}",
    ]


def build_and_push(commands: list[str]) -> None:
    for cmd in commands:
        log.info("$ %s", cmd)
        done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise InputError(f"`{cmd.split('|')[-1].strip()[:80]}` failed: {tail[0]}")


def ensure_context(grader_path: str | Path, context: str | Path) -> str:
    """(Re)write the build context unless it already holds this deployment; returns its deployment version."""

    wanted = deployment_version(grader_path)
    if (Path(context) / "Dockerfile").exists():
        try:  # recomputed from the files, so a hand-edited context is rewritten too
            if context_deployment_version(context) == wanted:
                return wanted
        except (OSError, ValueError):
            pass

    log.info("packaging grader deployment %s into %s", wanted, context)
    written = package(grader_path, context, fmt="image")["deployment_version"]
    if written != wanted:  # the context must hash to what the Lambda will be told to expect
        raise RftlabError(f"{context}: packaged deployment {written} differs from {wanted} computed from {grader_path}")
    return wanted


def image_for(
    tag: str, *, repository: str, context: str | Path, region: str, image_uri: str | None = None,
    echo: Callable[[str], None] = print, docker: bool | None = None, grader_path: str | Path | None = None,
) -> str:
    """The image URI to deploy: a given one, or build+push `<repo>:<tag>` (tag = the deployment version);
    either way in `region`, in a repository whose policy lets Lambda pull (ecr_pull.py)."""
    if image_uri:
        if not image_uri.split("@")[0].endswith(f":{tag}"):
            log.warning("image %s is not tagged %s: the Lambda refuses to score unless it holds that build "
                        "(its cold-start check compares RFTLAB_GRADER_VERSION with the image)", image_uri, tag)
        parts = ecr_pull.check_image_region(image_uri, region, "rft.bedrock.image_uri (or --image-uri)")
        if parts:
            ecr_pull.ensure_lambda_pull(parts[2], region)
        return image_uri
    if grader_path is not None:
        ensure_context(grader_path, context)
    repo_uri = ensure_repository(repository, region)
    ecr_pull.ensure_lambda_pull(repository, region)
    commands = push_commands(repo_uri, tag, context, region)
    if not (Path(context) / "Dockerfile").exists():
        raise InputError(f"{context}/Dockerfile not found: build the grader's image context first "
                         "(rftlab grader package) or set rft.bedrock.build_context")
    if docker if docker is not None else docker_available():
        build_and_push(commands)
        return f"{repo_uri}:{tag}"
    echo("No Docker engine answered `docker info`. Build and push the grader image with:")
    for cmd in commands:
        echo(f"  {cmd}")
    echo(f"then rerun with --image-uri {repo_uri}:{tag} (or set rft.bedrock.image_uri).")
    raise ConfigError("no Docker engine and no image URI (rft.bedrock.image_uri): see the commands above")


def _wait_ready(lam: Any, name: str, sleep: Callable[[float], None], tries: int = 120) -> None:
    """Lambda refuses updates/publishes while the previous update is still running."""
    for _ in range(tries):
        cfg = lam.get_function_configuration(FunctionName=name)
        if cfg.get("State", "Active") == "Failed" or cfg.get("LastUpdateStatus") == "Failed":
            raise InputError(f"Lambda {name} failed to update: {cfg.get('LastUpdateStatusReason') or cfg.get('StateReason')}")
        if cfg.get("State", "Active") == "Active" and cfg.get("LastUpdateStatus", "Successful") == "Successful":
            return
        sleep(2.0)
    raise InputError(f"Lambda {name} did not become ready")


def _description(deployment: str, grader_version: str | None) -> str:
    """A published version's description: the deployment version first (what lookups match on)."""
    return f"{deployment} grader {grader_version}" if grader_version else deployment


def published_version(function: str, deployment: str, region: str) -> str | None:
    """The qualified ARN of an already published version of this deployment version, if any."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    lam = client("lambda", region)
    with aws_errors(f"listing versions of Lambda {function}"):
        try:
            pages = list(lam.get_paginator("list_versions_by_function").paginate(FunctionName=function))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
    hits = [v for p in pages for v in p.get("Versions", [])
            if v.get("Version") != "$LATEST" and (v.get("Description") or "").split(" ")[0] == deployment]
    return hits[-1]["FunctionArn"] if hits else None


def deploy_function(
    function: str, image_uri: str, deployment: str, *, role_arn: str | None, timeout_s: int, memory_mb: int,
    region: str, grader_version: str | None = None, sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Create or update the grader Lambda from `image_uri`, publish, return the qualified version ARN.

    The function's RFTLAB_GRADER_VERSION is the deployment version: the handler checks it against
    the image at cold start, and because it changes with every build, PublishVersion always has a
    changed configuration to publish (Lambda publishes nothing new for an unchanged function).
    """
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    if timeout_s < 60:
        raise ConfigError(f"rft.bedrock.lambda_timeout_s: {timeout_s} s is too short for a grader batch (>= 60)")
    existing = published_version(function, deployment, region)
    if existing:
        log.info("grader deployment %s already published as %s", deployment, existing)
        return existing
    lam = client("lambda", region)
    variables = {ENV_VERSION: deployment, **({"RFTLAB_BUNDLE_VERSION": grader_version} if grader_version else {})}
    env = {"Variables": variables}
    with aws_errors(f"deploying grader Lambda {function}"):
        try:
            lam.get_function(FunctionName=function)
            exists = True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            exists = False
        if exists:
            lam.update_function_code(FunctionName=function, ImageUri=image_uri)
            _wait_ready(lam, function, sleep)
            lam.update_function_configuration(FunctionName=function, Timeout=timeout_s, MemorySize=memory_mb,
                                              Environment=env)
        else:
            if not role_arn:
                raise ConfigError("rft.bedrock.lambda_role_arn is not set: the grader Lambda needs an execution role")
            lam.create_function(
                FunctionName=function, PackageType="Image", Code={"ImageUri": image_uri}, Role=role_arn,
                Timeout=timeout_s, MemorySize=memory_mb, Environment=env,
                Description="rftlab style grader (Bedrock RFT reward function)", Tags={"rftlab": "grader"},
            )
        _wait_ready(lam, function, sleep)
        published = lam.publish_version(FunctionName=function, Description=_description(deployment, grader_version))
    arn = published["FunctionArn"]
    log.info("published grader deployment %s as %s", deployment, arn)
    return arn


@dataclass(frozen=True)
class GraderDeployment:
    """What a job is pinned to: the qualified Lambda version and both versions to record."""

    lambda_arn: str
    grader_version: str  # the bundle's content hash (profile + weights): rftlab.grader_version in MLflow
    deployment_version: str  # bundle + image sources + pinned requirements + base image
    image_uri: str | None  # None when an already published version was reused
    reused: bool


def deploy_grader(
    grader_path: str | Path, bedrock: Any, *, image_uri: str | None = None, echo: Callable[[str], None] = print,
    docker: bool | None = None, sleep: Callable[[float], None] = time.sleep,
) -> GraderDeployment:
    """Reuse the published version of this deployment, or package, build/push and publish a new one.

    `bedrock` is params.rft.bedrock (lambda_function, region, ecr_repository, build_context,
    image_uri, lambda_role_arn, lambda_timeout_s, lambda_memory_mb).
    """

    b = bedrock
    grader = load_grader(grader_path).version
    deployment = deployment_version(grader_path)
    arn = published_version(b.lambda_function, deployment, b.region)
    if arn:
        log.info("grader deployment %s already published as %s", deployment, arn)
        return GraderDeployment(arn, grader, deployment, None, True)
    image = image_for(deployment, repository=b.ecr_repository, context=b.build_context, region=b.region,
                      image_uri=image_uri or b.image_uri, echo=echo, docker=docker, grader_path=grader_path)
    arn = deploy_function(b.lambda_function, image, deployment, role_arn=b.lambda_role_arn,
                          timeout_s=b.lambda_timeout_s, memory_mb=b.lambda_memory_mb, region=b.region,
                          grader_version=grader, sleep=sleep)
    return GraderDeployment(arn, grader, deployment, image, False)


def smoke_test(grader_path: str | Path, prompts_path: str | Path, n: int = 4) -> dict[str, Any]:
    """Run real prompt samples through the Lambda code path (`handle`) before paying for a job."""

    grader = load_grader(grader_path)
    samples, refs = [], []
    for i, rec in enumerate(iter_jsonl(prompts_path, required=("messages",))):
        if i >= n:
            break
        ref = rec.get("reference_answer")
        ref_text = ref if isinstance(ref, str) else json.dumps(ref, ensure_ascii=False)
        sid = str(rec.get("id", i))
        meta = {k: v for k, v in rec.items() if k not in {"messages", "id"}}
        samples.append(to_payload(rec["messages"], ref_text, sample_id=f"{sid}-ref", reference_answer=ref, metadata=meta))
        samples.append(to_payload(rec["messages"], "", sample_id=f"{sid}-empty", reference_answer=ref, metadata=meta))
        refs.append(f"{sid}-ref")
    if not samples:
        raise InputError(f"{prompts_path}: no prompt records to smoke-test the grader with")
    samples.append({"id": "malformed"})  # must get 0.0, not break the batch
    out = handle(json.loads(json.dumps(samples)), grader)
    problems = _response_problems(samples, out)
    if problems:
        raise GateFailed(f"grader smoke test failed ({grader_path}): " + "; ".join(problems[:5]))
    scores = {r["id"]: float(r["aggregate_reward_score"]) for r in out}
    ref_mean = sum(scores[s] for s in refs) / len(refs)
    empty_mean = sum(scores[s.replace("-ref", "-empty")] for s in refs) / len(refs)
    if ref_mean <= empty_mean:
        log.warning("grader smoke test: reference answers (%.3f) do not beat empty replies (%.3f)", ref_mean, empty_mean)
    return {"samples": len(samples), "grader_version": grader.version, "reference_mean": ref_mean,
            "empty_mean": empty_mean, "malformed_score": scores.get("malformed")}


def _response_problems(samples: list[dict], out: Any) -> list[str]:
    if not isinstance(out, list) or len(out) != len(samples):
        return [f"expected a list of {len(samples)} results, got {type(out).__name__} of {len(out) if isinstance(out, list) else '?'}"]
    problems = []
    for s, r in zip(samples, out, strict=True):
        if not isinstance(r, dict) or r.get("id") != s.get("id"):
            problems.append(f"result for {s.get('id')} missing or out of order")
            continue
        score = r.get("aggregate_reward_score")
        if not isinstance(score, int | float) or not 0.0 <= float(score) <= 1.0:
            problems.append(f"{s['id']}: aggregate_reward_score {score!r} not in [0, 1]")
        if not isinstance(r.get("metrics_list"), list):
            problems.append(f"{s['id']}: metrics_list missing")
    if out and isinstance(out[-1], dict) and out[-1].get("aggregate_reward_score") not in (0, 0.0):
        problems.append("a malformed sample did not get score 0.0")
    return problems
