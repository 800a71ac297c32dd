"""Bedrock RFT grader contract (DESIGN §3): a list of samples in, one result per sample out.

The Lambda entry point, `rftlab invoke` and the local trainer all go through `handle`, so
the three cannot drift. `handle` never raises: a malformed sample scores 0.0 with a
`malformed` metric naming why. Imports stay light (no mlflow, pandas or torch).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from rftlab.grader.bundle import Grader, load_grader
from rftlab.grader.scoring import GUARDS

ASSISTANT_ROLES = frozenset({"assistant", "nova_assistant"})
MAX_TEXT_CHARS = 100_000
BATCH_KEYS = ("samples", "Samples", "records", "items", "data", "body", "payload", "input", "inputs")
log = logging.getLogger("rftlab.grader")


def _content_text(content: Any) -> str | None:
    """Message content as text: a string, or a list of {"text": ...} parts (Converse style)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") if isinstance(p, dict) else p for p in content]
        if parts and all(isinstance(p, str) for p in parts):
            return "".join(parts)
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"]
    return None


def _reference(sample: dict) -> Any:
    meta = sample.get("metadata")
    ref = meta.get("reference_answer") if isinstance(meta, dict) else None
    if ref is None:
        ref = sample.get("reference_answer")
    if isinstance(ref, dict):  # an object: look for the text inside
        for key in ("text", "content", "answer", "reference_answer"):
            if isinstance(ref.get(key), str):
                return ref[key]
        return None
    return ref if isinstance(ref, str) else None


def _parse_sample(sample: Any) -> tuple[str, str | None, str | None]:
    """(completion, prompt, reference), or ValueError whose message is the reason code."""
    if not isinstance(sample, dict):
        raise ValueError("not_object")
    messages = sample.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("no_messages")
    last = None
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, dict) and m.get("role") in ASSISTANT_ROLES:
            last = i
            break
    if last is None:
        raise ValueError("no_assistant_message")
    completion = _content_text(messages[last].get("content"))
    if completion is None:
        raise ValueError("content_not_text")
    prompt = None
    for m in reversed(messages[:last]):
        if isinstance(m, dict) and m.get("role") == "user":
            prompt = _content_text(m.get("content"))
            break
    return completion[:MAX_TEXT_CHARS], (prompt[:MAX_TEXT_CHARS] if prompt else None), _reference(sample)


def _sample_id(sample: Any, index: int) -> str:
    if isinstance(sample, dict):
        sid = sample.get("id")
        if isinstance(sid, (str, int, float)) and not isinstance(sid, bool):
            return str(sid)
    return str(index)


def _finite(x: float) -> float:
    return float(x) if x == x and abs(x) != float("inf") else 0.0


def _result(sid: str, score: float, comps: dict[str, float]) -> dict[str, Any]:
    metrics = [{"name": name, "value": round(_finite(v), 6), "type": "Metric" if name in GUARDS else "Reward"}
               for name, v in comps.items()]
    return {"id": sid, "aggregate_reward_score": _finite(score), "metrics_list": metrics}


def _malformed(sid: str, reason: str) -> dict[str, Any]:
    """Score 0.0 and a metric whose name says why (e.g. `malformed_no_messages`)."""
    return {"id": sid, "aggregate_reward_score": 0.0,
            "metrics_list": [{"name": f"malformed_{reason}", "value": 1.0, "type": "Metric"}]}


def _samples(payload: Any) -> list[Any]:
    """The list of samples; a dict wrapping the list (or one bare sample) is accepted too."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return [payload]
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in BATCH_KEYS:
            if key in payload:
                inner = payload[key]
                if isinstance(inner, str):
                    try:
                        inner = json.loads(inner)
                    except ValueError:
                        pass
                return inner if isinstance(inner, list) else [inner]
        return [payload]
    return [payload]


def handle(payload: Any, grader: Grader) -> list[dict[str, Any]]:
    """Score every sample; same ids and order; never raises. Logs one JSON line per batch."""
    t0 = time.perf_counter()
    out: list[dict[str, Any]] = []
    errors = 0
    try:
        samples = _samples(payload)
    except Exception:  # noqa: BLE001 - the batch must never fail
        samples, errors = [], 1
        out.append(_malformed("0", "unreadable_payload"))
    for i, sample in enumerate(samples):
        sid = _sample_id(sample, i)
        try:
            completion, prompt, reference = _parse_sample(sample)
        except ValueError as exc:
            errors += 1
            out.append(_malformed(sid, str(exc)))
            continue
        try:
            score, comps = grader.score(completion, prompt=prompt, reference=reference)
            out.append(_result(sid, score, comps))
        except Exception:  # noqa: BLE001
            errors += 1
            log.exception("grader error on sample %s", sid)
            out.append(_malformed(sid, "internal_error"))
    log.info(json.dumps({"event": "grader_batch", "count": len(samples), "errors": errors,
                            "ms": round((time.perf_counter() - t0) * 1000, 2),
                            "grader_version": getattr(grader, "version", None)}))
    return out


def to_payload(prompt_messages: list[dict], completion: str, *, sample_id: str,
               reference_answer: Any = None, metadata: dict | None = None) -> dict[str, Any]:
    """One Bedrock-shaped sample: the prompt messages plus the completion as the assistant turn."""
    meta = dict(metadata or {})
    if reference_answer is not None:
        meta["reference_answer"] = reference_answer
    return {"id": str(sample_id),
            "messages": [*prompt_messages, {"role": "assistant", "content": completion}],
            "metadata": meta}


_GRADER: Grader | None = None


def default_grader_path() -> Path:
    return Path(os.environ.get("RFTLAB_GRADER") or Path(__file__).with_name("grader.json"))


def _setup_logging() -> None:
    """One line per event on stdout (CloudWatch Logs in Lambda), following sys.stdout if it was replaced."""
    ours = [h for h in log.handlers if h.get_name() == "rftlab-grader-stdout"]
    if not log.handlers:
        h = logging.StreamHandler(sys.stdout)
        h.set_name("rftlab-grader-stdout")
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
    for h in ours:
        if isinstance(h, logging.StreamHandler) and h.stream is not sys.stdout:
            h.stream = sys.stdout  # not setStream: it flushes the old stream, which may be closed


def lambda_handler(event: Any, context: Any = None) -> list[dict[str, Any]]:
    """AWS Lambda entry point: the bundle is loaded once per container (env RFTLAB_GRADER).

    At cold start the image's deployment version (bundle + rftlab sources + pinned requirements
    + base image) is recomputed and compared with the function's RFTLAB_GRADER_VERSION.
    """
    global _GRADER
    _setup_logging()
    if _GRADER is None:
        from rftlab.grader.deployment import verify_image

        path = default_grader_path()
        # A mismatch raises (logged first as `grader_deployment_mismatch`), so every invocation
        # fails and the grader is not cached. We do not answer 0 with a named metric instead:
        # an all-zero reward looks like a normal (if flat) reward curve, and the job would keep
        # training and billing against a reward that is not the recorded grader version. A
        # failed invocation shows up in Lambda's error metrics and in the job, and nothing is
        # learned from the wrong reward.
        verify_image(path, log)
        _GRADER = load_grader(path)
    return handle(event, _GRADER)
