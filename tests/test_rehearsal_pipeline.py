"""The rehearsal end to end on a fresh clone, and the `rftlab rehearse` command's surface.

The end-to-end test clones this repository's HEAD (found from this file), runs the local
stages up to prompts/check/base_model on a small sample, then the Bedrock path (rft -> deploy
-> evaluate) through `dvc exp run --temp` against moto and the stand-in that this test starts
and stops. It checks what a paid run must produce in MLflow, then forces the rft stage again
and checks that no second job reached the stand-in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rftlab import contracts

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def rftlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "rftlab"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rehearse_help_reads_cleanly(tmp_path):
    out = rftlab("rehearse", "--help", cwd=tmp_path)
    assert out.returncode == 0 and "rft -> deploy -> evaluate" in " ".join(out.stdout.split())
    assert "servers" in out.stdout and "--keep-servers" in out.stdout


def test_rehearse_without_a_grader_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "params.yaml").write_text("tracking: {experiment: x}\n", encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")
    out = rftlab("rehearse", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "data/grader/grader.json" in out.stderr


def _clone(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["sample"]["messages"] = 1500       # about 300 training prompts: Bedrock RFT needs at least 100
    params["calibrate"]["trials"] = 4
    params["base_model"]["epochs"] = 1
    params["evaluate"]["max_prompts"] = 8
    params["check"]["attack"].update({"budget": 50, "seeds": [0]})  # the full red team runs in CI's own pipeline
    (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return repo


@pytest.mark.slow
def test_rehearsal_end_to_end_on_a_fresh_clone(tmp_path, monkeypatch):
    """Needs the lead's Bedrock fixes in HEAD: AWS metric names -> train/val reward_mean, the inference
    profile for the base model in Converse, and the deploy stage in dvc.yaml."""
    from rftlab import tracking
    from rftlab.backends.bedrock.rehearsal import pipeline, servers

    repo = _clone(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(repo / "src"))  # stages run the clone's code
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{repo / 'mlflow.db'}")
    monkeypatch.chdir(repo)
    subprocess.run([str(BIN / "dvc"), "repro", "--quiet", "check", "base_model"], cwd=repo, check=True)

    # the image is packaged by the clone's own code, so its deployment version is the one the stages compute
    subprocess.run([str(BIN / "rftlab"), "grader", "package", "--out", str(tmp_path / "image")], cwd=repo, check=True)
    manifest = json.loads((tmp_path / "image/manifest.json").read_text(encoding="utf-8"))
    tag = manifest.get("deployment_version") or manifest["grader_version"]
    extra = {"rft.bedrock.build_context": tmp_path / "image"}
    before = {name: (repo / name).read_bytes() for name in ("params.yaml", "dvc.lock")}
    from rftlab.backends.bedrock.rehearsal.seed import policy_for
    from rftlab.config import load_params

    params = load_params(repo / "params.yaml")
    with servers.running(workdir=tmp_path / "work", context=tmp_path / "image", image_tag=tag,
                         model_dir=repo / "data/models/base",
                         caller_policy=lambda settings: policy_for(settings, params)) as r:  # IAM enforced
        outcome = pipeline.run(repo, r, extra=extra)
        again = pipeline.run(repo, r, targets=("rft",), force=True, single=True, extra=extra)
        jobs = r.standin.jobs()
        denials = list(r.enforcer.denials)

    assert denials == []  # every stage ran as a caller holding exactly the generated policy
    assert len(jobs) == 1 and jobs[0]["status"] == "Completed"
    assert again.run_id == outcome.run_id
    runs = [run for run in tracking.runs_of_kind("rft-job", experiment=pipeline.EXPERIMENT)
            if run.data.tags.get(contracts.BACKEND) == "bedrock"]
    assert len(runs) == 1 and runs[0].info.run_id == outcome.run_id
    run = runs[0]
    assert run.data.tags[contracts.JOB_ID] == jobs[0]["jobArn"]
    assert run.data.tags[contracts.GRADER_VERSION] == json.loads(
        (repo / "data/grader/grader.json").read_text(encoding="utf-8"))["version"]
    assert len(tracking.metric_history(run.info.run_id, "train/reward_mean")) >= 2
    assert tracking.metric_history(run.info.run_id, "val/reward_mean")
    assert run.data.metrics["cost_estimate_usd"] > 0
    assert 0.0 <= run.data.metrics["eval/tuned_mean"] <= 1.0
    for kind in ("calibration", "grader-check", "base-model"):  # the stages before rft were not rerun
        assert not tracking.runs_of_kind(kind, experiment=pipeline.EXPERIMENT)
    assert {name: (repo / name).read_bytes() for name in before} == before  # the workspace is untouched
    assert not (repo / "data/rft").exists()
