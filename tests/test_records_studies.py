"""Records of Optuna studies stay exact (issue 26): repeated `rftlab search` calls never log a summary
(metric, step) twice, and a study is its storage and its name: a sqlite and a PostgreSQL study of one
name get a search run each, and calibration runs say which one they belong to."""

from __future__ import annotations

import json
from collections import Counter

import optuna
import pytest
import yaml
from bedrock_support import ACCOUNT, REGION, write_params
from calibrate_support import AUTHOR, synth_messages

from rftlab import contracts

IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rftlab-grader:1"
SPACE = {"learningRate": {"low": 1e-5, "high": 1e-4, "log": True}}
DIST = {"learningRate": optuna.distributions.FloatDistribution(1e-5, 1e-4, log=True)}


def _params(project, storage: str, trials: int):
    from rftlab.config import parse_params

    data = yaml.safe_load(write_params(project, image_uri=IMAGE).read_text())
    data["tracking"]["experiment"] = f"records-studies-{project.name}"  # every call of a test: one experiment
    data["search"] = {"trials": trials, "poll_s": 0.01, "study_name": "shared", "storage": storage, "space": SPACE}
    (project / "params.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return parse_params(data)


def _finished(storage: str, *states: str) -> None:
    """Trials the study already holds, as earlier calls of the search left them (no job runs here)."""
    study = optuna.create_study(storage=storage, study_name="shared", direction="maximize", load_if_exists=True)
    for i, state in enumerate(states):
        study.add_trial(optuna.trial.create_trial(
            params={"learningRate": 2e-5 * (i + 1)}, distributions=DIST, state=optuna.trial.TrialState[state],
            value=0.5 + 0.1 * i if state == "COMPLETE" else None,
            user_attrs={"cost_usd": 1.5, "duration_min": 2.0, "steps": 8}))


def _search(params, project) -> dict:
    from rftlab.search.runner import run_search

    return run_search(params, train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json", out_dir=project / "reports/search", echo=lambda m: None)


def _rows(run_id: str) -> Counter:
    """(metric, step) -> how many rows the run holds."""
    from rftlab import tracking

    keys = tracking.get_run(run_id).data.metrics
    return Counter((key, step) for key in keys for step, _ in tracking.metric_history(run_id, key))


def test_repeated_search_calls_log_each_summary_step_once(project):
    storage = f"sqlite:///{project / 'optuna.db'}"
    _finished(storage, "COMPLETE", "COMPLETE")
    params = _params(project, storage, trials=2)
    figures = [_search(params, project) for _ in range(3)]  # the study is full: nothing runs, three summaries
    run_id = figures[0]["run_id"]
    assert {f["run_id"] for f in figures} == {run_id}
    rows = _rows(run_id)
    assert rows and max(rows.values()) == 1, [k for k, n in rows.items() if n > 1]
    assert {step for _, step in rows} == {2}  # at step = trials finished
    assert len(rows) == 9  # trials_complete|pruned|fail|running, spent, committed, training min|steps, best

    _finished(storage, "PRUNED")  # the study moved on: the next call logs one more step
    again = _search(_params(project, storage, trials=3), project)
    rows = _rows(again["run_id"])
    assert max(rows.values()) == 1 and {step for _, step in rows} == {2, 3}
    from rftlab import tracking

    assert tracking.metric_history(run_id, "trials_pruned") == [(2, 0.0), (3, 1.0)]
    assert tracking.get_run(run_id).data.metrics["spent_usd"] == pytest.approx(4.5)


def test_a_search_run_from_before_study_keys_is_adopted_only_for_its_own_storage(project):
    from rftlab import tracking
    from rftlab.search.report import ensure_search_run
    from rftlab.studies.urls import redact, study_key

    mine, other = f"sqlite:///{project / 'optuna.db'}", f"sqlite:///{project / 'elsewhere.db'}"
    _params(project, mine, trials=1)  # the experiment
    with tracking.stage_run("search", run_name="shared", params={"storage": redact(mine)},
                            tags={contracts.STUDY: "shared"}) as run:  # what the search recorded before keys
        legacy = run.info.run_id
    assert ensure_search_run(other, "shared", {"storage": redact(other)}) != legacy
    assert ensure_search_run(mine, "shared", {"storage": redact(mine)}) == legacy
    assert tracking.get_run(legacy).data.tags[contracts.STUDY_KEY] == study_key(mine, "shared")


def test_a_study_key_is_the_storage_and_the_name():
    from rftlab.studies.urls import study_key

    pg = "postgresql+psycopg2://alice:secret@DB.example:5432/optuna"
    assert study_key(pg, "s") == study_key("postgresql://bob@db.example/optuna", "s")  # driver, user, port
    assert study_key(pg, "s") != study_key(pg, "t")
    assert study_key(pg, "s") != study_key("postgresql://db.example/other", "s")
    assert study_key(pg, "s") != study_key("sqlite:///optuna", "s")


@pytest.mark.postgres
def test_a_sqlite_and_a_postgresql_study_of_one_name_get_a_search_run_each(project, fresh_database):
    from rftlab import tracking

    lite = f"sqlite:///{project / 'optuna.db'}"
    _finished(lite, "COMPLETE", "COMPLETE")
    _finished(fresh_database, "FAIL", "COMPLETE")
    on_lite = _search(_params(project, lite, trials=2), project)
    on_pg = _search(_params(project, fresh_database, trials=1), project)
    assert on_lite["run_id"] != on_pg["run_id"]
    for figures, complete, fail in ((on_lite, 2, 0), (on_pg, 1, 1)):
        metrics = tracking.get_run(figures["run_id"]).data.metrics
        assert (metrics["trials_complete"], metrics["trials_fail"]) == (complete, fail)
    assert _search(_params(project, lite, trials=2), project)["run_id"] == on_lite["run_id"]
    keys = {tracking.get_run(f["run_id"]).data.tags[contracts.STUDY_KEY] for f in (on_lite, on_pg)}
    assert len(keys) == 2


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    params = {"tracking": {"experiment": f"records-studies-{tmp_path.name}", "register_models": False},
              "calibrate": {"trials": 2, "folds": 3, "seed": 0}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    (tmp_path / "messages.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_messages()), encoding="utf-8")
    from rftlab.io import write_json
    from rftlab.style.profile import build_profile

    write_json(tmp_path / "profile.json", build_profile(synth_messages(), AUTHOR))
    return tmp_path


@pytest.mark.postgres
def test_calibration_runs_of_same_named_studies_in_two_storages_are_told_apart(workspace, fresh_database):
    from rftlab import tracking
    from rftlab.calibrate import calibrate_stage
    from rftlab.studies.urls import study_key

    lite = f"sqlite:///{workspace / 'optuna.db'}"
    for storage in (lite, fresh_database):
        calibrate_stage.run(workspace / "messages.jsonl", AUTHOR, workspace / "profile.json", workspace / "grader.json",
                  trials=2, folds=3, storage=storage, study_name="shared", register=False)
    for storage in (lite, fresh_database):
        runs = tracking.find_runs(contracts.STUDY_KEY, study_key(storage, "shared"))
        kinds = Counter(r.data.tags[contracts.KIND] for r in runs)
        assert kinds == {"calibration": 1, "calibration-trial": 2}, (storage, kinds)
