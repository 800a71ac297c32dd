"""The persistent Optuna study: storage, naming, resuming, plots.

Resume semantics: `--trials N` is the study's target size. A rerun opens the same study
(same storage and name, `load_if_exists`) and runs only the trials still missing to reach
N completed trials; raise N to search further. Trials left RUNNING by a killed process are
marked FAIL first, so they neither block nor count.

Speed: an RDB storage commits on every `suggest_*` call (~16 per trial, ~10 ms each on
sqlite). The sampler therefore works on an in-memory copy of the study, loaded from the
persistent one at start; each finished trial is written back with one `add_trial` from a
background thread (search.Recorder; flushed on exit and on Ctrl-C, so only the trial in
flight is lost). Trial numbers stay identical.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

from rftlab.errors import ConfigError
from rftlab.io import atomic_path

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
    import hashlib

    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", author)[:40]
    key = hashlib.sha256(f"{digest}|{','.join(space)}|{code}".encode()).hexdigest()[:10]
    return f"calibrate-{safe}-{key}"


def open_study(
    storage: str, name: str, *, seed: int, digest: str, space: list[str], folds: int
) -> Any:
    """Create or load the study; refuse to mix trials from other data or another weight space."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a Ctrl-C must not print a trial traceback
    if storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        rdb = optuna.storages.RDBStorage(storage, engine_kwargs=_engine_kwargs(storage))
    except Exception as exc:  # bad URL, driver missing, server down: one readable line
        raise ConfigError(f"calibrate.storage {redact(storage)}: cannot open Optuna storage ({exc})") from None
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


def working_copy(study: Any, seed: int) -> Any:
    """An in-memory study holding the persistent study's finished trials (same numbers).

    The TPE seed is shifted by the trials already run: a resumed study must not replay the
    same random start-up points, yet two identical reruns stay identical.
    """
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    sampler = optuna.samplers.TPESampler(seed=seed + len(trials), multivariate=True)
    work = optuna.create_study(sampler=sampler, direction="maximize")
    work.add_trials(trials)
    return work


def _fast_sqlite(rdb: Any, url: str) -> None:
    """WAL + synchronous=NORMAL: one fsync per checkpoint, not per commit (still crash-safe)."""
    if not url.startswith("sqlite"):
        return
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
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    if n:
        log.warning("marked %d interrupted trial(s) as FAIL", n)
    return n


def n_complete(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def delete_study(storage: str, name: str) -> None:
    import optuna

    optuna.delete_study(study_name=name, storage=storage)


def save_plots(study: Any, folder: str | os.PathLike) -> list[Path]:
    """Optuna's optimisation-history and parameter-importance plots as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
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
