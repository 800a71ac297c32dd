"""Pure statistics of a review: people's preference with its interval, and raters' agreement with them.

Conventions (docs/review.md#the-report; keep them stable):
- The unit is the pair. A vote scores 1 for the tuned reply, 0 for the other, 0.5 for "can't tell"
  (the `eval/win_rate` rule: ties count half). A pair's score is the mean of its votes; the
  preference is the mean over voted pairs.
- The interval is a percentile bootstrap over pairs (seeded): pairs are resampled with all their
  votes, which are not independent of each other. With fewer than 50 pairs it is optimistic.
- The people's verdict on a pair is its majority: tuned above 0.5, the other reply below, a tie at
  exactly 0.5 (an even split, or "can't tell" throughout).
- A rater (grader, verifier, judge) ranks a pair by its two scores rounded to RANK_DIGITS decimals
  (equal: a tie), or by its verdict. Agreement is the share of voted pairs the rater ranks like
  the people; Cohen's kappa is over the three labels {other, tie, tuned}; None when undefined (no
  pairs, or both sides using one label only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

TUNED, TIE, OTHER = "tuned", "tie", "other"
LABELS = (OTHER, TIE, TUNED)
RANK_DIGITS = 4
FEW_PAIRS = 50


def vote_score(value: str, a_is: str, b_is: str) -> float:
    """A canonical vote (A, B, cant_tell) -> 1 for the tuned reply, 0 for the other, 0.5 can't tell."""
    if value == "cant_tell":
        return 0.5
    picked = a_is if value == "A" else b_is
    return 1.0 if picked == TUNED else 0.0


def mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def bootstrap_ci(values: Sequence[float], *, n: int, seed: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean (values: one per pair)."""
    x = np.asarray(values, dtype=float)
    if not len(x) or n < 1:
        return None, None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def majority(score: float) -> str:
    return TUNED if score > 0.5 else OTHER if score < 0.5 else TIE


def rank(scores: Mapping[str, float] | None) -> str | None:
    """A scorer's label for a pair from its base and tuned scores (None: not scored)."""
    if not scores:
        return None
    t, b = round(float(scores["tuned"]), RANK_DIGITS), round(float(scores["base"]), RANK_DIGITS)
    return TUNED if t > b else OTHER if t < b else TIE


def verdict(judge: Mapping[str, str] | None) -> str | None:
    """A judge's label for a pair from its verdict (tuned, base or tie; anything else: None)."""
    if not judge:
        return None
    v = str(judge.get("verdict", "")).strip().lower()
    return {"tuned": TUNED, "base": OTHER, "tie": TIE}.get(v)


def cohen_kappa(a: Sequence[str], b: Sequence[str], labels: Sequence[str] = LABELS) -> float | None:
    """Unweighted Cohen's kappa of two raters over `labels`; None when undefined."""
    if len(a) != len(b):
        raise ValueError(f"kappa needs equal lengths, got {len(a)} and {len(b)}")
    if not a:
        return None
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    p_e = sum((a.count(k) / n) * (b.count(k) / n) for k in labels)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def agreement(people: Mapping[str, str], rater: Mapping[str, str | None]) -> dict[str, float | int | None]:
    """How a rater ranks the voted pairs against the people's majority: pairs, share, kappa."""
    both = [pid for pid in people if rater.get(pid) is not None]
    h = [people[pid] for pid in both]
    r = [str(rater[pid]) for pid in both]
    share = mean([float(x == y) for x, y in zip(h, r, strict=True)])
    return {"pairs": len(both), "share": share, "kappa": cohen_kappa(h, r)}


def people_kappa(labels_by_reviewer: Mapping[str, Mapping[str, str]]) -> float | None:
    """Mean Cohen's kappa over pairs of reviewers, on the pairs both voted on (None: no defined pair)."""
    names = sorted(labels_by_reviewer)
    kappas = []
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            shared = sorted(set(labels_by_reviewer[x]) & set(labels_by_reviewer[y]))
            k = cohen_kappa([labels_by_reviewer[x][p] for p in shared], [labels_by_reviewer[y][p] for p in shared])
            if k is not None:
                kappas.append(k)
    return mean(kappas)
