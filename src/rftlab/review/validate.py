"""What the review page may send: checked before anything is stored (docs/review.md#the-page-s-api).

A vote is a JSON object `{"reviewer", "pair_id", "choice", "comment"}` posted with
`Content-Type: application/json` (a page on another site cannot send that without the browser's CORS
preflight, which this server never answers) from this server's own origin. Anything else is refused
with a 4xx status and a one-line `{"error": ...}`, never a traceback: a missing or oversized body, bytes
that are not UTF-8, JSON that is not an object, unknown fields, wrong types, lone surrogates, control
characters, names or comments too long.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_BODY = 16 * 1024
MAX_NAME = 64
MAX_COMMENT = 2000
PICKS = ("left", "right", "cant_tell")
FIELDS = ("reviewer", "pair_id", "choice", "comment")
_BAD_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn")  # control, format, surrogate, private use, unassigned


class BadRequest(Exception):
    """A request the server refuses: an HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class VoteRequest:
    reviewer: str
    pair_id: str
    choice: str   # left, right or cant_tell: the side the reviewer picked on their page
    comment: str


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(400, f"{field}: expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(400, f"{field}: contains a lone surrogate (not text)") from None
    return value


def reviewer_name(value: Any, field: str = "reviewer") -> str:
    """A reviewer's name as stored: spaces collapsed, NFC; 1-64 printable characters."""
    name = unicodedata.normalize("NFC", " ".join(_string(value, field).split()))
    if not name:
        raise BadRequest(400, f"{field}: empty")
    if len(name) > MAX_NAME:
        raise BadRequest(400, f"{field}: longer than {MAX_NAME} characters")
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in name):
        raise BadRequest(400, f"{field}: contains control or unassigned characters")
    return name


def comment_text(value: Any) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", _string(value, "comment")).strip()
    if len(text) > MAX_COMMENT:
        raise BadRequest(400, f"comment: longer than {MAX_COMMENT} characters")
    if any(unicodedata.category(c) in _BAD_CATEGORIES and c not in "\n\t" for c in text):
        raise BadRequest(400, "comment: contains control or unassigned characters")
    return text


def content_length(headers: Any) -> int:
    """The body's declared length, checked against MAX_BODY before the body is read."""
    raw = headers.get("Content-Length")
    if raw is None:
        raise BadRequest(411, "Content-Length required")
    if not raw.strip().isascii() or not raw.strip().isdigit():
        raise BadRequest(400, "Content-Length is not a number")
    n = int(raw.strip())
    if n > MAX_BODY:
        raise BadRequest(413, f"body larger than {MAX_BODY} bytes")
    return n


def vote_request(headers: Any, body: bytes) -> VoteRequest:
    """The vote a POST body holds, or BadRequest."""
    ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise BadRequest(415, "Content-Type must be application/json")
    if len(body) > MAX_BODY:
        raise BadRequest(413, f"body larger than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "body is not UTF-8") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadRequest(400, f"body is not JSON: {reason[:200]}") from None
    if not isinstance(obj, dict):
        raise BadRequest(400, f"body must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(k for k in obj if k not in FIELDS)
    if unknown:
        raise BadRequest(400, f"unknown field(s): {', '.join(repr(k[:40]) for k in unknown[:5])}")
    for field in ("reviewer", "pair_id", "choice"):
        if field not in obj:
            raise BadRequest(400, f"{field}: missing")
    choice = _string(obj["choice"], "choice")
    if choice not in PICKS:
        raise BadRequest(400, f"choice: expected one of {', '.join(PICKS)}")
    return VoteRequest(reviewer=reviewer_name(obj["reviewer"]), pair_id=_string(obj["pair_id"], "pair_id"),
                       choice=choice, comment=comment_text(obj.get("comment")))
