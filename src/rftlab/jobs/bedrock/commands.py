"""Bedrock commands: `rftlab bedrock ...`, `rftlab deploy`, `rftlab job sync|estimate` and the
Bedrock side of `rftlab job status|wait|stop` (dispatching on the job state's backend).

Thin: parse arguments, load params, call jobs/bedrock*.py. boto3 loads inside commands only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import typer

from rftlab.errors import cli_errors

log = logging.getLogger(__name__)
bedrock_app = typer.Typer(no_args_is_help=True, help="Amazon Bedrock RFT: IAM policies, data upload, grader Lambda.")

SLEEP = time.sleep  # tests replace these so polling never really sleeps
CLOCK: Any = None  # None = the real UTC clock


def make_backend(rft: Any = None, **kw: Any) -> Any:
    """The Bedrock backend for CLI use (tests patch SLEEP)."""
    from rftlab.config import load_params
    from rftlab.jobs.bedrock.backend import BedrockBackend

    rft = rft or load_params().rft
    clock = (lambda: CLOCK()) if CLOCK is not None else None
    return BedrockBackend(rft, sleep=lambda s: SLEEP(s), clock=clock, echo=lambda m: typer.echo(m, err=True), **kw)


def _bedrock_state(backend: Any, job: str) -> Any:
    """A Bedrock job from the state store (id, spec hash, prefix) or, for an ARN, adopted from AWS."""
    state = backend.store.find(job)
    if state is not None:
        return state
    if job.startswith("arn:"):
        return backend.adopt(job)
    from rftlab.errors import InputError

    raise InputError(f"no job {job!r} in {backend.store.root}; pass a job ARN or sync it (`rftlab job sync --all`)")


def _any_state(job: str) -> tuple[Any, Any]:
    """(backend, state) for `job`, whichever backend owns it."""
    from rftlab.config import load_params
    from rftlab.jobs.base import get_backend
    from rftlab.jobs.state import default_store

    rft = load_params().rft
    state = default_store().find(job)
    if state is None or state.backend == "bedrock":
        backend = make_backend(rft)
        return backend, _bedrock_state(backend, job)
    return get_backend(state.backend, rft), state


def _show(state: Any) -> None:
    from rftlab.jobs.bedrock.backend import progress_line

    if state.backend == "bedrock":
        typer.echo(progress_line(state))
    else:
        typer.echo(f"{state.job_id} | {state.status} | {state.duration_min:.1f} min | ${state.cost_usd:,.2f}")
    for key, label in (("model_id", "model"), ("run_id", "MLflow run"), ("failure_message", "failure")):
        if getattr(state, key, None):
            typer.echo(f"  {label}: {getattr(state, key)}")
    if state.details.get("deployment_arn"):
        typer.echo(f"  deployment: {state.details['deployment_arn']}")


# ---------------------------------------------------------------------------- job status|wait|stop
def job_status(job: str = typer.Argument(..., help="Job id, spec hash (prefix) or Bedrock job ARN.")) -> None:
    """Show a job's status, stages, duration and estimated cost (refreshed from its backend)."""
    backend, state = _any_state(job)
    _show(backend.status(state))


def job_wait(
    job: str = typer.Argument(..., help="Job id, spec hash (prefix) or Bedrock job ARN."),
    progress: bool = typer.Option(True, "--progress/--quiet", help="Print a line per poll."),
) -> None:
    """Follow a job until it ends (Bedrock: backoff polling, metrics into MLflow, budget guard).

    Safe to interrupt: the state file is saved after every poll and the next `wait` resumes it.
    Exits 1 when the job ends Failed or Stopped.
    """
    backend, state = _any_state(job)
    state = backend.wait(state, progress=progress)
    _show(state)
    if state.status != "Completed":
        raise typer.Exit(1)


def job_stop(job: str = typer.Argument(..., help="Job id, spec hash (prefix) or Bedrock job ARN.")) -> None:
    """Ask the backend to stop a running job (Bedrock: StopModelCustomizationJob)."""
    backend, state = _any_state(job)
    _show(backend.stop(state))


def job_sync(
    job_arn: str | None = typer.Argument(None, help="A Bedrock RFT job ARN (omit with --all)."),
    all_jobs: bool = typer.Option(False, "--all", help="Every RFT job in the region (ListModelCustomizationJobs)."),
) -> None:
    """Import Bedrock RFT jobs launched anywhere into MLflow: one run per job, updated on re-sync."""
    from rftlab.errors import InputError
    from rftlab.jobs.bedrock import sync

    if bool(job_arn) == all_jobs:
        raise InputError("give one JOB_ARN or --all")
    states = sync.sync(make_backend(), job_arn)
    for s in states:
        typer.echo(f"{s.job_id} | {s.status} | run {s.run_id}")
    typer.echo(f"synced {len(states)} job(s)")


def job_estimate(
    train: Path = typer.Option(Path("data/prompts/train.jsonl"), "--train", help="Train prompt JSONL."),
    budget: float | None = typer.Option(None, "--budget", help="Override rft.budget_usd."),
) -> None:
    """Estimate a Bedrock RFT job's cost from the prompts and rft.hyperparameters (an ESTIMATE)."""
    from rftlab.config import load_params
    from rftlab.jobs import cost

    rft = load_params().rft
    hp = {k: v for k, v in rft.hyperparameters.model_dump().items() if v is not None}
    if rft.backend == "openai":  # open-weight names -> the estimate's terms (jobs/openai/launch.py)
        from rftlab.jobs.openai.launch import estimate_terms

        hp = estimate_terms(hp)
    est = cost.estimate_files(train, hp, rft.prices, memory_mb=rft.bedrock.lambda_memory_mb)
    limit = budget if budget is not None else rft.budget_usd
    typer.echo(cost.describe(est, limit))
    cost.check_budget(est.total_usd, limit)


# ---------------------------------------------------------------------------- rftlab deploy
def deploy_cmd(
    job: str = typer.Argument(None, help="Job id or ARN (default: the job in the --job record)."),
    record: Path = typer.Option(Path("data/rft/job.json"), "--job", help="Job record written by the rft stage."),
    out: Path | None = typer.Option(None, "--out", help="Write the deployment record here (the deploy stage's "
                                    "output, read by rftlab evaluate)."),
    name: str | None = typer.Option(None, "--name", help="Deployment name (default rft.bedrock.deployment_name "
                                    "or rftlab-<job name>)."),
) -> None:
    """Serve a Completed job's model for evaluation.

    Bedrock: create or update the custom model deployment and wait until it is Active; its ARN is the
    modelId for Converse. Local: nothing to serve; the record names the model folder. Open-weight
    (openai backend): nothing to serve; the record names the job's fine_tuned_model.
    """
    from rftlab.io import read_json, write_json
    from rftlab.jobs.bedrock.deploy import deploy, deployment_record

    job_record = read_json(record) if (job is None or out) else {}
    if job_record.get("backend") == "local" and job is None:
        if out:
            write_json(out, deployment_record(job_record))
        typer.echo(f"local job {job_record['job_id']}: nothing to deploy; the model is {job_record.get('model_path')}")
        return
    if job_record.get("backend") == "openai" and job is None:
        # an open-weight job's fine_tuned_model serves on demand through the same API, "without additional
        # deployment steps" (user guide fine-tuning-openai-apis; docs/open_weight.md)
        if out:
            write_json(out, deployment_record(job_record))
        typer.echo(f"open-weight job {job_record['job_id']}: nothing to deploy; {job_record.get('model_id')} "
                   "serves on demand through the OpenAI-compatible API")
        return
    backend = make_backend()
    state = deploy(backend, _bedrock_state(backend, job or job_record["job_id"]), name=name)
    if backend.track:
        from rftlab.jobs.bedrock import sync

        sync.record(backend, state, with_metrics=False)
        from rftlab.tracking import tuned

        try:  # the deployment as metadata of the job's registered model (rftlab-style)
            tuned.record_deployment(state.job_id, state.details["deployment_arn"])
        except Exception as exc:
            log.warning("deployment not recorded on the tuned model: %s", exc)
    if out:
        write_json(out, deployment_record(job_record, state))
    typer.echo(state.details["deployment_arn"])


# ---------------------------------------------------------------------------- rftlab bedrock ...
@bedrock_app.command("policies")
@cli_errors
def policies(
    out_dir: Path = typer.Option(Path("build/iam"), "--out-dir", help="Where the JSON documents go."),
    account: str | None = typer.Option(None, "--account", help="AWS account id for the ARNs (default: "
                                       "sts:GetCallerIdentity, else the placeholder ACCOUNT_ID)."),
) -> None:
    """Write and print least-privilege IAM documents: Bedrock service role (trust + policy), caller policy.

    Bucket, prefix, function, repository and role names come from params.yaml `rft.bedrock`.
    """
    import json

    from rftlab.config import load_params
    from rftlab.jobs.bedrock import iam

    params = load_params()
    account = account or iam.account_id(params.rft.bedrock.region) or "ACCOUNT_ID"
    docs = iam.documents(params, account=account)
    for path in iam.write_documents(docs, out_dir):
        typer.echo(f"# {path}")
        typer.echo(json.dumps(docs[path.name], indent=2))


@bedrock_app.command("upload")
@cli_errors
def upload(
    train: Path = typer.Option(Path("data/prompts/train.jsonl"), "--train", help="Train prompt JSONL."),
    val: Path | None = typer.Option(Path("data/prompts/val.jsonl"), "--val", help="Validation prompt JSONL."),
) -> None:
    """Upload prompt files to s3://<rft.bedrock.bucket>/<prefix>/data/<md5>/ (skipped when present)."""
    from rftlab.config import load_params
    from rftlab.jobs.bedrock.data import upload_prompts

    b = load_params().rft.bedrock
    for name, up in upload_prompts(train, val, bucket=b.bucket, prefix=b.prefix, region=b.region,
                                   kms_key_id=b.kms_key_id).items():
        typer.echo(f"{name}: {up.uri} ({'uploaded' if up.uploaded else 'already there'})")


@bedrock_app.command("deploy-grader")
@cli_errors
def grader_deploy(
    grader: Path = typer.Option(Path("data/grader/grader.json"), "--grader", help="Grader bundle to deploy."),
    prompts: Path = typer.Option(Path("data/prompts/train.jsonl"), "--prompts", help="Prompts for the smoke test."),
    image_uri: str | None = typer.Option(None, "--image-uri", help="An already pushed image (else build+push)."),
) -> None:
    """Smoke-test the grader locally, then ship it: ECR image, Lambda (PackageType Image), published version.

    Prints the qualified version ARN that jobs are pinned to. The version's description starts with
    the deployment version (bundle + grader code + pinned dependencies + base image), so a change to
    any of them publishes a new version.
    """
    from rftlab.config import load_params
    from rftlab.jobs.bedrock import grader as g

    b = load_params().rft.bedrock
    smoke = g.smoke_test(grader, prompts)
    typer.echo(f"smoke test passed: {smoke['samples']} samples, reference {smoke['reference_mean']:.3f} "
               f"vs empty {smoke['empty_mean']:.3f}", err=True)
    dep = g.deploy_grader(grader, b, image_uri=image_uri, echo=lambda m: typer.echo(m, err=True),
                          sleep=lambda s: SLEEP(s))
    typer.echo(dep.lambda_arn)


def register(groups: dict[str, Any]) -> None:
    """Add the Bedrock commands; `job status|wait|stop` only if the jobs concern has not added them."""
    app, job = groups["app"], groups["job"]
    if not any(getattr(c, "name", None) == "bedrock" for c in app.registered_groups):
        app.add_typer(bedrock_app, name="bedrock")
    have = {c.name or (c.callback.__name__ if c.callback else "") for c in job.registered_commands}
    for name, fn in (("status", job_status), ("wait", job_wait), ("stop", job_stop), ("sync", job_sync),
                     ("estimate", job_estimate)):
        if name not in have:
            job.command(name)(cli_errors(fn))
    if not any(c.name == "deploy" for c in app.registered_commands):
        app.command("deploy")(cli_errors(deploy_cmd))
