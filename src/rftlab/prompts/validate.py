"""Validate an RFT prompt file against Bedrock's rules, line by line, before any upload.

Usable on any file, including hand-written ones. Every problem names its line
(`FILE:LINE: severity: message`); file-level problems (record count) point at the last
line. Errors make `rftlab prompts validate` exit 1; warnings alone exit 0.

Rules (Bedrock RFT, OpenAI chat format): UTF-8 JSONL of strict JSON (no NaN or Infinity:
RFC 8259 section 6 does not permit them, though Python's json reads them; no unpaired
surrogate such as "\\ud800", which is not Unicode text: RFC 8259 section 8.2), one object
per line, a non-empty `messages` list of {role, content}; roles system/user/assistant;
system only first; content a non-empty string (text only); the last turn from the user
(single-turn: an assistant turn is a warning); estimated prompt tokens (see
rftlab.prompts.text) within maxPromptLength; 100 to 20,000 training records (AWS best
practice: at most 10,000, a warning; the minimum applies to training files only, and a
file is training unless the caller says validation); duplicate prompts (warning, naming
the first line); `reference_answer` missing (error when the grader needs it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rftlab.errors import InputError
from rftlab.prompts.text import estimate_tokens, normalize


@dataclass(frozen=True)
class RecordLimits:
    """Bedrock RFT record counts (docs/contracts.md#prompt-records)."""

    min: int = 100  # training data minimum
    max: int = 20_000
    recommended_max: int = 10_000  # AWS best-practice post


BEDROCK_RFT_LIMITS = RecordLimits()
ROLES = ("system", "user", "assistant")
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    line: int
    severity: Severity
    message: str

    def format(self, path: str | Path) -> str:
        return f"{path}:{self.line}: {self.severity}: {self.message}"


class _NotJson(ValueError):
    """A token Python's json accepts but JSON does not (NaN, Infinity, -Infinity)."""


def _refuse_constant(token: str) -> Any:
    raise _NotJson(token)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where the first unpaired surrogate sits in a parsed record (json joins valid pairs)."""
    if isinstance(value, str):
        m = _SURROGATE.search(value)
        return f"{where} (\\u{ord(m.group()):04x} at character {m.start()})" if m else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        shown = str(key).encode("utf-8", "backslashreplace").decode("utf-8")  # printable even when unpaired
        path = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{shown}" if where else shown
        if found := _lone_surrogate(key, f"the key {path}") if isinstance(key, str) else None:
            return found
        if found := _lone_surrogate(item, path):
            return found
    return None


def _check_messages(msgs: object) -> tuple[list[tuple[Severity, str]], str | None]:
    """Problems of one `messages` value, and the prompt text (None when unusable)."""
    if not isinstance(msgs, list):
        return [("error", f"'messages' must be a list, got {type(msgs).__name__}")], None
    if not msgs:
        return [("error", "'messages' is empty")], None
    out: list[tuple[Severity, str]] = []
    for k, m in enumerate(msgs, start=1):
        where = f"messages[{k - 1}]"
        if not isinstance(m, dict):
            out.append(("error", f"{where} must be an object, got {type(m).__name__}"))
            continue
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            out.append(("error", f"{where}: invalid role {role!r} (expected one of {', '.join(ROLES)})"))
        elif role == "system" and k > 1:
            out.append(("error", f"{where}: a system message may only come first"))
        elif role == "assistant":
            out.append(("warning", f"{where}: assistant turn; Bedrock RFT trains single-turn prompts"))
        if not isinstance(content, str):
            kind = "missing" if content is None else f"a {type(content).__name__}"
            out.append(("error", f"{where}: content must be a non-empty string (text only), got {kind}"))
        elif not content.strip():
            out.append(("error", f"{where}: empty content"))
    last = msgs[-1]
    if isinstance(last, dict) and last.get("role") in ROLES and last.get("role") != "user":
        out.append(("error", f"the last message must be from the user, got {last.get('role')!r}"))
    if any(sev == "error" for sev, _ in out):
        return out, None
    return out, "\n".join(f"{m['role']}\0{m['content']}" for m in msgs)


def validate_lines(
    lines: list[bytes],
    *,
    max_prompt_length: int | None = None,
    require_reference: bool = True,
    training: bool = True,
    limits: RecordLimits = BEDROCK_RFT_LIMITS,
) -> tuple[list[Problem], int]:
    """Problems in file order, and the number of records (non-blank lines).

    Long: one record's checks in the order `prompts validate` reports them.
    """
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    ids: dict[str, int] = {}
    records = 0
    last_line = 0
    for lineno, raw in enumerate(lines, start=1):
        last_line = lineno
        add = lambda sev, msg, n=lineno: problems.append(Problem(n, sev, msg))  # noqa: E731
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            records += 1
            add("error", f"not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        if not text.strip():
            add("error", "blank line (JSONL needs one object per line)")
            continue
        records += 1
        try:
            obj = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            add("error", f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except _NotJson as exc:
            add("error", f"invalid JSON: {exc} is not a JSON number (Bedrock's JSON parser rejects it)")
            continue
        if (where := _lone_surrogate(obj)) is not None:
            add("error", f"unpaired surrogate in {where}: not valid Unicode text (Bedrock's JSON parser rejects it)")
            continue
        if not isinstance(obj, dict):
            add("error", f"expected a JSON object, got {type(obj).__name__}")
            continue
        if "messages" not in obj:
            add("error", "missing 'messages'")
        else:
            found, prompt = _check_messages(obj["messages"])
            for sev, msg in found:
                add(sev, msg)
            if prompt is not None:
                tokens = sum(estimate_tokens(m["content"]) for m in obj["messages"])
                if max_prompt_length is not None and tokens > max_prompt_length:
                    add("error", f"prompt is about {tokens} tokens, over maxPromptLength {max_prompt_length}")
                key = normalize(prompt)
                if key in seen:
                    add("warning", f"duplicate prompt (first at line {seen[key]})")
                else:
                    seen[key] = lineno
        ref = obj.get("reference_answer")
        if ref is None or (isinstance(ref, str) and not ref.strip()):
            add("error" if require_reference else "warning", "missing reference_answer (the grader needs one)")
        rid = obj.get("id")
        if rid is not None:
            if str(rid) in ids:
                add("warning", f"duplicate id {rid!r} (first at line {ids[str(rid)]})")
            else:
                ids[str(rid)] = lineno
    at = max(last_line, 1)
    if training and records < limits.min:
        problems.append(Problem(at, "error", f"{records} records; Bedrock RFT training data needs at least {limits.min}"))
    if records > limits.max:
        problems.append(Problem(at, "error", f"{records} records; Bedrock RFT accepts at most {limits.max:,}"))
    elif records > limits.recommended_max:
        problems.append(Problem(at, "warning", f"{records} records; AWS recommends at most {limits.recommended_max:,}"))
    return problems, records


def validate_file(
    path: str | Path,
    *,
    max_prompt_length: int | None = None,
    require_reference: bool = True,
    training: bool = True,
) -> list[Problem]:
    """Problem(line, severity, message) for every issue in `path` (InputError when it cannot be read)."""
    return validate_file_counted(
        path, max_prompt_length=max_prompt_length, require_reference=require_reference, training=training
    )[0]


def validate_file_counted(path: str | Path, **kwargs) -> tuple[list[Problem], int]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    data = p.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":  # the final newline ends the last line; it is not a line
        lines.pop()
    return validate_lines(lines, **kwargs)
