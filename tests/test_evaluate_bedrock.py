"""ConverseGenerator against botocore's Stubber: requests are validated by the service model."""

from __future__ import annotations

import pytest
from botocore.stub import ANY

from rftlab import contracts
from rftlab.aws import AwsError
from rftlab.aws.converse import ConverseGenerator, converse_messages

ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123"


def _reply(text: str, inp: int, out: int) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out},
        "metrics": {"latencyMs": 12},
    }


# Converse ids: Nova 2 Lite's inference profiles (Nova 2 user guide, "Core inference"); ARNs pass through
@pytest.mark.parametrize(("model_id", "sent"), [
    ("amazon.nova-2-lite-v1:0:256k", "us.amazon.nova-2-lite-v1:0"),  # the customization (training) id
    ("amazon.nova-2-lite-v1:0", "us.amazon.nova-2-lite-v1:0"),
    ("global.amazon.nova-2-lite-v1:0", "global.amazon.nova-2-lite-v1:0"),
    (ARN, ARN),
])
def test_generates_n_samples_with_usage(converse_stub, model_id, sent):
    prompts = [
        [{"role": "system", "content": "あなたはCTOです。"}, {"role": "user", "content": "デプロイは？"}],
        [{"role": "user", "content": "レビューお願いします"}],
    ]
    expected_first = {
        "modelId": sent,
        "system": [{"text": "あなたはCTOです。"}],
        "messages": [{"role": "user", "content": [{"text": "デプロイは？"}]}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.7},
    }
    converse_stub.add_response("converse", _reply("了解でござる", 20, 4), expected_first)
    converse_stub.add_response("converse", _reply("明日でござる", 20, 5), expected_first)
    second = {"modelId": sent, "messages": ANY, "inferenceConfig": ANY}
    converse_stub.add_response("converse", _reply("見ます", 8, 2), second)
    converse_stub.add_response("converse", _reply("", 8, 0), second)
    out = ConverseGenerator(model_id, "us-east-1").generate(prompts, n=2, temperature=0.7, max_tokens=64, seed=0)
    assert [[c.text for c in row] for row in out] == [["了解でござる", "明日でござる"], ["見ます", ""]]
    assert out[0][0].prompt_tokens == 20 and out[0][1].completion_tokens == 5
    assert sum(c.completion_tokens for row in out for c in row) == 11


def test_reasoning_blocks_are_not_the_answer(converse_stub):
    reply = _reply("答え", 3, 9)
    reply["output"]["message"]["content"].insert(0, {"reasoningContent": {"reasoningText": {"text": "考え中"}}})
    converse_stub.add_response("converse", reply)
    [[c]] = ConverseGenerator(ARN, "us-east-1").generate([[{"role": "user", "content": "q"}]], n=1,
                                                         temperature=1.0, max_tokens=8, seed=0)
    assert c.text == "答え" and c.completion_tokens == 9


def test_access_denied_names_the_permission(converse_stub):
    converse_stub.add_client_error(
        "converse", service_error_code="AccessDeniedException", http_status_code=403,
        service_message="User: x is not authorized to perform: bedrock:InvokeModel on resource: y",
    )
    with pytest.raises(AwsError, match="bedrock:InvokeModel"):
        ConverseGenerator(ARN, "us-east-1").generate([[{"role": "user", "content": "q"}]], n=1,
                                                    temperature=1.0, max_tokens=8, seed=0)


def test_converse_messages_merges_roles_and_starts_with_user():
    system, turns = converse_messages([
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "u1"},
        {"role": "user", "content": "u2"},
    ])
    assert system == [{"text": "s"}]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[-1]["content"] == [{"text": "u1"}, {"text": "u2"}]


class _Grader:
    version = "g-bedrock0001"

    def score(self, text, *, prompt=None, reference=None):
        return (0.9 if "ござる" in text else 0.3), {"ending": 1.0 if "ござる" in text else 0.0}


def _bedrock_job(tmp_path, experiment, *, arn=ARN, monkeypatch=None):
    """A Completed Bedrock job record and its rft-job run in `experiment` (params.yaml names it, as
    in a project, so the evaluation finds the job's run by rftlab.job_id)."""
    import json

    from rftlab import tracking

    if monkeypatch is not None:
        params = tmp_path / "params.yaml"
        params.write_text(f"tracking:\n  experiment: {experiment}\n", encoding="utf-8")
        monkeypatch.setenv("RFTLAB_PARAMS", str(params))

    with tracking.stage_run("rft-job", run_name="br-1", experiment=experiment,
                            tags={contracts.JOB_ID: "br-1", contracts.BACKEND: "bedrock"}) as run:
        pass
    job = tmp_path / "job.json"
    record = {"job_id": "br-1", "backend": "bedrock", "status": "Completed", "run_id": run.info.run_id,
              "base_model": "amazon.nova-2-lite-v1:0:256k", "model_id": "arn:aws:bedrock:us-east-1:1:custom-model/x",
              "curves": {"train/reward_mean": [[1, 0.3], [2, 0.6]], "val/reward_mean": [[0, 0.3], [2, 0.5]]},
              "grader_path": "unused.json", "grader_version": _Grader.version}
    if arn:
        record["deployment_arn"] = arn
    job.write_text(json.dumps(record), encoding="utf-8")
    val = tmp_path / "val.jsonl"
    val.write_text("".join(json.dumps({"id": f"p{i}", "messages": [{"role": "user", "content": q}],
                                       "reference_answer": "承知でござる"}, ensure_ascii=False) + "\n"
                           for i, q in enumerate(["デプロイは？", "レビューは？"])), encoding="utf-8")
    return job, val, run.info.run_id


def test_evaluate_bedrock_job_uses_base_id_and_deployment_arn(converse_stub, tmp_path, monkeypatch):
    import json

    from rftlab import tracking
    from rftlab.config import parse_params
    from rftlab.evaluate import evaluate_stage

    params = parse_params({"tracking": {"experiment": "eval-bedrock"},
                           "evaluate": {"samples_per_prompt": 1, "bootstrap": 100}})
    job, val, run_id = _bedrock_job(tmp_path, "eval-bedrock", monkeypatch=monkeypatch)
    # the job's base model is the customization id; Converse gets the inference profile
    for model, text in [("us.amazon.nova-2-lite-v1:0", "はい"), ("us.amazon.nova-2-lite-v1:0", "見ます"),
                        (ARN, "承知でござる"), (ARN, "見るでござる")]:
        converse_stub.add_response("converse", _reply(text, 1000, 100),
                             {"modelId": model, "messages": ANY, "inferenceConfig": ANY})
    out = evaluate_stage.run(params, evaluate_stage.Paths(job=job, val=val, metrics=tmp_path / "m.json", plots=tmp_path / "plots"), grader=_Grader())
    assert out["eval/base_mean"] == pytest.approx(0.3) and out["eval/tuned_mean"] == pytest.approx(0.9)
    assert out["eval/uplift_pct"] == pytest.approx(200.0) and out["eval/win_rate"] == 1.0
    # 4 calls x (1000 in, 100 out) at the params' default inference prices
    p = params.rft.prices
    want = 4 * (1.0 * p.inference_usd_per_1k_input_tokens + 0.1 * p.inference_usd_per_1k_output_tokens)
    assert out["eval/inference_cost_usd"] == pytest.approx(want)
    assert out["eval/tuned/ending"] == 1.0 and out["eval/base/ending"] == 0.0
    assert json.loads((tmp_path / "m.json").read_text())["eval/tokens_total"] == 4400
    assert tracking.get_run(run_id).data.metrics["eval/inference_cost_usd"] == pytest.approx(want)


def test_evaluate_bedrock_job_without_deployment_is_a_clear_error(tmp_path, monkeypatch):
    from rftlab.config import parse_params
    from rftlab.errors import InputError
    from rftlab.evaluate import evaluate_stage

    job, val, _ = _bedrock_job(tmp_path, "eval-bedrock-nodeploy", arn=None, monkeypatch=monkeypatch)
    with pytest.raises(InputError, match="deployment_arn"):
        evaluate_stage.run(parse_params({}), evaluate_stage.Paths(job=job, val=val, metrics=tmp_path / "m.json", plots=tmp_path / "p"), grader=_Grader())
    assert not (tmp_path / "m.json").exists()


def test_judge_failures_are_flagged_not_fatal(converse_stub, tmp_path, monkeypatch):
    from rftlab.config import parse_params
    from rftlab.evaluate import evaluate_stage

    params = parse_params({"evaluate": {"samples_per_prompt": 1, "bootstrap": 100, "judge": {"enabled": True}}})
    job, val, _ = _bedrock_job(tmp_path, "eval-judge", monkeypatch=monkeypatch)
    gen = {"modelId": "us.amazon.nova-2-lite-v1:0", "messages": ANY, "inferenceConfig": ANY}
    judge = {"modelId": params.evaluate.judge.model_id, "messages": ANY, "inferenceConfig": ANY}
    # base: generate 2, then judge 2 (one good, one garbage); tuned: generate 2, judge 2 (fenced, error)
    converse_stub.add_response("converse", _reply("はい", 5, 1), gen)
    converse_stub.add_response("converse", _reply("見ます", 5, 1), gen)
    converse_stub.add_response("converse", _reply('{"score": 5, "reason": "relevant"}', 50, 9), judge)
    converse_stub.add_response("converse", _reply("I refuse.", 50, 3), judge)
    tuned = {"modelId": ARN, "messages": ANY, "inferenceConfig": ANY}
    converse_stub.add_response("converse", _reply("承知でござる", 5, 2), tuned)
    converse_stub.add_response("converse", _reply("見るでござる", 5, 2), tuned)
    converse_stub.add_response("converse", _reply('```json\n{"score": "2", "reason": "vague"}\n```', 50, 9), judge)
    converse_stub.add_client_error("converse", service_error_code="ModelTimeoutException", http_status_code=408)
    out = evaluate_stage.run(params, evaluate_stage.Paths(job=job, val=val, metrics=tmp_path / "m.json", plots=tmp_path / "plots"), grader=_Grader())
    assert out["eval/judge_base_mean"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["eval/judge_tuned_mean"] == pytest.approx((0.25 + 0.5) / 2)
    assert out["eval/judge_base_failures"] == 1 and out["eval/judge_tuned_failures"] == 1


def test_evaluate_reads_the_deploy_stages_record_and_refuses_another_jobs(converse_stub, tmp_path, monkeypatch):
    """The deployment ARN comes from the deploy stage's own output, never from a rewritten job.json."""
    import json

    from rftlab.config import parse_params
    from rftlab.errors import InputError
    from rftlab.evaluate import evaluate_stage

    params = parse_params({"tracking": {"experiment": "eval-deploy-record"},
                           "evaluate": {"samples_per_prompt": 1, "bootstrap": 100}})
    job, val, _ = _bedrock_job(tmp_path, "eval-deploy-record", arn=None, monkeypatch=monkeypatch)
    dep = tmp_path / "deployment.json"
    dep.write_text(json.dumps({"job_id": "another-job", "backend": "bedrock", "deployment_arn": ARN}))
    with pytest.raises(InputError, match=r"deployment.json: the deployment record is not for job br-1"):
        evaluate_stage.run(params, evaluate_stage.Paths(job=job, deployment=dep, val=val, metrics=tmp_path / "m.json", plots=tmp_path / "p"), grader=_Grader())
    dep.write_text(json.dumps({"job_id": "br-1", "backend": "bedrock", "deployment_arn": ARN}))
    for model, text in [("us.amazon.nova-2-lite-v1:0", "はい"), ("us.amazon.nova-2-lite-v1:0", "見ます"),
                        (ARN, "承知でござる"), (ARN, "見るでござる")]:
        converse_stub.add_response("converse", _reply(text, 10, 5), {"modelId": model, "messages": ANY, "inferenceConfig": ANY})
    out = evaluate_stage.run(params, evaluate_stage.Paths(job=job, deployment=dep, val=val, metrics=tmp_path / "m.json", plots=tmp_path / "p"), grader=_Grader())
    assert out["eval/tuned_mean"] > out["eval/base_mean"]
