"""Reading a prompts file (docs/contracts.md#prompt-records) as evaluation and the preflight use it:
records with a user message, their prompt text and their reference answer."""

from __future__ import annotations

from pathlib import Path

from rftlab.errors import InputError
from rftlab.io import iter_jsonl


def read_prompts(path: str | Path, max_prompts: int | None = None) -> list[dict]:
    rows = []
    for i, row in enumerate(iter_jsonl(path, required=("messages",)), start=1):
        msgs = row["messages"]
        if not isinstance(msgs, list) or not any(isinstance(m, dict) and m.get("role") == "user" for m in msgs):
            raise InputError(f"{path}: record {i}: messages must be a list with a user message")
        row.setdefault("id", str(i))
        rows.append(row)
        if max_prompts and len(rows) >= max_prompts:
            break
    if not rows:
        raise InputError(f"{path}: no prompts")
    return rows


def prompt_text(record: dict) -> str:
    users = [m for m in record["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def reference_text(record: dict) -> str | None:
    ref = record.get("reference_answer")
    if ref is None or isinstance(ref, str):
        return ref
    return str(ref.get("text") or ref.get("content") or ref) if isinstance(ref, dict) else str(ref)
