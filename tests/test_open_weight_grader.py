"""The grader Lambda serves open-weight jobs: the payload shapes AWS documents and samples for them.

Sources: the input/output structure of "Setting up reward functions for open-weight models"
(https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions-open-weight.html: a JSON list of
`{"id", "messages": [user..., assistant], ...training record fields}`, answered with
`[{"id", "aggregate_reward_score", "metrics_list"}]`); AWS's open-weight reward function
(aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/reward-functions/
gsm8k_gptoss_rew_func.py) reads `event if isinstance(event, list) else event.get("trajectories", [])`, the
last `assistant` message and `reference_answer` as an object with `text`; the sample's training data
(datasets/rft_train_data.jsonl) carries `reference_answer` as a string next to extra fields (`ground_truth`).
"""

from __future__ import annotations

import json

import pytest
from grader_support import heldout, messages

from rftlab.grader.bundle import grader_from_obj, make_bundle
from rftlab.grader.handler import handle, lambda_handler, read_samples
from rftlab.style.profile import build_profile


@pytest.fixture(scope="module")
def grader():
    return grader_from_obj(make_bundle(build_profile(messages(), "U01CTO")))


def trajectory(sid: str, reply: str, reference) -> dict:
    """One open-weight trajectory: the training record's fields, an id, the reply appended as assistant."""
    return {"id": sid, "messages": [{"role": "user", "content": "明日の会議どうしますか？"},
                                    {"role": "assistant", "content": reply}],
            "reference_answer": reference, "ground_truth": "72"}


def test_bare_list_and_trajectories_wrapper_give_the_same_documented_answer(grader):
    target, background = heldout()
    batch = [trajectory("a", target[0], "承知したでござる。"), trajectory("b", background[0], "承知したでござる。")]
    assert read_samples(batch) == read_samples({"trajectories": batch}) == batch
    answer = handle(batch, grader)
    assert handle({"trajectories": batch}, grader) == answer
    assert [r["id"] for r in answer] == ["a", "b"]
    for r in answer:
        assert set(r) == {"id", "aggregate_reward_score", "metrics_list"}
        assert 0.0 <= r["aggregate_reward_score"] <= 1.0
        assert all(set(m) == {"name", "value", "type"} for m in r["metrics_list"])
    assert answer[0]["aggregate_reward_score"] > answer[1]["aggregate_reward_score"]  # the target's style wins
    json.dumps(answer, allow_nan=False)  # plain JSON, as the Lambda returns it


@pytest.mark.parametrize("reference", ["承知したでござる。", {"text": "承知したでござる。"}])
def test_reference_answer_as_a_string_or_a_text_object_scores_alike(grader, reference):
    """String: the sample's training data; {"text": ...}: what gsm8k_gptoss_rew_func.py reads."""
    target, _ = heldout()
    plain = handle([trajectory("x", target[1], "承知したでござる。")], grader)[0]
    got = handle([trajectory("x", target[1], reference)], grader)[0]
    assert got["aggregate_reward_score"] == plain["aggregate_reward_score"]


def test_the_lambda_entry_point_answers_a_trajectories_payload(grader, tmp_path, monkeypatch):
    from rftlab.grader.bundle import write_bundle

    bundle = make_bundle(build_profile(messages(), "U01CTO"))
    write_bundle(tmp_path / "grader.json", bundle)
    monkeypatch.setenv("RFTLAB_GRADER", str(tmp_path / "grader.json"))
    monkeypatch.delenv("RFTLAB_GRADER_VERSION", raising=False)
    target, _ = heldout()
    batch = [trajectory("t1", target[0], {"text": "承知したでござる。"}), {"id": "broken"}]
    import rftlab.grader.handler as handler_mod

    monkeypatch.setattr(handler_mod, "_GRADER", None, raising=False)
    out = lambda_handler({"trajectories": batch}, None)
    assert [r["id"] for r in out] == ["t1", "broken"]
    assert out[1]["aggregate_reward_score"] == 0.0  # a malformed trajectory scores 0, the batch goes on
