"""The persistent Optuna study: storage, naming, resuming, plots.

Resume semantics: `--trials N` is the study's target size. A rerun opens the same study
(same storage and name, `load_if_exists`) and runs only the trials still missing to reach
N completed trials; raise N to search further. Trials left RUNNING by a killed process are
marked FAIL first, so they neither block nor count.

Speed: an RDB storage commits on every `suggest_*` call (~16 per trial, ~10 ms each on
sqlite). The sampler therefore works on an in-memory copy of the study, loaded from the
persistent one at start; each finished trial is written back with one `add_trial` from a
background thread (search.Recorder; flushed on exit and on Ctrl-C, so only the trial in
flight is lost). Trial numbers are the persistent study's (calibrate/recorder.py).

Several workers on one study (two `rftlab calibrate` at once, or on several machines with a
shared RDB storage) each claim a worker slot, a lease in the study's database
(search/lease.py): the first live worker is 0, a second 1, ... The slot shifts the sampler's
seed, so workers sample different points while a single worker stays exactly repeatable.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

from rftlab.errors import ConfigError
from rftlab.io import atomic_path
from rftlab.search.lease import Leases, worker_id

log = logging.getLogger(__name__)


def default_storage(out: str | os.PathLike) -> str:
    """sqlite file `optuna.db` beside the grader bundle."""
    return f"sqlite:///{(Path(out).resolve().parent / 'optuna.db').as_posix()}"


def redact(url: str) -> str:
    """Storage URL without its password, safe for MLflow params."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def default_study_name(author: str, digest: str, space: list[str], code: str = "") -> str:
    """One study per (author, held-out data, weight space, feature code): trial values are
    only comparable within it, so a change to any of them starts a fresh study."""

    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", author)[:40]
    key = hashlib.sha256(f"{digest}|{','.join(space)}|{code}".encode()).hexdigest()[:10]
    return f"calibrate-{safe}-{key}"


def open_study(
    storage: str, name: str, *, seed: int, digest: str, space: list[str], folds: int
) -> Any:
    """Create or load the study; refuse to mix trials from other data or another weight space."""
    # optuna loads only when a study is opened
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a Ctrl-C must not print a trial traceback
    if storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    rdb = None
    for attempt in range(5):
        try:
            rdb = optuna.storages.RDBStorage(storage, engine_kwargs=_engine_kwargs(storage))
            break
        except Exception as exc:  # bad URL, driver missing, server down: one readable line
            # two workers opening a fresh database race on Optuna's CREATE TABLE / version row: the
            # loser succeeds on the next try, once the tables exist
            if attempt == 4 or not race(exc):
                raise ConfigError(f"calibrate.storage {redact(storage)}: cannot open Optuna storage ({exc})") from None
            time.sleep(0.5 * (attempt + 1))
    # Seed shifted by the trials already run: a resumed study must not replay the same
    # random start-up points, yet two identical reruns stay identical.
    _fast_sqlite(rdb, storage)
    study = optuna.create_study(storage=rdb, study_name=name, direction="maximize", load_if_exists=True)
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
    fail_stale(study)
    return study


WORKER_SEED_STRIDE = 104_729  # a prime: worker k samples from seed + trials + k * stride
MAX_WORKERS = 64
_CLAIMED: dict[tuple[str, str], int] = {}


def claim_worker(storage: str, name: str) -> int:
    """This process's worker slot on study `name` (0 = the first live worker), held until it exits.

    A slot is a lease in the study's database: a SIGKILLed worker's slot is free again at once on
    its host (its process is gone), elsewhere after a day.
    """

    if (storage, name) in _CLAIMED:  # one process is one worker, however many times it calibrates
        return _CLAIMED[(storage, name)]
    leases = Leases(storage, engine_kwargs=_engine_kwargs(storage))
    owner = worker_id()
    for slot in range(MAX_WORKERS):
        key = f"calibrate:{name}:worker:{slot}"
        if leases.acquire(key, owner, ttl=86_400.0):
            atexit.register(_release, leases, key, owner)
            _CLAIMED[(storage, name)] = slot
            if slot:
                log.info("calibration worker %d on study %s (another worker is running)", slot, name)
            return slot
    leases.close()
    raise ConfigError(f"Optuna study {name!r}: {MAX_WORKERS} calibration workers already running")


def _release(leases: Any, key: str, owner: str) -> None:
    try:
        leases.release(key, owner)
        leases.close()
    except Exception as exc:  # the database may be gone at exit; the lease then expires
        log.debug("worker lease %s not released: %s", key, exc)


def count_complete(study: Any) -> int:
    """COMPLETE trials of a persistent study (what `--trials` counts): one COUNT query on an RDB."""
    # optuna loads only when a study is opened
    from optuna.storages import RDBStorage
    from optuna.trial import TrialState

    storage = getattr(study._storage, "_backend", study._storage)  # optuna wraps an RDB in a cache
    if not isinstance(storage, RDBStorage):
        return n_complete(study)
    # sqlalchemy loads only when a study storage is opened
    import sqlalchemy as sa
    from optuna.storages._rdb.models import TrialModel

    with storage.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(TrialModel).where(
            TrialModel.study_id == study._study_id, TrialModel.state == TrialState.COMPLETE)
        return int(conn.execute(query).scalar_one())


def race(exc: Exception) -> bool:
    """An error from two processes creating one database's tables at once (retrying succeeds)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("integrity", "unique", "already exists", "duplicate", "locked"))


def working_copy(study: Any, seed: int, worker: int = 0) -> Any:
    """An in-memory study holding the persistent study's finished trials (same numbers).

    The TPE seed is shifted by the trials already run: a resumed study must not replay the
    same random start-up points, yet two identical reruns stay identical. A second worker
    (`worker` > 0) is shifted further, so two workers never propose the same points.
    """
    # optuna loads only when a study is opened
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    sampler = optuna.samplers.TPESampler(seed=seed + len(trials) + worker * WORKER_SEED_STRIDE, multivariate=True)
    work = optuna.create_study(sampler=sampler, direction="maximize")
    work.add_trials(trials)
    return work


def _fast_sqlite(rdb: Any, url: str) -> None:
    """WAL + synchronous=NORMAL: one fsync per checkpoint, not per commit (still crash-safe)."""
    if not url.startswith("sqlite"):
        return
    # sqlalchemy loads only when a study storage is opened
    from sqlalchemy import event

    @event.listens_for(rdb.engine, "connect")
    def _pragma(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    rdb.engine.dispose()


def _engine_kwargs(storage: str) -> dict[str, Any]:
    if storage.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def fail_stale(study: Any) -> int:
    """Mark trials still RUNNING (their process died) as FAIL; returns how many."""
    # optuna loads only when a study is opened
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    if n:
        log.warning("marked %d interrupted trial(s) as FAIL", n)
    return n


def n_complete(study: Any) -> int:
    # optuna loads only when a study is opened
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def delete_study(storage: str, name: str) -> None:
    # optuna loads only when a study is opened
    import optuna

    optuna.delete_study(study_name=name, storage=storage)


def save_plots(study: Any, folder: str | os.PathLike) -> list[Path]:
    """Optuna's optimisation-history and parameter-importance plots as PNGs."""
    # matplotlib loads only when a figure is drawn
    import matplotlib

    matplotlib.use("Agg")
    # matplotlib loads only when a figure is drawn
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, fn in (("optimization_history.png", ovm.plot_optimization_history),
                      ("param_importances.png", ovm.plot_param_importances)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" notices, equal importances
                ax = fn(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            with atomic_path(folder / fname) as tmp:
                fig.savefig(tmp, format="png", dpi=90)
            plt.close(fig)
            written.append(folder / fname)
        except Exception as exc:  # too few trials for importances, constant values, ...
            log.warning("optuna plot %s skipped: %s", fname, exc)
    return written
