"""Ship the grader to Lambda (container image) and pin jobs to one published version.

The image carries unidic-lite (too big for a zip package), so: ECR repository, docker
build/push (or the exact commands when no Docker engine answers), Lambda function with
PackageType Image, and a published version whose description is the grader version.
A job uses the *qualified* version ARN, so redeploying never changes a running job's reward.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rftlab.aws import aws_errors, client
from rftlab.errors import ConfigError, GateFailed, InputError

log = logging.getLogger(__name__)


def ensure_repository(name: str, region: str) -> str:
    """The ECR repository URI, creating the repository (scan on push) if missing."""
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


def ensure_context(grader_path: str | Path, context: str | Path, grader_version: str) -> None:
    """(Re)write the build context with `rftlab grader package` unless it already holds this grader version."""
    from rftlab.io import read_json

    manifest = Path(context) / "manifest.json"
    if manifest.exists() and (Path(context) / "Dockerfile").exists():
        if read_json(manifest).get("grader_version") == grader_version:
            return
    from rftlab.grader.package import package

    log.info("packaging grader %s into %s", grader_version, context)
    package(grader_path, context, fmt="image")


def image_for(
    grader_version: str, *, repository: str, context: str | Path, region: str, image_uri: str | None = None,
    echo: Callable[[str], None] = print, docker: bool | None = None, grader_path: str | Path | None = None,
) -> str:
    """The image URI to deploy: a given one, or build+push `<repo>:<grader_version>`."""
    if image_uri:
        if grader_version not in image_uri and not image_uri.split("@")[0].endswith(grader_version):
            log.warning("image %s is not tagged with grader version %s: make sure it holds that bundle",
                        image_uri, grader_version)
        return image_uri
    if grader_path is not None:
        ensure_context(grader_path, context, grader_version)
    repo_uri = ensure_repository(repository, region)
    commands = push_commands(repo_uri, grader_version, context, region)
    if not (Path(context) / "Dockerfile").exists():
        raise InputError(f"{context}/Dockerfile not found: build the grader's image context first "
                         "(rftlab grader package) or set rft.bedrock.build_context")
    if docker if docker is not None else docker_available():
        build_and_push(commands)
        return f"{repo_uri}:{grader_version}"
    echo("No Docker engine answered `docker info`. Build and push the grader image with:")
    for cmd in commands:
        echo(f"  {cmd}")
    echo(f"then rerun with --image-uri {repo_uri}:{grader_version} (or set rft.bedrock.image_uri).")
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


def published_version(function: str, grader_version: str, region: str) -> str | None:
    """The qualified ARN of an already published version for this grader version, if any."""
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
            if v.get("Version") != "$LATEST" and v.get("Description") == grader_version]
    return hits[-1]["FunctionArn"] if hits else None


def deploy_function(
    function: str, image_uri: str, grader_version: str, *, role_arn: str | None, timeout_s: int, memory_mb: int,
    region: str, sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Create or update the grader Lambda from `image_uri`, publish, return the qualified version ARN."""
    from botocore.exceptions import ClientError

    if timeout_s < 60:
        raise ConfigError(f"rft.bedrock.lambda_timeout_s: {timeout_s} s is too short for a grader batch (>= 60)")
    existing = published_version(function, grader_version, region)
    if existing:
        log.info("grader %s already published as %s", grader_version, existing)
        return existing
    lam = client("lambda", region)
    env = {"Variables": {"RFTLAB_GRADER_VERSION": grader_version}}
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
        arn = lam.publish_version(FunctionName=function, Description=grader_version)["FunctionArn"]
    log.info("published grader %s as %s", grader_version, arn)
    return arn


def smoke_test(grader_path: str | Path, prompts_path: str | Path, n: int = 4) -> dict[str, Any]:
    """Run real prompt samples through the Lambda code path (`handle`) before paying for a job."""
    from rftlab.grader.bundle import load_grader
    from rftlab.grader.handler import handle, to_payload
    from rftlab.io import iter_jsonl

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
