"""The grader's weight search: Optuna trials that re-weight the per-fold component matrices, scored
by held-out separation (objective.py). The calibrate stage (calibrate_stage.py) runs it.

Flow: features once (disk cache) -> per-fold profiles and component matrices once ->
TPE trials that only re-weight -> best weights + the full-data profile -> bundle.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from rftlab.calibrate.objective import Evaluation, Objective, params_of, suggest
from rftlab.calibrate.study import ROLE, open_study, working_copy
from rftlab.grader.scoring import DEFAULT_WEIGHTS
from rftlab.studies.study import n_complete
from rftlab.studies.urls import study_key
from rftlab.studies.workers import claim_worker


def weights_from_params(params: dict[str, float], space: list) -> dict[str, float]:
    weights = {k: float(v) for k, v in DEFAULT_WEIGHTS.items()}
    for param, key, *_ in space:
        if param in params:
            weights[key] = float(params[param])
    return weights


def trial_record(ev: Evaluation) -> dict[str, Any]:
    rec = asdict(ev)
    rec["fold_aucs"] = list(ev.fold_aucs)
    return rec


@dataclass
class WeightSearch:
    """One worker's view of a (possibly shared) calibration study."""

    study: Any        # the persistent study
    work: Any         # the in-memory copy this worker samples on (study.py)
    worker: int
    name: str
    key: str          # the study's identity in records: a digest of its storage and its name
    space: list
    objective: Objective
    remaining: int    # trials this study still needs to reach its target


def open_weight_search(storage: str, name: str, *, seed: int, folds: int, digest: str, space: list,
                       objective: Objective, trials: int) -> WeightSearch:
    """Open (or continue) the study; trial 0 of a new study is the grader's hand-set weights."""
    study = open_study(storage, name, digest=digest, space=[p for p, *_ in space], folds=folds)
    worker = claim_worker(storage, name, ROLE)  # a second worker on this study samples elsewhere (study.py)
    work = working_copy(study, seed, worker)
    if len(study.trials) == 0 and worker == 0:  # the baseline every trial has to beat
        work.enqueue_trial(params_of(DEFAULT_WEIGHTS, space), user_attrs={"source": "default_weights"})
    return WeightSearch(study, work, worker, name, study_key(storage, name), space, objective,
                        max(0, trials - n_complete(study)))


def run_trials(search: WeightSearch, recorder: Any) -> float:
    """Run the missing trials; each finished one goes to `recorder` (the study and a live MLflow child
    run). Returns the search's wall seconds. The recorder is closed also on Ctrl-C, so every finished
    trial reaches the study and MLflow."""
    def trial_value(trial: Any) -> float:
        weights = search.objective.with_scale(suggest(trial, search.space))
        ev = search.objective(weights)
        trial.set_user_attr("eval", trial_record(ev))
        trial.set_user_attr("weights", weights)
        return ev.value

    t0 = time.perf_counter()
    try:
        if search.remaining:
            search.work.optimize(trial_value, n_trials=search.remaining, callbacks=[recorder.submit],
                                 gc_after_trial=False)
    finally:
        recorder.close()
    return time.perf_counter() - t0
