"""The whole pipeline of a fresh clone against team infrastructure on this machine: an `mlflow server`
(PostgreSQL backend store, served artifact store) on loopback, Optuna studies in PostgreSQL, and
DVC remotes (a local folder, and S3 through dvc-s3 against moto's S3 server). Required in CI;
skipped with a reason where PostgreSQL is absent."""

from __future__ import annotations

import json
import types

import pytest
from team_support import clone, create_database, drop_database, dvc, git, mlflow_server

from rftlab import contracts, tracking
from rftlab.tracking.project import PIPELINE_KINDS

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PRODUCTS = ("data/sample/slack-export.zip", "data/interim/messages.jsonl", "data/grader/style_profile.json",
            "data/grader/grader.json", "data/prompts/train.jsonl", "data/prompts/val.jsonl", "data/models/base",
            "data/rft/model", "data/rft/job.json")


@pytest.fixture(scope="module")
def served(postgres_url, tmp_path_factory):
    """`dvc repro` of a fresh clone with MLFLOW_TRACKING_URI at a PostgreSQL-backed server and both
    Optuna storages (calibration, search) in one PostgreSQL database; the server stops afterwards."""
    tmp = tmp_path_factory.mktemp("team")
    backend = create_database(postgres_url, "rftlab_mlflow")
    optuna_url = create_database(postgres_url, "rftlab_optuna")
    try:
        repo = clone(tmp / "repo", {"calibrate": {"storage": optuna_url}, "search": {"storage": optuna_url}})
        with mlflow_server(backend, tmp / "artifacts", tmp / "server.log") as url:
            dvc(repo, "repro", "--quiet", env={"MLFLOW_TRACKING_URI": url})
            git(repo, "commit", "--quiet", "-am", "pipeline outputs")  # dvc.lock, so clones can pull
            yield types.SimpleNamespace(repo=repo, url=url, artifacts=tmp / "artifacts", optuna=optuna_url, tmp=tmp)
    finally:
        drop_database(postgres_url, backend)
        drop_database(postgres_url, optuna_url)


@pytest.fixture
def on_server(served, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served.url)
    return served


def test_every_stage_run_reaches_the_server_finished_with_metrics_and_artifacts(on_server):
    import mlflow

    client = mlflow.MlflowClient(on_server.url)
    runs = {kind: tracking.runs_of_kind(kind, experiment="rftlab") for kind in (*PIPELINE_KINDS, "calibration-trial")}
    for kind in PIPELINE_KINDS:
        assert len(runs[kind]) == 1 and runs[kind][0].info.status == "FINISHED", kind
    exp = client.get_experiment_by_name("rftlab")
    assert not client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    (calibration,) = runs["calibration"]
    assert len(runs["calibration-trial"]) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in runs["calibration-trial"]} == {calibration.info.run_id}

    (job,) = runs["rft-job"]
    assert len(tracking.metric_history(job.info.run_id, "train/reward_mean")) == 2
    assert 0.0 <= job.data.metrics["eval/tuned_mean"] <= 1.0  # the evaluate stage, on the job's run
    (check,) = runs["grader-check"]
    assert check.data.metrics  # the gate's figures
    for run in (job, check, calibration):  # served artifacts: mlflow-artifacts:/ in the run, files on the server side
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        listed = client.list_artifacts(run.info.run_id)
        assert listed, run.data.tags[contracts.KIND]
        name = next(a.path for a in listed if not a.is_dir) if any(not a.is_dir for a in listed) else None
        if name:
            got = tracking.download_artifact(run.info.run_id, name, on_server.tmp / "dl" / run.info.run_id)
            assert got is not None and got.exists()
    assert list((on_server.artifacts).rglob("*"))
    assert not (on_server.repo / "mlflow.db").exists() and not (on_server.repo / "mlruns").exists()


def test_the_registered_grader_and_its_champion_alias_live_on_the_server(on_server):
    grader = json.loads((on_server.repo / "data/grader/grader.json").read_text(encoding="utf-8"))
    champion = tracking.model_version_by_alias("rftlab-grader", "champion")
    assert champion is not None and champion.tags[contracts.GRADER_VERSION] == grader["version"]
    model = tracking.load_pyfunc("models:/rftlab-grader@champion")
    assert model is not None


def test_calibration_study_lives_in_postgres_not_beside_the_bundle(on_server):
    import optuna

    studies = optuna.get_all_study_summaries(storage=on_server.optuna)
    assert [s.n_trials for s in studies] == [4]
    assert not (on_server.repo / "data/grader/optuna.db").exists()


def _round_trip(served, name: str, remote: list[list[str]]):
    """Push every data product to a remote, pull it into a fresh clone: nothing left to reproduce."""
    for args in remote:
        dvc(served.repo, "remote", *args)
    dvc(served.repo, "push", "-r", name)
    fresh = served.tmp / f"fresh-{name}"
    git(served.tmp, "clone", "--quiet", str(served.repo), str(fresh))
    for args in remote:
        dvc(fresh, "remote", *args)
    dvc(fresh, "pull", "-r", name)
    for product in PRODUCTS:
        a, b = served.repo / product, fresh / product
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file()) if a.is_dir() else [None]
        for f in files:
            assert (b / f if f else b).read_bytes() == (a / f if f else a).read_bytes(), product
    assert "Data and pipelines are up to date." in dvc(fresh, "status")
    out = dvc(fresh, "repro")
    assert "Data and pipelines are up to date." in out and "Running stage" not in out
    return fresh


def test_dvc_local_remote_round_trip_leaves_nothing_to_reproduce(served):
    remote = served.tmp / "dvc-remote"
    _round_trip(served, "local", [["modify", "--local", "local", "url", str(remote)]])
    assert (remote / "files" / "md5").is_dir()


def test_dvc_s3_remote_round_trip_through_moto_server(served):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="team-dvc")
        _round_trip(served, "s3", [["add", "--local", "s3", "s3://team-dvc/rftlab"],
                                   ["modify", "--local", "s3", "endpointurl", endpoint]])
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="team-dvc", Prefix="rftlab/").get("Contents", [])]
        assert keys and all(k.startswith("rftlab/files/md5/") for k in keys)
    finally:
        server.stop()
