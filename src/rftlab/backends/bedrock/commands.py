"""The Bedrock plugin's commands: `rftlab bedrock policies|upload|deploy-grader` and `rftlab job sync`.

Thin: parse arguments, load params, call backends/bedrock/*.py. boto3 loads inside commands only.
`make_backend` is the one factory of the Bedrock job runner (its clock and sleep are the CLI's, so
tests replace SLEEP and CLOCK here).
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
    from rftlab.backends.bedrock.backend import BedrockBackend
    from rftlab.config import load_params

    rft = rft or load_params().rft
    clock = (lambda: CLOCK()) if CLOCK is not None else None
    kw.setdefault("echo", lambda m: typer.echo(m, err=True))
    return BedrockBackend(rft, sleep=lambda s: SLEEP(s), clock=clock, **kw)


def bedrock_state(backend: Any, job: str) -> Any:
    """A Bedrock job from the state store (id, spec hash, prefix) or, for an ARN, adopted from AWS."""
    state = backend.store.find(job)
    if state is not None:
        return state
    if job.startswith("arn:"):
        return backend.adopt(job)
    from rftlab.errors import InputError

    raise InputError(f"no job {job!r} in {backend.store.root}; pass a job ARN or sync it (`rftlab job sync --all`)")


def job_sync(
    job_arn: str | None = typer.Argument(None, help="A Bedrock RFT job ARN (omit with --all)."),
    all_jobs: bool = typer.Option(False, "--all", help="Every RFT job in the region (ListModelCustomizationJobs)."),
) -> None:
    """Import Bedrock RFT jobs launched anywhere into MLflow: one run per job, updated on re-sync."""
    from rftlab.backends.bedrock import sync
    from rftlab.errors import InputError

    if bool(job_arn) == all_jobs:
        raise InputError("give one JOB_ARN or --all")
    states = sync.sync(make_backend(), job_arn)
    for s in states:
        typer.echo(f"{s.job_id} | {s.status} | run {s.run_id}")
    typer.echo(f"synced {len(states)} job(s)")


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

    from rftlab.backends.bedrock import iam
    from rftlab.config import load_params

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
    from rftlab.backends.bedrock.data import upload_prompts
    from rftlab.config import load_params

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
    from rftlab.backends.bedrock import grader as g
    from rftlab.config import load_params

    b = load_params().rft.bedrock
    smoke = g.smoke_test(grader, prompts)
    typer.echo(f"smoke test passed: {smoke['samples']} samples, reference {smoke['reference_mean']:.3f} "
               f"vs empty {smoke['empty_mean']:.3f}", err=True)
    dep = g.deploy_grader(grader, b, image_uri=image_uri, echo=lambda m: typer.echo(m, err=True),
                          sleep=lambda s: SLEEP(s))
    typer.echo(dep.lambda_arn)


def register(groups: dict[str, Any]) -> None:
    """`rftlab bedrock ...` and `rftlab job sync` (the Bedrock plugin's own commands)."""
    groups["app"].add_typer(bedrock_app, name="bedrock")
    groups["job"].command("sync")(cli_errors(job_sync))
