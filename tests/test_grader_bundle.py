"""Grader bundle: content-hash version, loading bundles or bare profiles, registry, packaging."""

from __future__ import annotations

import json

import pytest
from grader_support import messages

from rftlab.errors import InputError, RftlabError
from rftlab.grader.bundle import grader_version, load_grader, make_bundle, write_bundle
from rftlab.grader.package import package
from rftlab.grader.scoring import DEFAULT_WEIGHTS
from rftlab.io import write_json
from rftlab.style.profile import build_profile


@pytest.fixture(scope="module")
def profile():
    return build_profile(messages(), "U01CTO")


def test_version_is_a_stable_content_hash(profile, tmp_path):
    a = make_bundle(profile, {"char": 2.0}, meta={"note": "x"})
    b = make_bundle(json.loads(json.dumps(profile)), {"char": 2.0}, meta={"note": "different meta"})
    assert a["version"] == b["version"] and a["version"].startswith("g-") and len(a["version"]) == 14
    assert make_bundle(profile, {"char": 2.1})["version"] != a["version"]
    assert make_bundle(profile, {})["version"] == make_bundle(profile, DEFAULT_WEIGHTS)["version"]
    write_bundle(tmp_path / "g.json", a)
    g = load_grader(tmp_path / "g.json")
    assert g.version == a["version"] and g.weights["char"] == 2.0
    write_bundle(tmp_path / "g2.json", a)
    assert (tmp_path / "g.json").read_bytes() == (tmp_path / "g2.json").read_bytes()


def test_bare_profile_gets_default_weights(profile, tmp_path):
    write_json(tmp_path / "p.json", profile)
    g = load_grader(tmp_path / "p.json")
    assert g.weights == DEFAULT_WEIGHTS
    assert g.version == grader_version(profile, DEFAULT_WEIGHTS)
    score, comps = g.score("拙者が確認するでござる。")
    assert 0.5 < score <= 1.0 and "char" in comps
    assert [s for s, _ in g.score_many(["拙者が確認するでござる。", ""])][1] == 0.0


@pytest.mark.parametrize("content,match", [
    ('{"hello": 1}', "neither a grader bundle"),
    ("[1, 2]", "neither a grader bundle"),
    ("not json", "invalid JSON"),
])
def test_other_files_are_a_clear_input_error(tmp_path, content, match):
    (tmp_path / "x.json").write_text(content)
    with pytest.raises(InputError, match=match):
        load_grader(tmp_path / "x.json")
    with pytest.raises(InputError, match="not found"):
        load_grader(tmp_path / "nope.json")


def test_edited_bundle_is_detected(profile, tmp_path):
    b = make_bundle(profile, {})
    b["weights"]["char"] = 9.0
    write_bundle(tmp_path / "g.json", b)
    with pytest.raises(InputError, match="does not match its content"):
        load_grader(tmp_path / "g.json")


def test_package_writes_a_complete_container_build_context(profile, tmp_path):
    bundle = make_bundle(profile, {})
    write_bundle(tmp_path / "g.json", bundle)
    manifest = package(tmp_path / "g.json", tmp_path / "ctx")
    ctx = tmp_path / "ctx"
    docker = (ctx / "Dockerfile").read_text()
    assert docker.splitlines()[1] == "FROM public.ecr.aws/lambda/python:3.13"
    assert 'CMD ["rftlab.grader.handler.lambda_handler"]' in docker
    reqs = (ctx / "requirements.txt").read_text().split()
    assert [r.split("==")[0] for r in reqs] == ["fugashi", "unidic-lite"]
    assert (ctx / "rftlab" / "grader" / "handler.py").exists() and (ctx / "rftlab" / "style" / "tagger.py").exists()
    assert load_grader(ctx / "grader.json").version == bundle["version"]
    on_disk = json.loads((ctx / "manifest.json").read_text())
    assert on_disk["grader_version"] == bundle["version"] == manifest["grader_version"]
    assert on_disk["installed_size"]["dependencies"]["unidic-lite"]["bytes"] > 200e6
    paths = {f["path"] for f in on_disk["files"]}
    assert {"Dockerfile", "requirements.txt", "grader.json", "rftlab/grader/handler.py"} <= paths
    assert oct((ctx / "grader.json").stat().st_mode & 0o777) == "0o644"
    package(tmp_path / "g.json", ctx)  # rebuild over an existing context
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ctx")]


def test_zip_over_250mb_is_refused(profile, tmp_path):
    write_bundle(tmp_path / "g.json", make_bundle(profile, {}))
    with pytest.raises(RftlabError, match="over Lambda's 250 MB limit.*unidic-lite"):
        package(tmp_path / "g.json", tmp_path / "z", fmt="zip")
    assert not (tmp_path / "z").exists()
