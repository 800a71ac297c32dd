"""Pure evaluation arithmetic: means, uplift, win rate, bootstrap interval, token cost.

Conventions (they are part of the metric definitions, keep them stable):
- The unit of comparison is the prompt: each prompt's score is the mean of its samples, and
  the base and tuned scores of one prompt are paired.
- `uplift_pct = (tuned - base) / base * 100`. When `base == 0` the ratio is undefined: it is
  0.0 if tuned is also 0, else None (reported as absent, never inf); `uplift_abs` is always
  defined.
- `win_rate`: share of prompts where tuned > base; a tie counts half, so two identical models
  score 0.5 and the metric is symmetric (win_rate(a, b) = 1 - win_rate(b, a)).
- The confidence interval is a paired percentile bootstrap over prompts (seeded): prompts are
  resampled with replacement, and the uplift of each resample's means is recomputed.
  Resamples with a zero base mean are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rftlab import contracts


def mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def uplift_pct(base: float | None, tuned: float | None) -> float | None:
    if base is None or tuned is None:
        return None
    if base == 0:
        return 0.0 if tuned == 0 else None
    return (tuned - base) / abs(base) * 100.0


def _paired(base: Sequence[float], tuned: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    b, t = np.asarray(base, dtype=float), np.asarray(tuned, dtype=float)
    if b.shape != t.shape or b.ndim != 1:
        raise ValueError(f"paired scores need equal 1-D lengths, got {b.shape} and {t.shape}")
    return b, t


def win_rate(base: Sequence[float], tuned: Sequence[float]) -> float | None:
    """Per-prompt share of tuned > base, ties counting half."""
    b, t = _paired(base, tuned)
    if not len(b):
        return None
    return float(np.mean((t > b) + 0.5 * (t == b)))


def tie_rate(base: Sequence[float], tuned: Sequence[float]) -> float | None:
    b, t = _paired(base, tuned)
    return float(np.mean(t == b)) if len(b) else None


def bootstrap_uplift_ci(
    base: Sequence[float],
    tuned: Sequence[float],
    *,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Paired percentile bootstrap interval of uplift_pct over prompts; (None, None) if undefined."""
    b, t = _paired(base, tuned)
    if not len(b) or n < 1:
        return None, None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(n, len(b)))
    bm, tm = b[idx].mean(axis=1), t[idx].mean(axis=1)
    ok = bm != 0
    if not ok.any():
        return None, None
    ups = (tm[ok] - bm[ok]) / np.abs(bm[ok]) * 100.0
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(ups, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def per_prompt_means(scores: Sequence[Sequence[float]]) -> list[float]:
    """Mean of each prompt's samples (a prompt with no samples scores 0)."""
    return [float(np.mean(s)) if len(s) else 0.0 for s in scores]


def component_means(components: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each named component over the samples that report it (non-numbers ignored)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for comp in components:
        for name, value in comp.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                continue
            sums[name] = sums.get(name, 0.0) + float(value)
            counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sorted(sums)}


def inference_cost(
    prompt_tokens: int, completion_tokens: int, *, usd_per_1k_input: float, usd_per_1k_output: float
) -> float:
    return prompt_tokens / 1000.0 * usd_per_1k_input + completion_tokens / 1000.0 * usd_per_1k_output


def summarize(
    base_scores: Sequence[Sequence[float]],
    tuned_scores: Sequence[Sequence[float]],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, float | None]:
    """The headline `eval/*` metrics from per-prompt sample scores of both models."""
    b, t = per_prompt_means(base_scores), per_prompt_means(tuned_scores)
    base_mean, tuned_mean = mean(b), mean(t)
    lo, hi = bootstrap_uplift_ci(b, t, n=bootstrap, seed=seed)
    return {
        contracts.EVAL_BASE_MEAN: base_mean,
        contracts.EVAL_TUNED_MEAN: tuned_mean,
        "eval/uplift_abs": None if base_mean is None or tuned_mean is None else tuned_mean - base_mean,
        contracts.EVAL_UPLIFT_PCT: uplift_pct(base_mean, tuned_mean),
        "eval/uplift_ci_low": lo,
        "eval/uplift_ci_high": hi,
        contracts.EVAL_WIN_RATE: win_rate(b, t),
        "eval/tie_rate": tie_rate(b, t),
        "eval/prompts": float(len(b)),
    }
