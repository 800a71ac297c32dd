"""The tracking layer: kind tags, git state, dataset digests, no run left RUNNING."""

from __future__ import annotations

import os

import mlflow
import pytest

from rftlab import contracts, tracking
from rftlab.io import file_md5


def _run(run_id):
    return mlflow.MlflowClient().get_run(run_id)


def test_stage_run_records_kind_git_and_deps(tmp_path):
    dep = tmp_path / "input.jsonl"
    dep.write_text('{"id": "1", "user": "U", "text": "x"}\n', encoding="utf-8")
    with tracking.stage_run("ingest", params={"a": {"b": 1}}, deps={"input": dep}) as run:
        tracking.log_metrics({"kept": 3})
        digest = tracking.log_input_file(dep, name="messages")
    got = _run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.tags[contracts.KIND] == "ingest"
    assert got.data.tags["dvc.dep.input"] == file_md5(dep) == digest
    assert got.data.params["a.b"] == "1"
    assert got.data.metrics["kept"] == 3
    assert "rftlab.git_commit" in got.data.tags
    assert got.data.tags["rftlab.git_dirty"] in {"true", "false"}
    inputs = got.inputs.dataset_inputs
    assert inputs and inputs[0].dataset.name == "messages" and inputs[0].dataset.digest == digest[:32]


def test_failed_stage_ends_failed_not_running():
    with pytest.raises(RuntimeError):
        with tracking.stage_run("profile") as run:
            raise RuntimeError("boom")
    assert _run(run.info.run_id).info.status == "FAILED"
    assert mlflow.active_run() is None


def test_interrupted_stage_ends_killed():
    with pytest.raises(KeyboardInterrupt):
        with tracking.stage_run("profile") as run:
            raise KeyboardInterrupt
    assert _run(run.info.run_id).info.status == "KILLED"


def test_under_mlflow_run_stages_become_children(monkeypatch):
    tracking.setup()
    outer = mlflow.start_run()
    outer_id = outer.info.run_id
    mlflow.end_run()
    monkeypatch.setenv("MLFLOW_RUN_ID", outer_id)
    with tracking.stage_run("ingest") as run:
        pass
    import os

    assert os.environ["MLFLOW_RUN_ID"] == outer_id
    child = _run(run.info.run_id)
    assert child.info.run_id != outer_id
    assert child.data.tags["mlflow.parentRunId"] == outer_id


def test_find_runs_and_close_orphans():
    tracking.setup()
    run = mlflow.start_run(tags={contracts.JOB_ID: "job-orphan-1"})
    # Simulate a killed process: the run stays RUNNING in the store.
    mlflow.end_run(status="RUNNING")
    assert [r.info.run_id for r in tracking.find_runs(contracts.JOB_ID, "job-orphan-1")] == [run.info.run_id]
    assert tracking.close_orphans(contracts.JOB_ID, "job-orphan-1") == 1
    assert _run(run.info.run_id).info.status == "KILLED"
    assert tracking.close_orphans(contracts.JOB_ID, "job-orphan-1") == 0


def test_tracking_uri_defaults_to_project_sqlite(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    (tmp_path / "params.yaml").write_text("{}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri() == f"sqlite:///{(tmp_path / 'mlflow.db').resolve().as_posix()}"



def test_a_stage_run_leaves_no_experiment_id_for_the_processes_it_starts(monkeypatch):
    """mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID; a later `mlflow run --experiment-name`
    child would refuse both. The project's runs leave the environment as they found it."""
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    with tracking.stage_run("ingest") as run:
        assert "MLFLOW_EXPERIMENT_ID" not in os.environ
    with tracking.resume_run(run.info.run_id):
        assert "MLFLOW_EXPERIMENT_ID" not in os.environ
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ


def test_a_jobs_evaluation_shares_its_job_id_but_the_job_run_is_found_by_kind():
    """A rerun that finds a remote job again looks its run up by job id: the newest run with that
    tag is the evaluation nested under it, so the lookup names the kind."""
    with tracking.stage_run("rft-job", tags={contracts.JOB_ID: "job-kind-1"}) as job:
        pass
    with tracking.stage_run("evaluation", tags={contracts.JOB_ID: "job-kind-1"}):
        pass
    assert sorted(r.data.tags[contracts.KIND] for r in tracking.find_runs(contracts.JOB_ID, "job-kind-1")) == [
        "evaluation", "rft-job"]
    (found,) = tracking.find_runs(contracts.JOB_ID, "job-kind-1", kind="rft-job")
    assert found.info.run_id == job.info.run_id
