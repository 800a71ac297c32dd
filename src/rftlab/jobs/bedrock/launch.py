"""Everything before CreateModelCustomizationJob: checks, budget, data, grader, the request.

Order matters and is cheapest-first: hyperparameter ranges, the cost estimate against the
budget, the grader smoke test (local, free), the role's trust policy, then the S3 upload
and the Lambda deployment. Nothing is paid for until every check has passed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rftlab.errors import InputError
from rftlab.jobs import cost
from rftlab.jobs.bedrock import data as bedrock_data
from rftlab.jobs.bedrock import grader as bedrock_grader
from rftlab.jobs.bedrock import iam
from rftlab.jobs.hyperparams import check_ranges
from rftlab.jobs.spec import JobSpec

log = logging.getLogger(__name__)

TAG_GRADER = "rftlab.grader_version"
TAG_PROMPTS = "rftlab.prompts_digest"
TAG_SPEC = "rftlab.spec_hash"
MIN_RECORDS, MAX_RECORDS = 100, 20_000  # Bedrock RFT training-data limits (DESIGN §3)


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
    from rftlab.io import read_json

    bundle = read_json(grader_path)
    version = bundle.get("version") if isinstance(bundle, dict) else None
    if not version:
        from rftlab.grader.bundle import load_grader

        version = load_grader(grader_path).version
    return str(version)


def prepare(
    spec: JobSpec, rft: Any, *, attempt: int = 0, image_uri: str | None = None,
    echo: Callable[[str], None] = print, sleep: Callable[[float], None] | None = None,
) -> Launch:
    """Run every pre-launch check and stage the inputs; returns what the request needs."""
    b = rft.bedrock
    hp = hyperparameters(spec)
    est = cost.estimate_files(spec.train_path, hp, rft.prices, memory_mb=b.lambda_memory_mb)
    if not MIN_RECORDS <= est.records <= MAX_RECORDS:
        raise InputError(f"{spec.train_path}: {est.records} training records; Bedrock RFT needs "
                         f"{MIN_RECORDS} to {MAX_RECORDS:,}")
    cost.check_budget(est.total_usd, rft.budget_usd)
    smoke = bedrock_grader.smoke_test(spec.grader_path, spec.train_path)
    iam.check_service_role(b.role_arn, b.region)
    spec_hash = spec.spec_hash()
    digests = spec.input_digests()
    job_name, model_name, token = names(spec_hash, attempt)
    uploads = bedrock_data.upload_prompts(spec.train_path, spec.val_path, bucket=b.bucket, prefix=b.prefix,
                                          region=b.region, kms_key_id=b.kms_key_id)
    version = grader_version(spec.grader_path)
    lambda_arn = spec.options.get("grader_lambda_arn") or bedrock_grader.published_version(
        b.lambda_function, version, b.region)
    if not lambda_arn:
        image = bedrock_grader.image_for(version, repository=b.ecr_repository, context=b.build_context,
                                         region=b.region, image_uri=image_uri or b.image_uri, echo=echo,
                                         grader_path=spec.grader_path)
        kw = {"sleep": sleep} if sleep else {}
        lambda_arn = bedrock_grader.deploy_function(
            b.lambda_function, image, version, role_arn=b.lambda_role_arn, timeout_s=b.lambda_timeout_s,
            memory_mb=b.lambda_memory_mb, region=b.region, **kw)
    prompts_digest = digests["train"] + (f"+{digests['val']}" if "val" in digests else "")
    return Launch(
        spec_hash=spec_hash, job_name=job_name, model_name=model_name, token=token, grader_version=version,
        lambda_arn=lambda_arn, train_uri=uploads["train"].uri,
        val_uri=uploads["val"].uri if "val" in uploads else None,
        output_uri=bedrock_data.output_uri(b.bucket, b.prefix, spec_hash), prompts_digest=prompts_digest,
        estimate=est.as_dict(), smoke=smoke,
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
        (TAG_GRADER, launch.grader_version), (TAG_PROMPTS, launch.prompts_digest[:256]),
        (TAG_SPEC, launch.spec_hash), ("rftlab.kind", "rft-job"))]
    req: dict[str, Any] = {
        "jobName": launch.job_name,
        "customModelName": launch.model_name,
        "roleArn": b.role_arn,
        "clientRequestToken": launch.token,
        "baseModelIdentifier": bedrock_model_id(spec.base_model, b.base_model_id),
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "trainingDataConfig": {"s3Uri": launch.train_uri},
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
