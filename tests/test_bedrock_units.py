"""Bedrock pieces one by one: metrics CSVs, cost estimates, IAM documents, request checks, data, grader, deploy."""

from __future__ import annotations

import json

import pytest
from bedrock_support import (  # fixtures come from conftest's pytest_plugins
    ACCOUNT,
    BUCKET,
    DEPLOY_ARN,
    GRADER_VERSION,
    JOB_ARN,
    JOB_FOLDER,
    MODEL_ARN,
    REGION,
    ROLE,
    T0,
    job_response,
    put_metrics_csv,
    rft_params,
    training_csv,
    write_prompts,
)
from typer.testing import CliRunner

from rftlab.cli import app

runner = CliRunner()


# ---------------------------------------------------------------------------- metrics CSVs
def test_documented_rft_metric_names_map_onto_the_stable_names():
    """critic/rewards/* and val-score/rewards/mean@1 (AWS's names) become train/ and val/reward_*,
    so a Bedrock job compares with a local job in mlflow ui; the originals are kept too."""
    from rftlab.backends.bedrock.metrics import parse_csv

    rows = dict(parse_csv(training_csv(rows=4, eval_every=2), "train"))
    assert sorted(rows) == [1, 2, 3, 4]
    two = rows[2]
    assert two["train/reward_mean"] == 0.5 and two["train/reward_max"] == 0.7 and two["train/reward_min"] == 0.3
    assert two["val/reward_mean"] == 0.45  # decided by the column, although the file is the training CSV
    assert two["bedrock/critic/rewards/mean"] == 0.5 and two["bedrock/val-score/rewards/mean_at_1"] == 0.45
    assert two["bedrock/actor/pg_clipfrac"] == 0.02 and two["bedrock/response/aborted_ratio"] == 0.0
    assert two["train/entropy"] == 1.5 and two["train/completion_length"] == 42  # TRL's names locally
    assert two["train/epoch"] == 0
    assert "val/reward_mean" not in rows[3]  # empty cell between validation passes: no value
    assert not any(k.startswith("train/critic") or "val_score" in k for k in two)  # the old mangled names


def test_unknown_columns_are_kept_and_open_weight_spelling_maps_too():
    from rftlab.backends.bedrock.metrics import parse_csv

    rows = parse_csv("\ufeffstep_number,critic_rewards_mean,kl_loss,phase\n1,0.25,0.01,train\n2,nan,0.02,train\n", "train")
    assert rows[0] == (1, {"train/reward_mean": 0.25, "bedrock/critic_rewards_mean": 0.25, "bedrock/kl_loss": 0.01})
    assert rows[1] == (2, {"bedrock/kl_loss": 0.02})  # nan dropped, non-numeric column dropped
    assert parse_csv("", "train") == []


def test_post_fine_tuning_validation_csv_is_validation(aws):
    from rftlab.aws import client
    from rftlab.backends.bedrock.metrics import read_job_metrics

    s3 = client("s3", REGION)
    s3.put_object(Bucket=BUCKET, Key=f"{JOB_FOLDER}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                  Body=b"step_number,epoch_number,val-score/rewards/mean@1\n3,0,0.61\n")
    put_metrics_csv(rows=3)
    got = read_job_metrics(f"s3://{BUCKET}/rftlab/output/abc/", JOB_ARN, REGION)
    assert got["val"] == [(3, {"val/reward_mean": 0.61, "bedrock/val-score/rewards/mean_at_1": 0.61, "val/epoch": 0.0})]
    assert [s for s, _ in got["train"]] == [1, 2, 3]


def test_only_the_jobs_own_folder_is_read(aws):
    """A retried job shares nothing with the failed attempt: another job's CSVs under the same prefix
    (or stray CSVs at the prefix root) are never imported."""
    from rftlab.aws import client
    from rftlab.backends.bedrock.metrics import read_job_metrics

    s3 = client("s3", REGION)
    other = "rftlab/output/abc/model-customization-job-0123456789ab/training_artifacts/step_wise_training_metrics.csv"
    s3.put_object(Bucket=BUCKET, Key=other, Body=training_csv(rows=9).encode())
    s3.put_object(Bucket=BUCKET, Key="rftlab/output/abc/stray.csv", Body=b"step_number,critic/rewards/mean\n1,0.99\n")
    assert read_job_metrics(f"s3://{BUCKET}/rftlab/output/abc/", JOB_ARN, REGION) == {}
    put_metrics_csv(rows=2)
    got = read_job_metrics(f"s3://{BUCKET}/rftlab/output/abc/", JOB_ARN, REGION)
    assert [s for s, _ in got["train"]] == [1, 2] and got["train"][0][1]["train/reward_mean"] == 0.4


# ---------------------------------------------------------------------------- cost
def test_estimate_arithmetic_and_labels():
    from rftlab.config import PriceParams
    from rftlab.jobs import cost

    prices = PriceParams()
    hp = {"epochCount": 2, "trainingSamplePerPrompt": 4, "inferenceMaxTokens": 50, "maxPromptLength": 256}
    est = cost.estimate(100, 50.0, hp, prices)
    assert est.rollouts == 800 and est.tokens == 80_000
    assert est.hours == pytest.approx(0.5 + 80_000 / 2_000_000)
    assert est.training_usd == pytest.approx(0.54 * 61.0, abs=0.01)
    text = cost.describe(est, budget_usd=10.0)
    figures, _, sources = text.partition("where the prices come from:")
    assert all("(estimate" in line for line in figures.splitlines() if "$" in line and "budget" not in line)
    assert "ABOVE budget" in text
    # every price says where it comes from; the $61/h is one measured job, labelled an estimate
    assert "measured from one Nova 2 Lite RFT job" in sources and "an estimate" in est.sources["training_usd_per_hour"]
    assert {"training_usd_per_hour", "training_tokens_per_hour", "lambda"} <= set(est.sources)
    with pytest.raises(cost.BudgetExceeded):
        cost.check_budget(est.total_usd, 10.0)
    cost.check_budget(est.total_usd, None)  # no budget, no limit
    assert cost.spent(2.0, prices) == 122.0 and cost.over_budget(122.0, 100.0)


def test_prompt_stats_counts_records_and_tokens(tmp_path):
    from rftlab.jobs.cost import prompt_stats

    n, avg = prompt_stats(write_prompts(tmp_path / "p.jsonl", 10), chars_per_token=1.0)
    assert n == 10 and 15 < avg < 25


# ---------------------------------------------------------------------------- IAM
def test_service_role_policy_is_least_privilege():
    from rftlab.backends.bedrock.iam import service_role_policy

    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rftlab-grader:3"
    doc = service_role_policy("b", "rftlab", fn)
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["ReadPrompts"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadPrompts"]["Resource"] == ["arn:aws:s3:::b/rftlab/data/*"]
    assert by_sid["WriteOutputs"]["Resource"] == ["arn:aws:s3:::b/rftlab/output/*"]
    assert by_sid["InvokeGrader"] == {"Sid": "InvokeGrader", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                                      "Resource": [fn]}
    actions = [a for s in doc["Statement"] for a in s["Action"]]
    assert not any("*" in a for a in actions)


def test_policies_command_writes_documents(project):
    result = runner.invoke(app, ["bedrock", "policies", "--out-dir", "build/iam", "--account", ACCOUNT])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (project / "build/iam").iterdir())
    assert files == ["bedrock-service-role-policy.json", "bedrock-service-role-trust.json", "caller-policy.json",
                     "grader-lambda-policy.json", "grader-lambda-trust.json", "open-weight-caller-policy.json"]
    caller = json.loads((project / "build/iam/caller-policy.json").read_text())
    passrole = next(s for s in caller["Statement"] if s["Sid"] == "PassServiceRoleToBedrock")
    assert passrole["Resource"] == [ROLE]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    trust = json.loads((project / "build/iam/bedrock-service-role-trust.json").read_text())
    assert trust["Statement"][0]["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert "bedrock:CreateModelCustomizationJob" in result.output


# ---------------------------------------------------------------------------- request checks
def _launch(**kw):
    from rftlab.backends.bedrock.launch import Launch, names

    job, model, token = names("ab" * 32)
    return Launch(spec_hash="ab" * 32, job_name=job, model_name=model, token=token, grader_version=GRADER_VERSION,
                  lambda_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rftlab-grader:1",
                  train_uri=f"s3://{BUCKET}/rftlab/data/x/train.jsonl", val_uri=None,
                  output_uri=f"s3://{BUCKET}/rftlab/output/x/", prompts_digest="d" * 32, **kw)


def test_job_request_passes_the_full_service_model_check(project):
    from rftlab.backends.bedrock.launch import request
    from rftlab.backends.bedrock.shapes import check_request
    from rftlab.jobs.spec import build_spec

    spec = build_spec(rft_params(), train="data/prompts/train.jsonl", val=None, grader="data/grader/grader.json")
    req = request(_launch(), spec, rft_params())
    check_request("bedrock", "CreateModelCustomizationJob", req)
    assert req["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert req["baseModelIdentifier"] == "amazon.nova-2-lite-v1:0:256k"
    tags = {t["key"]: t["value"] for t in req["jobTags"]}
    assert tags["rftlab.grader_version"] == GRADER_VERSION and tags["rftlab.prompts_digest"] == "d" * 32


def test_request_check_names_bad_fields():
    from rftlab.backends.bedrock.shapes import check_request
    from rftlab.errors import InputError

    with pytest.raises(InputError, match=r"jobName: 'bad name!' does not match") as exc:
        check_request("bedrock", "CreateModelCustomizationJob", {
            "jobName": "bad name!", "customizationConfig": {"rftConfig": {"hyperParameters": {"epochCount": 99}}}})
    assert "customizationConfig.rftConfig.hyperParameters.epochCount: 99 is above the maximum 50" in str(exc.value)


def test_spec_clientrequesttoken_is_stable_per_spec():
    from rftlab.backends.bedrock.launch import names

    assert names("a" * 64) == names("a" * 64)
    assert names("a" * 64)[2] != names("b" * 64)[2]
    assert names("a" * 64, attempt=1)[2].endswith("-a1")


# ---------------------------------------------------------------------------- data upload
def test_upload_with_kms_and_missing_bucket(project, aws):
    from rftlab.aws import AwsError, client
    from rftlab.backends.bedrock.data import upload_file

    up = upload_file("data/prompts/train.jsonl", bucket=BUCKET, prefix="p", region=REGION, kms_key_id="alias/rft")
    bucket, key = up.uri[5:].split("/", 1)
    head = client("s3", REGION).head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and key == f"p/data/{up.md5}/train.jsonl"
    assert not upload_file("data/prompts/train.jsonl", bucket=BUCKET, prefix="p", region=REGION).uploaded
    with pytest.raises(AwsError, match="S3 bucket no-such-bucket does not exist"):
        upload_file("data/prompts/train.jsonl", bucket="no-such-bucket", prefix="p", region=REGION)


# ---------------------------------------------------------------------------- model deployment
def _deployment(status="Active", model=MODEL_ARN, **kw):
    return {"customModelDeploymentArn": DEPLOY_ARN, "modelDeploymentName": "rftlab-x", "modelArn": model,
            "createdAt": T0, "status": status, **kw}


def test_deploy_updates_an_existing_deployment_to_the_new_model(project, bedrock, no_sleep):
    from rftlab.backends.bedrock import commands as bedrock_commands
    from rftlab.backends.bedrock.deploy import deploy
    from rftlab.jobs.state import JobState

    backend = bedrock_commands.make_backend(rft_params(), track=False)
    state = backend.store.save(JobState(job_id=JOB_ARN, spec_hash="s" * 64, backend="bedrock",
                                        details={"job_name": "rftlab-rft-abc"}))
    old_model = MODEL_ARN.replace("fedcba654321", "000000000000")
    bedrock.add_response("get_model_customization_job", job_response("Completed"))
    bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": [{
        "customModelDeploymentArn": DEPLOY_ARN, "customModelDeploymentName": "rftlab-rft-abc",
        "modelArn": old_model, "createdAt": T0, "status": "Active"}]}, {"nameContains": "rftlab-rft-abc"})
    bedrock.add_response("get_custom_model_deployment", _deployment(model=old_model))
    bedrock.add_response("update_custom_model_deployment", {"customModelDeploymentArn": DEPLOY_ARN},
                         {"modelArn": MODEL_ARN, "customModelDeploymentIdentifier": DEPLOY_ARN})
    bedrock.add_response("get_custom_model_deployment", _deployment(updateDetails={"modelArn": MODEL_ARN,
                                                                                   "updateStatus": "Updating"}))
    bedrock.add_response("get_custom_model_deployment", _deployment(updateDetails={"modelArn": MODEL_ARN,
                                                                                   "updateStatus": "UpdateCompleted"}))
    out = deploy(backend, state)
    bedrock.assert_no_pending_responses()
    assert out.details["deployment_arn"] == DEPLOY_ARN and no_sleep == [1.0]


def test_deploy_refuses_an_unfinished_job(project, bedrock, no_sleep):
    from rftlab.backends.bedrock import commands as bedrock_commands
    from rftlab.backends.bedrock.deploy import deploy
    from rftlab.errors import InputError
    from rftlab.jobs.state import JobState

    backend = bedrock_commands.make_backend(rft_params(), track=False)
    state = JobState(job_id=JOB_ARN, spec_hash="s" * 64, backend="bedrock")
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))
    with pytest.raises(InputError, match="is InProgress: only a Completed job"):
        deploy(backend, state)


def test_progress_line_shows_stages_and_estimate():
    from rftlab.backends.bedrock.backend import progress_line
    from rftlab.jobs.state import JobState

    s = JobState(job_id=JOB_ARN, spec_hash="x", backend="bedrock", duration_min=62.5, cost_usd=63.4,
                 details={"job_name": "j", "stages": {"validation": "Completed", "data processing": "Completed",
                                                      "training": "InProgress"}})
    assert progress_line(s) == ("j | InProgress | validation: Completed | data processing: Completed | "
                                "training: InProgress | 1h02m | $63.40 (estimate)")


def test_account_id_from_sts(project, aws):
    from rftlab.backends.bedrock.iam import account_id

    assert account_id(REGION) == ACCOUNT


def test_s3_access_denied_names_the_permission_and_resource(project, aws):
    from botocore.stub import Stubber

    from rftlab.aws import AwsError, client
    from rftlab.backends.bedrock.data import upload_file

    with Stubber(client("s3", REGION)) as stub:
        stub.add_response("head_bucket", {})
        stub.add_client_error("head_object", "404", "Not Found", 404)
        stub.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(AwsError, match=r"needs s3:PutObject on arn:aws:s3:::rft-bucket/p/data/[0-9a-f]{32}/train.jsonl"):
            upload_file("data/prompts/train.jsonl", bucket=BUCKET, prefix="p", region=REGION)
        stub.add_client_error("head_bucket", "403", "Forbidden", 403)
        with pytest.raises(AwsError, match=r"needs s3:ListBucket on arn:aws:s3:::rft-bucket"):
            upload_file("data/prompts/train.jsonl", bucket=BUCKET, prefix="p", region=REGION)


def test_sync_records_status_even_when_outputs_are_unreadable(project, bedrock, no_sleep):
    from rftlab import tracking
    from rftlab.backends.bedrock import commands as bedrock_commands
    from rftlab.backends.bedrock import sync

    other_bucket = job_response("Completed", outputDataConfig={"s3Uri": "s3://someone-elses-bucket/out/"})
    bedrock.add_response("get_model_customization_job", other_bucket)
    bedrock.add_response("list_tags_for_resource", {"tags": []})
    [state] = sync.sync(bedrock_commands.make_backend(rft_params()), JOB_ARN)
    run = tracking.get_run(state.run_id)
    assert run.data.metrics["duration_min"] == 10 and "someone-elses-bucket" in run.data.tags["rftlab.metrics_error"]


def test_deploy_stage_records_a_local_job_without_calling_aws(tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/rft").mkdir(parents=True)
    (tmp_path / "data/rft/job.json").write_text(json.dumps({"job_id": "rft-local-abc", "backend": "local",
                                                             "model_path": "data/rft/model"}))
    result = runner.invoke(app, ["deploy", "--out", "data/rft/deployment.json"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "data/rft/deployment.json").read_text()) == {
        "job_id": "rft-local-abc", "backend": "local", "model": "data/rft/model"}


def test_a_job_against_another_endpoint_is_another_job(project, monkeypatch):
    """The rehearsal's stand-in job must never be found again as the real account's job."""
    from rftlab.jobs.spec import build_spec

    def spec():
        return build_spec(rft_params(), train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                          grader="data/grader/grader.json")

    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    real = spec().spec_hash()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", "http://127.0.0.1:5999")
    rehearsal = spec()
    assert rehearsal.options["endpoint"] == "http://127.0.0.1:5999" and rehearsal.spec_hash() != real
