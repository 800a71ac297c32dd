"""`rftlab prompts build` and `rftlab prompts validate` (thin: parse, load params, call the stage)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from rftlab.errors import cli_errors


class SplitKind(str, Enum):
    train = "train"
    validation = "validation"


def build(
    messages: Path = typer.Option(Path("data/interim/messages.jsonl"), "--messages", help="Messages JSONL (docs/contracts.md#messages-file)."),
    author: str | None = typer.Option(None, "--author", help="Target user id (default: params profile.author)."),
    out_dir: Path = typer.Option(Path("data/prompts"), "--out-dir", help="Where train.jsonl and val.jsonl go."),
    metrics: Path = typer.Option(Path("metrics/prompts.json"), "--metrics", help="Metrics JSON (DVC metrics)."),
    headline: Path | None = typer.Option(None, "--headline", help="Also write the few headline numbers here "
                                         "(committed for `dvc exp show`)."),
    plots_dir: Path = typer.Option(Path("plots/prompts"), "--plots-dir", help="Length plot (PNG) and its data (CSV)."),
    track: bool = typer.Option(True, "--track/--no-track", help="Log an MLflow run (kind `prompts`)."),
) -> None:
    """Build train/val prompt sets from the messages the target answered.

    A prompt is a message by someone else that the target replied to in a thread, or answered
    next in the channel within prompts.reply_window_min minutes; his reply is the
    reference_answer. Prompts are filtered (length, PII), deduplicated and split by thread and
    time. Settings: params.yaml `prompts`; outputs are written atomically.
    """
    from rftlab.config import load_params
    from rftlab.prompts import prompts_stage

    params = load_params()
    paths = prompts_stage.Paths(messages=messages, out_dir=out_dir, metrics=metrics, plots_dir=plots_dir,
                                headline=headline)
    m = prompts_stage.run(paths, author or params.profile.author, params.prompts, track=track)
    dropped = ", ".join(f"{k} {v}" for k, v in m["dropped"].items() if v) or "none"
    typer.echo(
        f"{m['prompts']} prompts from {m['pairs']['thread']} thread + {m['pairs']['channel']} channel replies "
        f"(dropped: {dropped}); train {m['train']} ({m['train_threads']} threads), "
        f"val {m['val']} ({m['val_threads']} threads) -> {out_dir}"
    )
    from rftlab.prompts.validate import BEDROCK_RFT_LIMITS

    if m["train"] < BEDROCK_RFT_LIMITS.min:
        typer.echo(
            f"warning: {m['train']} training prompts, below Bedrock's minimum of {BEDROCK_RFT_LIMITS.min} "
            "(raise prompts.augment.min_count or add data)", err=True,
        )


def validate(
    files: list[Path] = typer.Argument(..., help="Prompt JSONL file(s) to check.", show_default=False),
    max_prompt_length: int | None = typer.Option(
        None, "--max-prompt-length", help="Estimated-token limit (default: params prompts.max_prompt_tokens)."
    ),
    require_reference: bool = typer.Option(
        True, "--require-reference/--no-require-reference", help="Missing reference_answer is an error (else a warning)."
    ),
    split: SplitKind | None = typer.Option(
        None, "--split", help="What the files are: train applies Bedrock's 100-record minimum, validation "
        "does not. Without it every file is checked as training data (the summary line says so); "
        "the file name is never used to guess.",
    ),
) -> None:
    """Check prompt JSONL files against Bedrock RFT's rules.

    Prints FILE:LINE: severity: message for each problem and a summary line per file.
    Exit status 1 when any file has errors, 0 with warnings only.
    """
    from rftlab.config import load_params
    from rftlab.prompts.validate import validate_file_counted

    limit = max_prompt_length if max_prompt_length is not None else load_params().prompts.max_prompt_tokens
    failed = False
    kind = split or SplitKind.train
    shown = kind.value if split else f"{kind.value}: no --split given"
    for path in files:
        problems, n = validate_file_counted(
            path, max_prompt_length=limit, require_reference=require_reference, training=kind is SplitKind.train
        )
        for p in problems:
            typer.echo(p.format(path))
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        status = "FAILED" if errors else "ok"
        typer.echo(f"{path}: {n} records ({shown}), {errors} errors, {warnings} warnings: {status}")
        failed = failed or errors > 0
    if failed:
        raise typer.Exit(1)


def register(groups: dict) -> None:
    app = groups["prompts"]
    app.command("build")(cli_errors(build))
    app.command("validate")(cli_errors(validate))
