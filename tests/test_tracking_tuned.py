"""The tuned model of each job as an MLflow model: registered `rftlab-style`, one version per job,
loadable and replying (local), ARNs as metadata (Bedrock), alias `best` following the uplift."""

from __future__ import annotations

import pytest

from rftlab import contracts, plugins, tracking
from rftlab.tracking import tuned


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A store of its own: the registered model name is global to a store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("tracking:\n  experiment: tuned-test\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def model_dir(tmp_path):
    """A tiny untrained causal LM with the project's tokenizer and chat template."""
    from rftlab.backends.local.base_model import build_model
    from rftlab.backends.local.chat import train_tokenizer

    texts = ["デプロイの確認でござる。", "テストです。", "ログを見たよ。"] * 20
    tok = train_tokenizer(texts, 200)
    model = build_model(tok, d_model=16, n_layer=1, n_head=2, context=48, seed=0)
    out = tmp_path / "tuned"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _job_run(job_id: str) -> str:
    with tracking.stage_run("rft-job", run_name=job_id, tags={contracts.JOB_ID: job_id}) as run:
        return run.info.run_id


def test_a_local_job_becomes_a_registered_model_that_replies(store, model_dir):
    record = {"job_id": "rft-local-aaa", "backend": "local", "grader_version": "g-1", "base_model": "data/models/base",
              "spec_hash": "aaa", "hyperparameters": {"learningRate": 0.001, "batchSize": 4}}
    run_id = _job_run("rft-local-aaa")
    version = tuned.log_tuned_model(record, run_id=run_id, model_dir=model_dir)
    assert version.tags["rftlab.job_id"] == "rft-local-aaa" and version.tags["rftlab.grader_version"] == "g-1"
    assert version.tags["rftlab.base_model"] == "data/models/base" and version.run_id == run_id
    assert str(tuned.log_tuned_model(record, run_id=run_id, model_dir=model_dir).version) == str(version.version)

    assert tuned.record_evaluation("rft-local-aaa", {"eval/uplift_pct": 42.0, "eval/win_rate": 0.8}) == str(version.version)
    model = tracking.load_pyfunc(f"models:/{tuned.REGISTERED}@{tuned.BEST}")
    replies = model.predict(["デプロイは？", "テスト"], params={"max_new_tokens": 4})
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    import mlflow

    logged = mlflow.MlflowClient().get_logged_model(tuned.logged_model_id(version))
    assert logged.source_run_id == run_id and logged.tags["rftlab.eval.uplift_pct"] == "42.0"


def test_a_bedrock_job_carries_its_arns_and_best_follows_the_highest_uplift(store):
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-2-lite-v1:0:256k/abc"
    record = {"job_id": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/j1", "backend": "bedrock",
              "model_id": arn, "base_model": "amazon.nova-2-lite-v1:0:256k", "grader_version": "g-2"}
    first = tuned.log_tuned_model(record, run_id=_job_run("j1"), tags=plugins.backend("bedrock").model_tags(record))
    assert first.tags["rftlab.custom_model_arn"] == arn
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/dep1"
    tuned.record_deployment(first.tags["rftlab.job_id"], deployment)
    second = tuned.log_tuned_model({"job_id": "rft-local-bbb", "backend": "local", "grader_version": "g-2"},
                                   run_id=_job_run("rft-local-bbb"))  # no folder: metadata only
    tuned.record_evaluation(first.tags["rftlab.job_id"], {"eval/uplift_pct": 10.0})
    assert tuned.record_evaluation("rft-local-bbb", {"eval/uplift_pct": 5.0}) == str(first.version)
    assert tuned.record_evaluation(first.tags["rftlab.job_id"], {"eval/uplift_pct": 1.0}) == str(second.version)
    best = tracking.model_version_by_alias(tuned.REGISTERED, tuned.BEST)
    assert str(best.version) == str(second.version)
    again = tuned.version_of(first.tags["rftlab.job_id"])
    assert again.tags["rftlab.deployment_arn"] == deployment
