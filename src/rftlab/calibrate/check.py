"""The grader gate's measurements: gaming texts against the target's held-out scores, reference
answers in the top decile, the red team, and the gate's plots (the stage is check_stage.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from rftlab.calibrate.attack import gate_attack
from rftlab.calibrate.metrics import histogram_rows, roc_curve
from rftlab.errors import InputError
from rftlab.grader.bundle import load_grader
from rftlab.io import atomic_path, iter_jsonl, write_json

log = logging.getLogger(__name__)


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


def red_team(grader_path: Path, prompts_path: Path, genuine: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """Run the red team against the grader offline (the relevance proxy in place of any Bedrock judge)."""
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


def write_plots(folder: Path, s: np.ndarray, labels: np.ndarray, g: np.ndarray, kinds: list[str]) -> list[Path]:
    """DVC plot data (JSON rows) and PNGs: ROC curve, score histograms, gaming scores."""
    # matplotlib loads only when a figure is drawn
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window (before pyplot is imported)
    import matplotlib.pyplot as plt  # the gate's figures: loaded only when it draws them

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
    return [folder / name for name in ("roc.json", "scores.json", "check.png")]
