"""Kill a local job anywhere, run it again, run two at once: its MLflow record stays exact.

Through the CLI (`python -m rftlab rft`) in its own process group, on a tiny project (8 steps,
checkpoints every 4): every (metric, step) is logged once, durations add up across attempts, a
second attempt at the same job waits for the first, a second project sharing the store keeps its
own run, and data/rft/job.json carries no run id, absolute path or timing.
"""

from __future__ import annotations

import json
import shutil

import pytest
from local_support import build_project
from records_support import (
    INT,
    KILL,
    RFT,
    cli_env,
    finish,
    job_state,
    rows,
    rows_per_key_step,
    runs_of,
    signal_at_step,
    start,
    steps_of,
)

pytestmark = pytest.mark.slow

HP = {"batchSize": 4, "trainingSamplePerPrompt": 4, "learningRate": 1e-3, "inferenceMaxTokens": 8, "evalInterval": 4}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    d = tmp_path_factory.mktemp("records-template")
    return build_project(d, {"rft": {"local": {"max_steps": 8, "val_prompts": 4, "hourly_usd": 1.0,
                                                "hyperparameters": HP}}})


@pytest.fixture
def project(template, tmp_path):
    d = tmp_path / "project"
    shutil.copytree(template, d)
    data = (d / "params.yaml").read_text(encoding="utf-8").replace(str(template), str(d))
    (d / "params.yaml").write_text(data, encoding="utf-8")
    return d


def _one_job_run(db, jobs):
    st = job_state(jobs)
    runs = runs_of(db, "rftlab.job_id", st["job_id"], "rft-job")
    assert len(runs) == 1, runs
    return st, runs[0]


def _each_once(db, run_id):
    counts = rows_per_key_step(db, run_id)
    twice = {k: n for k, n in counts.items() if n > 1}
    assert not twice, f"(key, step) logged more than once: {twice}"
    assert steps_of(db, run_id, "train/reward_mean") == list(range(1, 9))
    assert steps_of(db, run_id, "val/reward_mean") == [0, 4, 8]


@pytest.mark.parametrize("sig", [INT, KILL], ids=["SIGINT", "SIGKILL"])
def test_a_job_signalled_mid_training_resumes_and_logs_every_step_once(project, sig):
    d, db, jobs = project, project / "mlflow.db", project / "jobs"
    env = cli_env(d, db)
    first = start(RFT, d, env)
    at = signal_at_step(first, jobs, 6, sig)
    rc, out = finish(first)
    assert rc != 0 and "Traceback" not in out, out
    st, (run_id, status) = _one_job_run(db, jobs)
    assert st["status"] == "InProgress"
    if sig == INT:  # the first signal ends the step, checkpoints it and stops: nothing will be replayed
        step = st["details"]["step"]
        assert status == "KILLED" and (jobs / st["spec_hash"] / "trainer" / f"checkpoint-{step}").is_dir()
    else:  # a hard kill leaves the run RUNNING; the next start ends or resumes it
        assert status == "RUNNING" and at >= 6
    spent = float(st["details"]["elapsed_s"])
    assert spent > 0  # saved at every step, so a hard kill loses at most one step's time

    rc, out = finish(start(RFT, d, env))
    assert rc == 0, out
    st, (again, status) = _one_job_run(db, jobs)
    assert again == run_id and status == "FINISHED" and st["status"] == "Completed"
    _each_once(db, run_id)
    if sig == KILL:  # resumed from checkpoint 4: steps 5.. were trained again but not logged again
        assert st["details"]["result"]["replayed"] > 0
    assert st["details"]["elapsed_s"] > spent  # durations add up across attempts
    [(duration,)] = rows(db, "SELECT value FROM metrics WHERE run_uuid = ? AND key = 'duration_min'", run_id)
    assert duration == pytest.approx(st["details"]["elapsed_s"] / 60, rel=1e-3)


def test_two_attempts_at_one_job_and_a_second_project_on_one_store(project, tmp_path):
    """Two `rftlab rft` in one project (one job state) and one in a copy of it (its own state), all at
    once on one MLflow store: the project's second attempt waits for the first; the copy is another
    execution with its own run; no run holds a (metric, step) twice."""
    d, db = project, tmp_path / "shared.db"
    other = tmp_path / "other"
    shutil.copytree(d, other)
    text = (other / "params.yaml").read_text(encoding="utf-8").replace(str(d), str(other))
    (other / "params.yaml").write_text(text, encoding="utf-8")  # its own base model, same bytes
    procs = [start(RFT, d, cli_env(d, db)), start(RFT, d, cli_env(d, db)), start(RFT, other, cli_env(other, db))]
    results = [finish(p) for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0], results
    assert sum("being trained by another process" in out for _, out in results[:2]) == 1
    st = job_state(d / "jobs")
    runs = runs_of(db, "rftlab.job_id", st["job_id"], "rft-job")
    assert len(runs) == 2 and {s for _, s in runs} == {"FINISHED"}
    executions = {rows(db, "SELECT value FROM tags WHERE run_uuid = ? AND key = 'rftlab.execution'", r)[0][0]
                  for r, _ in runs}
    assert executions == {st["details"]["execution"], job_state(other / "jobs")["details"]["execution"]}
    for run_id, _ in runs:
        _each_once(db, run_id)
    assert (d / "out" / "job.json").read_bytes() == (other / "out" / "job.json").read_bytes()


def test_job_record_has_no_run_id_path_or_timing_and_relinks_in_a_new_store(project, tmp_path):
    """data/rft/job.json is a function of the stage's inputs: rewritten against a new MLflow store
    (the job state from another store) it keeps its bytes, and the new store gets the job's run."""
    d = project
    rc, out = finish(start(RFT, d, cli_env(d, d / "mlflow.db")))
    assert rc == 0, out
    text = (d / "out" / "job.json").read_text(encoding="utf-8")
    record = json.loads(text)

    def strings(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield k
                yield from strings(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from strings(v)
        elif isinstance(obj, str):
            yield obj

    st = job_state(d / "jobs")
    assert st["run_id"] not in text and str(d) not in text and str(tmp_path) not in text
    assert not any(s.startswith("/") for s in strings(record))
    assert not {"run_id", "duration_min", "cost_usd", "elapsed_s"} & set(strings(record))
    assert record["model_path"] == "out/model" and record["curves"]["val/reward_mean"][0][0] == 0
    assert "duration_min" not in json.loads((d / "out" / "rft.json").read_text(encoding="utf-8"))

    new_db = tmp_path / "new-store.db"
    rc, out = finish(start(RFT, d, cli_env(d, new_db)))
    assert rc == 0, out
    assert (d / "out" / "job.json").read_text(encoding="utf-8") == text
    [(run_id, status)] = runs_of(new_db, "rftlab.job_id", record["job_id"], "rft-job")
    assert status == "FINISHED" and job_state(d / "jobs")["run_id"] == run_id
    _each_once(new_db, run_id)  # the whole history, replayed from the job's metrics.jsonl
