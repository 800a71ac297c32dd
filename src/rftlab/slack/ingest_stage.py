"""The `ingest` stage (dvc.yaml `ingest`): a Slack export (zip or folder) -> the messages file
(docs/contracts.md#messages-file, normalised, PII-scrubbed) and the ingest report. Shape: rftlab.stage
(docs/architecture.md).

The stage streams: `compute` reads one day file at a time and yields rows, which `write_outputs`
writes into the messages file's temporary copy as they come, so memory stays bounded by the largest
conversation, not the export. Both files appear only on success (the report is renamed into place
just before the messages file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.config import IngestParams
from rftlab.errors import InputError
from rftlab.headline import write_headline
from rftlab.io import atomic_open, write_json
from rftlab.slack.export import SlackExport
from rftlab.slack.ingest import Ingestor
from rftlab.stage import PASS, Verdict, stage_record

KIND = contracts.INGEST


@dataclass
class Result:
    report: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)  # skipped day file -> why
    seconds: float = 0.0


def read_inputs(source: Path) -> Path:
    if not source.exists():  # before any MLflow run: a wrong path leaves no failed run behind
        raise InputError(f"{source}: export not found (a Slack export .zip or an unpacked export folder)")
    return source


def compute(export: SlackExport, params: IngestParams, on_error: str | None) -> Ingestor:
    """The export's rows, lazily (an Ingestor: `rows()` and the running `report`)."""
    return Ingestor(export, params, on_error)


def gate(result: Result) -> Verdict:
    return PASS  # an export with nothing left is an input error (write_outputs), not a gate


def write_outputs(ingestor: Ingestor, label: str, out: Path, *, report_path: Path | None,
                  headline: Path | None) -> Result:
    """Stream the rows into `out` (atomically), then the report and headline; returns the result."""
    started = dt.datetime.now(dt.timezone.utc)
    with atomic_open(out) as fh:
        for row in ingestor.rows():
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")
        report = ingestor.report.to_dict()
        if report["messages_kept"] == 0:
            why = "no human messages" if report["records"] else "no messages"
            raise InputError(f"{label}: empty export ({why} after filtering; {report['day_files']} day files read)")
        if report_path:
            write_json(report_path, report)
    if headline:
        write_headline(headline, KIND, report)
    seconds = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    return Result(report, dict(ingestor.report.skipped), seconds)


def record(result: Result) -> None:
    report = result.report
    metrics = {k: v for k, v in report.items() if isinstance(v, (int, float))}
    metrics.update({f"pii_{k}": v for k, v in report["pii_scrubbed"].items()})
    metrics.update({f"dropped_{k}": v for k, v in report["dropped_by_reason"].items()})
    metrics["seconds"] = result.seconds
    metrics["messages_per_s"] = report["records"] / result.seconds if result.seconds > 0 else 0.0
    tracking.log_metrics(metrics)
    tracking.log_dict(report, "ingest_report.json")
    if result.skipped:
        tracking.log_text("\n".join(result.skipped.values()) + "\n", "skipped_files.txt")


def run(source: str | os.PathLike, out: str | os.PathLike, *, params: IngestParams,
        report_path: str | os.PathLike | None = None, headline: str | os.PathLike | None = None,
        on_error: str | None = None, track: bool = True) -> dict[str, Any]:
    """Ingest the export; returns the report (kept and dropped by reason, per user and channel)."""
    source = read_inputs(Path(source))
    settings = {**params.model_dump(mode="json"), "on_error": on_error or params.on_error}
    with stage_record(KIND, track=track, run_name="ingest", params=settings, deps={"export": source}) as run_:
        if run_ is not None:
            tracking.log_input_file(source, name=source.name, context="export")
        with SlackExport(source) as export:
            ingestor = compute(export, params, on_error)
            result = write_outputs(ingestor, export.label, Path(out),
                                   report_path=Path(report_path) if report_path else None,
                                   headline=Path(headline) if headline else None)
        verdict = gate(result)
        if run_ is not None:
            record(result)
    verdict.raise_if_failed(KIND)
    return result.report
