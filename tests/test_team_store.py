"""Runs and artifacts follow the store: a relative sqlite path is the project's, artifacts sit beside
the database file, and `dvc exp run --temp` writes to the repository's store, never into its copy."""

from __future__ import annotations

import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest
from team_support import dvc, git

from rftlab import tracking
from rftlab.tracking import store


def _project(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "params.yaml").write_text("tracking:\n  experiment: team-store\n", encoding="utf-8")
    return d


def test_relative_sqlite_path_is_read_against_the_project_not_the_cwd(tmp_path, monkeypatch):
    root = _project(tmp_path / "proj")
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///runs/mlflow.db")
    assert tracking.tracking_uri() == f"sqlite:///{(root / 'runs/mlflow.db').resolve().as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"  # servers and absolute paths pass unchanged


def test_a_dvc_temp_experiment_copy_resolves_to_the_repository(tmp_path, monkeypatch):
    repo = _project(tmp_path / "repo")
    copy = _project(repo / ".dvc" / "tmp" / "exps" / "standalone" / "tmpab12cd")
    monkeypatch.chdir(copy)
    assert store.workspace_root() == repo.resolve()
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking.tracking_uri() == f"sqlite:///{(repo / 'mlflow.db').resolve().as_posix()}"


def test_artifacts_of_a_new_experiment_sit_beside_the_sqlite_file(tmp_path, monkeypatch):
    _project(tmp_path / "work")
    monkeypatch.chdir(tmp_path / "work")
    db = tmp_path / "elsewhere" / "mlflow.db"
    db.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    with tracking.stage_run("ingest", experiment="team-store-beside") as run:
        tracking.log_text("hello", "notes/hello.txt")
    uri = tracking.get_run(run.info.run_id).info.artifact_uri
    assert uri.startswith((tmp_path / "elsewhere" / "mlruns").as_uri())
    assert list((tmp_path / "elsewhere" / "mlruns").rglob("hello.txt"))
    assert not (tmp_path / "work" / "mlruns").exists()


def test_an_experiment_created_elsewhere_is_named_in_a_warning(tmp_path, monkeypatch, caplog):
    import mlflow

    _project(tmp_path / "work")
    monkeypatch.chdir(tmp_path / "work")
    db = tmp_path / "db" / "mlflow.db"
    db.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.MlflowClient().create_experiment("team-store-old", artifact_location=str(tmp_path / "old-place"))
    with caplog.at_level("WARNING", logger="rftlab.tracking.store"):
        tracking.setup("team-store-old")
    assert str(tmp_path / "old-place") in caplog.text


STAGE = textwrap.dedent("""\
    from rftlab import tracking
    with tracking.stage_run("ingest", run_name="from-temp-exp") as run:
        tracking.log_text("x", "proof/temp.txt")
    open("out.txt", "w").write(run.info.run_id)
""")


@pytest.mark.slow
@pytest.mark.parametrize("env_uri", [None, "sqlite:///mlflow.db"], ids=["default-store", "relative-sqlite"])
def test_dvc_exp_run_temp_logs_into_the_repository_store(tmp_path, monkeypatch, env_uri):
    repo = _project(tmp_path / "repo")
    (repo / "stage.py").write_text(STAGE, encoding="utf-8")
    (repo / "dvc.yaml").write_text("stages:\n  s:\n    cmd: python stage.py\n    deps: [stage.py]\n"
                                   "    params: [tracking]\n    outs: [out.txt]\n", encoding="utf-8")
    (repo / ".gitignore").write_text("mlflow.db*\nmlruns/\n", encoding="utf-8")
    git(repo, "init", "--quiet")
    dvc(repo, "init", "--quiet")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "init")
    if env_uri is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI")
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    src = str(Path(tracking.__file__).resolve().parents[2])  # this checkout's rftlab
    dvc(repo, "exp", "run", "--temp", "--quiet", env={"PYTHONPATH": src})

    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))  # no second store inside the copy
    with sqlite3.connect(repo / "mlflow.db") as con:
        rows = con.execute("SELECT run_uuid, artifact_uri, status FROM runs WHERE name = 'from-temp-exp'").fetchall()
    assert len(rows) == 1 and rows[0][2] == "FINISHED"
    assert rows[0][1].startswith((repo / "mlruns").resolve().as_uri())
    assert list((repo / "mlruns").rglob("temp.txt"))
    shown = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert "mlflow.db" not in shown
