"""Grader contract, sample by sample: odd roles, bare samples with batch-looking keys, ids.

Samples follow AWS's documented request shape (a list of {"id", "messages", "metadata"}:
https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html).
"""

from __future__ import annotations

import pytest
from grader_support import heldout, messages

from rftlab.grader.bundle import grader_from_obj, make_bundle
from rftlab.grader.handler import handle
from rftlab.style.profile import build_profile


@pytest.fixture(scope="module")
def grader():
    return grader_from_obj(make_bundle(build_profile(messages(), "U01CTO"), {}))


def _sample(text, **extra):
    return {"messages": [{"role": "user", "content": "明日の会議どうしますか？"},
                         {"role": "assistant", "content": text}], **extra}


@pytest.mark.parametrize("role", [{"name": "assistant"}, ["assistant"], {}, [[]]])
def test_a_role_that_is_an_object_or_array_is_no_role_and_never_raises(grader, role):
    target, _ = heldout()
    odd = {"id": "odd", "messages": [{"role": "user", "content": "どう?"}, {"role": role, "content": target[0]}]}
    # before the scored turn: skipped, the real assistant turn is still scored
    before = {"id": "before", "messages": [{"role": role, "content": "x"}, *_sample(target[0])["messages"]]}
    resp = handle([odd, before, {"id": "ok", **_sample(target[0])}], grader)
    assert [r["id"] for r in resp] == ["odd", "before", "ok"]
    assert resp[0]["metrics_list"] == [{"name": "malformed_no_assistant_message", "value": 1.0, "type": "Metric"}]
    assert resp[1]["aggregate_reward_score"] == resp[2]["aggregate_reward_score"] > 0.5


@pytest.mark.parametrize("key", ["data", "input", "samples", "trajectories", "records", "body"])
def test_a_bare_sample_carrying_a_batch_key_is_one_sample(grader, key):
    target, _ = heldout()
    bare = {"id": "solo", **_sample(target[0]), key: [_sample(target[1], id="x"), _sample(target[2], id="y")]}
    resp = handle(bare, grader)
    assert [r["id"] for r in resp] == ["solo"]
    assert resp == handle([{"id": "solo", **_sample(target[0])}], grader)


def test_each_sample_gets_its_own_id_and_missing_ids_never_collide(grader):
    target, _ = heldout()
    no_ids = [_sample(target[0]), _sample(target[1], id=None), _sample(target[2], id={"a": 1}), _sample(target[3], id=True)]
    resp = handle([*no_ids, _sample(target[4], id="0"), _sample(target[5], id=1)], grader)
    ids = [r["id"] for r in resp]
    assert ids[4:] == ["0", "1"]  # real ids echoed (a number as its text)
    assert len(set(ids)) == len(ids)  # synthesized ids unique and equal to no real id
    # the same samples without the real ids: still distinct
    assert len({r["id"] for r in handle(no_ids, grader)}) == 4


def test_synthesized_ids_dodge_real_ids_that_look_synthesized(grader):
    target, _ = heldout()
    first = handle([_sample(target[0]), _sample(target[1])], grader)
    fake = [r["id"] for r in first]  # real ids spelled like the ones the handler would make
    resp = handle([_sample(target[0]), _sample(target[1]), _sample(target[2], id=fake[0]), _sample(target[3], id=fake[1])], grader)
    ids = [r["id"] for r in resp]
    assert ids[2:] == fake and len(set(ids)) == 4


def test_repeated_real_ids_are_echoed_as_given(grader):
    target, _ = heldout()
    resp = handle([_sample(target[0], id="dup"), _sample(target[1], id="dup")], grader)
    assert [r["id"] for r in resp] == ["dup", "dup"]


def test_a_huge_integer_id_is_no_usable_id_and_never_raises(grader):
    target, _ = heldout()
    resp = handle([_sample(target[0], id=10**5000), _sample(target[1], id=-(10**4400)), _sample(target[2], id=7)], grader)
    assert len(resp) == 3 and resp[2]["id"] == "7"
    assert len({r["id"] for r in resp}) == 3 and all(r["aggregate_reward_score"] > 0.5 for r in resp)
