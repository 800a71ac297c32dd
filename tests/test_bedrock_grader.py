"""Grader shipping for Bedrock: build context, ECR/no-Docker path, Lambda versions per deployment, the smoke test."""

from __future__ import annotations

import json

import pytest
from bedrock_support import (  # fixtures come from conftest's pytest_plugins
    ACCOUNT,
    GRADER_VERSION,
    REGION,
    rft_params,
    write_prompts,
)


# ---------------------------------------------------------------------------- grader deployment
def test_no_docker_prints_push_commands_and_creates_the_repository(project, aws):
    from rftlab.aws import client
    from rftlab.backends.bedrock.grader import image_for
    from rftlab.errors import ConfigError

    (project / "build/grader").mkdir(parents=True)
    (project / "build/grader/Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.13\n")
    lines: list[str] = []
    with pytest.raises(ConfigError, match="no Docker engine"):
        image_for(GRADER_VERSION, repository="rftlab-grader", context="build/grader", region=REGION,
                  echo=lines.append, docker=False)
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rftlab-grader"
    assert any(f"docker build --platform linux/amd64 --provenance=false -t {uri}:{GRADER_VERSION}" in s for s in lines)
    assert any(s.strip() == f"docker push {uri}:{GRADER_VERSION}" for s in lines)
    repos = client("ecr", REGION).describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos] == ["rftlab-grader"]


def test_lambda_update_publishes_one_version_per_deployment_version(project, aws, no_sleep):
    from rftlab.aws import client
    from rftlab.backends.bedrock.grader import deploy_function

    kw = {"role_arn": f"arn:aws:iam::{ACCOUNT}:role/rftlab-grader-exec", "timeout_s": 120, "memory_mb": 1024,
          "region": REGION, "sleep": no_sleep.append, "grader_version": GRADER_VERSION}
    v1 = deploy_function("g", "repo:d-1", "d-1", **kw)
    assert deploy_function("g", "repo:d-1", "d-1", **kw) == v1  # same deployment: no new version
    v2 = deploy_function("g", "repo:d-2", "d-2", **{**kw, "timeout_s": 180})
    assert v1.endswith(":1") and v2.endswith(":2")
    lam = client("lambda", REGION)
    assert lam.get_function_configuration(FunctionName="g")["Timeout"] == 180
    v2_cfg = lam.get_function_configuration(FunctionName="g", Qualifier="2")
    assert v2_cfg["Environment"]["Variables"] == {"RFTLAB_GRADER_VERSION": "d-2", "RFTLAB_BUNDLE_VERSION": GRADER_VERSION}
    assert v2_cfg["Description"] == f"d-2 grader {GRADER_VERSION}"


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A private copy of the rftlab sources that deployment hashes and packages (tests edit it)."""
    import shutil

    from rftlab.grader import deployment

    copy = tmp_path / "src-copy" / "rftlab"
    shutil.copytree(deployment.package_root(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(deployment, "package_root", lambda: copy)
    return copy


def test_a_scoring_code_change_builds_and_publishes_a_new_version(project, aws, sources, monkeypatch):
    """The bundle is unchanged; only a copied source file changes: new image tag, new Lambda version."""
    from rftlab.aws import client
    from rftlab.backends.bedrock import grader as g

    pushed: list[list[str]] = []
    monkeypatch.setattr(g, "build_and_push", pushed.append)
    b = rft_params().bedrock
    first = g.deploy_grader("data/grader/grader.json", b, docker=True, sleep=lambda s: None)
    assert not first.reused and first.lambda_arn.endswith(":1") and first.grader_version == GRADER_VERSION
    assert first.image_uri.endswith(f"/rftlab-grader:{first.deployment_version}")
    assert json.loads((project / b.build_context / "manifest.json").read_text())["deployment_version"] == \
        first.deployment_version

    again = g.deploy_grader("data/grader/grader.json", b, docker=True, sleep=lambda s: None)
    assert again.reused and again.lambda_arn == first.lambda_arn and len(pushed) == 1  # unchanged: reused

    scoring = sources / "grader" / "scoring.py"
    scoring.write_text(scoring.read_text(encoding="utf-8") + "\n# a scoring change\n", encoding="utf-8")
    second = g.deploy_grader("data/grader/grader.json", b, docker=True, sleep=lambda s: None)
    assert second.grader_version == GRADER_VERSION and second.deployment_version != first.deployment_version
    assert not second.reused and second.lambda_arn.endswith(":2") and len(pushed) == 2
    assert any(f"rftlab-grader:{second.deployment_version} " in cmd for cmd in pushed[-1])
    assert "# a scoring change" in (project / b.build_context / "rftlab/grader/scoring.py").read_text()
    cfg = client("lambda", REGION).get_function_configuration(FunctionName=b.lambda_function, Qualifier="2")
    assert cfg["Environment"]["Variables"]["RFTLAB_GRADER_VERSION"] == second.deployment_version
    assert cfg["Description"].split()[0] == second.deployment_version
    assert g.published_version(b.lambda_function, first.deployment_version, REGION) == first.lambda_arn


def test_lambda_timeout_below_60_is_a_config_error(tmp_path):
    from rftlab.config import parse_params
    from rftlab.errors import ConfigError

    with pytest.raises(ConfigError, match="rft.bedrock.lambda_timeout_s"):
        parse_params({"rft": {"bedrock": {"lambda_timeout_s": 3}}})


def test_smoke_test_rejects_a_handler_that_breaks_the_contract(project, monkeypatch):
    import sys

    from rftlab.backends.bedrock.grader import smoke_test
    from rftlab.errors import GateFailed

    assert smoke_test("data/grader/grader.json", "data/prompts/train.jsonl")["malformed_score"] == 0.0
    monkeypatch.setattr(sys.modules["rftlab.backends.bedrock.grader"], "handle",
                        lambda payload, grader: [{"id": "x", "aggregate_reward_score": 2.0}])
    with pytest.raises(GateFailed, match="grader smoke test failed"):
        smoke_test("data/grader/grader.json", "data/prompts/train.jsonl")


def test_smoke_test_with_the_real_grader(tmp_path):
    """The real handler and a real bundle (skips while the grader concern is incomplete)."""
    import rftlab.grader.bundle as bundle_mod
    import rftlab.style.profile as profile_mod
    from rftlab.backends.bedrock.grader import smoke_test

    msgs = [{"id": str(i), "user": "U01CTO" if i % 2 else "U02", "text": t}
            for i, t in enumerate(["承知したでござる。", "了解です。", "拙者が対応するでござる。", "明日やります。"] * 5)]
    bundle = bundle_mod.make_bundle(profile_mod.build_profile(msgs, "U01CTO", min_count=1))
    bundle_mod.write_bundle(tmp_path / "grader.json", bundle)
    out = smoke_test(tmp_path / "grader.json", write_prompts(tmp_path / "p.jsonl", 4))
    assert out["samples"] == 9 and out["malformed_score"] == 0.0 and out["grader_version"] == bundle["version"]


def _real_bundle(tmp_path):
    import rftlab.grader.bundle as bundle_mod
    import rftlab.style.profile as profile_mod
    msgs = [{"id": str(i), "user": "U01CTO" if i % 2 else "U02", "text": t}
            for i, t in enumerate(["承知したでござる。", "了解です。", "拙者が対応するでござる。", "明日やります。"] * 5)]
    bundle = bundle_mod.make_bundle(profile_mod.build_profile(msgs, "U01CTO", min_count=1))
    bundle_mod.write_bundle(tmp_path / "grader.json", bundle)
    return tmp_path / "grader.json", bundle["version"]


def test_build_context_is_packaged_for_the_deployment_version(project, aws, monkeypatch):
    import sys

    import rftlab.grader as grader_pkg
    from rftlab.backends.bedrock.grader import image_for
    from rftlab.errors import ConfigError
    from rftlab.grader.deployment import deployment_version

    # The real grader, not the fake; monkeypatch puts back both the module and the package attribute.
    for name in ("bundle", "handler"):
        monkeypatch.delitem(sys.modules, f"rftlab.grader.{name}", raising=False)
        monkeypatch.delattr(grader_pkg, name, raising=False)
    path, version = _real_bundle(project)
    deployment = deployment_version(path)
    lines: list[str] = []
    with pytest.raises(ConfigError):
        image_for(deployment, repository="rftlab-grader", context="build/ctx", region=REGION, echo=lines.append,
                  docker=False, grader_path=path)
    manifest = json.loads((project / "build/ctx/manifest.json").read_text())
    assert manifest["grader_version"] == version and manifest["deployment_version"] == deployment
    assert (project / "build/ctx/Dockerfile").exists()
    assert any(f"rftlab-grader:{deployment} build/ctx" in s for s in lines)
