"""Stages DVC restores from its cache run no command; `python -m rftlab.tracking.restored dvc.lock`
(the last step of `make pipeline`) leaves a trace of each in the current MLflow store: the run the
stage logged, tagged with the stage's digest, or a light run with its DVC digests, params and
metrics. A second call adds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from rftlab import contracts, tracking
from rftlab.io import file_md5

EXPERIMENT = "records-lineage"


def _lock(d):
    def out(path, text):
        p = d / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return {"path": path, "hash": "md5", "md5": file_md5(p), "size": p.stat().st_size}

    export = out("data/sample/export.zip", "zip bytes")
    messages = out("data/interim/messages.jsonl", '{"id": "m1"}\n')
    job = out("data/rft/job.json", json.dumps({"job_id": "rft-local-0123456789ab", "backend": "local"}))
    stages = {
        "ingest": {"cmd": "rftlab ingest", "deps": [export], "params": {"params.yaml": {"ingest": {"min_chars": 2}}},
                   "outs": [messages, out("metrics/ingest.json", json.dumps({"kept": 10, "dropped": 2}))]},
        "rft": {"cmd": "rftlab rft", "deps": [messages], "params": {"params.yaml": {"rft": {"seed": 0}}},
                "outs": [job]},
        "evaluate": {"cmd": "rftlab evaluate", "deps": [job],
                     "outs": [out("metrics/evaluate.json", json.dumps({"eval/tuned_mean": 0.8, "job_id": "x"}))]},
    }
    (d / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}), encoding="utf-8")


def _restored(d):
    env = {**os.environ, "RFTLAB_PARAMS": str(d / "params.yaml")}
    out = subprocess.run([sys.executable, "-m", "rftlab.tracking.restored", "dvc.lock"], cwd=d, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_restored_stages_get_a_light_run_and_logged_ones_are_linked(tmp_path, monkeypatch):
    d = tmp_path
    (d / "params.yaml").write_text(yaml.safe_dump({"tracking": {"experiment": EXPERIMENT}}), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(d / "params.yaml"))
    _lock(d)
    with tracking.stage_run("ingest", run_name="ingest", deps={"export": d / "data/sample/export.zip"}) as run:
        ingest_run = run.info.run_id  # the stage really ran in this store

    printed = _restored(d)
    assert "stage ingest: run linked" in printed
    assert "stage rft: restored by DVC" in printed and "stage evaluate: restored by DVC" in printed
    ingest = tracking.get_run(ingest_run)
    assert ingest.data.tags["rftlab.dvc.stage"] == "ingest" and ingest.data.tags["rftlab.dvc.stage_md5"]
    assert ingest.data.tags["dvc.out.data/interim/messages.jsonl"] == file_md5(d / "data/interim/messages.jsonl")

    [job] = [r for r in tracking.find_runs(contracts.JOB_ID, "rft-local-0123456789ab", experiment=EXPERIMENT)
             if r.data.tags[contracts.KIND] == "rft-job"]
    assert job.data.tags["rftlab.restored"] == "true" and job.info.status == "FINISHED"
    assert job.data.tags["dvc.out.data/rft/job.json"] == file_md5(d / "data/rft/job.json")
    assert job.data.params["rft.seed"] == "0"
    [evaluation] = tracking.child_runs(job.info.run_id, "evaluation")
    assert evaluation.data.tags["rftlab.restored"] == "true" and evaluation.data.metrics["eval/tuned_mean"] == 0.8

    before = len(tracking.mlflow_api().search_runs(experiment_ids=[tracking.setup(EXPERIMENT)], output_format="list"))
    assert _restored(d) == ""  # every stage known: nothing printed, nothing recorded
    after = len(tracking.mlflow_api().search_runs(experiment_ids=[tracking.setup(EXPERIMENT)], output_format="list"))
    assert after == before
