"""Real archives through `rftlab ingest`: corrupt compressed members, text only in blocks, edits in a
later day file, repeated messages, Enterprise Grid layouts, two exports in one zip, unmatched channels.

Every export is built here from Slack's documented shapes (day files of message records; rich_text
blocks as in https://docs.slack.dev/reference/block-kit/blocks/rich-text-block; org_users.json as in
https://slack.com/help/articles/220556107).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from test_slack_ingest import (  # noqa: F401  (fixture)
    CHANNELS,
    USERS,
    make_export,
    msg,
    params_file,
    read_rows,
    ts,
)
from typer.testing import CliRunner

from rftlab.cli import app

runner = CliRunner()
DAY = "general/2016-05-03.json"


def ingest(src: Path, tmp_path: Path, *extra: str):
    out, rep = tmp_path / "out" / "m.jsonl", tmp_path / "out" / "r.json"
    res = runner.invoke(app, ["ingest", str(src), "--out", str(out), "--report", str(rep), "--no-track", *extra])
    rows = read_rows(out) if out.exists() else []
    report = json.loads(rep.read_text()) if rep.exists() else {}
    return res, rows, report


def zip_files(path: Path, files: dict[str, object], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, value in files.items():
            zf.writestr(name, value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False))
    return path


def test_corrupt_compressed_member_is_named_and_skippable(tmp_path, params_file) -> None:  # noqa: F811
    bad = "general/2016-05-04.json"
    files = {"users.json": USERS, "channels.json": CHANNELS, DAY: [msg(1, "U1", "good morning")],
             bad: [msg(i, "U2", f"message number {i} " * 20) for i in range(2, 40)]}
    src = zip_files(tmp_path / "export.zip", files, zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(bad)
    blob = bytearray(src.read_bytes())
    name_len, extra_len = int.from_bytes(blob[info.header_offset + 26:][:2], "little"), int.from_bytes(
        blob[info.header_offset + 28:][:2], "little")
    data = info.header_offset + 30 + name_len + extra_len
    blob[data:data + 8] = b"\xff" * 8  # a deflate block of the reserved type: zlib refuses it
    src.write_bytes(bytes(blob))

    res, rows, _ = ingest(src, tmp_path)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.startswith(f"error: export.zip:{bad}: unreadable (corrupt compressed data"), res.stderr
    assert not (tmp_path / "out" / "m.jsonl").exists()

    res, rows, report = ingest(src, tmp_path, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "skipped 1 bad day files" in res.output
    assert report["skipped"] == {bad: 1} and [r["text"] for r in rows] == ["good morning"]


def test_text_only_in_rich_text_blocks_is_read(tmp_path, params_file) -> None:  # noqa: F811
    section = {"type": "rich_text_section", "elements": [
        {"type": "text", "text": "了解です "}, {"type": "user", "user_id": "U2"},
        {"type": "text", "text": "、"}, {"type": "link", "url": "https://example.com/spec", "text": "仕様書"},
        {"type": "text", "text": "を見ます & 返信します"}, {"type": "emoji", "name": "bow", "unicode": "1f647"},
        {"type": "text", "text": " 必ず", "style": {"bold": True}}]}
    listing = {"type": "rich_text_list", "style": "bullet", "indent": 0, "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": "一つ目"}]},
        {"type": "rich_text_section", "elements": [{"type": "channel", "channel_id": "C2"}]}]}
    quote = {"type": "rich_text_quote", "elements": [{"type": "text", "text": "引用文"}]}
    code = {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "rm -rf /tmp/x"}]}
    blocks = [{"type": "rich_text", "block_id": "b1", "elements": [section, listing, quote, code]}]
    day = [msg(1, "U1", "", blocks=blocks), {**msg(2, "U2", "ok then", blocks=blocks)},
           {key: value for key, value in msg(3, "U3", "", blocks=blocks).items() if key != "text"}]
    res, rows, _ = ingest(make_export(tmp_path, days={DAY: day}), tmp_path)
    assert res.exit_code == 0, res.output
    expected = "了解です @Alice Jones、仕様書を見ます & 返信します:bow: *必ず*\n• 一つ目\n• #random\n> 引用文"
    assert [r["text"] for r in rows] == [expected, "ok then", expected]  # `text`, when present, wins


def test_edit_in_a_later_day_file_updates_the_original(tmp_path, params_file) -> None:  # noqa: F811
    edit = {"type": "message", "subtype": "message_changed", "hidden": True, "ts": ts(500),
            "message": {"type": "message", "user": "U1", "text": "the corrected text", "ts": ts(1),
                        "edited": {"user": "U1", "ts": ts(500)}},
            "previous_message": {"type": "message", "user": "U1", "text": "the first text", "ts": ts(1)}}
    orphan = {**edit, "ts": ts(501), "message": {"type": "message", "user": "U2", "text": "edit of a message "
                                                 "from before the export", "ts": ts(-5)}}
    days = {DAY: [msg(1, "U1", "the first text"), msg(2, "U2", "a reply to it")],
            "general/2016-05-06.json": [edit, orphan, msg(600, "U3", "later message")]}
    res, rows, report = ingest(make_export(tmp_path, days=days), tmp_path)
    assert res.exit_code == 0, res.output
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 4
    first = rows[0]
    assert (first["id"], first["text"], first["date"], first["edited"]) == (
        f"general:{ts(1)}", "the corrected text", "2016-05-03", True)
    assert [r["text"] for r in rows[1:]] == ["a reply to it", "later message", "edit of a message from before the export"]
    assert report["edited"] == 2 and "the first text" not in json.dumps(rows)


def test_the_same_message_twice_is_kept_once(tmp_path, params_file) -> None:  # noqa: F811
    repeated = msg(1, "U1", "posted once, exported twice")
    days = {DAY: [repeated, msg(2, "U2", "an answer"), repeated],
            "general/2016-05-04.json": [repeated], "random/2016-05-03.json": [repeated]}
    res, rows, report = ingest(make_export(tmp_path, days=days), tmp_path)
    assert res.exit_code == 0, res.output
    assert [r["id"] for r in rows] == [f"general:{ts(1)}", f"general:{ts(2)}", f"random:{ts(1)}"]
    assert report["dropped_by_reason"] == {"duplicate": 2} and report["per_user"]["U1"]["dropped_duplicate"] == 2


def test_enterprise_grid_member_list_is_read(tmp_path, params_file) -> None:  # noqa: F811
    src = make_export(tmp_path, as_zip=True, users=None, days={DAY: [msg(1, "U1", "hi <@U2>")]},
                      extra={"org_users.json": USERS})
    res, rows, _ = ingest(src, tmp_path)
    assert res.exit_code == 0, res.output
    assert rows[0]["text"] == "hi @Alice Jones" and rows[0]["user_name"] == "Bob Smith"


def test_enterprise_grid_workspace_folders_are_refused_naming_the_layout(tmp_path, params_file) -> None:  # noqa: F811
    files = {"org_users.json": USERS, "dms.json": [], "T01ENG/channels.json": CHANNELS,
             f"T01ENG/{DAY}": [msg(1, "U1", "hello")], "T02OPS/channels.json": CHANNELS,
             f"T02OPS/{DAY}": [msg(2, "U2", "hello too")]}
    res, rows, _ = ingest(zip_files(tmp_path / "grid.zip", files), tmp_path)
    assert res.exit_code == 2 and not rows
    assert res.stderr.strip() == ("error: grid.zip: an Enterprise Grid org-wide export with conversation lists in "
                                  "workspace folders (T01ENG/, T02OPS/) is not supported; export a single workspace instead")


def test_two_exports_in_one_zip_are_refused(tmp_path, params_file) -> None:  # noqa: F811
    one = {"users.json": USERS, "channels.json": CHANNELS, DAY: [msg(1, "U1", "from the first export")]}
    files = {f"{top}/{name}": value for top in ("acme-2024", "acme-2025") for name, value in one.items()}
    res, rows, _ = ingest(zip_files(tmp_path / "both.zip", files), tmp_path)
    assert res.exit_code == 2 and not rows and not (tmp_path / "out" / "r.json").exists()
    assert res.stderr.strip() == ("error: both.zip: holds 2 Slack exports (acme-2024/, acme-2025/); "
                                  "unpack it and point ingest.source at one export folder")


def test_a_channel_filter_that_matches_nothing_names_the_channels(tmp_path, params_file) -> None:  # noqa: F811
    params_file(channels=["general", "no-such-channel"])
    res, rows, _ = ingest(make_export(tmp_path), tmp_path)
    assert res.exit_code == 2 and not rows
    assert res.stderr.strip() == ("error: ingest.channels: no channel matched no-such-channel in export "
                                  "(available: general, random)")
