"""What `mlflow ui` opens on: a classic ML experiment with a description, a saved view of the job
runs (hyperparameters, grader version, cost, uplift as columns; reward curves first), and the
comparison report one click away."""

from __future__ import annotations

import json

import mlflow
import pytest

from rftlab import contracts, tracking
from rftlab.evaluate.compare import compare
from rftlab.tracking import experiment, views

EXP = "views-test"


def _state(tags: dict) -> dict:
    return json.loads(json.loads(tags[views.VIEW_TAG])["state"])


def test_a_new_experiment_is_classic_ml_with_a_description_and_the_job_view():
    exp_id = tracking.setup(EXP)
    tags = mlflow.MlflowClient().get_experiment(exp_id).tags
    assert tags[views.KIND_TAG] == "custom_model_development"
    assert 'tags.`rftlab.kind` = "rft-job"' in tags[views.NOTE_TAG]
    assert views.job_view_path(exp_id) in tags[views.NOTE_TAG]
    envelope = json.loads(tags[views.VIEW_TAG])
    assert envelope["name"] == "RFT jobs" and isinstance(envelope["createdAt"], int)
    state = _state(tags)
    assert state["searchFilter"] == views.JOB_FILTER
    charts = state["compareRunCharts"]
    assert [c["metricKey"] for c in charts[:2]] == ["train/reward_mean", "val/reward_mean"]
    assert all(c["type"] == "LINE" for c in charts[:2])
    assert state["compareRunSections"][0]["uuid"] == charts[0]["metricSectionId"]


@pytest.fixture(scope="module")
def jobs():
    for lr, uplift, cost in ((1e-3, 40.0, 0.5), (3e-4, 25.0, 0.2)):
        with tracking.stage_run("rft-job", run_name=f"lr {lr}", experiment=EXP,
                                params={"hp": {"learningRate": lr, "batchSize": 4, "evalInterval": 10},
                                        "backend": "local"},
                                tags={contracts.JOB_ID: f"rft-local-{lr}", contracts.GRADER_VERSION: "g-1"}):
            for step, reward in enumerate((0.3, 0.5, 0.7)):
                tracking.log_metrics({"train/reward_mean": reward}, step=step)
            tracking.log_metrics({"eval/uplift_pct": uplift, "eval/win_rate": 0.9, "cost_usd": cost})
    return tracking.setup(EXP)


def test_the_job_view_shows_hyperparameters_grader_cost_and_uplift_columns(jobs):
    experiment.refresh(jobs)
    columns = _state(mlflow.MlflowClient().get_experiment(jobs).tags)["selectedColumns"]
    for col in ("params.`hp.learningRate`", "params.`hp.batchSize`", "tags.`rftlab.grader_version`",
                "metrics.`cost_usd`", "metrics.`eval/uplift_pct`", "metrics.`eval/win_rate`"):
        assert col in columns
    assert "params.`hp.evalInterval`" not in columns  # the same in every job, and not a core name


def test_hp_columns_are_the_core_names_plus_whatever_differs():
    rows = [{"hp.learningRate": "0.001", "hp.evalInterval": "10", "hp.beta": "0.04"},
            {"hp.learningRate": "0.0003", "hp.evalInterval": "10", "hp.beta": "0.1"}]
    assert views.hp_columns(rows) == ["hp.beta", "hp.learningRate"]


def test_a_description_the_user_edited_is_left_alone():
    ours = views.experiment_tags({}, "7", hp_keys=[])
    assert views.NOTE_TAG in ours
    mine = {**ours, views.NOTE_TAG: "my own notes"}
    assert views.NOTE_TAG not in views.experiment_tags(mine, "7", hp_keys=[], comparison_run_id="r1")
    assert views.experiment_tags(ours, "7", hp_keys=[]) == {}  # nothing changed: nothing written


def test_compare_logs_its_report_into_the_comparison_run_the_description_links(jobs):
    compare(experiment=EXP, log=True)
    client = mlflow.MlflowClient()
    (run,) = client.search_runs([jobs], "tags.`rftlab.kind` = 'comparison'")
    listed = [a.path for a in client.list_artifacts(run.info.run_id, "compare")]
    assert "compare/report.html" in listed
    assert run.info.run_id in client.get_experiment(jobs).tags[views.NOTE_TAG]
    compare(experiment=EXP, log=True)  # a second report replaces the first, in the same run
    assert len(client.search_runs([jobs], "tags.`rftlab.kind` = 'comparison'")) == 1


def test_an_unknown_sort_key_is_refused_naming_the_valid_ones(jobs):
    from typer.testing import CliRunner

    from rftlab.cli import app

    res = CliRunner().invoke(app, ["compare", "--experiment", EXP, "--sort", "nosuch", "--no-log"])
    assert res.exit_code == 2
    assert "--sort 'nosuch'" in res.output and "eval/uplift_pct" in res.output and "hp.learningRate" in res.output
