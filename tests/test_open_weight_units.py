"""Open-weight pieces against recorded/documented answers: events -> metrics, status and failures over HTTP,
routing of base model ids per API, and the inference path.

The HTTP answers are written here from the documented shapes (the gpt-oss notebook's metrics event, the
fine-tuning job object with `status` / `error` / `fine_tuned_model` / `created_at` / `finished_at`, the
checkpoint object, a chat completion) and served on 127.0.0.1 to the real `openai` client.
"""

from __future__ import annotations

import pytest
from open_weight_support import NOTEBOOK_METRICS_EVENT, Scripted

from rftlab.errors import InputError

JOB = "ftjob-abc123"


def test_the_notebooks_metrics_event_maps_onto_the_stable_names():
    from rftlab.backends.bedrock.open_weight.events import metric_rows, total_steps

    message = {"id": "ftevent-1", "created_at": 1771442000, "level": "info", "message": "Validating training file",
               "object": "fine_tuning.job.event", "type": "message", "data": {}}
    rows = metric_rows([message, NOTEBOOK_METRICS_EVENT])
    assert [step for step, _ in rows] == [4]
    values = rows[0][1]
    assert values["train/reward_mean"] == 0.4375 == values["bedrock/critic_rewards_mean"]
    assert values["train/completion_length"] == 519.09375 and values["train/entropy"] == values["bedrock/actor_entropy"]
    assert values["bedrock/actor_pg_loss"] == pytest.approx(0.10153239965438844)
    assert values["bedrock/critic_advantages_mean"] == pytest.approx(0.013622610829770563)
    assert not any(k.endswith(("/step", "total_steps")) for k in values)
    assert total_steps([message, NOTEBOOK_METRICS_EVENT]) == 67


def _job(status: str, **extra) -> dict:
    job = {"id": JOB, "object": "fine_tuning.job", "model": "qwen.qwen3-32b-v1:0", "created_at": 1771440000,
           "finished_at": None, "fine_tuned_model": None, "status": status, "training_file": "file-1",
           "validation_file": None, "error": None, "hyperparameters": {"n_epochs": 1, "batch_size": 4},
           "organization_id": "x", "result_files": [], "seed": 0, "trained_tokens": None}
    job.update(extra)
    return job


@pytest.fixture
def backend_for(tmp_path, monkeypatch):
    """An OpenWeightBackend whose client talks to a Scripted server with the given answers."""
    from rftlab.backends.bedrock.open_weight.backend import OpenWeightBackend
    from rftlab.config import parse_params
    from rftlab.jobs.state import JobState, StateStore

    servers = []
    monkeypatch.setenv("RFTLAB_TEST_KEY", "k")

    def make(answers, **rft_extra):
        server = Scripted(answers)
        servers.append(server)
        rft = parse_params({"rft": {"backend": "bedrock_open_weight", "bedrock_open_weight": {"endpoint": server.url,
                                                                     "api_key_env": "RFTLAB_TEST_KEY"},
                                    **rft_extra}}).rft
        b = OpenWeightBackend(rft, store=StateStore(tmp_path / "jobs"), echo=lambda m: None, track=False,
                          clock=lambda: 1771440000 + 600)
        state = b.store.save(JobState(job_id=JOB, spec_hash="h" * 64, backend="bedrock_open_weight"))
        return b, state, server

    yield make
    for s in servers:
        s.close()


@pytest.mark.parametrize(("api_status", "ours"), [
    ("validating_files", "InProgress"), ("queued", "InProgress"), ("running", "InProgress"),
    ("succeeded", "Completed"), ("failed", "Failed"), ("cancelled", "Stopped")])
def test_each_documented_status_maps_onto_the_shared_vocabulary(backend_for, api_status, ours):
    finished = {"finished_at": 1771440000 + 1200} if ours != "InProgress" else {}
    model = {"fine_tuned_model": "qwen.qwen3-32b-v1:0:ft:abc"} if api_status == "succeeded" else {}
    ckpt = {"object": "list", "data": [{"id": "ftckpt-1", "object": "fine_tuning.job.checkpoint",
                                        "created_at": 1771441000, "fine_tuned_model_checkpoint": "m:ckpt-1",
                                        "fine_tuning_job_id": JOB, "metrics": {"step": 10.0}, "step_number": 10}],
            "has_more": False}
    b, state, _ = backend_for({("GET", f"/v1/fine_tuning/jobs/{JOB}"): (200, _job(api_status, **finished, **model)),
                               ("GET", f"/v1/fine_tuning/jobs/{JOB}/checkpoints"): (200, ckpt),
                               ("GET", f"/v1/fine_tuning/jobs/{JOB}/events"): (200, {"object": "list", "data": [],
                                                                                     "has_more": False})})
    got = b.status(state)
    assert got.status == ours
    assert got.duration_min == (20.0 if finished else 10.0)
    if api_status == "succeeded":
        assert got.model_id == "qwen.qwen3-32b-v1:0:ft:abc"
        assert got.details["checkpoints"][0]["fine_tuned_model_checkpoint"] == "m:ckpt-1"


def test_a_failed_job_reports_the_error_object(backend_for):
    error = {"code": "invalid_training_file", "message": "Line 3: messages must end with a user turn",
             "param": "training_file"}
    b, state, _ = backend_for({("GET", f"/v1/fine_tuning/jobs/{JOB}"): (
        200, _job("failed", finished_at=1771440300, error=error))})
    got = b.status(state)
    assert got.status == "Failed"
    assert got.failure_message == ("invalid_training_file: Line 3: messages must end with a user turn "
                                   "(param training_file)")


def test_metrics_come_from_every_page_of_events(backend_for):
    later = {**NOTEBOOK_METRICS_EVENT, "id": "ftevent-5", "data": {**NOTEBOOK_METRICS_EVENT["data"], "step": 5,
                                                                    "critic_rewards_mean": 0.5}}
    b, state, server = backend_for({("GET", f"/v1/fine_tuning/jobs/{JOB}/events"): (
        200, {"object": "list", "data": [later, NOTEBOOK_METRICS_EVENT], "has_more": False})})
    assert [(s, v["train/reward_mean"]) for s, v in b.metrics(state)] == [(4, 0.4375), (5, 0.5)]
    assert server.requests[-1][1] == f"/v1/fine_tuning/jobs/{JOB}/events"


def test_api_errors_are_one_line_naming_the_call(backend_for):
    from rftlab.backends.bedrock.open_weight.api import ApiError

    b, state, _ = backend_for({("GET", f"/v1/fine_tuning/jobs/{JOB}"): (
        404, {"error": {"message": f"Fine-tuning job {JOB} not found", "type": "invalid_request_error"}})})
    with pytest.raises(ApiError) as err:
        b.status(state)
    assert str(err.value) == f"reading job {JOB}: HTTP 404: Fine-tuning job {JOB} not found"


def test_inference_goes_through_chat_completions_with_the_fine_tuned_model(backend_for):
    from rftlab.backends.bedrock.open_weight.inference import OpenWeightGenerator

    answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1771442000, "model": "m:ft",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "承知したでござる。"}}],
              "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}
    b, _, server = backend_for({("POST", "/v1/chat/completions"): (200, answer)})
    gen = OpenWeightGenerator("m:ft", b.o, api=b.api())
    out = gen.generate([[{"role": "user", "content": "明日どうする？"}]], n=2, temperature=0.7, max_tokens=64, seed=0)
    assert [c.text for c in out[0]] == ["承知したでござる。"] * 2 and out[0][0].completion_tokens == 9
    import json

    sent = json.loads(server.requests[-1][2])
    assert (sent["model"], sent["max_tokens"], sent["messages"]) == ("m:ft", 64, [{"role": "user", "content": "明日どうする？"}])


# ---------------------------------------------------------------------------- routing
def _spec(tmp_path, rft: dict, base_model: str | None = None):
    from open_weight_support import prompt_rows, write_jsonl

    from rftlab.config import parse_params
    from rftlab.jobs.spec import build_spec

    write_jsonl(tmp_path / "t.jsonl", prompt_rows(3))
    (tmp_path / "g.json").write_text("{}")
    return build_spec(parse_params({"rft": rft}).rft, train=str(tmp_path / "t.jsonl"), val=None,
                      grader=str(tmp_path / "g.json"), base_model=base_model)


@pytest.mark.parametrize(("rft", "backend", "model"), [
    ({"backend": "bedrock", "base_model": "qwen.qwen3-32b-v1:0"}, "bedrock_open_weight", "qwen.qwen3-32b-v1:0"),
    ({"backend": "bedrock", "base_model": "openai.gpt-oss-20b"}, "bedrock_open_weight", "openai.gpt-oss-20b"),
    ({"backend": "bedrock_open_weight", "base_model": "amazon.nova-2-lite-v1:0:256k"}, "bedrock", "amazon.nova-2-lite-v1:0:256k"),
    ({"backend": "bedrock_open_weight"}, "bedrock_open_weight", "openai.gpt-oss-20b"),
    ({"backend": "bedrock"}, "bedrock", "amazon.nova-2-lite-v1:0:256k"),
])
def test_rft_base_model_routes_to_its_api(tmp_path, rft, backend, model):
    spec = _spec(tmp_path, rft)
    assert (spec.backend, spec.base_model) == (backend, model)
    names = {"bedrock_open_weight": {"n_epochs", "batch_size", "learning_rate_multiplier"}}.get(backend, {"epochCount", "batchSize"})
    assert names <= set(spec.hyperparameters)


def test_an_id_neither_api_takes_is_refused_naming_the_ids_per_api(tmp_path):
    with pytest.raises(InputError) as err:
        _spec(tmp_path, {"backend": "bedrock", "base_model": "meta.llama3-1-8b-instruct-v1:0"})
    msg = str(err.value)
    assert msg.startswith("rft.base_model: meta.llama3-1-8b-instruct-v1:0 is not a base model of the bedrock backends")
    for model in ("amazon.nova-2-lite-v1:0:256k", "openai.gpt-oss-20b", "qwen.qwen3-32b-v1:0"):
        assert model in msg
    assert "\n" not in msg


def test_a_running_job_over_budget_is_cancelled(backend_for):
    """$61/hour (rft.prices) x 10 minutes is about $10: above a $5 budget, so the job is cancelled."""
    b, state, server = backend_for({("GET", f"/v1/fine_tuning/jobs/{JOB}"): (200, _job("running")),
                                    ("POST", f"/v1/fine_tuning/jobs/{JOB}/cancel"): (200, _job("running"))},
                                   budget_usd=5.0)
    got = b.status(state)
    assert ("POST", f"/v1/fine_tuning/jobs/{JOB}/cancel") in [(m, p) for m, p, _ in server.requests]
    assert got.status == "Stopping" and got.details["stopped_for_budget"] and got.cost_usd > 5.0


def test_open_weight_estimates_use_their_own_price_or_say_they_reuse_novas(tmp_path):
    from rftlab.backends.bedrock.open_weight.launch import training_rate
    from rftlab.config.params import Params

    rft = Params().rft
    prices, source = training_rate(rft)
    assert prices.training_usd_per_hour == rft.prices.training_usd_per_hour and "NOT an open-weight price" in source
    own = rft.with_section("bedrock_open_weight", rft.section("bedrock_open_weight").model_copy(update={"usd_per_hour": 12.5}))
    prices, source = training_rate(own)
    assert prices.training_usd_per_hour == 12.5 and "rft.bedrock_open_weight.usd_per_hour" in source
