"""The `calibrate` stage (dvc.yaml `calibrate`): Optuna weight search on held-out separation -> grader
bundle (profile + learned weights + content-hash version). Shape: rftlab.stage (docs/architecture.md).

One MLflow run (kind `calibration`); each trial is recorded while the search runs, as a child run
(`calibration-trial`, by the Recorder), so an interrupted calibration keeps every finished trial.
The study persists (calibrate.storage, else data/grader/optuna.db): a rerun continues it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rftlab import contracts, tracking
from rftlab.calibrate.cache import cached_features, feature_code_digest
from rftlab.calibrate.champion import register_candidate
from rftlab.calibrate.folds import CalibrationData, prepare
from rftlab.calibrate.objective import Evaluation, Objective, weight_space
from rftlab.calibrate.recorder import Recorder
from rftlab.calibrate.study import default_storage, default_study_name
from rftlab.calibrate.weight_search import (
    WeightSearch,
    open_weight_search,
    run_trials,
    weights_from_params,
)
from rftlab.config import load_params
from rftlab.errors import InputError
from rftlab.grader import scoring as scoring_module
from rftlab.grader.bundle import make_bundle, write_bundle
from rftlab.grader.fluency import with_floor
from rftlab.grader.scoring import DEFAULT_WEIGHTS
from rftlab.headline import write_headline
from rftlab.io import file_md5, read_json, read_messages, write_json
from rftlab.stage import PASS, Verdict, stage_record
from rftlab.studies.plots import HISTORY, save_plots
from rftlab.studies.study import n_complete
from rftlab.studies.urls import redact
from rftlab.style.profile import is_profile

log = logging.getLogger(__name__)
KIND = contracts.CALIBRATION
TIMINGS = ("trials_per_s", "features_s", "prepare_s")  # wall time: logged to MLflow, kept out of the metrics file


@dataclass(frozen=True)
class Settings:
    """params `calibrate` (and the relevance block the bundle carries)."""

    trials: int
    seed: int = 0
    folds: int = 5
    storage: str | None = None
    study_name: str | None = None
    gaming_penalty: float = 1.0
    background_per_fold: int | None = None
    relevance: Any = None


@dataclass
class Inputs:
    messages_path: Path
    profile_path: Path
    author: str
    messages: list[dict]
    profile: dict
    feats: list[dict]
    features_s: float


@dataclass
class Result:
    bundle: dict
    weights: dict[str, float]
    summary: dict[str, Any]
    search: WeightSearch
    best: Evaluation
    data: CalibrationData
    timings: dict[str, float] = field(default_factory=dict)


def read_inputs(messages_path: Path, author: str, profile_path: Path, out: Path,
                features: list[dict] | None) -> Inputs:
    """Messages, the profile built on all of them, and one feature dict per message (disk cache)."""
    t0 = time.perf_counter()
    messages = read_messages(messages_path)
    if not any(m["user"] == author for m in messages):
        raise InputError(f"{messages_path}: no messages by --author {author!r}")
    profile = read_json(profile_path)
    if not is_profile(profile):
        raise InputError(f"{profile_path}: not a style profile (no schema_version/families)")
    if str(profile.get("author", author)) != author:
        raise InputError(f"{profile_path}: profile is for author {profile.get('author')!r}, not {author!r}")
    if features is not None and len(features) != len(messages):
        raise InputError(f"{len(features)} feature dicts for {len(messages)} messages")
    feats = features if features is not None else cached_features(
        messages_path, [m["text"] for m in messages], out.parent / ".cache")
    return Inputs(messages_path, profile_path, author, messages, profile, feats, time.perf_counter() - t0)


def prepare_search(inputs: Inputs, s: Settings, out: Path) -> tuple[CalibrationData, WeightSearch, str, float]:
    """Folds and component matrices once, then the study: (data, search, storage URL, prepare seconds)."""
    t0 = time.perf_counter()
    settings = inputs.profile.get("settings", {})
    data = prepare(inputs.messages, inputs.feats, inputs.author, k=s.folds, seed=s.seed,
                   background_per_fold=s.background_per_fold,
                   profile_kwargs={k: settings[k] for k in ("top_vocab", "min_count", "min_users") if k in settings})
    prepare_s = time.perf_counter() - t0
    space = weight_space()
    storage = s.storage or default_storage(out)
    code = feature_code_digest() + file_md5(scoring_module.__file__)[:12]  # features + scoring define a trial's value
    name = s.study_name or default_study_name(inputs.author, data.digest, [p for p, *_ in space], code)
    search = open_weight_search(storage, name, seed=s.seed, folds=s.folds, digest=data.digest, space=space,
                                objective=Objective(data, gaming_penalty=s.gaming_penalty), trials=s.trials)
    return data, search, storage, prepare_s


def compute(inputs: Inputs, s: Settings, data: CalibrationData, search: WeightSearch, run_id: str | None, *,
            prepare_s: float) -> Result:
    """The missing trials (each recorded live as a child of `run_id`), then the best weights' bundle."""
    recorder = Recorder(search.study, run_id, search.space, target=s.trials, worker=search.worker,
                        study_key=search.key)
    t_search = run_trials(search, recorder)
    objective, best = search.objective, search.study.best_trial
    weights = objective.with_scale(weights_from_params(best.params, search.space))
    best_ev = objective(weights)
    scores = objective.scores(weights)[0]
    held_target = scores[data.labels == 1]
    meta = {"calibration": {"study": search.name, "trial": best.number, "heldout_digest": data.digest,
                            "cv_auc": round(best_ev.mean_auc, 6), "folds": s.folds, "seed": s.seed,
                            # the target's own held-out messages: the hacking ceiling's reference
                            "target_quantiles": {f"p{q}": round(float(np.quantile(held_target, q / 100)), 6)
                                                 for q in (50, 90, 99)}}}
    profile = with_floor(inputs.profile, [f for f, m in zip(inputs.feats, inputs.messages)
                                          if m["user"] == inputs.author])
    bundle = make_bundle(profile, weights, meta=meta, relevance=s.relevance)
    summary = {
        "best_auc": round(best_ev.mean_auc, 6),
        "best_value": round(best_ev.value, 6),
        "best_fold_aucs": [round(a, 6) for a in best_ev.fold_aucs],
        "best_trial": best.number,
        "gaming_above_median": round(best_ev.gaming_above_median, 6),
        "default_weights_auc": round(objective(dict(DEFAULT_WEIGHTS)).mean_auc, 6),
        "target_median": round(float(np.median(held_target)), 6),
        "background_median": round(float(np.median(scores[data.labels == 0])), 6),
        "trials": n_complete(search.study),
        "trials_run": recorder.added,
        "trials_per_s": round(recorder.added / t_search, 2) if recorder.added and t_search > 0 else None,
        "features_s": round(inputs.features_s, 2),
        "prepare_s": round(prepare_s, 2),
        "grader_version": bundle["version"],
        "heldout_digest": data.digest,
        "study": search.name,
    }
    return Result(bundle, weights, summary, search, best_ev, data)


def gate(result: Result) -> Verdict:
    return PASS  # the bundle is gated by the check stage, on held-out data and a red team


def write_outputs(result: Result, out: Path, *, metrics: Path | None, headline: Path | None,
                  plots_dir: Path | None) -> list[Path]:
    """The bundle, the summary (no timings: a DVC output), the headline and Optuna's plots (when a
    folder is given)."""
    write_bundle(out, result.bundle)
    if metrics:
        write_json(metrics, {k: v for k, v in result.summary.items() if k not in TIMINGS})
    if headline:
        write_headline(headline, "calibrate", result.summary)
    return save_plots(result.search.study, plots_dir, HISTORY) if plots_dir else []


def record(result: Result, out: Path, plots: list[Path], *, register: bool) -> None:
    summary = result.summary
    tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float)) and v is not None})
    tracking.log_metrics({f"best_fold_{i}_auc": a for i, a in enumerate(summary["best_fold_aucs"])})
    tracking.log_params({f"best.{k}": v for k, v in result.weights.items()})
    tracking.set_tags({contracts.GRADER_VERSION: summary["grader_version"]})
    tracking.log_dict(result.weights, "best_weights.json")
    for png in plots:
        tracking.log_artifact(png, "optuna")
    tracking.log_artifact(out, "grader")
    if register:
        summary["registry"] = register_candidate(out, result.bundle, result.search.objective, result.best,
                                                 result.data.digest)


def run(messages_path: str | os.PathLike, author: str, profile_path: str | os.PathLike, out: str | os.PathLike,
        *, trials: int, seed: int = 0, folds: int = 5, storage: str | None = None, study_name: str | None = None,
        gaming_penalty: float = 1.0, background_per_fold: int | None = None, metrics_path: str | os.PathLike | None = None,
        headline: str | os.PathLike | None = None, plots_dir: str | os.PathLike | None = None, register: bool = True,
        track: bool = True, features: list[dict] | None = None, relevance: Any = "params") -> dict[str, Any]:
    """Search weights, write the bundle to `out`; returns the summary written to `metrics_path`.

    `features` (one `extract()` dict per message, in file order) skips the feature cache; benchmarks
    that calibrate many subsets of one corpus pass them in. `relevance`: the bundle's relevance judge
    (grader/relevance.py); "params" takes params.yaml `relevance`, None writes a style-only bundle.
    """
    out = Path(out)
    inputs = read_inputs(Path(messages_path), author, Path(profile_path), out, features)
    s = Settings(trials, seed, folds, storage, study_name, gaming_penalty, background_per_fold,
                 load_params().relevance.bundle_block() if relevance == "params" else relevance)
    data, search, storage, prepare_s = prepare_search(inputs, s, out)
    run_params = {
        "author": author, "trials": trials, "seed": seed, "folds": folds, "storage": redact(storage),
        "study_name": search.name, "gaming_penalty": gaming_penalty, "background_per_fold": background_per_fold,
        "n_messages": len(inputs.messages), "n_heldout": int(len(data.labels)), "n_gaming": int(len(data.G)),
        "components": ",".join(data.names),
    }
    tags = {"rftlab.heldout_digest": data.digest, contracts.STUDY: search.name, contracts.STUDY_KEY: search.key,
            "rftlab.worker": str(search.worker)}
    with stage_record(KIND, track=track, run_name=f"calibrate-{author}", params=run_params, tags=tags,
                      deps={"messages": inputs.messages_path, "profile": inputs.profile_path}) as run_:
        if run_ is not None:
            tracking.log_input_file(inputs.messages_path, name="messages", context="calibration")
        result = compute(inputs, s, data, search, run_.info.run_id if run_ is not None else None,
                         prepare_s=prepare_s)
        verdict = gate(result)
        plots = write_outputs(result, out, metrics=Path(metrics_path) if metrics_path else None,
                              headline=Path(headline) if headline else None,
                              plots_dir=Path(plots_dir) if plots_dir else (out.parent / "plots" if track else None))
        if run_ is not None:
            record(result, out, plots, register=register)
        log.info("calibrated: AUC %.4f after %d trials -> %s", result.best.mean_auc, result.summary["trials"], out)
    verdict.raise_if_failed(KIND)
    return result.summary
