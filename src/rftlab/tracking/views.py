"""What `mlflow ui` opens on: the experiment's description, its kind, and a saved view of the RFT jobs.

MLflow 3's UI keeps saved views as experiment tags: key `mlflow.sharedViewState.<id>`, value a
JSON envelope {name, createdAt, state} whose `state` is the runs page's serialized view (search
facets such as `searchFilter`, and UI state such as `selectedColumns`, `compareRunCharts`,
`compareRunSections`); the Views menu lists them and `#/experiments/<id>/runs?viewStateShareKey=<id>`
opens one (mlflow/mlflow, mlflow/server/js/src/experiment-tracking/components/experiment-page/
utils/savedViewEnvelope.ts and hooks/useSharedExperimentViewState.ts). rftlab writes one view,
`rft-jobs`: only the job runs, with their hyperparameters, grader version, cost, duration, uplift
and win rate as columns, and a chart view that starts with the reward curves. The description
(`mlflow.note.content`) says what the experiment holds and how to filter it; a description a
user edited in the UI is left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from rftlab import contracts

log = logging.getLogger(__name__)

VIEW_ID = "rft-jobs"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_ID}"
NOTE_TAG = "mlflow.note.content"
NOTE_DIGEST = "rftlab.note_digest"             # what rftlab last wrote; another digest = edited by a user
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"  # a classic ML experiment, not GenAI
JOB_FILTER = f'tags.`{contracts.KIND}` = "{contracts.RFT_JOB}"'
# Hyperparameters shown even when every job shares them (the names each backend uses, docs/hyperparameters.md).
CORE_HP = ("learningRate", "batchSize", "learning_rate_multiplier", "batch_size")
TAG_COLUMNS = (contracts.GRADER_VERSION, contracts.BACKEND)
METRIC_COLUMNS = (contracts.EVAL_UPLIFT_PCT, contracts.EVAL_WIN_RATE, contracts.VAL_REWARD_MEAN, contracts.COST_USD)  # + the Duration attribute
REWARD_CHARTS = (contracts.TRAIN_REWARD_MEAN, contracts.VAL_REWARD_MEAN, contracts.TRAIN_REWARD_STD)
SUMMARY_CHARTS = (contracts.EVAL_UPLIFT_PCT, contracts.EVAL_WIN_RATE, contracts.COST_USD, contracts.DURATION_MIN)


def job_view_path(experiment_id: str) -> str:
    """The UI route (after the server's address) that opens the saved job view."""
    return f"#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_ID}&workflowType=machine_learning"


def description(experiment_id: str, comparison_run_id: str | None = None) -> str:
    """The experiment description: what it holds, the job view, how to filter by hand."""
    lines = [
        "**rftlab**: reinforcement fine-tuning toward one person's writing style. Every pipeline stage "
        "is a run tagged `rftlab.kind` (ingest, profile, calibration, grader-check, prompts, base-model, "
        "rft-job, evaluation).",
        "",
        f"- **Compare jobs**: Views → *RFT jobs* ([open]({job_view_path(experiment_id)})): one row per RFT "
        "job (named after the DVC experiment and what it changed) with its hyperparameters (`hp.*`), "
        "grader version, cost, duration, uplift and win rate; the chart view starts with the reward curves.",
        f"- **Filter by hand**: `` {JOB_FILTER} ``; a job's evaluation is its child run "
        "(`` tags.`rftlab.kind` = \"evaluation\" ``).",
        "- **Tuned models**: registered model `rftlab-style` (alias `best`: the highest uplift); graders: "
        "`rftlab-grader` (alias `champion`).",
    ]
    if comparison_run_id:
        lines.append(f"- **Comparison report** (`rftlab compare`): [job comparison](#/experiments/{experiment_id}/"
                     f"runs/{comparison_run_id}/artifacts) → `compare/report.html`.")
    return "\n".join(lines)


def _col(group: str, key: str) -> str:
    return f"{group}.`{key}`"  # the runs table's canonical column key


def _line(uuid: str, section: str, metric: str) -> dict[str, Any]:
    return {"uuid": uuid, "type": "LINE", "runsCountToCompare": 10, "metricSectionId": section, "deleted": False,
            "isGenerated": False, "metricKey": metric, "selectedMetricKeys": [metric], "lineSmoothness": 0,
            "xAxisScaleType": "linear", "scaleType": "linear", "range": {}, "xAxisKey": "step",
            "selectedXAxisMetricKey": "", "yAxisKey": "metric", "yAxisExpressions": [], "ignoreOutliers": False,
            "useGlobalXaxisKey": True, "useGlobalLineSmoothing": True}


def _bar(uuid: str, section: str, metric: str) -> dict[str, Any]:
    return {"uuid": uuid, "type": "BAR", "runsCountToCompare": 10, "metricSectionId": section, "deleted": False,
            "isGenerated": False, "metricKey": metric}


def hp_columns(job_params: Iterable[Mapping[str, str]]) -> list[str]:
    """`hp.*` params worth a column: the core names any job has, plus every one whose value differs."""
    rows = [dict(p) for p in job_params]
    keys = sorted({k for p in rows for k in p if k.startswith("hp.")})
    out = []
    for key in keys:
        values = {p.get(key) for p in rows}
        if key.removeprefix("hp.") in CORE_HP or len(values) > 1:
            out.append(key)
    return out


def view_state(hp_keys: Iterable[str]) -> dict[str, Any]:
    """The runs page state of the job view (search facets + UI state, as the UI serializes them)."""
    columns = [_col("attributes", "Duration"), *(_col("params", k) for k in hp_keys),
               *(_col("tags", k) for k in TAG_COLUMNS), *(_col("metrics", k) for k in METRIC_COLUMNS)]
    charts = [_line(f"reward-{i}", "reward", m) for i, m in enumerate(REWARD_CHARTS)]
    charts += [_bar(f"summary-{i}", "summary", m) for i, m in enumerate(SUMMARY_CHARTS)]
    sections = [{"uuid": "reward", "name": "Reward curves", "display": True, "isReordered": True, "deleted": False},
                {"uuid": "summary", "name": "Uplift, win rate, cost, duration", "display": True, "isReordered": True,
                 "deleted": False}]
    return {"searchFilter": JOB_FILTER, "orderByKey": "attributes.start_time", "orderByAsc": False,
            "selectedColumns": columns, "compareRunCharts": charts, "compareRunSections": sections,
            "isAccordionReordered": True, "hideEmptyCharts": True}


def _envelope(state: Mapping[str, Any], created_at: int) -> str:
    return json.dumps({"name": "RFT jobs", "createdAt": created_at, "state": json.dumps(state, sort_keys=True)},
                      sort_keys=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def experiment_tags(current: Mapping[str, str], experiment_id: str, *, hp_keys: Iterable[str],
                    comparison_run_id: str | None = None, now_ms: int = 0) -> dict[str, str]:
    """The tags to set on the experiment (only those that change; pure)."""
    out: dict[str, str] = {}
    if current.get(KIND_TAG) != KIND:
        out[KIND_TAG] = KIND
    note = description(experiment_id, comparison_run_id or current.get("rftlab.comparison_run_id"))
    old = current.get(NOTE_TAG, "")
    if (not old.strip() or _digest(old) == current.get(NOTE_DIGEST)) and old != note:
        out[NOTE_TAG], out[NOTE_DIGEST] = note, _digest(note)
    if comparison_run_id and current.get("rftlab.comparison_run_id") != comparison_run_id:
        out["rftlab.comparison_run_id"] = comparison_run_id
    state = view_state(hp_keys)
    try:
        previous = json.loads(current[VIEW_TAG])
        created = int(previous["createdAt"])
        unchanged = json.loads(previous["state"]) == state
    except (KeyError, TypeError, ValueError):
        created, unchanged = now_ms, False
    if not unchanged:
        out[VIEW_TAG] = _envelope(state, created)
    return out


COMPARISON_RUN = "job comparison"
