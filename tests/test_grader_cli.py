"""CLI: rftlab profile / score / invoke / grader package, and the registry round trip."""

from __future__ import annotations

import json

import pytest
from grader_support import heldout, messages
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.cli import app
from rftlab.grader import registry
from rftlab.grader.bundle import load_grader, make_bundle, write_bundle
from rftlab.grader.handler import handle
from rftlab.io import read_json, write_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    write_jsonl(d / "messages.jsonl", messages())
    res = runner.invoke(app, ["profile", "--messages", str(d / "messages.jsonl"), "--author", "U01CTO",
                              "--out", str(d / "profile.json")])
    assert res.exit_code == 0, res.output
    write_bundle(d / "grader.json", make_bundle(read_json(d / "profile.json"), {}))
    return d


def test_profile_command_writes_profile_and_logs_a_run(files):
    p = read_json(files / "profile.json")
    assert p["author"] == "U01CTO" and p["counts"]["target_messages"] == 60
    runs = tracking.find_runs(contracts.KIND, "profile")
    assert runs and runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics["target_messages"] == 60.0
    assert runs[0].inputs.dataset_inputs  # the messages file as the run's input dataset


def test_profile_command_errors_are_one_line(files, tmp_path):
    res = runner.invoke(app, ["profile", "--messages", str(files / "messages.jsonl"), "--author", "NOBODY",
                              "--out", str(tmp_path / "p.json"), "--no-track"])
    assert res.exit_code == 2 and "no messages by --author 'NOBODY'" in res.output
    assert not (tmp_path / "p.json").exists()
    res = runner.invoke(app, ["profile", "--messages", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "p.json")])
    assert res.exit_code == 2 and "file not found" in res.output


@pytest.mark.parametrize("grader_file", ["grader.json", "profile.json"])
def test_score_reads_jsonl_and_keeps_order(files, grader_file):
    target, background = heldout()
    lines = [{"id": f"x{i}", "text": t} for i, t in enumerate([target[0], background[0], ""])]
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
    res = runner.invoke(app, ["score", "--grader", str(files / grader_file)], input=stdin)
    assert res.exit_code == 0, res.output
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert [o["id"] for o in out] == ["x0", "x1", "x2"]
    assert out[0]["score"] > out[1]["score"] and out[2]["score"] == 0.0
    assert set(out[0]) == {"id", "score", "components"}


def test_score_bad_line_names_the_line(files):
    res = runner.invoke(app, ["score", "--grader", str(files / "grader.json")], input='{"id": 1, "text": "a"}\nnope\n')
    assert res.exit_code == 2 and "<stdin>:2: invalid JSON" in res.output


def test_invoke_is_exactly_the_handler(files):
    target, _ = heldout()
    payload = [{"id": "1", "messages": [{"role": "user", "content": "どう?"}, {"role": "assistant", "content": target[0]}]},
               {"id": "2", "messages": "broken"}]
    res = runner.invoke(app, ["invoke", "--grader", str(files / "grader.json")], input=json.dumps(payload))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == json.loads(json.dumps(handle(payload, load_grader(files / "grader.json"))))
    res = runner.invoke(app, ["invoke", "--grader", str(files / "grader.json")], input="{bad")
    assert res.exit_code == 2 and "invalid JSON" in res.output


def test_package_command(files, tmp_path):
    res = runner.invoke(app, ["grader", "package", "--grader", str(files / "grader.json"), "--out", str(tmp_path / "ctx")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ctx" / "Dockerfile").exists() and (tmp_path / "ctx" / "manifest.json").exists()
    res = runner.invoke(app, ["grader", "package", "--grader", str(files / "grader.json"), "--out",
                              str(tmp_path / "z"), "--format", "zip"])
    assert res.exit_code == 2 and "250 MB" in res.output


@pytest.mark.parametrize("cmd", [["profile"], ["score"], ["invoke"], ["grader", "package"]])
def test_help(cmd):
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0 and ("--grader" in res.output or "--messages" in res.output)


def test_registry_registers_once_tags_version_and_sets_alias(files):
    import pandas as pd

    version = registry.register_grader(files / "grader.json")
    assert registry.register_grader(files / "grader.json") == version  # found again, not duplicated
    registry.set_alias(version, "champion")
    mv = tracking.model_version_by_alias(registry.MODEL_NAME, "champion")
    g = load_grader(files / "grader.json")
    assert str(mv.version) == version and mv.tags[contracts.GRADER_VERSION] == g.version
    model = tracking.load_pyfunc(f"models:/{registry.MODEL_NAME}@champion")
    target, background = heldout()
    out = model.predict(pd.DataFrame({"text": [target[0], background[0]]}))
    assert list(out.columns[:2]) == ["score", "char"]
    assert out["score"].iloc[0] == pytest.approx(g.score(target[0])[0])
