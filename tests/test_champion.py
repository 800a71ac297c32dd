"""The registry's `champion` is a grader that passed the gate: ad-hoc calibrations and gate failures never move it.

Each test has its own registered model name and a project folder (params.yaml) built here; the
pipeline bundle is <project>/data/grader/grader.json, as in dvc.yaml.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from calibrate_support import AUTHOR, synth_messages
from typer.testing import CliRunner

from rftlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
LENIENT = {"folds": 3, "min_auc": 0.6, "max_gaming_quantile": 1.0, "min_group_spread": 0.0}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder, a fresh registered-model name, and a zero-weight champion (v1) already in place."""
    from rftlab.grader import registry
    from rftlab.grader.bundle import make_bundle, write_bundle
    from rftlab.grader.scoring import DEFAULT_WEIGHTS
    from rftlab.io import write_json
    from rftlab.style.profile import build_profile

    def params(check: dict) -> None:
        data = {"tracking": {"experiment": "test-champion", "register_models": True},
                "calibrate": {"trials": 4, "folds": 3, "seed": 0}, "check": check}
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")

    params(LENIENT)
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    name = f"test-grader-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(registry, "MODEL_NAME", name)
    msgs = synth_messages()
    (tmp_path / "messages.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in msgs), encoding="utf-8")
    profile = build_profile(msgs, AUTHOR)
    write_json(tmp_path / "profile.json", profile)
    zero = {k: 0.0 for k in DEFAULT_WEIGHTS}
    write_bundle(tmp_path / "old" / "grader.json", make_bundle(profile, zero))
    first = registry.register_grader(tmp_path / "old" / "grader.json", model_name=name)
    registry.set_alias(first, "champion", model_name=name)
    from rftlab import tracking

    tracking.set_model_version_tags(name, first, {"rftlab.weights": json.dumps(zero)})
    return SimpleNamespace(root=tmp_path, name=name, first=str(first), params=params)


def calibrate(root: Path, out: Path):
    return CliRunner().invoke(app, [
        "calibrate", "--messages", str(root / "messages.jsonl"), "--author", AUTHOR,
        "--profile", str(root / "profile.json"), "--out", str(out)])


def check(root: Path, grader: Path):
    return CliRunner().invoke(app, ["grader", "check", "--grader", str(grader), "--messages", str(root / "messages.jsonl")])


def versions(name: str) -> dict[str, dict[str, str]]:
    import mlflow

    client = mlflow.MlflowClient()
    return {str(v.version): dict(v.tags) for v in client.search_model_versions(f"name = '{name}'")}


def champion(name: str) -> str:
    from rftlab import tracking

    return str(tracking.model_version_by_alias(name, "champion").version)


def test_dvc_pipeline_uses_the_bundle_path_the_registry_trusts():
    from rftlab.calibrate.champion import PIPELINE_BUNDLE

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert f"--out {PIPELINE_BUNDLE.as_posix()} " in stages["calibrate"]["cmd"] + " "
    assert f"--grader {PIPELINE_BUNDLE.as_posix()} " in stages["check"]["cmd"] + " "


def test_ad_hoc_calibration_leaves_the_registry_alone(project):
    scratch = project.root / "scratch" / "grader.json"
    res = calibrate(project.root, scratch)
    assert res.exit_code == 0, res.output
    assert scratch.exists() and "registered grader version" not in res.output
    assert champion(project.name) == project.first and list(versions(project.name)) == [project.first]
    res = check(project.root, scratch)  # even a passing gate does not promote a scratch bundle
    assert res.exit_code == 0, res.output
    assert champion(project.name) == project.first and list(versions(project.name)) == [project.first]


def test_a_pipeline_grader_that_fails_the_gate_is_not_promoted(project):
    bundle = project.root / "data" / "grader" / "grader.json"
    res = calibrate(project.root, bundle)
    assert res.exit_code == 0, res.output
    assert "registered without the champion alias" in res.output
    new = max(versions(project.name), key=int)
    assert new != project.first and versions(project.name)[new]["rftlab.gate"] == "pending"
    assert champion(project.name) == project.first  # calibrate registers, never promotes

    project.params({**LENIENT, "min_group_spread": 10.0})
    res = check(project.root, bundle)
    assert res.exit_code == 1 and "group_spread" in res.output
    assert "gate failed: not promoted" in res.output
    assert champion(project.name) == project.first and versions(project.name)[new]["rftlab.gate"] == "failed"


def test_a_pipeline_grader_that_passes_the_gate_becomes_champion(project):
    bundle = project.root / "data" / "grader" / "grader.json"
    assert calibrate(project.root, bundle).exit_code == 0
    new = max(versions(project.name), key=int)
    assert champion(project.name) == project.first

    res = check(project.root, bundle)
    assert res.exit_code == 0, res.output
    assert f"{project.name} v{new}: promoted to champion" in res.output
    assert champion(project.name) == new
    tags = versions(project.name)[new]
    assert tags["rftlab.gate"] == "passed" and float(tags["rftlab.check_objective"]) > 0.5
    res = check(project.root, bundle)  # checking it again changes nothing
    assert res.exit_code == 0 and "already champion" in res.output and champion(project.name) == new


def test_a_passing_grader_that_loses_to_the_champion_is_not_promoted(monkeypatch):
    from rftlab import tracking
    from rftlab.calibrate import champion as champ
    from rftlab.grader import registry

    alias = {"champion": "7"}
    tags = {"7": {"rftlab.check_digest": "d1", "rftlab.check_objective": "0.9"}, "8": {}}
    monkeypatch.setattr(champ, "is_pipeline_bundle", lambda path: True)
    monkeypatch.setattr(tracking, "find_model_versions", lambda n, t, v: [SimpleNamespace(version="8", tags={})])
    monkeypatch.setattr(tracking, "set_model_version_tags", lambda n, v, t: tags[v].update(t))
    monkeypatch.setattr(tracking, "set_tags", lambda t: None)
    monkeypatch.setattr(tracking, "model_version_by_alias", lambda n, a: SimpleNamespace(
        version=alias[a], tags=tags[alias[a]]))
    monkeypatch.setattr(registry, "set_alias", lambda v, a="champion", **kw: alias.__setitem__(a, v))
    scored = lambda value: lambda weights: SimpleNamespace(value=value)  # noqa: E731

    worse = champ.after_gate("g.json", "g-b", True, scored(0.8), {"char": 1.0}, "d1")
    assert alias["champion"] == "7" and worse["decision"].startswith("kept previous champion")
    assert "same held-out data" in worse["basis"] and worse["champion_objective"] == 0.9
    better = champ.after_gate("g.json", "g-b", True, scored(0.95), {"char": 1.0}, "d1")
    assert alias["champion"] == "8" and better["decision"].startswith("promoted to champion")
