"""`rftlab base-model`: the local backend's starting model, trained from scratch on the messages (the
pipeline's base_model stage). Thin: parse arguments, load params, call the stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rftlab import contracts
from rftlab.errors import cli_errors

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
    from rftlab.backends.local import base_model_stage
    from rftlab.config import load_params

    params = load_params()
    result = base_model_stage.run(messages, out, params.base_model, author=author or params.profile.author,
                                  metrics=metrics, headline=headline, track=track, progress=progress)
    s = result.summary
    typer.echo(f"base model: {s['parameters']:,} parameters, vocab {s['vocab_size']}, {s['training_texts']} texts, "
               f"loss {s['final_loss']:.3f} ({result.seconds} s) -> {out}")


def register(groups: dict[str, Any]) -> None:
    groups["app"].command(contracts.BASE_MODEL)(cli_errors(base_model))
