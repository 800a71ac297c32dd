"""`rftlab search` on the Bedrock backend (moto for S3/IAM/Lambda/ECR, Stubber for Bedrock): a trial whose
estimate would cross the budget is refused before anything is created, and a trial the pruner gives up
on is stopped with StopModelCustomizationJob and told PRUNED."""

from __future__ import annotations

import optuna
import pytest
import yaml
from bedrock_support import (
    ACCOUNT,
    BUCKET,
    JOB_ARN,
    JOB_FOLDER,
    REGION,
    job_response,
    write_params,
)

IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rftlab-grader:1"
SPACE = {"learningRate": {"low": 1e-5, "high": 1e-4, "log": True}}


def _params(project, **search):
    from rftlab.config import parse_params

    data = yaml.safe_load(write_params(project, image_uri=IMAGE).read_text())
    data["search"] = {"trials": 1, "poll_s": 0.01, "study_name": "bedrock-search-test",
                      "storage": f"sqlite:///{project / 'optuna.db'}", "space": SPACE, **search}
    (project / "params.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return parse_params(data)


def _run(params, project, max_polls=20):
    from rftlab.search.runner import run_search

    return run_search(params, train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json", out_dir=project / "reports/search", max_polls=max_polls,
                      echo=lambda m: None)


def test_a_trial_over_the_budget_is_refused_before_any_side_effect(project, bedrock, no_sleep):
    from rftlab.aws import client

    params = _params(project, budget_usd=0.5)  # a Bedrock job on 120 prompts is estimated at several dollars
    figures = _run(params, project)
    bedrock.assert_no_pending_responses()  # no ListModelCustomizationJobs, no CreateModelCustomizationJob
    assert client("s3", REGION).list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    (trial,) = optuna.load_study(study_name="bedrock-search-test", storage=params.search.storage).trials
    assert trial.state.name == "FAIL" and "search.budget_usd $0.50" in trial.user_attrs["refused"]
    assert figures["trials_complete"] == 0 and figures["spent_usd"] == 0


def test_a_pruned_bedrock_trial_is_stopped(project, bedrock, no_sleep):
    from rftlab.aws import client
    from rftlab.search.study import open_study

    params = _params(project, trials=3, pruner="median", pruner_startup_trials=1)
    study = open_study(params.search.storage, "bedrock-search-test", params.search, space=sorted(SPACE))
    dist = {"learningRate": optuna.distributions.FloatDistribution(1e-5, 1e-4, log=True)}
    for lr in (2e-5, 3e-5):  # two earlier trials that reached 0.9 at every step
        study.add_trial(optuna.trial.create_trial(params={"learningRate": lr}, distributions=dist, value=0.9,
                                                  intermediate_values={1: 0.9, 2: 0.9}))
    # the trial's job: its validation reward at step 2 is 0.45 (documented CSV names, documented folder)
    client("s3", REGION).put_object(
        Bucket=BUCKET, Key=f"{JOB_FOLDER}/training_artifacts/step_wise_training_metrics.csv",
        Body=b"step_number,epoch_number,critic/rewards/mean,val-score/rewards/mean@1\n1,0,0.40,\n2,0,0.42,0.45\n")
    bedrock.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []})
    bedrock.add_response("create_model_customization_job", {"jobArn": JOB_ARN})
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))  # submit
    bedrock.add_response("get_model_customization_job", job_response("InProgress"))  # first poll: prune
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    bedrock.add_response("get_model_customization_job", job_response("Stopped"))     # next poll: ended
    figures = _run(params, project)
    bedrock.assert_no_pending_responses()
    trial = optuna.load_study(study_name="bedrock-search-test", storage=params.search.storage).trials[-1]
    assert trial.state.name == "PRUNED" and trial.intermediate_values == {2: 0.45}
    assert "pruned at step 2" in trial.user_attrs["prune_requested"] and trial.user_attrs["job_id"] == JOB_ARN
    assert figures["trials_pruned"] == 1 and figures["trials_complete"] == 2
    assert trial.user_attrs["cost_usd"] > 0  # what the stopped job cost is recorded (an estimate)


@pytest.mark.parametrize(("high", "says"), [(1e-2, "search.space.learningRate.high: 0.01 is outside the allowed range")])
def test_a_bedrock_search_space_outside_botocore_ranges_is_refused(high, says):
    from rftlab.config import parse_params
    from rftlab.errors import ConfigError

    with pytest.raises(ConfigError, match=says):
        parse_params({"rft": {"backend": "bedrock"},
                      "search": {"space": {"learningRate": {"low": 1e-5, "high": high, "log": True}}}})
