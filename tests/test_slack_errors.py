"""Bad exports: one clear line naming the file, exit 2, nothing half-written; `--on-error skip`."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from test_slack_ingest import RANDOM_DAY, make_export, msg, params_file  # noqa: F401  (fixture)
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.config import IngestParams
from rftlab.errors import InputError
from rftlab.slack import ingest_stage

runner = CliRunner()
BAD_JSON = b'[\n  {"type": "message",\n   "text": oops}\n]'
GOOD = {"random/2016-05-03.json": RANDOM_DAY}


def cli(*args: str):
    return runner.invoke(app, ["ingest", *args, "--no-track"])


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: make_export(d, as_zip=True, days={**GOOD, "general/2016-05-04.json": BAD_JSON}),
         "export.zip:general/2016-05-04.json: invalid JSON at line 3"),
        (lambda d: make_export(d, days={**GOOD, "general/2016-05-04.json": '[{"text": "caf\xe9"}]'.encode("latin-1")}),
         "export:general/2016-05-04.json: not UTF-8"),
        (lambda d: make_export(d, days={**GOOD, "general/2016-05-04.json": {"not": "a list"}}),
         "export:general/2016-05-04.json: expected a JSON list of messages, got dict"),
        (lambda d: make_export(d, as_zip=True, users=None), "export.zip:users.json: missing"),
        (lambda d: make_export(d, days=GOOD, extra={"users.json": b"{broken"}), "export:users.json: invalid JSON at line 1"),
        (lambda d: make_export(d, days={}), "export: empty export (no messages"),
        (lambda d: make_export(d, days={"general/2016-05-03.json": [msg(1, "U1", "joined", subtype="channel_join")]}),
         "export: empty export (no human messages"),
    ],
    ids=["corrupt-json", "not-utf8", "not-a-list", "no-users", "bad-users", "empty", "only-joins"],
)
def test_bad_export(tmp_path, params_file, setup, message) -> None:  # noqa: F811
    src = setup(tmp_path)
    out, rep = tmp_path / "out" / "m.jsonl", tmp_path / "out" / "r.json"
    res = cli(str(src), "--out", str(out), "--report", str(rep))
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(f"error: {message}"), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not out.exists() and not rep.exists()
    assert not list((tmp_path / "out").glob("*.tmp")) if (tmp_path / "out").exists() else True
    with pytest.raises(InputError, match=re.escape(message.split(": ", 1)[1])):
        ingest_stage.run(src, out, params=IngestParams(), track=False)


def test_zip_that_is_not_a_slack_export(tmp_path, params_file) -> None:  # noqa: F811
    z = tmp_path / "photos.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hello")
    res = cli(str(z), "--out", str(tmp_path / "m.jsonl"))
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: photos.zip: not a Slack export (zip has no users.json or channels.json)"


@pytest.mark.parametrize("name, content, message", [
    ("notes.txt", b"just text", "notes.txt: not a zip file or a folder"),
    ("trunc.zip", b"PK\x03\x04garbage", "trunc.zip: not a zip file or a folder"),
])
def test_not_a_zip(tmp_path, params_file, name, content, message) -> None:  # noqa: F811
    (tmp_path / name).write_bytes(content)
    res = cli(str(tmp_path / name), "--out", str(tmp_path / "m.jsonl"))
    assert res.exit_code == 2 and message in res.stderr


def test_missing_export(tmp_path, params_file) -> None:  # noqa: F811
    res = cli(str(tmp_path / "nope.zip"), "--out", str(tmp_path / "m.jsonl"))
    assert res.exit_code == 2 and "nope.zip: export not found" in res.stderr


def test_failure_keeps_previous_output(tmp_path, params_file) -> None:  # noqa: F811
    src = make_export(tmp_path, days={**GOOD, "general/2016-05-04.json": BAD_JSON})
    out = tmp_path / "m.jsonl"
    out.write_text("previous\n")
    assert cli(str(src), "--out", str(out)).exit_code == 2
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize("how", ["flag", "param"])
def test_on_error_skip(tmp_path, params_file, how) -> None:  # noqa: F811
    bad = {"general/2016-05-04.json": BAD_JSON, "general/2016-05-05.json": b"\xff\xfe["}
    src = make_export(tmp_path, as_zip=True, days={**GOOD, **bad})
    out, rep = tmp_path / "m.jsonl", tmp_path / "r.json"
    args = [str(src), "--out", str(out), "--report", str(rep)]
    if how == "flag":
        args += ["--on-error", "skip"]
    else:
        params_file(on_error="skip")
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert "skipped 2 bad day files" in res.output
    report = json.loads(rep.read_text())
    assert report["skipped_files"] == 2
    assert report["skipped"] == {"general/2016-05-04.json": 1, "general/2016-05-05.json": 1}
    assert report["messages_kept"] == 2 and len(out.read_text().splitlines()) == 2


def test_flag_overrides_param(tmp_path, params_file) -> None:  # noqa: F811
    params_file(on_error="skip")
    src = make_export(tmp_path, days={**GOOD, "general/2016-05-04.json": BAD_JSON})
    res = cli(str(src), "--out", str(tmp_path / "m.jsonl"), "--on-error", "fail")
    assert res.exit_code == 2 and "invalid JSON at line 3" in res.stderr


def test_bad_params_named(tmp_path, params_file) -> None:  # noqa: F811
    params_file(date_from="2025-13-01")
    res = cli(str(make_export(tmp_path)), "--out", str(tmp_path / "m.jsonl"))
    assert res.exit_code == 2 and "ingest.date_from" in res.stderr


def test_failed_tracked_run_is_not_left_running(tmp_path, params_file) -> None:  # noqa: F811
    import mlflow

    src = make_export(tmp_path, days={**GOOD, "general/2016-05-04.json": BAD_JSON})
    res = runner.invoke(app, ["ingest", str(src), "--out", str(tmp_path / "m.jsonl")])
    assert res.exit_code == 2
    run = mlflow.search_runs(experiment_names=["rftlab"], filter_string="tags.`rftlab.kind` = 'ingest'",
                             order_by=["attributes.start_time DESC"], output_format="list")[0]
    assert run.info.status == "FAILED"


def test_corrupt_zip_member_named_and_skippable(tmp_path, params_file) -> None:  # noqa: F811
    src = make_export(tmp_path, as_zip=True, days={**GOOD, "general/2016-05-04.json": [msg(9, "U1", "x" * 400)]})
    blob = bytearray(src.read_bytes())
    at = blob.index(b"general/2016-05-04.json") + len("general/2016-05-04.json")  # first: the local header
    blob[at + 40 : at + 60] = b"\x00" * 20  # damage the member's compressed bytes (CRC no longer matches)
    src.write_bytes(bytes(blob))
    res = cli(str(src), "--out", str(tmp_path / "m.jsonl"))
    assert res.exit_code == 2 and res.stderr.startswith("error: export.zip:general/2016-05-04.json: unreadable")
    res = cli(str(src), "--out", str(tmp_path / "m.jsonl"), "--on-error", "skip")
    assert res.exit_code == 0 and "skipped 1 bad day files" in res.output
