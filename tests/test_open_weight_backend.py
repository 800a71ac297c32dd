"""The bedrock_open_weight backend through the CLI against an HTTP stand-in of Bedrock's OpenAI-compatible fine-tuning API.

Documented shapes checked (sources in tests/open_weight_support.py and src/rftlab/backends/bedrock/open_weight/launch.py): the
create request (`model`, `training_file`, `method.type = "reinforcement"`, `reinforcement.grader =
{"type": "lambda", "lambda": {"function": <ARN>}}`, hyperparameters `n_epochs`, `batch_size`,
`learning_rate_multiplier`: user guide fine-tuning-openai-job-create and AWS's gpt-oss/qwen notebooks),
uploads with purpose `fine-tune`, the grader payload of reward-functions-open-weight, metrics events with
`type == "metrics"` (the gpt-oss notebook), job status and `fine_tuned_model`, checkpoints, cancel.
"""

from __future__ import annotations

import json

import pytest
from open_weight_support import KEY_ENV, deployed, ow_project, standin  # noqa: F401 - fixtures
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.cli import app

runner = CliRunner()


def _rft(*args: str):
    return runner.invoke(app, ["rft", "--quiet", *args])


def _run(job_id: str):
    runs = tracking.find_runs(contracts.JOB_ID, job_id)
    assert len(runs) == 1, f"{len(runs)} runs for {job_id}"
    return runs[0]


def test_a_job_is_created_as_documented_followed_and_its_metrics_imported(ow_project):
    s, root = ow_project["standin"], ow_project["root"]
    result = _rft()
    assert result.exit_code == 0, result.output
    (job,) = s.state.jobs.values()
    body = job.body
    # the create request, as AWS documents it
    assert body["model"] == "openai.gpt-oss-20b"
    assert body["method"] == {"type": "reinforcement", "reinforcement": {
        "grader": {"type": "lambda", "lambda": {"function": "arn:aws:lambda:us-west-2:123456789012:function:rftlab-grader:7"}},
        "hyperparameters": {"n_epochs": 1, "batch_size": 4, "learning_rate_multiplier": 1.0}}}
    train = s.state.files[body["training_file"]]
    assert train["purpose"] == "fine-tune"
    assert s.state.contents[train["id"]] == (root / "data/prompts/train.jsonl").read_bytes()
    # the grader was deployed once, through the Nova path's deploy_grader, in the API's region
    assert ow_project["deployed"] == [{"grader_path": "data/grader/grader.json", "region": "us-west-2",
                                       "function": "rftlab-grader"}]
    record = json.loads((root / "data/rft/job.json").read_text())
    assert record["backend"] == "bedrock_open_weight" and record["status"] == "Completed"
    assert record["model_id"] == job.fine_tuned_model and record["base_model"] == "openai.gpt-oss-20b"
    assert record["grader_version"] == ow_project["grader_version"]

    run = _run(job.id)
    assert run.data.tags[contracts.BACKEND] == "bedrock_open_weight" and run.data.tags["rftlab.model_id"] == job.fine_tuned_model
    p = run.data.params
    assert (p["base_model"], p["hp.n_epochs"], p["hp.epochCount"], p["hp.batchSize"]) == ("openai.gpt-oss-20b", "1", "1", "4")
    assert p["hp.learning_rate_multiplier"] == "1.0" and p["grader_version"] == ow_project["grader_version"]
    # events -> stable names: each train/reward_mean is the event's critic_rewards_mean, which is the mean of
    # the grader's own aggregate_reward_scores for that step's batch
    events = sorted((e for e in job.events if e["type"] == "metrics"), key=lambda e: e["data"]["step"])
    history = dict(tracking.metric_history(run.info.run_id, "train/reward_mean"))
    assert sorted(history) == [e["data"]["step"] for e in events] == list(range(1, 7))
    steps = [answer for _, payload, answer in s.graded.calls if len(payload) == 3 * 4]
    for e, answer in zip(events, steps, strict=True):
        mean = sum(a["aggregate_reward_score"] for a in answer) / len(answer)
        assert history[e["data"]["step"]] == pytest.approx(e["data"]["critic_rewards_mean"]) == pytest.approx(mean)
    assert dict(tracking.metric_history(run.info.run_id, "bedrock/actor_pg_loss"))
    assert dict(tracking.metric_history(run.info.run_id, "train/completion_length"))
    # checkpoints and the resulting model are recorded with the run
    client = __import__("mlflow").tracking.MlflowClient()
    ckpt = json.loads(open(client.download_artifacts(run.info.run_id, "job/checkpoints.json")).read())
    assert ckpt["fine_tuned_model"] == job.fine_tuned_model
    assert [c["step_number"] for c in ckpt["checkpoints"]] == sorted(c["step_number"] for c in job.checkpoints)


def test_the_grader_gets_the_documented_open_weight_payload(ow_project):
    s = ow_project["standin"]
    assert _rft().exit_code == 0
    rows = {json.dumps(r["messages"], ensure_ascii=False): r for r in
            map(json.loads, (ow_project["root"] / "data/prompts/train.jsonl").read_text().splitlines())}
    samples = [x for _, payload, _ in s.graded.calls for x in payload]
    assert samples and len({x["id"] for x in samples}) == len(samples)
    for x in samples:
        assert x["messages"][-1]["role"] == "assistant" and isinstance(x["messages"][-1]["content"], str)
        rec = rows[json.dumps(x["messages"][:-1], ensure_ascii=False)]
        assert x["reference_answer"] == rec["reference_answer"]  # training record fields reach the grader
    assert all(0.0 <= a["aggregate_reward_score"] <= 1.0 for _, _, ans in s.graded.calls for a in ans)


def test_a_crash_after_create_finds_the_same_job_again(ow_project, monkeypatch):
    """The create call returned but the state was never saved: the rerun finds the job by its training file."""
    from rftlab.jobs.state import StateStore

    s = ow_project["standin"]
    real_save, crashed = StateStore.save, []

    def save_once_crashing(self, state):
        if not crashed and state.backend == "bedrock_open_weight":
            crashed.append(state.job_id)
            raise KeyboardInterrupt
        return real_save(self, state)

    monkeypatch.setattr(StateStore, "save", save_once_crashing)
    assert _rft().exit_code == 130  # interrupted right after the create call
    assert len(s.state.jobs) == 1 and crashed == [next(iter(s.state.jobs))]
    result = _rft()
    assert result.exit_code == 0, result.output
    assert "found the job created earlier" in result.output
    assert len(s.state.jobs) == 1 and len(s.state.files) == 2  # no second job, no second upload
    _run(crashed[0])


def test_a_rerun_follows_the_recorded_job_without_creating_another(ow_project):
    s = ow_project["standin"]
    assert _rft().exit_code == 0
    result = _rft()
    assert result.exit_code == 0 and "already exists" in result.output
    assert len(s.state.jobs) == 1
    _run(next(iter(s.state.jobs)))


def test_stop_cancels_the_job_and_it_ends_stopped(ow_project, monkeypatch):
    from rftlab.backends.bedrock.open_weight.backend import OpenWeightBackend
    from rftlab.config import load_params
    from rftlab.jobs.spec import build_spec

    s = ow_project["standin"]
    s.opts.step_seconds = 0.3
    backend = OpenWeightBackend(load_params().rft, echo=lambda m: None, sleep=lambda x: None)
    spec = build_spec(load_params().rft, train="data/prompts/train.jsonl", val="data/prompts/val.jsonl",
                      grader="data/grader/grader.json")
    state = backend.submit(spec)
    result = runner.invoke(app, ["job", "stop", state.job_id])
    assert result.exit_code == 0, result.output
    assert "Stopping" in result.output
    result = runner.invoke(app, ["job", "wait", state.job_id, "--quiet"])
    assert result.exit_code == 1 and "Stopped" in result.output
    assert s.state.jobs[state.job_id].status == "cancelled"
    assert _run(state.job_id).info.status == "KILLED"


@pytest.mark.parametrize(("change", "says"), [
    ({"fail": "validating_files:Training file has 3 malformed lines"}, "Training file has 3 malformed lines"),
    ({"fail": "running:GPU capacity unavailable"}, "GPU capacity unavailable"),
])
def test_a_failed_job_names_the_api_error(ow_project, change, says):
    s = ow_project["standin"]
    s.opts.fail = change["fail"]
    result = _rft()
    assert result.exit_code == 1
    assert says in result.output and "Traceback" not in result.output
    (job,) = s.state.jobs.values()
    assert job.status == "failed" and says in _run(job.id).data.tags["rftlab.failure_message"]


@pytest.mark.parametrize(("setup", "says"), [
    ("no_key", KEY_ENV),
    ("wrong_key", "HTTP 401"),
    ("few_records", "open-weight RFT needs 100 to 20,000"),
    ("nova_model", "CreateModelCustomizationJob"),
    ("bad_hp", "rft.bedrock_open_weight.hyperparameters.batch_size"),
])
def test_expected_failures_are_one_line_and_nothing_is_created(ow_project, monkeypatch, setup, says):
    import yaml
    from open_weight_support import prompt_rows, write_jsonl

    root, s = ow_project["root"], ow_project["standin"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    if setup == "no_key":
        monkeypatch.delenv(KEY_ENV)
    elif setup == "wrong_key":
        monkeypatch.setenv(KEY_ENV, "not-the-key")
    elif setup == "few_records":
        write_jsonl(root / "data/prompts/train.jsonl", prompt_rows(40))
    elif setup == "nova_model":
        params["rft"]["bedrock_open_weight"]["base_model_id"] = "amazon.nova-2-lite-v1:0:256k"
    elif setup == "bad_hp":
        params["rft"]["bedrock_open_weight"]["hyperparameters"] = {"batch_size": 0}
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = _rft()
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not s.state.jobs and not s.state.files
    if setup not in ("no_key", "wrong_key"):
        assert not ow_project["deployed"]  # refused before the grader was deployed


def test_deploy_records_the_fine_tuned_model_and_estimate_uses_the_open_weight_settings(ow_project):
    s, root = ow_project["standin"], ow_project["root"]
    assert _rft().exit_code == 0
    (job,) = s.state.jobs.values()
    result = runner.invoke(app, ["deploy", "--out", "data/rft/deployment.json"])
    assert result.exit_code == 0, result.output
    assert json.loads((root / "data/rft/deployment.json").read_text()) == {
        "job_id": job.id, "backend": "bedrock_open_weight", "model": job.fine_tuned_model}
    one = runner.invoke(app, ["job", "estimate"])
    params = root / "params.yaml"
    import yaml

    data = yaml.safe_load(params.read_text())
    data["rft"]["bedrock_open_weight"]["hyperparameters"] = {"n_epochs": 3}
    params.write_text(yaml.safe_dump(data), encoding="utf-8")
    three = runner.invoke(app, ["job", "estimate"])
    assert one.exit_code == three.exit_code == 0, one.output + three.output
    rollouts = [int(next(line for line in r.output.splitlines() if line.startswith("rollouts:")).split()[1]
                    .replace(",", "")) for r in (one, three)]
    assert rollouts == [120 * 4, 3 * 120 * 4] and "(estimate" in three.output


def test_retry_after_a_failure_launches_the_next_attempt_with_its_own_files(ow_project):
    s = ow_project["standin"]
    s.opts.fail = "running:GPU capacity unavailable"
    assert _rft().exit_code == 1
    s.opts.fail = None
    assert _rft().exit_code == 1  # without --retry the failed job is reported, not relaunched
    assert len(s.state.jobs) == 1
    result = _rft("--retry")
    assert result.exit_code == 0, result.output
    first, second = sorted(s.state.jobs.values(), key=lambda j: j.created_at)
    assert (first.status, second.status) == ("failed", "succeeded")
    names = [s.state.files[j.body["training_file"]]["filename"] for j in (first, second)]
    assert names[0].endswith("-train.jsonl") and names[1].endswith("-a1-train.jsonl")


def test_a_nova_job_and_an_open_weight_job_are_comparable_rows(ow_project, tmp_path):
    """Same prompts and grader: one table with base_model and the shared hp names as columns."""
    import types

    from rftlab.backends.bedrock import sync
    from rftlab.evaluate.compare import columns, job_row, load_rows
    from rftlab.jobs.state import JobState, StateStore

    assert _rft().exit_code == 0
    (ow,) = ow_project["standin"].state.jobs.values()
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-2-lite-v1:0:256k/cmp123456789"
    nova = JobState(job_id=arn, spec_hash="n" * 64, backend="bedrock", status="Completed", details={
        "job_name": "rftlab-rft-cmp", "base_model": "amazon.nova-2-lite-v1:0:256k",
        "grader_version": ow_project["grader_version"], "request": {"trainingDataConfig": {"s3Uri": "s3://b/t"}},
        "hyperparameters": {"epochCount": 1, "batchSize": 32, "learningRate": 5e-5}})
    backend = types.SimpleNamespace(store=StateStore(tmp_path / "jobs"),
                                    metric_sources=lambda s: {"train": [(1, {"train/reward_mean": 0.3})]})
    sync.record(backend, nova)
    table = [r for r in load_rows() if r["job"] in (arn, ow.id)]
    assert {r["backend"] for r in table} == {"bedrock", "bedrock_open_weight"}
    assert {r["grader_version"] for r in table} == {ow_project["grader_version"]}
    cols = columns(table)
    assert "base_model" in cols and "hp.batchSize" in cols
    assert {r["params"]["base_model"] for r in table} == {"amazon.nova-2-lite-v1:0:256k", "openai.gpt-oss-20b"}
    for r in table:
        assert tracking.metric_history(r["run_id"], "train/reward_mean")
    assert job_row(_run(ow.id))["backend"] == "bedrock_open_weight"
