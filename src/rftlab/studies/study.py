"""A persistent study: create or load it, count its trials, store and re-read trials by their storage.

Both callers maximise (calibration: the held-out objective; the search: its RFT objective). What a
study must hold to be resumed (its user attributes) is the caller's business: calibrate/study.py,
search/study.py.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage
from optuna.storages._rdb.models import (
    TrialModel,  # the trials table: one COUNT instead of loading every trial
)
from optuna.trial import FrozenTrial, TrialState

from rftlab.studies.storage import open_storage

log = logging.getLogger(__name__)


def open_study(url: str, name: str, *, setting: str, pruner: Any = None) -> optuna.Study:
    """Create the study `name` at `url`, or load it when it exists (direction: maximize)."""
    return optuna.create_study(storage=open_storage(url, setting=setting), study_name=name, direction="maximize",
                               load_if_exists=True, pruner=pruner)


def _rdb(study: optuna.Study) -> RDBStorage | None:
    storage = getattr(study._storage, "_backend", study._storage)  # optuna wraps an RDB in a cache
    return storage if isinstance(storage, RDBStorage) else None


def n_complete(study: optuna.Study) -> int:
    """COMPLETE trials of the study (what a calibration's `--trials` counts)."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def count_complete(study: optuna.Study) -> int:
    """COMPLETE trials as stored right now: one COUNT query on an RDB, not a load of every trial (a
    calibration asks after every trial whether the study is full)."""
    rdb = _rdb(study)
    if rdb is None:
        return n_complete(study)
    with rdb.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(TrialModel).where(
            TrialModel.study_id == study._study_id, TrialModel.state == TrialState.COMPLETE)
        return int(conn.execute(query).scalar_one())


def fail_running(study: optuna.Study) -> int:
    """Mark the trials still RUNNING (their process died) FAIL; returns how many. Only for studies whose
    trials live in one process (calibration): a search trial RUNNING is a job that may still train."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    if n:
        log.warning("marked %d interrupted trial(s) as FAIL", n)
    return n


def store_trial(study: optuna.Study, trial: FrozenTrial) -> int:
    """Write a finished trial (from an in-memory copy of the study) into the study with one storage
    call; returns the number the study gave it, which is unique however many workers store at once."""
    trial._validate()
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=trial)
    return int(study._storage.get_trial_number_from_id(trial_id))


def stored_trial(study: optuna.Study, trial: optuna.Trial | FrozenTrial) -> FrozenTrial:
    """The trial as stored now (another worker may have changed it since it was read)."""
    return study._storage.get_trial(trial._trial_id)
