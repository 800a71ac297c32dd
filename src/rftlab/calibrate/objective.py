"""The search objective: mean held-out ROC AUC over folds, minus a gaming penalty.

A trial proposes weights (one per family, one per guard), re-weights the cached
component matrices with the grader's vectorised `combine_matrix` and scores every fold
with a rank-based AUC. No text is tokenised here.

`scale` and `bias` are not searched: AUC is blind to them, so a search would leave them
wherever the sampler happened to put them — often saturating every score at 0 or 1,
which gives GRPO ties to learn nothing from. Instead each trial sets them so that the
target's held-out median maps to TARGET_MEDIAN and the background's to 1 - TARGET_MEDIAN
(`with_scale`), using the grader's closed form sigmoid(scale * (sum_f w_f c_f - bias)).
`with_scale` also sets the `ceiling`: the weighted family sum the target's own held-out
texts reach at CEILING_QUANTILE; nothing scores above it (the reward-hacking cap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rftlab.calibrate.folds import CalibrationData
from rftlab.calibrate.metrics import roc_auc
from rftlab.grader.scoring import DEFAULT_WEIGHTS, FAMILIES, GUARDS
from rftlab.grader.scoring import combine_matrix as cm
from rftlab.numeric import stable

# Parameter name prefixes in the Optuna study (stable: they are the study's search space).
FAMILY, GUARD, OTHER = "w.", "g.", "x."
DERIVED = ("scale", "bias", "ceiling")  # set by with_scale, not searched
TARGET_MEDIAN = 0.8
CEILING_QUANTILE = 0.99
# Guards held at full weight: the fixed gaming texts cannot measure them (the disfluency guard answers
# a search, calibrate/attack.py, that calibration does not run), so a search would drift them to noise.
FIXED_GUARDS = ("disfluency",)
# The fixed gaming texts exercise each guard only on the texts it was made for: a guard the held-out
# gaming set happens not to need drifted to ~0 (repetition 0.007), leaving `CDK` x 30 at the target's
# median. Calibration may soften a guard down to this, never switch it off.
GUARD_FLOOR = 0.5


@dataclass(frozen=True)
class Evaluation:
    value: float                 # what the study maximises
    mean_auc: float
    fold_aucs: tuple[float, ...]
    gaming_above_median: float   # share of gaming texts scoring above their fold's target median
    gaming_excess: float         # mean amount by which they exceed it (0 when none do)
    penalty: float


def weight_space() -> list[tuple[str, str, float, float, bool]]:
    """(optuna param, weight key, low, high, log) for every weight the grader understands."""

    space = []
    for name in FAMILIES:
        d = abs(float(DEFAULT_WEIGHTS.get(name, 1.0)))
        space.append((FAMILY + name, name, 0.0, max(3.0 * d, 1.0), False))
    for name in GUARDS:
        if name not in FIXED_GUARDS:  # combine clips guard weights to [0, 1]; a search may soften a guard, not drop it
            space.append((GUARD + name, name, GUARD_FLOOR, 1.0, False))
    for name, d in sorted(DEFAULT_WEIGHTS.items()):
        if name in FAMILIES or name in GUARDS or name in DERIVED:
            continue
        d = float(d)
        if d > 0 and name in {"scale", "temperature", "slope", "gain"}:
            space.append((OTHER + name, name, d / 5.0, d * 5.0, True))
        else:
            span = max(2.0 * abs(d), 1.0)
            space.append((OTHER + name, name, d - span, d + span, False))
    return space


def suggest(trial: Any, space: list[tuple[str, str, float, float, bool]]) -> dict[str, float]:
    """A full weights dict for `combine` from one Optuna trial, rounded (rftlab/numeric.py): the
    sampler's arithmetic may differ in the last bits between CPUs, the weights it hands on do not."""

    weights = {k: float(v) for k, v in DEFAULT_WEIGHTS.items()}
    for param, key, lo, hi, log in space:
        weights[key] = stable(trial.suggest_float(param, lo, hi, log=log))
    return weights


def params_of(weights: dict[str, float], space: list[tuple[str, str, float, float, bool]]) -> dict[str, float]:
    """The Optuna params that reproduce `weights` (clipped into the space), for enqueue_trial."""
    out = {}
    for param, key, lo, hi, _ in space:
        out[param] = float(min(max(float(weights.get(key, lo)), lo), hi))
    return out


class Objective:
    """Callable weights -> Evaluation over cached fold matrices."""

    def __init__(
        self,
        data: CalibrationData,
        *,
        gaming_penalty: float = 1.0,
        combine_matrix: Callable[..., np.ndarray] | None = None,
    ) -> None:
        if combine_matrix is None:
            combine_matrix = cm
        self.data = data
        self.combine = combine_matrix
        self.gaming_penalty = gaming_penalty
        self._fold_idx = [np.flatnonzero(data.fold == f) for f in range(data.n_folds)]
        self._target_idx = [ix[data.labels[ix] == 1] for ix in self._fold_idx]
        self._gaming_idx = [np.flatnonzero(data.gaming_fold == f) for f in range(data.n_folds)]

    def with_scale(self, weights: dict[str, float]) -> dict[str, float]:
        """`weights` with scale/bias mapping the held-out target/background medians to
        TARGET_MEDIAN / 1 - TARGET_MEDIAN (unchanged when the families cannot separate)."""

        d = self.data
        cols = [i for i, n in enumerate(d.names) if n in FAMILIES]
        w = np.array([float(weights.get(d.names[i], 0.0)) for i in cols])
        raw = d.C[:, cols] @ w
        mt = float(np.median(raw[d.labels == 1])) if (d.labels == 1).any() else 0.0
        mb = float(np.median(raw[d.labels == 0])) if (d.labels == 0).any() else 0.0
        out = dict(weights)
        if mt - mb > 1e-9:
            logit = float(np.log(TARGET_MEDIAN / (1.0 - TARGET_MEDIAN)))
            # rounded: `raw` is a BLAS product whose last bits depend on the CPU (rftlab/numeric.py)
            out["bias"] = stable((mt + mb) / 2.0)
            out["scale"] = stable(logit / ((mt - mb) / 2.0))
            out["ceiling"] = stable(float(np.quantile(raw[d.labels == 1], CEILING_QUANTILE)))
        return out

    def scores(self, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        s = np.asarray(self.combine(d.C, d.names, weights), dtype=np.float64)
        g = np.asarray(self.combine(d.G, d.names, weights), dtype=np.float64) if len(d.G) else np.zeros(0)
        return s, g

    def __call__(self, weights: dict[str, float]) -> Evaluation:
        d = self.data
        s, g = self.scores(weights)
        aucs = []
        above, excess, n_g = 0.0, 0.0, 0
        for f in range(d.n_folds):
            ix = self._fold_idx[f]
            auc = roc_auc(s[ix], d.labels[ix])
            aucs.append(0.5 if np.isnan(auc) else auc)
            gi = self._gaming_idx[f]
            if len(gi) and len(self._target_idx[f]):
                med = float(np.median(s[self._target_idx[f]]))
                diff = g[gi] - med
                above += float((diff >= 0).sum())
                excess += float(np.clip(diff, 0, None).sum())
                n_g += len(gi)
        share = above / n_g if n_g else 0.0
        mean_excess = excess / n_g if n_g else 0.0
        penalty = self.gaming_penalty * (share + mean_excess)
        mean_auc = float(np.mean(aucs))
        if not np.isfinite(s).all():
            mean_auc, penalty = 0.0, penalty + 1.0
        # rounded, so the sampler (which ranks trials by `value`) and the records see the same
        # numbers on every CPU (rftlab/numeric.py)
        return Evaluation(
            value=stable(mean_auc - penalty),
            mean_auc=stable(mean_auc),
            fold_aucs=tuple(stable(a) for a in aucs),
            gaming_above_median=stable(share),
            gaming_excess=stable(mean_excess),
            penalty=stable(penalty),
        )
