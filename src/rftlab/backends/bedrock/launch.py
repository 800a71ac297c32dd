"""Everything before CreateModelCustomizationJob: checks, budget, data, grader, the request.

Order matters and is cheapest-first: the whole request validated against botocore's service
model (hyperparameter ranges, base model, names, ARNs, KMS key, URIs), the record count, the cost
estimate against the budget, the grader smoke test (local, free), the role's trust policy, then
the S3 upload and the Lambda deployment. Nothing leaves the machine until every check has passed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.backends.bedrock import data, iam
from rftlab.backends.bedrock import grader as bedrock_grader
from rftlab.backends.bedrock.hyperparams import check_ranges
from rftlab.backends.bedrock.models import rft_base_model
from rftlab.backends.bedrock.shapes import check_request
from rftlab.errors import ConfigError, InputError
from rftlab.grader.bundle import load_grader
from rftlab.io import iter_jsonl, read_json
from rftlab.jobs import cost
from rftlab.jobs.spec import JobSpec
from rftlab.prompts.text import estimate_tokens

log = logging.getLogger(__name__)

TAG_GRADER = contracts.GRADER_VERSION
TAG_PROMPTS = "rftlab.prompts_digest"
TAG_SPEC = contracts.SPEC_HASH
TAG_DEPLOYMENT = "rftlab.grader_deployment"
MIN_RECORDS, MAX_RECORDS = 100, 20_000  # Bedrock RFT training-data limits (docs/contracts.md#prompt-records)


@dataclass
class Launch:
    """What the job request is built from (also recorded in the job state's details)."""

    spec_hash: str
    job_name: str
    model_name: str
    token: str
    grader_version: str
    lambda_arn: str
    train_uri: str
    val_uri: str | None
    output_uri: str
    prompts_digest: str
    grader_deployment: str | None = None  # deployment version: bundle + grader code + pins + base image
    estimate: dict[str, Any] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)


def names(spec_hash: str, attempt: int = 0) -> tuple[str, str, str]:
    """(jobName, customModelName, clientRequestToken) derived from the spec hash only.

    The same spec always produces the same token, so a relaunch after a crash or Ctrl-C
    returns the existing job instead of creating a second one (Bedrock idempotency).
    """
    suffix = f"-a{attempt}" if attempt else ""
    short = spec_hash[:12]
    return f"rftlab-rft-{short}{suffix}", f"rftlab-style-{short}{suffix}", f"rftlab-{spec_hash[:48]}{suffix}"


def hyperparameters(spec: JobSpec) -> dict[str, Any]:
    hp = {k: v for k, v in spec.hyperparameters.items() if v is not None}
    try:
        check_ranges(hp)
    except ValueError as exc:
        raise InputError(f"rft.hyperparameters: {exc}") from None
    return hp


def grader_version(grader_path: str) -> str:
    bundle = read_json(grader_path)
    version = bundle.get("version") if isinstance(bundle, dict) else None
    if not version:
        version = load_grader(grader_path).version
    return str(version)


def _draft(spec: JobSpec, rft: Any, attempt: int, digests: dict[str, str]) -> Launch:
    """The launch as it will be, with only the Lambda version ARN a well-formed placeholder.

    Prompt keys are content-addressed (known before upload) and the output prefix is the
    attempt's own, so the whole request can be validated before anything is uploaded or deployed.
    """
    b = rft.bedrock
    bucket = data.require_bucket(b.bucket)
    if not b.role_arn:
        raise ConfigError("rft.bedrock.role_arn is not set: create the service role (rftlab bedrock policies) and set it")
    spec_hash = spec.spec_hash()
    job_name, model_name, token = names(spec_hash, attempt)
    account = b.role_arn.split(":")[4] if b.role_arn.count(":") >= 5 else "000000000000"
    uri = {name: f"s3://{bucket}/{data.data_key(b.prefix, digests[name], Path(path).name)}"
           for name, path in (("train", spec.train_path), ("val", spec.val_path)) if path and name in digests}
    return Launch(
        spec_hash=spec_hash, job_name=job_name, model_name=model_name, token=token, grader_version="pending",
        lambda_arn=f"arn:aws:lambda:{b.region}:{account}:function:{b.lambda_function}:1",
        train_uri=uri["train"], val_uri=uri.get("val"),
        output_uri=data.output_uri(bucket, b.prefix, spec_hash, attempt),
        prompts_digest=digests["train"] + (f"+{digests['val']}" if "val" in digests else ""),
    )


def _check_prompt_lengths(train_path: str, hp: dict[str, Any], echo: Callable[[str], None]) -> None:
    limit = hp.get("maxPromptLength")
    if not limit:
        return
    longest = max((estimate_tokens(" ".join(str(m.get("content", "")) for m in r.get("messages", [])))
                   for r in iter_jsonl(train_path)), default=0)
    if longest > limit:
        echo(f"warning: {train_path}: the longest prompt is about {longest} tokens, over "
             f"rft.bedrock.hyperparameters.maxPromptLength {limit}")


def prepare(
    spec: JobSpec, rft: Any, *, attempt: int = 0, image_uri: str | None = None,
    echo: Callable[[str], None] = print, sleep: Callable[[float], None] | None = None,
) -> Launch:
    """Run every pre-launch check and stage the inputs; returns what the request needs.

    Cheapest first, and nothing leaves the machine until the whole request is valid: hyperparameter
    ranges, base model, names, ARNs, KMS key and URIs (botocore's service model), record counts,
    the cost estimate against the budget, the local grader smoke test; then the role's trust
    policy (read-only), and only then the S3 upload and the Lambda deployment.
    """
    b = rft.bedrock
    hp = hyperparameters(spec)
    rft_base_model(bedrock_model_id(spec.base_model, b.base_model_id))
    bucket = data.require_bucket(b.bucket)
    draft = _draft(spec, rft, attempt, spec.input_digests())
    check_request("bedrock", "CreateModelCustomizationJob", request(draft, spec, rft))
    est = cost.estimate_files(spec.train_path, hp, rft.prices, memory_mb=b.lambda_memory_mb)
    logs = spec.options.get("invocation_logs")  # training data from invocation logs: Bedrock counts them
    if not logs and not MIN_RECORDS <= est.records <= MAX_RECORDS:
        raise InputError(f"{spec.train_path}: {est.records} training records; Bedrock RFT needs "
                         f"{MIN_RECORDS} to {MAX_RECORDS:,}")
    cost.check_budget(est.total_usd, rft.budget_usd)
    _check_prompt_lengths(spec.train_path, hp, echo)
    smoke = bedrock_grader.smoke_test(spec.grader_path, spec.train_path)
    iam.check_service_role(b.role_arn, b.region)
    if logs:  # the prompts file only smoke-tests the grader and sizes the estimate; the logs are the data
        uploads = {"val": data.upload_file(spec.val_path, bucket=bucket, prefix=b.prefix, region=b.region,
                                           kms_key_id=b.kms_key_id)} if spec.val_path else {}
    else:
        uploads = data.upload_prompts(spec.train_path, spec.val_path, bucket=b.bucket, prefix=b.prefix,
                                      region=b.region, kms_key_id=b.kms_key_id)
    version, deployment = grader_version(spec.grader_path), None
    lambda_arn = spec.options.get("grader_lambda_arn")
    if not lambda_arn:  # the published Lambda version of this bundle + grader code + pins, built if missing
        dep = bedrock_grader.deploy_grader(spec.grader_path, b, image_uri=image_uri, echo=echo,
                                           **({"sleep": sleep} if sleep else {}))
        lambda_arn, deployment = dep.lambda_arn, dep.deployment_version
    return Launch(
        spec_hash=draft.spec_hash, job_name=draft.job_name, model_name=draft.model_name, token=draft.token,
        grader_version=version, grader_deployment=deployment, lambda_arn=lambda_arn,
        train_uri=logs["invocationLogSource"]["s3Uri"] if logs else uploads["train"].uri,
        val_uri=uploads["val"].uri if "val" in uploads else None, output_uri=draft.output_uri,
        prompts_digest=draft.prompts_digest, estimate=est.as_dict(), smoke=smoke,
    )


def _tag_value(v: str) -> str:
    return re.sub(r"[^a-zA-Z0-9\s._:/=+@-]", "-", v)[:256]


def bedrock_model_id(base_model: str | None, default: str) -> str:
    """The spec's base model when it is a Bedrock id/ARN; a local folder path means the default."""
    if base_model and (base_model.startswith("arn:") or ("." in base_model and "/" not in base_model)):
        return base_model
    return default


def request(launch: Launch, spec: JobSpec, rft: Any) -> dict[str, Any]:
    """The CreateModelCustomizationJob parameters (validated by botocore when sent)."""
    b = rft.bedrock
    tags = [{"key": k, "value": _tag_value(v)} for k, v in (
        (TAG_GRADER, launch.grader_version), (TAG_DEPLOYMENT, launch.grader_deployment),
        (TAG_PROMPTS, launch.prompts_digest[:256]), (TAG_SPEC, launch.spec_hash), (contracts.KIND, contracts.RFT_JOB)) if v]
    req: dict[str, Any] = {
        "jobName": launch.job_name,
        "customModelName": launch.model_name,
        "roleArn": b.role_arn,
        "clientRequestToken": launch.token,
        "baseModelIdentifier": bedrock_model_id(spec.base_model, b.base_model_id),
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        # with invocation logs (rft.bedrock.invocation_logs, invocation_logs.py) they replace the s3Uri
        "trainingDataConfig": ({"invocationLogsConfig": spec.options["invocation_logs"]}
                               if spec.options.get("invocation_logs") else {"s3Uri": launch.train_uri}),
        "outputDataConfig": {"s3Uri": launch.output_uri},
        "customizationConfig": {"rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": launch.lambda_arn}},
            "hyperParameters": hyperparameters(spec),
        }},
        "jobTags": tags,
        "customModelTags": tags,
    }
    if launch.val_uri:
        req["validationDataConfig"] = {"validators": [{"s3Uri": launch.val_uri}]}
    if b.kms_key_id:
        req["customModelKmsKeyId"] = b.kms_key_id
    return req
