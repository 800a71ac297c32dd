"""`rftlab profile` (thin: parse, load params, call the profile stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rftlab.errors import cli_errors


def profile_cmd(
    messages: Path = typer.Option(..., "--messages", "-m", help="Messages JSONL (id, user, text per line)."),
    author: str | None = typer.Option(None, "--author", "-a", help="Target user id; every other user is background. Default: params profile.author."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write style_profile.json."),
    top_vocab: int | None = typer.Option(None, help="Top words per part of speech kept for people to read. Default: params profile.top_vocab."),
    min_count: int | None = typer.Option(None, help="Drop features seen fewer times than this. Default: params profile.min_count."),
    track: bool = typer.Option(True, "--track/--no-track", help="Log an MLflow run (kind `profile`)."),
) -> None:
    """Build the style profile: target vs background statistics per feature family.

    Deterministic (same messages, same bytes). Also logs an MLflow run of kind `profile`
    with the messages file as its input dataset and the profile's headline counts.
    """
    from rftlab.config import load_params
    from rftlab.style import profile_stage

    p = load_params().profile
    stats = profile_stage.run(messages, author or p.author, out,
                              top_vocab=top_vocab if top_vocab is not None else p.top_vocab,
                              min_count=min_count if min_count is not None else p.min_count,
                              min_users=p.min_users, track=track)
    typer.echo(f"profile: {int(stats['target_messages'])} target vs {int(stats['background_messages'])} "
               f"background messages -> {out}", err=True)


def register(groups: dict[str, Any]) -> None:
    groups["app"].command("profile")(cli_errors(profile_cmd))
