"""Bundles carry no personal data: profile.min_users, `rftlab grader audit`, calibrate and package refuse."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from grader_support import messages as style_messages
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.grader.bundle import make_bundle, write_bundle
from rftlab.io import read_json, write_jsonl
from rftlab.privacy.evalset import build

runner = CliRunner()
AUTHOR = "U01CTO"
ROOM = "部屋番号は2468です"  # one user only: its digits must not reach the profile
MEETING = "会議は15時からです"  # three users: ordinary digits stay
PHONE = "番号は09012345678です"  # everybody: still a phone number, never kept


def _messages() -> list[dict]:
    rows = style_messages()
    extra = [("U00BG", ROOM)] * 3 + [(u, MEETING) for u in ("U00BG", "U01BG", "U02BG")] * 2
    extra += [(u, PHONE) for u in ("U00BG", "U01BG", "U02BG", AUTHOR)] * 2
    rows += [{"id": f"x{i}", "user": u, "text": t, "channel": "general"} for i, (u, t) in enumerate(extra)]
    return rows


def _params(tmp_path: Path, monkeypatch, **profile) -> None:
    p = {"tracking": {"experiment": "test-privacy", "register_models": False},
         "calibrate": {"trials": 2, "folds": 3}, "profile": profile}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))


def _profile(tmp_path: Path, name: str = "profile.json") -> dict:
    write_jsonl(tmp_path / "messages.jsonl", _messages())
    res = runner.invoke(app, ["profile", "--messages", str(tmp_path / "messages.jsonl"), "--author", AUTHOR,
                              "--out", str(tmp_path / name), "--no-track"])
    assert res.exit_code == 0, res.output
    return read_json(tmp_path / name)


def _keys(profile: dict) -> set[str]:
    fams = profile["families"]
    keys = {k for block in fams.values() for side in ("target", "background") for k in block[side]}
    keys |= {k for table in profile["learned"]["weights"].values() for k in table}
    return keys


def test_profile_keeps_digit_tokens_only_when_enough_users_wrote_them(tmp_path, monkeypatch) -> None:
    _params(tmp_path, monkeypatch, min_users=3)
    profile = _profile(tmp_path)
    keys = _keys(profile)
    assert profile["settings"]["min_users"] == 3
    assert "名詞:15" in keys and "15" in keys  # three users wrote it
    assert not {"名詞:2468", "246", "468"} & keys  # one user did
    assert not [k for k in keys if "09012345678" in k]  # a phone number, however many wrote it


def test_min_users_1_keeps_rare_digits_but_never_a_phone_number(tmp_path, monkeypatch) -> None:
    _params(tmp_path, monkeypatch, min_users=1)
    keys = _keys(_profile(tmp_path))
    assert "名詞:2468" in keys
    assert not [k for k in keys if "09012345678" in k]


def _dirty_bundle(tmp_path: Path, monkeypatch) -> Path:
    _params(tmp_path, monkeypatch, min_users=3)
    profile = _profile(tmp_path)
    profile["families"]["vocab"]["target"]["名詞:09012345678"] = 3  # what the issue found in a real bundle
    profile["learned"]["weights"]["vocab"]["名詞:4111111111111111"] = 0.5
    profile["top_vocab"]["名詞"].append(["taro@example.com", 2])
    write_bundle(tmp_path / "dirty.json", make_bundle(profile, {}))
    (tmp_path / "dirty_profile.json").write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    return tmp_path / "dirty.json"


def test_audit_passes_a_clean_bundle(tmp_path, monkeypatch) -> None:
    _params(tmp_path, monkeypatch, min_users=3)
    write_bundle(tmp_path / "grader.json", make_bundle(_profile(tmp_path), {}))
    res = runner.invoke(app, ["grader", "audit", str(tmp_path / "grader.json")])
    assert res.exit_code == 0, res.output
    assert "no personal data found" in res.output


def test_audit_fails_naming_each_kind_once_masked(tmp_path, monkeypatch) -> None:
    bundle = _dirty_bundle(tmp_path, monkeypatch)
    res = runner.invoke(app, ["grader", "audit", str(bundle)])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert [line.split(": ")[2].split(" in ")[0] for line in lines] == ["card", "email", "phone"]
    assert all(line.startswith(f"error: {bundle}: ") for line in lines)
    for raw in ("09012345678", "4111111111111111", "taro@example.com"):
        assert raw not in res.output  # the audit does not leak what it found
    assert "Traceback" not in res.output


@pytest.mark.parametrize("content, code", [(None, 2), ("{not json", 2)])
def test_audit_of_a_missing_or_broken_file_is_one_line(tmp_path, content, code) -> None:
    path = tmp_path / "grader.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    res = runner.invoke(app, ["grader", "audit", str(path)])
    assert res.exit_code == code and len(res.output.strip().splitlines()) == 1 and str(path) in res.output


def test_calibrate_refuses_a_profile_that_fails_the_audit(tmp_path, monkeypatch) -> None:
    _dirty_bundle(tmp_path, monkeypatch)
    out = tmp_path / "grader" / "grader.json"
    res = runner.invoke(app, ["calibrate", "--messages", str(tmp_path / "messages.jsonl"), "--author", AUTHOR,
                              "--profile", str(tmp_path / "dirty_profile.json"), "--out", str(out), "--no-register"])
    assert res.exit_code == 1, res.output
    assert "card: 1, email: 1, phone: 1" in res.output and "Traceback" not in res.output
    assert not out.exists() and not out.parent.exists()


def test_package_refuses_a_bundle_that_fails_the_audit(tmp_path, monkeypatch) -> None:
    bundle = _dirty_bundle(tmp_path, monkeypatch)
    res = runner.invoke(app, ["grader", "package", "--grader", str(bundle), "--out", str(tmp_path / "ctx")])
    assert res.exit_code == 1, res.output
    assert "refusing to package" in res.output and not (tmp_path / "ctx").exists()


def test_a_bundle_from_an_export_full_of_planted_data_passes_the_audit(tmp_path, monkeypatch) -> None:
    """ingest -> profile -> calibrate -> audit, all through the CLI, on an export where every
    kind of personal data is planted (several times, by several users) among ordinary messages."""
    _params(tmp_path, monkeypatch, min_users=3)
    rng = random.Random(0)
    rows = [(m["user"], m["text"]) for m in style_messages(90, 180)]
    rows += [(rng.choice(["U01CTO", "U00BG", "U01BG", "U02BG"]), s.text) for s in build(3, repeats=1)]
    rng.shuffle(rows)
    export = tmp_path / "export"
    (export / "general").mkdir(parents=True)
    users = [{"id": u, "name": u.lower(), "profile": {}} for u in ("U01CTO", "U00BG", "U01BG", "U02BG")]
    (export / "users.json").write_text(json.dumps(users), encoding="utf-8")
    (export / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]), encoding="utf-8")
    for day in range(6):
        recs = [{"type": "message", "user": u, "text": t, "ts": f"{1740000000 + day * 86400 + i * 60}.000100"}
                for i, (u, t) in enumerate(rows[day::6])]
        (export / "general" / f"2025-02-{20 + day}.json").write_text(json.dumps(recs, ensure_ascii=False),
                                                                     encoding="utf-8")
    steps = [
        ["ingest", str(export), "--out", str(tmp_path / "m.jsonl"), "--no-track"],
        ["profile", "--messages", str(tmp_path / "m.jsonl"), "--author", AUTHOR, "--out", str(tmp_path / "p.json"),
         "--no-track"],
        ["calibrate", "--messages", str(tmp_path / "m.jsonl"), "--author", AUTHOR, "--profile",
         str(tmp_path / "p.json"), "--out", str(tmp_path / "g" / "grader.json"), "--trials", "2", "--no-register"],
        ["grader", "audit", str(tmp_path / "g" / "grader.json")],
    ]
    for args in steps:
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args[0], res.output)
    assert "no personal data found" in res.output
