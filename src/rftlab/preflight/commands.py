"""CLI: `rftlab preflight` (thin: parse, load params, call the stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from rftlab.errors import cli_errors


def preflight_cmd(
    train: Path = typer.Option(Path("data/prompts/train.jsonl"), "--train", help="Training prompts (with reference_answer: the target's real replies set the bar)."),
    grader: Path = typer.Option(Path("data/grader/grader.json"), "--grader", "-g", help="The grader bundle the job will train against."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Write the figures here, e.g. metrics/preflight.json."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for scores.json (DVC plot) and preflight.png."),
    headline: Path | None = typer.Option(None, "--headline", help="Also write the few headline numbers here (committed for `dvc exp show`)."),
    base_model: str | None = typer.Option(None, "--base-model", help="Override rft.base_model (a model folder, or a Bedrock model id)."),
    prompts: int | None = typer.Option(None, "--prompts", "-n", help="Training prompts to sample (default: params preflight.prompts)."),
) -> None:
    """Sample the job's base model on training prompts and score the rollouts with the grader
    (the Lambda's code path) before any RFT job: share of prompts whose rollouts tie (no GRPO
    signal), mean within-prompt spread, share already at the target's median real score, share
    above his 90th percentile (hacking ceiling), reward histogram, steps with signal.

    Exits 1 naming each figure past its threshold (params `preflight`) and what to change. On
    Bedrock the rollouts go through Converse; their estimated cost must stay within
    preflight.max_usd. Logs an MLflow run of kind `preflight`.
    """
    from rftlab.config import load_params
    from rftlab.preflight import preflight_stage

    params = load_params()
    if prompts is not None:
        params = params.model_copy(update={"preflight": params.preflight.model_copy(update={"prompts": prompts})})
    result = preflight_stage.run(params, train=str(train), grader_path=str(grader),
                                 metrics_path=str(metrics) if metrics else None,
                                 headline=str(headline) if headline else None,
                                 plots_dir=str(plots) if plots else None, base_model=base_model)
    typer.echo(result["report"])


def register(groups: dict) -> None:
    groups["app"].command("preflight")(cli_errors(preflight_cmd))
