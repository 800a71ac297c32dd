"""Bedrock grader Lambda contract: list in, list out, never raises."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from grader_support import heldout, messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rftlab.grader import handler
from rftlab.grader.bundle import grader_from_obj, make_bundle, write_bundle
from rftlab.grader.handler import handle, lambda_handler, to_payload
from rftlab.grader.scoring import FAMILIES, GUARDS
from rftlab.style.profile import build_profile


@pytest.fixture(scope="module")
def grader():
    return grader_from_obj(make_bundle(build_profile(messages(), "U01CTO"), {}))


def _sample(sid, text, role="assistant", **extra):
    return {"id": sid, "messages": [{"role": "user", "content": "明日の会議どうしますか？"},
                                    {"role": role, "content": text}], **extra}


def assert_well_formed(resp, n):
    assert isinstance(resp, list) and len(resp) == n
    for r in resp:
        assert set(r) == {"id", "aggregate_reward_score", "metrics_list"}
        assert isinstance(r["id"], str)
        s = r["aggregate_reward_score"]
        assert isinstance(s, float) and math.isfinite(s) and 0.0 <= s <= 1.0
        assert r["metrics_list"]
        for m in r["metrics_list"]:
            assert set(m) == {"name", "value", "type"} and m["type"] in ("Reward", "Metric")
            assert isinstance(m["name"], str) and math.isfinite(m["value"])
    json.dumps(resp)


def test_one_reward_entry_for_the_score_and_every_component_as_a_metric(grader):
    target, _ = heldout()
    [r] = handle([_sample("123", target[0])], grader)
    assert r["id"] == "123" and r["aggregate_reward_score"] > 0.5
    kinds = {m["name"]: m["type"] for m in r["metrics_list"]}
    assert kinds == {"style": "Reward", **{f: "Metric" for f in FAMILIES}, **{g: "Metric" for g in GUARDS}}


def test_both_assistant_roles_and_last_assistant_turn_is_scored(grader):
    target, background = heldout()
    a = handle([_sample("1", target[0], role="assistant")], grader)[0]
    b = handle([_sample("1", target[0], role="nova_assistant")], grader)[0]
    assert a == b
    multi = {"id": "m", "messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": background[0]},
                                     {"role": "user", "content": "q2"}, {"role": "assistant", "content": target[0]}]}
    assert handle([multi], grader)[0]["aggregate_reward_score"] == a["aggregate_reward_score"]
    parts = _sample("p", [{"text": target[0][:5]}, {"text": target[0][5:]}])
    assert handle([parts], grader)[0]["aggregate_reward_score"] == a["aggregate_reward_score"]


@pytest.mark.parametrize("placement", ["metadata", "top", "object", "none"])
def test_reference_answer_anywhere(grader, placement):
    target, _ = heldout()
    ref = "拙者が対応するでござる。"
    extra = {"metadata": {"reference_answer": ref}} if placement == "metadata" else \
        {"reference_answer": ref} if placement == "top" else \
        {"metadata": {"reference_answer": {"text": ref, "score": 1}}} if placement == "object" else {}
    [r] = handle([_sample("r", target[0], **extra)], grader)
    assert r["aggregate_reward_score"] > 0.5


def test_prompt_is_the_last_user_message_before_the_scored_turn(grader):
    prompt = "明日のデプロイの件、拙者が確認するでござるか？"
    sample = {"id": "c", "messages": [{"role": "system", "content": "you are a bot"},
                                      {"role": "user", "content": prompt}, {"role": "assistant", "content": prompt}]}
    [r] = handle([sample], grader)
    assert {m["name"]: m["value"] for m in r["metrics_list"]}["prompt_copy"] == 1.0
    assert r["aggregate_reward_score"] == 0.0


@pytest.mark.parametrize("bad,reason", [
    (None, "malformed_not_object"), ("text", "malformed_not_object"), ({"id": "x"}, "malformed_no_messages"),
    ({"id": "x", "messages": []}, "malformed_no_messages"),
    ({"id": "x", "messages": [{"role": "user", "content": "hi"}]}, "malformed_no_assistant_message"),
    ({"id": "x", "messages": [{"role": "assistant", "content": 5}]}, "malformed_content_not_text"),
])
def test_malformed_samples_score_zero_and_say_why_without_failing_the_batch(grader, bad, reason):
    target, _ = heldout()
    resp = handle([_sample("a", target[0]), bad, _sample("b", target[1])], grader)
    assert_well_formed(resp, 3)
    assert [r["id"] for r in resp][::2] == ["a", "b"]
    assert resp[1]["aggregate_reward_score"] == 0.0
    assert resp[1]["metrics_list"][0]["name"] == reason
    assert resp[0]["aggregate_reward_score"] > 0.5


def test_order_and_ids_are_kept_and_wrapped_batches_are_accepted(grader):
    target, background = heldout()
    batch = [_sample(str(i), (target + background)[i % 20]) for i in range(20)]
    resp = handle(batch, grader)
    assert [r["id"] for r in resp] == [str(i) for i in range(20)]
    assert handle({"samples": batch}, grader) == resp
    assert handle(json.dumps(batch, ensure_ascii=False), grader) == resp
    assert handle(batch[0], grader) == resp[:1]
    assert handle([], grader) == []


def test_to_payload_round_trips_through_handle(grader):
    target, _ = heldout()
    p = to_payload([{"role": "user", "content": "どう?"}], target[0], sample_id="7", reference_answer="ref",
                   metadata={"channel": "general"})
    assert p["metadata"] == {"channel": "general", "reference_answer": "ref"}
    assert p["messages"][-1] == {"role": "assistant", "content": target[0]}
    assert handle([p], grader)[0]["id"] == "7"


def test_lambda_handler_loads_bundle_from_env_once(tmp_path, monkeypatch, capsys):
    bundle = make_bundle(build_profile(messages(), "U01CTO"), {})
    write_bundle(tmp_path / "g.json", bundle)
    monkeypatch.setenv("RFTLAB_GRADER", str(tmp_path / "g.json"))
    monkeypatch.setattr(handler, "_GRADER", None)
    resp = lambda_handler([_sample("1", "拙者が確認するでござる。")], None)
    assert_well_formed(resp, 1)
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log["count"] == 1 and log["errors"] == 0 and "ms" in log and log["grader_version"] == bundle["version"]
    monkeypatch.setenv("RFTLAB_GRADER", str(tmp_path / "missing.json"))
    assert lambda_handler([], None) == []  # cached: not reloaded per invocation


def test_handler_import_path_is_light():
    code = ("import sys, rftlab.grader.handler; "
            "print(','.join(m for m in ('mlflow', 'pandas', 'torch', 'numpy', 'sklearn', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
roles = st.sampled_from(["user", "assistant", "nova_assistant", "system", None, 3])
message = st.fixed_dictionaries({}, optional={"role": roles, "content": json_values | st.text(max_size=300)})
sample = st.fixed_dictionaries({}, optional={
    "id": json_values, "messages": st.lists(message | json_values, max_size=4) | json_values,
    "metadata": st.fixed_dictionaries({}, optional={"reference_answer": json_values}) | json_values,
    "reference_answer": json_values,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sample | json_values, max_size=6))
def test_property_arbitrary_json_always_gets_a_well_formed_response(grader, batch):
    assert_well_formed(handle(batch, grader), len(batch))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_property_any_top_level_value_never_raises(grader, payload):
    resp = handle(payload, grader)
    assert isinstance(resp, list)
    for r in resp:
        assert 0.0 <= r["aggregate_reward_score"] <= 1.0


def test_huge_strings_and_a_thousand_samples(grader):
    huge = _sample("huge", "あ" * 300_000)
    batch = [huge] + [_sample(str(i), "了解でござる。" if i % 2 else None) for i in range(999)]
    resp = handle(batch, grader)
    assert_well_formed(resp, 1000)
    assert resp[0]["aggregate_reward_score"] == 0.0  # degenerate length


def test_lone_surrogates_and_control_characters_are_scored_not_errors(grader):
    resp = handle([_sample("s", "拙者\ud800が確認\x00するでござる。\r\n")], grader)
    assert_well_formed(resp, 1)
    assert not resp[0]["metrics_list"][0]["name"].startswith("malformed")
