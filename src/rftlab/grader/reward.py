"""The reward with a relevance judge: the style result re-headed, one "Reward" entry still.

`apply_relevance` runs after the handler has scored every sample's style: it asks the
grader's relevance judge (grader/relevance.py) about every scored (prompt, reply) at once and
rewrites each result so that `aggregate_reward_score` = style x (1 - weight x (1 - relevance))
and the only "Reward" entry, `reward`, equals it; `style`, `relevance`, `relevance_failed` and
`relevance_undetermined` become Metrics. A judge that raises gives every sample the neutral
value, flagged: the batch is always answered.

`add_ceiling` adds the hacking-ceiling Metric `above_target_p90` (1 when the style score is
above the 90th percentile of the target's own held-out messages, from the bundle's calibration
meta): a policy that writes "more like him than he does" is gaming the grader, not learning.
"""

from __future__ import annotations

import logging
from typing import Any

from rftlab.grader.relevance import NEUTRAL, Assessment
from rftlab.grader.scoring import finite

log = logging.getLogger("rftlab.grader")
STYLE_METRIC = "style"
REWARD_METRIC = "reward"  # the one "Reward" entry with a relevance judge


def _with_relevance(result: dict[str, Any], a: Any, factor: float) -> dict[str, Any]:
    """The style result re-headed: Reward `reward` = style x factor; style and relevance as Metrics."""
    style = result["aggregate_reward_score"]
    reward = min(1.0, max(0.0, finite(style * factor)))
    head = [{"name": REWARD_METRIC, "value": round(reward, 6), "type": "Reward"},
            {"name": STYLE_METRIC, "value": round(style, 6), "type": "Metric"},
            {"name": "relevance", "value": round(finite(a.value), 6), "type": "Metric"},
            {"name": "relevance_failed", "value": float(a.failed), "type": "Metric"},
            {"name": "relevance_undetermined", "value": float(a.undetermined), "type": "Metric"}]
    rest = [m for m in result["metrics_list"] if m["type"] != "Reward"]
    return {"id": result["id"], "aggregate_reward_score": reward, "metrics_list": head + rest}


def apply_relevance(out: list[dict[str, Any]], pairs: list[tuple[str | None, str] | None], grader: Any,
                    deadline_s: float | None) -> int:
    """Multiply the scored samples' rewards by their relevance factor; returns the judge failures."""
    rel = getattr(grader, "relevance", None)
    idx = [i for i, p in enumerate(pairs) if p is not None]
    if rel is None or not idx:
        return 0
    try:
        found = rel.assess([pairs[i] for i in idx], deadline_s=deadline_s)  # type: ignore[misc]
        if len(found) != len(idx):
            raise ValueError(f"{len(found)} relevance answers for {len(idx)} samples")
    except Exception:  # noqa: BLE001 - the judge must never fail the batch: neutral for all, flagged
        log.exception("relevance judge error")
        found = [Assessment(NEUTRAL, failed=True, problem="internal_error")] * len(idx)
    for i, a in zip(idx, found):
        out[i] = _with_relevance(out[i], a, rel.factor(a.value))
    return sum(a.failed for a in found)


CEILING_METRIC = "above_target_p90"


def target_p90(grader: Any) -> float | None:
    """The 90th percentile of the target's held-out scores recorded at calibration, if any."""
    meta = getattr(grader, "meta", None) or {}
    q = ((meta.get("calibration") or {}).get("target_quantiles") or {}).get("p90")
    return float(q) if isinstance(q, (int, float)) and not isinstance(q, bool) else None


def add_ceiling(out: list[dict[str, Any]], scored: list[bool], grader: Any) -> None:
    """Append `above_target_p90` to every scored result (no-op without the calibration figure)."""
    p90 = target_p90(grader)
    if p90 is None:
        return
    for result, ok in zip(out, scored):
        if not ok:
            continue
        named = {m["name"]: m["value"] for m in result["metrics_list"]}
        style = finite(named.get(STYLE_METRIC, result["aggregate_reward_score"]))
        result["metrics_list"].append({"name": CEILING_METRIC, "value": float(style > p90), "type": "Metric"})
