"""rftlab grader check: a broken grader fails naming the threshold; a good one passes with plots."""

from __future__ import annotations

import json

import pytest
import yaml
from calibrate_support import AUTHOR
from calibrate_support import synth_messages as support_messages
from typer.testing import CliRunner

from rftlab.cli import app


def synth_messages(n: int = 150, seed: int = 1) -> list[dict]:
    return support_messages(n, seed, overlap=0.5, group_key="group", per_group=5)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    # the red team has its own tests (test_calibrate_attack.py): these graders are style-only and saturated
    params = {"tracking": {"experiment": "test-check"}, "check": {"folds": 3, "min_auc": 0.8, "attack": {"budget": 0}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    msgs = synth_messages()
    (tmp_path / "messages.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in msgs), encoding="utf-8")
    from rftlab.style.profile import build_profile

    return tmp_path, build_profile(msgs, AUTHOR)


def _bundle(path, profile, weights=None):
    from rftlab.grader.bundle import make_bundle, write_bundle

    write_bundle(path, make_bundle(profile, weights))
    return path


def _check(ws, grader, *extra):
    return CliRunner().invoke(app, [
        "grader", "check", "--grader", str(grader), "--messages", str(ws / "messages.jsonl"),
        "--metrics", str(ws / "check.json"), "--plots", str(ws / "plots"), *extra])


def test_zero_weights_fail_the_gate_naming_the_threshold(workspace):
    from rftlab.grader.scoring import DEFAULT_WEIGHTS

    ws, profile = workspace
    zero = {k: 0.0 for k in DEFAULT_WEIGHTS}
    result = _check(ws, _bundle(ws / "broken.json", profile, zero))
    assert result.exit_code == 1, result.output
    assert "heldout_auc 0.5000 < threshold 0.8" in result.output
    assert "group_spread" in result.output and "Traceback" not in result.output
    metrics = json.loads((ws / "check.json").read_text())
    assert metrics["passed"] is False and metrics["checks"]["heldout_auc"]["passed"] is False


def test_default_grader_passes_and_writes_dvc_plots(workspace):
    from rftlab import tracking

    ws, profile = workspace
    prompts = ws / "prompts.jsonl"
    refs = [m for m in synth_messages(60, seed=9) if m["user"] == AUTHOR]
    prompts.write_text("".join(json.dumps({"messages": [{"role": "user", "content": "進捗は？"}],
                                           "reference_answer": r["text"]}, ensure_ascii=False) + "\n"
                               for r in refs), encoding="utf-8")
    result = _check(ws, _bundle(ws / "grader.json", profile), "--prompts", str(prompts))
    assert result.exit_code == 0, result.output
    metrics = json.loads((ws / "check.json").read_text())
    assert metrics["passed"] and metrics["heldout_auc"] >= 0.8
    assert metrics["n_references"] == len(refs) and metrics["reference_top_decile"] >= 0.5
    roc = json.loads((ws / "plots" / "roc.json").read_text())
    assert roc[0] == {"fpr": 0.0, "tpr": 0.0, "threshold": 1.0} and roc[-1]["fpr"] == 1.0
    hist = json.loads((ws / "plots" / "scores.json").read_text())
    assert abs(sum(r["target"] for r in hist) - 1.0) < 1e-3 and "background" in hist[0]
    assert (ws / "plots" / "check.png").stat().st_size > 1000
    run = tracking.runs_of_kind("grader-check", experiment="test-check")[0]
    assert run.data.tags["rftlab.check_passed"] == "true" and run.info.status == "FINISHED"


def test_not_a_grader_is_one_line_error(workspace):
    ws, _ = workspace
    (ws / "junk.json").write_text("[1, 2]", encoding="utf-8")
    result = _check(ws, ws / "junk.json")
    assert result.exit_code == 2 and "junk.json" in result.output and "Traceback" not in result.output
