"""Step-wise metrics of a Bedrock RFT job: its own CSVs under the output prefix -> MLflow names.

Where: `<outputDataConfig.s3Uri>/model-customization-job-<jobId>/` holds
`training_artifacts/step_wise_training_metrics.csv` and
`validation_artifacts/post_fine_tuning_validation/validation_metrics.csv`, with `step_number`
and `epoch_number` columns. Only CSVs in that job's own folder are read: a retried job (new
attempt, new output prefix, new job id) never imports an earlier attempt's metrics.

What: AWS documents the RFT metric names (user guide, "Monitor your RFT training job",
https://docs.aws.amazon.com/bedrock/latest/userguide/rft-submit-job.html#rft-monitor-job):
`critic/rewards/mean|max|min`, `val-score/rewards/mean@1`, `actor/entropy`, `actor/pg_loss`,
`actor/pg_clipfrac`, `actor/grad_norm`, `response_length/mean`, `response/aborted_ratio`. The
exact CSV headers are not shown in the docs, so every numeric column is read; the documented
ones (also in the open-weight spelling `critic_rewards_mean` of the job events in
aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/gpt-oss)
get rftlab's stable names (docs/contracts.md), and every column is also kept under
`bedrock/<original>`. Train or validation is decided by the column first, then by the file.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

from rftlab.backends.bedrock.data import list_keys, read_text, split_uri

STEP_COLUMNS = ("step_number", "step", "global_step", "training_step", "iteration", "steps")
EPOCH_COLUMNS = ("epoch_number", "epoch")
TRAIN_CSV = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_CSV = "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"

# cleaned column name -> stable rftlab name (split prefix added separately)
STABLE: dict[str, str] = {
    "critic_rewards_mean": "reward_mean",
    "critic_rewards_max": "reward_max",
    "critic_rewards_min": "reward_min",
    "critic_rewards_std": "reward_std",
    "val_score_rewards_mean_1": "reward_mean",
    "val_score_rewards_mean": "reward_mean",
    "response_length_mean": "completion_length",  # TRL's completions/mean_length locally
    "actor_entropy": "entropy",                    # TRL's entropy locally
}
_VAL_COLUMN = ("val_score_", "val_", "validation_", "eval_")
_MLFLOW_UNSAFE = re.compile(r"[^\w./\- :]")


def clean(name: str) -> str:
    """`val-score/rewards/mean@1` -> `val_score_rewards_mean_1` (for matching only)."""
    s = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    return s or "value"


def original_name(column: str) -> str:
    """The column as an MLflow metric key under `bedrock/` (MLflow refuses `@`)."""
    return "bedrock/" + _MLFLOW_UNSAFE.sub("_", column.strip().replace("@", "_at_"))


def column_split(column: str, file_split: str) -> str:
    return "val" if clean(column).startswith(_VAL_COLUMN) else file_split


def metric_names(column: str, file_split: str) -> list[str]:
    """MLflow names for one CSV column: the stable name when documented, always the original."""
    names = [original_name(column)]
    stable = STABLE.get(clean(column))
    if stable:
        names.insert(0, f"{column_split(column, file_split)}/{stable}")
    return names


def file_split(key: str) -> str:
    return "val" if "validation_artifacts/" in key or key.rsplit("/", 1)[-1].startswith("validation") else "train"


def _number(v: Any) -> float | None:
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
    epoch_col = next((f for f in fields if clean(f) in EPOCH_COLUMNS), None)
    rows: dict[int, dict[str, float]] = {}
    for i, row in enumerate(reader):
        step_val = _number(row.get(step_col)) if step_col else None
        step = int(step_val) if step_val is not None else i
        values: dict[str, float] = {}
        for f in fields:
            if f in (step_col, epoch_col):
                continue
            x = _number(row.get(f))
            if x is not None:
                values.update(dict.fromkeys(metric_names(f, split), x))
        ep = _number(row.get(epoch_col)) if epoch_col else None
        if values and ep is not None:
            values[f"{split}/epoch"] = ep
        if values:
            rows.setdefault(step, {}).update(values)
    return sorted(rows.items())


def job_folder(output_uri: str, job_arn: str) -> str:
    """s3:// URI of the folder Bedrock writes this job's artifacts to."""
    job_id = job_arn.rsplit("/", 1)[-1]
    return f"{output_uri.rstrip('/')}/model-customization-job-{job_id}/"


def read_job_metrics(output_uri: str, job_arn: str, region: str) -> dict[str, list[tuple[int, dict[str, float]]]]:
    """{"train": rows, "val": rows} from the CSVs in this job's own folder (none of another job's)."""
    folder = job_folder(output_uri, job_arn)
    bucket, _ = split_uri(folder)
    out: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for key in list_keys(folder, region, suffix=".csv"):
        split = file_split(key)
        merged = dict(out.get(split, []))
        for step, values in parse_csv(read_text(bucket, key, region), split):
            merged.setdefault(step, {}).update(values)
        out[split] = sorted(merged.items())
    return out


def merge(sources: dict[str, list[tuple[int, dict[str, float]]]]) -> list[tuple[int, dict[str, float]]]:
    """Train and validation rows merged by step."""
    merged: dict[int, dict[str, float]] = {}
    for rows in sources.values():
        for step, values in rows:
            merged.setdefault(step, {}).update(values)
    return sorted(merged.items())


def read_step_metrics(output_uri: str, job_arn: str, region: str) -> list[tuple[int, dict[str, float]]]:
    """All step metrics of a job (train and validation CSVs merged by step)."""
    return merge(read_job_metrics(output_uri, job_arn, region))


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

