"""Floating-point values that do not depend on the CPU: what a data product stores, and what a search
decides on, is rounded to a fixed precision first (docs/records.md#same-bytes-on-every-machine).

Why: the same arithmetic gives results that differ in the last bits between CPUs. OpenBLAS picks a
kernel per CPU type (a matrix-vector product sums in another order on a Haswell than on a
SkylakeX core) and the thread count splits sums differently. A grader bundle written from such a
value had different bytes on an AMD and an Intel machine, so its version, the job record and the
deployment record differed too. Rounding to `SIGNIFICANT` digits removes those last bits: two
results that differ by a few ulps round to the same decimal unless they straddle a rounding
boundary, which at 10 significant digits happens about once in 10^5 values.
"""

from __future__ import annotations

import math
from typing import Any

# Digits kept in stored floats: far below anything the grader's scores resolve (1e-4), far above the
# ~1e-16 relative noise of reordered float64 sums.
SIGNIFICANT = 10


def stable(x: float, digits: int = SIGNIFICANT) -> float:
    """`x` rounded to `digits` significant digits (non-finite values unchanged)."""
    x = float(x)
    if not math.isfinite(x) or x == 0.0:
        return x + 0.0  # also turns -0.0 into 0.0
    return float(f"{x:.{digits - 1}e}")


def stable_tree(obj: Any, digits: int = SIGNIFICANT) -> Any:
    """A copy of a JSON-like tree (dicts, lists, tuples) with every float passed through `stable`."""
    if isinstance(obj, bool) or isinstance(obj, int) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, float):
        return stable(obj, digits)
    if isinstance(obj, dict):
        return {k: stable_tree(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [stable_tree(v, digits) for v in obj]
    if hasattr(obj, "dtype") and hasattr(obj, "item"):  # a numpy scalar
        return stable_tree(obj.item(), digits)
    return obj
