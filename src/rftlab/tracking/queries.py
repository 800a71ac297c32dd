"""Reading and amending runs after the fact: reopen a job's run, search by kind, histories,
artifacts, and cheap child runs (Optuna trials)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.config import load_params
from rftlab.errors import InputError
from rftlab.tracking.experiment import use_experiment
from rftlab.tracking.runs import flatten, process_tags
from rftlab.tracking.store import mlflow_api, open_store, tracking_uri


def get_run(run_id: str) -> Any:
    """The MLflow run `run_id` in the project's store; InputError when it does not exist."""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.exceptions import MlflowException

    open_store()
    try:
        return mlflow_api().MlflowClient().get_run(run_id)
    except MlflowException:
        raise InputError(f"MLflow run {run_id!r} not found in {tracking_uri()}") from None


def run_exists(run_id: str) -> bool:
    """Is `run_id` a (not deleted) run of the current store?"""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.exceptions import MlflowException

    open_store()
    try:
        return mlflow_api().MlflowClient().get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException:
        return False


@contextlib.contextmanager
def resume_run(run_id: str) -> Iterator[Any]:
    """Reopen an existing run to add metrics, tags and artifacts; its kind and status are kept.

    Unlike `stage_run`, a failure inside the block does not mark the run FAILED: the run
    records a finished job, and a failed follow-up (e.g. evaluation) must not rewrite that.
    """
    mlflow = mlflow_api()
    run = get_run(run_id)
    if run.data.tags.get(contracts.KIND, "") not in contracts.RUN_KINDS:
        raise InputError(f"MLflow run {run_id} has no known {contracts.KIND} tag (got {run.data.tags.get(contracts.KIND)!r})")
    status = run.info.status if run.info.status != "RUNNING" else "FINISHED"
    use_experiment(run.info.experiment_id)  # start_run refuses a mismatch
    outer = os.environ.pop("MLFLOW_RUN_ID", None)
    try:
        active = mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None)
    finally:
        if outer is not None:
            os.environ["MLFLOW_RUN_ID"] = outer
    try:
        yield active
    finally:
        mlflow.end_run(status=status)


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one metric of a run, in step order."""
    open_store()
    hist = mlflow_api().MlflowClient().get_metric_history(run_id, key)
    return sorted((int(m.step), float(m.value)) for m in hist)


def download_artifact(run_id: str, artifact_path: str, dst: str | os.PathLike) -> Path | None:
    """Copy one artifact of a run into folder `dst`; None when the run has no such artifact."""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.exceptions import MlflowException

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    open_store()
    Path(dst).mkdir(parents=True, exist_ok=True)
    try:
        return Path(mlflow_api().artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=str(dst)))
    except (MlflowException, OSError):
        return None


def log_child_run(
    parent_run_id: str,
    kind: str,
    *,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str = "FINISHED",
    parent: Any | None = None,
) -> str:
    """Record one finished child run under `parent_run_id` in a few store calls (no active run).

    For many small runs such as Optuna trials: unlike `stage_run` it neither reads git nor
    switches the active run, so the parent stays active. Pass `parent` (the parent's Run,
    fetched once) to save a store round-trip per child. Returns the child's run id.
    """

    # mlflow loads on first use: commands that never track stay fast
    from mlflow.entities import Metric, Param

    if kind not in contracts.RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    mlflow = mlflow_api()
    open_store()
    client = mlflow.MlflowClient()
    parent = parent if parent is not None else client.get_run(parent_run_id)
    all_tags = {contracts.KIND: kind, "mlflow.parentRunId": parent_run_id, **{k: str(v) for k, v in (tags or {}).items()},
                **process_tags()}
    for key in ("rftlab.git_commit", "mlflow.source.git.commit"):
        if key in parent.data.tags:
            all_tags.setdefault(key, parent.data.tags[key])
    run = client.create_run(parent.info.experiment_id, run_name=run_name, tags=all_tags)
    now = int(time.time() * 1000)
    flat = {k: ("" if v is None else str(v))[:6000] for k, v in flatten(params or {}).items()}
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if v is not None],
        params=[Param(k, v) for k, v in flat.items()],
    )
    client.set_terminated(run.info.run_id, status=status)
    return run.info.run_id


def runs_of_kind(kind: str, *, experiment: str | None = None) -> list[Any]:
    """Runs tagged `rftlab.kind = kind` in an existing experiment, newest first (never creates one)."""

    mlflow = mlflow_api()
    open_store()
    name = experiment or load_params().tracking.experiment
    exp = mlflow.MlflowClient().get_experiment_by_name(name)
    if exp is None:
        raise InputError(f"MLflow experiment {name!r} not found in {tracking_uri()}")
    return mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"tags.`{contracts.KIND}` = '{kind}'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )


def set_run_status(run_id: str, status: str) -> None:
    """Mark a closed run FINISHED/FAILED/KILLED (e.g. a synced Bedrock job that failed or was stopped)."""
    open_store()
    mlflow_api().MlflowClient().set_terminated(run_id, status=status)


def tag_run(run_id: str, tags: dict[str, Any]) -> None:
    """Set tags on a run that is not the active one (e.g. a search tagging its trials' job runs)."""
    open_store()
    client = mlflow_api().MlflowClient()
    for key, value in tags.items():
        client.set_tag(run_id, key, "" if value is None else str(value)[:5000])


def log_metrics_to(run_id: str, metrics: Mapping[str, float | None], step: int = 0) -> None:
    """Log metrics to a run that is not the active one, without reopening it (its status and
    end time stay: e.g. the latest evaluation's headline on a finished job run)."""

    # mlflow loads on first use: commands that never track stay fast
    from mlflow.entities import Metric

    open_store()
    now = int(time.time() * 1000)
    rows = [Metric(k, float(v), now, int(step)) for k, v in metrics.items() if v is not None]
    if rows:
        mlflow_api().MlflowClient().log_batch(run_id, metrics=rows)


def metric_points(run_id: str) -> dict[str, dict[int, float]]:
    """Metric key -> {step: value} already logged in a run (what a resumed writer must not log again)."""
    open_store()
    client = mlflow_api().MlflowClient()
    keys = client.get_run(run_id).data.metrics
    return {key: {int(m.step): float(m.value) for m in client.get_metric_history(run_id, key)} for key in keys}


def child_runs(parent_run_id: str, kind: str | None = None) -> list[Any]:
    """Runs nested under `parent_run_id` (optionally of one kind), newest first."""
    open_store()
    run = mlflow_api().MlflowClient().get_run(parent_run_id)
    filt = f"tags.`mlflow.parentRunId` = '{parent_run_id}'" + (f" and tags.`{contracts.KIND}` = '{kind}'" if kind else "")
    return mlflow_api().search_runs(experiment_ids=[run.info.experiment_id], filter_string=filt,
                                 order_by=["attributes.start_time DESC"], output_format="list")
