"""Bedrock RFT grader contract: a batch of samples in, one result per sample out, same order.

The Lambda entry point, `rftlab invoke` and the local trainer all go through `handle`, so
the three cannot drift. Imports stay light (no mlflow, pandas or torch).

Request, as AWS documents it ("Setting up reward functions for Amazon Nova models",
https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html, and the
open-weight page, .../userguide/reward-functions-open-weight.html): a JSON list of samples
`{"id": "123", "messages": [{"role": "user", "content": ...}, {"role": "assistant",
"content": ...}], "metadata": {"reference_answer": ...}}`. AWS's sample reward functions
(aws-samples/amazon-bedrock-samples, custom-models/bedrock-reinforcement-fine-tuning/
reward-functions/) accept the scored turn as `assistant` or `nova_assistant`
(finqa_rew_func.py, pandalm_rew_func.py), read `reference_answer` from `metadata` or the
top level (gsm8k_rew_func.py), and the open-weight sample also takes the list wrapped as
`{"trajectories": [...]}` (gsm8k_gptoss_rew_func.py).

Response: `[{"id", "aggregate_reward_score", "metrics_list": [{"name", "value", "type"}]}]`
(same pages). `type` is "Reward" or "Metric" as in the samples (the sample folder's
README.md and pandalm_rew_func.py tag the [0, 1] judge score "Reward" and an error flag
"Metric"): here one bounded "Reward" entry equal to aggregate_reward_score, and every
family component (an unbounded log-likelihood ratio) and guard as "Metric". Without a
relevance judge the Reward entry is `style`. With one (grader/relevance.py, the bundle's
`relevance` block) it is `reward` = style x (1 - weight x (1 - relevance)), and `style`,
`relevance`, `relevance_failed` and `relevance_undetermined` are Metrics; the batch's judge
calls run together, within `deadline_s` (the Lambda's remaining time less a margin).

Contract (tests/test_grader_contract_*.py): `handle` never raises, answers exactly one
result per sample in input order, echoes each sample's own id (a sample without a usable
id gets a synthesized id unique in the batch and equal to no real id), every score is a
finite float in [0, 1] and the response is plain JSON. A payload holding no samples it can
read gets `[]`, never a result whose id matches no sample.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from rftlab.grader.bundle import Grader, load_grader
from rftlab.grader.content import read_content
from rftlab.grader.deployment import verify_image
from rftlab.grader.reward import add_ceiling, apply_relevance
from rftlab.grader.scoring import finite

ASSISTANT_ROLES = frozenset({"assistant", "nova_assistant"})
MAX_TEXT_CHARS = 100_000
# a dict (without "messages") wrapping the list: AWS's open-weight sample reads
# event.get("trajectories", []) (gsm8k_gptoss_rew_func.py); "samples" is rftlab's own
WRAPPER_KEYS = ("trajectories", "samples")
STYLE_METRIC = "style"  # the one "Reward" entry without a relevance judge: the aggregate score, in [0, 1]
DEADLINE_MARGIN_S = 5.0  # left for scoring and answering once the judge calls are cut off
MISSING_ID_PREFIX = "rftlab-no-id-"
log = logging.getLogger("rftlab.grader")


def _content_text(content: Any) -> str | None:
    """Message content's text parts (grader/content.py: non-text parts are recorded, not scored)."""
    return read_content(content)[0]


def _role(message: Any) -> str | None:
    """A message's role when it is a string (a JSON object or array there is no role)."""
    role = message.get("role") if isinstance(message, dict) else None
    return role if isinstance(role, str) else None


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


def _parse_sample(sample: Any) -> tuple[str, str | None, str | None, dict[str, int]]:
    """(completion, prompt, reference, the completion's non-text parts by kind), or ValueError naming the reason."""
    if not isinstance(sample, dict):
        raise ValueError("not_object")
    messages = sample.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("no_messages")
    last = next((i for i in range(len(messages) - 1, -1, -1) if _role(messages[i]) in ASSISTANT_ROLES), None)
    if last is None:
        raise ValueError("no_assistant_message")
    completion, others = read_content(messages[last].get("content"))
    if completion is None:
        raise ValueError("content_not_text")
    prompt = None
    for m in reversed(messages[:last]):
        if _role(m) == "user":
            prompt = _content_text(m.get("content"))
            break
    return completion[:MAX_TEXT_CHARS], (prompt[:MAX_TEXT_CHARS] if prompt else None), _reference(sample), others


def read_samples(payload: Any) -> list[Any] | None:
    """The payload's samples, or None when it holds none that can be read.

    A list is the batch. A dict with `messages` is one bare sample (even when it also has
    other keys); else a dict whose `trajectories` or `samples` is a list is that list; else a
    dict with an `id` is one (malformed) sample. A str or bytes is decoded as JSON text first
    (once). Anything else (null, a number, other dicts, invalid JSON or UTF-8) holds none.
    """
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except (ValueError, RecursionError):  # bad JSON, or an integer past Python's digit limit
            return None
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        return None
    if "messages" in payload:
        return [payload]
    for key in WRAPPER_KEYS:
        if isinstance(payload.get(key), list):
            return payload[key]
    return [payload] if "id" in payload else None


def _own_id(sample: Any) -> str | None:
    """The sample's id as a string: a JSON string as is, a number as its decimal text.
    None (no usable id) for a missing id, null, true/false, NaN/inf, an object or array,
    or an integer beyond Python's int-to-str digit limit (sys.get_int_max_str_digits)."""
    sid = sample.get("id") if isinstance(sample, dict) else None
    if isinstance(sid, str):
        return sid
    if isinstance(sid, bool):
        return None
    if isinstance(sid, int):
        try:
            return str(sid)
        except ValueError:
            return None
    if isinstance(sid, float) and math.isfinite(sid):
        return repr(sid)
    return None


def _ids(samples: list[Any]) -> list[str]:
    """Each sample's own id; `rftlab-no-id-<index>` (plus `-<k>` until free) for the rest,
    so a synthesized id never equals a real id in the batch nor another synthesized one.
    Real ids are echoed even when the batch repeats them (order still tells them apart)."""
    own = [_own_id(s) for s in samples]
    taken = {sid for sid in own if sid is not None}
    out: list[str] = []
    for i, sid in enumerate(own):
        if sid is None:
            sid, k = f"{MISSING_ID_PREFIX}{i}", 0
            while sid in taken:
                k += 1
                sid = f"{MISSING_ID_PREFIX}{i}-{k}"
            taken.add(sid)
        out.append(sid)
    return out


def _result(sid: str, score: float, comps: dict[str, float]) -> dict[str, Any]:
    score = min(1.0, max(0.0, finite(score)))
    metrics = [{"name": STYLE_METRIC, "value": round(score, 6), "type": "Reward"}]
    metrics += [{"name": str(name), "value": round(finite(v), 6), "type": "Metric"} for name, v in comps.items()]
    return {"id": sid, "aggregate_reward_score": score, "metrics_list": metrics}


def _malformed(sid: str, reason: str) -> dict[str, Any]:
    """Score 0.0 and a metric whose name says why (e.g. `malformed_no_messages`)."""
    return {"id": sid, "aggregate_reward_score": 0.0,
            "metrics_list": [{"name": f"malformed_{reason}", "value": 1.0, "type": "Metric"}]}


def _score_one(sample: Any, sid: str, grader: Grader) -> tuple[dict[str, Any], tuple[str | None, str] | None]:
    """(result, (prompt, completion) or None when not scored): a malformed sample or a grader
    error scores 0.0 instead of raising."""
    try:
        completion, prompt, reference, others = _parse_sample(sample)
    except ValueError as exc:
        return _malformed(sid, str(exc)), None
    try:
        score, comps = grader.score(completion, prompt=prompt, reference=reference)
        result = _result(sid, score, comps)
        result["metrics_list"] += [{"name": f"content_part_{kind}"[:64], "value": float(n), "type": "Metric"}
                                   for kind, n in sorted(others.items())]  # what came besides text
        return result, (prompt, completion)
    except Exception:  # noqa: BLE001 - one sample must never fail the batch
        log.exception("grader error on sample %r", sid[:100])
        return _malformed(sid, "internal_error"), None


def handle(payload: Any, grader: Grader, *, deadline_s: float | None = None) -> list[dict[str, Any]]:
    """Score every sample; same ids and order; never raises. Logs one JSON line per batch.

    `deadline_s`: how long the relevance judge's calls may take for the whole batch (None: no limit)."""
    t0 = time.perf_counter()
    try:
        samples = read_samples(payload)
    except Exception:  # noqa: BLE001 - e.g. RecursionError on absurdly nested input
        samples = None
    unreadable = samples is None
    samples = samples or []
    out: list[dict[str, Any]] = []
    pairs: list[tuple[str | None, str] | None] = []
    errors = int(unreadable)
    for sample, sid in zip(samples, _ids(samples), strict=True):
        result, pair = _score_one(sample, sid, grader)
        out.append(result)
        pairs.append(pair)
        errors += pair is None
    judge_failures = apply_relevance(out, pairs, grader, deadline_s)
    add_ceiling(out, [p is not None for p in pairs], grader)
    log.info(json.dumps({"event": "grader_batch", "count": len(samples), "errors": errors,
                         "unreadable_payload": unreadable, "judge_failures": judge_failures,
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


_IN_LAMBDA: contextvars.ContextVar[bool] = contextvars.ContextVar("rftlab_in_lambda", default=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (CloudWatch Logs in Lambda), so a stream that was
    replaced and closed since (a test runner, a CLI invocation in the same process) is never written to."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _setup_logging() -> None:
    """One line per event on stdout."""
    if not any(isinstance(h, _StdoutHandler) for h in log.handlers):
        h = _StdoutHandler()
        h.addFilter(lambda _record: _IN_LAMBDA.get())  # `rftlab invoke` / the trainer print no log lines
        h.set_name("rftlab-grader-stdout")
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False


def lambda_handler(event: Any, context: Any = None) -> list[dict[str, Any]]:
    """AWS Lambda entry point (see _lambda_handler); its log lines go to stdout (CloudWatch Logs)."""
    token = _IN_LAMBDA.set(True)
    try:
        return _lambda_handler(event, context)
    finally:
        _IN_LAMBDA.reset(token)


def _lambda_handler(event: Any, context: Any = None) -> list[dict[str, Any]]:
    """AWS Lambda entry point: the bundle is loaded once per container (env RFTLAB_GRADER).

    At cold start the image's deployment version (bundle + rftlab sources + pinned requirements
    + base image) is recomputed and compared with the function's RFTLAB_GRADER_VERSION.
    """
    global _GRADER
    _setup_logging()
    if _GRADER is None:
        path = default_grader_path()
        # A mismatch raises (logged first as `grader_deployment_mismatch`), so every invocation
        # fails and the grader is not cached. We do not answer 0 with a named metric instead:
        # an all-zero reward looks like a normal (if flat) reward curve, and the job would keep
        # training and billing against a reward that is not the recorded grader version. A
        # failed invocation shows up in Lambda's error metrics and in the job, and nothing is
        # learned from the wrong reward.
        verify_image(path, log)
        _GRADER = load_grader(path)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = max(1.0, remaining() / 1000.0 - DEADLINE_MARGIN_S) if callable(remaining) else None
    return handle(event, _GRADER, deadline_s=deadline)
