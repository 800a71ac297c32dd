"""Learned n-gram weights: a logistic regression fitted when the profile is built.

Why: the smoothed log-likelihood ratios weight each feature by its own frequency contrast;
a discriminative fit learns which features separate the target from the background given
all the others (what the supervised character n-gram baseline does). The grader adds it
as the `learned` family. scikit-learn runs here only, at profile-build time; scoring reads
the stored sparse table with pure Python (the Lambda path stays numpy-free): grader/scoring.py
folds it into its own lookups, `LearnedModel` is the plain reference implementation.

Text vector: tf-idf over the keys of LEARNED_FAMILIES divided by sqrt(total key count of the
text, stored vocabulary or not). The square root sits between an average (every text the
same weight) and a sum (longer texts are stronger evidence); it matched L2-normalised
sublinear tf-idf on aozora12 and needs one dict lookup per key when scoring (the idf is
folded into the stored weight).
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

LEARNED_FAMILIES: tuple[str, ...] = ("char", "func", "pos", "ending", "comma", "punct", "vocab")
REGULARISATION_C = 10.0  # inverse L2 strength (the supervised baseline's setting)
VOCAB_CAP = 40000        # most frequent keys (document frequency) fitted
KEEP = 40000             # heaviest weights stored (bounds the profile; 20k cost ~0.001 AUC on aozora12)
_ZEROS = repeat(0.0)


def _counts(features: Mapping[str, Any], fam: str) -> Mapping[str, int]:
    c = features.get(fam) or {}
    return Counter(c) if isinstance(c, list) else c


def fit_learned(
    target_feats: Sequence[Mapping[str, Any]],
    background_feats: Sequence[Mapping[str, Any]],
    *,
    min_df: int = 2,
    cap: int = VOCAB_CAP,
    keep: int = KEEP,
    c_reg: float = REGULARISATION_C,
    exclude: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """The `learned` profile block: per family {key: weight * idf} (the key's whole contribution).

    Keys in `exclude` (family -> keys: personal data, rare digit tokens) are neither fitted nor stored.
    """
    # scipy loads only when needed
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    docs = [*target_feats, *background_feats]
    n = len(docs)
    df: Counter = Counter()
    for f in docs:
        for fam in LEARNED_FAMILIES:
            df.update((fam, k) for k in _counts(f, fam))
    skip = exclude or {}
    vocab = sorted((fk for fk, d in df.items() if d >= min_df and fk[1] not in skip.get(fk[0], ())),
                   key=lambda fk: (-df[fk], fk))[:cap]
    vocab.sort()
    index = {fk: j for j, fk in enumerate(vocab)}
    idf = np.array([math.log((1 + n) / (1 + df[fk])) + 1.0 for fk in vocab])
    rows, cols, vals = [], [], []
    for i, f in enumerate(docs):
        total, entries = 0, []
        for fam in LEARNED_FAMILIES:
            for k, c in _counts(f, fam).items():
                total += c
                j = index.get((fam, k))
                if j is not None:
                    entries.append((j, c * idf[j]))
        root = math.sqrt(total) or 1.0
        rows.extend([i] * len(entries))
        cols.extend(j for j, _ in entries)
        vals.extend(x / root for _, x in entries)
    X = sparse.csr_matrix((vals, (rows, cols)), shape=(n, len(vocab)))
    y = np.r_[np.ones(len(target_feats)), np.zeros(len(background_feats))]
    weights: dict[str, dict[str, float]] = {fam: {} for fam in LEARNED_FAMILIES}
    if len(vocab) and 0 < len(target_feats) < n:
        coef = LogisticRegression(C=c_reg, max_iter=3000).fit(X, y).coef_[0]
        v = coef * idf
        for j in sorted(range(len(vocab)), key=lambda j: (-abs(v[j]), vocab[j]))[:keep]:
            fam, k = vocab[j]
            weights[fam][k] = float(f"{v[j]:.6g}")
    return {"families": list(LEARNED_FAMILIES), "weights": weights, "size": len(vocab), "c": c_reg,
            "norm": "sqrt_total"}


class LearnedModel:
    """The stored table compiled for scoring: per family {key: weight * idf}."""

    def __init__(self, block: Mapping[str, Any] | None) -> None:
        self.tables: list[tuple[str, dict[str, float]]] = []
        for fam, table in ((block or {}).get("weights") or {}).items():
            # short (frequent) keys first, as fresh strings allocated in that order: hot
            # entries sit together in memory (fewer cache misses per lookup)
            keys = sorted(table, key=lambda k: (len(k), k))
            self.tables.append((fam, {(k + " ")[:-1]: float(table[k]) for k in keys}))

    def score(self, features: Mapping[str, Any]) -> float:
        """Dot product of the text's tf-idf vector with the weights, over sqrt(total count)."""
        num, total = 0.0, 0
        for fam, w in self.tables:
            counts = features.get(fam) or {}
            if isinstance(counts, list):  # count 1 per item (extract(counts=False))
                num += sum(map(w.get, counts, _ZEROS))
                total += len(counts)
            elif counts:
                num += sum(map(operator.mul, counts.values(), map(w.get, counts, _ZEROS)))
                total += sum(counts.values())
        return num / math.sqrt(total) if total > 0 else 0.0
