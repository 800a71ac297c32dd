"""The search's Optuna study: storage (shared with calibration's conventions), sampler, pruner.

Storage: `search.storage` (any Optuna RDB URL: sqlite file or PostgreSQL) or, by default,
`sqlite:///data/search/optuna.db` at the project root. The study name defaults to one per
(backend, inputs, searched names, objective): trial values are only comparable within it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from rftlab.calibrate.study import _engine_kwargs, _fast_sqlite, redact
from rftlab.config import project_root
from rftlab.errors import ConfigError


def default_storage() -> str:
    return f"sqlite:///{(project_root() / 'data' / 'search' / 'optuna.db').as_posix()}"


def default_name(backend: str, digests: dict[str, str], space: list[str], objective: str) -> str:
    key = "|".join([backend, *(f"{k}={v}" for k, v in sorted(digests.items())), ",".join(sorted(space)), objective])
    return f"rft-{backend}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def make_sampler(cfg: Any, n_trials_so_far: int) -> Any:
    """A sampler seeded by the search seed and the trials already asked: a resumed or second
    worker never replays the same start-up points, yet a rerun from scratch is identical."""
    # optuna loads only when a study is opened
    import optuna

    seed = cfg.seed + n_trials_so_far
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: trials still running count as if they had a bad value, so parallel
    # workers spread out instead of proposing the same point twice
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(5, cfg.trials // 3)),
                                      constant_liar=True)


def make_pruner(cfg: Any) -> Any:
    # optuna loads only when a study is opened
    import optuna

    if cfg.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=cfg.pruner_startup_trials, n_warmup_steps=0)
    if cfg.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def _race(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("integrity", "unique", "already exists", "duplicate", "locked"))


def open_study(storage: str, name: str, cfg: Any, *, space: list[str]) -> Any:
    """Create or load the study (maximize); refuse a study that searched other names."""
    # optuna loads only when a study is opened
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    rdb = None
    for attempt in range(5):
        try:
            rdb = optuna.storages.RDBStorage(storage, engine_kwargs=_engine_kwargs(storage))
            break
        except Exception as exc:  # bad URL, driver missing, server down: one readable line
            # Two workers opening a fresh database race on Optuna's CREATE TABLE / version row: the
            # loser sees an integrity error and succeeds on the next try, once the tables exist.
            if attempt == 4 or not _race(exc):
                raise ConfigError(f"search.storage {redact(storage)}: cannot open Optuna storage ({exc})") from None
            time.sleep(0.5 * (attempt + 1))
    _fast_sqlite(rdb, storage)
    study = optuna.create_study(storage=rdb, study_name=name, direction="maximize", load_if_exists=True,
                                pruner=make_pruner(cfg))
    have = study.user_attrs.get("space")
    if have is None:
        study.set_user_attr("space", sorted(space))
        study.set_user_attr("objective", cfg.objective)
    elif sorted(have) != sorted(space):
        raise ConfigError(f"Optuna study {name!r} searched {', '.join(have)}; set search.study_name to a new name "
                          f"to search {', '.join(sorted(space))}")
    return study
