"""Invocation logs as Nova training data: params validated against botocore, the request, IAM, lineage.

Shapes: botocore's bedrock service model (TrainingDataConfig.invocationLogsConfig: invocationLogSource
{s3Uri} required and a union, requestMetadataFilters a union of equals / notEquals (one-entry maps) /
andAll / orAll, usePromptResponse); user guide "Option 2: Use invocation logs for data preparation"
(rft-option-2.html) and "Invocation log access" (rft-access-security.html: s3:GetObject, s3:ListBucket).
"""

from __future__ import annotations

import types

import pytest
import yaml
from bedrock_support import BUCKET, REGION, ROLE  # noqa: F401 - fixtures come from conftest's pytest_plugins

from rftlab import contracts
from rftlab.config import parse_params
from rftlab.errors import ConfigError

LOGS = "s3://my-invocation-logs/AWSLogs/123456789012/BedrockModelInvocationLogs"
FILTERS = {"andAll": [{"equals": {"project": "slack-style"}}, {"notEquals": {"env": "test"}}]}


def _rft(**logs):
    return parse_params({"rft": {"backend": "bedrock", "bedrock": {
        "bucket": BUCKET, "role_arn": ROLE, "invocation_logs": logs}}}).rft


@pytest.mark.parametrize(("logs", "says"), [
    ({"s3_uri": "my-logs/prefix"}, "invocationLogSource.s3Uri"),
    ({"s3_uri": LOGS, "request_metadata_filters": {"equals": {"a": "b"}, "notEquals": {"c": "d"}}},
     "set exactly one of equals, notEquals, andAll, orAll"),
    ({"s3_uri": LOGS, "request_metadata_filters": {"equals": {"a": "b", "c": "d"}}}, "2 entries"),
    ({"s3_uri": LOGS, "request_metadata_filters": {"startsWith": {"a": "b"}}}, "unknown key(s) startsWith"),
    ({"s3_uri": LOGS, "request_metadata_filters": {"equals": {"bad key!": "b"}}}, "does not match the pattern"),
    ({"use_prompt_response": True}, "s3_uri is not set"),
])
def test_invalid_invocation_log_settings_fail_at_load_naming_the_key(logs, says):
    with pytest.raises(ConfigError) as err:
        _rft(**logs)
    assert "rft.bedrock.invocation_logs" in str(err.value) and says in str(err.value)


def test_the_request_trains_on_the_logs_and_botocore_accepts_it(project):
    from rftlab.backends.bedrock import launch
    from rftlab.backends.bedrock.shapes import check_request
    from rftlab.jobs.spec import build_spec

    rft = _rft(s3_uri=LOGS, request_metadata_filters=FILTERS, use_prompt_response=True)
    spec = build_spec(rft, train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json")
    plain = build_spec(_rft(), train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                       grader="data/grader/grader.json")
    assert spec.spec_hash() != plain.spec_hash()  # the data source is part of what the job is
    draft = launch.Launch(spec_hash=spec.spec_hash(), job_name="rftlab-rft-x", model_name="rftlab-style-x",
                          token="rftlab-x", grader_version="g-1", train_uri=LOGS, val_uri=f"s3://{BUCKET}/v.jsonl",
                          lambda_arn=f"arn:aws:lambda:{REGION}:123456789012:function:rftlab-grader:1",
                          output_uri=f"s3://{BUCKET}/rftlab/output/x/", prompts_digest="d")
    req = launch.request(draft, spec, rft)
    assert req["trainingDataConfig"] == {"invocationLogsConfig": {
        "invocationLogSource": {"s3Uri": LOGS}, "requestMetadataFilters": FILTERS, "usePromptResponse": True}}
    check_request("bedrock", "CreateModelCustomizationJob", req)


def test_prepare_uploads_no_training_file_when_the_logs_are_the_data(project, aws):
    from rftlab.aws import client
    from rftlab.backends.bedrock import launch
    from rftlab.jobs.spec import build_spec

    rft = _rft(s3_uri=LOGS)
    spec = build_spec(rft, train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json")
    spec = spec.model_copy(update={"options": {**spec.options, "grader_lambda_arn":
                                               f"arn:aws:lambda:{REGION}:123456789012:function:rftlab-grader:1"}})
    ready = launch.prepare(spec, rft, echo=lambda m: None)
    keys = [o["Key"] for o in client("s3", REGION).list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert len(keys) == 1 and keys[0].endswith("/val.jsonl")
    assert ready.train_uri == LOGS


def test_the_service_role_may_read_the_log_prefix_and_nothing_else_new(tmp_path, monkeypatch):
    from rftlab.backends.bedrock.iam import documents

    params = parse_params({"rft": {"bedrock": {"bucket": BUCKET, "invocation_logs": {"s3_uri": LOGS}}}})
    role = documents(params, account="123456789012")["bedrock-service-role-policy.json"]["Statement"]
    by_sid = {s["Sid"]: s for s in role}
    prefix = "AWSLogs/123456789012/BedrockModelInvocationLogs"
    assert by_sid["ReadInvocationLogs"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadInvocationLogs"]["Resource"] == [f"arn:aws:s3:::my-invocation-logs/{prefix}/*"]
    assert by_sid["ListInvocationLogs"]["Resource"] == ["arn:aws:s3:::my-invocation-logs"]
    assert by_sid["ListInvocationLogs"]["Condition"] == {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    without = documents(parse_params({"rft": {"bedrock": {"bucket": BUCKET}}}), account="123456789012")
    assert {s["Sid"] for s in without["bedrock-service-role-policy.json"]["Statement"]} == set(by_sid) - {
        "ReadInvocationLogs", "ListInvocationLogs"}


def test_the_jobs_run_records_where_its_data_came_from(project, tmp_path):
    from rftlab import tracking
    from rftlab.backends.bedrock import sync
    from rftlab.jobs.state import JobState, StateStore

    logs = {"invocationLogSource": {"s3Uri": LOGS}, "requestMetadataFilters": FILTERS, "usePromptResponse": False}
    arn = f"arn:aws:bedrock:{REGION}:123456789012:model-customization-job/amazon.nova-2-lite-v1:0:256k/logs12345678"
    state = JobState(job_id=arn, spec_hash="s" * 64, backend="bedrock", details={
        "job_name": "rftlab-rft-logs", "prompts_digest": "aaa+bbb", "request": {"trainingDataConfig": {
            "invocationLogsConfig": logs}}})
    backend = types.SimpleNamespace(store=StateStore(tmp_path / "jobs"), metric_sources=lambda s: {})
    sync.record(backend, state, with_metrics=False)
    params = tracking.find_runs(contracts.JOB_ID, arn)[0].data.params
    assert params["training_data"] == "invocation-logs" and params["invocation_logs.s3_uri"] == LOGS
    assert yaml.safe_load(params["invocation_logs.filters"]) == FILTERS
    assert params["invocation_logs.use_prompt_response"] == "false" and "prompts.train_md5" not in params
