"""CLI: `rftlab evaluate`, `rftlab compare`, `rftlab spot-check` (thin; the work is in the modules)."""

from __future__ import annotations

from pathlib import Path

import typer

from rftlab import contracts
from rftlab.errors import cli_errors


def evaluate_cmd(
    job: Path = typer.Option(Path("data/rft/job.json"), "--job", help="Job record written by the rft stage."),
    deployment: Path = typer.Option(Path("data/rft/deployment.json"), "--deployment",
                                    help="Deployment record written by the deploy stage (Bedrock: the ARN to call)."),
    val: Path = typer.Option(Path("data/prompts/val.jsonl"), "--val", help="Held-out prompts (JSONL, `messages`)."),
    out: Path = typer.Option(Path("metrics/evaluate.json"), "--out", help="Every evaluation metric (JSON)."),
    headline: Path | None = typer.Option(None, "--headline", help="Also write the few headline numbers here "
                                         "(committed for `dvc exp show`)."),
    plots: Path = typer.Option(Path("plots/evaluate"), "--plots", help="Folder for DVC plots data and PNGs."),
    report: Path | None = typer.Option(Path("reports/evaluate.md"), "--report",
                                       help="Markdown report (metrics, plots, samples side by side)."),
) -> None:
    """Base vs tuned on held-out prompts, scored by the job's own grader; results go into the job's MLflow run.

    Settings come from params.yaml `evaluate` (samples_per_prompt, temperature, max_tokens, max_prompts, seed, bootstrap, judge); costs from `rft.prices`. The job must be Completed and its grader bundle must still have the version the job trained against. Prints the headline metrics; details in docs/evaluation.md.
    """
    from rftlab.config import load_params
    from rftlab.evaluate import evaluate_stage

    paths = evaluate_stage.Paths(job=job, deployment=deployment, val=val, metrics=out, plots=plots, report=report,
                                 headline=headline)
    result = evaluate_stage.run(load_params(), paths)
    for key in (contracts.EVAL_BASE_MEAN, contracts.EVAL_TUNED_MEAN, contracts.EVAL_UPLIFT_PCT, "eval/uplift_ci_low",
                "eval/uplift_ci_high", contracts.EVAL_WIN_RATE, "eval/tokens_total", "eval/inference_cost_usd"):
        value = result.get(key)
        typer.echo(f"{key:<24} {'-' if value is None else f'{value:.4g}'}")
    typer.echo(f"logged into MLflow run {result['run_id']} (job {result['job_id']}); metrics in {out}"
               + (f", report {report}" if report else ""))


def compare_cmd(
    sort: str = typer.Option(contracts.EVAL_UPLIFT_PCT, "--sort", help="Metric, column or param to sort by (descending)."),
    ascending: bool = typer.Option(False, "--ascending", help="Sort ascending instead."),
    report: Path | None = typer.Option(None, "--report", help="Also write a report: .md (Markdown) or .html, plots beside it."),
    experiment: str | None = typer.Option(None, "--experiment", help="MLflow experiment (default: params tracking.experiment)."),
    partial: bool = typer.Option(False, "--partial", help="Also show params set in only some jobs."),
    search: str | None = typer.Option(None, "--search", help="Only the trials of this `rftlab search` study "
                                      "(its name is printed by the search and tagged rftlab.study)."),
    log: bool = typer.Option(True, "--log/--no-log", help="Also log the report as HTML to MLflow: the study's "
                             "search run, else the experiment's `job comparison` run."),
) -> None:
    """Compare RFT jobs from MLflow: differing params, grader, prompt set, status, duration, cost, evaluation.

    One row per run tagged rftlab.kind=rft-job (local runs and Bedrock jobs synced with `rftlab job sync`); only params whose values disagree between jobs are shown.
    """
    from rftlab.evaluate.compare import compare

    table, rows = compare(experiment=experiment, sort=sort, ascending=ascending, report=report, partial=partial,
                          study=search, log=log)
    typer.echo(table)
    if report:
        typer.echo(f"report written to {report}")


def spot_check_cmd(
    grader: Path = typer.Option(..., "--grader", help="Grader bundle (or bare profile)."),
    messages: Path = typer.Option(..., "--messages", help="Messages JSONL (id, user, text; optional ts, user_name)."),
    per_user: int | None = typer.Option(None, "--per-user", min=1, help="Latest messages per user (default: params evaluate.spot_check_per_user)."),
    user: list[str] | None = typer.Option(None, "--user", help="Only these user ids (repeatable)."),
    width: int = typer.Option(30, "--width", min=5, help="Characters of each message to show."),
    target: str | None = typer.Option(None, "--target", help="Mark this user (default: params profile.author)."),
) -> None:
    """Score each user's latest messages and print a per-user table (mean, then each text with its score)."""
    from rftlab.config import load_params
    from rftlab.evaluate.spot_check import run

    params = load_params()
    n = per_user or params.evaluate.spot_check_per_user or 3
    typer.echo(run(grader, messages, per_user=n, users=user or None, width=width, target=target or params.profile.author))


def register(groups: dict) -> None:
    app = groups["app"]
    app.command("evaluate")(cli_errors(evaluate_cmd))
    app.command("compare")(cli_errors(compare_cmd))
    app.command("spot-check")(cli_errors(spot_check_cmd))
