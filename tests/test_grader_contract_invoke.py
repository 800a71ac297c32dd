"""`rftlab invoke`: the handler's contract from the command line; unreadable input is one line
naming the problem (exit 2), never a traceback and never a made-up result."""

from __future__ import annotations

import json

import pytest
from grader_support import heldout, messages
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.grader.bundle import make_bundle, write_bundle
from rftlab.style.profile import build_profile

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("invoke") / "grader.json"
    write_bundle(path, make_bundle(build_profile(messages(), "U01CTO"), {}))
    return str(path)


def _sample(sid, text):
    return {"id": sid, "messages": [{"role": "user", "content": "どう?"}, {"role": "assistant", "content": text}]}


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: <stdin>: "), res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("raw,needles", [
    (b"\xff\xfe[]", ("not UTF-8", "0xff", "offset 0")),
    (b'[{"id": "a", "x": "\xe3\x81"}]', ("not UTF-8", "0xe3", "offset 19")),  # a cut-off character
    (b"{bad", ("invalid JSON at line 1",)),
    (('[{"id": ' + "7" * 5000 + ', "messages": []}]').encode(), ("number has more than 4300 digits",)),
    (b"[" * 100_000 + b"]" * 100_000, ("nested too deeply",)),
])
def test_unreadable_input_is_one_line_naming_the_problem(bundle, raw, needles):
    _one_line_error(runner.invoke(app, ["invoke", "--grader", bundle], input=raw), *needles)


@pytest.mark.parametrize("payload,kind", [
    ({"foo": [1]}, "an object without"), ({"trajectories": "[]"}, "an object without"), (None, "null"),
    (5, "a number"), ("hello", "a string"),
])
def test_a_payload_with_no_samples_is_refused_not_answered_with_a_made_up_id(bundle, payload, kind):
    res = runner.invoke(app, ["invoke", "--grader", bundle], input=json.dumps(payload))
    _one_line_error(res, "not a grader payload", "trajectories", kind)


def test_lists_and_the_trajectories_wrapper_are_answered(bundle):
    target, _ = heldout()
    batch = [_sample("a", target[0]), _sample("b", target[1])]
    res = runner.invoke(app, ["invoke", "--grader", bundle], input=json.dumps({"trajectories": batch}))
    assert res.exit_code == 0, res.output
    assert [r["id"] for r in json.loads(res.stdout)] == ["a", "b"]
    res = runner.invoke(app, ["invoke", "--grader", bundle], input="[]")
    assert res.exit_code == 0 and json.loads(res.stdout) == []


def test_odd_ids_and_roles_are_answered_not_raised(bundle):
    target, _ = heldout()
    batch = [{"id": 10**30, "messages": [{"role": {"x": 1}, "content": "hi"}, {"role": "assistant", "content": target[0]}]},
             {"id": "\ud800", "messages": [{"role": "nova_assistant", "content": target[1]}]},
             {"messages": [{"role": ["assistant"], "content": target[2]}]}]
    res = runner.invoke(app, ["invoke", "--grader", bundle], input=json.dumps(batch))  # \ud800 stays a JSON escape
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [r["id"] for r in out[:2]] == [str(10**30), "\ud800"] and out[2]["id"] not in {str(10**30), "\ud800"}
    assert out[0]["aggregate_reward_score"] > 0.5 and out[2]["metrics_list"][0]["name"] == "malformed_no_assistant_message"


def test_a_missing_payload_file_is_one_line(bundle, tmp_path):
    res = runner.invoke(app, ["invoke", "--grader", bundle, "--input", str(tmp_path / "none.json")])
    assert res.exit_code == 2 and "none.json: file not found" in res.output and "Traceback" not in res.output
