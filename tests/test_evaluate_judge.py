"""The judge parser on the malformed replies real models produce, and a failing judge call."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from rftlab import aws
from rftlab.evaluate.judge import NEUTRAL, Judge, parse_verdict


@pytest.mark.parametrize(
    "reply, score, ok",
    [
        ('{"score": 5, "reason": "on topic"}', 1.0, True),
        ('```json\n{"score": 4, "reason": "good"}\n```', 0.75, True),
        ('Sure! Here is my rating:\n{"score": 3, "reason": "ok"}\nHope that helps.', 0.5, True),
        ("{'score': 2, 'reason': 'weak'}", 0.25, True),
        ('{"score": "4", "reason": "string score"}', 0.75, True),
        ('{"score": "4/5", "reason": "fraction"}', 0.75, True),
        ('{"Score": 1, "Reason": "caps"}', 0.0, True),
        ('{"score": 9, "reason": "too high"}', 1.0, True),
        ('{"score": -3, "reason": "too low"}', 0.0, True),
        ("Score: 4. Reason: 'fine',", 0.75, True),
        ('{"reason": "no score here"}', NEUTRAL, False),
        ('{"score": null, "reason": "null"}', NEUTRAL, False),
        ('{"score": true, "reason": "bool"}', NEUTRAL, False),
        ("", NEUTRAL, False),
        (None, NEUTRAL, False),
        ("I cannot rate this.", NEUTRAL, False),
        ('{"score": 4, "reason": "truncated by max tokens', 0.75, True),
        ("{{{{", NEUTRAL, False),
    ],
)
def test_parse_verdict(reply, score, ok):
    v = parse_verdict(reply)
    assert v.score == pytest.approx(score)
    assert v.ok is ok
    assert 0.0 <= v.score <= 1.0
    if not ok:
        assert v.problem


def test_out_of_range_and_missing_reason_are_flagged():
    assert "clamped" in parse_verdict('{"score": 9, "reason": "x"}').problem
    v = parse_verdict('{"score": 4}')
    assert v.ok and v.reason == "" and "reason" in v.problem
    assert parse_verdict('{"score": 4, "reason": "r"}').problem == ""


def test_prose_json_prefers_the_object_with_a_score():
    v = parse_verdict('Context {"note": 1} then {"score": 5, "reason": "best"}')
    assert v.score == 1.0 and v.reason == "best"


def test_custom_scale():
    assert parse_verdict('{"score": 7, "reason": "r"}', lo=0, hi=10).score == pytest.approx(0.7)


def test_judge_call_failure_is_neutral_not_a_crash():
    aws.reset_clients()
    client = aws.client("bedrock-runtime", "us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=400)
        v = Judge("amazon.nova-2-lite-v1:0", "Rate it.", "us-east-1").judge("質問", "回答")
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": '```{"score": 4, "reason": "ok"}```'}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
            "metrics": {"latencyMs": 10}})
        good = Judge("amazon.nova-2-lite-v1:0", "Rate it.", "us-east-1").judge("質問", "回答")
    aws.reset_clients()
    assert v.ok is False and v.score == NEUTRAL and "ThrottlingException" in v.problem
    assert good.ok and good.score == pytest.approx(0.75)
