"""Traces and human feedback on a finished run: MLflow 3's GenAI records, used for blind review.

- `log_traces` makes one trace per item, linked to an existing (finished) run without reopening it
  (`MlflowClient.start_trace(..., run_id=...)` sets the trace's `mlflow.sourceRun`), so the run's
  Traces tab in `mlflow ui` lists them. Tracing exports asynchronously by default; the traces are
  flushed before their ids are returned, or a feedback logged right after would find no trace.
- `record_feedback` stores one person's answer as a feedback assessment whose source is
  `HUMAN/<person>`. A second answer by the same person on the same trace updates that assessment in
  place (`mlflow.update_assessment`: same id, source kept, metadata merged), never adds a second one;
  duplicates left by two tabs answering at once are deleted, the latest kept.
- `feedbacks` returns the valid assessments of a name: an assessment MLflow's UI overrode
  (`override_feedback`) is kept with `valid=False` and is skipped here.
Docs: https://mlflow.org/docs/latest/genai/tracing/collect-user-feedback (log_feedback, HUMAN sources).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.privacy.redact import redact_obj, redact_text
from rftlab.tracking.store import mlflow_api, open_store

log = logging.getLogger(__name__)

HUMAN = "HUMAN"


@dataclass(frozen=True)
class TraceRecord:
    """A trace as rftlab reads it back: its tags and its root span's inputs and outputs."""

    trace_id: str
    tags: dict[str, str]
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackRecord:
    """One valid feedback assessment on a trace."""

    trace_id: str
    assessment_id: str
    name: str
    source_type: str
    source_id: str
    value: Any
    rationale: str | None
    metadata: dict[str, Any]
    created_ms: int
    updated_ms: int


def _client() -> Any:
    open_store()
    return mlflow_api().MlflowClient()


TraceItem = tuple[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, str]]  # name, inputs, outputs, tags


def log_traces(run_id: str, items: Iterable[TraceItem]) -> list[str]:
    """One trace per (name, inputs, outputs, tags), linked to finished run `run_id`; their ids, in order."""
    client = _client()
    experiment_id = client.get_run(run_id).info.experiment_id
    ids = []
    for name, inputs, outputs, tags in items:
        span = client.start_trace(name, inputs=dict(inputs), tags=dict(tags), experiment_id=experiment_id, run_id=run_id)
        client.end_trace(span.trace_id, outputs=dict(outputs))
        ids.append(span.trace_id)
    mlflow_api().flush_trace_async_logging()
    return ids


def _filter(tags: Mapping[str, str]) -> str | None:
    parts = []
    for key, value in tags.items():
        safe = str(value).replace("'", "\\'")
        parts.append(f"tags.`{key}` = '{safe}'")
    return " AND ".join(parts) or None


def _root_io(trace: Any) -> tuple[dict, dict]:
    spans = trace.data.spans if trace.data is not None else []
    root = next((s for s in spans if s.parent_id is None), spans[0] if spans else None)
    if root is None:
        return {}, {}
    inputs, outputs = root.inputs, root.outputs
    return (inputs if isinstance(inputs, dict) else {}), (outputs if isinstance(outputs, dict) else {})


def _search(run_id: str, tags: Mapping[str, str], *, spans: bool) -> list[Any]:
    client = _client()
    experiment_id = client.get_run(run_id).info.experiment_id
    return mlflow_api().search_traces(locations=[experiment_id], run_id=run_id, filter_string=_filter(tags),
                                      return_type="list", include_spans=spans, max_results=None)


def run_traces(run_id: str, tags: Mapping[str, str]) -> list[TraceRecord]:
    """The traces of run `run_id` carrying all of `tags`, with their root span's inputs and outputs."""
    found = []
    for trace in _search(run_id, tags, spans=True):
        inputs, outputs = _root_io(trace)
        found.append(TraceRecord(trace.info.trace_id, dict(trace.info.tags), inputs, outputs))
    return found


def delete_traces(run_id: str, trace_ids: list[str]) -> int:
    """Delete traces of the run (e.g. what an interrupted preparation left); returns how many."""
    if not trace_ids:
        return 0
    client = _client()
    experiment_id = client.get_run(run_id).info.experiment_id
    n = 0
    for i in range(0, len(trace_ids), 100):
        n += client.delete_traces(experiment_id, trace_ids=trace_ids[i:i + 100])
    return n


def _record(trace_id: str, a: Any) -> FeedbackRecord:
    return FeedbackRecord(trace_id=trace_id, assessment_id=a.assessment_id, name=a.name,
                          source_type=str(a.source.source_type), source_id=str(a.source.source_id), value=a.value,
                          rationale=a.rationale, metadata=dict(a.metadata or {}), created_ms=int(a.create_time_ms or 0),
                          updated_ms=int(a.last_update_time_ms or a.create_time_ms or 0))


def _valid(trace_id: str, assessments: Iterable[Any], name: str) -> list[FeedbackRecord]:
    return [_record(trace_id, a) for a in assessments or []
            if a.name == name and a.valid is not False and getattr(a, "feedback", None) is not None]


def feedbacks(run_id: str, tags: Mapping[str, str], name: str) -> list[FeedbackRecord]:
    """Every valid feedback named `name` on the run's traces carrying `tags`."""
    out = []
    for trace in _search(run_id, tags, spans=False):
        out += _valid(trace.info.trace_id, trace.info.assessments, name)
    return out


def record_feedback(trace_id: str, name: str, value: Any, *, source_id: str, rationale: str | None,
                    metadata: Mapping[str, str]) -> tuple[FeedbackRecord, bool]:
    """`source_id`'s answer on a trace: a new HUMAN feedback, or their earlier one updated in place.

    Returns the stored record and whether an earlier answer was replaced. `rationale` None or ""
    leaves the assessment without a comment (an earlier comment is cleared)."""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.entities import AssessmentSource, Feedback

    mlflow = mlflow_api()
    open_store()
    trace = mlflow.get_trace(trace_id)
    if trace is None:
        raise LookupError(f"trace {trace_id} not found in the MLflow store")
    mine = sorted((f for f in _valid(trace_id, trace.info.assessments, name)
                   if f.source_type == HUMAN and f.source_id == source_id), key=lambda f: (f.updated_ms, f.created_ms))
    meta = {k: str(v) for k, v in metadata.items()}
    if not mine:
        source = AssessmentSource(source_type=HUMAN, source_id=source_id)
        made = mlflow.log_feedback(trace_id=trace_id, name=name, value=value, source=source,
                                   rationale=rationale or None, metadata=meta)
        return _record(trace_id, made), False
    keep, extra = mine[-1], mine[:-1]
    for dup in extra:  # two tabs answered at once: one answer per person stays
        mlflow.delete_assessment(trace_id=trace_id, assessment_id=dup.assessment_id)
    updated = mlflow.update_assessment(trace_id, keep.assessment_id,
                                       Feedback(name=name, value=value, rationale=rationale or "", metadata=meta))
    return _record(trace_id, updated), True


def ensure_feedback_schema(run_id: str, name: str, options: list[str], *, title: str, instruction: str) -> bool:
    """A categorical label schema `name` in the run's experiment, so MLflow's own Review tab asks the same
    question (experimental in MLflow 3.14+); False, and a debug line, when the store has no schemas."""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.genai import label_schemas

    experiment_id = _client().get_run(run_id).info.experiment_id
    try:
        label_schemas.get_label_schema(name, experiment_id=experiment_id)
        return True
    except Exception:  # not there yet (or the store has no label schemas): create it below
        pass
    try:
        label_schemas.create_label_schema(name, type="feedback", input=label_schemas.InputCategorical(options=options),
                                          title=title, instruction=instruction, enable_comment=True,
                                          experiment_id=experiment_id)
        return True
    except Exception as exc:  # experimental API: the review works without it
        log.debug("label schema %s not created: %s", name, exc)
        return False


def log_dict_to(run_id: str, obj: Any, artifact_file: str) -> None:
    """Write a JSON artifact into a run that is not the active one (secrets redacted, as log_dict does)."""
    _client().log_dict(run_id, redact_obj(obj), artifact_file)


def log_text_to(run_id: str, text: str, artifact_file: str) -> None:
    """Write a text artifact into a run that is not the active one."""
    _client().log_text(run_id, redact_text(text), artifact_file)


def load_json_artifact(run_id: str, artifact_path: str) -> Any | None:
    """A run's JSON artifact, parsed; None when the run has no such artifact."""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.exceptions import MlflowException

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _client()
    with tempfile.TemporaryDirectory(prefix="rftlab-artifact-") as tmp:
        try:
            local = mlflow_api().artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=tmp)
        except (MlflowException, OSError):
            return None
        try:
            return json.loads(Path(local).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise InputError(f"run {run_id}: artifact {artifact_path} is not readable JSON ({exc})") from None
