"""A Bedrock relevance judge costs money and a permission: both show up before any job."""

from __future__ import annotations

import json

import pytest

from rftlab.backends.bedrock.iam import documents
from rftlab.config import parse_params
from rftlab.jobs import cost


def params(judge: str, enabled: bool = True):
    return parse_params({"relevance": {"judge": judge, "enabled": enabled}})


@pytest.fixture
def train(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"messages": [{"role": "user", "content": "Lambdaのデプロイが失敗する件" * 3}]} for _ in range(200)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_judge_is_part_of_the_job_estimate(train):
    p = params("bedrock")
    hp = p.rft.bedrock.hyperparameters.model_dump()
    judged = cost.estimate_files(train, hp, p.rft.prices, judge=cost.judge_cost(p.relevance, 1.0))
    plain = cost.estimate_files(train, hp, p.rft.prices, judge=None)
    rollouts = 200 * hp["epochCount"] * hp["trainingSamplePerPrompt"]
    per_call_in = cost.approx_tokens(p.relevance.rubric, 1.0) + 8 + judged.avg_prompt_tokens + hp["inferenceMaxTokens"]
    expected = rollouts * (per_call_in / 1000 * 0.0003 + p.relevance.max_tokens / 1000 * 0.0025)
    assert judged.judge_usd == pytest.approx(expected, rel=1e-3)
    assert judged.total_usd == pytest.approx(plain.total_usd + judged.judge_usd, abs=0.011)
    assert "relevance judge (Bedrock, one call per rollout)" in cost.describe(judged)
    assert "relevance judge" not in cost.describe(plain)


@pytest.mark.parametrize("judge, enabled", [("proxy", True), ("bedrock", False)])
def test_no_bedrock_judge_no_judge_cost(judge, enabled):
    assert cost.judge_cost(params(judge, enabled).relevance, 1.0) is None


def test_grader_role_gets_invoke_model_only_with_a_bedrock_judge():
    with_judge = documents(params("bedrock"), account="123456789012")["grader-lambda-policy.json"]
    (stmt,) = [s for s in with_judge["Statement"] if "bedrock:InvokeModel" in s["Action"]]
    assert stmt["Resource"] == [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-2-lite-v1:0",
        "arn:aws:bedrock:*::foundation-model/amazon.nova-2-lite-v1:0",
    ]
    proxy = documents(params("proxy"), account="123456789012")["grader-lambda-policy.json"]
    assert not any("bedrock:InvokeModel" in s["Action"] for s in proxy["Statement"])
    assert {a for s in proxy["Statement"] for a in s["Action"]} == {
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
