"""Grader response details: Reward vs Metric entries, the trajectories wrapper, unreadable
payloads, and the prompt-copy guard's meaning (now computed in linear time).

Shapes from AWS: the request/response pages
https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html and
.../reward-functions-open-weight.html; the `{"trajectories": [...]}` wrapper and the
"Reward"/"Metric" tags from aws-samples/amazon-bedrock-samples
custom-models/bedrock-reinforcement-fine-tuning/reward-functions/ (gsm8k_gptoss_rew_func.py,
pandalm_rew_func.py).
"""

from __future__ import annotations

import json
import random

import pytest
from grader_support import heldout, messages
from hypothesis import given, settings
from hypothesis import strategies as st

from rftlab.grader.bundle import grader_from_obj, make_bundle
from rftlab.grader.handler import handle
from rftlab.grader.scoring import FAMILIES, GUARDS, components
from rftlab.style.features import extract
from rftlab.style.profile import build_profile


@pytest.fixture(scope="module")
def profile():
    return build_profile(messages(), "U01CTO")


@pytest.fixture(scope="module")
def grader(profile):
    return grader_from_obj(make_bundle(profile, {}))


def _sample(sid, text, prompt="明日の会議どうしますか？"):
    return {"id": sid, "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": text}],
            "metadata": {"reference_answer": "了解でござる。"}}


def test_only_the_bounded_score_is_a_reward_and_components_are_metrics(grader):
    target, background = heldout()
    for r in handle([_sample("t", target[0]), _sample("b", background[0]), _sample("e", "")], grader):
        rewards = [m for m in r["metrics_list"] if m["type"] == "Reward"]
        assert rewards == [{"name": "style", "value": round(r["aggregate_reward_score"], 6), "type": "Reward"}]
        assert 0.0 <= rewards[0]["value"] <= 1.0
        metrics = {m["name"] for m in r["metrics_list"] if m["type"] == "Metric"}
        assert metrics == set(FAMILIES) | set(GUARDS)


def test_family_components_outside_zero_one_are_never_tagged_reward(grader):
    target, background = heldout()
    resp = handle([_sample(str(i), t) for i, t in enumerate(target + background)], grader)
    unbounded = [m for r in resp for m in r["metrics_list"] if not 0.0 <= m["value"] <= 1.0]
    assert unbounded and all(m["type"] == "Metric" for m in unbounded)


def test_the_trajectories_wrapper_of_aws_open_weight_samples_is_the_batch(grader):
    target, background = heldout()
    batch = [_sample("a", target[0]), _sample("b", background[0]), {"id": "c"}]
    resp = handle(batch, grader)
    assert [r["id"] for r in resp] == ["a", "b", "c"]
    assert handle({"trajectories": batch}, grader) == resp
    assert handle(json.dumps({"trajectories": batch}, ensure_ascii=False), grader) == resp
    assert handle({"trajectories": []}, grader) == []


@pytest.mark.parametrize("payload", [
    None, 5, 2.5, True, "", "not json", b"\xff\xfe[", "null", "{\"id\"", {}, {"foo": [1]},
    {"data": [{"id": "x"}]}, {"trajectories": "[]"}, {"trajectories": {"id": "x"}}, {"samples": None},
])
def test_a_payload_with_no_readable_samples_gets_an_empty_list(grader, payload):
    assert handle(payload, grader) == []


def test_a_huge_integer_in_json_text_is_an_unreadable_payload_not_an_error(grader):
    assert handle('[{"id": ' + "9" * 5000 + "}]", grader) == []


def _overlap_by_search(text, prompt):
    """The guard's definition, spelled out: share of the reply's distinct 5-grams found in the prompt."""
    text, prompt = text.strip(), prompt.strip()
    if not text or not prompt:
        return 0.0
    if len(text) < 5:
        return 1.0 if text == prompt else 0.0
    grams = {text[i:i + 5] for i in range(len(text) - 4)}
    return sum(g in prompt for g in grams) / len(grams)


def _ramp(x, lo, hi):
    return 0.0 if x <= lo else 1.0 if x >= hi else (x - lo) / (hi - lo)


ALPHABET = "あいうえおかきくけこ。、 拙者確認"
pieces = st.text(alphabet=ALPHABET, max_size=30)


@settings(max_examples=200, deadline=None, database=None)
@given(pieces, pieces, pieces, st.booleans())
def test_prompt_copy_guard_keeps_its_meaning(profile, a, b, c, copy):
    prompt = a + b
    text = (b + c) if copy else (c + a)
    comps = components(extract(text, counts=False), profile, prompt=prompt)
    assert comps["prompt_copy"] == pytest.approx(_ramp(_overlap_by_search(text, prompt), 0.5, 0.9))


def test_prompt_copy_guard_on_long_texts(profile):
    rng = random.Random(3)
    prompt = "".join(rng.choice("あいうえおかきくけこさしすせそ拙者確認会議") for _ in range(30_000))
    copied = prompt[10_000:14_000]
    fresh = "".join(rng.choice("たちつてとなにぬねの了解進捗") for _ in range(4_000))
    for text, expect in ((copied, 1.0), (fresh, 0.0), (copied[:2000] + fresh[:2000], 0.0)):
        comps = components(extract(text, counts=False), profile, prompt=prompt)
        assert comps["prompt_copy"] == pytest.approx(expect, abs=0.02)
        assert comps["prompt_copy"] == pytest.approx(_ramp(_overlap_by_search(extract(text)["text"], prompt), 0.5, 0.9))
