"""The `profile` stage: messages -> style_profile.json, tracked in MLflow (kind `profile`)."""

from __future__ import annotations

import os
from pathlib import Path

from rftlab.errors import InputError


def run_profile(messages_path: str | os.PathLike, author: str, out: str | os.PathLike, *,
                top_vocab: int = 50, min_count: int = 2, min_users: int | None = None,
                track: bool = True) -> dict[str, float]:
    """Build and write the profile atomically; returns its headline stats.

    `min_users` None: params profile.min_users (docs/privacy.md)."""
    from rftlab.io import file_md5, read_messages, write_json
    from rftlab.style.profile import build_profile, profile_stats
    from rftlab.style.tagger import dictionary_info

    messages_path = Path(messages_path)
    messages = read_messages(messages_path)
    if not messages:
        raise InputError(f"{messages_path}: no messages")
    if not any(m["user"] == author for m in messages):
        users = sorted({m["user"] for m in messages})
        raise InputError(f"{messages_path}: no messages by --author {author!r} "
                         f"(users: {', '.join(users[:10])}{' ...' if len(users) > 10 else ''})")
    if min_users is None:
        from rftlab.config import load_params

        min_users = load_params().profile.min_users
    meta = {"messages_md5": file_md5(messages_path), "dictionary": dictionary_info()}
    profile = build_profile(messages, author, top_vocab=top_vocab, min_count=min_count, min_users=min_users,
                            meta=meta)
    stats = profile_stats(profile)
    if track:
        from rftlab import tracking

        with tracking.stage_run("profile", run_name=f"profile {author}",
                                params={"author": author, "top_vocab": top_vocab, "min_count": min_count,
                                        "min_users": min_users},
                                deps={"messages": messages_path}):
            tracking.log_input_file(messages_path, name="messages", context="profile")
            tracking.log_metrics(stats)
            write_json(out, profile)
            tracking.log_dict(profile["top_vocab"], "top_vocab.json")
    else:
        write_json(out, profile)
    return stats
