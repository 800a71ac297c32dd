"""Reading a judge model's verdict: `{"score": <lo-hi>, "reason": "..."}` however it arrives.

Models wrap JSON in code fences, add prose, use single quotes, give the score as a string or
out of range, or fail outright; `parse_verdict` takes all of that. A verdict that cannot be
read gets the neutral score (the middle of the scale) and `ok=False`, never an exception.
Scores are normalised to [0, 1]. Shared by the grader's relevance judge (inside the Lambda:
stdlib only) and the evaluation's second-opinion judge (rftlab.evaluate.judge).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

NEUTRAL = 0.5


@dataclass(frozen=True)
class Verdict:
    score: float  # normalised to [0, 1]; NEUTRAL when not ok
    raw_score: float | None
    reason: str
    ok: bool
    problem: str = ""  # why the verdict is not (fully) trusted: unparsable, clamped, call failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_SCORE = re.compile(r"""["']?score["']?\s*[:=]\s*["']?(-?\d+(?:\.\d+)?)""", re.I)
_REASON = re.compile(r"""["']?reason["']?\s*[:=]\s*["'](.*?)["']\s*[,}]""", re.I | re.S)


def _objects(text: str) -> list[str]:
    """Balanced {...} substrings, outermost first, in order of appearance."""
    found, depth, start = [], 0, -1
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                found.append(text[start : i + 1])
    return found


def _load(candidate: str) -> dict | None:
    for loader in (json.loads, ast.literal_eval):
        try:
            obj = loader(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value else None
    if isinstance(value, str):
        m = re.search(r"-?\d+(?:\.\d+)?", value)
        return float(m.group()) if m else None
    return None


def parse_verdict(text: str | None, *, lo: float = 1.0, hi: float = 5.0) -> Verdict:
    """Read a judge reply; never raises. Out-of-range scores are clamped and flagged."""
    if not text or not str(text).strip():
        return Verdict(NEUTRAL, None, "", False, "empty reply")
    text = str(text)
    candidates = [*_FENCE.findall(text), text]
    obj = None
    for c in candidates:
        for piece in [c.strip(), *_objects(c)]:
            obj = _load(piece)
            if obj is not None and any(str(k).lower() == "score" for k in obj):
                break
            obj = None
        if obj is not None:
            break
    raw: float | None
    reason = ""
    if obj is not None:
        lowered = {str(k).lower(): v for k, v in obj.items()}
        raw = _number(lowered.get("score"))
        reason = str(lowered.get("reason") or lowered.get("explanation") or "").strip()
    else:  # not JSON at all: look for `score: 4` in prose
        m = _SCORE.search(text)
        raw = float(m.group(1)) if m else None
        r = _REASON.search(text)
        reason = r.group(1).strip() if r else ""
    if raw is None:
        return Verdict(NEUTRAL, None, reason or text.strip()[:200], False, "no score in reply")
    problem = ""
    if not lo <= raw <= hi:
        problem = f"score {raw:g} outside {lo:g}-{hi:g}, clamped"
    clamped = min(max(raw, lo), hi)
    score = (clamped - lo) / (hi - lo) if hi > lo else NEUTRAL
    if not reason:
        problem = problem or "no reason given"
    return Verdict(round(score, 6), raw, reason, True, problem)
