"""Measured, not assumed: recall on the labelled set, false positives on the sample, ingest through the CLI."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.config import IngestParams, SampleParams
from rftlab.privacy.detect import KINDS, find
from rftlab.privacy.evalset import CONTEXTS, build, fullwidth
from rftlab.slack import ingest_stage, sample_stage

runner = CliRunner()
# what the sample generator plants on purpose (slack/sample_text.py decorate, slack/sample.py leaks)
PLANTED_MARKERS = ("連絡先: ", "緊急時は ", "代表 03-", "xoxb-", "X-Amz-Signature", "AKIA")


def test_the_set_covers_every_kind_in_every_context() -> None:
    samples = build(0)
    assert {s.kind for s in samples} == set(KINDS)
    for kind in KINDS:
        contexts = {s.context for s in samples if s.kind == kind}
        assert len(contexts) >= 5, (kind, contexts)
    assert {s.context for s in samples} == set(CONTEXTS)
    assert build(0) == samples and build(1) != samples  # seeded
    assert all(s.value in s.text for s in samples)
    assert fullwidth("090-1") == "０９０－１"


@pytest.mark.parametrize("seed", [0, 1])
def test_recall_is_one_for_every_kind(seed: int) -> None:
    missed: Counter = Counter()
    for s in build(seed, repeats=2):
        a, b = s.span
        if not any(f.kind == s.kind and f.start <= a and f.end >= b for f in find(s.text)):
            missed[(s.kind, s.form, s.context)] += 1
    assert not missed, missed.most_common(10)


@pytest.fixture(scope="module")
def sample_rows(tmp_path_factory) -> list[dict]:
    d = tmp_path_factory.mktemp("sample")
    sample_stage.run(d / "export.zip", SampleParams())
    ingest_stage.run(d / "export.zip", d / "raw.jsonl", params=IngestParams(scrub_pii=False), track=False)
    return [json.loads(line) for line in open(d / "raw.jsonl", encoding="utf-8")]


def test_false_positives_on_the_clean_sample_are_under_one_percent(sample_rows: list[dict]) -> None:
    clean = [r["text"] for r in sample_rows if not any(m in r["text"] for m in PLANTED_MARKERS)]
    assert len(clean) > 3000
    flagged = [t for t in clean if find(t)]
    assert len(flagged) / len(clean) < 0.01, flagged[:5]


def test_the_samples_own_planted_data_is_all_found(sample_rows: list[dict]) -> None:
    planted = [r["text"] for r in sample_rows if any(m in r["text"] for m in PLANTED_MARKERS)]
    assert planted and all(find(t) for t in planted)


def _export(tmp_path, texts: list[str]):
    root = tmp_path / "export"
    (root / "general").mkdir(parents=True)
    users = [{"id": f"U{i}", "name": f"user{i}", "profile": {"display_name": f"u{i}"}} for i in range(4)]
    (root / "users.json").write_text(json.dumps(users), encoding="utf-8")
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]), encoding="utf-8")
    recs = [{"type": "message", "user": f"U{i % 4}", "text": t, "ts": f"{1740000000 + i}.000100"}
            for i, t in enumerate(texts)]
    (root / "general" / "2025-02-20.json").write_text(json.dumps(recs, ensure_ascii=False), encoding="utf-8")
    return root


def test_ingest_cli_scrubs_every_planted_value_and_counts_each_kind(tmp_path) -> None:
    samples = build(2, repeats=1)
    export = _export(tmp_path, [s.text for s in samples])
    out, report = tmp_path / "messages.jsonl", tmp_path / "ingest.json"
    res = runner.invoke(app, ["ingest", str(export), "--out", str(out), "--report", str(report)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert [s.value for s in samples if s.value in text] == []
    counts = json.loads(report.read_text(encoding="utf-8"))["pii_scrubbed"]
    assert set(counts) == set(KINDS) and all(counts[k] > 0 for k in KINDS)
