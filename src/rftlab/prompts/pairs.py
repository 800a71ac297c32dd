"""Find (prompt, reply) pairs in a messages file: what colleagues wrote that the target answered.

Two rules, applied in this order (a message becomes at most one prompt):

1. Thread rule. Inside a thread (parent + replies, ordered by `ts`), each target reply
   answers the latest earlier non-target message of that thread (the parent or a reply)
   that the target has not already answered. Several target replies in a row answer one
   message: only the first becomes the reference answer (the rest are his follow-ups).
2. Channel rule. Among top-level messages of a channel (ordered by `ts`), a non-target
   message followed *next* by a top-level target message within `reply_window_min`
   minutes is answered by it. Window 0 disables the rule; messages without `ts` never
   match it.

A thread is identified by (channel, thread_ts); a reply is a message whose `thread_ts`
differs from its own `ts` (or that ingest marked `is_reply`). The split unit of a pair is
the thread its prompt lives in: (channel, thread_ts) for thread pairs, (channel, prompt ts)
for channel pairs (a top-level message is the root of its own, possibly empty, thread).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rftlab.prompts.text import estimate_tokens


@dataclass(frozen=True)
class Pair:
    prompt: dict[str, Any]
    reply: dict[str, Any]
    source: str  # "thread" | "channel"
    channel: str
    thread_ts: str
    time: float | None  # the thread's start time, for the time split
    context: tuple[dict[str, Any], ...] = field(default=())  # earlier thread messages, oldest first


def to_time(ts: Any) -> float | None:
    try:
        return float(ts)
    except (TypeError, ValueError):
        return None


def ts_key(value: Any) -> str:
    """A Slack timestamp as one canonical string ('1736137109.002312'), whether stored as str or float."""
    t = to_time(value)
    return f"{t:.6f}" if t is not None else ("" if value is None else str(value))


def _ts(m: dict) -> str:
    return ts_key(m.get("ts"))


def _is_reply(m: dict) -> bool:
    tts = m.get("thread_ts")
    if tts in (None, ""):
        return False
    if m.get("is_reply") is not None:
        return bool(m["is_reply"])
    return ts_key(tts) != _ts(m)


def _order(rows: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Time order; messages without ts keep their file position among themselves."""
    return sorted(rows, key=lambda im: (t if (t := to_time(im[1].get("ts"))) is not None else float("inf"), im[0]))


def find_pairs(messages: list[dict], author: str, *, reply_window_min: float) -> list[Pair]:
    """All (prompt, reply) pairs, in time order of the reply."""
    by_ts: dict[tuple[str, str], tuple[int, dict]] = {}
    threads: dict[tuple[str, str], list[tuple[int, dict]]] = defaultdict(list)
    top: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for i, m in enumerate(messages):
        ch = str(m.get("channel") or "")
        if _is_reply(m):
            threads[(ch, ts_key(m["thread_ts"]))].append((i, m))
        else:
            top[ch].append((i, m))
            if m.get("ts") is not None:
                by_ts[(ch, _ts(m))] = (i, m)

    pairs: list[tuple[int, Pair]] = []
    used: set[int] = set()
    for (ch, tts), replies in threads.items():
        parent = by_ts.get((ch, tts))
        seq = ([parent] if parent else []) + _order(replies)
        start = to_time(tts)
        pending: tuple[int, int, dict] | None = None  # (position in seq, file index, message)
        for pos, (i, m) in enumerate(seq):
            if m["user"] != author:
                pending = (pos, i, m)
            elif pending is not None:
                ppos, pi, pm = pending
                context = tuple(x for _, x in seq[:ppos])
                pairs.append((i, Pair(pm, m, "thread", ch, tts, start, context)))
                used.add(pi)
                pending = None

    window = reply_window_min * 60.0
    if window > 0:
        for ch, rows in top.items():
            rows = _order(rows)
            for (pi, pm), (i, m) in zip(rows, rows[1:]):
                t0, t1 = to_time(pm.get("ts")), to_time(m.get("ts"))
                if (
                    pm["user"] != author and m["user"] == author and pi not in used
                    and t0 is not None and t1 is not None and 0 <= t1 - t0 <= window
                ):
                    pairs.append((i, Pair(pm, m, "channel", ch, _ts(pm), t0)))
                    used.add(pi)
    pairs.sort(key=lambda ip: (to_time(ip[1].reply.get("ts")) or float("inf"), ip[0]))
    return [p for _, p in pairs]


def render_context(context: tuple[dict, ...], budget: int) -> list[str]:
    """The latest earlier thread messages as 'name: text' lines fitting `budget` tokens, oldest first."""
    lines: list[str] = []
    used = 0
    for m in reversed(context):
        text = str(m.get("text") or "").strip()
        if not text:
            continue
        line = f"{m.get('user_name') or m['user']}: {text}"
        cost = estimate_tokens(line) + 1  # +1 for the newline
        if used + cost > budget:
            break
        lines.append(line)
        used += cost
    return lines[::-1]
