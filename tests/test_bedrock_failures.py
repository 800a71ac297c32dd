"""Failure paths of the Bedrock backend: failed job, throttling, AccessDenied, budget, interruption, re-sync."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from bedrock_support import (  # fixtures come from conftest's pytest_plugins
    BUCKET,
    JOB_ARN,
    JOB_FOLDER,
    MODEL_ARN,
    REGION,
    T0,
    job_response,
    put_metrics_csv,
    rft_params,
    write_params,
)
from typer.testing import CliRunner

from rftlab import contracts
from rftlab.aws import AwsError
from rftlab.cli import app

runner = CliRunner()
OTHER_ARN = JOB_ARN.replace("abcdef123456", "0123456789ab")


def _backend():
    from rftlab.backends.bedrock import commands as bedrock_commands

    return bedrock_commands.make_backend(rft_params())


def _spec():
    from rftlab.jobs.spec import build_spec

    return build_spec(rft_params(), train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json")


def _queue_launch(stub, grader_arn_given=True):
    from rftlab.backends.bedrock.launch import names

    job_name = names(_spec().spec_hash())[0]
    stub.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []})
    stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN})
    return job_name


def _spec_with_lambda():
    spec = _spec()
    return spec.model_copy(update={"options": {**spec.options,
                                               "grader_lambda_arn": "arn:aws:lambda:us-east-1:123456789012:function:g:3"}})


def test_failed_job_records_failure_message(project, bedrock, no_sleep):
    from rftlab import tracking

    backend = _backend()
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    bedrock.add_response("list_tags_for_resource", {"tags": []}, {"resourceARN": JOB_ARN})
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    bedrock.add_response("get_model_customization_job", job_response("Failed", failure="Lambda grader timed out"))
    result = runner.invoke(app, ["job", "wait", JOB_ARN])
    assert result.exit_code == 1
    assert "Lambda grader timed out" in result.output
    saved = backend.store.find(JOB_ARN)
    assert saved.status == "Failed" and saved.failure_message == "Lambda grader timed out"
    run = tracking.get_run(saved.run_id)
    assert run.info.status == "FAILED" and run.data.tags["rftlab.failure_message"] == "Lambda grader timed out"


def _throttled_sends(monkeypatch, throttles: int) -> list[str]:
    """Answer the first `throttles` HTTP sends of GetModelCustomizationJob with 429 ThrottlingException
    (the shape botocore's rest-json parser reads: x-amzn-ErrorType header + JSON message), then a job.

    `before-send` sits below botocore's retry handler, so this exercises the real retry path
    (unlike Stubber, which short-circuits before it).
    """
    import time as _time

    from botocore.awsrequest import AWSResponse

    from rftlab.aws import client, reset_clients

    reset_clients()
    from botocore.retries.bucket import TokenBucket

    monkeypatch.setattr(_time, "sleep", lambda s: None)  # botocore's backoff between attempts
    monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)  # adaptive rate limiter
    sends: list[str] = []
    body = json.dumps({**job_response("Completed"), "creationTime": "2026-01-01T00:00:00Z",
                       "lastModifiedTime": "2026-01-01T01:30:00Z", "endTime": "2026-01-01T01:30:00Z"}).encode()

    class Raw:
        def __init__(self, data):
            self.data = data

        def stream(self, **_):
            yield self.data

    def send(request, **_):
        sends.append(request.url)
        if len(sends) <= throttles:
            raw = json.dumps({"message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 429, {"x-amzn-ErrorType": "ThrottlingException"}, Raw(raw))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, Raw(body))

    client("bedrock", REGION).meta.events.register_first("before-send.bedrock.GetModelCustomizationJob", send)
    return sends


def test_throttling_is_retried_by_botocore_alone(project, monkeypatch):
    sends = _throttled_sends(monkeypatch, throttles=2)
    assert _backend().get_job(JOB_ARN)["status"] == "Completed"
    assert len(sends) == 3  # two throttled sends, one answer


def test_retries_do_not_stack(project, monkeypatch):
    """Always throttled: botocore's max_attempts sends in all, not rftlab's loop times botocore's."""
    from rftlab.aws import client_config

    sends = _throttled_sends(monkeypatch, throttles=10_000)
    with pytest.raises(AwsError, match="ThrottlingException"):
        _backend().get_job(JOB_ARN)
    assert len(sends) == client_config().retries["total_max_attempts"] == 8


def test_access_denied_names_the_missing_permission(project, bedrock, no_sleep):
    msg = ("User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
           "bedrock:GetModelCustomizationJob on resource: " + JOB_ARN)
    bedrock.add_client_error("get_model_customization_job", "AccessDeniedException", msg, 403)
    result = runner.invoke(app, ["job", "status", JOB_ARN])
    assert result.exit_code == 2
    assert "needs permission bedrock:GetModelCustomizationJob" in result.output
    assert "Traceback" not in result.output


def test_launch_refuses_untrusted_role(project, bedrock, monkeypatch):
    import json

    from rftlab.aws import AwsError, client

    client("iam", REGION).update_assume_role_policy(RoleName="rftlab-bedrock-rft", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))
    with pytest.raises(AwsError, match="does not trust bedrock.amazonaws.com"):
        _backend().submit(_spec_with_lambda())
    assert "Contents" not in client("s3", REGION).list_objects_v2(Bucket=BUCKET)  # nothing staged


def test_budget_refuses_launch(project, bedrock, monkeypatch):
    from rftlab.aws import client
    from rftlab.jobs.cost import BudgetExceeded

    monkeypatch.setenv("RFTLAB_PARAMS", str(write_params(project)))
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("budget_usd: 500.0",
                                                                                     "budget_usd: 5.0"))
    with pytest.raises(BudgetExceeded, match=r"above rft.budget_usd \$5.00"):
        _backend().submit(_spec_with_lambda())
    assert "Contents" not in client("s3", REGION).list_objects_v2(Bucket=BUCKET)
    result = runner.invoke(app, ["job", "estimate"])
    assert result.exit_code == 1 and "(estimate)" in result.output and "ABOVE budget" in result.output


def test_running_job_stopped_when_spend_crosses_budget(project, bedrock, no_sleep, monkeypatch):
    from rftlab.backends.bedrock import commands as bedrock_commands

    # 9 hours in: 9 h x $61/h (estimate) = $549 > $500 budget
    monkeypatch.setattr(bedrock_commands, "CLOCK", lambda: T0 + dt.timedelta(hours=9))
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    bedrock.add_response("list_tags_for_resource", {"tags": []})
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    bedrock.add_response("get_model_customization_job", job_response("Stopped", minutes=541))
    result = runner.invoke(app, ["job", "wait", JOB_ARN])
    assert result.exit_code == 1, result.output
    assert "crossed rft.budget_usd" in result.output
    state = _backend().store.find(JOB_ARN)
    assert state.status == "Stopped" and state.details["stopped_for_budget"] is True
    bedrock.assert_no_pending_responses()


def test_interrupted_wait_resumes_without_duplicate_job(project, bedrock, no_sleep, monkeypatch):
    from rftlab import tracking
    from rftlab.backends.bedrock import commands as bedrock_commands
    from rftlab.backends.bedrock.launch import names

    spec = _spec_with_lambda()
    token = names(spec.spec_hash())[2]
    _queue_launch(bedrock)
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))  # submit's status
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))  # first wait poll

    def interrupt(_s):
        raise KeyboardInterrupt

    backend = _backend()
    state = backend.submit(spec)
    monkeypatch.setattr(bedrock_commands, "SLEEP", interrupt)
    result = runner.invoke(app, ["job", "wait", state.spec_hash[:10]])
    assert result.exit_code == 130 and "interrupted" in result.output
    saved = backend.store.load(spec.spec_hash())
    assert saved.job_id == JOB_ARN and saved.details["client_request_token"] == token

    # rerun the launch: the state file is reused, no CreateModelCustomizationJob (Stubber would fail on it)
    monkeypatch.setattr(bedrock_commands, "SLEEP", no_sleep.append)
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    again = _backend().submit(spec)
    assert again.job_id == JOB_ARN
    # even with the state file lost, the job is found by its deterministic name instead of created again
    backend.store.path(spec.spec_hash()).unlink()
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": [{
        "jobArn": JOB_ARN, "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-lite-v1:0:256k",
        "jobName": names(spec.spec_hash())[0], "status": "InProgress", "creationTime": T0,
        "customizationType": "REINFORCEMENT_FINE_TUNING"}]})
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    assert _backend().submit(spec).job_id == JOB_ARN
    bedrock.add_response("get_model_customization_job", job_response("Completed", minutes=60))
    result = runner.invoke(app, ["job", "wait", JOB_ARN])
    assert result.exit_code == 0, result.output
    bedrock.assert_no_pending_responses()
    assert len(tracking.find_runs(contracts.JOB_ID, JOB_ARN)) == 1


def test_sync_twice_updates_one_run_per_job(project, bedrock, no_sleep):
    from rftlab import tracking

    summaries = [
        {"jobArn": JOB_ARN, "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-lite-v1:0:256k",
         "jobName": "console-job", "status": "Completed", "creationTime": T0,
         "customizationType": "REINFORCEMENT_FINE_TUNING"},
        {"jobArn": OTHER_ARN, "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-lite-v1:0:256k",
         "jobName": "an-sft-job", "status": "Completed", "creationTime": T0, "customizationType": "FINE_TUNING"},
    ]
    put_metrics_csv(rows=3)
    for attempt in range(2):
        bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": summaries})
        bedrock.add_response("get_model_customization_job", job_response("Completed", name="console-job"))
        if attempt == 0:
            bedrock.add_response("list_tags_for_resource", {"tags": [
                {"key": "rftlab.grader_version", "value": "g-fromconsole"}]})
        result = runner.invoke(app, ["job", "sync", "--all"])
        assert result.exit_code == 0, result.output
        assert "synced 1 job(s)" in result.output
    bedrock.assert_no_pending_responses()
    runs = tracking.find_runs(contracts.JOB_ID, JOB_ARN)
    assert len(runs) == 1
    assert tracking.find_runs(contracts.JOB_ID, OTHER_ARN) == []
    run = runs[0]
    assert run.data.tags[contracts.KIND] == "rft-job" and run.data.tags[contracts.BACKEND] == "bedrock"
    assert run.data.tags[contracts.GRADER_VERSION] == "g-fromconsole"
    assert run.data.params["hp.learningRate"] == "1e-05"
    assert run.data.metrics["duration_min"] == 10 and run.data.metrics["cost_usd"] == round(10 / 60 * 61, 2)
    assert len(tracking.metric_history(run.info.run_id, "train/reward_mean")) == 3  # not 6
    assert run.data.tags["rftlab.model_id"] == MODEL_ARN


def test_a_validation_csv_written_after_the_training_csv_is_still_imported(project, bedrock, no_sleep):
    """Each CSV has its own high-water mark: post-training validation at a step already imported from
    the training CSV is imported once, and no training step is logged twice."""
    from rftlab import tracking
    from rftlab.aws import client
    from rftlab.backends.bedrock.sync import record

    backend = _backend()
    put_metrics_csv(rows=3)
    bedrock.add_response("get_model_customization_job", job_response("Completed", name="console-job"))
    bedrock.add_response("list_tags_for_resource", {"tags": []})
    state = record(backend, backend.adopt(JOB_ARN))
    client("s3", REGION).put_object(
        Bucket=BUCKET, Key=f"{JOB_FOLDER}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
        Body=b"step_number,epoch_number,val-score/rewards/mean@1\n3,0,0.58\n")
    record(backend, state)
    record(backend, state)
    bedrock.assert_no_pending_responses()
    assert tracking.metric_history(state.run_id, "val/reward_mean") == [(2, 0.45), (3, 0.58)]
    assert [s for s, _ in tracking.metric_history(state.run_id, "train/reward_mean")] == [1, 2, 3]


def test_sync_needs_an_arn_or_all(project):
    result = runner.invoke(app, ["job", "sync"])
    assert result.exit_code == 2 and "give one JOB_ARN or --all" in result.output


def test_relaunch_after_failure_uses_a_new_attempt_token(project, bedrock, no_sleep):
    from botocore.stub import ANY

    from rftlab.backends.bedrock.launch import names
    from rftlab.jobs.state import JobState

    spec = _spec_with_lambda()
    backend = _backend()
    backend.store.save(JobState(job_id=JOB_ARN, spec_hash=spec.spec_hash(), backend="bedrock", status="Failed",
                                failure_message="boom", details={"attempt": 0}))
    job_name, _, token = names(spec.spec_hash(), attempt=1)
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []},
                         {"nameContains": job_name, "maxResults": 10})
    bedrock.add_response("create_model_customization_job", {"jobArn": OTHER_ARN},
                         {**{k: ANY for k in ("customModelName", "roleArn", "baseModelIdentifier", "customizationType",
                                              "trainingDataConfig", "validationDataConfig", "outputDataConfig",
                                              "customizationConfig", "jobTags", "customModelTags")},
                          "jobName": job_name, "clientRequestToken": token})
    bedrock.add_response("get_model_customization_job", job_response("InProgress", arn=OTHER_ARN, name=job_name))
    state = backend.relaunch(spec)
    assert state.job_id == OTHER_ARN and state.details["attempt"] == 1 and token.endswith("-a1")
    bedrock.assert_no_pending_responses()


def test_too_few_training_records_are_refused_before_any_aws_call(project, bedrock):
    from bedrock_support import write_prompts

    from rftlab.errors import InputError

    write_prompts(project / "data/prompts/train.jsonl", 40)
    with pytest.raises(InputError, match="40 training records; Bedrock RFT needs 100 to 20,000"):
        _backend().submit(_spec_with_lambda())


def test_rft_retry_launches_the_next_attempt(project, bedrock, no_sleep, monkeypatch):
    from rftlab.backends.bedrock.launch import names
    from rftlab.jobs.state import JobState

    spec = _spec()
    monkeypatch.setattr("rftlab.backends.bedrock.grader.published_version", lambda *a: "arn:aws:lambda:us-east-1:"
                        "123456789012:function:rftlab-grader:1")
    _backend().store.save(JobState(job_id=JOB_ARN, spec_hash=spec.spec_hash(), backend="bedrock", status="Failed",
                                   failure_message="boom"))
    bedrock.add_response("get_model_customization_job", job_response("Failed", failure="boom"))
    result = runner.invoke(app, ["rft"])
    assert result.exit_code == 1 and "is Failed: boom (rerun with --retry" in result.output
    job_name = names(spec.spec_hash(), attempt=1)[0]
    bedrock.add_response("get_model_customization_job", job_response("Failed", failure="boom"))
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []})
    bedrock.add_response("create_model_customization_job", {"jobArn": OTHER_ARN})
    bedrock.add_response("get_model_customization_job", job_response("InProgress", arn=OTHER_ARN, name=job_name))
    bedrock.add_response("get_model_customization_job", job_response("Completed", arn=OTHER_ARN, name=job_name))
    result = runner.invoke(app, ["rft", "--retry"])
    assert result.exit_code == 0, result.output
    assert f"{OTHER_ARN} Completed" in result.output
    bedrock.assert_no_pending_responses()
    # the new attempt writes under its own output prefix: the failed attempt's CSVs are never in its folder
    retried = _backend().store.find(OTHER_ARN)
    sent = retried.details["request"]["outputDataConfig"]["s3Uri"]
    assert sent.endswith(f"/output/{spec.spec_hash()[:16]}/attempt-1/")
