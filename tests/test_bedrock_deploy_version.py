"""Deployment version: what it hashes, that the image recomputes it, and the Lambda's cold-start check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from rftlab.grader import deployment
from rftlab.grader.bundle import make_bundle, write_bundle
from rftlab.grader.package import package
from rftlab.style.profile import build_profile

TEXTS = ["承知したでござる。", "了解です。", "拙者が対応するでござる。", "明日やります。"]


def _bundle(tmp_path, name="grader.json", texts=TEXTS):
    msgs = [{"id": str(i), "user": "U01CTO" if i % 2 else "U02", "text": t} for i, t in enumerate(texts * 5)]
    bundle = make_bundle(build_profile(msgs, "U01CTO", min_count=1))
    write_bundle(tmp_path / name, bundle)
    return tmp_path / name, bundle["version"]


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A private copy of the rftlab package that the deployment code reads (and that tests may edit)."""
    copy = tmp_path / "src" / "rftlab"
    shutil.copytree(deployment.package_root(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(deployment, "package_root", lambda: copy)
    return copy


def test_every_input_of_the_image_changes_the_deployment_version(tmp_path, sources, monkeypatch):
    path, grader_version = _bundle(tmp_path)
    base = deployment.deployment_version(path)
    assert base.startswith("d-") and len(base) == 14 and base != grader_version
    assert deployment.deployment_version(path) == base  # pure: same inputs, same version

    (sources / "cli.py").write_text("# not in the handler's imports\n", encoding="utf-8")
    assert deployment.deployment_version(path) == base

    scoring = sources / "grader" / "scoring.py"
    scoring.write_text(scoring.read_text(encoding="utf-8") + "\n# changed scoring\n", encoding="utf-8")
    code_changed = deployment.deployment_version(path)
    assert code_changed != base

    tagger = sources / "style" / "tagger.py"  # reached through bundle -> style.features -> style.tagger
    tagger.write_text(tagger.read_text(encoding="utf-8") + "\n# changed tagger\n", encoding="utf-8")
    assert deployment.deployment_version(path) not in (base, code_changed)

    now = deployment.deployment_version(path)
    real_pins, real_base = deployment.pinned_requirements, deployment.BASE_IMAGE
    monkeypatch.setattr(deployment, "pinned_requirements", lambda: {**real_pins(), "fugashi": "0.0.1"})
    assert deployment.deployment_version(path) != now
    monkeypatch.setattr(deployment, "pinned_requirements", real_pins)
    monkeypatch.setattr(deployment, "BASE_IMAGE", "public.ecr.aws/lambda/python:3.12")
    assert deployment.deployment_version(path) != now
    monkeypatch.setattr(deployment, "BASE_IMAGE", real_base)
    assert deployment.deployment_version(path) == now

    other, other_version = _bundle(tmp_path, "other.json", TEXTS[::-1] + ["以上でござる。"])
    assert other_version != grader_version and deployment.deployment_version(other) != now


def test_the_build_context_recomputes_the_hosts_deployment_version(tmp_path):
    path, grader_version = _bundle(tmp_path)
    manifest = package(path, tmp_path / "ctx")
    ctx = tmp_path / "ctx"
    assert manifest["grader_version"] == grader_version
    assert manifest["deployment_version"] == deployment.deployment_version(path)
    assert deployment.context_deployment_version(ctx) == manifest["deployment_version"]
    pins = deployment.pinned_requirements()
    assert (ctx / "requirements.txt").read_text() == "".join(f"{n}=={v}\n" for n, v in pins.items())
    copied = sorted(p.relative_to(ctx / "rftlab").as_posix() for p in (ctx / "rftlab").rglob("*.py"))
    assert copied == deployment.source_files() and "cli.py" not in copied


def test_the_base_image_runs_on_amazon_linux_2023(tmp_path):
    path, _ = _bundle(tmp_path)
    package(path, tmp_path / "ctx")
    base = (tmp_path / "ctx" / "Dockerfile").read_text().splitlines()[1]
    # Lambda's python3.12 and python3.13 base images run on Amazon Linux 2023; 3.10/3.11 run on AL2
    assert base in ("FROM public.ecr.aws/lambda/python:3.12", "FROM public.ecr.aws/lambda/python:3.13")


def test_cold_start_refuses_an_image_that_is_not_the_deployed_build(tmp_path, monkeypatch, capsys):
    from rftlab.grader import handler

    path, _ = _bundle(tmp_path)
    ctx = tmp_path / "ctx"
    good = package(path, ctx)["deployment_version"]
    monkeypatch.setenv("RFTLAB_GRADER", str(ctx / "grader.json"))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(ctx))
    monkeypatch.setenv("RFTLAB_GRADER_VERSION", "d-000000000000")
    monkeypatch.setattr(handler, "_GRADER", None)
    sample = {"id": "1", "messages": [{"role": "user", "content": "どう?"},
                                      {"role": "assistant", "content": "承知したでござる。"}]}
    for _ in range(2):  # every invocation fails: the grader is never cached
        with pytest.raises(deployment.DeploymentMismatch, match=f"d-000000000000 but this image holds {good}"):
            handler.lambda_handler([sample], None)
        assert handler._GRADER is None
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert {"event": "grader_deployment_mismatch", "expected": "d-000000000000", "found": good} == {
        k: v for k, v in lines[-1].items() if k != "message"}

    monkeypatch.setenv("RFTLAB_GRADER_VERSION", good)
    out = handler.lambda_handler([sample], None)
    assert out[0]["id"] == "1" and 0.0 <= out[0]["aggregate_reward_score"] <= 1.0


def test_the_image_contents_alone_run_and_verify_the_handler(tmp_path):
    """Only the context's rftlab/ on the path (as in /var/task): imports resolve and the check passes."""
    path, _ = _bundle(tmp_path)
    ctx = tmp_path / "ctx"
    version = package(path, ctx)["deployment_version"]
    code = (
        "import json, sys, rftlab\n"
        "from rftlab.grader.handler import lambda_handler\n"
        "s = {'id': 'a', 'messages': [{'role': 'user', 'content': 'x'}, {'role': 'assistant', 'content': '了解でござる。'}]}\n"
        "out = lambda_handler([s], None)\n"
        "mods = sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('rftlab') and getattr(m, '__file__', None))\n"
        "print(json.dumps({'out': out, 'files': mods}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ctx), "LAMBDA_TASK_ROOT": str(ctx),
           "RFTLAB_GRADER": str(ctx / "grader.json"), "RFTLAB_GRADER_VERSION": version}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["out"][0]["id"] == "a"
    assert last["files"] and all(f.startswith(str(ctx / "rftlab")) for f in last["files"])
    assert '"event": "grader_deployment_verified"' in done.stdout
