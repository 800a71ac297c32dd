"""The `profile` stage (dvc.yaml `profile`): messages -> style_profile.json, the target's statistics
against everyone else's per feature family. Shape: rftlab.stage (docs/architecture.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.errors import InputError
from rftlab.io import file_md5, read_messages, write_json
from rftlab.stage import PASS, Verdict, stage_record
from rftlab.style.profile import build_profile, profile_stats
from rftlab.style.tagger import dictionary_info

KIND = contracts.PROFILE


@dataclass(frozen=True)
class Inputs:
    messages_path: Path
    messages: list[dict]
    author: str


@dataclass(frozen=True)
class Result:
    profile: dict[str, Any]
    stats: dict[str, float]


def read_inputs(messages_path: str | os.PathLike, author: str) -> Inputs:
    path = Path(messages_path)
    messages = read_messages(path)
    if not messages:
        raise InputError(f"{path}: no messages")
    if not any(m["user"] == author for m in messages):
        users = sorted({m["user"] for m in messages})
        raise InputError(f"{path}: no messages by --author {author!r} "
                         f"(users: {', '.join(users[:10])}{' ...' if len(users) > 10 else ''})")
    return Inputs(path, messages, author)


def compute(inputs: Inputs, *, top_vocab: int, min_count: int, min_users: int) -> Result:
    meta = {"messages_md5": file_md5(inputs.messages_path), "dictionary": dictionary_info()}
    profile = build_profile(inputs.messages, inputs.author, top_vocab=top_vocab, min_count=min_count,
                            min_users=min_users, meta=meta)
    return Result(profile, profile_stats(profile))


def gate(result: Result) -> Verdict:
    return PASS  # the profile is checked by the grader's gate (the check stage)


def write_outputs(result: Result, out: str | os.PathLike) -> None:
    write_json(out, result.profile)


def record(result: Result, inputs: Inputs) -> None:
    tracking.log_input_file(inputs.messages_path, name="messages", context="profile")
    tracking.log_metrics(result.stats)
    tracking.log_dict(result.profile["top_vocab"], "top_vocab.json")


def run(messages_path: str | os.PathLike, author: str, out: str | os.PathLike, *, top_vocab: int = 50,
        min_count: int = 2, min_users: int = 3, track: bool = True) -> dict[str, float]:
    """Build and write the profile (atomically); returns its headline stats."""
    inputs = read_inputs(messages_path, author)
    settings = {"author": author, "top_vocab": top_vocab, "min_count": min_count, "min_users": min_users}
    with stage_record(KIND, track=track, run_name=f"profile {author}", params=settings,
                      deps={"messages": inputs.messages_path}) as run_:
        result = compute(inputs, top_vocab=top_vocab, min_count=min_count, min_users=min_users)
        verdict = gate(result)
        write_outputs(result, out)
        if run_ is not None:
            record(result, inputs)
    verdict.raise_if_failed(KIND)
    return result.stats
