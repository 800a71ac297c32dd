"""Separation metrics in plain numpy: fast enough to run inside every Optuna trial."""

from __future__ import annotations

import numpy as np


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties averaged (what the Mann-Whitney U statistic needs)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    boundaries = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(xs)]))
    avg = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC via rank sums; ties count half. NaN when only one class is present."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _ranks(scores)
    return float((r[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, labels: np.ndarray, max_points: int = 200) -> list[dict[str, float]]:
    """(fpr, tpr, threshold) rows, thinned to at most `max_points`, for DVC plots."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.flatnonzero(np.diff(s)) if len(s) > 1 else np.array([], dtype=int)
    cut = np.concatenate((distinct, [len(s) - 1])) if len(s) else np.array([], dtype=int)
    tps = np.cumsum(y)[cut] if len(s) else np.array([])
    fps = (cut + 1) - tps
    pos, neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    fpr = np.concatenate(([0.0], fps / neg))
    tpr = np.concatenate(([0.0], tps / pos))
    thr = np.concatenate(([1.0], s[cut] if len(s) else []))
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    return [
        {"fpr": round(float(a), 6), "tpr": round(float(b), 6), "threshold": round(float(c), 6)}
        for a, b, c in zip(fpr, tpr, thr)
    ]


def histogram_rows(scores: dict[str, np.ndarray], bins: int = 20) -> list[dict[str, float]]:
    """Share of each named score set per [0, 1] bin: one row per bin, one column per set
    (the wide layout `dvc plots` draws as one line per column)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows: list[dict[str, float]] = [{"bin": round(float(lo + 0.5 / bins), 4)} for lo in edges[:-1]]
    for name, values in scores.items():
        v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
        counts, _ = np.histogram(v, bins=edges)
        share = counts / max(len(v), 1)
        for row, c in zip(rows, share):
            row[name] = round(float(c), 6)
    return rows


def group_spread(scores: np.ndarray, groups: list[str], min_size: int = 2) -> float:
    """Mean standard deviation of scores within groups of at least `min_size` texts.

    GRPO learns from differences between the samples of one prompt; a grader that gives
    every text of a thread the same score teaches nothing. NaN when no group qualifies.
    """
    scores = np.asarray(scores, dtype=np.float64)
    by: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by.setdefault(g, []).append(i)
    stds = [float(scores[ix].std()) for ix in by.values() if len(ix) >= min_size]
    return float(np.mean(stds)) if stds else float("nan")
