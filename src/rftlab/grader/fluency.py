"""Fluency of a reply from the tagger's part-of-speech transitions: the fragment-salad guard.

A hill climb over fragments of the target's messages finds text that carries every
target-like n-gram and no grammar (`結論と、でござらござら択でござる。上でござる。…`). Such
text is made of plausible pieces joined where no Japanese sentence joins them, so its
part-of-speech transitions are ones real text rarely makes.

The measure is SLOR-like (syntactic log-odds ratio): the mean pointwise mutual information
of each part-of-speech tag with the two tags before it,

    slor = (sum_i [log P(t_i | t_i-2, t_i-1) - log P(t_i)] + 2 x reference) / (n + 2)

under an interpolated trigram model of the profile's own `pos` family (target + background
counts pooled: what real messages in this workspace look like). Real text predicts its
next tag well (slor near the profile's own average, `reference`); shuffled fragments do
not (slor near 0 or below). The two transitions' worth of the reference keep a three-token
reply from swinging on one transition (short genuine replies are not salad). On aozora12 (12 authors, held-out works) genuine sentences score a median of
0.74 against a reference of 0.80, and token chunks of three genuine sentences shuffled
score a median of -0.05 (p99 0.41): see benchmarks/bench_redteam.py and docs/relevance.md.

The guard fires below a floor: OK_SHARE of the reference, or, when calibration recorded it
(`profile["fluency"]["floor"]`, `with_floor`), the 1st percentile of the target's own messages
if that is higher; it is fully on RAMP below the floor. On the sample export (template-made,
very regular text) the target's 1st percentile is 0.51 of the reference and the hill climb's
fluent-looking salads score 0.09-0.30; on aozora12 the fixed share applies.

Pure and light (the Lambda imports it): dictionaries and math only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

ADD_K = 0.1          # additive smoothing of the unigram and bigram levels
TRIGRAM_WEIGHT = 0.7  # interpolation: P = 0.7 P_tri + 0.3 P_bi (P_bi alone for unseen contexts)
PRIOR_TOKENS = 2.0
# guard: 0 while slor >= floor * reference, 1 at slor <= (floor - RAMP) * reference; floor >= OK_SHARE
OK_SHARE, RAMP, FLOOR_QUANTILE = 0.25, 0.4, 0.01
# content words repeated within one reply: (n - distinct) / (n + 2), from DUP_LO (clean) to DUP_HI
DUP_MIN_WORDS, DUP_LO, DUP_HI = 6, 0.35, 0.65


def _ramp(x: float, lo: float, hi: float) -> float:
    return 0.0 if x <= lo else 1.0 if x >= hi else (x - lo) / (hi - lo)


class PosModel:
    """Interpolated part-of-speech trigram model over a profile's pooled `pos` counts."""

    def __init__(self, pos_block: Mapping[str, Any], floor: float | None = None) -> None:
        self.floor = max(OK_SHARE, float(floor)) if isinstance(floor, (int, float)) else OK_SHARE
        counts: dict[str, float] = {}
        for side in ("target", "background"):
            for key, c in (pos_block.get(side) or {}).items():
                counts[key] = counts.get(key, 0.0) + float(c)
        self.tri = {k: c for k, c in counts.items() if k.count(" ") == 2}
        self.bi = {k: c for k, c in counts.items() if k.count(" ") == 1}
        self.ctx2: dict[str, float] = {}
        for k, c in self.tri.items():
            head = k.rsplit(" ", 1)[0]
            self.ctx2[head] = self.ctx2.get(head, 0.0) + c
        self.ctx1: dict[str, float] = {}
        self.uni: dict[str, float] = {}
        for k, c in self.bi.items():
            a, b = k.split(" ")
            self.ctx1[a] = self.ctx1.get(a, 0.0) + c
            self.uni[b] = self.uni.get(b, 0.0) + c
        self.n = sum(self.uni.values())
        self.v = len(self.uni) + 1
        self._pmi: dict[str, float] = {}
        total = sum(self.tri.values())
        self.reference = sum(c * self.pmi(k) for k, c in self.tri.items()) / total if total else 0.0

    def _p_uni(self, b: str) -> float:
        return (self.uni.get(b, 0.0) + ADD_K) / (self.n + ADD_K * self.v)

    def _p_bi(self, a: str, b: str) -> float:
        return (self.bi.get(a + " " + b, 0.0) + self.v * ADD_K * self._p_uni(b)) / (self.ctx1.get(a, 0.0) + self.v * ADD_K)

    def pmi(self, key: str) -> float:
        """log P(c | a b) - log P(c) for the trigram key "a b c" (cached)."""
        hit = self._pmi.get(key)
        if hit is not None:
            return hit
        a, b, c = key.split(" ")
        n = self.ctx2.get(a + " " + b, 0.0)
        p = self._p_bi(b, c)
        if n:
            p = TRIGRAM_WEIGHT * self.tri.get(key, 0.0) / n + (1.0 - TRIGRAM_WEIGHT) * p
        value = math.log(p) - math.log(self._p_uni(c))
        if len(self._pmi) < 200_000:
            self._pmi[key] = value
        return value

    def slor(self, pos_keys: Iterable[str]) -> float | None:
        """Mean transition PMI of a text's pos keys (trigrams only), shrunk towards the reference by
        PRIOR_TOKENS transitions' worth (a three-token reply is not judged on one transition); None
        without trigrams."""
        total, n = 0.0, 0
        for key in pos_keys:
            if key.count(" ") == 2:
                total += self.pmi(key)
                n += 1
        return (total + PRIOR_TOKENS * self.reference) / (n + PRIOR_TOKENS) if n else None


def _pos_keys(features: Mapping[str, Any]) -> Iterable[str]:
    pos = features.get("pos") or []
    if isinstance(pos, Mapping):
        return (k for k, c in pos.items() for _ in range(int(c)))
    return pos


def content_duplication(features: Mapping[str, Any]) -> float:
    """(content words - distinct ones) / (content words + 2); 0 below DUP_MIN_WORDS words."""
    vocab = features.get("vocab") or {}
    n = sum(vocab.values()) if isinstance(vocab, Mapping) else len(vocab)
    distinct = len(vocab) if isinstance(vocab, Mapping) else len(set(vocab))
    return (n - distinct) / (n + PRIOR_TOKENS) if n >= DUP_MIN_WORDS else 0.0


def disfluency(features: Mapping[str, Any], model: PosModel | None) -> float:
    """Guard in [0, 1]: part-of-speech salad (low slor against the profile's reference) or
    the same content words over and over, whichever is worse."""
    dup = _ramp(content_duplication(features), DUP_LO, DUP_HI)
    if model is None or model.reference <= 0:
        return dup
    slor = model.slor(_pos_keys(features))
    if slor is None:
        return dup
    salad = _ramp(model.floor - slor / model.reference, 0.0, RAMP)
    return max(salad, dup)


def pos_model(profile: Mapping[str, Any]) -> PosModel | None:
    """The profile's part-of-speech model (None without pos counts), with its recorded floor."""
    pos = (profile.get("families") or {}).get("pos") or {}
    if not (pos.get("target") or pos.get("background")):
        return None
    return PosModel(pos, (profile.get("fluency") or {}).get("floor"))


def with_floor(profile: Mapping[str, Any], target_features: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The profile plus `fluency.floor`: the FLOOR_QUANTILE of the target's own slor / reference."""
    model = pos_model(profile)
    out = dict(profile)
    if model is None or model.reference <= 0:
        return out
    ratios = sorted(v / model.reference for f in target_features if (v := model.slor(_pos_keys(f))) is not None)
    if ratios:
        out["fluency"] = {"floor": round(ratios[int(FLOOR_QUANTILE * (len(ratios) - 1))], 6),
                          "quantile": FLOOR_QUANTILE}
    return out
