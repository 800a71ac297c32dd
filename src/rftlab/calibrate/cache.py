"""Tokenise each message once: features cached on disk, keyed by the data and the feature code.

Tokenisation dominates calibration time; the weight search itself only re-weights. The
cache key is the MD5 of the messages file plus a digest of the `rftlab.style` sources, so
a changed feature extractor never serves stale features. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rftlab.style
from rftlab.io import atomic_open, file_md5
from rftlab.style.features import extract

log = logging.getLogger(__name__)
CACHE_FORMAT = 1


def feature_code_digest() -> str:
    """Digest of the feature extractor's source (the style package)."""

    h = hashlib.md5()
    folder = Path(rftlab.style.__file__).parent
    for p in sorted(folder.rglob("*.py")):
        h.update(f"{p.relative_to(folder).as_posix()}\0{file_md5(p)}\n".encode())
    return h.hexdigest()[:12]


def cache_path(messages_path: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    key = hashlib.sha256(
        f"{CACHE_FORMAT}:{file_md5(messages_path)}:{feature_code_digest()}".encode()
    ).hexdigest()[:16]
    return Path(cache_dir) / f"features-{key}.pkl"


def extract_all(texts: Sequence[str]) -> list[dict[str, Any]]:
    return [extract(t) for t in texts]


def cached_features(
    messages_path: str | os.PathLike, texts: Sequence[str], cache_dir: str | os.PathLike | None
) -> list[dict[str, Any]]:
    """Features of every text, from the disk cache when the messages and code are unchanged."""
    if cache_dir is None:
        return extract_all(texts)
    path = cache_path(messages_path, cache_dir)
    if path.exists():
        try:
            with open(path, "rb") as fh:
                feats = pickle.load(fh)
            if isinstance(feats, list) and len(feats) == len(texts):
                log.info("features: %d from cache %s", len(feats), path)
                return feats
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            log.warning("features cache %s unreadable; recomputing", path)
    feats = extract_all(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("features-*.pkl"):
        old.unlink(missing_ok=True)  # one live cache per folder: the data changed
    with atomic_open(path, "wb") as fh:
        pickle.dump(feats, fh, protocol=pickle.HIGHEST_PROTOCOL)
    log.info("features: %d extracted, cached at %s", len(feats), path)
    return feats
