"""The search's Optuna study: its storage and name, what it must hold to be resumed, sampler, pruner.

Opening storages, leases and plots belong to rftlab.studies; this module holds only what is the
search's own. Storage: `search.storage` (any Optuna RDB URL: sqlite file or PostgreSQL) or, by
default, `sqlite:///data/search/optuna.db` at the project root. The study name defaults to one per
(backend, inputs, searched names, objective): trial values are only comparable within it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import optuna

from rftlab.errors import ConfigError
from rftlab.io import project_root
from rftlab.studies.study import open_study as open_persistent

SETTING = "search.storage"  # where a storage URL comes from, for the one-line error


def default_storage() -> str:
    return f"sqlite:///{(project_root() / 'data' / 'search' / 'optuna.db').as_posix()}"


def default_name(backend: str, digests: dict[str, str], space: list[str], objective: str) -> str:
    key = "|".join([backend, *(f"{k}={v}" for k, v in sorted(digests.items())), ",".join(sorted(space)), objective])
    return f"rft-{backend}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def make_sampler(cfg: Any, n_trials_so_far: int) -> optuna.samplers.BaseSampler:
    """A sampler seeded by the search seed and the trials already asked: a resumed or second
    worker never replays the same start-up points, yet a rerun from scratch is identical."""
    seed = cfg.seed + n_trials_so_far
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: trials still running count as if they had a bad value, so parallel
    # workers spread out instead of proposing the same point twice
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(5, cfg.trials // 3)),
                                      constant_liar=True)


def make_pruner(cfg: Any) -> optuna.pruners.BasePruner:
    if cfg.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=cfg.pruner_startup_trials, n_warmup_steps=0)
    if cfg.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def open_study(storage: str, name: str, cfg: Any, *, space: list[str]) -> optuna.Study:
    """Create or load the study (maximize); refuse a study that searched other names."""
    study = open_persistent(storage, name, setting=SETTING, pruner=make_pruner(cfg))
    have = study.user_attrs.get("space")
    if have is None:
        study.set_user_attr("space", sorted(space))
        study.set_user_attr("objective", cfg.objective)
    elif sorted(have) != sorted(space):
        raise ConfigError(f"Optuna study {name!r} searched {', '.join(have)}; set search.study_name to a new name "
                          f"to search {', '.join(sorted(space))}")
    return study
