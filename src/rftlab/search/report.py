"""The search in MLflow and on disk: one `search` run per study, its trials' job runs as
children, plots, and the best hyperparameters as a params override the pipeline can use.

A study is its storage and its name (a sqlite and a PostgreSQL study may share a name): the search
run is found again by the study's key (rftlab.studies.urls.study_key), never by the name alone.
The summary figures are logged at step = the trials the study has finished (complete, pruned or
failed), once per step: a call that finished no trial adds no row, and the search run's charts in
`mlflow ui` read like Optuna's optimisation history (each figure against trials finished).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from rftlab import contracts, tracking
from rftlab.io import atomic_path
from rftlab.studies.plots import save_plots
from rftlab.studies.urls import identity, study_key

log = logging.getLogger(__name__)

STUDY, STUDY_KEY = contracts.STUDY, contracts.STUDY_KEY
TRIAL = "rftlab.trial"


def ensure_search_run(storage: str, study_name: str, params: dict[str, Any]) -> str:
    """The study's one `search` run, found again by the study's key (storage + name), created when
    missing. A search run recorded before the key existed is adopted when its `storage` param is this
    study's storage. Callers hold the study's `search-run` lease, so two workers never create two."""
    key = study_key(storage, study_name)
    found = tracking.find_runs(STUDY_KEY, key, kind=contracts.SEARCH)
    if found:
        return str(found[0].info.run_id)
    for run in tracking.find_runs(STUDY, study_name, kind=contracts.SEARCH):
        if STUDY_KEY not in run.data.tags and identity(run.data.params.get("storage", "")) == identity(storage):
            tracking.tag_run(run.info.run_id, {STUDY_KEY: key})
            return str(run.info.run_id)
    with tracking.stage_run(contracts.SEARCH, run_name=study_name, params=params,
                            tags={STUDY: study_name, STUDY_KEY: key}) as run:
        return str(run.info.run_id)


@contextlib.contextmanager
def search_run(run_id: str) -> Iterator[str]:
    """Reopen the search run for this invocation (FINISHED at the end, KILLED on Ctrl-C)."""
    with tracking.stage_run(contracts.SEARCH, run_id=run_id) as run:
        yield run.info.run_id


def tag_job_run(ctx: Any, number: int, state: Any, outcome: str, pruned: str | None) -> None:
    """Mark the trial's job run: trial number, study, outcome (and why it was pruned)."""
    run_id = state.run_id
    if run_id is None:
        runs = tracking.find_runs(contracts.JOB_ID, state.job_id, kind=contracts.RFT_JOB)
        run_id = runs[0].info.run_id if runs else None
    if run_id is None:
        return
    tags = {TRIAL: number, STUDY: ctx.study.study_name, "rftlab.trial_state": outcome}
    if ctx.study_key:
        tags[STUDY_KEY] = ctx.study_key
    if pruned:
        tags["rftlab.pruned_because"] = pruned
    tracking.tag_run(run_id, tags)


def best_override(backend: str, best_params: dict[str, Any]) -> dict[str, Any]:
    """A params.yaml fragment: the best trial's hyperparameters for the searched backend."""
    return {"rft": {"backend": backend, backend: {"hyperparameters": dict(sorted(best_params.items()))}}}


def exp_run_command(backend: str, best_params: dict[str, Any]) -> str:
    sets = " ".join(f"-S rft.{backend}.hyperparameters.{k}={v}" for k, v in sorted(best_params.items()))
    return f"dvc exp run -S rft.backend={backend} {sets}"


def write_best(path: str | Path, backend: str, study: Any) -> dict[str, Any] | None:
    """`best.yaml`: the override, the value and the command that reproduces the winning job."""
    try:
        best = study.best_trial
    except ValueError:  # no completed trial
        return None
    doc = {**best_override(backend, best.params), "search": {"study": study.study_name, "trial": best.number,
                                                              "value": best.value,
                                                              "job_id": best.user_attrs.get("job_id"),
                                                              "reproduce": exp_run_command(backend, best.params)}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return doc


def summarize(study: Any, book: Any, folder: Path, backend: str) -> dict[str, Any]:
    """Log the study's state into the active search run; returns the headline figures."""
    # optuna loads only when a study is opened
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {s.name.lower(): sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.PRUNED,
                                                                         TrialState.FAIL, TrialState.RUNNING)}
    figures: dict[str, Any] = {"trials_" + k: v for k, v in count.items()}
    figures.update(spent_usd=book.spent_usd, committed_usd=book.committed_usd,
                   training_min=round(sum(float(t.user_attrs.get(contracts.DURATION_MIN) or 0) for t in trials), 3),
                   training_steps=sum(int(t.user_attrs.get("steps") or 0) for t in trials))
    best = write_best(folder / "best.yaml", backend, study)
    numbers = {k: float(v) for k, v in figures.items()}
    if best is not None:
        figures["best_value"] = best["search"]["value"]
        figures["best_trial"] = best["search"]["trial"]
        figures["best_params"] = study.best_trial.params
        numbers["best_value"] = float(figures["best_value"])
    log_once(numbers, step=sum(t.state.is_finished() for t in trials))
    if best is not None:
        tracking.set_tags({"rftlab.best_trial": figures["best_trial"],
                           **{f"best.{k}": v for k, v in study.best_trial.params.items()}})
        tracking.log_artifact(folder / "best.yaml", "search")
    for png in save_plots(study, folder):
        tracking.log_artifact(png, "search/plots")
    return figures


def log_once(metrics: dict[str, float], step: int) -> dict[str, float]:
    """Log into the active run the metrics it holds no row for at `step`; returns what was logged.

    Finished trials only grow, so the figures over them (counts, spent, training time, best value)
    are the same whenever the study has finished `step` trials: a row at that step already says what
    a new one would. A worker summarises once its loop ends with nothing running, so the in-flight
    figures (running, committed) are 0 then too, unless the search was cut short (`max_polls`)."""
    logged = tracking.metric_points(str(tracking.active_run_id()))
    new = {k: v for k, v in metrics.items() if step not in logged.get(k, {})}
    tracking.log_metrics(new, step=step)
    return new
