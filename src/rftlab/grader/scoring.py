"""Pure scoring: features + profile + weights -> a reward in [0, 1] and named components.

Each count family is a smoothed multinomial for the target and one for the background;
its component is the length-normalised log-likelihood ratio (> 0: more target-like).
Guards are 0 (clean) .. 1 (fully triggered) and multiply the score down:
    score = sigmoid(scale * (min(sum_f w_f * c_f, ceiling) - bias)) * prod_g (1 - clip(w_g, 0, 1) * g)

`ceiling` (a weight calibration sets from the target's own held-out replies; absent = no cap)
keeps anything from scoring above what the target's real replies reach: more "target-like"
than the target is a reward hack, not a success (docs/relevance.md).

`combine_matrix` is the same closed form over a matrix, for calibration.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rftlab.grader.fluency import disfluency, pos_model
from rftlab.style.features import COUNT_FAMILIES, extract

FAMILIES: tuple[str, ...] = (*COUNT_FAMILIES, "length", "learned", "evidence")
GUARDS: tuple[str, ...] = ("repetition", "degenerate_length", "non_japanese", "prompt_copy", "word_list",
                           "disfluency")
CEILING = "ceiling"  # optional weight: the cap on the weighted family sum (set by calibration)
DEFAULT_WEIGHTS: dict[str, float] = {
    # character n-grams carry most of the signal; syntax families refine it; content words
    # (vocab) are topic-bound and easy to game, so they stay low
    "char": 1.0, "func": 0.2, "pos": 0.2, "ending": 0.2, "comma": 0.1, "punct": 0.1,
    "chartype": 0.1, "vocab": 0.1, "length": 0.1, "learned": 2.0, "evidence": 0.5,
    "repetition": 1.0, "degenerate_length": 1.0, "non_japanese": 1.0, "prompt_copy": 1.0, "word_list": 1.0,
    "disfluency": 1.0, "scale": 3.0, "bias": 0.0,
}
ALPHA = {"char": 0.1, "func": 0.5, "pos": 0.5, "ending": 0.5, "comma": 0.5, "punct": 0.5,
         "chartype": 1.0, "vocab": 0.5}
_ZEROS = itertools.repeat(0.0)
PRIOR_COUNT = 2.0  # pseudo-count of neutral evidence: short texts stay near 0
CLIP = 8.0
SHORT_PENALTY = 0.8
EVIDENCE_SCALE = 0.1  # sqrt(100) features' worth of evidence per unit
LEARNED_SCALE = 0.1  # brings the learned dot product (about +-7) to the other families' range

if TYPE_CHECKING:  # numpy is imported lazily: the Lambda path never needs it
    import numpy as np


def _ramp(x: float, lo: float, hi: float) -> float:
    return 0.0 if x <= lo else 1.0 if x >= hi else (x - lo) / (hi - lo)


class _Model:
    """Log-likelihood ratios per family, compiled once per profile object."""

    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.llr: dict[str, dict[str, Any]] = {}
        learned = (profile.get("learned") or {}).get("weights") or {}
        self.learned_families = frozenset(f for f in learned if f in COUNT_FAMILIES)
        for fam in COUNT_FAMILIES:
            block = profile.get("families", {}).get(fam) or {}
            t, b = block.get("target", {}), block.get("background", {})
            keys = set(t) | set(b)
            a = ALPHA[fam]
            v = len(keys) + 1
            nt = math.log(max(float(block.get("target_total", 0)), sum(t.values())) + a * v)
            nb = math.log(max(float(block.get("background_total", 0)), sum(b.values())) + a * v)
            # Frequent features first, with fresh key strings allocated in that order: the hot
            # entries, keys and values sit together in memory (fewer cache misses per lookup).
            ordered = sorted(keys, key=lambda k: (-(t.get(k, 0) + b.get(k, 0)), k))
            self.llr[fam] = {
                (k + " ")[:-1]: (math.log(t.get(k, 0) + a) - nt) - (math.log(b.get(k, 0) + a) - nb)
                for k in ordered
            }
            if fam in self.learned_families:
                # one lookup serves both: value = complex(llr, learned weight), summed in C
                extra = learned[fam]
                table = self.llr[fam]
                for k in sorted(set(extra) - set(table), key=lambda k: (len(k), k)):
                    table[(k + " ")[:-1]] = 0.0
                self.llr[fam] = {k: complex(v, float(extra.get(k, 0.0))) for k, v in table.items()}
        length = profile.get("length", {})
        self.lt, self.lb = length.get("target", {}), length.get("background", {})
        top = [f"{pos}:{w}" for pos, items in profile.get("top_vocab", {}).items() for w, _ in items[:20]]
        self.favourites = frozenset([*profile.get("favorite_words", []), *top])
        self.pos_model = pos_model(profile)


_CACHE: dict[int, tuple[Mapping, _Model]] = {}


def compile_profile(profile: Mapping[str, Any]) -> _Model:
    """The profile's compiled model (cached by identity; the profile is kept alive with it)."""
    hit = _CACHE.get(id(profile))
    if hit is not None and hit[0] is profile:
        return hit[1]
    model = _Model(profile)
    if len(_CACHE) >= 16:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(profile)] = (profile, model)
    return model


def _gauss_llr(x: float, t: Mapping[str, float], b: Mapping[str, float], mean: str, sd: str) -> float:
    mt, st = t.get(mean, 0.0), max(0.25, t.get(sd, 1.0))
    mb, sb = b.get(mean, 0.0), max(0.25, b.get(sd, 1.0))
    return (-0.5 * ((x - mt) / st) ** 2 - math.log(st)) - (-0.5 * ((x - mb) / sb) ** 2 - math.log(sb))


def _family_components(features: Mapping[str, Any], model: _Model) -> dict[str, float]:
    out: dict[str, float] = {}
    learned, n_learned, evidence, n_all = 0.0, 0, 0.0, 0
    for fam in COUNT_FAMILIES:
        table = model.llr[fam]
        counts = features.get(fam) or {}
        # C-level sums (this runs once per family per scored text); a list means count 1 per item
        if isinstance(counts, list):
            total, n = sum(map(table.get, counts, _ZEROS)), len(counts)
        else:
            total = sum(map(operator.mul, counts.values(), map(table.get, counts, _ZEROS)))
            n = sum(counts.values())
        if fam in model.learned_families:  # the imaginary part is the learned dot product
            learned += total.imag
            n_learned += n
        val = total.real / (n + PRIOR_COUNT)
        out[fam] = max(-CLIP, min(CLIP, val))
        evidence += total.real
        n_all += n
    # evidence total: all families' log-likelihood ratios over sqrt(count), not over count, so
    # a longer text counts as stronger evidence (the per-family averages cannot say that)
    out["evidence"] = max(-CLIP, min(CLIP, EVIDENCE_SCALE * evidence / math.sqrt(n_all + PRIOR_COUNT)))
    # learned n-gram weights (style/learned.py): tf-idf dot product over sqrt(total count)
    val = LEARNED_SCALE * learned / math.sqrt(n_learned) if n_learned else 0.0
    out["learned"] = max(-CLIP, min(CLIP, val))
    st = features.get("stats", {})
    chars = float(st.get("n_chars", 0))
    if chars <= 0:
        out["length"] = 0.0
    else:
        x = math.log1p(chars)
        s = math.log1p(chars / max(1, st.get("n_sentences", 0)))
        v = _gauss_llr(x, model.lt, model.lb, "log_chars_mean", "log_chars_sd")
        v += _gauss_llr(s, model.lt, model.lb, "log_sent_mean", "log_sent_sd")
        out["length"] = max(-CLIP, min(CLIP, 0.5 * v))
    return out


def _copy_overlap(text: str, prompt: str) -> float:
    """Share of the reply's distinct character 5-grams that also occur in the prompt.

    A 5-character string occurs in the prompt exactly when it is one of the prompt's own
    5-grams, so intersecting the two shingle sets gives the same value as searching the
    prompt for each 5-gram, in time linear in both lengths (hashing) instead of
    len(reply) x len(prompt): a 100,000-character prompt no longer costs ~1 s per sample.
    """
    text, prompt = text.strip(), prompt.strip()
    if not text or not prompt:
        return 0.0
    if len(text) < 5:
        return 1.0 if text == prompt else 0.0
    grams = {text[i : i + 5] for i in range(len(text) - 4)}
    # intersection() consumes the prompt's 5-grams lazily: memory stays O(len(reply))
    shared = grams.intersection(prompt[i : i + 5] for i in range(len(prompt) - 4))
    return len(shared) / len(grams)


copy_overlap = _copy_overlap  # public name: evaluation flags replies that repeat the prompt


_MARKUP = re.compile(r"<\|[^|>]{0,20}\|>|\ufffd|[\x00-\x08\x0b-\x1f\x7f]")


def _garbled(text: str, n_chars: int) -> float:
    """Broken bytes (U+FFFD), control characters and leaked chat-template markers: a small
    model under RL pressure emits them, and they are not Japanese however the rest reads."""
    if not text or n_chars <= 0:
        return 0.0
    bad = sum(len(m.group()) for m in _MARKUP.finditer(text))
    return _ramp(bad / n_chars, 0.05, 0.30)  # graded, so GRPO can still rank the less broken replies higher


def _guards(features: Mapping[str, Any], model: _Model, prompt: str | None) -> dict[str, float]:
    st = features.get("stats", {})
    n_chars, n_words = st.get("n_chars", 0), st.get("n_words", 0)
    rep = max(_ramp(st.get("dup3", 0.0), 0.3, 0.6), _ramp(st.get("dup_char8", 0.0), 0.3, 0.6))
    if n_words >= 8:
        rep = max(rep, _ramp(st.get("dup1", 0.0), 0.4, 0.8))
    if n_chars <= 0 or n_words <= 1:
        length = 1.0  # empty or one token
    else:
        mu, sd = model.lt.get("log_chars_mean", 4.0), max(0.25, model.lt.get("log_chars_sd", 1.0))
        z = (math.log1p(n_chars) - mu) / sd
        p99 = max(1.0, model.lt.get("p99", 0.0) or math.expm1(mu + 2.5 * sd))
        # far beyond the target's lengths, or far below them / a bare ending with no content
        # word; the short side stops at SHORT_PENALTY so short texts keep their ranking
        short = SHORT_PENALTY * _ramp(-z, 2.0, 3.5)
        if n_words <= 3 and not features.get("vocab"):
            short = SHORT_PENALTY
        length = max(_ramp(z, 2.5, 4.0), _ramp(n_chars / p99, 2.0, 4.0), short)
    letters = st.get("letters", 0)
    non_jp = (1.0 if n_chars > 0 else 0.0) if letters == 0 else _ramp(1.0 - st.get("jp_ratio", 0.0), 0.5, 0.9)
    non_jp = max(non_jp, _garbled(features.get("text", ""), n_chars))
    copy = _ramp(_copy_overlap(features.get("text", ""), prompt), 0.5, 0.9) if isinstance(prompt, str) else 0.0
    word_list = 0.0
    if n_words >= 3 and model.favourites:
        vocab = features.get("vocab") or {}
        fav = sum(c for k, c in vocab.items() if k in model.favourites)
        low_func = 1.0 - _ramp(st.get("glue_ratio", st.get("func_ratio", 0.0)), 0.08, 0.2)
        word_list = _ramp(fav / n_words, 0.25, 0.5) * low_func
    return {"repetition": rep, "degenerate_length": length, "non_japanese": non_jp,
            "prompt_copy": copy, "word_list": word_list, "disfluency": disfluency(features, model.pos_model)}


def components(
    features: Mapping[str, Any],
    profile: Mapping[str, Any],
    *,
    prompt: str | None = None,
    reference: str | None = None,
) -> dict[str, float]:
    """Family contrasts (target-likeness) and guard values for one text's features.

    `reference` is accepted for the Bedrock contract but not scored: rewarding closeness to
    one reference answer would train copying, not style.
    """
    model = compile_profile(profile)
    out = _family_components(features, model)
    out.update(_guards(features, model, prompt))
    return out


def _weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    w = dict(DEFAULT_WEIGHTS)
    if weights:
        w.update({k: float(v) for k, v in weights.items()})
    return w


def finite(v: Any) -> float:
    """Non-numbers, NaN/inf and numbers too large for a float count as 0 (neutral): in combine and
    combine_matrix alike, and in the Lambda's response (handler.py, reward.py), which never raises."""
    if type(v) is not float:
        try:
            v = float(v)
        except (TypeError, ValueError, OverflowError):
            return 0.0
    return v if v - v == 0.0 else 0.0



def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, x))))


def combine(comps: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float:
    """Weighted family sum through a sigmoid, times the guard penalties; in [0, 1]."""
    w = weights or DEFAULT_WEIGHTS
    d = DEFAULT_WEIGHTS
    raw = 0.0
    for f in FAMILIES:
        raw += float(w.get(f, d[f])) * finite(comps.get(f, 0.0))
    if CEILING in w:
        raw = min(raw, float(w[CEILING]))
    score = _sigmoid(float(w.get("scale", d["scale"])) * (raw - float(w.get("bias", d["bias"]))))
    for g in GUARDS:
        score *= 1.0 - min(1.0, max(0.0, float(w.get(g, d[g])))) * min(1.0, max(0.0, finite(comps.get(g, 0.0))))
    return float(min(1.0, max(0.0, score))) if math.isfinite(score) else 0.0


def combine_matrix(C: np.ndarray, names: Sequence[str], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """`combine` over the rows of C (n_texts x len(names)); identical results, vectorised."""
    import numpy as np  # deferred: the Lambda path never needs numpy (cold start)

    w = _weights(weights)
    C = np.nan_to_num(np.asarray(C, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    idx = {n: i for i, n in enumerate(names)}
    raw = np.zeros(C.shape[0])
    for f in FAMILIES:
        if f in idx:
            raw += w.get(f, 0.0) * C[:, idx[f]]
    if CEILING in w:
        raw = np.minimum(raw, float(w[CEILING]))
    z = np.clip(w["scale"] * (raw - w["bias"]), -700, 700)
    score = 1.0 / (1.0 + np.exp(-z))
    for g in GUARDS:
        if g in idx:
            score *= 1.0 - min(1.0, max(0.0, w.get(g, 0.0))) * np.clip(C[:, idx[g]], 0.0, 1.0)
    return np.nan_to_num(np.clip(score, 0.0, 1.0), nan=0.0)


def score_text(
    text: str,
    profile: Mapping[str, Any],
    weights: Mapping[str, float] | None = None,
    *,
    prompt: str | None = None,
    reference: str | None = None,
) -> tuple[float, dict[str, float]]:
    """Score one text: (reward in [0, 1], components)."""
    comps = components(extract(text, counts=False), profile, prompt=prompt, reference=reference)
    return combine(comps, weights), comps
