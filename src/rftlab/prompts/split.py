"""Train / validation split by thread and time: a thread never straddles the split.

Units (threads) are ordered by their start time; validation takes the latest units until
it holds about `val_fraction` of the records (the unit that crosses the target goes to
whichever side lands closer to it), so validation measures the future, as deployment
will. Ties and units without a time are ordered by a seeded hash of the unit key, so the
split is deterministic for a given seed and shifts only when the seed does. Units without
a time count as the oldest (training).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def _tiebreak(key: Hashable, seed: int) -> str:
    return hashlib.sha256(f"{seed}\0{key!r}".encode()).hexdigest()


def split_by_unit(
    items: Sequence[T],
    unit: Callable[[T], Hashable],
    time: Callable[[T], float | None],
    *,
    val_fraction: float,
    seed: int = 0,
) -> tuple[list[T], list[T]]:
    """(train, val) keeping item order within each side; whole units only."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    start: dict[Hashable, float] = {}
    for i, item in enumerate(items):
        key = unit(item)
        groups[key].append(i)
        t = time(item)
        if t is not None:
            start[key] = min(start.get(key, t), t)
    order = sorted(groups, key=lambda k: (k in start, start.get(k, 0.0), _tiebreak(k, seed)))
    target = val_fraction * len(items)
    val_keys: set[Hashable] = set()
    n_val = 0
    for key in reversed(order):
        size = len(groups[key])
        if n_val >= target or (n_val and abs(n_val + size - target) > abs(n_val - target)):
            break
        val_keys.add(key)
        n_val += size
    if len(val_keys) == len(groups) and len(groups) > 1:  # never leave training empty
        val_keys.discard(order[-len(groups)])
    train = [x for x in items if unit(x) not in val_keys]
    val = [x for x in items if unit(x) in val_keys]
    return train, val
