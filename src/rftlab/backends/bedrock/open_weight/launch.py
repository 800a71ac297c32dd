"""Everything before fine_tuning.jobs.create for an open-weight job: checks, budget, grader, request body.

Cheapest first, nothing leaves the machine until every local check passed: hyperparameters, base
model (routing, backends/bedrock/models.py), record count, the cost estimate against the budget, the grader
smoke test, the API key; then the grader Lambda (the same deployment, published in the job's region,
backends/bedrock/grader.py) and the uploads.

The request, as AWS documents it (user guide fine-tuning-openai-job-create,
https://docs.aws.amazon.com/bedrock/latest/userguide/fine-tuning-openai-job-create.html, and the
gpt-oss/qwen notebooks of aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-
fine-tuning/models/): `model`, `training_file` (a file id) and, in `extra_body`,
`{"method": {"type": "reinforcement", "reinforcement": {"grader": {"type": "lambda", "lambda":
{"function": <Lambda ARN>}}, "hyperparameters": {"n_epochs", "batch_size", "learning_rate_multiplier"}}}}`.
`suffix` is "not supported" (the same page), so a job is found again by its recorded id, or by the
training file it was created with, whose name carries the spec hash (backend.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rftlab.backends.bedrock import grader as bedrock_grader
from rftlab.backends.bedrock.ecr_pull import check_image_region
from rftlab.backends.bedrock.launch import grader_version
from rftlab.backends.bedrock.models import open_weight_base_model
from rftlab.backends.bedrock.open_weight.params import OpenWeightHyperParameters
from rftlab.errors import InputError
from rftlab.jobs import cost
from rftlab.jobs.spec import JobSpec

# Training data: OpenAI chat format, 100-20K examples (user guide "Prepare data for open-weight models",
# https://docs.aws.amazon.com/bedrock/latest/userguide/rft-prepare-data-open-weight.html).
MIN_RECORDS, MAX_RECORDS = 100, 20_000
# Job status (the OpenAI fine-tuning job object, which the API returns: validating_files, queued, running,
# succeeded, failed, cancelled) -> the status vocabulary every rftlab backend uses.
STATUS = {"validating_files": "InProgress", "queued": "InProgress", "running": "InProgress",
          "succeeded": "Completed", "failed": "Failed", "cancelled": "Stopped"}
# Cost-estimate assumptions (the API exposes neither): completions per prompt as on Nova's default, and
# completion tokens from the example metrics event of AWS's gpt-oss notebook (response_length_mean 519).
ASSUMED_SAMPLES_PER_PROMPT = 4
ASSUMED_COMPLETION_TOKENS = 519


def status_of(api_status: str | None) -> str:
    return STATUS.get(str(api_status), "InProgress")


def hyperparameters(spec: JobSpec) -> dict[str, Any]:
    """The job's hyperparameters, checked as rft.bedrock_open_weight.hyperparameters (names and signs)."""

    hp = {k: v for k, v in spec.hyperparameters.items() if v is not None}
    try:
        return OpenWeightHyperParameters.model_validate(hp).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InputError(f"rft.bedrock_open_weight.hyperparameters.{where}: {first['msg']} (got {first.get('input')!r}; "
                         f"the API takes n_epochs, batch_size, learning_rate_multiplier)") from None


def common_names(hp: dict[str, Any]) -> dict[str, Any]:
    """The same settings under the names the other backends use, for side-by-side rows (docs/open_weight.md)."""
    return {"epochCount": hp.get("n_epochs"), "batchSize": hp.get("batch_size")}


def method(lambda_arn: str, hp: dict[str, Any]) -> dict[str, Any]:
    """The `method` member of the create request (extra_body), as AWS documents it."""
    return {"type": "reinforcement", "reinforcement": {
        "grader": {"type": "lambda", "lambda": {"function": lambda_arn}},
        "hyperparameters": dict(hp)}}


def file_name(spec_hash: str, role: str, attempt: int = 0) -> str:
    """The uploaded file's name: the spec hash makes it (and so the job's training_file) this spec's own."""
    return f"rftlab-{spec_hash[:16]}{f'-a{attempt}' if attempt else ''}-{role}.jsonl"


def estimate_terms(hp: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters in the terms jobs/cost.py estimates with (the assumptions above filled in)."""
    return {**common_names(hp), "trainingSamplePerPrompt": ASSUMED_SAMPLES_PER_PROMPT,
            "inferenceMaxTokens": ASSUMED_COMPLETION_TOKENS}


def training_rate(rft: Any) -> tuple[Any, str]:
    """(rft.prices with the open-weight training $/hour, where that rate comes from). AWS publishes no open-weight
    RFT price and rftlab has measured no open-weight job: rft.bedrock_open_weight.usd_per_hour is yours to set;
    unset, Nova's measured rate stands in and the estimate says so."""
    ow = rft.section("bedrock_open_weight")
    if ow.usd_per_hour is not None:
        return (rft.prices.model_copy(update={"training_usd_per_hour": ow.usd_per_hour}),
                "rft.bedrock_open_weight.usd_per_hour: your figure for open-weight training (an estimate)")
    return rft.prices, ("rft.prices.training_usd_per_hour reused: NOT an open-weight price (one measured Nova job, "
                        "~$61/h; none is published or measured for open-weight models): set "
                        "rft.bedrock_open_weight.usd_per_hour; an estimate")


def estimate(spec: JobSpec, hp: dict[str, Any], rft: Any) -> cost.Estimate:
    """Training cost estimate (labelled an estimate; AWS publishes no open-weight RFT price): training_rate."""
    prices, source = training_rate(rft)
    return cost.estimate_files(spec.train_path, estimate_terms(hp), prices,
                               memory_mb=rft.section("bedrock").lambda_memory_mb, training_source=source)


@dataclass
class Launch:
    """What the create request is built from (recorded in the job state's details)."""

    model: str
    hyperparameters: dict[str, Any]
    lambda_arn: str
    grader_version: str
    grader_deployment: str | None
    train_file: str
    val_file: str | None
    estimate: dict[str, Any] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)


def check(spec: JobSpec, rft: Any) -> tuple[str, dict[str, Any], cost.Estimate]:
    """The local checks: (model, hyperparameters, estimate); raises before anything is sent."""
    hp = hyperparameters(spec)
    model = open_weight_base_model(spec.base_model)
    est = estimate(spec, hp, rft)
    if not MIN_RECORDS <= est.records <= MAX_RECORDS:
        raise InputError(f"{spec.train_path}: {est.records} training records; open-weight RFT needs "
                         f"{MIN_RECORDS} to {MAX_RECORDS:,}")
    cost.check_budget(est.total_usd, rft.budget_usd)
    return model, hp, est


def prepare(spec: JobSpec, rft: Any, api: Any, *, attempt: int = 0, image_uri: str | None = None,
            echo: Callable[[str], None] = print, sleep: Callable[[float], None] | None = None) -> Launch:
    """Check, smoke-test, deploy the grader (or reuse its published version), upload the prompts."""

    model, hp, est = check(spec, rft)
    smoke = bedrock_grader.smoke_test(spec.grader_path, spec.train_path)
    version, deployment = grader_version(spec.grader_path), None
    lambda_arn = spec.options.get("grader_lambda_arn")
    if not lambda_arn:  # the same deployment version as a Nova job, published in the API's region from its own image
        ow = rft.section("bedrock_open_weight")
        image = image_uri or ow.image_uri
        if image:
            check_image_region(image, ow.region, "rft.bedrock_open_weight.image_uri")
        lam = rft.section("bedrock").model_copy(update={"region": ow.region, "image_uri": image})
        dep = bedrock_grader.deploy_grader(spec.grader_path, lam, image_uri=image, echo=echo,
                                           **({"sleep": sleep} if sleep else {}))
        lambda_arn, deployment = dep.lambda_arn, dep.deployment_version
    spec_hash = spec.spec_hash()
    train = api.upload(spec.train_path, file_name(spec_hash, Path(spec.train_path).stem, attempt))
    val = api.upload(spec.val_path, file_name(spec_hash, Path(spec.val_path).stem, attempt)) if spec.val_path else None
    return Launch(model=model, hyperparameters=hp, lambda_arn=str(lambda_arn), grader_version=version,
                  grader_deployment=deployment, train_file=train, val_file=val, estimate=est.as_dict(), smoke=smoke)
