"""`rftlab rft`, `rftlab deploy` and `rftlab job list|status|wait|stop|estimate` (jobs concern).

Thin: parse arguments, load params, call the stage. Every command asks the job's backend plugin
(rftlab.plugins); a backend's own commands (e.g. `rftlab bedrock ...`) are registered by its plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rftlab.errors import cli_errors

JOB_RECORD = Path("data/rft/job.json")
HEADLINE_HELP = "Also write the stage's few headline numbers here (committed for `dvc exp show`)."


def rft(
    train: Path = typer.Option(Path("data/prompts/train.jsonl"), "--train", help="Train prompts JSONL."),
    val: Path | None = typer.Option(Path("data/prompts/val.jsonl"), "--val", help="Validation prompts JSONL."),
    grader: Path = typer.Option(Path("data/grader/grader.json"), "--grader", help="Grader bundle (or bare profile)."),
    base: str | None = typer.Option(None, "--base-model", help="Override rft.base_model (local folder or Bedrock id)."),
    job_out: Path = typer.Option(JOB_RECORD, "--job-out", help="Job record JSON."),
    model_out: Path = typer.Option(Path("data/rft/model"), "--model-out", help="Tuned model folder (local backend)."),
    metrics: Path | None = typer.Option(Path("metrics/rft.json"), "--metrics", help="Metrics JSON (DVC)."),
    headline: Path | None = typer.Option(None, "--headline", help=HEADLINE_HELP),
    curves: Path | None = typer.Option(None, "--curves", help="Folder for the reward curves as CSV "
                                       "(train_reward.csv, val_reward.csv: DVC plots)."),
    retry: bool = typer.Option(False, "--retry", help="Resume a job that ended Failed or Stopped."),
    progress: bool = typer.Option(True, "--progress/--quiet", help="Show progress (a bar on a terminal, "
                                  "else a line a minute)."),
) -> None:
    """Run the RFT job for these prompts, grader and params `rft` (on rft.backend: local, bedrock, ...).

    The job is keyed by a hash of its spec and input files: rerunning after an interruption
    resumes (or reports) the same job and MLflow run instead of starting a duplicate.
    Hyperparameters use Bedrock's names and ranges (docs/hyperparameters.md).
    """
    from rftlab.config import load_params
    from rftlab.jobs import rft_stage

    params = load_params()
    paths = rft_stage.Paths(train=str(train), val=str(val) if val and val.exists() else None, grader=str(grader),
                            job_out=str(job_out), model_out=str(model_out), metrics=str(metrics) if metrics else None,
                            headline=str(headline) if headline else None, curves=str(curves) if curves else None)
    state = rft_stage.run(params, paths, base_model=base, progress=progress, retry=retry)
    typer.echo(f"{state.job_id} {state.status} in {state.duration_min:.1f} min (${state.cost_usd:.2f}); "
               f"model {state.model_id}; run {state.run_id} -> {job_out}")


def _default_job(job: str | None) -> str:
    if job:
        return job
    from rftlab.errors import InputError
    from rftlab.io import read_json

    if JOB_RECORD.exists():
        return str(read_json(JOB_RECORD)["job_id"])
    from rftlab.jobs.state import default_store

    states = default_store().all()
    if not states:
        raise InputError("no jobs yet (run `rftlab rft`)")
    return states[0].job_id


def job_list() -> None:
    """List the jobs in the project's state store (newest first)."""
    from rftlab.jobs.state import default_store

    for s in default_store().all():
        step = f" step {s.details.get('step')}/{s.details.get('max_steps')}" if s.details.get("step") else ""
        typer.echo(f"{s.job_id} | {s.backend} | {s.status}{step} | {s.updated_at} | run {s.run_id}")


def _job(ref: str | None) -> tuple[Any, Any, Any]:
    """(plugin, backend, state) of a job: from the project's state store, else from the backend that
    recognises the reference (e.g. a Bedrock job ARN launched elsewhere)."""
    from rftlab import plugins
    from rftlab.config import load_params
    from rftlab.errors import InputError
    from rftlab.jobs.state import default_store

    ref = _default_job(ref)
    rft = load_params().rft
    state = default_store().find(ref)
    if state is not None:
        plugin = plugins.backend(state.backend, key=f"job {state.job_id}: backend")
        return plugin, plugin.create(rft), state
    for plugin in plugins.plugins().values():
        found = plugin.find_job(ref, rft)
        if found is not None:
            return plugin, *found
    raise InputError(f"no job {ref!r} in {default_store().root}; pass a job id, spec hash or a remote job's ARN")


def _show(plugin: Any, state: Any) -> None:
    typer.echo(plugin.progress_line(state))
    for key, label in (("model_id", "model"), ("run_id", "MLflow run"), ("failure_message", "failure")):
        if getattr(state, key, None):
            typer.echo(f"  {label}: {getattr(state, key)}")
    if state.details.get("deployment_arn"):
        typer.echo(f"  deployment: {state.details['deployment_arn']}")


def job_status(job: str | None = typer.Argument(None, help="Job id, spec hash (prefix) or a remote job's ARN "
                                                "(default: data/rft/job.json, else the newest job).")) -> None:
    """Show a job's status, duration, cost, model and MLflow run (refreshed from its backend)."""
    plugin, backend, state = _job(job)
    _show(plugin, backend.status(state))


def job_wait(
    job: str | None = typer.Argument(None, help="Job id, spec hash (prefix) or ARN (default: the current job)."),
    progress: bool = typer.Option(True, "--progress/--quiet", help="Show progress."),
) -> None:
    """Follow a job to its end. A local job no process is running is resumed here from its checkpoint.

    Safe to interrupt: the state file is saved after every poll and the next `wait` resumes it.
    Exits 1 when the job ends Failed or Stopped.
    """
    plugin, backend, state = _job(job)
    state = backend.wait(state, progress=progress)
    _show(plugin, state)
    if state.status != "Completed":
        raise typer.Exit(1)


def job_stop(job: str | None = typer.Argument(None, help="Job id, spec hash (prefix) or ARN (default: the current job).")) -> None:
    """Stop a job: a running local job saves its model and ends Stopped; a remote job is asked to stop."""
    plugin, backend, state = _job(job)
    _show(plugin, backend.stop(state))


def job_estimate(
    train: Path = typer.Option(Path("data/prompts/train.jsonl"), "--train", help="Train prompt JSONL."),
    budget: float | None = typer.Option(None, "--budget", help="Override rft.budget_usd."),
) -> None:
    """Estimate an RFT job's cost from the prompts and the backend's hyperparameters (an ESTIMATE)."""
    from rftlab import plugins
    from rftlab.config import load_params
    from rftlab.jobs import cost

    rft = load_params().rft
    est = plugins.backend(rft.backend).estimate(train, rft)
    limit = budget if budget is not None else rft.budget_usd
    typer.echo(cost.describe(est, limit))
    cost.check_budget(est.total_usd, limit)


def deploy(
    job: str = typer.Argument(None, help="Job id or ARN (default: the job in the --job record)."),
    record: Path = typer.Option(JOB_RECORD, "--job", help="Job record written by the rft stage."),
    out: Path | None = typer.Option(None, "--out", help="Write the deployment record here (the deploy stage's "
                                    "output, read by rftlab evaluate)."),
    name: str | None = typer.Option(None, "--name", help="Deployment name (default: the backend's setting, "
                                    "e.g. rft.bedrock.deployment_name, else one derived from the job)."),
) -> None:
    """Serve a Completed job's model for evaluation, as its backend does it.

    Bedrock: create or update the custom model deployment and wait until it is Active; its ARN is the
    modelId for Converse. Local and open-weight jobs: nothing to serve; the record names the model.
    """
    from rftlab.config import load_params
    from rftlab.jobs import deploy_stage

    dep = deploy_stage.run(load_params(), record, out=out, job_ref=job, name=name,
                           echo=lambda m: typer.echo(m, err=True))
    typer.echo(dep.get("deployment_arn") or dep.get("model") or "")


def register(groups: dict[str, Any]) -> None:
    app, job = groups["app"], groups["job"]
    app.command("rft")(cli_errors(rft))
    app.command("deploy")(cli_errors(deploy))
    job.command("list")(cli_errors(job_list))
    job.command("status")(cli_errors(job_status))
    job.command("wait")(cli_errors(job_wait))
    job.command("stop")(cli_errors(job_stop))
    job.command("estimate")(cli_errors(job_estimate))
