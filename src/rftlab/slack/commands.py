"""`rftlab sample` and `rftlab ingest`: thin wrappers over the sample and ingest stages."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from rftlab.errors import cli_errors


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


def sample(
    out: Path = typer.Option(Path("data/sample/slack-export.zip"), "--out", "-o", help="Where to write the export zip."),
    seed: int | None = typer.Option(None, help="Override params.yaml sample.seed."),
    messages: int | None = typer.Option(None, help="Override params.yaml sample.messages (human messages)."),
) -> None:
    """Write the bundled Japanese Slack export (deterministic: same params -> same bytes).

    Reads the `sample` section of params.yaml (seed, messages, start, days).
    """
    from rftlab.config import load_params
    from rftlab.slack import sample_stage

    p = load_params().sample
    updates = {k: v for k, v in {"seed": seed, "messages": messages}.items() if v is not None}
    if updates:
        p = p.model_copy(update=updates)
    stats = sample_stage.run(out, p)
    typer.echo(
        f"wrote {out}: {stats['human_messages']} human messages, {stats['users']} users, "
        f"{stats['channels']} channels, {stats['target_thread_replies']} target thread replies"
    )


def ingest(
    export: Path = typer.Argument(..., help="Slack export: a .zip or an unpacked export folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Messages file to write (JSONL, docs/contracts.md#messages-file)."),
    report: Path | None = typer.Option(None, "--report", help="Full ingest report (JSON): kept and dropped by reason, "
                                       "per user and channel, e.g. reports/ingest.json."),
    headline: Path | None = typer.Option(None, "--headline", help="Also write the few headline numbers here "
                                         "(committed for `dvc exp show`), e.g. metrics/ingest.json."),
    on_error: OnError | None = typer.Option(
        None, "--on-error", help="fail: stop at the first bad day file; skip: skip and report it. Default: params ingest.on_error."
    ),
    no_track: bool = typer.Option(False, "--no-track", help="Do not log an MLflow run."),
) -> None:
    """Normalize and PII-scrub a Slack export into a messages file, streaming one day file at a time.

    Filters (date range, channels, users, min_chars), code-block dropping and PII scrubbing come from the `ingest` section of params.yaml. Writes the messages file and the report only on success, and logs an MLflow run (kind `ingest`) with the counts.
    """
    from rftlab.config import load_params
    from rftlab.slack import ingest_stage

    params = load_params().ingest  # a bad params.yaml is named first
    rep = ingest_stage.run(export, out, params=params, report_path=report, headline=headline,
                           on_error=on_error.value if on_error else None, track=not no_track)
    skipped = f", skipped {rep['skipped_files']} bad day files" if rep["skipped_files"] else ""
    typer.echo(
        f"wrote {out}: {rep['messages_kept']} messages from {rep['users_kept']} users in "
        f"{rep['channels_kept']} channels ({rep['messages_dropped']} records dropped{skipped})"
    )


def register(groups: dict[str, typer.Typer]) -> None:
    app = groups["app"]
    app.command("sample")(cli_errors(sample))
    app.command("ingest")(cli_errors(ingest))
