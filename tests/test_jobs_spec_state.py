"""Job spec hashing and the state store: the basis of "rerun finds its job, never duplicates"."""

from __future__ import annotations

import json

import pytest

from rftlab.backends.local.backend import LocalBackend
from rftlab.errors import InputError
from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState, StateStore


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "a"}]}\n', encoding="utf-8")
    (tmp_path / "val.jsonl").write_text('{"messages": [{"role": "user", "content": "b"}]}\n', encoding="utf-8")
    (tmp_path / "grader.json").write_text('{"version": "g-1"}', encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    return tmp_path


def make_spec(d, **kw) -> JobSpec:
    base = dict(backend="local", base_model=str(d / "model"), train_path=str(d / "train.jsonl"),
                val_path=str(d / "val.jsonl"), grader_path=str(d / "grader.json"),
                hyperparameters={"batchSize": 16, "learningRate": 1e-3}, seed=0, options={"beta": 0.04})
    base.update(kw)
    return JobSpec(**base)


def test_hash_is_stable_and_ignores_where_the_files_live(inputs, tmp_path_factory):
    a = make_spec(inputs)
    assert a.spec_hash() == make_spec(inputs).spec_hash()
    moved = tmp_path_factory.mktemp("moved")
    for name in ("train.jsonl", "val.jsonl", "grader.json"):
        (moved / name).write_bytes((inputs / name).read_bytes())
    (moved / "model").mkdir()
    (moved / "model" / "config.json").write_text("{}", encoding="utf-8")
    assert make_spec(moved).spec_hash() == a.spec_hash()
    assert a.job_id().startswith("rft-local-") and a.job_id()[10:] == a.spec_hash()[:12]


@pytest.mark.parametrize("change", [
    {"hyperparameters": {"batchSize": 32, "learningRate": 1e-3}},
    {"seed": 1},
    {"options": {"beta": 0.0}},
    {"backend": "bedrock"},
])
def test_hash_changes_with_any_setting(inputs, change):
    assert make_spec(inputs, **change).spec_hash() != make_spec(inputs).spec_hash()


@pytest.mark.parametrize("name", ["train.jsonl", "val.jsonl", "grader.json", "model/config.json"])
def test_hash_changes_with_input_bytes(inputs, name):
    before = make_spec(inputs).spec_hash()
    with open(inputs / name, "a", encoding="utf-8") as fh:
        fh.write(" ")
    assert make_spec(inputs).spec_hash() != before


def test_missing_input_is_a_clear_error(inputs):
    (inputs / "val.jsonl").unlink()
    with pytest.raises(InputError, match="val.jsonl: val input not found"):
        make_spec(inputs).spec_hash()


def test_store_round_trip_find_and_corrupt_file(tmp_path):
    store = StateStore(tmp_path / "jobs")
    assert store.load("abc") is None and store.all() == []
    s = store.save(JobState(job_id="rft-local-abc", spec_hash="abc" * 4, backend="local", run_id="r1"))
    assert store.load(s.spec_hash) == s
    assert store.find("rft-local-abc") == s and store.find("abcabc") == s
    later = store.save(s.update(status="Completed", model_id="m"))
    assert store.load(s.spec_hash).status == "Completed" and later.updated_at >= s.updated_at
    assert [p.name for p in (tmp_path / "jobs").iterdir()] == [f"{s.spec_hash}.json"]  # no temp files left
    store.path("bad").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="bad.json: corrupt job state"):
        store.load("bad")


def test_submit_twice_returns_the_same_job(inputs, tmp_path):
    backend = LocalBackend(None, store=StateStore(tmp_path / "jobs"))
    first = backend.submit(make_spec(inputs))
    backend.store.save(first.update(status="InProgress", run_id="run-1", details={**first.details, "step": 7}))
    again = backend.submit(make_spec(inputs))
    assert again.job_id == first.job_id and again.run_id == "run-1" and again.details["step"] == 7
    assert len(backend.store.all()) == 1
    other = backend.submit(make_spec(inputs, seed=3))
    assert other.job_id != first.job_id and len(backend.store.all()) == 2
    saved = json.loads(backend.store.path(first.spec_hash).read_text(encoding="utf-8"))
    assert saved["details"]["spec"]["seed"] == 0


def test_dead_process_marks_job_interrupted_not_running(inputs, tmp_path):
    backend = LocalBackend(None, store=StateStore(tmp_path / "jobs"))
    s = backend.submit(make_spec(inputs))
    backend.store.save(s.update(details={**s.details, "pid": 2**22 + 12345}))  # no such process
    fresh = backend.status(s)
    assert fresh.status == "InProgress" and fresh.details["interrupted"] and fresh.details["pid"] is None
    stopped = backend.stop(fresh)
    assert stopped.status == "Stopped" and backend.status(stopped).status == "Stopped"


def test_sigterm_is_handled_like_ctrl_c():
    import os
    import signal

    from rftlab.backends.local.run import Interrupts

    before = signal.getsignal(signal.SIGTERM)
    with Interrupts() as interrupts:
        with pytest.raises(KeyboardInterrupt):  # outside the training loop: at once
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.5) if hasattr(signal, "sigtimedwait") else None
        interrupts.graceful = True  # inside it: the first signal asks for a checkpointed stop
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.requested
        with pytest.raises(KeyboardInterrupt):  # a second one does not wait
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.5) if hasattr(signal, "sigtimedwait") else None
    assert signal.getsignal(signal.SIGTERM) is before
