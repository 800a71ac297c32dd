"""`rftlab search` on the local backend: a 6-trial study on a tiny model, and a SIGKILLed search that a
rerun completes with exactly 6 jobs and 6 child runs (none duplicated, none left RUNNING), and the two
races a second worker could hit (a trial taken over while it is launched, a trial followed after it was told)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from local_support import build_project
from typer.testing import CliRunner

from rftlab import tracking
from rftlab.cli import app

pytestmark = pytest.mark.slow

SPACE = {"learningRate": {"low": 1e-4, "high": 3e-3, "log": True}, "trainingSamplePerPrompt": {"choices": [2, 4]}}
ARGS = ["search", "--train", "train.jsonl", "--val", "val.jsonl", "--grader", "grader.json", "--base-model", "base"]


def _project(tmp_path: Path, monkeypatch, **search) -> Path:
    d = build_project(tmp_path, {"tracking": {"experiment": f"search-{uuid.uuid4().hex[:8]}"},
                                 "search": {"trials": 6, "poll_s": 0.3, "space": SPACE, **search}})
    monkeypatch.chdir(d)
    monkeypatch.setenv("RFTLAB_PARAMS", str(d / "params.yaml"))
    monkeypatch.setenv("RFTLAB_JOBS_DIR", str(d / "jobs"))
    return d


def _study(d: Path):
    import optuna

    storage = f"sqlite:///{d / 'data' / 'search' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def _children(d: Path) -> tuple[object, list]:
    experiment = yaml.safe_load((d / "params.yaml").read_text())["tracking"]["experiment"]
    (search,) = [r for r in tracking.runs_of_kind("search", experiment=experiment)]
    jobs = [r for r in tracking.runs_of_kind("rft-job", experiment=experiment)]
    return search, jobs


def _jobs_on_disk(d: Path) -> list[Path]:
    return sorted((d / "jobs").glob("*.json"))


def test_six_trial_local_search_logs_parent_and_children(tmp_path, monkeypatch):
    d = _project(tmp_path, monkeypatch, pruner="none")
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert "best trial" in result.stdout and "learningRate=" in result.stdout

    study = _study(d)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 6 and "RUNNING" not in states
    specs = {t.user_attrs["spec_hash"] for t in study.trials}
    assert len(specs) == 6 == len(_jobs_on_disk(d))  # one job per trial, each a different spec

    search, jobs = _children(d)
    assert search.info.status == "FINISHED" and search.data.metrics["trials_complete"] == 6
    assert len(jobs) == 6 and all(r.info.status == "FINISHED" for r in jobs)
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {search.info.run_id}
    assert sorted(int(r.data.tags["rftlab.trial"]) for r in jobs) == list(range(6))
    assert search.data.tags["best.learningRate"] == repr(study.best_params["learningRate"]) or \
        float(search.data.tags["best.learningRate"]) == pytest.approx(study.best_params["learningRate"])

    best = yaml.safe_load((d / "reports/search/best.yaml").read_text())
    assert best["rft"]["local"]["hyperparameters"] == study.best_params
    assert best["search"]["reproduce"].startswith("dvc exp run -S rft.backend=local")
    assert (d / "reports/search/optimization_history.png").exists()

    experiment = yaml.safe_load((d / "params.yaml").read_text())["tracking"]["experiment"]
    shown = CliRunner().invoke(app, ["compare", "--search", study.study_name, "--experiment", experiment])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("rft-local-") == 6 and "trial_state" in shown.stdout

    again = CliRunner().invoke(app, ARGS)  # the study is full: nothing new is launched
    assert again.exit_code == 0 and len(_jobs_on_disk(d)) == 6 and len(_study(d).trials) == 6


def test_sigkill_then_rerun_completes_with_exactly_six_jobs(tmp_path, monkeypatch):
    d = _project(tmp_path, monkeypatch, pruner="none")
    env = {**os.environ}
    proc = subprocess.Popen([sys.executable, "-m", "rftlab", *ARGS], cwd=d, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:  # kill it while trial 2 or later is training
            if (d / "data/search/optuna.db").exists():
                try:
                    if sum(t.state.name == "COMPLETE" for t in _study(d).trials) >= 2:
                        break
                except Exception:  # the study is being created
                    pass
            time.sleep(0.5)
        else:
            pytest.fail("the search made no progress in 300 s")
        time.sleep(1.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the search and its training child, no clean-up
        proc.wait()

    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    study = _study(d)
    finished = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(finished) == 6 and not [t for t in study.trials if t.state.name == "RUNNING"]
    assert len({t.user_attrs["spec_hash"] for t in finished}) == 6
    assert len(_jobs_on_disk(d)) == 6  # the trial killed mid-training resumed its own job
    search, jobs = _children(d)
    assert len(jobs) == 6 and all(r.info.status == "FINISHED" for r in jobs)
    assert search.info.status == "FINISHED"
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {search.info.run_id}


def test_a_trial_being_launched_cannot_be_taken_over_by_another_worker(tmp_path, monkeypatch):
    """Between `ask` and its stored spec a trial is RUNNING with no spec; a second worker that took its
    lease then would fail it as orphaned (seen in CI with two workers on PostgreSQL). The launcher holds
    the trial's lease from before the trial exists."""
    import optuna

    from rftlab.studies.leases import Leases

    d = _project(tmp_path, monkeypatch, pruner="none", trials=2)
    storage = f"sqlite:///{d / 'data' / 'search' / 'optuna.db'}"
    real_ask = optuna.Study.ask
    taken_by_other = []

    def ask(study, *args, **kwargs):
        trial = real_ask(study, *args, **kwargs)
        other = Leases(storage)  # a worker on another host, as a second `rftlab search` would be
        taken_by_other.append(other.acquire(f"{study.study_name}/trial-{trial.number}", "elsewhere:1:x", 60))
        other.close()
        return trial

    monkeypatch.setattr(optuna.Study, "ask", ask)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert taken_by_other == [False, False]
    assert [t.state.name for t in _study(d).trials] == ["COMPLETE", "COMPLETE"]


def test_a_trial_told_by_another_worker_after_the_list_was_read_is_not_followed(tmp_path, monkeypatch):
    """A worker reads the running trials, then takes each one's lease. If the lease's previous holder told
    the trial in between, following the stale copy would write to a finished trial (CI's two-worker test
    died of UpdateFinishedTrialError). Here "another worker" fails trial 0 just before the follow pass
    takes its lease; the search must leave it alone and replace it."""
    import optuna

    from rftlab.search import runner
    from rftlab.studies.leases import Leases

    d = _project(tmp_path, monkeypatch, pruner="none", trials=1)
    storage = f"sqlite:///{d / 'data' / 'search' / 'optuna.db'}"
    real_acquire, real_follow = Leases.acquire, runner.follow
    told, followed_finished = [], []

    def acquire(self, name, owner, ttl):
        study_name, _, lease = name.rpartition("/")
        if lease.startswith("trial-") and not told:
            study = optuna.load_study(study_name=study_name, storage=storage)
            launched = [t for t in study.trials if t.state.name == "RUNNING" and "spec" in t.user_attrs]
            if launched:
                study.tell(launched[0].number, state=optuna.trial.TrialState.FAIL)
                told.append(launched[0].number)
        return real_acquire(self, name, owner, ttl)

    def follow(ctx, frozen):
        stored = optuna.load_study(study_name=ctx.study.study_name, storage=storage).trials[frozen.number]
        if stored.state.name != "RUNNING":
            followed_finished.append(frozen.number)
        return real_follow(ctx, frozen)

    monkeypatch.setattr(Leases, "acquire", acquire)
    monkeypatch.setattr(runner, "follow", follow)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert told == [0] and followed_finished == []
    assert [t.state.name for t in _study(d).trials] == ["FAIL", "COMPLETE"]
