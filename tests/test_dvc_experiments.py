"""DVC experiments compare, with the README's own commands, in a copy of the project whose PATH has
no .venv/bin: `.venv/bin/dvc repro`, a commit, `.venv/bin/dvc exp run -S ... -n lr3e-4`, then
`dvc exp show` and `dvc metrics diff` print numbers for main and the experiment (not `!`), `dvc
plots diff` overlays the reward curves of both, and MLflow names the job runs after what differs,
registers both tuned models and opens on the job view."""

from __future__ import annotations

import json
import os
import subprocess
import types
from pathlib import Path

import pytest
from pipeline_support import copy_project, git

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXP_RUN = ".venv/bin/dvc exp run -S rft.local.hyperparameters.learningRate=3e-4 -n lr3e-4"
REPRO = ".venv/bin/dvc repro"
SHOW = ".venv/bin/dvc exp show --only-changed --drop '.*/.*'"


def _sh(repo: Path, cmd: str, env: dict[str, str]) -> str:
    """A README command, pasted into a shell whose PATH has no .venv/bin."""
    out = subprocess.run(["/bin/sh", "-c", cmd], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"`{cmd}` exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    for cmd in (EXP_RUN, REPRO, SHOW):
        assert cmd.replace(".venv/bin/", "") in README.replace(".venv/bin/", ""), f"README no longer prints {cmd}"
    tmp = tmp_path_factory.mktemp("dvc-exp")
    repo = copy_project(tmp / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}", "COLUMNS": "200",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com"})
    _sh(repo, REPRO, env)
    git(repo, "add", "dvc.lock", "metrics", "plots")
    git(repo, "commit", "-qm", "pipeline outputs: dvc.lock, headline metrics, plot data")
    _sh(repo, EXP_RUN, env)
    return types.SimpleNamespace(repo=repo, env=env, store=env["MLFLOW_TRACKING_URI"])


def _numbers(block: dict) -> dict[str, float]:
    return {k: v for k, v in (block.get("data") or {}).items() if isinstance(v, int | float)}


def test_exp_show_prints_numbers_for_main_and_the_experiment(project):
    rows = json.loads(_sh(project.repo, ".venv/bin/dvc exp show --json", project.env))
    main = next(r for r in rows if r.get("name") == "main")
    exp = next(e["revs"][0] for e in main["experiments"] if e.get("name") == "lr3e-4")
    for rev in (main, exp):
        metrics = rev["data"]["metrics"]
        for stage in ("rft", "evaluate", "check", "ingest"):
            got = _numbers(metrics[f"metrics/{stage}.json"])
            assert got, (rev.get("name"), stage, metrics[f"metrics/{stage}.json"])
        assert "error" not in metrics["metrics/evaluate.json"]
    lr = lambda rev: rev["data"]["params"]["params.yaml"]["data"]["rft"]["local"]["hyperparameters"]["learningRate"]  # noqa: E731
    assert (lr(main), lr(exp)) == (0.001, 0.0003)
    table = _sh(project.repo, SHOW + " --no-pager", project.env)
    assert "lr3e-4" in table and "0.0003" in table and "!" not in table
    assert max(map(len, table.splitlines())) <= 200


def test_metrics_diff_compares_main_with_the_experiment(project):
    diff = json.loads(_sh(project.repo, ".venv/bin/dvc metrics diff main lr3e-4 --all --json", project.env))
    for stage in ("rft", "evaluate"):
        values = diff[f"metrics/{stage}.json"]
        assert values and all(isinstance(v["old"], int | float) and isinstance(v["new"], int | float)
                              for v in values.values()), values
    headline = json.loads((project.repo / "metrics" / "evaluate.json").read_text(encoding="utf-8"))
    assert set(headline) <= {"base_mean", "tuned_mean", "uplift_pct", "uplift_ci_low", "uplift_ci_high", "win_rate",
                             "prompts"}


def test_plots_diff_overlays_the_reward_curves_of_both(project):
    plots = json.loads(_sh(project.repo, ".venv/bin/dvc plots diff main lr3e-4 --json", project.env))["data"]
    (reward,) = plots["reward"]
    assert reward["revisions"] == ["main", "lr3e-4"]
    points = reward["content"]["data"]["values"]
    assert {p["rev"] for p in points} == {"main", "lr3e-4"}
    assert {p["filename"] for p in points} == {"train_reward.csv", "val_reward.csv"}


def test_mlflow_names_the_jobs_registers_their_models_and_opens_on_the_job_view(project, monkeypatch):
    import mlflow

    client = mlflow.MlflowClient(project.store)
    exp = client.get_experiment_by_name("rftlab")
    jobs = client.search_runs([exp.experiment_id], "tags.`rftlab.kind` = 'rft-job'")
    assert sorted(r.info.run_name for r in jobs) == ["lr3e-4: learningRate=0.0003", "main"]
    assert all("spec_hash" not in r.data.params and r.data.tags["rftlab.spec_hash"] for r in jobs)
    first = client.search_runs([exp.experiment_id], "attributes.run_name = 'main'")[0]
    assert first.data.tags["rftlab.git_dirty"] == "false"  # a fresh clone's pipeline: dvc.lock does not count
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    state = json.loads(json.loads(exp.tags["mlflow.sharedViewState.rft-jobs"])["state"])
    assert "params.`hp.learningRate`" in state["selectedColumns"]
    versions = client.search_model_versions("name = 'rftlab-style'")
    assert {v.tags["rftlab.job_id"] for v in versions} == {r.data.tags["rftlab.job_id"] for r in jobs}
    assert client.get_model_version_by_alias("rftlab-style", "best").tags.get("rftlab.eval.uplift_pct")
    (comparison,) = client.search_runs([exp.experiment_id], "tags.`rftlab.kind` = 'comparison'")
    assert "compare/report.html" in [a.path for a in client.list_artifacts(comparison.info.run_id, "compare")]


def test_the_readme_comparison_commands_run_as_printed(project):
    for cmd in (".venv/bin/rftlab compare --report reports/compare.html", ".venv/bin/dvc metrics show"):
        assert cmd in README
    table = _sh(project.repo, ".venv/bin/rftlab compare --report reports/compare.html", project.env)
    assert "learningRate" in table and (project.repo / "reports" / "compare.html").exists()
    shown = _sh(project.repo, ".venv/bin/dvc metrics show", project.env)
    assert "metrics/evaluate.json" in shown and "!" not in shown


def test_make_clean_then_make_pipeline_rebuilds_the_record_from_dvc_s_cache(project):
    """Last in this module (it empties the workspace): DVC's cache outlives the MLflow store and the
    job states that `make clean` deletes; the rerun records every stage's lineage in the new store
    and a forced evaluation nests under the job's run there, instead of failing on a missing run."""
    import mlflow

    env = {k: v for k, v in project.env.items() if k != "MLFLOW_TRACKING_URI"}  # the project's own mlflow.db
    _sh(project.repo, "make clean", env)
    assert not (project.repo / "data" / "rft").exists() and not (project.repo / "mlflow.db").exists()
    _sh(project.repo, "make pipeline", env)
    _sh(project.repo, ".venv/bin/dvc repro -f -s evaluate", env)
    client = mlflow.MlflowClient(f"sqlite:///{project.repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("rftlab")
    runs = client.search_runs([exp.experiment_id])
    assert runs and not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    kinds = {r.data.tags.get("rftlab.kind") for r in runs}
    assert {"ingest", "calibration", "rft-job", "evaluation"} <= kinds, kinds
    (evaluation,) = [r for r in runs if r.data.tags.get("rftlab.kind") == "evaluation"
                     and not r.data.tags.get("rftlab.superseded_by")]  # the forced rerun replaced the first
    job = client.get_run(evaluation.data.tags["mlflow.parentRunId"])
    assert job.data.tags["rftlab.kind"] == "rft-job" and job.info.status == "FINISHED"
    assert job.data.tags["rftlab.job_id"] == json.loads((project.repo / "data/rft/job.json").read_text())["job_id"]
