"""Seed-style spot check: a few messages per user, scored, so a person can eyeball separation.

"Held out" here means the latest `per_user` messages of each user (by `ts` when present, else
file order): the ones a profile built from earlier history is least likely to have seen.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.grader.bundle import load_grader
from rftlab.io import read_messages


def _ts(row: dict) -> float:
    try:
        return float(row.get("ts") or 0)
    except (TypeError, ValueError):
        return 0.0


def pick_latest(messages: list[dict], per_user: int, users: list[str] | None = None) -> dict[str, list[dict]]:
    """The latest `per_user` non-empty messages of each user (order of first appearance kept)."""
    by_user: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for i, m in enumerate(messages):
        if m["text"].strip() and (not users or m["user"] in users):
            by_user[m["user"]].append((i, m))
    out = {}
    for user, rows in by_user.items():
        rows.sort(key=lambda im: (_ts(im[1]), im[0]))
        out[user] = [m for _, m in rows[-per_user:]] if per_user > 0 else []
    return out


def spot_check(grader: Any, messages: list[dict], *, per_user: int = 3, users: list[str] | None = None) -> list[dict]:
    """One row per user, best mean first: {user, user_name, mean, items: [(text, score)]}."""
    rows = []
    for user, picked in pick_latest(messages, per_user, users).items():
        items = [(m["text"], float(grader.score(m["text"])[0])) for m in picked]
        if not items:
            continue
        name = next((m.get("user_name") for m in picked if m.get("user_name")), "")
        rows.append({"user": user, "user_name": name, "mean": sum(s for _, s in items) / len(items), "items": items})
    rows.sort(key=lambda r: -r["mean"])
    return rows


def _cols(text: str) -> int:
    """Terminal columns: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _cols(text))


def _short(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_spot_check(rows: list[dict], *, width: int = 30, target: str | None = None) -> str:
    """User | mean | text (score) ... ; the target author is marked with *."""
    lines = []
    for r in rows:
        who = r["user"] + (f" ({r['user_name']})" if r["user_name"] else "")
        mark = "*" if target and r["user"] == target else " "
        cells = "  ".join(f"{_short(t, width)} ({s:.3f})" for t, s in r["items"])
        lines.append(f"{mark} {_pad(who, 28)} {r['mean']:.3f}  {cells}")
    head = f"  {_pad('user', 28)} {'mean':<5}  latest messages (score)"
    return "\n".join([head, *lines])


def run(grader_path: str | Path, messages_path: str | Path, *, per_user: int, users: list[str] | None,
        width: int, target: str | None) -> str:
    if not Path(grader_path).exists():
        raise InputError(f"{grader_path}: grader bundle not found")
    grader = load_grader(grader_path)
    rows = spot_check(grader, read_messages(messages_path), per_user=per_user, users=users)
    return format_spot_check(rows, width=width, target=target)
