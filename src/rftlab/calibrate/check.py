"""`rftlab grader check`: the self-test gate before any RFT job.

Every number is measured on held-out data: the bundle's weights are applied to
component matrices built with per-fold profiles (the same machinery as calibration), so
the AUC, histograms, ROC curve, gaming scores and group spread describe texts the
profile never saw. Reference answers (optional prompts file) are scored by the bundle
itself, as the trainer will score them.

The gate also decides the registry's `champion` (rftlab.calibrate.champion): when the bundle
is the project's pipeline bundle and calibrate registered it, the version is tagged with the
verdict, and only a passing one can take the alias.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rftlab.calibrate.metrics import group_spread, histogram_rows, roc_curve
from rftlab.errors import GateFailed, InputError
from rftlab.io import iter_jsonl, read_messages, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    threshold: float
    kind: str  # "min": value must be >= threshold; "max": value must be < threshold

    @property
    def passed(self) -> bool:
        if not np.isfinite(self.value):
            return False
        return self.value >= self.threshold if self.kind == "min" else self.value < self.threshold

    def line(self) -> str:
        op = ">=" if self.kind == "min" else "<"
        verdict = "ok  " if self.passed else "FAIL"
        gap = "" if self.passed else f"  (off by {abs(self.value - self.threshold):.4f})"
        return f"{verdict} {self.name:<24} {self.value:.4f}  needs {op} {self.threshold:g}{gap}"


def gaming_quantiles(scores: np.ndarray, labels: np.ndarray, fold: np.ndarray,
                     g: np.ndarray, g_fold: np.ndarray, g_kind: list[str]) -> dict[str, float]:
    """Per gaming kind, the worst quantile its texts reach among the target's held-out scores."""
    out: dict[str, float] = {}
    for i, kind in enumerate(g_kind):
        target = np.sort(scores[(fold == g_fold[i]) & (labels == 1)])
        if not len(target):
            continue
        q = float(np.searchsorted(target, g[i], side="right")) / len(target)
        out[kind] = max(out.get(kind, 0.0), q)
    return out


def read_references(path: Path) -> tuple[list[str], list[str | None]]:
    """(reference answers, their prompts) of a prompts file; InputError when it has none."""
    refs, prompts = [], []
    for row in iter_jsonl(path):
        ref = row.get("reference_answer")
        if isinstance(ref, dict):
            ref = ref.get("text") or ref.get("content") or next((v for v in ref.values() if isinstance(v, str)), None)
        if not isinstance(ref, str) or not ref.strip():
            continue
        user = [m.get("content") for m in row.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        refs.append(ref)
        prompts.append(user[-1] if user and isinstance(user[-1], str) else None)
    if not refs:
        raise InputError(f"{path}: no records with a reference_answer")
    return refs, prompts


def reference_share(path: Path, grader: Any, background: np.ndarray) -> tuple[float, int]:
    """Share of reference answers scoring in the top decile of the background's scores."""
    refs, prompts = read_references(path)
    scores = np.array([grader.score(r, prompt=p)[0] for r, p in zip(refs, prompts)])
    cut = float(np.quantile(background, 0.9))
    return float((scores >= cut).mean()), len(refs)


def grader_check(
    grader_path: str | os.PathLike,
    messages_path: str | os.PathLike,
    *,
    author: str | None = None,
    prompts_path: str | os.PathLike | None = None,
    min_auc: float = 0.8,
    max_gaming_quantile: float = 0.5,
    min_group_spread: float = 0.02,
    min_reference_top_decile: float = 0.5,
    folds: int = 5,
    seed: int = 0,
    metrics_path: str | os.PathLike | None = None,
    plots_dir: str | os.PathLike | None = None,
    track: bool = True,
    promote: bool | None = None,
    attack: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every check, write metrics/plots, log an MLflow run; raise GateFailed on any failure.

    `promote` (default: params tracking.register_models; needs `track`): record the verdict on
    the registered pipeline version and promote it to champion when the gate passes.
    `attack` (params check.attack: budget, seeds, panel, eval_prompts, max_quantile; needs
    `prompts_path`): the red team of calibrate/attack.py; its best text must stay below the
    `max_quantile` quantile of the target's real replies' scores.
    """
    import contextlib

    from rftlab import tracking
    from rftlab.calibrate.cache import cached_features
    from rftlab.calibrate.folds import prepare
    from rftlab.calibrate.objective import Objective
    from rftlab.grader.bundle import load_grader
    from rftlab.grader.scoring import combine_matrix, components

    grader_path, messages_path = Path(grader_path), Path(messages_path)
    grader = load_grader(grader_path)
    author = author or str(grader.profile.get("author", ""))
    messages = read_messages(messages_path)
    if not any(m["user"] == author for m in messages):
        raise InputError(f"{messages_path}: no messages by author {author!r} (pass --author)")
    feats = cached_features(messages_path, [m["text"] for m in messages], grader_path.parent / ".cache")
    settings = grader.profile.get("settings", {})
    data = prepare(messages, feats, author, k=folds, seed=seed,
                   profile_kwargs={k: settings[k] for k in ("top_vocab", "min_count", "min_users") if k in settings})
    weights = dict(grader.weights)
    ev = Objective(data, gaming_penalty=0.0)(weights)
    s, g = Objective(data).scores(weights)
    gq = gaming_quantiles(s, data.labels, data.fold, g, data.gaming_fold, data.gaming_kind)
    spread = group_spread(s, data.meta["groups"])
    checks = [
        Check("heldout_auc", ev.mean_auc, min_auc, "min"),
        Check("gaming_max_quantile", max(gq.values()) if gq else 0.0, max_gaming_quantile, "max"),
        Check("group_spread", spread, min_group_spread, "min"),
    ]
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
    if prompts_path is not None:
        bg_idx = [i for i, m in enumerate(messages) if m["user"] != author][:3000]
        names = data.names
        bg_c = np.array([[components(feats[i], grader.profile).get(n, 0.0) for n in names] for i in bg_idx])
        share, n_refs = reference_share(Path(prompts_path), grader, combine_matrix(bg_c, names, weights))
        checks.append(Check("reference_top_decile", share, min_reference_top_decile, "min"))
        metrics.update({"reference_top_decile": round(share, 6), "n_references": n_refs})
    attacks: dict[str, Any] | None = None
    if prompts_path is not None and attack and int(attack.get("budget", 0)) > 0:
        attacks = _attack(grader_path, Path(prompts_path), [m["text"] for m in messages if m["user"] == author],
                          attack)
        checks.append(Check("attack_max_quantile", attacks["quantile"], float(attack.get("max_quantile", 0.5)), "max"))
        metrics["attack"] = {k: v for k, v in attacks.items() if k not in ("attacks", "trace")}
    metrics["passed"] = all(c.passed for c in checks)
    metrics["checks"] = {c.name: {"value": round(float(c.value), 6) if np.isfinite(c.value) else None,
                                  "threshold": c.threshold, "passed": c.passed} for c in checks}
    report = "\n".join([f"grader check ({grader.version}, {len(s)} held-out texts, {folds} folds):",
                        *(c.line() for c in checks)])
    if attacks is not None:
        best = attacks["attacks"][0]
        report += (f"\nattack: best {best['kind']} {best['score']:.4f} (style {best.get('style', 0.0):.4f}) vs the "
                   f"target's median real score {attacks['bar']:.4f} after {attacks['calls']} grader calls: "
                   f"{best['text'][:80]!r}")
    ctx = (tracking.stage_run("grader-check", run_name=f"check-{grader.version}",
                              params={"author": author, "folds": folds, "seed": seed, "min_auc": min_auc,
                                      "max_gaming_quantile": max_gaming_quantile,
                                      "min_group_spread": min_group_spread,
                                      "min_reference_top_decile": min_reference_top_decile},
                              tags={tracking.GRADER_VERSION: grader.version,
                                    "rftlab.heldout_digest": data.digest},
                              deps={"grader": grader_path, "messages": messages_path})
           if track else contextlib.nullcontext())
    with ctx as run:
        if metrics_path:
            write_json(metrics_path, metrics)
        if plots_dir:
            _write_plots(Path(plots_dir), s, data.labels, g, data.gaming_kind, run is not None)
            if attacks is not None:
                write_json(Path(plots_dir) / "attacks.json", attacks)
        if run is not None and attacks is not None:
            tracking.log_dict(attacks, "check/attacks.json")  # the best attack texts, for a reader to see
            tracking.log_metrics({f"attack.{k}": v for k, v in metrics["attack"].items() if isinstance(v, (int, float))})
        if run is not None:
            tracking.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and v is not None})
            tracking.log_metrics({f"gaming.{k}": v for k, v in gq.items()})
            tracking.log_text(report + "\n", "check_report.txt")
            tracking.set_tags({"rftlab.check_passed": str(metrics["passed"]).lower()})
            if promote is None:
                from rftlab.config import load_params

                promote = load_params().tracking.register_models
            if promote:
                from rftlab.calibrate.champion import after_gate

                registry = after_gate(grader_path, grader.version, metrics["passed"], Objective(data), weights,
                                      data.digest)
                if registry is not None:
                    metrics["registry"] = registry
                    report += f"\nregistry: {registry['model']} v{registry['version']}: {registry['decision']}"
    metrics["report"] = report
    if not metrics["passed"]:
        failed = "; ".join(f"{c.name} {c.value:.4f} {'<' if c.kind == 'min' else '>='} threshold {c.threshold:g}"
                           for c in checks if not c.passed)
        raise GateFailed(f"grader check failed: {failed}\n{report}")
    return metrics


def _attack(grader_path: Path, prompts_path: Path, genuine: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """Run the red team against the grader offline (the relevance proxy in place of any Bedrock judge)."""
    from rftlab.calibrate.attack import gate_attack
    from rftlab.grader.bundle import load_grader

    grader = load_grader(grader_path).offline()
    refs, ref_prompts = read_references(prompts_path)
    report, real = gate_attack(grader, refs, ref_prompts, genuine, budget=int(settings.get("budget", 6000)),
                               seeds=list(settings.get("seeds", [0, 1, 2])), panel=int(settings.get("panel", 4)),
                               eval_prompts=int(settings.get("eval_prompts", 32)))
    best = report.best()
    score = best.score if best is not None else 0.0
    quantile = float(np.searchsorted(np.array(real), score, side="right")) / len(real)
    return {**report.summary(), "quantile": round(quantile, 6), "real_p90": round(float(np.quantile(real, 0.9)), 6),
            "real_max": round(max(real), 6), "attacks": [a.to_dict() for a in report.attacks[:20]],
            "trace": {str(k): v for k, v in report.trace.items()}}


def _write_plots(folder: Path, s: np.ndarray, labels: np.ndarray, g: np.ndarray,
                 kinds: list[str], log_to_mlflow: bool) -> None:
    """DVC plot data (JSON rows) and PNGs: ROC curve, score histograms, gaming scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rftlab import tracking
    from rftlab.io import atomic_path

    roc = roc_curve(s, labels)
    hist = histogram_rows({"target": s[labels == 1], "background": s[labels == 0], "gaming": g})
    write_json(folder / "roc.json", roc)
    write_json(folder / "scores.json", hist)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    axes[0].plot([r["fpr"] for r in roc], [r["tpr"] for r in roc], lw=2)
    axes[0].plot([0, 1], [0, 1], "k--", lw=0.8)
    axes[0].set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (held-out)")
    bins = np.linspace(0, 1, 21)
    axes[1].hist(s[labels == 0], bins=bins, alpha=0.6, density=True, label="background")
    axes[1].hist(s[labels == 1], bins=bins, alpha=0.6, density=True, label="target")
    axes[1].set(xlabel="score", title="held-out score distribution")
    axes[1].legend()
    uniq = sorted(set(kinds))
    axes[2].boxplot([g[[k == u for k in kinds]] for u in uniq], vert=False)
    axes[2].set_yticks(range(1, len(uniq) + 1), uniq, fontsize=8)
    axes[2].axvline(float(np.median(s[labels == 1])), color="r", ls="--", label="target median")
    axes[2].set(xlabel="score", title="gaming attempts")
    axes[2].legend()
    fig.tight_layout()
    with atomic_path(folder / "check.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    if log_to_mlflow:
        for name in ("roc.json", "scores.json", "check.png"):
            tracking.log_artifact(folder / name, "check")
