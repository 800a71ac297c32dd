"""Learned n-gram family: fitted at profile build, stored sparsely, scored in pure Python."""

from __future__ import annotations

import json

from grader_support import heldout, messages

from rftlab.grader.scoring import LEARNED_SCALE, components
from rftlab.style.features import extract
from rftlab.style.learned import LEARNED_FAMILIES, LearnedModel, fit_learned
from rftlab.style.profile import SCHEMA_VERSION, build_profile


def test_profile_holds_a_sparse_deterministic_learned_block():
    p = build_profile(messages(), "U01CTO")
    block = p["learned"]
    assert SCHEMA_VERSION >= 2 and set(block["weights"]) == set(LEARNED_FAMILIES)
    assert 0 < sum(map(len, block["weights"].values())) <= block["size"]
    # the target's ending is learned as target evidence, a background-only ending against it
    assert block["weights"]["char"]["ござる"] > 0 > block["weights"]["char"]["ます"]
    again = build_profile(list(messages()), "U01CTO")
    assert json.dumps(again, sort_keys=True) == json.dumps(p, sort_keys=True)


def test_learned_component_separates_fresh_texts():
    p = build_profile(messages(), "U01CTO")
    target, background = heldout()
    t = [components(extract(x), p)["learned"] for x in target]
    b = [components(extract(x), p)["learned"] for x in background]
    assert min(t) > max(b)


def test_fused_scorer_matches_the_reference_dot_product():
    p = build_profile(messages(), "U01CTO")
    ref = LearnedModel(p["learned"])
    for text in [*heldout()[0][:5], *heldout()[1][:5], "ゐる。ござるござる", "plain English", ""]:
        for counts in (True, False):
            f = extract(text, counts=counts)
            assert abs(components(f, p)["learned"] - LEARNED_SCALE * ref.score(f)) < 1e-9


def test_empty_and_unknown_input_is_neutral_and_old_profiles_still_score():
    p = build_profile(messages(), "U01CTO")
    assert components(extract(""), p)["learned"] == 0.0
    old = {k: v for k, v in p.items() if k != "learned"}  # a schema-1 profile: no learned block
    assert components(extract("拙者が確認するでござる。"), old)["learned"] == 0.0


def test_fit_is_safe_without_shared_vocabulary():
    t = [extract("あ")]
    b = [extract("い")]
    block = fit_learned(t, b, min_df=3)  # nothing seen three times: empty table, no crash
    assert block["size"] == 0 and LearnedModel(block).score(extract("あい")) == 0.0


def test_a_bundle_made_before_the_new_families_loads_and_scores_as_before():
    from rftlab.grader.bundle import grader_from_obj, grader_version
    from rftlab.grader.scoring import DEFAULT_WEIGHTS, combine

    p = build_profile(messages(), "U01CTO")
    old = {k: v for k, v in DEFAULT_WEIGHTS.items() if k not in ("learned", "evidence")}
    g = grader_from_obj({"profile": p, "weights": old, "version": grader_version(p, old)})
    text = heldout()[0][0]
    comps = components(extract(text), p)
    assert g.score(text)[0] == combine(comps, {**old, "learned": 0.0, "evidence": 0.0})
    assert g.weights["learned"] == 0.0 and g.weights["evidence"] == 0.0
