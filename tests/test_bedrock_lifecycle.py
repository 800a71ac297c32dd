"""A full simulated Bedrock RFT lifecycle through the CLI and the rft stage (no real AWS).

upload -> grader deploy -> create job -> InProgress -> Completed (metrics CSV in moto S3)
-> metrics in MLflow -> deploy -> Converse with the deployment ARN.
"""

from __future__ import annotations

import json

from bedrock_support import (  # fixtures come from conftest's pytest_plugins
    ACCOUNT,
    BUCKET,
    DEPLOY_ARN,
    GRADER_VERSION,
    JOB_ARN,
    MODEL_ARN,
    REGION,
    ROLE,
    job_response,
    put_metrics_csv,
    rft_params,
)
from botocore.stub import ANY
from typer.testing import CliRunner

from rftlab import contracts
from rftlab.cli import app

runner = CliRunner()
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rftlab-grader:{GRADER_VERSION}"
LAMBDA_V1 = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rftlab-grader:1"


def _ok(result):
    assert result.exit_code == 0, result.output + str(result.exception or "")
    return result


def _use_stubbed_backend(monkeypatch):
    """The rft stage builds its backend through the plugin, whose factory is the CLI's (no real sleep)."""


def test_full_lifecycle(project, bedrock, no_sleep, monkeypatch):
    from rftlab import tracking
    from rftlab.aws import client
    from rftlab.backends.bedrock.launch import names
    from rftlab.jobs.spec import build_spec

    # 1. upload: content-addressed, skipped the second time
    first = _ok(runner.invoke(app, ["bedrock", "upload"]))
    assert first.output.count("(uploaded)") == 2
    again = _ok(runner.invoke(app, ["bedrock", "upload"]))
    assert again.output.count("(already there)") == 2

    # 2. grader: local smoke test, Lambda (PackageType Image) created in moto, version published
    out = _ok(runner.invoke(app, ["bedrock", "deploy-grader", "--image-uri", IMAGE]))
    assert out.stdout.strip().splitlines()[-1] == LAMBDA_V1
    fn = client("lambda", REGION).get_function_configuration(FunctionName="rftlab-grader")
    assert fn["PackageType"] == "Image" and fn["Timeout"] == 300 and fn["MemorySize"] == 2048
    versions = client("lambda", REGION).list_versions_by_function(FunctionName="rftlab-grader")["Versions"]
    # the published version is described by its deployment version (bundle + grader code + pins + base image)
    from rftlab.grader.deployment import deployment_version

    assert [v["Description"] for v in versions if v["Version"] != "$LATEST"] == [
        f"{deployment_version('data/grader/grader.json')} grader {GRADER_VERSION}"]

    # 3. the rft stage: create job (pinned to grader version 1) -> InProgress -> Completed
    spec = build_spec(rft_params(), train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json")
    job_name, model_name, token = names(spec.spec_hash())
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []},
                         {"nameContains": job_name, "maxResults": 10})
    bedrock.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, {
        "jobName": job_name, "customModelName": model_name, "roleArn": ROLE, "clientRequestToken": token,
        "baseModelIdentifier": "amazon.nova-2-lite-v1:0:256k", "customizationType": "REINFORCEMENT_FINE_TUNING",
        "trainingDataConfig": {"s3Uri": ANY}, "validationDataConfig": {"validators": [{"s3Uri": ANY}]},
        # each attempt writes to its own prefix, so a retry never reads the failed attempt's CSVs
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/rftlab/output/{spec.spec_hash()[:16]}/attempt-0/"},
        # the Bedrock defaults come from AWS's Nova sample (nova_gsm8k_rft.ipynb); evalInterval is not sent
        # (Bedrock chooses it), reasoningEffort null is not sent
        "customizationConfig": {"rftConfig": {"graderConfig": {"lambdaGrader": {"lambdaArn": LAMBDA_V1}},
                                              "hyperParameters": {"epochCount": 1, "batchSize": 32, "learningRate": 5e-05,
                                                                  "trainingSamplePerPrompt": 4, "inferenceMaxTokens": 750,
                                                                  "maxPromptLength": 1024}}},
        "jobTags": ANY, "customModelTags": ANY,
    })
    bedrock.add_response("get_model_customization_job", job_response("InProgress", name=job_name, minutes=5))
    bedrock.add_response("get_model_customization_job", job_response("InProgress", name=job_name, minutes=30))
    bedrock.add_response("get_model_customization_job", job_response("Completed", name=job_name, minutes=90))
    put_metrics_csv()
    _use_stubbed_backend(monkeypatch)
    out = _ok(runner.invoke(app, ["rft"]))
    assert f"{JOB_ARN} Completed in 90.0 min ($91.50)" in out.stdout
    assert "training: InProgress" in out.stderr and "training: Completed" in out.stderr  # progress lines
    assert no_sleep == [1.0]  # one poll interval between the two wait polls
    record = json.loads((project / "data/rft/job.json").read_text())
    assert record["job_id"] == JOB_ARN and record["backend"] == "bedrock" and record["model_id"] == MODEL_ARN
    assert record["status"] == "Completed" and record["cost_usd"] == 91.5 and record["duration_min"] == 90
    assert record["metrics"]["train_reward_last"] == 0.6
    assert json.loads((project / "data/rft/model/model_id.json").read_text())["model_id"] == MODEL_ARN
    assert record["grader_version"] == GRADER_VERSION and "run_id" not in record  # a run id belongs to one store

    # 4. metrics in MLflow: step metrics under train/, summary, cost, one run for the job (found by its ARN)
    runs = tracking.find_runs(contracts.JOB_ID, JOB_ARN)
    assert len(runs) == 1
    record = {**record, "run_id": runs[0].info.run_id}
    assert tracking.metric_history(record["run_id"], "train/reward_mean") == [(1, 0.4), (2, 0.5), (3, 0.6)]
    run = tracking.get_run(record["run_id"])
    assert run.data.metrics["cost_usd"] == 91.5 and run.data.metrics["train/final_loss"] == 0.42
    assert run.data.tags[contracts.GRADER_VERSION] == GRADER_VERSION and run.data.tags[contracts.BACKEND] == "bedrock"
    assert run.data.params["hp.epochCount"] == "1" and run.info.status == "FINISHED"
    assert run.data.params["prompts.train_md5"] == record["prompts_digest"]["train"]
    assert run.data.params["base_model"] == "amazon.nova-2-lite-v1:0:256k"
    request = tracking.download_artifact(record["run_id"], "job/request.json", project / "dl")
    assert json.loads(request.read_text())["customizationType"] == "REINFORCEMENT_FINE_TUNING"

    # 5. deploy (its own stage): create, wait Creating -> Active; the ARN goes into the deploy stage's
    # record, and the rft stage's job record (a DVC output) stays byte for byte what rft wrote
    bedrock.add_response("get_model_customization_job", job_response("Completed", name=job_name, minutes=90))
    bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, {"nameContains": ANY})
    bedrock.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOY_ARN},
                         {"modelDeploymentName": ANY, "modelArn": MODEL_ARN, "clientRequestToken": ANY,
                          "description": ANY, "tags": ANY})
    for status in ("Creating", "Active"):
        bedrock.add_response("get_custom_model_deployment", {
            "customModelDeploymentArn": DEPLOY_ARN, "modelDeploymentName": "x", "modelArn": MODEL_ARN,
            "createdAt": job_response()["creationTime"], "status": status})
    job_bytes = (project / "data/rft/job.json").read_bytes()
    _ok(runner.invoke(app, ["deploy", "--out", "data/rft/deployment.json"]))
    bedrock.assert_no_pending_responses()
    assert (project / "data/rft/job.json").read_bytes() == job_bytes
    deployment = json.loads((project / "data/rft/deployment.json").read_text())
    assert deployment["deployment_arn"] == DEPLOY_ARN and deployment["job_id"] == record["job_id"]
    assert tracking.get_run(record["run_id"]).data.tags["rftlab.deployment_arn"] == DEPLOY_ARN

    # 6. `rftlab evaluate` generates through Converse: base model id, then the deployment ARN
    _evaluate_with_converse(project, record)


def _evaluate_with_converse(project, record) -> None:
    import yaml
    from botocore.stub import Stubber

    from rftlab import tracking
    from rftlab.aws import client

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"] = {"max_prompts": 3, "samples_per_prompt": 1, "bootstrap": 100}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    with Stubber(client("bedrock-runtime", REGION)) as stub:
        # base side: Converse takes Nova 2 Lite's inference profile, never the customization id ...:256k
        for model, text in (("us.amazon.nova-2-lite-v1:0", "はい"), (DEPLOY_ARN, "承知したでござる、拙者が進めるでござる")):
            for _ in range(3):
                stub.add_response("converse", {
                    "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                    "stopReason": "end_turn", "usage": {"inputTokens": 12, "outputTokens": 8, "totalTokens": 20},
                    "metrics": {"latencyMs": 100}}, {"modelId": model, "messages": ANY, "inferenceConfig": ANY})
        out = _ok(runner.invoke(app, ["evaluate"]))
        stub.assert_no_pending_responses()
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert metrics["eval/tuned_mean"] > metrics["eval/base_mean"]  # the fake grader rewards length
    assert tracking.get_run(record["run_id"]).data.metrics["eval/win_rate"] == metrics["eval/win_rate"]
    assert "eval/uplift_pct" in out.stdout
