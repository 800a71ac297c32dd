"""Held-out component matrices: computed once per fold, re-weighted by every trial.

Per fold the style profile is built from that fold's training rows only, so a held-out
message never informs the profile it is scored against. The held-out rows' grader
components (and those of the gaming attempts made from the fold's profile) are stacked
into one matrix; a trial then costs one vectorised `combine_matrix` call.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rftlab.calibrate.split import group_key, group_kfold
from rftlab.errors import InputError
from rftlab.grader import gaming
from rftlab.grader.fluency import with_floor
from rftlab.grader.scoring import FAMILIES, GUARDS, components
from rftlab.style.features import extract
from rftlab.style.profile import build_profile_from_features

log = logging.getLogger(__name__)


@dataclass
class CalibrationData:
    names: list[str]                 # component columns of C and G
    C: np.ndarray                    # held-out rows of all folds, stacked
    labels: np.ndarray               # 1 = target author, 0 = background
    fold: np.ndarray                 # fold id of each row of C
    row: np.ndarray                  # index of each row of C in the messages list
    G: np.ndarray                    # gaming attempts' components, stacked
    gaming_fold: np.ndarray
    gaming_kind: list[str]
    n_folds: int
    digest: str                      # identifies "the same held-out data" across runs
    meta: dict[str, Any] = field(default_factory=dict)


def profile_from_features(
    features: Sequence[dict], users: Sequence[str], author: str, **kwargs: Any
) -> dict:
    """A style profile from cached features (no re-tokenising)."""

    target = [f for f, u in zip(features, users) if u == author]
    background = [f for f, u in zip(features, users) if u != author]
    background_users = [u for u in users if u != author]  # for profile.min_users (docs/privacy.md)
    profile = build_profile_from_features(target, background, author=author, background_users=background_users,
                                          **kwargs)

    return with_floor(profile, target)  # the fluency guard's floor from the fold's target, as the bundle's (search.py)


def component_names(sample: dict[str, float]) -> list[str]:
    known = [n for n in (*FAMILIES, *GUARDS) if n in sample]
    return known + sorted(k for k in sample if k not in known)


def _matrix(rows: list[dict[str, float]], names: list[str]) -> np.ndarray:
    m = np.array([[float(r.get(n, 0.0)) for n in names] for r in rows], dtype=np.float64)
    return np.nan_to_num(m.reshape(len(rows), len(names)), nan=0.0, posinf=0.0, neginf=0.0)


def gaming_components(
    profile: dict, genuine: Sequence[str], seed: int, prompts: Sequence[str] = ()
) -> tuple[list[str], list[dict]]:
    """Components of the reward-hacking texts made from `profile`; copied prompts get their prompt."""

    kinds, comps = [], []
    made = gaming.attempts(profile, list(genuine), seed=seed, prompts=list(prompts) or None)
    for kind, texts in sorted(made.items()):
        for text in texts:
            kinds.append(kind)
            comps.append(components(extract(text), profile))
    for text, prompt in getattr(gaming, "prompted_attempts", lambda g: [])(list(genuine)):
        kinds.append("prompt_copied_back")
        comps.append(components(extract(text), profile, prompt=prompt))
    return kinds, comps


def heldout_digest(ids: Sequence[str], labels: np.ndarray, fold: np.ndarray, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for i, y, f in zip(ids, labels.tolist(), fold.tolist()):
        h.update(f"{i}\t{y}\t{f}\n".encode())
    return h.hexdigest()[:16]


def prepare(
    messages: Sequence[dict],
    features: Sequence[dict],
    author: str,
    *,
    k: int,
    seed: int,
    background_per_fold: int | None = None,
    gaming_genuine: int = 20,
    profile_kwargs: dict[str, Any] | None = None,
) -> CalibrationData:
    """Held-out calibration data: per-fold profiles, component matrices of the held-out texts, gaming texts.

    Long: the folds' profiles, held-out matrices and gaming texts are built in one loop over the folds.
    """
    users = [str(m["user"]) for m in messages]
    texts = [str(m["text"]) for m in messages]
    labels_all = np.array([u == author for u in users], dtype=np.int8)
    if labels_all.sum() < k or (labels_all == 0).sum() < k:
        raise InputError(
            f"need at least {k} messages from {author!r} and {k} from others for {k}-fold "
            f"calibration (found {int(labels_all.sum())} and {int((labels_all == 0).sum())})"
        )
    splits = group_kfold(messages, k, seed, labels=labels_all)
    rng = random.Random(seed)
    comp_rows: list[dict] = []
    rows, folds, g_rows, g_fold, g_kind = [], [], [], [], []
    for f, (train, test) in enumerate(splits):
        prof = profile_from_features(
            [features[i] for i in train], [users[i] for i in train], author, **(profile_kwargs or {})
        )
        test = list(test)
        if background_per_fold is not None:
            bg = [i for i in test if not labels_all[i]]
            if len(bg) > background_per_fold:
                keep = set(rng.sample(bg, background_per_fold))
                test = [i for i in test if labels_all[i] or i in keep]
        for i in test:
            comp_rows.append(components(features[i], prof))
            rows.append(i)
            folds.append(f)
        genuine = [texts[i] for i in test if labels_all[i]][:gaming_genuine]
        others = [texts[i] for i in test if not labels_all[i]][:5]
        kinds, comps = gaming_components(prof, genuine, seed + f, others)
        g_rows.extend(comps)
        g_kind.extend(kinds)
        g_fold.extend([f] * len(comps))
        log.info("fold %d: %d train, %d held out, %d gaming texts", f, len(train), len(test), len(comps))
    names = component_names(comp_rows[0])
    row = np.array(rows, dtype=np.int64)
    fold = np.array(folds, dtype=np.int64)
    labels = labels_all[row]
    ids = [str(messages[i].get("id", i)) for i in row]
    return CalibrationData(
        names=names,
        C=_matrix(comp_rows, names),
        labels=labels,
        fold=fold,
        row=row,
        G=_matrix(g_rows, names),
        gaming_fold=np.array(g_fold, dtype=np.int64),
        gaming_kind=g_kind,
        n_folds=k,
        digest=heldout_digest(ids, labels, fold, extra=f"{author}:{k}:{seed}:{background_per_fold}"),
        meta={"groups": [group_key(messages[i], i) for i in row]},
    )
