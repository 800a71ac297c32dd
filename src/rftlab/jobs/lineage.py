"""A job's run in the CURRENT MLflow store, whatever DVC restored from its cache.

`data/rft/job.json` is a DVC output: it names the job by id and spec hash only, never by an
MLflow run id (a run id belongs to one store, and DVC may restore the file into a project whose
store never saw the job: a new MLFLOW_TRACKING_URI, `make clean`, a fresh clone pulling its
outputs). The run is looked up by its `rftlab.job_id` tag; when the store has none, a light
`rft-job` run is recorded from what the job record (or the job's state) holds — params, the
step curves, the summary — tagged `rftlab.restored = true`. The evaluation always has its job
to nest under, and lineage has no hole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.jobs.state import default_store

log = logging.getLogger(__name__)

RESTORED = "rftlab.restored"
EXECUTION = "rftlab.execution"  # one execution of a job (one job state): its run, never another's
CURVES = (contracts.TRAIN_REWARD_MEAN, contracts.VAL_REWARD_MEAN)  # the step curves a job record carries


def curves(history: Sequence[tuple[int, Mapping[str, float]]]) -> dict[str, list[list[float]]]:
    """The record's step curves: metric -> [[step, value], ...] in step order."""
    out: dict[str, list[list[float]]] = {}
    for step, values in history:
        for key in CURVES:
            if key in values:
                out.setdefault(key, []).append([int(step), float(values[key])])
    return out


def history_of(record: Mapping[str, Any]) -> list[tuple[int, dict[str, float]]]:
    """A job record's curves back into (step, metrics) rows."""
    rows: dict[int, dict[str, float]] = {}
    for key, points in (record.get("curves") or {}).items():
        for step, value in points:
            rows.setdefault(int(step), {})[key] = float(value)
    return sorted(rows.items())


def find_job_run(job_id: str) -> Any | None:
    """The job's `rft-job` run in this store: a finished run that trained it first, else any."""
    runs = [r for r in tracking.find_runs(contracts.JOB_ID, job_id) if r.data.tags.get(contracts.KIND) == contracts.RFT_JOB]
    if not runs:
        return None

    def rank(run: Any) -> tuple[bool, bool]:
        return (run.info.status == "FINISHED", run.data.tags.get(RESTORED) != "true")

    return max(runs, key=rank)  # runs come newest first; max keeps the first of equal rank


def record_params(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a restored run shows of the job (the names a trained job's run uses)."""
    digests = record.get("prompts_digest") or {}
    return {
        "backend": record.get("backend"), "base_model": record.get("base_model"),
        "spec_hash": record.get("spec_hash"), "grader_version": record.get("grader_version"),
        "prompts": {f"{k}_md5": v for k, v in digests.items()},
        "hp": dict(record.get("hyperparameters") or {}),
    }


def replay(history: Sequence[tuple[int, Mapping[str, float]]]) -> None:
    """Log step metrics into the active run (a run being recreated)."""
    for step, values in history:
        tracking.log_metrics(dict(values), step=int(step))


def restore_job_run(record: Mapping[str, Any], *, history: Sequence[tuple[int, Mapping[str, float]]] = (),
                    deps: Mapping[str, str | Path] | None = None, execution: str | None = None) -> str:
    """Record a finished light `rft-job` run for a job this store never saw; returns its id."""
    tags = {contracts.JOB_ID: record["job_id"], contracts.BACKEND: str(record.get("backend")), RESTORED: "true",
            "rftlab.status": str(record.get("status")), contracts.SPEC_HASH: str(record.get("spec_hash"))}
    if record.get("grader_version"):
        tags[contracts.GRADER_VERSION] = str(record["grader_version"])
    if execution:
        tags[EXECUTION] = execution
    with tracking.stage_run(contracts.RFT_JOB, run_name=str(record["job_id"]), params=record_params(record), tags=tags,
                            deps={k: v for k, v in (deps or {}).items() if v}) as run:
        replay(history)
        tracking.log_metrics({k: v for k, v in (record.get("metrics") or {}).items() if isinstance(v, int | float)})
        run_id = run.info.run_id
    log.info("job %s had no run in this MLflow store: recorded %s from its record", record["job_id"], run_id)
    return run_id


def job_run_id(record: Mapping[str, Any], job_path: str | Path | None = None) -> str:
    """The run of the job named by a job record: this project's own execution of it (its job state)
    when that run is in the store, else the job's run found by id, else one recorded from the record."""

    state = default_store().load(str(record["spec_hash"])) if record.get("spec_hash") else None
    if state is not None and state.job_id == record["job_id"] and state.run_id and tracking.run_exists(state.run_id):
        return state.run_id
    found = find_job_run(str(record["job_id"]))
    if found is not None:
        return found.info.run_id
    return restore_job_run(record, history=history_of(record), deps={"job": job_path} if job_path else None)


def ensure_state_run(backend: Any, state: Any, record: Mapping[str, Any],
                     history: Sequence[tuple[int, Mapping[str, float]]]) -> Any:
    """A finished job whose run is not in this store (its state came from another store) gets one
    recorded from its state and full step history; returns the state (run id saved)."""
    if state.run_id and tracking.run_exists(state.run_id):
        return state
    execution = state.details.get("execution")
    runs = tracking.find_runs(EXECUTION, execution) if execution else []
    if runs:
        run_id = runs[0].info.run_id
    else:
        run_id = restore_job_run(record, history=history, execution=execution)
    return backend.store.save(state.update(run_id=run_id))
