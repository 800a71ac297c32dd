"""Pure scoring: range, contrast, combine == combine_matrix, guards, gaming attempts."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from grader_support import heldout, messages

from rftlab.grader.gaming import attempts, prompted_attempts
from rftlab.grader.scoring import (
    DEFAULT_WEIGHTS,
    FAMILIES,
    GUARDS,
    combine,
    combine_matrix,
    components,
    score_text,
)
from rftlab.style.features import extract
from rftlab.style.profile import build_profile


@pytest.fixture(scope="module")
def profile():
    return build_profile(messages(), "U01CTO")


def test_names_and_default_weights_cover_every_component(profile):
    comps = components(extract("テストでござる。"), profile)
    assert set(comps) == set(FAMILIES) | set(GUARDS)
    assert set(FAMILIES) | set(GUARDS) | {"scale", "bias"} <= set(DEFAULT_WEIGHTS)


def test_target_scores_above_background(profile):
    target, background = heldout()
    t = [score_text(x, profile)[0] for x in target]
    b = [score_text(x, profile)[0] for x in background]
    assert min(t) > max(b)
    for x in target + background:
        assert 0.0 <= score_text(x, profile)[0] <= 1.0
    comps = components(extract(target[0]), profile)
    assert comps["char"] > 0 and comps["ending"] > 0  # contrastive: more target-like than background


def test_combine_matrix_matches_combine(profile):
    target, background = heldout()
    rows = [components(extract(x), profile) for x in target + background + ["", "hello"]]
    names = list(FAMILIES) + list(GUARDS)
    C = np.array([[r[n] for n in names] for r in rows])
    for w in (DEFAULT_WEIGHTS, {**DEFAULT_WEIGHTS, "char": 0.0, "bias": 0.3, "scale": 7.0, "repetition": 0.5}):
        vec = combine_matrix(C, names, w)
        one = [combine(r, w) for r in rows]
        assert np.allclose(vec, one, rtol=0, atol=1e-12)
    # column order does not matter
    rev = names[::-1]
    assert np.allclose(combine_matrix(C[:, ::-1], rev, DEFAULT_WEIGHTS), [combine(r, DEFAULT_WEIGHTS) for r in rows])


def test_combine_is_bounded_and_finite():
    extreme = {f: 1e9 for f in FAMILIES} | {g: 0.0 for g in GUARDS}
    assert combine(extreme, DEFAULT_WEIGHTS) == 1.0
    assert combine({f: -1e9 for f in FAMILIES}, DEFAULT_WEIGHTS) < 1e-12
    nan = {"char": float("nan"), "func": float("inf"), "repetition": float("nan")}
    assert combine(nan, DEFAULT_WEIGHTS) == combine({}, DEFAULT_WEIGHTS) == 0.5
    assert combine_matrix(np.array([[float("nan"), float("inf"), float("nan")]]), ["char", "func", "repetition"],
                          DEFAULT_WEIGHTS)[0] == 0.5
    assert combine({"repetition": 1.0}, DEFAULT_WEIGHTS) == 0.0


@pytest.mark.parametrize("text,guard", [
    ("", "degenerate_length"),
    ("拙者", "degenerate_length"),
    ("拙者が確認するでござる。" * 6, "repetition"),
    ("I will check the deployment tomorrow and report back.", "non_japanese"),
    ("御座る、拙者、確認、共有、参加、相談", "word_list"),
    ("拙者が\ufffd\ufffd\ufffd確認\ufffd\ufffdするでござる\ufffd", "non_japanese"),
    ("<|assistant|>拙者が<|user|>確認するでござる<|end|>", "non_japanese"),
])
def test_each_guard_triggers(profile, text, guard):
    assert components(extract(text), profile)[guard] >= 0.99


def test_prompt_copy_guard_needs_the_prompt(profile):
    prompt = "明日のデプロイの件、確認お願いできますか？"
    f = extract(prompt)
    assert components(f, profile, prompt=prompt)["prompt_copy"] == 1.0
    assert components(f, profile)["prompt_copy"] == 0.0
    fresh = extract("うむ、拙者が確認するでござる。")
    assert components(fresh, profile, prompt=prompt)["prompt_copy"] == 0.0


def test_far_too_long_text_is_degenerate(profile):
    long = "拙者が" + "".join(f"{i}番目の資料を確認するでござる。" for i in range(300))
    assert components(extract(long), profile)["degenerate_length"] == 1.0


def test_clean_genuine_text_triggers_no_guard(profile):
    target, _ = heldout()
    for x in target:
        comps = components(extract(x), profile, prompt="明日の会議どうしますか？")
        assert all(comps[g] == 0.0 for g in GUARDS), (x, comps)


def test_every_gaming_attempt_scores_below_the_target_median(profile):
    target, background = heldout()
    median = statistics.median(score_text(x, profile)[0] for x in target)
    made = attempts(profile, target, seed=0, prompts=background)
    assert {"top_words_repeated", "message_repeated_5x", "ending_repeated_30x", "empty", "english",
            "random_kana", "word_list", "prompt_copy"} <= set(made)
    assert all(len(t) == 5000 for t in made["random_kana"])
    for name, texts in made.items():
        for t in texts:
            assert score_text(t, profile)[0] < median, (name, t[:40])
    for text, prompt in prompted_attempts(target):
        assert score_text(text, profile, prompt=prompt)[0] < median


def test_attempts_are_seeded(profile):
    target, _ = heldout()
    assert attempts(profile, target, seed=1) == attempts(profile, target, seed=1)
    assert attempts(profile, target, seed=1)["random_kana"] != attempts(profile, target, seed=2)["random_kana"]


def test_lean_scoring_path_matches_counted_features(profile):
    target, background = heldout()
    for x in target[:5] + background[:5] + ["", "ござる" * 40]:
        a = components(extract(x), profile)
        b = components(extract(x, counts=False), profile)
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) < 1e-9 for k in a)
        assert score_text(x, profile)[0] == pytest.approx(combine(a), abs=1e-9)
