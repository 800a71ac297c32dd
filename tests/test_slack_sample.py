"""The bundled sample export: deterministic, big enough, and ingestible into usable Q->A pairs."""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter

import pytest
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.config import IngestParams, SampleParams
from rftlab.slack import ingest_stage, sample_stage
from rftlab.slack.sample import TARGET

runner = CliRunner()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    zip_path = d / "slack-export.zip"
    stats = sample_stage.run(zip_path, SampleParams())
    out = d / "messages.jsonl"
    report = ingest_stage.run(zip_path, out, params=IngestParams(), track=False)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return zip_path, stats, report, rows


def test_same_seed_same_bytes_other_seed_differs(tmp_path, sample) -> None:
    zip_path = sample[0]
    small = SampleParams(messages=300, days=30)
    sample_stage.run(tmp_path / "a.zip", small)
    sample_stage.run(tmp_path / "b.zip", small)
    sample_stage.run(tmp_path / "c.zip", small.model_copy(update={"seed": 8}))
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert (tmp_path / "a.zip").read_bytes() != (tmp_path / "c.zip").read_bytes()
    again = tmp_path / "again.zip"
    sample_stage.run(again, SampleParams())
    assert again.read_bytes() == zip_path.read_bytes()


def test_cli_sample_reads_params(tmp_path, monkeypatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text('sample: {seed: 3, messages: 200, days: 20, start: "2024-04-01"}\n', encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    res = runner.invoke(app, ["sample", "--out", str(tmp_path / "s.zip")])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        days = sorted(n.split("/")[1] for n in zf.namelist() if n.endswith(".json") and "/" in n)
    assert days[0] >= "2024-04-01.json" and days[-1] < "2024-04-22.json"


def test_looks_like_a_slack_export(sample) -> None:
    zip_path, stats, _, _ = sample
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        users = json.loads(zf.read("users.json"))
        channels = json.loads(zf.read("channels.json"))
        records = [r for n in names if re.search(r"/\d{4}-\d{2}-\d{2}\.json$", n) for r in json.loads(zf.read(n))]
    humans = [u for u in users if not u.get("is_bot")]
    assert len(humans) >= 4 and any(u.get("is_bot") for u in users)
    assert any(u["id"] == TARGET and u["profile"]["display_name"] for u in users)
    assert len(channels) >= 3 and all(c["purpose"]["value"] for c in channels)
    subtypes = Counter(r.get("subtype") for r in records)
    for st in ("bot_message", "channel_join", "file_share", "tombstone", "thread_broadcast", "channel_purpose"):
        assert subtypes[st] > 0, st
    assert sum("edited" in r for r in records) > 20
    text = "\n".join(r.get("text", "") for r in records)
    for needle in ("<@U", "<#C", "|", "<https://", ":+1:", "&amp;", "@example.co.jp", "090-"):
        assert needle in text, needle
    assert stats["human_messages"] >= 3000 and stats["users"] >= 4 and stats["channels"] >= 3


def test_messages_span_a_year_and_vary(sample) -> None:
    _, _, report, rows = sample
    assert report["messages_kept"] >= 3000
    dates = sorted(r["date"] for r in rows)
    assert dates[0] >= "2025-01-06" and dates[-1] >= "2025-12-01"
    texts = [r["text"] for r in rows]
    assert len(set(texts)) / len(texts) > 0.8  # template grammar, not copies
    assert report["pii_scrubbed"]["email"] > 0 and report["pii_scrubbed"]["phone"] > 0
    assert report["pii_scrubbed"]["secret"] > 0


def test_personas_have_their_habits(sample) -> None:
    rows = sample[3]
    by_user: dict[str, list[str]] = {}
    for r in rows:
        by_user.setdefault(r["user"], []).append(r["text"])

    def share(user: str, pattern: str) -> float:
        return sum(bool(re.search(pattern, t)) for t in by_user[user]) / len(by_user[user])

    assert share(TARGET, "ござ") > 0.9
    assert share(TARGET, "Lambda|S3|IAM|Bedrock|CloudWatch|ECS") > 0.3
    assert all(share(u, "ござる") == 0 for u in by_user if u != TARGET)
    assert share("U02HANAKO", "！") > 0.8 and share("U02HANAKO", "です|ます") > 0.5
    assert share("U03KENTA", "[wｗ]|草") > 0.7
    assert sum(len(t) for t in by_user["U04MAKOTO"]) / len(by_user["U04MAKOTO"]) < 20


def test_target_answers_others_in_threads(sample) -> None:
    rows = sample[3]
    pairs = [r for r in rows if r["user"] == TARGET and r["is_reply"] and r["parent_user"] not in (None, TARGET)]
    assert len(pairs) >= 300
    assert sum("結論" in r["text"][:25] for r in pairs) / len(pairs) > 0.9  # conclusion first
    # and some questions answered as the very next channel message, outside threads
    top = [r for r in rows if not r["is_reply"]]
    nxt = sum(a["user"] != TARGET and b["user"] == TARGET and a["channel"] == b["channel"]
              and "結論" in b["text"][:25] for a, b in zip(top, top[1:]))
    assert nxt >= 50
