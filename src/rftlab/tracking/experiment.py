"""The project's MLflow experiment: pointing MLflow at it, and keeping what `mlflow ui` opens on up to date
(the description, kind and saved job view views.py composes; the comparison report's run)."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from rftlab import contracts
from rftlab.config import load_params
from rftlab.tracking.store import (
    ensure_experiment,
    mlflow_api,
    open_store,
    tracking_uri,
)
from rftlab.tracking.views import (
    COMPARISON_RUN,
    CORE_HP,
    VIEW_TAG,
    experiment_tags,
    hp_columns,
)

log = logging.getLogger(__name__)


def use_experiment(experiment_id: str):
    """mlflow.set_experiment without its side effect on os.environ: it exports MLFLOW_EXPERIMENT_ID,
    which every process started afterwards inherits (an `mlflow run --experiment-name` child then
    refuses both options; a dvc stage would log to this experiment whatever its params say)."""
    before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    try:
        return mlflow_api().set_experiment(experiment_id=experiment_id)
    finally:
        if before is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = before


def setup(experiment: str | None = None) -> str:
    """Point MLflow at the project's store and experiment; returns the experiment id."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:  # store-migration chatter only with -v
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    open_store()  # first-time schema setup under a file lock (store.py)
    name = experiment or load_params().tracking.experiment
    exp = use_experiment(ensure_experiment(name))  # artifacts follow the store (store.py)
    describe_once(exp.experiment_id)  # kind, description and the saved job view mlflow ui opens on (views.py)
    return exp.experiment_id


_DONE: set[tuple[str, str]] = set()


def refresh(experiment_id: str | None = None, *, comparison_run_id: str | None = None, jobs: bool = True) -> None:
    """Bring the experiment's kind, description and job view up to date (never raises: display only)."""
    try:
        _refresh(experiment_id, comparison_run_id=comparison_run_id, jobs=jobs)
    except Exception as exc:  # the UI's conveniences must never fail a stage
        log.warning("could not update the MLflow experiment's description and job view: %s", exc)


def describe_once(experiment_id: str) -> None:
    """`refresh` once per process and store (called whenever a command points MLflow at its experiment)."""
    key = (tracking_uri(), experiment_id)
    if key not in _DONE:
        _DONE.add(key)
        refresh(experiment_id, jobs=False)


def _refresh(experiment_id: str | None, *, comparison_run_id: str | None, jobs: bool) -> None:
    mlflow = mlflow_api()
    exp_id = experiment_id or setup()
    client = mlflow.MlflowClient()
    exp = client.get_experiment(exp_id)
    current = dict(exp.tags)
    if jobs:
        runs = client.search_runs([exp_id], f"tags.`{contracts.KIND}` = '{contracts.RFT_JOB}'", max_results=500)
        hp_keys = hp_columns(r.data.params for r in runs)
    else:  # first contact: keep an existing view's columns
        try:
            cols = json.loads(json.loads(current[VIEW_TAG])["state"])["selectedColumns"]
            hp_keys = [c[len("params.`"):-1] for c in cols if c.startswith("params.`")]
        except (KeyError, TypeError, ValueError):
            hp_keys = [f"hp.{k}" for k in CORE_HP[:2]]
    for key, value in experiment_tags(current, exp_id, hp_keys=hp_keys, comparison_run_id=comparison_run_id,
                                      now_ms=int(time.time() * 1000)).items():
        client.set_experiment_tag(exp_id, key, value)


def publish_report(folder: Any, *, study: str | None = None, experiment: str | None = None) -> str | None:
    """Log a rendered comparison report (folder -> artifacts `compare/`) to the study's `search` run,
    else to the experiment's one `comparison` run, whose link the description then shows. Neither
    run is reopened (its status and times stay). Returns the run id, None when the store refused."""
    try:
        mlflow = mlflow_api()
        exp_id = setup(experiment)
        client = mlflow.MlflowClient()
        run_id = None
        if study is not None:
            safe = study.replace("'", "\\'")
            found = client.search_runs([exp_id], f"tags.`{contracts.KIND}` = '{contracts.SEARCH}' and tags.`{contracts.STUDY}` = '{safe}'",
                                       max_results=1)
            run_id = found[0].info.run_id if found else None
        if run_id is None:
            found = client.search_runs([exp_id], f"tags.`{contracts.KIND}` = '{contracts.COMPARISON}'", max_results=1,
                                       order_by=["attributes.start_time ASC"])
            if found:
                run_id = found[0].info.run_id
            else:
                run_id = client.create_run(exp_id, run_name=COMPARISON_RUN, tags={contracts.KIND: contracts.COMPARISON}).info.run_id
                client.set_terminated(run_id, "FINISHED")
            refresh(exp_id, comparison_run_id=run_id)
        client.log_artifacts(run_id, str(folder), "compare")
        return run_id
    except Exception as exc:  # the report file the user asked for exists either way
        log.warning("comparison report not logged to MLflow: %s", exc)
        return None
