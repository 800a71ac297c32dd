"""Relevance inside the grader: the offline proxy, the Bedrock judge (Stubber and the rehearsal
stand-in: malformed replies, throttling, timeouts, the batch deadline, the cache) and the
Lambda contract with a judge (one Reward entry = the aggregate = style x relevance factor)."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.stub import Stubber
from grader_support import messages

from rftlab.grader.bundle import grader_from_obj, make_bundle
from rftlab.grader.handler import handle, to_payload
from rftlab.grader.relevance import NEUTRAL, Relevance, proxy_relevance
from rftlab.style.profile import build_profile

JUDGE = {"judge": "bedrock", "weight": 0.5, "model_id": "us.amazon.nova-2-lite-v1:0", "region": "us-east-1",
         "concurrency": 1, "timeout_s": 2.0}
PROMPT = "Lambdaのデプロイが失敗するんだけど、どうすればいい？"


def converse_reply(text: str, n_in: int = 40, n_out: int = 12) -> dict:
    """A Converse response as botocore's bedrock-runtime model shapes it."""
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": n_in, "outputTokens": n_out, "totalTokens": n_in + n_out},
            "metrics": {"latencyMs": 12}}


def stubbed(config: dict = JUDGE) -> tuple[Relevance, Stubber]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    return Relevance(config, client=client), Stubber(client)


def test_proxy_reads_the_prompts_key_terms_and_saturates():
    on = proxy_relevance(PROMPT, "結論から言うと、Lambdaのログを先に確認するでござる。")
    off = proxy_relevance(PROMPT, "結論から言うと、急ぐ話ではござらぬ。よしなにでござる。")
    assert on.value == 1.0 and off.value == 0.0 and not on.failed
    # saying the name three times earns nothing more than once
    assert proxy_relevance(PROMPT, "LambdaのLambdaでLambdaでござる。").value == on.value
    none = proxy_relevance("了解です", "よしなにでござる。")
    assert none.value == NEUTRAL and none.undetermined
    assert proxy_relevance(None, "x").undetermined


def test_proxy_divides_down_a_reply_naming_every_service():
    stuffed = "結論から言うと、LambdaとS3とIAMとECSとRDSとKMSとSQSとSNSとAuroraとGlueの設定を見直すでござる。"
    assert proxy_relevance(PROMPT, stuffed).value < 0.5 < proxy_relevance(PROMPT, "Lambdaの設定を見直すでござる。").value


@pytest.mark.parametrize("reply, value, failed", [
    ('{"score": 5, "reason": "answers it"}', 1.0, False),
    ('```json\n{"score": 2, "reason": "vague"}\n```', 0.25, False),
    ("I think this deserves a 4 out of 5.", NEUTRAL, True),   # no score field: unreadable
    ("", NEUTRAL, True),
    ('{"score": "high"}', NEUTRAL, True),
])
def test_judge_reads_or_neutralises_the_reply(reply, value, failed):
    rel, stub = stubbed()
    stub.add_response("converse", converse_reply(reply))
    with stub:
        (a,) = rel.assess([(PROMPT, "Lambdaのログを見るでござる。")])
    assert a.value == pytest.approx(value) and a.failed is failed
    stub.assert_no_pending_responses()


def test_judge_request_follows_converse_and_tokens_are_counted():
    rel, stub = stubbed()
    from rftlab.grader.relevance import judge_message
    from rftlab.rubrics import RELEVANCE_RUBRIC

    expected = {"modelId": "us.amazon.nova-2-lite-v1:0",
                "messages": [{"role": "user", "content": [{"text": judge_message(RELEVANCE_RUBRIC, PROMPT, "返事")}]}],
                "inferenceConfig": {"maxTokens": 100, "temperature": 0.0}}
    stub.add_response("converse", converse_reply('{"score": 4, "reason": "ok"}', 55, 9), expected)
    with stub:
        (a,) = rel.assess([(PROMPT, "返事")])
    assert (a.value, a.input_tokens, a.output_tokens) == (0.75, 55, 9)


def test_throttling_and_access_denied_degrade_to_neutral_and_are_flagged():
    rel, stub = stubbed()
    stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429,
                          service_message="Too many requests, please wait before trying again.")
    stub.add_client_error("converse", service_error_code="AccessDeniedException", http_status_code=403)
    with stub:
        a, b = rel.assess([(PROMPT, "一つ目"), (PROMPT, "二つ目")])
    assert (a.value, a.failed, b.value, b.failed) == (NEUTRAL, True, NEUTRAL, True)
    assert "ThrottlingException" in a.problem and "AccessDenied" in b.problem


def test_answers_are_cached_by_prompt_and_reply_and_failures_are_not():
    rel, stub = stubbed()
    stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    stub.add_response("converse", converse_reply('{"score": 5, "reason": "ok"}'))
    with stub:
        first = rel.assess([(PROMPT, "同じ返事")])[0]
        second = rel.assess([(PROMPT, "同じ返事"), (PROMPT, "同じ返事")])  # one call answers both
        third = rel.assess([(PROMPT, "同じ返事")])[0]  # from the cache: no stubbed response left
    assert first.failed and second[0].value == second[1].value == 1.0 and third.cached and third.value == 1.0
    stub.assert_no_pending_responses()


def bundle_with(relevance: dict | None) -> dict:
    return make_bundle(build_profile(messages(), "U01CTO"), {}, relevance=relevance)


def test_handler_with_a_judge_keeps_one_reward_equal_to_the_aggregate():
    grader = grader_from_obj(bundle_with({"judge": "proxy", "weight": 0.5}))
    payload = [to_payload([{"role": "user", "content": PROMPT}], "結論から言うと、Lambdaのログを見るでござる。", sample_id="on"),
               to_payload([{"role": "user", "content": PROMPT}], "結論から言うと、急ぐ話ではござらぬ。", sample_id="off"),
               {"id": "bad", "messages": "nope"}]
    on, off, bad = handle(payload, grader)
    for r in (on, off):
        rewards = [m for m in r["metrics_list"] if m["type"] == "Reward"]
        named = {m["name"]: m["value"] for m in r["metrics_list"]}
        assert len(rewards) == 1 and rewards[0]["name"] == "reward"
        assert rewards[0]["value"] == pytest.approx(r["aggregate_reward_score"], abs=1e-6)
        assert r["aggregate_reward_score"] == pytest.approx(named["style"] * (1 - 0.5 * (1 - named["relevance"])),
                                                            abs=1e-6)
    assert {m["name"]: m["value"] for m in on["metrics_list"]}["relevance"] == 1.0
    assert {m["name"]: m["value"] for m in off["metrics_list"]}["relevance"] == 0.0
    assert bad["aggregate_reward_score"] == 0.0 and bad["metrics_list"][0]["name"] == "malformed_no_messages"


def test_handler_survives_a_judge_that_raises(monkeypatch):
    grader = grader_from_obj(bundle_with({"judge": "proxy"}))
    monkeypatch.setattr(grader.relevance, "assess", lambda *a, **k: 1 / 0)
    (r,) = handle([to_payload([{"role": "user", "content": PROMPT}], "Lambdaでござる。", sample_id="x")], grader)
    named = {m["name"]: m["value"] for m in r["metrics_list"]}
    assert named["relevance"] == NEUTRAL and named["relevance_failed"] == 1.0
    assert r["aggregate_reward_score"] == pytest.approx(named["style"] * 0.75, abs=1e-6)


def test_the_relevance_block_is_part_of_the_version():
    a, b = bundle_with({"judge": "proxy"}), bundle_with({"judge": "proxy", "weight": 0.3})
    assert a["version"] != b["version"] != bundle_with(None)["version"]
    assert grader_from_obj(a).version == a["version"]
    edited = {**a, "relevance": {**a["relevance"], "weight": 0.9}}
    with pytest.raises(Exception, match="does not match its content"):
        grader_from_obj(edited)


# --------------------------------------------------------------------------- the rehearsal stand-in


@pytest.fixture
def standin(monkeypatch):
    from rftlab.backends.bedrock.rehearsal.options import StandInOptions
    from rftlab.backends.bedrock.rehearsal.standin import StandIn

    opts = StandInOptions(aws_endpoint="http://127.0.0.1:9", reply='{"score": 5, "reason": "answers it"}')
    with StandIn(opts) as s:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", s.runtime_url)
        yield s


def test_standin_judge_runs_the_batch_concurrently(standin, monkeypatch):
    import threading

    real = standin.runtime.reply
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def slow(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.3)  # long enough for the other calls of the batch to arrive
        with lock:
            state["now"] -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(standin.runtime, "reply", slow)
    found = Relevance({**JUDGE, "concurrency": 4}).assess([(PROMPT, f"返事{i}") for i in range(8)])
    assert [a.value for a in found] == [1.0] * 8 and not any(a.failed for a in found)
    assert 1 < state["most"] <= 4  # calls in flight together, never more than `concurrency`


def test_standin_timeout_and_deadline_give_neutral_flagged_values(standin, monkeypatch):
    def stuck(*args, **kwargs):
        time.sleep(1.5)
        return ('{"score": 5, "reason": "late"}', 10, 5, False)

    monkeypatch.setattr(standin.runtime, "reply", stuck)
    (timed_out,) = Relevance({**JUDGE, "timeout_s": 0.3}).assess([(PROMPT, "遅い")])
    assert timed_out.failed and timed_out.value == NEUTRAL
    (cut,) = Relevance({**JUDGE, "timeout_s": 5.0}).assess([(PROMPT, "締め切り")], deadline_s=0.2)
    assert cut.failed and cut.value == NEUTRAL and "deadline" in cut.problem


def test_standin_throttling_is_neutral_and_the_batch_is_answered(standin, monkeypatch):
    from rftlab.backends.bedrock.rehearsal.wire import ServiceError

    def throttled(params):
        raise ServiceError("ThrottlingException", "Too many requests, please wait before trying again.")

    monkeypatch.setattr(standin.runtime, "Converse", throttled)
    grader = grader_from_obj(bundle_with({**JUDGE, "timeout_s": 1.0}))
    out = handle([to_payload([{"role": "user", "content": PROMPT}], "Lambdaでござる。", sample_id=str(i))
                  for i in range(3)], grader)
    assert len(out) == 3
    for r in out:
        named = {m["name"]: m["value"] for m in r["metrics_list"]}
        assert named["relevance_failed"] == 1.0 and named["relevance"] == NEUTRAL
