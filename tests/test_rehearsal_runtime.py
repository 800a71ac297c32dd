"""The stand-in's bedrock-runtime Converse and custom model deployments, through boto3.

Which ids Converse takes for Nova 2 Lite comes from the Nova 2 user guide ("Core inference");
the refusals for the customization id and the bare model id are the messages real Bedrock gave
(https://github.com/mlcommons/modelbench/issues/1654). A custom model is served on demand only
through a custom model deployment, whose ARN is the modelId.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from rehearsal_support import Account, prompt_records, recorder_context

USER = [{"role": "user", "content": [{"text": "明日の会議、どうしますか"}]}]


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """Servers whose Converse answers from a tiny local causal LM, and one completed job's custom model."""
    from rftlab.backends.bedrock.rehearsal import servers
    from rftlab.backends.local.base_model import build_model
    from rftlab.backends.local.chat import train_tokenizer

    root = tmp_path_factory.mktemp("runtime")
    texts = [r["messages"][-1]["content"] + r["reference_answer"] for r in prompt_records(60)]
    tok = train_tokenizer(texts, 300)
    build_model(tok, d_model=16, n_layer=1, n_head=2, context=64, seed=0).save_pretrained(root / "lm")
    tok.save_pretrained(root / "lm")
    with servers.running(workdir=root / "work", model_dir=root / "lm", max_steps=2, deploy_seconds=0.3) as r, \
            pytest.MonkeyPatch.context() as mp:
        acc = Account(r, mp)
        arn = acc.grader_version("recorder", recorder_context(root), "rec-1")
        job, _ = acc.wait(acc.bedrock.create_model_customization_job(
            **acc.request("served", arn, train=acc.upload("train.jsonl", prompt_records(100))))["jobArn"])
        acc.model_arn = job["outputModelArn"]
        yield acc


def deploy(account, name: str) -> str:
    arn = account.bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=account.model_arn)[
        "customModelDeploymentArn"]
    while account.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"] != "Active":
        time.sleep(0.05)
    return arn


def refusal(account, model_id: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        account.runtime.converse(modelId=model_id, messages=USER)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_converse_refuses_the_customization_id_and_the_bare_model_id(account):
    assert refusal(account, "amazon.nova-2-lite-v1:0:256k") == (
        "ValidationException", "The provided model doesn't support on-demand throughput.")
    code, message = refusal(account, "amazon.nova-2-lite-v1:0")
    assert code == "ValidationException" and "ID or ARN of an inference profile" in message
    assert refusal(account, account.model_arn)[0] == "ValidationException"  # a custom model needs a deployment
    assert refusal(account, "amazon.nova-pro-v9:0") == ("ResourceNotFoundException", "Model not found.")


@pytest.mark.parametrize("model_id", ["us.amazon.nova-2-lite-v1:0", "global.amazon.nova-2-lite-v1:0"])
def test_converse_answers_the_inference_profiles_from_the_local_lm(account, model_id):
    out = account.runtime.converse(modelId=model_id, messages=USER, inferenceConfig={"maxTokens": 6})
    usage = out["usage"]
    assert out["output"]["message"]["role"] == "assistant" and out["output"]["message"]["content"][0]["text"] != \
        "(rehearsal reply)"
    assert usage["inputTokens"] > 0 and 0 < usage["outputTokens"] <= 6
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert out["stopReason"] == ("max_tokens" if usage["outputTokens"] == 6 else "end_turn")


def test_converse_enforces_bedrock_conversation_rules(account):
    assistant_first = [{"role": "assistant", "content": [{"text": "x"}]}, *USER]
    assert "must start with a user message" in refusal_for(account, assistant_first)
    assert "must alternate" in refusal_for(account, [*USER, *USER])
    assert "is blank" in refusal_for(account, [{"role": "user", "content": [{"text": " "}]}])


def refusal_for(account, messages) -> str:
    with pytest.raises(ClientError) as err:
        account.runtime.converse(modelId="us.amazon.nova-2-lite-v1:0", messages=messages)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    return err.value.response["Error"]["Message"]


def test_deployment_becomes_active_and_serves_converse(account):
    arn = account.bedrock.create_custom_model_deployment(modelDeploymentName="tuned", modelArn=account.model_arn,
                                                         clientRequestToken="dep-1")["customModelDeploymentArn"]
    first = account.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert first["status"] == "Creating" and first["modelArn"] == account.model_arn
    assert account.bedrock.create_custom_model_deployment(modelDeploymentName="tuned", modelArn=account.model_arn,
                                                          clientRequestToken="dep-1")["customModelDeploymentArn"] == arn
    deploy_arn = deploy(account, "tuned-2")
    out = account.runtime.converse(modelId=deploy_arn, messages=USER, inferenceConfig={"maxTokens": 4})
    assert out["output"]["message"]["content"][0]["text"] is not None and out["usage"]["outputTokens"] <= 4
    listed = account.bedrock.list_custom_model_deployments(nameContains="tuned")["modelDeploymentSummaries"]
    assert {d["customModelDeploymentName"] for d in listed} == {"tuned", "tuned-2"}
    assert account.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="tuned-2")[
        "customModelDeploymentArn"] == deploy_arn  # by name


def test_update_swaps_the_model_behind_a_deployment(account):
    arn = deploy(account, "swap")
    account.bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=account.model_arn)
    seen = []
    while not seen or seen[-1] != "UpdateCompleted":
        d = account.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
        status = d["updateDetails"]["updateStatus"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.05)
    assert seen == ["Updating", "UpdateCompleted"]
    with pytest.raises(ClientError) as err:
        account.bedrock.update_custom_model_deployment(
            customModelDeploymentIdentifier=arn, modelArn=account.model_arn.rsplit("/", 1)[0] + "/aaaaaaaaaaaa")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
