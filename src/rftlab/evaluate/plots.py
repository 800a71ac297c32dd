"""Evaluation figures (matplotlib, headless): score histograms and reward curves.

Functions return a Figure so the caller decides where it goes (MLflow artifact, PNG next to
a report, DVC plots folder); `save` writes a PNG atomically and closes the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.io import atomic_path


def _plt() -> Any:
    # matplotlib loads only when a figure is drawn
    import matplotlib

    matplotlib.use("Agg", force=True)
    # matplotlib loads only when a figure is drawn
    import matplotlib.pyplot as plt

    return plt


def score_histogram(base: Sequence[float], tuned: Sequence[float], *, title: str = "") -> Any:
    """Overlaid sample-score histograms, base vs tuned, on the grader's [0, 1] scale."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = [i / 20 for i in range(21)]
    ax.hist(list(base), bins=bins, alpha=0.55, label=f"base (mean {_mean(base):.3f})", color="tab:gray")
    ax.hist(list(tuned), bins=bins, alpha=0.55, label=f"tuned (mean {_mean(tuned):.3f})", color="tab:orange")
    ax.set_xlabel("grader score")
    ax.set_ylabel("samples")
    ax.set_xlim(0, 1)
    ax.set_title(title or "Sample scores: base vs tuned")
    ax.legend()
    fig.tight_layout()
    return fig


def reward_curves(curves: Mapping[str, Sequence[tuple[int, float]]], *, title: str = "") -> Any:
    """One line per named curve of (step, reward); an empty mapping gives a labelled blank plot."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, points in curves.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
    if not any(curves.values()):
        ax.text(0.5, 0.5, "no reward history logged", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("step")
    ax.set_ylabel("reward (mean grader score)")
    ax.set_title(title or "Reward curve")
    if any(curves.values()):
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def uplift_bars(rows: Sequence[Mapping[str, Any]], *, label: str = "job", metric: str = contracts.EVAL_UPLIFT_PCT) -> Any:
    """Bar per job of `metric`, with the bootstrap interval as error bars when present."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(rows) + 2), 3.6))
    names = [str(r.get(label, "?")) for r in rows]
    values = [r.get(metric) or 0.0 for r in rows]
    lows = [r.get("eval/uplift_ci_low") for r in rows]
    highs = [r.get("eval/uplift_ci_high") for r in rows]
    err = None
    if metric == contracts.EVAL_UPLIFT_PCT and all(v is not None for v in (*lows, *highs)):
        err = [[v - lo for v, lo in zip(values, lows)], [hi - v for v, hi in zip(values, highs)]]
    ax.bar(range(len(rows)), values, yerr=err, capsize=4, color="tab:orange")
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize="small")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per job")
    fig.tight_layout()
    return fig


def save(fig: Any, path: str | Path) -> Path:
    """Write a PNG atomically and free the figure."""

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
        tmp.chmod(0o644)  # readable like any other output (the temp file starts 0600)
    _plt().close(fig)
    return path


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if len(values) else float("nan")
