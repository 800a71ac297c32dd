"""Calibration under kills and concurrency, through the CLI in process groups: two workers on one
study sample different points, never log a trial twice and stop at the target together; a
SIGKILLed calibration leaves nothing RUNNING after the next one; the registry gets one version of
one bundle however many processes register it at once."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import optuna
import pytest
import yaml
from calibrate_support import AUTHOR, synth_messages
from records_support import KILL, finish, rows, start

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path):
    params = {"tracking": {"experiment": "records-calibrate"}, "calibrate": {"folds": 3, "seed": 0}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    msgs = tmp_path / "messages.jsonl"
    msgs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_messages()), encoding="utf-8")
    from rftlab.io import write_json
    from rftlab.style.profile import build_profile

    write_json(tmp_path / "profile.json", build_profile(synth_messages(), AUTHOR))
    return tmp_path


def _env(d, db):
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}", "RFTLAB_PARAMS": str(d / "params.yaml")}


def _calibrate(d, db, trials):
    # --out is the project's pipeline bundle (data/grader/grader.json): calibrate registers it
    return start(["calibrate", "--messages", "messages.jsonl", "--author", AUTHOR, "--profile", "profile.json",
                  "--out", "data/grader/grader.json", "--trials", str(trials)], d, _env(d, db))


def _study(d):
    storage = f"sqlite:///{d / 'data' / 'grader' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def _trial_runs(db):
    """optuna trial number of every calibration-trial run."""
    return [int(v) for (v,) in rows(db, "SELECT t.value FROM tags t JOIN tags k ON k.run_uuid = t.run_uuid AND "
                                        "k.key = 'rftlab.kind' AND k.value = 'calibration-trial' "
                                        "WHERE t.key = 'optuna.trial_number'")]


def _versions(db):
    return rows(db, "SELECT value, COUNT(*) FROM model_version_tags WHERE key = 'rftlab.grader_version' GROUP BY value")


def test_two_workers_on_one_study_split_the_target_and_log_each_trial_once(project, tmp_path):
    d, db = project, tmp_path / "mlflow.db"
    results = [finish(p) for p in [_calibrate(d, db, 60), _calibrate(d, db, 60)]]
    assert [rc for rc, _ in results] == [0, 0], results
    study = _study(d)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert 60 <= len(done) <= 66 and len(study.trials) == len(done)  # the target + the few each held unstored
    points = {json.dumps(t.params, sort_keys=True) for t in done}
    assert len(points) == len(done), "two workers sampled the same point"
    logged = _trial_runs(db)
    assert sorted(logged) == sorted(t.number for t in done), "a trial logged twice or a stored trial without its run"
    parents = rows(db, "SELECT r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                       "WHERE t.key = 'rftlab.kind' AND t.value = 'calibration'")
    assert sorted(parents) == [("FINISHED",), ("FINISHED",)]  # one run per worker (execution)

    # both at once again, nothing left to search: the same bundle registered by two processes is one version
    results = [finish(p) for p in [_calibrate(d, db, 60), _calibrate(d, db, 60)]]
    assert [rc for rc, _ in results] == [0, 0], results
    grader = json.loads((d / "data" / "grader" / "grader.json").read_text(encoding="utf-8"))
    assert dict(_versions(db))[grader["version"]] == 1


def test_a_sigkilled_calibration_leaves_nothing_running_after_the_next(project, tmp_path):
    d, db = project, tmp_path / "mlflow.db"
    proc = _calibrate(d, db, 5000)
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            logged = len(_trial_runs(db)) if db.exists() else 0
        except sqlite3.OperationalError:  # the store's tables are being created
            logged = 0
        if logged >= 20:
            os.killpg(proc.pid, KILL)
            break
        time.sleep(0.05)
    proc.wait()
    running = rows(db, "SELECT COUNT(*) FROM runs WHERE status = 'RUNNING'")[0][0]
    assert running >= 1  # the killed calibration's run (and maybe its trial in flight)
    killed_logged = len(_trial_runs(db))

    rc, out = finish(_calibrate(d, db, 30))
    assert rc == 0, out
    assert rows(db, "SELECT COUNT(*) FROM runs WHERE status = 'RUNNING'") == [(0,)]
    statuses = [s for (s,) in rows(db, "SELECT r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid WHERE "
                                       "t.key = 'rftlab.kind' AND t.value = 'calibration' ORDER BY r.start_time")]
    assert statuses == ["KILLED", "FINISHED"]
    assert killed_logged >= 20 and len(set(_trial_runs(db))) == len(_trial_runs(db))
