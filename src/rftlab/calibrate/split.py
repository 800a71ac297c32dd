"""Group k-fold for held-out separation: rows of one group never straddle a fold boundary.

A message and its neighbour (same thread, same channel-day, same book) share topic and
wording; splitting them by row leaks and inflates AUC. The group key is, in order: the
`group` field, the thread (`thread_ts`), the channel plus the day of `ts`, else the row id.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

import numpy as np


def _day(ts: Any) -> str | None:
    try:
        return dt.datetime.fromtimestamp(float(ts), tz=dt.timezone.utc).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(ts)[:10] if ts else None


def group_key(row: dict, index: int = 0) -> str:
    """The unit a held-out split keeps together."""
    if row.get("group") not in (None, ""):
        return f"g:{row['group']}"
    if row.get("thread_ts") not in (None, ""):
        return f"t:{row.get('channel', '')}:{row['thread_ts']}"
    if row.get("channel") not in (None, "") and row.get("ts") not in (None, ""):
        return f"c:{row['channel']}:{_day(row['ts'])}"
    return f"i:{row.get('id', index)}"


def group_keys(rows: Sequence[dict]) -> list[str]:
    return [group_key(r, i) for i, r in enumerate(rows)]


def group_kfold(
    rows: Sequence[dict], k: int, seed: int = 0, *, labels: Sequence[int] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`k` (train_idx, test_idx) pairs; every group lands in exactly one test fold.

    Deterministic for a given seed. Groups are shuffled, then dealt greedily (largest
    first) to the fold with the fewest rows — per label when `labels` is given, so each
    fold keeps both classes (target and background) when the data allow it.
    """
    n = len(rows)
    if k < 2:
        raise ValueError("k must be at least 2")
    keys = group_keys(rows)
    members: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    if len(members) < k:
        raise ValueError(f"only {len(members)} groups for {k} folds")
    lab = np.asarray(labels if labels is not None else np.zeros(n, dtype=int))
    order = sorted(members)
    random.Random(seed).shuffle(order)
    # Groups dominated by one label are balanced per label; ties broken by the shuffle.
    size = {g: len(members[g]) for g in order}
    major = {g: int(round(float(lab[members[g]].mean()))) for g in order}
    order.sort(key=lambda g: -size[g])  # stable sort keeps shuffled order among equals
    load = np.zeros((k, 2), dtype=np.int64)
    fold_of = np.empty(n, dtype=np.int64)
    for g in order:
        col = major[g]
        f = int(np.lexsort((np.arange(k), load.sum(axis=1), load[:, col]))[0])
        fold_of[members[g]] = f
        load[f, col] += size[g]
    out = []
    idx = np.arange(n)
    for f in range(k):
        test = idx[fold_of == f]
        out.append((idx[fold_of != f], test))
    return out
