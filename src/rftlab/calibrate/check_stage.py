"""The `check` stage (dvc.yaml `check`, `rftlab grader check`): the grader's self-test gate before any
RFT job. Shape: rftlab.stage (docs/architecture.md).

Every number is measured on held-out data: the bundle's weights are applied to component matrices
built with per-fold profiles (the same machinery as calibration), so the AUC, histograms, ROC curve,
gaming scores and group spread describe texts the profile never saw. Reference answers (optional
prompts file) are scored by the bundle itself, as the trainer will score them; the red team
(calibrate/attack.py) searches for texts that beat the target's real replies.

The gate also decides the registry's `champion` (rftlab.calibrate.champion): when the bundle is the
project's pipeline bundle and calibrate registered it, the version is tagged with the verdict, and
only a passing one can take the alias.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rftlab import contracts, tracking
from rftlab.calibrate.cache import cached_features
from rftlab.calibrate.champion import after_gate
from rftlab.calibrate.check import (
    gaming_quantiles,
    red_team,
    reference_share,
    write_plots,
)
from rftlab.calibrate.folds import CalibrationData, prepare
from rftlab.calibrate.metrics import group_spread
from rftlab.calibrate.objective import Objective
from rftlab.config import CheckParams, load_params
from rftlab.errors import InputError
from rftlab.grader.bundle import load_grader
from rftlab.grader.scoring import combine_matrix, components
from rftlab.headline import write_headline
from rftlab.io import read_messages, write_json
from rftlab.stage import Check, Verdict, stage_record

KIND = contracts.GRADER_CHECK


@dataclass
class Inputs:
    grader_path: Path
    messages_path: Path
    prompts_path: Path | None
    grader: Any
    author: str
    messages: list[dict]
    data: CalibrationData
    feats: list[dict]


@dataclass
class Result:
    metrics: dict[str, Any]
    scores: np.ndarray
    gaming: np.ndarray
    attacks: dict[str, Any] | None = None
    checks: list[Check] = field(default_factory=list)
    report: str = ""


def read_inputs(grader_path: Path, messages_path: Path, prompts_path: Path | None, author: str | None,
                cfg: CheckParams) -> Inputs:
    grader = load_grader(grader_path)
    author = author or str(grader.profile.get("author", ""))
    messages = read_messages(messages_path)
    if not any(m["user"] == author for m in messages):
        raise InputError(f"{messages_path}: no messages by author {author!r} (pass --author)")
    feats = cached_features(messages_path, [m["text"] for m in messages], grader_path.parent / ".cache")
    settings = grader.profile.get("settings", {})
    data = prepare(messages, feats, author, k=cfg.folds, seed=cfg.seed,
                   profile_kwargs={k: settings[k] for k in ("top_vocab", "min_count", "min_users") if k in settings})
    return Inputs(grader_path, messages_path, prompts_path, grader, author, messages, data, feats)


def compute(inputs: Inputs, cfg: CheckParams) -> Result:
    grader, data = inputs.grader, inputs.data
    weights = dict(grader.weights)
    ev = Objective(data, gaming_penalty=0.0)(weights)
    s, g = Objective(data).scores(weights)
    gq = gaming_quantiles(s, data.labels, data.fold, g, data.gaming_fold, data.gaming_kind)
    spread = group_spread(s, data.meta["groups"])
    checks = [Check("heldout_auc", ev.mean_auc, cfg.min_auc, "min"),
              Check("gaming_max_quantile", max(gq.values()) if gq else 0.0, cfg.max_gaming_quantile, "max"),
              Check("group_spread", spread, cfg.min_group_spread, "min")]
    metrics: dict[str, Any] = {
        "heldout_auc": round(ev.mean_auc, 6),
        "fold_aucs": [round(a, 6) for a in ev.fold_aucs],
        "gaming": {k: round(v, 6) for k, v in sorted(gq.items())},
        "gaming_max_quantile": round(max(gq.values()) if gq else 0.0, 6),
        "group_spread": round(spread, 6) if np.isfinite(spread) else None,
        "target_median": round(float(np.median(s[data.labels == 1])), 6),
        "background_median": round(float(np.median(s[data.labels == 0])), 6),
        "n_heldout": int(len(s)),
        "grader_version": grader.version,
    }
    attacks = None
    if inputs.prompts_path is not None:
        bg_idx = [i for i, m in enumerate(inputs.messages) if m["user"] != inputs.author][:3000]
        bg_c = np.array([[components(inputs.feats[i], grader.profile).get(n, 0.0) for n in data.names]
                         for i in bg_idx])
        share, n_refs = reference_share(inputs.prompts_path, grader, combine_matrix(bg_c, data.names, weights))
        checks.append(Check("reference_top_decile", share, cfg.min_reference_top_decile, "min"))
        metrics.update({"reference_top_decile": round(share, 6), "n_references": n_refs})
        if cfg.attack.budget > 0:
            genuine = [m["text"] for m in inputs.messages if m["user"] == inputs.author]
            attacks = red_team(inputs.grader_path, inputs.prompts_path, genuine, cfg.attack.model_dump())
            checks.append(Check("attack_max_quantile", attacks["quantile"], cfg.attack.max_quantile, "max"))
            metrics["attack"] = {k: v for k, v in attacks.items() if k not in ("attacks", "trace")}
    return Result(metrics, s, g, attacks, checks)


def gate(result: Result, folds: int) -> Verdict:
    verdict = Verdict(tuple(result.checks))
    m = result.metrics
    m["passed"], m["checks"] = verdict.passed, verdict.as_dict()
    result.report = "\n".join([f"grader check ({m['grader_version']}, {m['n_heldout']} held-out texts, {folds} folds):",
                               *verdict.lines()])
    if result.attacks is not None:
        best, a = result.attacks["attacks"][0], result.attacks
        result.report += (f"\nattack: best {best['kind']} {best['score']:.4f} (style {best.get('style', 0.0):.4f}) vs "
                          f"the target's median real score {a['bar']:.4f} after {a['calls']} grader calls: "
                          f"{best['text'][:80]!r}")
    return verdict


def write_outputs(result: Result, inputs: Inputs, *, metrics: Path | None, headline: Path | None,
                  plots_dir: Path | None) -> list[Path]:
    if metrics:
        write_json(metrics, result.metrics)
    if headline:
        write_headline(headline, "check", result.metrics)
    if not plots_dir:
        return []
    files = write_plots(plots_dir, result.scores, inputs.data.labels, result.gaming, inputs.data.gaming_kind)
    if result.attacks is not None:
        write_json(plots_dir / "attacks.json", result.attacks)
    return files


def record(result: Result, inputs: Inputs, verdict: Verdict, plots: list[Path], *, promote: bool) -> None:
    m = result.metrics
    if result.attacks is not None:
        tracking.log_dict(result.attacks, "check/attacks.json")  # the best attack texts, for a reader to see
        tracking.log_metrics({f"attack.{k}": v for k, v in m["attack"].items() if isinstance(v, (int, float))})
    tracking.log_metrics({k: v for k, v in m.items() if isinstance(v, (int, float)) and v is not None})
    tracking.log_metrics({f"gaming.{k}": v for k, v in m["gaming"].items()})
    for path in plots:
        tracking.log_artifact(path, "check")
    tracking.log_text(result.report + "\n", "check_report.txt")
    tracking.set_tags({"rftlab.check_passed": str(verdict.passed).lower()})
    if promote:
        registry = after_gate(inputs.grader_path, inputs.grader.version, verdict.passed, Objective(inputs.data),
                              dict(inputs.grader.weights), inputs.data.digest)
        if registry is not None:
            m["registry"] = registry
            result.report += f"\nregistry: {registry['model']} v{registry['version']}: {registry['decision']}"


def run(grader_path: str | os.PathLike, messages_path: str | os.PathLike, *, cfg: CheckParams | None = None,
        author: str | None = None, prompts_path: str | os.PathLike | None = None,
        metrics_path: str | os.PathLike | None = None, headline: str | os.PathLike | None = None,
        plots_dir: str | os.PathLike | None = None, track: bool = True, promote: bool | None = None) -> dict[str, Any]:
    """Run every check, write metrics and plots, log an MLflow run; raise GateFailed on any failure.

    `cfg`: params `check` (thresholds, folds, the red team); default params.yaml's. `promote`
    (default: params tracking.register_models; needs `track`): record the verdict on the registered
    pipeline version and promote it to champion when the gate passes.
    """
    cfg = cfg or load_params().check
    inputs = read_inputs(Path(grader_path), Path(messages_path), Path(prompts_path) if prompts_path else None,
                         author, cfg)
    settings = {"author": inputs.author, "folds": cfg.folds, "seed": cfg.seed, "min_auc": cfg.min_auc,
                "max_gaming_quantile": cfg.max_gaming_quantile, "min_group_spread": cfg.min_group_spread,
                "min_reference_top_decile": cfg.min_reference_top_decile}
    tags = {contracts.GRADER_VERSION: inputs.grader.version, "rftlab.heldout_digest": inputs.data.digest}
    with stage_record(KIND, track=track, run_name=f"check-{inputs.grader.version}", params=settings, tags=tags,
                      deps={"grader": inputs.grader_path, "messages": inputs.messages_path}) as run_:
        result = compute(inputs, cfg)
        verdict = gate(result, cfg.folds)
        plots = write_outputs(result, inputs, metrics=Path(metrics_path) if metrics_path else None,
                              headline=Path(headline) if headline else None,
                              plots_dir=Path(plots_dir) if plots_dir else None)
        if run_ is not None:
            record(result, inputs, verdict, plots,
                   promote=promote if promote is not None else load_params().tracking.register_models)
    verdict.raise_if_failed("grader check", result.report)
    return {**result.metrics, "report": result.report}
