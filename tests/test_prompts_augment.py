"""Augmentation: templated variations, Bedrock Converse paraphrases (Stubber only, never a real call)."""

from __future__ import annotations

import pytest
from botocore.stub import ANY

from rftlab.config import PromptsParams
from rftlab.errors import RftlabError
from rftlab.prompts.augment import PARAPHRASE_INSTRUCTION, augment, bedrock_paraphraser
from rftlab.prompts.build import build_prompt_set, paraphraser_for

T = "U01CTO"
T0 = 1_736_130_000.0


def threads(n):
    out = []
    for k in range(n):
        t = f"{T0 + k * 3600:.6f}"
        out.append({"id": f"q{k}", "user": "UA", "text": f"質問{k}です", "ts": t, "thread_ts": t, "channel": "C1"})
        out.append({"id": f"a{k}", "user": T, "text": f"答え{k}でござる", "ts": f"{float(t) + 5:.6f}", "thread_ts": t, "channel": "C1"})
    return out


def test_templates_fill_train_only_up_to_min_count():
    cfg = PromptsParams(val_fraction=0.2, augment={"min_count": 12, "templates": ["{prompt}", "教えて: {prompt}", "{prompt}？"]})
    out = build_prompt_set(threads(10), T, cfg, max_prompt_length=256)
    assert len(out.val) == 2 and all("augmented_from" not in r for r in out.val)
    assert len(out.train) == 12
    new = [r for r in out.train if "augmented_from" in r]
    assert len(new) == 4 and all(r["source"] == "template" for r in new)
    # "{prompt}" alone duplicates the original: rejected, the next template is used
    assert out.augmented == {"paraphrase": 0, "template": 4, "rejected": 8}
    assert all(r["messages"][-1]["content"].startswith("教えて: ") for r in new)
    orig = {r["id"]: r for r in out.train}
    for r in new:
        assert r["reference_answer"] == orig[r["augmented_from"]]["reference_answer"]
        assert r["thread_ts"] == orig[r["augmented_from"]]["thread_ts"]
    again = build_prompt_set(threads(10), T, cfg, max_prompt_length=256)
    assert again.train == out.train  # seeded, deterministic


def test_no_augmentation_when_enough_or_disabled():
    recs = [{"id": "1", "messages": [{"role": "user", "content": "x"}]}]
    assert augment(recs, min_count=1, templates=["a {prompt}"]) == ([], {"paraphrase": 0, "template": 0, "rejected": 0})
    assert augment(recs, min_count=5, templates=[])[0] == []


def test_template_without_slot_is_a_config_error():
    with pytest.raises(ValueError, match=r"templates\[0\] must contain \{prompt\}"):
        PromptsParams(augment={"templates": ["no slot"]})


def converse_response(text: str) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 100},
    }


def test_bedrock_paraphrase_through_converse(converse_stub):
    expected = {"modelId": "us.amazon.nova-2-lite-v1:0", "messages": ANY, "inferenceConfig": ANY}
    sent: list[dict] = []
    converse_stub.client.meta.events.register(
        "before-parameter-build.bedrock-runtime.Converse", lambda params, **_: sent.append(params)
    )
    for text in ("言い換え一", "言い換え二", "言い換え一", ""):  # a duplicate and an empty answer: rejected
        converse_stub.add_response("converse", converse_response(text), expected)
    cfg = PromptsParams(
        val_fraction=0.2,
        augment={"min_count": 10, "templates": ["再掲: {prompt}"], "bedrock_paraphrase": True},
    )
    para = paraphraser_for(cfg)
    assert para is not None
    recs = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"元{i}"}], "reference_answer": "x"} for i in range(4)]
    seen: set[str] = set()

    def accept(text):
        if text in seen:
            return "duplicate"
        seen.add(text)
        return None

    new, counts = augment(recs, min_count=7, templates=cfg.augment.templates, paraphrase=para, accept=accept)  # needs 3
    converse_stub.assert_no_pending_responses()
    assert counts == {"paraphrase": 2, "rejected": 2, "template": 1}  # every original tried once, then templates
    assert [r["source"] for r in new] == ["paraphrase", "paraphrase", "template"]
    assert new[0]["messages"][-1]["content"] == "言い換え一" and new[0]["id"].endswith("~p")
    text = sent[0]["messages"][0]["content"][0]["text"]
    assert text.startswith(PARAPHRASE_INSTRUCTION) and text.removeprefix(PARAPHRASE_INSTRUCTION).startswith("元")


def test_paraphrase_access_denied_is_one_line_error(converse_stub):
    converse_stub.add_client_error(
        "converse", service_error_code="AccessDeniedException", service_message="not authorized to perform: bedrock:InvokeModel"
    )
    para = bedrock_paraphraser("amazon.nova-2-lite-v1:0", "us-east-1")  # bare id: sent as the profile
    with pytest.raises(RftlabError, match="bedrock:InvokeModel"):
        para("質問")


def test_paraphrase_needs_flag_and_credentials(monkeypatch):
    assert paraphraser_for(PromptsParams(augment={"min_count": 5})) is None  # not enabled
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    cfg = PromptsParams(augment={"min_count": 5, "bedrock_paraphrase": True})
    assert paraphraser_for(cfg) is None  # enabled, but no credentials: skipped, no call
