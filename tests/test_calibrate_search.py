"""rftlab calibrate: resumable seeded study, nested MLflow trials, bundle, Ctrl-C, PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import optuna
import pytest
import yaml
from calibrate_support import AUTHOR, synth_messages
from typer.testing import CliRunner

from rftlab.calibrate import calibrate_stage
from rftlab.calibrate import objective as objective_mod
from rftlab.cli import app


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    params = {"tracking": {"experiment": "test-calibrate", "register_models": False},
              "calibrate": {"trials": 6, "folds": 3, "seed": 0}, "check": {"folds": 3}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    msgs = tmp_path / "messages.jsonl"
    msgs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_messages()), encoding="utf-8")
    from rftlab.io import write_json
    from rftlab.style.profile import build_profile

    write_json(tmp_path / "profile.json", build_profile(synth_messages(), AUTHOR))
    return tmp_path


def _cli(ws: Path, *extra: str):
    return CliRunner().invoke(app, [
        "calibrate", "--messages", str(ws / "messages.jsonl"), "--author", AUTHOR,
        "--profile", str(ws / "profile.json"), "--out", str(ws / "grader" / "grader.json"),
        "--metrics", str(ws / "metrics.json"), "--plots", str(ws / "plots"), *extra,
    ])


def _study(ws: Path) -> optuna.Study:
    storage = f"sqlite:///{ws / 'grader' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def test_calibrate_writes_a_loadable_bundle_and_metrics(workspace):
    from rftlab.grader.bundle import load_grader

    result = _cli(workspace, "--trials", "5")
    assert result.exit_code == 0, result.output
    grader = load_grader(workspace / "grader" / "grader.json")
    assert grader.meta["calibration"]["trial"] >= 0
    metrics = json.loads((workspace / "metrics.json").read_text())
    assert metrics["trials"] == 5 and 0.5 < metrics["best_auc"] <= 1.0
    assert metrics["grader_version"] == grader.version
    assert (workspace / "plots" / "optimization_history.png").exists()
    assert list((workspace / "grader" / ".cache").glob("features-*.pkl")), "features cached beside the outputs"


def test_rerun_continues_the_study(workspace, monkeypatch):
    assert _cli(workspace, "--trials", "4").exit_code == 0
    first = [t.number for t in _study(workspace).trials]

    def no_tokenising(texts):
        raise AssertionError("features should come from the cache on a rerun")

    monkeypatch.setattr("rftlab.calibrate.cache.extract_all", no_tokenising)
    result = _cli(workspace, "--trials", "9")
    assert result.exit_code == 0, result.output
    numbers = [t.number for t in _study(workspace).trials]
    assert len(first) == 4 and len(numbers) == 9
    assert numbers == sorted(set(numbers)) and numbers[:4] == first
    assert json.loads((workspace / "metrics.json").read_text())["trials_run"] == 5
    # Reaching the target again runs nothing new.
    assert _cli(workspace, "--trials", "9").exit_code == 0
    assert len(_study(workspace).trials) == 9


def test_trials_are_child_runs_of_one_calibration_run(workspace):
    from rftlab import tracking

    assert _cli(workspace, "--trials", "4").exit_code == 0
    parents = tracking.runs_of_kind("calibration", experiment="test-calibrate")
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert "best.char" in parent.data.params and "best_auc" in parent.data.metrics
    children = [r for r in tracking.runs_of_kind("calibration-trial", experiment="test-calibrate")
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == [0, 1, 2, 3]
    assert all("auc" in r.data.metrics and "weights.char" in r.data.params for r in children)


def test_ctrl_c_keeps_finished_trials_and_kills_the_run(workspace, monkeypatch):
    from rftlab import tracking

    real = objective_mod.Objective.__call__
    calls = {"n": 0}

    def flaky(self, weights):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, weights)

    monkeypatch.setattr(objective_mod.Objective, "__call__", flaky)
    with pytest.raises(KeyboardInterrupt):
        calibrate_stage.run(workspace / "messages.jsonl", AUTHOR, workspace / "profile.json",
                  workspace / "grader" / "grader.json", trials=8, folds=3, register=False)
    run = tracking.runs_of_kind("calibration", experiment="test-calibrate")[0]
    assert run.info.status == "KILLED"
    done = [t for t in _study(workspace).trials if t.state.name == "COMPLETE"]
    assert len(done) == 3
    monkeypatch.setattr(objective_mod.Objective, "__call__", real)
    assert _cli(workspace, "--trials", "5").exit_code == 0
    numbers = [t.number for t in _study(workspace).trials]
    assert len(numbers) == len(set(numbers)) and len([t for t in _study(workspace).trials
                                                       if t.state.name == "COMPLETE"]) == 5


def test_bad_author_is_one_line_error(workspace):
    result = CliRunner().invoke(app, [
        "calibrate", "--messages", str(workspace / "messages.jsonl"), "--author", "UNOBODY",
        "--profile", str(workspace / "profile.json"), "--out", str(workspace / "g.json")])
    assert result.exit_code == 2
    assert "UNOBODY" in result.output and "Traceback" not in result.output
    assert not (workspace / "g.json").exists()


@pytest.mark.postgres
def test_postgresql_storage(workspace, postgres_url):
    name = f"test-calibrate-{uuid.uuid4().hex[:8]}"
    try:
        summary = calibrate_stage.run(workspace / "messages.jsonl", AUTHOR, workspace / "profile.json",
                            workspace / "grader" / "grader.json", trials=3, folds=3, storage=postgres_url,
                            study_name=name, register=False, track=False)
        assert summary["trials"] == 3
        summary = calibrate_stage.run(workspace / "messages.jsonl", AUTHOR, workspace / "profile.json",
                            workspace / "grader" / "grader.json", trials=5, folds=3, storage=postgres_url,
                            study_name=name, register=False, track=False)
        study = optuna.load_study(study_name=name, storage=postgres_url)
        assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
        assert not (workspace / "grader" / "optuna.db").exists()
    finally:
        try:
            optuna.delete_study(study_name=name, storage=postgres_url)
        except KeyError:
            pass


def test_champion_from_other_data_is_rescored_on_this_data():
    from rftlab.calibrate.champion import champion_objective

    tags = {"rftlab.heldout_digest": "old", "rftlab.cv_objective": "0.99", "rftlab.weights": '{"char": 1.0}'}
    seen = []

    def objective(weights):
        seen.append(weights)
        return type("E", (), {"value": 0.7})()

    score, basis = champion_objective(tags, "new", objective)
    assert score == 0.7 and seen == [{"char": 1.0}] and "re-scored" in basis
