"""Grader bundle: profile + weights + a content-hash version; the deployable unit.

Light on purpose (json + hashlib + scoring): the Lambda handler imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.grader.relevance import Relevance, config_from
from rftlab.grader.scoring import DEFAULT_WEIGHTS, combine, components
from rftlab.io import read_json, write_json
from rftlab.numeric import stable_tree
from rftlab.style.features import extract

BUNDLE_SCHEMA = 1
ADDED_FAMILIES = ("learned", "evidence")  # profile schema 2; older bundles score them at weight 0
ADDED_GUARDS = ("disfluency",)  # added later too: a bundle made before them keeps its scores


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def grader_version(profile: Mapping[str, Any], weights: Mapping[str, float],
                   relevance: Mapping[str, Any] | None = None) -> str:
    """"g-" + sha256[:12] over canonical JSON of profile, weights and the relevance judge (meta excluded).

    A bundle without a relevance block hashes exactly as before it existed."""
    doc: dict[str, Any] = {"profile": profile, "weights": dict(weights)}
    if relevance is not None:
        doc["relevance"] = dict(relevance)
    return "g-" + hashlib.sha256(_canonical(doc)).hexdigest()[:12]


def make_bundle(profile: Mapping[str, Any], weights: Mapping[str, float] | None = None,
                meta: Mapping[str, Any] | None = None, relevance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A bundle dict; missing weights are filled from DEFAULT_WEIGHTS so the version is complete.

    `relevance` (grader/relevance.py): the judge the reward multiplies the style score by; its
    defaults are filled in so the version covers every setting."""
    # stored rounded: the bundle's bytes (and so its version) are the same on every CPU (rftlab/numeric.py)
    full = stable_tree({**DEFAULT_WEIGHTS, **{k: float(v) for k, v in (weights or {}).items()}})
    profile = stable_tree(dict(profile))
    rel = config_from(relevance)
    bundle = {
        "bundle_schema": BUNDLE_SCHEMA,
        "version": grader_version(profile, full, rel),
        "weights": full,
        "profile": dict(profile),
        "meta": dict(meta or {}),
    }
    if rel is not None:
        bundle["relevance"] = rel
    return bundle


def write_bundle(path: str | os.PathLike, bundle: Mapping[str, Any]) -> None:
    write_json(path, dict(bundle), indent=None)


class Grader:
    """A loaded grader: the one object every scorer (Lambda, CLI, trainer, evaluation) uses."""

    def __init__(self, profile: Mapping[str, Any], weights: Mapping[str, float] | None = None,
                 version: str | None = None, meta: Mapping[str, Any] | None = None,
                 relevance: Mapping[str, Any] | None = None) -> None:
        self.profile = profile
        self.weights = {**DEFAULT_WEIGHTS, **dict(weights or {})}
        rel = config_from(relevance)
        self.version = version or grader_version(profile, self.weights, rel)
        self.meta = dict(meta or {})
        # the reward's second factor (None: the reward is the style score alone)
        self.relevance: Relevance | None = Relevance(rel) if rel is not None else None

    def offline(self) -> Grader:
        """This grader with the offline proxy judging relevance (no Bedrock call); same version."""
        if self.relevance is not None:
            self.relevance = self.relevance.offline()
        return self

    def score(self, text: Any, *, prompt: str | None = None, reference: Any = None) -> tuple[float, dict[str, float]]:
        comps = components(extract(text, counts=False), self.profile, prompt=prompt,
                           reference=reference if isinstance(reference, str) else None)
        return combine(comps, self.weights), comps

    def score_many(self, texts: Sequence[Any], *, prompts: Sequence[str | None] | None = None) -> list[tuple[float, dict[str, float]]]:
        prompts = prompts if prompts is not None else [None] * len(texts)
        return [self.score(t, prompt=p) for t, p in zip(texts, prompts)]


def grader_from_obj(obj: Any, source: str = "grader") -> Grader:
    """A Grader from a bundle dict or a bare profile dict (scored with DEFAULT_WEIGHTS)."""
    if isinstance(obj, dict) and isinstance(obj.get("profile"), dict) and "weights" in obj:
        if not isinstance(obj["weights"], dict):
            raise InputError(f"{source}: bundle 'weights' must be an object")
        profile, weights = obj["profile"], obj["weights"]
        # make_bundle stores full weights, so their hash as stored is the version; a bundle
        # written with partial weights is hashed with the defaults filled in
        try:
            relevance = config_from(obj.get("relevance"))
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from None
        version = grader_version(profile, weights, relevance)
        stored = obj.get("version")
        if stored and stored != version:
            version = grader_version(profile, {**DEFAULT_WEIGHTS, **weights}, relevance)
        if stored and stored != version:
            raise InputError(f"{source}: bundle version {stored} does not match its content ({version}); was it edited?")
        # families and guards added after a bundle was made must not change its scores
        weights = {**{f: 0.0 for f in (*ADDED_FAMILIES, *ADDED_GUARDS) if f not in weights}, **weights}
        return Grader(profile, weights, version, obj.get("meta"), relevance)
    if isinstance(obj, dict) and "schema_version" in obj and isinstance(obj.get("families"), dict):
        return Grader(obj, None, None, {"bare_profile": True})
    raise InputError(f"{source}: neither a grader bundle (profile + weights + version) nor a style profile")


def load_grader(path: str | os.PathLike) -> Grader:
    """Load a bundle or a bare profile from disk; anything else is a one-line InputError."""

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a grader bundle or style profile JSON file")
    return grader_from_obj(read_json(path), str(path))
