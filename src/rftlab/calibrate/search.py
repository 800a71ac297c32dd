"""`rftlab calibrate`: Optuna weight search on held-out separation -> grader bundle.

Flow: features once (disk cache) -> per-fold profiles and component matrices once ->
TPE trials that only re-weight -> best weights + the full-data profile -> bundle.
One MLflow parent run (kind `calibration`); each trial a child run (`calibration-trial`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rftlab.calibrate.objective import Evaluation, Objective, params_of, suggest, weight_space
from rftlab.calibrate.recorder import Recorder
from rftlab.calibrate.study import ROLE, default_storage, default_study_name, open_study, working_copy
from rftlab.errors import InputError
from rftlab.io import read_json, read_messages, write_json
from rftlab.studies.plots import HISTORY, save_plots
from rftlab.studies.study import n_complete
from rftlab.studies.urls import redact, study_key
from rftlab.studies.workers import claim_worker

log = logging.getLogger(__name__)

TIMINGS = ("trials_per_s", "features_s", "prepare_s")  # wall time: logged to MLflow, kept out of the metrics file


def weights_from_params(params: dict[str, float], space: list) -> dict[str, float]:
    from rftlab.grader.scoring import DEFAULT_WEIGHTS

    weights = {k: float(v) for k, v in DEFAULT_WEIGHTS.items()}
    for param, key, *_ in space:
        if param in params:
            weights[key] = float(params[param])
    return weights


def load_inputs(messages_path: Path, author: str, profile_path: Path) -> tuple[list[dict], dict]:
    from rftlab.style.profile import is_profile

    messages = read_messages(messages_path)
    if not any(m["user"] == author for m in messages):
        raise InputError(f"{messages_path}: no messages by --author {author!r}")
    profile = read_json(profile_path)
    if not is_profile(profile):
        raise InputError(f"{profile_path}: not a style profile (no schema_version/families)")
    if str(profile.get("author", author)) != author:
        raise InputError(f"{profile_path}: profile is for author {profile.get('author')!r}, not {author!r}")
    return messages, profile


def trial_record(ev: Evaluation) -> dict[str, Any]:
    rec = asdict(ev)
    rec["fold_aucs"] = list(ev.fold_aucs)
    return rec


def calibrate(
    messages_path: str | os.PathLike,
    author: str,
    profile_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    trials: int,
    seed: int = 0,
    folds: int = 5,
    storage: str | None = None,
    study_name: str | None = None,
    gaming_penalty: float = 1.0,
    background_per_fold: int | None = None,
    metrics_path: str | os.PathLike | None = None,
    plots_dir: str | os.PathLike | None = None,
    register: bool = True,
    track: bool = True,
    features: list[dict] | None = None,
    relevance: Any = "params",
) -> dict[str, Any]:
    """Search weights, write the bundle to `out`; returns the summary written to `metrics_path`.

    `features` (one `extract()` dict per message, in file order) skips the feature cache;
    benchmarks that calibrate many subsets of one corpus pass them in. `relevance`: the
    bundle's relevance judge (grader/relevance.py); "params" takes params.yaml `relevance`,
    None writes a style-only bundle.
    """
    from rftlab import tracking
    from rftlab.calibrate.cache import cached_features, feature_code_digest
    from rftlab.calibrate.folds import prepare
    from rftlab.grader.bundle import make_bundle, write_bundle
    from rftlab.grader import scoring as scoring_mod
    from rftlab.grader.scoring import DEFAULT_WEIGHTS
    from rftlab.io import file_md5

    t0 = time.perf_counter()
    messages_path, profile_path, out = Path(messages_path), Path(profile_path), Path(out)
    messages, profile = load_inputs(messages_path, author, profile_path)
    settings = profile.get("settings", {})
    profile_kwargs = {k: settings[k] for k in ("top_vocab", "min_count", "min_users") if k in settings}
    if features is not None and len(features) != len(messages):
        raise InputError(f"{len(features)} feature dicts for {len(messages)} messages")
    feats = features if features is not None else cached_features(
        messages_path, [m["text"] for m in messages], out.parent / ".cache")
    t_feat = time.perf_counter() - t0
    data = prepare(
        messages, feats, author, k=folds, seed=seed,
        background_per_fold=background_per_fold, profile_kwargs=profile_kwargs,
    )
    t_prep = time.perf_counter() - t0 - t_feat
    objective = Objective(data, gaming_penalty=gaming_penalty)
    space = weight_space()
    storage = storage or default_storage(out)
    code = feature_code_digest() + file_md5(scoring_mod.__file__)[:12]  # features + scoring define a trial's value
    name = study_name or default_study_name(author, data.digest, [p for p, *_ in space], code)
    study = open_study(storage, name, digest=data.digest, space=[p for p, *_ in space], folds=folds)
    worker = claim_worker(storage, name, ROLE)  # a second worker on this study samples elsewhere (study.py)
    work = working_copy(study, seed, worker)
    if len(study.trials) == 0 and worker == 0:  # trial 0: the grader's hand-set weights, the baseline to beat
        work.enqueue_trial(params_of(DEFAULT_WEIGHTS, space), user_attrs={"source": "default_weights"})
    remaining = max(0, trials - n_complete(study))
    run_params = {
        "author": author, "trials": trials, "seed": seed, "folds": folds, "storage": redact(storage),
        "study_name": name, "gaming_penalty": gaming_penalty, "background_per_fold": background_per_fold,
        "n_messages": len(messages), "n_heldout": int(len(data.labels)), "n_gaming": int(len(data.G)),
        "components": ",".join(data.names),
    }
    key = study_key(storage, name)  # the study's identity in records: its storage and its name
    tags = {"rftlab.heldout_digest": data.digest, tracking.STUDY: name, tracking.STUDY_KEY: key,
            "rftlab.worker": str(worker)}

    def run_trial(trial: Any) -> float:
        weights = objective.with_scale(suggest(trial, space))
        ev = objective(weights)
        trial.set_user_attr("eval", trial_record(ev))
        trial.set_user_attr("weights", weights)
        return ev.value

    summary: dict[str, Any] = {}
    ctx = (tracking.stage_run("calibration", run_name=f"calibrate-{author}", params=run_params, tags=tags,
                              deps={"messages": messages_path, "profile": profile_path})
           if track else contextlib.nullcontext())
    with ctx as run:
        if run is not None:
            tracking.log_input_file(messages_path, name="messages", context="calibration")
        recorder = Recorder(study, run.info.run_id if run is not None else None, space, target=trials, worker=worker,
                            study_key=key)
        t1 = time.perf_counter()
        try:
            if remaining:
                work.optimize(run_trial, n_trials=remaining, callbacks=[recorder.submit], gc_after_trial=False)
        finally:
            t_search = time.perf_counter() - t1
            recorder.close()  # also on Ctrl-C: every finished trial reaches storage and MLflow
        best = study.best_trial
        weights = objective.with_scale(weights_from_params(best.params, space))
        best_ev = objective(weights)
        held_target = objective.scores(weights)[0][data.labels == 1]
        meta = {"calibration": {"study": name, "trial": best.number, "heldout_digest": data.digest,
                                "cv_auc": round(best_ev.mean_auc, 6), "folds": folds, "seed": seed,
                                # the target's own held-out messages: the hacking ceiling's reference
                                "target_quantiles": {f"p{q}": round(float(np.quantile(held_target, q / 100)), 6)
                                                     for q in (50, 90, 99)}}}
        if relevance == "params":
            from rftlab.config import load_params

            relevance = load_params().relevance.bundle_block()
        from rftlab.grader.fluency import with_floor

        profile = with_floor(profile, [f for f, m in zip(feats, messages) if m["user"] == author])
        bundle = make_bundle(profile, weights, meta=meta, relevance=relevance)
        write_bundle(out, bundle)
        summary = {
            "best_auc": round(best_ev.mean_auc, 6),
            "best_value": round(best_ev.value, 6),
            "best_fold_aucs": [round(a, 6) for a in best_ev.fold_aucs],
            "best_trial": best.number,
            "gaming_above_median": round(best_ev.gaming_above_median, 6),
            "default_weights_auc": round(objective(dict(DEFAULT_WEIGHTS)).mean_auc, 6),
            "target_median": round(float(np.median(objective.scores(weights)[0][data.labels == 1])), 6),
            "background_median": round(float(np.median(objective.scores(weights)[0][data.labels == 0])), 6),
            "trials": n_complete(study),
            "trials_run": recorder.added,
            "trials_per_s": round(recorder.added / t_search, 2) if recorder.added and t_search > 0 else None,
            "features_s": round(t_feat, 2),
            "prepare_s": round(t_prep, 2),
            "grader_version": bundle["version"],
            "heldout_digest": data.digest,
            "study": name,
        }
        if metrics_path:  # a DVC output: no timings (they stay in MLflow), so a rerun writes the same bytes
            write_json(metrics_path, {k: v for k, v in summary.items() if k not in TIMINGS})
        if run is not None:
            _log_parent(study, summary, weights, plots_dir, out)
            if register:
                from rftlab.calibrate.champion import register_candidate

                summary["registry"] = register_candidate(out, bundle, objective, best_ev, data.digest)
        log.info("calibrated: AUC %.4f after %d trials -> %s", best_ev.mean_auc, summary["trials"], out)
    return summary


def _log_parent(study: Any, summary: dict, weights: dict, plots_dir: Any, out: Path) -> None:
    from rftlab import tracking

    tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float)) and v is not None})
    tracking.log_metrics({f"best_fold_{i}_auc": a for i, a in enumerate(summary["best_fold_aucs"])})
    tracking.log_params({f"best.{k}": v for k, v in weights.items()})
    tracking.set_tags({tracking.GRADER_VERSION: summary["grader_version"]})
    tracking.log_dict(weights, "best_weights.json")
    folder = Path(plots_dir) if plots_dir else out.parent / "plots"
    for png in save_plots(study, folder, HISTORY):
        tracking.log_artifact(png, "optuna")
    tracking.log_artifact(out, "grader")
