"""`rftlab evaluate` end to end on tiny local models: one evaluation run nested under the job's run,
replaced (not appended to) by a re-evaluation; the job record carries no run id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.backends.local.generator import LocalGenerator
from rftlab.generation import plain_chat

CHARS = "abcdefghijklmnopqrstuvwxyz :\nござるですます。、?"


def _tiny_model(path: Path, seed: int) -> Path:
    """A 2-layer GPT-2 with a character tokenizer, saved like a Hugging Face folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2}
    for ch in CHARS:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=2, n_head=2,
                     eos_token_id=1, pad_token_id=0, bos_token_id=1)
    model = GPT2LMHeadModel(cfg)
    if seed:  # the "tuned" model: ござる embeddings scaled up (tied to the output layer)
        with torch.no_grad():
            for ch in "ござる":
                model.transformer.wte.weight[vocab[ch]] *= 3.0
    fast.save_pretrained(path)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return _tiny_model(root / "base", 0), _tiny_model(root / "tuned", 1)


class FakeGrader:
    """Scores the share of ござる characters; stands in for the grader bundle."""

    version = "g-test000001"

    def score(self, text, *, prompt=None, reference=None):
        share = sum(ch in "ござる" for ch in text) / max(1, len(text))
        return min(1.0, share * 3), {"ending": share, "length": min(1.0, len(text) / 20)}


@pytest.fixture
def fake_bundle(monkeypatch):
    """Score with a transparent stand-in so the expected numbers can be computed by hand."""
    monkeypatch.setattr("rftlab.evaluate.inputs.load_grader", lambda path: FakeGrader())


def test_local_generator_is_seeded_and_counts_tokens(models):
    base, _ = models
    gen = LocalGenerator(base)
    prompts = [[{"role": "user", "content": "abc"}], [{"role": "user", "content": "ござる?"}]]
    a = gen.generate(prompts, n=2, temperature=1.0, max_tokens=6, seed=5)
    b = gen.generate(prompts, n=2, temperature=1.0, max_tokens=6, seed=5)
    other = gen.generate(prompts, n=2, temperature=1.0, max_tokens=6, seed=6)
    assert a == b
    assert [len(row) for row in a] == [2, 2]
    assert a[0][0].prompt_tokens == len(plain_chat(prompts[0]))  # one token per character, no template
    assert all(0 <= x.completion_tokens <= 6 for row in a for x in row)
    assert gen.render(prompts[0]) == "user: abc\nassistant:"
    assert other != a  # the seed matters


def test_local_generator_rejects_a_non_model_folder(tmp_path):
    from rftlab.errors import InputError

    with pytest.raises(InputError, match="config.json"):
        LocalGenerator(tmp_path)


def _setup_job(tmp_path: Path, models, experiment: str, status: str = "Completed",
               grader_version: str = "g-test000001") -> tuple[Path, Path, str]:
    base, tuned = models
    params = tmp_path / "params.yaml"
    params.write_text(
        f"tracking: {{experiment: {experiment}}}\n"
        "evaluate: {samples_per_prompt: 2, max_tokens: 6, bootstrap: 100, seed: 1}\n", encoding="utf-8")
    val = tmp_path / "val.jsonl"
    rows = [{"id": f"p{i}", "messages": [{"role": "user", "content": q}], "reference_answer": "了解でござる"}
            for i, q in enumerate(["abc", "ござる?", "deploy", "review"])]
    val.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    grader = tmp_path / "grader.json"
    grader.write_text("{}", encoding="utf-8")
    with tracking.stage_run("rft-job", run_name="job-a", experiment=experiment,
                            tags={contracts.JOB_ID: "job-a", contracts.BACKEND: "local"},
                            params={"hyperparameters": {"learningRate": 1e-5}}) as run:
        for step, r in enumerate([0.2, 0.3, 0.45]):
            tracking.log_metrics({"train/reward_mean": r}, step=step)
        run_id = run.info.run_id
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "job_id": "job-a", "backend": "local", "status": status, "run_id": run_id,
        "base_model": str(base), "model_id": str(tuned), "grader_path": str(grader),
        "grader_version": grader_version, "cost_usd": 0.0,
    }), encoding="utf-8")
    return params, job, run_id


def _evaluate(tmp_path, job, out, plots, report=None):
    from rftlab.cli import app

    args = ["evaluate", "--job", str(job), "--val", str(tmp_path / "val.jsonl"), "--out", str(out), "--plots", str(plots)]
    return CliRunner().invoke(app, args + (["--report", str(report)] if report else []))


def _rows_per_step(run_id):
    """(key, step) -> how many rows the run holds (each must be 1)."""
    client = tracking.mlflow_api().MlflowClient()
    counts = {}
    for key in client.get_run(run_id).data.metrics:
        for m in client.get_metric_history(run_id, key):
            counts[(key, m.step)] = counts.get((key, m.step), 0) + 1
    return counts


def test_evaluate_cli_nests_an_evaluation_run_and_reevaluating_replaces_it(tmp_path, models, fake_bundle,
                                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)  # default output paths must land in tmp, never in the repo

    params, job, run_id = _setup_job(tmp_path, models, "eval-e2e")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    job_end = tracking.get_run(run_id).info.end_time
    out, plots = tmp_path / "metrics" / "evaluate.json", tmp_path / "plots" / "evaluate"
    report = tmp_path / "reports" / "evaluate.md"
    res = _evaluate(tmp_path, job, out, plots, report)
    assert res.exit_code == 0, res.output
    text = report.read_text(encoding="utf-8")
    assert "| uplift % |" in text and "| ending |" in text and "side by side" in text
    assert "](../plots/evaluate/score_hist.png)" in text and "](../plots/evaluate/reward_curve.png)" in text

    metrics = json.loads(out.read_text())
    assert "run_id" not in metrics and metrics["job_id"] == "job-a" and metrics["eval/prompts"] == 4
    assert run_id not in text  # DVC outputs name no run: they must not change with the store
    assert 0 <= metrics["eval/base_mean"] <= 1 and 0 <= metrics["eval/win_rate"] <= 1
    assert metrics["eval/base_prompt_tokens"] > 0 and metrics["eval/tokens_total"] > 0
    assert "eval/base/ending" in metrics and "eval/tuned/length" in metrics
    assert "eval/inference_cost_usd" not in metrics  # a local job's inference cost is wall time: MLflow only
    assert (plots / "score_hist.png").stat().st_size > 1000
    assert (plots / "reward_curve.png").exists()
    assert (plots / "per_prompt.csv").read_text().count("\n") == 5

    [first] = tracking.child_runs(run_id, "evaluation")
    assert first.info.run_id in res.output
    assert first.info.status == "FINISHED" and first.data.tags["mlflow.parentRunId"] == run_id
    assert first.data.tags[contracts.JOB_ID] == "job-a"
    assert first.data.metrics["eval/base_mean"] == pytest.approx(metrics["eval/base_mean"])
    assert "eval/inference_cost_usd" in first.data.metrics
    assert first.data.params["samples_per_prompt"] == "2" and first.data.params["val_md5"]
    from mlflow import MlflowClient

    names = {a.path for a in MlflowClient().list_artifacts(first.info.run_id, "evaluate")}
    assert {"evaluate/side_by_side.json", "evaluate/score_hist.png", "evaluate/reward_curve.png"} <= names
    table = json.loads(Path(tracking.download_artifact(first.info.run_id, "evaluate/side_by_side.json",
                                                       tmp_path / "dl")).read_text())
    assert set(table["columns"]) >= {"prompt", "reference", "base", "tuned", "base_score", "tuned_score"}
    assert len(table["data"]) == 8  # 4 prompts x 2 samples

    job_run = tracking.get_run(run_id)  # never reopened: status and end time stay the job's
    assert job_run.info.status == "FINISHED" and job_run.info.end_time == job_end
    assert job_run.data.tags[contracts.KIND] == "rft-job" and job_run.data.tags["rftlab.evaluated"] == "true"
    assert job_run.data.tags["rftlab.evaluation_run_id"] == first.info.run_id
    assert job_run.data.metrics["eval/uplift_pct"] == pytest.approx(metrics["eval/uplift_pct"])
    assert job_run.data.params["hyperparameters.learningRate"] == "1e-05"  # the job's own params intact

    # re-evaluating replaces: a second evaluation run, the first superseded, the job run pointing at the new one
    for _ in range(3):
        res = _evaluate(tmp_path, job, out, plots, report)
        assert res.exit_code == 0, res.output
        assert json.loads(out.read_text()) == metrics  # seeded: same numbers
    evaluations = tracking.child_runs(run_id, "evaluation")
    assert len(evaluations) == 4 and evaluations[-1].info.run_id == first.info.run_id
    latest = evaluations[0]
    assert all(e.data.tags.get("rftlab.superseded_by") for e in evaluations[1:])
    assert "rftlab.superseded_by" not in latest.data.tags
    job_run = tracking.get_run(run_id)
    assert job_run.data.tags["rftlab.evaluation_run_id"] == latest.info.run_id
    assert job_run.info.end_time == job_end and job_run.info.status == "FINISHED"
    for run in (job_run, *evaluations):  # every (metric, step) once: nothing appended twice
        assert set(_rows_per_step(run.info.run_id).values()) == {1}
    assert [s for s, _ in tracking.metric_history(run_id, "eval/tuned_mean")] == [0, 1, 2, 3]
    assert len(tracking.runs_of_kind("rft-job", experiment="eval-e2e")) == 1  # no duplicate job run


def test_evaluate_records_the_job_from_its_record_when_the_store_never_saw_it(tmp_path, models, fake_bundle,
                                                                              monkeypatch):
    """DVC restored job.json into a project whose MLflow store has no run of the job: the evaluation
    nests under a light `rft-job` run recorded from the record (curves, params), tagged restored."""
    monkeypatch.chdir(tmp_path)
    params, job, _ = _setup_job(tmp_path, models, "eval-restored")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    record = json.loads(job.read_text(encoding="utf-8"))
    record.update(job_id="job-from-cache", prompts_digest={"train": "a" * 32}, hyperparameters={"batchSize": 4},
                  curves={"train/reward_mean": [[1, 0.2], [2, 0.4]], "val/reward_mean": [[0, 0.1], [2, 0.3]]})
    record.pop("run_id")
    job.write_text(json.dumps(record), encoding="utf-8")
    res = _evaluate(tmp_path, job, tmp_path / "m.json", tmp_path / "p")
    assert res.exit_code == 0, res.output
    [restored] = [r for r in tracking.find_runs(contracts.JOB_ID, "job-from-cache")
                  if r.data.tags[contracts.KIND] == "rft-job"]
    assert restored.data.tags["rftlab.restored"] == "true" and restored.info.status == "FINISHED"
    assert restored.data.params["hp.batchSize"] == "4" and restored.data.params["prompts.train_md5"] == "a" * 32
    assert tracking.metric_history(restored.info.run_id, "val/reward_mean") == [(0, 0.1), (2, 0.3)]
    [evaluation] = tracking.child_runs(restored.info.run_id, "evaluation")
    assert tracking.get_run(restored.info.run_id).data.tags["rftlab.evaluation_run_id"] == evaluation.info.run_id


def test_evaluate_names_the_fixing_command_for_an_old_record_without_its_run(tmp_path, models, fake_bundle,
                                                                             monkeypatch):
    """An older job.json (run id, no curves) restored by DVC into a store without that run: one line
    naming the command that rewrites it, before any generation, and nothing written."""
    monkeypatch.chdir(tmp_path)
    params, job, _ = _setup_job(tmp_path, models, "eval-old-record")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    record = json.loads(job.read_text(encoding="utf-8"))
    record.update(job_id="job-old-format", run_id="4dbc" + "0" * 28)
    job.write_text(json.dumps(record), encoding="utf-8")
    out = tmp_path / "m.json"
    res = _evaluate(tmp_path, job, out, tmp_path / "p")
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "dvc repro -f rft" in lines[0] and "job-old-format" in lines[0]
    assert "Traceback" not in res.output and not out.exists()
    assert not tracking.find_runs(contracts.JOB_ID, "job-old-format")


def test_evaluate_refuses_another_grader_version(tmp_path, models, fake_bundle, monkeypatch):
    from rftlab.cli import app

    monkeypatch.chdir(tmp_path)  # default output paths must land in tmp, never in the repo

    params, job, run_id = _setup_job(tmp_path, models, "eval-version", grader_version="g-other")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    out = tmp_path / "m.json"
    res = CliRunner().invoke(app, ["evaluate", "--job", str(job), "--val", str(tmp_path / "val.jsonl"),
                                   "--out", str(out), "--plots", str(tmp_path / "p")])
    assert res.exit_code == 2
    assert "g-other" in res.output and "Traceback" not in res.output
    assert not out.exists()
    assert "rftlab.evaluated" not in tracking.get_run(run_id).data.tags
    assert not tracking.child_runs(run_id, "evaluation")


def test_evaluate_refuses_unfinished_job(tmp_path, models, fake_bundle, monkeypatch):
    from rftlab.cli import app

    monkeypatch.chdir(tmp_path)  # default output paths must land in tmp, never in the repo

    params, job, _ = _setup_job(tmp_path, models, "eval-status", status="InProgress")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    res = CliRunner().invoke(app, ["evaluate", "--job", str(job), "--val", str(tmp_path / "val.jsonl"),
                                   "--out", str(tmp_path / "m.json"), "--plots", str(tmp_path / "p")])
    assert res.exit_code == 2 and "InProgress" in res.output


def test_resume_run_keeps_kind_and_status_when_the_block_fails():
    with tracking.stage_run("rft-job", run_name="resume-me", experiment="eval-resume") as run:
        pass
    tracking.setup("eval-some-other-experiment")  # the active experiment is not the run's
    with pytest.raises(RuntimeError):
        with tracking.resume_run(run.info.run_id):
            tracking.log_metrics({"eval/base_mean": 0.5})
            raise RuntimeError("boom")
    got = tracking.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.tags[contracts.KIND] == "rft-job"
    assert got.data.metrics["eval/base_mean"] == 0.5
