"""A job's events -> step metrics under rftlab's stable names; checkpoints -> a small record.

The events (`fine_tuning.jobs.list_events`) with `type == "metrics"` carry the training metrics in
`data`, e.g. (the example event of aws-samples/amazon-bedrock-samples custom-models/bedrock-
reinforcement-fine-tuning/models/gpt-oss/gptoss_gsm8k_rft.ipynb, "How to read these metrics"):
`{"id": "ftevent-...", "created_at": 1771442218, "level": "info", "message": "Step 4/67: training metrics",
"object": "fine_tuning.job.event", "type": "metrics", "data": {"total_steps": 67, "step": 4,
"critic_rewards_mean": 0.4375, "actor_pg_loss": 0.10..., "actor_entropy": 0.62..., "actor_grad_norm": ...,
"critic_advantages_mean": ..., "response_length_mean": 519.09}}`. The names map onto the stable
names with the Nova table (backends/bedrock/metrics.py, docs/contracts.md#bedrock-metric-mapping):
`critic_rewards_mean` -> `train/reward_mean`, `response_length_mean` -> `train/completion_length`,
`actor_entropy` -> `train/entropy`, and each key is also kept as `bedrock/<key>`. `step` is the
MLflow step; `total_steps` is kept as a detail, not a metric.
"""

from __future__ import annotations

import math
from typing import Any

from rftlab.backends.bedrock.metrics import metric_names

STEP_KEY, TOTAL_KEY = "step", "total_steps"


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def metric_rows(events: list[dict[str, Any]]) -> list[tuple[int, dict[str, float]]]:
    """Metrics events -> [(step, {name: value})], oldest step first; events of other types are skipped."""
    rows: dict[int, dict[str, float]] = {}
    for event in events:
        data = event.get("data")
        if event.get("type") != "metrics" or not isinstance(data, dict):
            continue
        step = _number(data.get(STEP_KEY))
        if step is None:
            continue
        values: dict[str, float] = {}
        for key, raw in data.items():
            x = _number(raw)
            if x is None or key in (STEP_KEY, TOTAL_KEY):
                continue
            values.update(dict.fromkeys(metric_names(str(key), "train"), x))
        if values:
            rows.setdefault(int(step), {}).update(values)
    return sorted(rows.items())


def total_steps(events: list[dict[str, Any]]) -> int | None:
    """The latest `total_steps` a metrics event announced."""
    totals = [_number((e.get("data") or {}).get(TOTAL_KEY)) for e in events
              if e.get("type") == "metrics" and isinstance(e.get("data"), dict)]
    known = [int(t) for t in totals if t is not None]
    return max(known) if known else None


def failure_message(job: dict[str, Any], events: list[dict[str, Any]] | None = None) -> str | None:
    """The job's `error.message` (with its code), else the newest error-level event's message."""
    err = job.get("error")
    if isinstance(err, dict) and (err.get("message") or err.get("code")):
        code = f"{err['code']}: " if err.get("code") else ""
        param = f" (param {err['param']})" if err.get("param") else ""
        return f"{code}{err.get('message') or ''}{param}".strip()
    for event in sorted(events or [], key=lambda e: e.get("created_at") or 0, reverse=True):
        if event.get("level") == "error" and event.get("message"):
            return str(event["message"])
    return None


def checkpoint_record(checkpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checkpoints (fine_tuning.jobs.checkpoints.list) by step: id, step_number, model id, metrics."""
    out = [{"id": c.get("id"), "step_number": c.get("step_number"),
            "fine_tuned_model_checkpoint": c.get("fine_tuned_model_checkpoint"),
            "metrics": {k: v for k, v in (c.get("metrics") or {}).items() if v is not None}}
           for c in checkpoints]
    return sorted(out, key=lambda c: c["step_number"] if isinstance(c["step_number"], int) else -1)
