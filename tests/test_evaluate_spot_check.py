"""`rftlab spot-check`: the latest messages per user, scored, in a per-user table."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.evaluate.spot_check import pick_latest, spot_check


class EndingGrader:
    version = "g-spot"

    def score(self, text, *, prompt=None, reference=None):
        return (1.0 if text.endswith("ござる") else 0.2), {}


@pytest.fixture
def fake_bundle(monkeypatch):
    """Score with a transparent stand-in so the expected numbers can be computed by hand."""
    monkeypatch.setattr("rftlab.evaluate.spot_check.load_grader", lambda path: EndingGrader())


MESSAGES = [
    {"id": "1", "user": "U01CTO", "text": "古い発言でござる", "ts": "100.0", "user_name": "cto"},
    {"id": "2", "user": "U02DEV", "text": "レビューします", "ts": "101.0"},
    {"id": "3", "user": "U01CTO", "text": "新しいリリースの準備ができたでござる", "ts": "300.0", "user_name": "cto"},
    {"id": "4", "user": "U02DEV", "text": "了解です", "ts": "302.0"},
    {"id": "5", "user": "U01CTO", "text": "承知", "ts": "200.0", "user_name": "cto"},
    {"id": "6", "user": "U03PM", "text": "   ", "ts": "400.0"},
]


def test_pick_latest_by_ts_and_skips_blank():
    picked = pick_latest(MESSAGES, 2)
    assert [m["id"] for m in picked["U01CTO"]] == ["5", "3"]  # ts order, not file order
    assert "U03PM" not in picked
    assert [m["id"] for m in pick_latest(MESSAGES, 2, users=["U02DEV"])["U02DEV"]] == ["2", "4"]


def test_spot_check_rows_best_mean_first():
    rows = spot_check(EndingGrader(), MESSAGES, per_user=2)
    assert [r["user"] for r in rows] == ["U01CTO", "U02DEV"]
    assert rows[0]["mean"] == pytest.approx(0.6) and rows[1]["mean"] == pytest.approx(0.2)
    assert rows[0]["user_name"] == "cto"


def test_cli_prints_per_user_table(tmp_path, fake_bundle):
    msgs = tmp_path / "m.jsonl"
    msgs.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in MESSAGES), encoding="utf-8")
    grader = tmp_path / "g.json"
    grader.write_text("{}", encoding="utf-8")
    res = CliRunner().invoke(app, ["spot-check", "--grader", str(grader), "--messages", str(msgs),
                                   "--per-user", "3", "--width", "8", "--target", "U01CTO"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    cto = next(line for line in lines if "U01CTO" in line)
    assert cto.startswith("*") and "(cto)" in cto and "0.733" in cto
    assert "新しいリリース…" in cto and "(1.000)" in cto  # truncated to 8 chars, with its score
    assert any("U02DEV" in line and "0.200" in line for line in lines)


def test_cli_missing_files_are_one_line_errors(tmp_path, fake_bundle):
    res = CliRunner().invoke(app, ["spot-check", "--grader", str(tmp_path / "none.json"), "--messages", "x.jsonl"])
    assert res.exit_code == 2 and "not found" in res.output
    grader = tmp_path / "g.json"
    grader.write_text("{}", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "user": "U"}\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["spot-check", "--grader", str(grader), "--messages", str(bad)])
    assert res.exit_code == 2 and "text" in res.output and "Traceback" not in res.output
