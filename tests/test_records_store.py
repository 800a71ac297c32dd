"""Two processes, one store; a kill while writing to it. Through the CLI in process groups:
processes opening a fresh sqlite store at once all succeed and leave it usable (MLflow creates the
schema under rftlab's file lock), and an evaluation SIGKILLed while its run is open is ended KILLED
by the next command, the job run it evaluates never touched."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest
from calibrate_support import AUTHOR, synth_messages
from local_support import build_project
from records_support import KILL, finish, rows, start

pytestmark = pytest.mark.slow


def test_processes_opening_a_fresh_sqlite_store_at_once_all_succeed(tmp_path):
    msgs = tmp_path / "messages.jsonl"
    msgs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_messages(60)), encoding="utf-8")
    for attempt in range(3):
        db = tmp_path / f"fresh-{attempt}.db"
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}"}
        procs = [start(["profile", "--messages", str(msgs), "--author", AUTHOR, "--out", str(tmp_path / f"p{k}.json")],
                       tmp_path, env) for k in range(3)]
        results = [finish(p) for p in procs]
        assert [rc for rc, _ in results] == [0, 0, 0], results
        assert rows(db, "SELECT status, COUNT(*) FROM runs GROUP BY status") == [("FINISHED", 3)]
        assert not rows(db, "SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp%'")


def _job_record(d):
    from rftlab.grader.bundle import load_grader

    record = {"job_id": "rft-local-killme000001", "backend": "local", "status": "Completed",
              "spec_hash": "0" * 64, "base_model": "base", "model_id": "base", "model_path": "base",
              "grader_path": "grader.json", "grader_version": load_grader(d / "grader.json").version,
              "prompts_digest": {"train": "1" * 32}, "hyperparameters": {"batchSize": 4},
              "metrics": {"steps": 2.0}, "curves": {"train/reward_mean": [[1, 0.2], [2, 0.3]]}}
    (d / "job.json").write_text(json.dumps(record), encoding="utf-8")
    return record


def test_an_evaluation_killed_while_its_run_is_open_is_ended_by_the_next(tmp_path):
    d = build_project(tmp_path, {"evaluate": {"samples_per_prompt": 1, "max_tokens": 6, "max_prompts": 4,
                                              "bootstrap": 100}})
    record = _job_record(d)
    db = tmp_path / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}", "RFTLAB_PARAMS": str(d / "params.yaml")}
    args = ["evaluate", "--job", "job.json", "--deployment", "none.json", "--val", "val.jsonl",
            "--out", "out/evaluate.json", "--plots", "out/plots", "--report", "out/evaluate.md"]

    def evaluations():
        try:
            return rows(db, "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                            "WHERE t.key = 'rftlab.kind' AND t.value = 'evaluation' ORDER BY r.start_time")
        except sqlite3.OperationalError:  # the store's tables are being created
            return []

    killed = None
    for _ in range(4):  # the evaluation run is open for a moment only: catch it RUNNING, then SIGKILL the group
        proc = start(args, d, env)
        while proc.poll() is None and killed is None:
            if db.exists():
                running = [r for r, s in evaluations() if s == "RUNNING"]
                if running:
                    os.killpg(proc.pid, KILL)
                    killed = running[0]
            time.sleep(0.01)
        proc.wait()
        if killed:
            break
    assert killed, "never caught the evaluation run open"
    [(job_run, job_status)] = rows(db, "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = "
                                       "r.run_uuid WHERE t.key = 'rftlab.kind' AND t.value = 'rft-job'")
    assert job_status == "FINISHED"  # evaluate never reopens the job run

    rc, out = finish(start(args, d, env))
    assert rc == 0, out
    status = dict(evaluations())
    assert status[killed] == "KILLED" and "RUNNING" not in status.values()
    assert rows(db, "SELECT status FROM runs WHERE run_uuid = ?", job_run) == [("FINISHED",)]
    assert record["job_id"] in (d / "out" / "evaluate.json").read_text(encoding="utf-8")
