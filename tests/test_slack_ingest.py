"""Ingest of an older-format English workspace export: filtering, markup, threads, filters, report."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.config import IngestParams
from rftlab.slack import ingest_stage

runner = CliRunner()

USERS = [  # older exports: no profile.display_name
    {"id": "U1", "name": "bob", "real_name": "Bob Smith", "profile": {"real_name": "Bob Smith"}},
    {"id": "U2", "name": "alice", "profile": {"real_name": "Alice Jones"}},
    {"id": "U3", "name": "carol", "profile": {}},
    {"id": "U4BOT", "name": "jira", "is_bot": True, "profile": {"bot_id": "B2"}},
    {"id": "USLACKBOT", "name": "slackbot", "profile": {}},
]
CHANNELS = [
    {"id": "C1", "name": "general", "purpose": {"value": "Company-wide"}},
    {"id": "C2", "name": "random", "purpose": {"value": "Fun"}},
]
T0 = 1462300000


def ts(i: int) -> str:
    return f"{T0 + i * 60}.{i:06d}"


def msg(i: int, user: str | None, text: str, **extra) -> dict:
    m = {"type": "message", "ts": ts(i), "text": text, **extra}
    if user:
        m["user"] = user
    return m


GENERAL_DAY1 = [
    msg(1, "U3", "<@U3|carol> has joined the channel", subtype="channel_join"),
    msg(2, "U1", "Hi <@U2|alice>, see <http://example.com/docs|the docs>"),
    msg(3, None, "New commit <http://github.com/x/y/commit/abc|abc123>", subtype="bot_message", bot_id="B1", username="github"),
    msg(4, "U2", "<@U2|alice> uploaded a file: <https://files.slack.com/f/1|report.pdf> and commented: Quarterly numbers attached",
        subtype="file_share", upload=True, file={"id": "F1", "name": "report.pdf"}),
    msg(5, "U1", "<@U1|bob> uploaded a file: <https://files.slack.com/f/2|img.png>", subtype="file_share", upload=True,
        files=[{"id": "F2", "name": "img.png"}]),
    msg(6, "U3", "check <http://foo.com> and <https://bar.com/x?token=abc123>"),
    msg(7, "U1", "Who owns the deploy script?", thread_ts=ts(7), reply_count=2, replies=[{"user": "U2", "ts": ts(8)}]),
    msg(8, "U2", "I do, <@U1>", thread_ts=ts(7), parent_user_id="U1"),
    msg(9, "U3", "<!channel> deploy at 5pm &amp; &lt;3 <#C2>"),
    msg(10, "U2", "waves", subtype="me_message"),
    msg(11, "U1", "set the channel topic: deploys", subtype="channel_topic", topic="deploys"),
    msg(12, "U3", "<@U3|carol> has left the channel", subtype="channel_leave"),
    msg(13, "U1", "final text after edit", edited={"user": "U1", "ts": ts(14)}),
    msg(14, "U4BOT", "JIRA-1 created", bot_id="B2"),
    msg(15, "U1", "mail me at bob@example.com or call (555) 123-4567"),
    msg(16, "USLACKBOT", "This message was deleted.", subtype="tombstone", hidden=True, thread_ts=ts(16)),
    msg(17, "U2", "reply under a deleted parent", thread_ts=ts(16)),
    msg(18, "U1", "pinned a message", subtype="pinned_item"),
    msg(19, "U2", "ok"),
    msg(20, "U3", "x"),  # below min_chars
]
GENERAL_DAY2 = [
    msg(100, "U3", "late reply, parent was yesterday", thread_ts=ts(7)),  # no parent_user_id: from the map
    msg(101, "U2", "broadcast reply <https://docs.example.com/a|docs>", subtype="thread_broadcast", thread_ts=ts(7)),
    {"type": "message", "subtype": "message_changed", "ts": ts(103), "hidden": True,
     "message": {"type": "message", "user": "U1", "text": "edited via message_changed", "ts": ts(102)}},
    msg(102, "U1", "original text before edit"),
]
RANDOM_DAY = [msg(200, "U3", "lunch? <@U1|bob> <@U2>"), msg(201, "U1", "yes :+1:")]
DM_DAY = [msg(300, "U1", "psst <@U2>")]
# user -> kept messages (counted by hand from the records above)
EXPECTED_KEPT = {"U1": 7, "U2": 6, "U3": 4}


def make_export(root: Path, *, as_zip: bool = False, days: dict | None = None, users=USERS, extra: dict | None = None) -> Path:
    """Write an export folder (or zip) from {relative path: JSON-able or bytes}."""
    files: dict[str, object] = {"channels.json": CHANNELS, "dms.json": [{"id": "D1", "members": ["U1", "U2"]}]}
    if users is not None:
        files["users.json"] = users
    files.update(days if days is not None else {
        "general/2016-05-03.json": GENERAL_DAY1, "general/2016-05-04.json": GENERAL_DAY2,
        "random/2016-05-03.json": RANDOM_DAY, "D1/2016-05-05.json": DM_DAY,
    })
    files.update(extra or {})
    blobs = {k: v if isinstance(v, bytes) else json.dumps(v, indent=2).encode() for k, v in files.items()}
    if as_zip:
        path = root / "export.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for k, v in blobs.items():
                zf.writestr(k, v)
        return path
    path = root / "export"
    for k, v in blobs.items():
        (path / k).parent.mkdir(parents=True, exist_ok=True)
        (path / k).write_bytes(v)
    return path


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def params_file(tmp_path, monkeypatch):
    """Point RFTLAB_PARAMS at a params file whose ingest section the test chooses."""

    def write(**ingest) -> Path:
        p = tmp_path / "params.yaml"
        p.write_text(json.dumps({"ingest": ingest}), encoding="utf-8")
        monkeypatch.setenv("RFTLAB_PARAMS", str(p))
        return p

    write()
    return write


@pytest.mark.parametrize("as_zip", [False, True])
def test_older_english_export(tmp_path, as_zip) -> None:
    src = make_export(tmp_path, as_zip=as_zip)
    out = tmp_path / "m.jsonl"
    report = ingest_stage.run(src, out, params=IngestParams(), report_path=tmp_path / "r.json", track=False)
    rows = read_rows(out)
    assert Counter(r["user"] for r in rows) == EXPECTED_KEPT
    text = "\n".join(r["text"] for r in rows)
    for raw in ("<@U", "<http", "<#C", "<!", "&amp;", "&lt;", "uploaded a file"):
        assert raw not in text
    by_text = {r["text"]: r for r in rows}
    assert "Hi @Alice Jones, see the docs" in by_text
    assert "I do, @Bob Smith" in by_text
    assert "check <URL> and <URL>" in by_text
    assert "@channel deploy at 5pm & <3 #random" in by_text
    assert "Quarterly numbers attached" in by_text
    assert "lunch? @Bob Smith @Alice Jones" in by_text
    assert "mail me at <EMAIL> or call <PHONE>" in by_text
    assert "edited via message_changed" in by_text and "original text before edit" not in by_text
    assert by_text["final text after edit"]["edited"] is True
    assert by_text["psst @Alice Jones"]["channel"] == "D1"
    assert report["per_user"]["U1"]["kept"] == 7
    assert report["dropped_by_reason"] == {
        "bot": 2, "channel_join": 1, "channel_leave": 1, "channel_topic": 1, "empty": 1, "pinned_item": 1,
        "tombstone": 1, "too_short": 1,
    }
    assert {kind: n for kind, n in report["pii_scrubbed"].items() if n} == {"email": 1, "phone": 1}
    assert set(report["pii_scrubbed"]) >= {"email", "phone", "secret"}  # every kind is counted, found or not
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["messages_kept"] == 17 and saved["records"] == 17 + 9


def test_thread_structure(tmp_path) -> None:
    out = tmp_path / "m.jsonl"
    ingest_stage.run(make_export(tmp_path), out, params=IngestParams(), track=False)
    rows = {r["text"]: r for r in read_rows(out)}
    parent = rows["Who owns the deploy script?"]
    assert parent["is_reply"] is False and parent["thread_ts"] == ts(7) and parent["parent_user"] is None
    for t in ("I do, @Bob Smith", "late reply, parent was yesterday", "broadcast reply docs"):
        assert rows[t]["is_reply"] is True, t
        assert rows[t]["parent_user"] == "U1", t  # day-2 reply resolved through the earlier day file
        assert rows[t]["group"] == parent["group"] == f"general:{ts(7)}"
    assert rows["reply under a deleted parent"]["parent_user"] == "USLACKBOT"
    assert rows["ok"]["group"] == "general:2016-05-03" and rows["ok"]["thread_ts"] is None
    assert rows["ok"]["id"] == f"general:{ts(19)}" and rows["ok"]["date"] == "2016-05-03"


@pytest.mark.parametrize(
    "filters, users",
    [
        ({"channels": ["random"]}, {"U1": 1, "U3": 1}),
        ({"users": ["U2"]}, {"U2": 6}),
        ({"date_from": "2016-05-04", "date_to": "2016-05-04"}, {"U1": 1, "U2": 1, "U3": 1}),
        ({"min_chars": 10}, {"U1": 6, "U2": 4, "U3": 4}),
    ],
)
def test_filters(tmp_path, filters, users) -> None:
    out = tmp_path / "m.jsonl"
    ingest_stage.run(make_export(tmp_path), out, params=IngestParams(**filters), track=False)
    assert Counter(r["user"] for r in read_rows(out)) == users


def test_pii_and_code_blocks_follow_params(tmp_path) -> None:
    days = {"general/2020-01-01.json": [msg(1, "U1", "a@b.example ```rm -rf /``` done")]}
    src = make_export(tmp_path, days=days)
    out = tmp_path / "m.jsonl"
    ingest_stage.run(src, out, params=IngestParams(scrub_pii=False, drop_code_blocks=False), track=False)
    assert read_rows(out)[0]["text"] == "a@b.example ```rm -rf /``` done"
    ingest_stage.run(src, out, params=IngestParams(), track=False)
    assert read_rows(out)[0]["text"] == "<EMAIL> done"


def test_cli_ingest_logs_mlflow_run(tmp_path, params_file) -> None:
    import mlflow

    src = make_export(tmp_path, as_zip=True)
    out, rep = tmp_path / "m.jsonl", tmp_path / "metrics" / "ingest.json"
    res = runner.invoke(app, ["ingest", str(src), "--out", str(out), "--report", str(rep)])
    assert res.exit_code == 0, res.output
    assert "17 messages from 3 users" in res.output
    runs = mlflow.search_runs(experiment_names=["rftlab"], filter_string="tags.`rftlab.kind` = 'ingest'",
                              order_by=["attributes.start_time DESC"], output_format="list")
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.metrics["messages_kept"] == 17
    assert run.data.metrics["pii_email"] == 1
    assert run.data.params["min_chars"] == "2"
    assert run.inputs.dataset_inputs[0].dataset.name == "export.zip"
    assert "dvc.dep.export" in run.data.tags


def test_help_mentions_filters() -> None:
    res = runner.invoke(app, ["ingest", "--help"])
    assert res.exit_code == 0 and "--on-error" in res.output and "params.yaml" in res.output


def test_rezipped_export_with_top_folder(tmp_path) -> None:
    folder = make_export(tmp_path)
    z = tmp_path / "nested.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(folder.rglob("*.json")):
            zf.write(p, f"My Workspace Slack export/{p.relative_to(folder).as_posix()}")
    out = tmp_path / "m.jsonl"
    ingest_stage.run(z, out, params=IngestParams(), track=False)
    assert Counter(r["user"] for r in read_rows(out)) == EXPECTED_KEPT
