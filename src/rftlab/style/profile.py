"""The style profile: target vs background statistics per feature family.

`build_profile` tokenises each message once; `build_profile_from_features` works from
cached `extract()` outputs (calibration builds one profile per fold that way). Output is
plain JSON (sorted keys, integer counts, rounded floats) so the same input gives the same
bytes, and rare features are pruned so loading stays fast.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rftlab.errors import InputError
from rftlab.numeric import stable_tree
from rftlab.privacy.tokens import has_payload, personal
from rftlab.style.features import CONTENT_POS, COUNT_FAMILIES, extract
from rftlab.style.learned import fit_learned

SCHEMA_VERSION = 2  # 2: adds the `learned` block (logistic-regression n-gram weights)
# Features kept per family (the most frequent in target + background); bounds profile size.
FAMILY_CAPS = {"char": 30000, "func": 3000, "pos": 6000, "ending": 4000, "comma": 1500,
               "punct": 800, "chartype": 50, "vocab": 3000}
_ENDING_TAIL = re.compile(r"([^\s。．.!?！？♪、，,「」『』（）()]{1,3})[。．.!?！？♪」』）)\s]*$")


def _rounded(x: float) -> float:
    return float(f"{x:.6g}")


def _length_stats(feats: Sequence[dict]) -> dict[str, float]:
    chars = sorted(float(f["stats"]["n_chars"]) for f in feats)
    logs = [math.log1p(c) for c in chars]
    per_sent = [math.log1p(f["stats"]["n_chars"] / max(1, f["stats"]["n_sentences"])) for f in feats]

    def mean_sd(xs: list[float]) -> tuple[float, float]:
        if not xs:
            return 0.0, 1.0
        mu = sum(xs) / len(xs)
        var = sum((x - mu) ** 2 for x in xs) / max(1, len(xs) - 1)
        return mu, max(0.25, math.sqrt(var))

    def q(p: float) -> float:
        return chars[min(len(chars) - 1, int(p * len(chars)))] if chars else 0.0

    mu, sd = mean_sd(logs)
    smu, ssd = mean_sd(per_sent)
    return {k: _rounded(v) for k, v in {
        "log_chars_mean": mu, "log_chars_sd": sd, "log_sent_mean": smu, "log_sent_sd": ssd,
        "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": chars[-1] if chars else 0.0,
        "n": float(len(chars)),
    }.items()}


def _sum_counts(feats: Iterable[dict], family: str) -> Counter:
    total: Counter = Counter()
    for f in feats:
        total.update(f[family])
    return total


def _family(target: Counter, background: Counter, cap: int, min_count: int, blocked: set[str]) -> dict[str, Any]:
    both = target + background
    keep = sorted((k for k, c in both.items() if c >= min_count and k not in blocked), key=lambda k: (-both[k], k))[:cap]
    return {
        "target": {k: target[k] for k in keep if target[k]},
        "background": {k: background[k] for k in keep if background[k]},
        "target_total": int(sum(target.values())),
        "background_total": int(sum(background.values())),
        "size": len(keep),
    }


def _top_vocab(vocab: Counter, top: int) -> dict[str, list[list[Any]]]:
    out: dict[str, list[list[Any]]] = {}
    for pos in CONTENT_POS:
        items = [(k.split(":", 1)[1], c) for k, c in vocab.items() if k.startswith(pos + ":")]
        items.sort(key=lambda kc: (-kc[1], kc[0]))
        out[pos] = [[w, c] for w, c in items[:top]]
    return out


def _favourites(target: Counter, background: Counter, top: int, min_count: int) -> list[str]:
    """Keys the target uses far more than the background (what a reward hacker would spam)."""
    nt, nb = sum(target.values()) or 1, sum(background.values()) or 1
    scored = []
    for k, c in target.items():
        if c < min_count:
            continue
        lr = math.log((c + 0.5) / nt) - math.log((background.get(k, 0) + 0.5) / nb)
        if lr > 0:
            scored.append((-(c * lr), k))
    return [k for _, k in sorted(scored)[:top]]


def _endings(texts: Iterable[str]) -> Counter:
    out: Counter = Counter()
    for t in texts:
        for sent in re.split(r"(?<=[。．!?！？♪\n])", t):
            m = _ENDING_TAIL.search(sent)
            if m:
                out[m.group(1)] += 1
    return out


def _private_keys(
    sums: Mapping[str, Counter],
    target_feats: Sequence[dict],
    background_feats: Sequence[dict],
    author: str,
    background_users: Sequence[str] | None,
    min_users: int,
) -> dict[str, set[str]]:
    """Keys per family the profile must not keep (docs/privacy.md): any key in which the detectors
    find personal data, and keys carrying a digit or @ that fewer than `min_users` distinct users
    wrote. Family "tail" holds the sentence-ending tails behind favorite_endings."""

    blocked: dict[str, set[str]] = defaultdict(set)
    for fam, counts in sums.items():
        blocked[fam].update(k for k in counts if personal(k))
    if min_users <= 1:
        return blocked
    if background_users is None or len(background_users) != len(background_feats):
        raise ValueError("min_users > 1 needs the user of every background message")
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    rows = [*((author, f) for f in target_feats), *zip(background_users, background_feats)]
    for user, f in rows:
        if not has_payload(f["text"]):
            continue  # every key comes from the text: nothing here carries a payload
        for fam in COUNT_FAMILIES:
            for k in f[fam]:
                if has_payload(k):
                    owners[(fam, k)].add(user)
        for k in _endings([f["text"]]):
            if has_payload(k):
                owners[("tail", k)].add(user)
    for (fam, k), users in owners.items():
        if len(users) < min_users:
            blocked[fam].add(k)
    return blocked


def _without(counts: Counter, blocked: set[str]) -> Counter:
    return Counter({k: c for k, c in counts.items() if k not in blocked}) if blocked else counts


def build_profile_from_features(
    target_feats: Sequence[dict],
    background_feats: Sequence[dict],
    *,
    author: str = "target",
    top_vocab: int = 50,
    min_count: int = 2,
    min_users: int = 1,
    background_users: Sequence[str] | None = None,
    meta: dict | None = None,
) -> dict[str, Any]:
    """The profile from cached `extract()` outputs of the target's and the background's texts.

    Keys in which the detectors find personal data are never kept; with `min_users` > 1 (and
    `background_users`, the user of each background message) neither are keys carrying a digit
    or @ that fewer than `min_users` distinct users wrote (docs/privacy.md).
    """
    if not target_feats:
        raise InputError(f"no messages by author {author!r}: cannot build a style profile")
    if not background_feats:
        raise InputError("no background messages (other users): the profile needs a contrast")
    sums = {fam: (_sum_counts(target_feats, fam), _sum_counts(background_feats, fam)) for fam in COUNT_FAMILIES}
    et = _endings(f["text"] for f in target_feats)
    eb = _endings(f["text"] for f in background_feats)
    blocked = _private_keys({**{fam: t + b for fam, (t, b) in sums.items()}, "tail": et + eb},
                            target_feats, background_feats, author, background_users, min_users)
    families = {fam: _family(t, b, FAMILY_CAPS[fam], min_count, blocked[fam]) for fam, (t, b) in sums.items()}
    vt, vb = _without(sums["vocab"][0], blocked["vocab"]), _without(sums["vocab"][1], blocked["vocab"])
    et, eb = _without(et, blocked["tail"]), _without(eb, blocked["tail"])
    return stable_tree({  # stored rounded: the same bytes on every CPU (rftlab/numeric.py)
        "schema_version": SCHEMA_VERSION,
        "author": author,
        "counts": {"target_messages": len(target_feats), "background_messages": len(background_feats)},
        "families": families,
        "learned": fit_learned(target_feats, background_feats, min_df=min_count, exclude=blocked),
        "length": {"target": _length_stats(target_feats), "background": _length_stats(background_feats)},
        "top_vocab": _top_vocab(vt, top_vocab),
        "favorite_words": _favourites(vt, vb, top_vocab, min_count),
        "favorite_endings": _favourites(et, eb, 10, min_count),
        "settings": {"top_vocab": top_vocab, "min_count": min_count, "min_users": min_users,
                     "caps": dict(FAMILY_CAPS)},
        "meta": dict(meta or {}),
    })


def build_profile(
    messages: Sequence[dict], author: str, *, top_vocab: int = 50, min_count: int = 2, min_users: int = 1,
    meta: dict | None = None,
) -> dict[str, Any]:
    """Profile of `author` against every other user in `messages` (dicts with `user`, `text`)."""
    target, background, background_users = [], [], []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "user" not in m or "text" not in m:
            raise InputError(f"message {i}: needs 'user' and 'text'")
        if str(m["user"]) == author:
            target.append(extract(m["text"]))
        else:
            background.append(extract(m["text"]))
            background_users.append(str(m["user"]))
    profile = build_profile_from_features(
        target, background, author=author, top_vocab=top_vocab, min_count=min_count, min_users=min_users,
        background_users=background_users, meta=meta,
    )
    profile["counts"]["background_users"] = len(set(background_users))
    return profile


def profile_stats(profile: dict) -> dict[str, float]:
    """Headline numbers for MLflow and `dvc metrics`."""
    out = {f"{k}": float(v) for k, v in profile.get("counts", {}).items()}
    for fam, block in profile.get("families", {}).items():
        out[f"features.{fam}"] = float(block.get("size", 0))
    out["target_p50_chars"] = float(profile.get("length", {}).get("target", {}).get("p50", 0.0))
    return out


def is_profile(obj: Any) -> bool:
    return isinstance(obj, dict) and "schema_version" in obj and isinstance(obj.get("families"), dict)
