"""`rftlab search`: Optuna over RFT hyperparameters, one trial = one RFT job (thin CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rftlab.errors import cli_errors


def search(
    trials: int | None = typer.Option(None, "--trials", help="The study's target size: finished (complete + "
                                      "pruned) trials. Default: params search.trials."),
    train: Path = typer.Option(Path("data/prompts/train.jsonl"), "--train", help="Training prompts."),
    val: Path = typer.Option(Path("data/prompts/val.jsonl"), "--val", help="Validation prompts (the objective)."),
    grader: Path = typer.Option(Path("data/grader/grader.json"), "--grader", help="Grader bundle."),
    base_model: Path | None = typer.Option(None, "--base-model", help="Local backend: the model folder "
                                           "(default: data/models/base)."),
    out_dir: Path = typer.Option(Path("reports/search"), "--out-dir", help="best.yaml, plots and trial logs."),
) -> None:
    """Search RFT hyperparameters across jobs with Optuna.

    Each trial is one RFT job launched through the job layer, so a job is never launched twice. Settings come from params.yaml `search`: the space, the objective, trials, max_concurrent, budget_usd, the sampler, the pruner and the storage.

    Safe to interrupt and rerun: running jobs are picked up and finished ones are told. Several workers can share one study through an RDB storage URL. The best hyperparameters go to OUT_DIR/best.yaml with the `dvc exp run` command that reproduces the winning job.
    """
    from rftlab.config import load_params
    from rftlab.search.runner import run_search

    figures = run_search(load_params(), train=str(train), val=str(val), grader=str(grader),
                         base_model=str(base_model) if base_model else None, trials=trials, out_dir=out_dir,
                         echo=lambda m: typer.echo(m, err=True))
    typer.echo(f"study {figures['study']}: {figures['trials_complete']} complete, {figures['trials_pruned']} pruned, "
               f"{figures['trials_fail']} failed; training {figures['training_min']:.1f} min; spent "
               f"${figures['spent_usd']:,.2f} (estimate)")
    if "best_value" in figures:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in sorted(figures["best_params"].items()))
        typer.echo(f"best trial {figures['best_trial']}: value {figures['best_value']:.4f} with {params}")
        typer.echo(f"reproduce: see {out_dir / 'best.yaml'}")
    typer.echo(f"MLflow search run {figures['run_id']}")


def register(groups: dict[str, Any]) -> None:
    groups["app"].command("search")(cli_errors(search))
