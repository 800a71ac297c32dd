"""Calibration's Optuna study: its storage and name, what it must hold to be resumed, its sampler.

Opening storages, leases, worker slots and plots belong to rftlab.studies; this module holds only
what is calibration's own.

Resume semantics: `--trials N` is the study's target size. A rerun opens the same study
(same storage and name) and runs only the trials still missing to reach N completed trials;
raise N to search further. Trials left RUNNING by a killed process are marked FAIL first, so
they neither block nor count.

Speed: an RDB storage commits on every `suggest_*` call (~16 per trial, ~10 ms each on
sqlite). The sampler therefore works on an in-memory copy of the study, loaded from the
persistent one at start; each finished trial is written back with one storage call from a
background thread (recorder.py; flushed on exit and on Ctrl-C, so only the trial in flight is
lost). Trial numbers are the persistent study's.

Several workers on one study (two `rftlab calibrate` at once, or on several machines with a
shared RDB storage) each claim a worker slot (rftlab.studies.workers): the first live worker
is 0, a second 1, ... The slot shifts the sampler's seed, so workers sample different points
while a single worker stays exactly repeatable.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import optuna

from rftlab.errors import ConfigError
from rftlab.studies.study import fail_running
from rftlab.studies.study import open_study as open_persistent

SETTING = "calibrate.storage"  # where a storage URL comes from, for the one-line error
ROLE = "calibrate"             # the worker slots' lease names: calibrate:<study>:worker:<k>
WORKER_SEED_STRIDE = 104_729   # a prime: worker k samples from seed + trials + k * stride


def default_storage(out: str | os.PathLike) -> str:
    """sqlite file `optuna.db` beside the grader bundle."""
    return f"sqlite:///{(Path(out).resolve().parent / 'optuna.db').as_posix()}"


def default_study_name(author: str, digest: str, space: list[str], code: str = "") -> str:
    """One study per (author, held-out data, weight space, feature code): trial values are
    only comparable within it, so a change to any of them starts a fresh study."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", author)[:40]
    key = hashlib.sha256(f"{digest}|{','.join(space)}|{code}".encode()).hexdigest()[:10]
    return f"calibrate-{safe}-{key}"


def open_study(storage: str, name: str, *, digest: str, space: list[str], folds: int) -> optuna.Study:
    """Create or load the study; refuse to mix trials from other data or another weight space."""
    study = open_persistent(storage, name, setting=SETTING)
    attrs = study.user_attrs
    if not attrs:
        study.set_user_attr("heldout_digest", digest)
        study.set_user_attr("space", space)
        study.set_user_attr("folds", folds)
    else:
        if attrs.get("heldout_digest") != digest:
            raise ConfigError(
                f"Optuna study {name!r} was run on other held-out data (digest "
                f"{attrs.get('heldout_digest')} != {digest}); set calibrate.study_name to a new name"
            )
        if list(attrs.get("space", [])) != space:
            raise ConfigError(
                f"Optuna study {name!r} searched another weight space; set calibrate.study_name to a new name"
            )
    fail_running(study)  # a calibration trial lives in its process: RUNNING means its process died
    return study


def working_copy(study: optuna.Study, seed: int, worker: int = 0) -> optuna.Study:
    """An in-memory study holding the persistent study's finished trials (same numbers).

    The TPE seed is shifted by the trials already run: a resumed study must not replay the
    same random start-up points, yet two identical reruns stay identical. A second worker
    (`worker` > 0) is shifted further, so two workers never propose the same points.
    """
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    sampler = optuna.samplers.TPESampler(seed=seed + len(trials) + worker * WORKER_SEED_STRIDE, multivariate=True)
    work = optuna.create_study(sampler=sampler, direction="maximize")
    work.add_trials(trials)
    return work
