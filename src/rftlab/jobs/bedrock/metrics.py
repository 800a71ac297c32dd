"""Step-wise metrics of a Bedrock RFT job: CSVs under its output prefix -> MLflow step metrics.

AWS does not document the RFT CSV columns, so every numeric column is kept; reward-like
names are mapped onto the stable rftlab names (`train/reward_mean`, `train/reward_std`,
`val/reward_mean`) and the rest keep a cleaned-up name under `train/` or `val/`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

from rftlab.jobs.bedrock.data import list_keys, read_text, split_uri

STEP_COLUMNS = ("step_number", "step", "global_step", "training_step", "iteration", "steps")
_CANON = {
    "reward_mean": ("reward_mean", "mean_reward", "avg_reward", "average_reward", "reward_avg", "reward",
                    "rewards_mean", "train_reward_mean", "mean_rewards", "reward_score_mean"),
    "reward_std": ("reward_std", "std_reward", "reward_stddev", "rewards_std", "train_reward_std"),
    "reward_max": ("reward_max", "max_reward"),
    "reward_min": ("reward_min", "min_reward"),
    "loss": ("loss", "training_loss", "train_loss"),
}
_ALIASES = {alias: canon for canon, aliases in _CANON.items() for alias in aliases}


def clean(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    return s or "value"


def metric_name(column: str, split: str) -> str:
    """CSV column -> MLflow metric name under `train/` or `val/`."""
    c = clean(column)
    for pre in ("train_", "training_", "val_", "validation_", "eval_"):
        if c.startswith(pre) and c[len(pre):] in _ALIASES:
            c = c[len(pre):]
    return f"{split}/{_ALIASES.get(c, c)}"


def split_of(key: str) -> str:
    name = key.rsplit("/", 1)[-1].lower()
    return "val" if any(w in name for w in ("validation", "val_", "eval")) else "train"


def _number(v: str) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def parse_csv(text: str, split: str = "train") -> list[tuple[int, dict[str, float]]]:
    """Rows of a metrics CSV -> [(step, {metric: value})], whatever numeric columns it has."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        return []
    fields = [f for f in reader.fieldnames if f is not None]
    step_col = next((f for f in fields if clean(f) in STEP_COLUMNS), None)
    rows: dict[int, dict[str, float]] = {}
    for i, row in enumerate(reader):
        step_val = _number(row.get(step_col, "")) if step_col else None
        step = int(step_val) if step_val is not None else i
        values = {}
        for f in fields:
            if f == step_col or f.lower() in {"epoch_number", "epoch"}:
                continue
            x = _number(row.get(f, ""))
            if x is not None:
                values[metric_name(f, split)] = x
        if "epoch_number" in map(str.lower, fields) or "epoch" in map(str.lower, fields):
            ep = _number(row.get("epoch_number", row.get("epoch", "")))
            if ep is not None:
                values[f"{split}/epoch"] = ep
        if values:
            rows.setdefault(step, {}).update(values)
    return sorted(rows.items())


def metrics_keys(output_uri: str, job_arn: str, region: str) -> list[str]:
    """Metrics CSVs under the job's output prefix, preferring the job's own sub-folder."""
    keys = list_keys(output_uri, region, suffix=".csv")
    job_id = job_arn.rsplit("/", 1)[-1]
    own = [k for k in keys if job_id in k]
    return own or keys


def read_step_metrics(output_uri: str, job_arn: str, region: str) -> list[tuple[int, dict[str, float]]]:
    """All step metrics of a job (train and validation CSVs merged by step)."""
    bucket, _ = split_uri(output_uri)
    merged: dict[int, dict[str, float]] = {}
    for key in metrics_keys(output_uri, job_arn, region):
        for step, values in parse_csv(read_text(bucket, key, region), split_of(key)):
            merged.setdefault(step, {}).update(values)
    return sorted(merged.items())


def summary_metrics(job: dict[str, Any]) -> dict[str, float]:
    """trainingMetrics / validationMetrics of GetModelCustomizationJob as final metrics."""
    out: dict[str, float] = {}
    loss = (job.get("trainingMetrics") or {}).get("trainingLoss")
    if loss is not None:
        out["train/final_loss"] = float(loss)
    vals = [v.get("validationLoss") for v in job.get("validationMetrics") or [] if v.get("validationLoss") is not None]
    if vals:
        out["val/final_loss"] = float(vals[-1])
    return out


def new_rows(rows: list[tuple[int, dict[str, float]]], after: int | None) -> list[tuple[int, dict[str, float]]]:
    """Only the rows not imported yet (so polling never logs a step twice)."""
    return [r for r in rows if after is None or r[0] > after]
