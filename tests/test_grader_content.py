"""Message content lists with non-text parts: the text parts are scored, the rest recorded, never 0 as malformed.

Shapes from AWS's documents: OpenAI-style `{"type": "text", "text": ...}` parts (SageMaker AI developer guide,
nova-hp-evaluate-rft.html) and Converse ContentBlocks, whose union holds `text` and `reasoningContent`
(`reasoningText` {text, signature}) among others (botocore's bedrock-runtime model, ContentBlock).
"""

from __future__ import annotations

import pytest
from grader_support import messages

from rftlab.grader.bundle import grader_from_obj, make_bundle
from rftlab.grader.content import read_content
from rftlab.grader.handler import handle
from rftlab.style.profile import build_profile

REPLY = "承知したでござる。明日は拙者が進めるでござる。"


@pytest.fixture(scope="module")
def grader():
    return grader_from_obj(make_bundle(build_profile(messages(), "U01CTO"), {}))


def _sample(sid, content):
    return {"id": sid, "messages": [{"role": "user", "content": "明日の件どうする?"},
                                    {"role": "assistant", "content": content}]}


def _metrics(result):
    return {m["name"]: m["value"] for m in result["metrics_list"]}


def test_a_reasoning_block_is_recorded_and_the_text_scored_like_the_plain_reply(grader):
    reasoning = {"reasoningContent": {"reasoningText": {"text": "ユーザーは会議について聞いている", "signature": "sig"}}}
    plain, converse, openai = handle([_sample("a", REPLY), _sample("b", [reasoning, {"text": REPLY}]),
                                      _sample("c", [{"type": "text", "text": REPLY}])], grader)
    assert converse["aggregate_reward_score"] == plain["aggregate_reward_score"] > 0
    assert openai["aggregate_reward_score"] == plain["aggregate_reward_score"]
    assert _metrics(converse)["content_part_reasoningContent"] == 1.0
    assert not any(name.startswith(("malformed", "content_part")) for name in _metrics(plain))


def test_only_non_text_parts_stay_unscorable(grader):
    (result,) = handle([_sample("x", [{"image": {"format": "png", "source": {"bytes": "AA=="}}}])], grader)
    assert result["aggregate_reward_score"] == 0.0 and "malformed_content_not_text" in _metrics(result)


@pytest.mark.parametrize(("content", "text", "others"), [
    ("hi", "hi", {}),
    ([{"text": "a"}, {"text": "b"}], "ab", {}),
    ([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}], "a", {"image_url": 1}),
    ([{"reasoningContent": {"redactedContent": "AA=="}}, {"text": "a"}, {"toolUse": {}}], "a",
     {"reasoningContent": 1, "toolUse": 1}),
    ({"text": "a"}, "a", {}),
    (42, None, {}),
])
def test_read_content_shapes(content, text, others):
    assert read_content(content) == (text, others)
