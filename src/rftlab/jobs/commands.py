"""`rftlab base-model`, `rftlab rft` and `rftlab job list|status|wait|stop` (jobs concern).

Thin: parse arguments, load params, call the stage. The Bedrock engineer's commands live in
bedrock_commands.py; `job status|wait|stop` dispatch on the job state's backend.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from rftlab.errors import cli_errors

JOB_RECORD = Path("data/rft/job.json")
HEADLINE_HELP = "Also write the stage's few headline numbers here (committed for `dvc exp show`)."


def base_model(
    messages: Path = typer.Option(Path("data/interim/messages.jsonl"), "--messages", help="Messages JSONL (docs/contracts.md#messages-file)."),
    out: Path = typer.Option(Path("data/models/base"), "--out", help="Model folder (Hugging Face format) to write."),
    author: str | None = typer.Option(None, "--author", help="Target user id (default: params profile.author); "
                                      "left out of training unless base_model.include_target."),
    metrics: Path | None = typer.Option(Path("metrics/base_model.json"), "--metrics", help="Metrics JSON (DVC)."),
    headline: Path | None = typer.Option(None, "--headline", help=HEADLINE_HELP),
    track: bool = typer.Option(True, "--track/--no-track", help="Log an MLflow run (kind `base-model`)."),
    progress: bool = typer.Option(True, "--progress/--quiet", help="Show progress (a bar on a terminal, "
                                  "else a line a minute)."),
) -> None:
    """Train a tokenizer and a small causal LM from scratch on the messages (offline, CPU).

    Byte-level BPE tokenizer with a chat template, and a tiny GPT-2 shaped model trained on
    every message formatted as a chat reply to the message before it. Settings: params.yaml
    `base_model`. The output loads with AutoModelForCausalLM / AutoTokenizer.
    """
    from rftlab.config import load_params
    from rftlab.io import write_json
    from rftlab.jobs.local.base_model import run_base_model

    params = load_params()
    who = author or params.profile.author
    if not messages.exists():  # before any MLflow run: a wrong path leaves no failed run behind
        from rftlab.errors import InputError

        raise InputError(f"{messages}: messages file not found (run `rftlab ingest` first)")

    def run() -> dict:
        return run_base_model(messages, out, params.base_model, author=who, progress=progress)

    t0 = time.monotonic()
    if track:
        from rftlab import tracking

        with tracking.stage_run("base-model", run_name="base-model", params={"base_model": params.base_model.model_dump(),
                                "author": who}, deps={"messages": messages}):
            summary = run()
            seconds = round(time.monotonic() - t0, 1)
            tracking.log_metrics({f"loss_epoch_{i + 1}": v for i, v in enumerate(summary["losses"])})
            tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, int | float)})
            tracking.log_metrics({"train_seconds": seconds})  # wall time: MLflow only, never a DVC output
    else:
        summary = run()
        seconds = round(time.monotonic() - t0, 1)
    if metrics:
        write_json(metrics, {k: v for k, v in summary.items() if k != "losses"})
    if headline:
        from rftlab.headline import write_headline

        write_headline(headline, "base_model", summary)
    typer.echo(f"base model: {summary['parameters']:,} parameters, vocab {summary['vocab_size']}, "
               f"{summary['training_texts']} texts, loss {summary['final_loss']:.3f} "
               f"({seconds} s) -> {out}")


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
    """Run the RFT job for these prompts, grader and params `rft` (backend local or bedrock).

    The job is keyed by a hash of its spec and input files: rerunning after an interruption
    resumes (or reports) the same job and MLflow run instead of starting a duplicate.
    Hyperparameters use Bedrock's names and ranges (docs/hyperparameters.md).
    """
    from rftlab.config import load_params
    from rftlab.jobs.stage import run_rft

    params = load_params()
    state = run_rft(params, train=str(train), val=str(val) if val and val.exists() else None, grader=str(grader),
                    job_out=str(job_out), model_out=str(model_out), metrics_out=str(metrics) if metrics else None,
                    base_model=base, progress=progress, retry=retry)
    if headline or curves:
        from rftlab.io import read_json
        from rftlab.jobs.curves import write_curves

        record = read_json(job_out)
        if headline:
            from rftlab.headline import write_headline

            write_headline(headline, "rft", record.get("metrics") or {})
        if curves:
            write_curves(curves, record)
    _log_tuned_model(params, job_out, model_out)
    typer.echo(f"{state.job_id} {state.status} in {state.duration_min:.1f} min (${state.cost_usd:.2f}); "
               f"model {state.model_id}; run {state.run_id} -> {job_out}")


def _log_tuned_model(params: Any, job_out: Path, model_out: Path) -> None:
    """The job's output as an MLflow model (registered `rftlab-style`), then the job view refreshed.
    A store that refuses is a warning: the job record stays the stage's result."""
    import logging

    from rftlab.io import read_json
    from rftlab.jobs.lineage import find_job_run
    from rftlab.tracking import tuned, views

    if not params.tracking.register_models:
        return
    try:
        record = read_json(job_out)
        run = find_job_run(record["job_id"])
        tuned.log_tuned_model(record, run_id=run.info.run_id if run else None, model_dir=model_out)
    except Exception as exc:
        logging.getLogger(__name__).warning("tuned model not logged to MLflow: %s", exc)
    views.refresh()


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


def job_status(job: str | None = typer.Argument(None, help="Job id, spec hash (prefix) or Bedrock ARN "
                                                "(default: data/rft/job.json, else the newest job).")) -> None:
    """Show a job's status, duration, cost, model and MLflow run."""
    from rftlab.jobs.bedrock import commands as bedrock_commands

    bedrock_commands.job_status(_default_job(job))


def job_wait(
    job: str | None = typer.Argument(None, help="Job id, spec hash (prefix) or ARN (default: the current job)."),
    progress: bool = typer.Option(True, "--progress/--quiet", help="Show progress."),
) -> None:
    """Follow a job to its end. A local job no process is running is resumed here from its checkpoint."""
    from rftlab.jobs.bedrock import commands as bedrock_commands

    bedrock_commands.job_wait(_default_job(job), progress=progress)


def job_stop(job: str | None = typer.Argument(None, help="Job id, spec hash (prefix) or ARN (default: the current job).")) -> None:
    """Stop a job: a running local job saves its model and ends Stopped; Bedrock: StopModelCustomizationJob."""
    from rftlab.jobs.bedrock import commands as bedrock_commands

    bedrock_commands.job_stop(_default_job(job))


def register(groups: dict[str, Any]) -> None:
    app, job = groups["app"], groups["job"]
    app.command("base-model")(cli_errors(base_model))
    app.command("rft")(cli_errors(rft))
    job.command("list")(cli_errors(job_list))
    job.command("status")(cli_errors(job_status))
    job.command("wait")(cli_errors(job_wait))
    job.command("stop")(cli_errors(job_stop))
    from rftlab.jobs.bedrock import commands as bedrock_commands

    bedrock_commands.register(groups)
