"""Two `rftlab search` workers started at once on one PostgreSQL-backed study: they share it, respect
max_concurrent together, and launch no job twice. Required in CI; skipped where PostgreSQL is absent."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from local_support import build_project

from rftlab import tracking

pytestmark = pytest.mark.slow

SPACE = {"learningRate": {"low": 1e-4, "high": 3e-3, "log": True}, "trainingSamplePerPrompt": {"choices": [2, 4]}}


def test_two_workers_share_one_study_without_duplicate_jobs(tmp_path, fresh_database, monkeypatch):
    import optuna

    experiment = f"search-workers-{uuid.uuid4().hex[:8]}"
    d = build_project(tmp_path, {"tracking": {"experiment": experiment},
                                 "search": {"trials": 4, "max_concurrent": 2, "poll_s": 0.3, "pruner": "none",
                                            "storage": fresh_database, "study_name": "shared", "space": SPACE}})
    env = {**os.environ, "RFTLAB_PARAMS": str(d / "params.yaml"), "RFTLAB_JOBS_DIR": str(d / "jobs")}
    tracking.setup(experiment)  # the MLflow store exists before two processes open it
    args = [sys.executable, "-m", "rftlab", "search", "--train", "train.jsonl", "--val", "val.jsonl",
            "--grader", "grader.json", "--base-model", "base"]
    workers = [subprocess.Popen(args, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=900)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n----\n".join(outputs)

    study = optuna.load_study(study_name="shared", storage=fresh_database)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 4 and len(study.trials) == 4  # no extra trial, none failed
    specs = [t.user_attrs["spec_hash"] for t in done]
    assert len(set(specs)) == 4 and len(list((d / "jobs").glob("*.json"))) == 4  # no job launched twice
    launched_by = [line for out in outputs for line in out.splitlines() if line.startswith("trial ") and "estimate" in line]
    assert len(launched_by) == 4  # each trial launched by exactly one worker
    events = sorted([(t.datetime_start, 1) for t in done] + [(t.datetime_complete, -1) for t in done])
    in_flight = peak = 0
    for _, delta in events:
        in_flight += delta
        peak = max(peak, in_flight)
    assert peak <= 2  # max_concurrent holds across both workers

    (search,) = tracking.runs_of_kind("search", experiment=experiment)
    jobs = tracking.runs_of_kind("rft-job", experiment=experiment)
    assert len(jobs) == 4 and {r.data.tags["mlflow.parentRunId"] for r in jobs} == {search.info.run_id}
    assert all(r.info.status == "FINISHED" for r in [search, *jobs])
