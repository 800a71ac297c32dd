"""The Bedrock stand-in's control plane through boto3: RFT job lifecycle, metrics CSVs, stop, idempotency, errors.

boto3 finds the stand-in and moto only through the standard AWS_ENDPOINT_URL_<SERVICE> variables.
Expected values come from botocore's service model and AWS's documentation, not from the stand-in.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from botocore.exceptions import ClientError
from rehearsal_support import (
    Account,
    prompt_records,
    real_grader_context,
    recorder_context,
)

# AWS's RFT metric names (user guide, "Monitor your RFT training job") at the documented keys
# (user guide, "Analyze the results of a model customization job").
TRAIN_KEY = "model-customization-job-{}/training_artifacts/step_wise_training_metrics.csv"
VAL_KEY = "model-customization-job-{}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"
DOCUMENTED = {"step_number", "epoch_number", "critic/rewards/mean", "critic/rewards/max", "critic/rewards/min",
              "actor/entropy", "actor/pg_loss", "actor/pg_clipfrac", "actor/grad_norm", "response_length/mean",
              "response/aborted_ratio", "val-score/rewards/mean@1"}


def shape_pattern(service: str, shape: str) -> re.Pattern[str]:
    import botocore.session

    return re.compile(botocore.session.get_session().get_service_model(service).shape_for(shape).metadata["pattern"])


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from rftlab.backends.bedrock.rehearsal import servers as srv

    root = tmp_path_factory.mktemp("rehearsal")
    with srv.running(workdir=root / "work", max_steps=6, prompts_per_step=3, val_prompts=4) as r:
        yield r, root


@pytest.fixture(scope="module")
def account(servers):
    r, root = servers
    with pytest.MonkeyPatch.context() as mp:
        acc = Account(r, mp)
        acc.root = root
        acc.train = acc.upload("data/train.jsonl", prompt_records(120))
        acc.val = acc.upload("data/val.jsonl", prompt_records(10))
        acc.recorder_ctx = recorder_context(root)
        acc.recorder = acc.grader_version("recorder", acc.recorder_ctx, "rec-1")
        yield acc


def records(ctx) -> list[dict]:
    return [json.loads(line) for line in (ctx / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def test_boto3_reaches_the_local_servers_through_the_endpoint_variables(account):
    env = account.r.env
    assert account.bedrock.meta.endpoint_url == env["AWS_ENDPOINT_URL_BEDROCK"]
    assert account.runtime.meta.endpoint_url == env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]  # service id "Bedrock Runtime"
    assert {account.s3.meta.endpoint_url, account.lam.meta.endpoint_url, account.ecr.meta.endpoint_url} == {
        account.r.moto_url}
    assert all(u.startswith("http://127.0.0.1:") for k, u in env.items() if k.startswith("AWS_ENDPOINT_URL"))


def test_rft_job_runs_through_the_documented_stages_and_writes_the_metrics_csvs(account):
    arn = account.bedrock.create_model_customization_job(
        **account.request("lifecycle", account.recorder, train=account.train, val=account.val, evalInterval=2)
    )["jobArn"]
    assert shape_pattern("bedrock", "ModelCustomizationJobArn").fullmatch(arn)
    job, seen = account.wait(arn)
    order = [s for s in ("validationDetails", "dataProcessingDetails", "trainingDetails")]
    started = [next(i for i, st in enumerate(seen) if st[1 + k] != "NotStarted") for k in range(3)]
    assert started == sorted(started) and seen[0][0] == "InProgress", seen
    assert job["status"] == "Completed" and job["endTime"] >= job["creationTime"]
    assert all(job["statusDetails"][k]["status"] == "Completed" and job["statusDetails"][k]["lastModifiedTime"]
               for k in order)
    assert shape_pattern("bedrock", "CustomModelArn").fullmatch(job["outputModelArn"])
    assert account.bedrock.get_model_customization_job(jobIdentifier="lifecycle")["jobArn"] == arn  # by name
    assert account.bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])["jobArn"] == arn

    job_id = arn.rsplit("/", 1)[-1]
    body = lambda key: account.s3.get_object(Bucket=account.bucket, Key=f"out/lifecycle/{key}")["Body"].read()  # noqa: E731
    train = list(csv.DictReader(io.StringIO(body(TRAIN_KEY.format(job_id)).decode())))
    val = list(csv.DictReader(io.StringIO(body(VAL_KEY.format(job_id)).decode())))
    assert set(train[0]) == DOCUMENTED and [int(r["step_number"]) for r in train] == list(range(6))
    assert [r["step_number"] for r in train if r["val-score/rewards/mean@1"]] == ["0", "2", "4", "5"]
    assert set(val[0]) == {"step_number", "epoch_number", "val-score/rewards/mean@1"} and len(val) == 1

    # the grader got the documented payload, and the CSV rewards are exactly its aggregate_reward_scores
    calls = [c for c in records(account.recorder_ctx) if c["event"][0]["id"].startswith(job_id)]
    by_prompt = {json.dumps(r["messages"], ensure_ascii=False): r for r in prompt_records(120)}
    for sample in (s for c in calls for s in c["event"]):
        rec = by_prompt[json.dumps(sample["messages"][:-1], ensure_ascii=False)]
        assert sample["messages"][-1]["role"] == "assistant" and isinstance(sample["messages"][-1]["content"], str)
        assert (sample["reference_answer"], sample["channel"]) == (rec["reference_answer"], rec["channel"])
    assert len({s["id"] for c in calls for s in c["event"]}) == sum(len(c["event"]) for c in calls)
    steps = [c for c in calls if len(c["event"]) == 3 * 4]  # prompts_per_step x trainingSamplePerPrompt
    assert len(steps) == 6
    for row, call in zip(train, steps, strict=True):
        scores = [a["aggregate_reward_score"] for a in call["answer"]]
        assert float(row["critic/rewards/mean"]) == pytest.approx(sum(scores) / len(scores), abs=1e-5)
        assert float(row["critic/rewards/max"]) == pytest.approx(max(scores), abs=1e-5)


def test_real_grader_image_scores_a_job(account):
    """The packaged rftlab grader behind its published version; the function's env reaches it."""
    ctx, tag, _ = real_grader_context(account.root)
    arn = account.grader_version("rftlab-grader", ctx, tag, {"RFTLAB_GRADER_VERSION": tag})
    job, _ = account.wait(account.bedrock.create_model_customization_job(
        **account.request("real-grader", arn, train=account.train))["jobArn"])
    assert job["status"] == "Completed", job.get("failureMessage")
    key = TRAIN_KEY.format(job["jobArn"].rsplit("/", 1)[-1])
    rows = list(csv.DictReader(io.StringIO(account.s3.get_object(
        Bucket=account.bucket, Key=f"out/real-grader/{key}")["Body"].read().decode())))
    assert all(0.0 <= float(r["critic/rewards/min"]) <= float(r["critic/rewards/max"]) <= 1.0 for r in rows)


def test_stop_makes_a_running_job_stopping_then_stopped(account):
    arn = account.bedrock.create_model_customization_job(
        **account.request("to-stop", account.recorder, train=account.train))["jobArn"]
    account.bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert account.bedrock.get_model_customization_job(jobIdentifier=arn)["status"] in ("Stopping", "Stopped")
    job, seen = account.wait(arn)
    assert job["status"] == "Stopped" and "endTime" in job and "outputModelArn" not in job
    assert any(s[0] == "Stopping" for s in seen) or seen[-1][0] == "Stopped"
    with pytest.raises(ClientError) as err:
        account.bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_same_token_returns_the_same_job_and_a_used_name_is_refused(account):
    req = {**account.request("idempotent", account.recorder, train=account.train), "clientRequestToken": "tok-1"}
    first = account.bedrock.create_model_customization_job(**req)["jobArn"]
    assert account.bedrock.create_model_customization_job(**req)["jobArn"] == first
    with pytest.raises(ClientError) as err:
        account.bedrock.create_model_customization_job(**{**req, "clientRequestToken": "tok-2"})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "job name is currently in use" in err.value.response["Error"]["Message"]
    listed = account.bedrock.list_model_customization_jobs(nameContains="idempotent")["modelCustomizationJobSummaries"]
    assert [j["jobArn"] for j in listed] == [first]
    account.wait(first)


def test_out_of_range_hyperparameter_is_a_validation_exception_in_aws_wording(account):
    req = account.request("bad-hp", account.recorder, train=account.train, batchSize=1024)
    with pytest.raises(ClientError) as err:
        account.bedrock.create_model_customization_job(**req)  # botocore checks minimums only, not maximums
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '1024' at 'customizationConfig.rftConfig.hyperParameters.batchSize' "
        "failed to satisfy constraint: Member must have value less than or equal to 512")
    assert not account.bedrock.list_model_customization_jobs(nameContains="bad-hp")["modelCustomizationJobSummaries"]


@pytest.mark.parametrize(("change", "stage", "needle"), [
    ({"lambda": "missing"}, "validationDetails", "ResourceNotFoundException"),
    ({"records": 20}, "validationDetails", "between 100 and 20000"),
    ({"tag": "trainingDetails:simulated capacity error"}, "trainingDetails", "simulated capacity error"),
])
def test_failures_end_the_job_failed_with_a_message(account, change, stage, needle):
    name = f"fails-{stage[:5].lower()}-{len(needle)}"
    train = account.upload(f"data/{name}.jsonl", prompt_records(change.get("records", 120)))
    lambda_arn = account.recorder if "lambda" not in change else account.recorder.rsplit(":", 1)[0] + ":99"
    req = account.request(name, lambda_arn, train=train)
    if "tag" in change:
        req["jobTags"] = [{"key": "rftlab.rehearsal.fail", "value": change["tag"]}]
    job, _ = account.wait(account.bedrock.create_model_customization_job(**req)["jobArn"])
    assert job["status"] == "Failed" and job["statusDetails"][stage]["status"] == "Failed"
    assert needle in job["failureMessage"]
    if "tag" in change:
        tags = account.bedrock.list_tags_for_resource(resourceARN=job["jobArn"])["tags"]
        assert tags == req["jobTags"]
