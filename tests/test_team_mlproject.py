"""`mlflow run` entry points: one per DVC stage plus the search, typed parameters that override
params.yaml through `dvc exp run -S` (`keep` leaves the value), and the post-pipeline run check."""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import mlflow
import pytest
import yaml
from team_support import BIN, ROOT, clone

from rftlab import tracking
from rftlab.errors import ConfigError
from rftlab.tracking import project

MLPROJECT = yaml.safe_load((ROOT / "MLproject").read_text(encoding="utf-8"))
ENTRY = MLPROJECT["entry_points"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))


def _has_key(dotted: str) -> bool:
    node = PARAMS
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_dvc_stage_and_the_search_have_an_entry_point():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert set(stages) | {"main", "search"} <= set(ENTRY)


@pytest.mark.parametrize("stage", sorted(yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]))
def test_stage_parameters_are_typed_keep_by_default_and_name_real_params_keys(stage):
    entry = ENTRY[stage]
    command = entry["command"]
    assert command.startswith(f"python -m rftlab.tracking.project exp {stage}")
    pairs = dict(re.findall(r"(\S+)=\{(\w+)\}", command))  # params.yaml key -> MLproject parameter
    assert set(pairs.values()) == set(entry.get("parameters", {}))
    for key, name in pairs.items():
        spec = entry["parameters"][name]
        assert spec["type"] in {"int", "float", "string"} and spec["default"] == project.KEEP
        assert _has_key(key), f"{stage}: {key} is not a params.yaml key"


def test_overrides_skip_keep_and_refuse_bare_names():
    assert project.exp_run_command("calibrate", ["calibrate.trials=20", "calibrate.seed=keep"]) == [
        "dvc", "exp", "run", "calibrate", "-S", "calibrate.trials=20"]
    assert project.exp_run_command(None, []) == ["dvc", "exp", "run"]
    with pytest.raises(ConfigError, match="trials=20"):
        project.overrides(["trials=20"])


def _project_run(experiment: str, kinds: list[str], *, eval_metric: bool = True) -> str:
    mlflow.set_tracking_uri(tracking.tracking_uri())
    exp_id = tracking.setup(experiment)
    parent = mlflow.MlflowClient().create_run(exp_id, tags={"mlflow.project.entryPoint": "main"})
    os.environ["MLFLOW_RUN_ID"] = parent.info.run_id
    try:
        for kind in kinds:
            with tracking.stage_run(kind, experiment=experiment):
                if kind == "rft-job" and eval_metric:
                    tracking.log_metrics({project.EVAL_METRIC: 0.8})
    finally:
        os.environ.pop("MLFLOW_RUN_ID", None)
    mlflow.MlflowClient().set_terminated(parent.info.run_id, "FINISHED")
    return parent.info.run_id


def test_pipeline_check_names_missing_stage_runs_and_a_missing_evaluation():
    experiment = f"mlproject-{uuid.uuid4().hex[:8]}"
    kinds = [k for k in project.PIPELINE_KINDS if k != "prompts"]
    run_id = _project_run(experiment, kinds, eval_metric=False)
    report = project.pipeline_report(experiment)
    assert report["run_id"] == run_id
    assert project.check_pipeline(report) == [f"no prompts run under project run {run_id}",
                                              f"no rft-job run carries the evaluation ({project.EVAL_METRIC})"]
    _project_run(experiment, list(project.PIPELINE_KINDS))
    assert project.check_pipeline(project.pipeline_report(experiment)) == []


@pytest.mark.slow
def test_mlflow_run_stage_entry_point_overrides_params_yaml(tmp_path, monkeypatch):
    repo = clone(tmp_path / "repo")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(repo / "src"),
           "MLFLOW_TRACKING_URI": store}
    cmd = [str(BIN / "mlflow"), "run", ".", "-e", "ingest", "-P", "min_chars=5", "--env-manager", "local",
           "--experiment-name", "rftlab"]
    out = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))["ingest"]["min_chars"] == 5
    assert yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))["ingest"]["on_error"] == "fail"  # keep

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    (ingest,) = tracking.runs_of_kind("ingest", experiment="rftlab")
    parent = mlflow.MlflowClient().get_run(ingest.data.tags["mlflow.parentRunId"])
    assert parent.data.tags["mlflow.project.entryPoint"] == "ingest" and parent.info.status == "FINISHED"
    assert ingest.data.params["min_chars"] == "5" and ingest.info.status == "FINISHED"

    bad = subprocess.run([*cmd[:6], "min_chars=abc", *cmd[7:]], cwd=repo, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "ingest.min_chars" in bad.stdout + bad.stderr
