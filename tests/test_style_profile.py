"""Style profile: deterministic bytes, schema, target vs background per family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grader_support import messages

from rftlab.errors import InputError
from rftlab.io import write_json
from rftlab.style.features import COUNT_FAMILIES, extract
from rftlab.style.profile import (
    SCHEMA_VERSION,
    build_profile,
    build_profile_from_features,
    is_profile,
)


def test_profile_is_deterministic_bytes(tmp_path):
    rows = messages()
    write_json(tmp_path / "a.json", build_profile(rows, "U01CTO"))
    write_json(tmp_path / "b.json", build_profile(list(rows), "U01CTO"))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_profile_shape_and_contrast():
    p = build_profile(messages(), "U01CTO", top_vocab=5)
    assert p["schema_version"] == SCHEMA_VERSION and is_profile(p)
    assert p["counts"] == {"target_messages": 60, "background_messages": 120, "background_users": 3}
    for fam in COUNT_FAMILIES:
        block = p["families"][fam]
        assert {"target", "background", "target_total", "background_total", "size"} <= set(block)
    assert all(len(v) <= 5 for v in p["top_vocab"].values())
    assert p["top_vocab"]["名詞"]  # the seed's Top Vocab per POS, for people
    assert "ござる" in p["favorite_endings"]
    assert any("御座る" in w for w in p["favorite_words"])
    assert p["length"]["target"]["n"] == 60.0
    json.dumps(p)


def test_min_count_prunes_rare_features():
    loose = build_profile(messages(), "U01CTO", min_count=1)
    strict = build_profile(messages(), "U01CTO", min_count=5)
    assert strict["families"]["char"]["size"] < loose["families"]["char"]["size"]


def test_from_features_matches_build_profile():
    rows = messages()
    feats = [extract(r["text"]) for r in rows]
    t = [f for f, r in zip(feats, rows) if r["user"] == "U01CTO"]
    b = [f for f, r in zip(feats, rows) if r["user"] != "U01CTO"]
    direct = build_profile(rows, "U01CTO")
    cached = build_profile_from_features(t, b, author="U01CTO")
    assert cached["families"] == direct["families"]


def test_missing_author_or_background_is_an_input_error():
    with pytest.raises(InputError, match="no messages by author"):
        build_profile(messages(), "NOBODY")
    only = [r for r in messages() if r["user"] == "U01CTO"]
    with pytest.raises(InputError, match="background"):
        build_profile(only, "U01CTO")
    with pytest.raises(InputError, match="message 0"):
        build_profile([{"text": "x"}], "U01CTO")


def test_only_tagger_imports_fugashi():
    src = Path(__file__).resolve().parents[1] / "src" / "rftlab"
    importers = [p.relative_to(src).as_posix() for p in src.rglob("*.py")
                 if "import fugashi" in p.read_text(encoding="utf-8")]
    assert importers == ["style/tagger.py"]
