"""Local GRPO end to end on a tiny model built here: weights move, metrics land in MLflow,
reruns (also after an interruption) reuse the job and its run, and nothing stays RUNNING."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from local_support import build_project

from rftlab import contracts, tracking
from rftlab.config import parse_params

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder: params, tiny base model, prompts, grader bundle.

    The 1-epoch model writes byte noise, which the guards (non_japanese, disfluency) score exactly 0:
    every group ties and GRPO has nothing to learn from. With the guards at weight 0 the style
    families still rank the noise, so the rollouts differ and the weights must move."""
    from rftlab.grader.bundle import load_grader, make_bundle, write_bundle
    from rftlab.grader.scoring import GUARDS

    d = build_project(tmp_path_factory.mktemp("proj"))
    write_bundle(d / "grader.json", make_bundle(load_grader(d / "grader.json").profile, {g: 0.0 for g in GUARDS}))
    return d


def run(d, seed=0, **kw):
    from rftlab.jobs import rft_stage

    data = yaml.safe_load((d / "params.yaml").read_text(encoding="utf-8"))
    data["rft"]["seed"] = seed
    params = parse_params(data)
    paths = rft_stage.Paths(train=str(d / "train.jsonl"), val=str(d / "val.jsonl"), grader=str(d / "grader.json"),
                            job_out=str(d / "out/job.json"), model_out=str(d / "out/model"),
                            metrics=str(d / "out/rft.json"))
    return rft_stage.run(params, paths, progress=False, **kw)


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.setenv("RFTLAB_JOBS_DIR", str(project / "jobs"))
    return project


def weights(path):
    from transformers import AutoModelForCausalLM

    return {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(path).state_dict().items()}


def test_grpo_trains_logs_metrics_and_rerun_reuses_the_run(in_project):
    d = in_project
    state = run(d)
    assert state.status == "Completed"
    before, after = weights(d / "base"), weights(d / "out/model")
    assert any((before[k] - after[k]).abs().max() > 0 for k in before), "GRPO did not change the weights"

    runs = tracking.find_runs(contracts.JOB_ID, state.job_id)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    r = runs[0]
    assert r.data.tags[contracts.KIND] == "rft-job" and r.data.tags[contracts.BACKEND] == "local"
    assert r.data.tags[contracts.GRADER_VERSION].startswith("g-")
    for key in ("hp.batchSize", "hp.learningRate", "grader_version", "prompts.train_md5", "prompts.val_md5",
                "profile_md5", "base_model", "backend"):
        assert key in r.data.params, key
    for key in ("train/reward_mean", "train/reward_std", "train/frac_reward_zero_std", "train/kl",
                "train/completion_length", "train/learning_rate", "val/reward_mean", "cost_usd", "duration_min"):
        assert key in r.data.metrics, key
    assert any(k.startswith("train/rewards/") and k.endswith("/mean") for k in r.data.metrics)
    history = tracking.mlflow_api().MlflowClient().get_metric_history(r.info.run_id, "val/reward_mean")
    assert sorted(m.step for m in history) == [0, 2, 4]
    assert r.data.metrics["cost_usd"] > 0  # hourly_usd 1.0 x wall time

    job = json.loads((d / "out/job.json").read_text(encoding="utf-8"))
    assert "run_id" not in job and job["status"] == "Completed" and job["prompts_digest"]["train"]  # found by job_id
    assert job["grader_version"] == r.data.tags[contracts.GRADER_VERSION]

    again = run(d)  # same inputs: the Completed job is reported, not retrained
    assert again.job_id == state.job_id and again.run_id == state.run_id
    assert len(tracking.find_runs(contracts.JOB_ID, state.job_id)) == 1

    from typer.testing import CliRunner

    from rftlab.cli import app

    shown = CliRunner().invoke(app, ["job", "status", state.job_id[:16]])
    assert shown.exit_code == 0 and "Completed" in shown.output and state.run_id in shown.output
    listed = CliRunner().invoke(app, ["job", "list"])
    assert state.job_id in listed.output


def test_stop_request_ends_stopped_and_retry_resumes(in_project, monkeypatch):
    from rftlab.backends.local import callback as local_callback
    from rftlab.jobs.rft_stage import JobNotCompleted
    from rftlab.jobs.state import default_store

    d = in_project
    original = local_callback.JobCallback.on_step_end

    def stop_at_2(self, args, state, control, **kw):
        if state.global_step == 2:  # what `rftlab job stop` does from another process
            store = default_store()
            [s] = [s for s in store.all() if s.details["spec"]["seed"] == 2]
            store.save(s.update(status="Stopping"))
        original(self, args, state, control, **kw)

    monkeypatch.setattr(local_callback.JobCallback, "on_step_end", stop_at_2)
    with pytest.raises(JobNotCompleted, match="ended Stopped"):
        run(d, seed=2)
    with pytest.raises(JobNotCompleted, match="--retry"):
        run(d, seed=2)
    monkeypatch.setattr(local_callback.JobCallback, "on_step_end", original)
    done = run(d, seed=2, retry=True)
    assert done.status == "Completed" and done.details["result"]["steps"] == 4
    [r] = tracking.find_runs(contracts.JOB_ID, done.job_id)
    assert r.info.status == "FINISHED"


def test_interrupted_job_resumes_in_the_same_run(in_project, monkeypatch):
    from rftlab.backends.local import callback as local_callback

    d = in_project
    original = local_callback.JobCallback.on_step_end

    def interrupt_at_3(self, args, state, control, **kw):
        original(self, args, state, control, **kw)
        if state.global_step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(local_callback.JobCallback, "on_step_end", interrupt_at_3)
    with pytest.raises(KeyboardInterrupt):
        run(d, seed=1)
    from rftlab.jobs.state import default_store

    [state] = [s for s in default_store().all() if s.details["spec"]["seed"] == 1]
    assert state.status == "InProgress" and state.details["interrupted"]
    [killed] = tracking.find_runs(contracts.JOB_ID, state.job_id)
    assert killed.info.status == "KILLED"

    # a hard kill leaves the run RUNNING: simulate it, then rerun
    tracking.mlflow_api().MlflowClient().update_run(killed.info.run_id, status="RUNNING")
    monkeypatch.setattr(local_callback.JobCallback, "on_step_end", original)
    done = run(d, seed=1)
    assert done.status == "Completed" and done.job_id == state.job_id and done.run_id == killed.info.run_id
    runs = tracking.find_runs(contracts.JOB_ID, state.job_id)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert done.details["result"]["steps"] == 4


def test_base_model_command_writes_the_same_bytes_twice_and_no_wall_time(tmp_path, monkeypatch):
    """Its report and weights are DVC outputs: a rerun reproduces them byte for byte (the training
    time goes to MLflow and the console only)."""
    from local_support import messages
    from typer.testing import CliRunner

    from rftlab.cli import app
    from rftlab.io import write_jsonl

    write_jsonl(tmp_path / "m.jsonl", messages())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"profile": {"author": "T"}, "base_model": {
        "vocab_size": 300, "d_model": 16, "n_layer": 1, "n_head": 2, "context": 32, "epochs": 1}}), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    got = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        result = CliRunner().invoke(app, ["base-model", "--messages", str(tmp_path / "m.jsonl"), "--out",
                                          str(out / "base"), "--metrics", str(out / "report.json"), "--no-track"])
        assert result.exit_code == 0, result.output
        assert " s) -> " in result.output  # the console still says how long it took
        got.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    report = json.loads(got[0][Path("report.json")])
    assert "train_seconds" not in report and report["parameters"] > 0
    assert got[0] == got[1]
