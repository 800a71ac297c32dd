"""The review page's server side, without sockets: GET and POST in, a Response out.

Each reviewer sees every pair of the review once, in an order of their own, and each pair's two
replies in a left/right order of their own (both drawn from the reviewer's name and the review's
seed, so a reload or a restart shows the same thing). The next pair is the first one in that order
the reviewer has not voted on: closing the page and coming back resumes there. Requests must come
from this server's own origin (`Host` and, when sent, `Origin` are checked: no other site, and no
DNS-rebound name, can read pairs or vote).

Routes: `GET /` (the page), `GET /review.js`, `GET /review.css`, `GET /api/info`,
`GET /api/pair?reviewer=NAME[&index=I]`, `POST /api/vote`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rftlab.review.store import Review, Vote
from rftlab.review.validate import BadRequest, VoteRequest, reviewer_name, vote_request

log = logging.getLogger(__name__)

STATIC = {"/": ("page.html", "text/html; charset=utf-8"), "/review.js": ("review.js", "text/javascript; charset=utf-8"),
          "/review.css": ("review.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, obj: Any) -> Response:
    return Response(status, json.dumps(obj, ensure_ascii=True).encode("ascii"))


def error(status: int, message: str) -> Response:
    return _json(status, {"error": " ".join(message.split())})


def order(pair_ids: list[str], reviewer: str, seed: int) -> list[str]:
    """The reviewer's own order of the pairs."""
    ids = list(pair_ids)
    random.Random(f"{seed}|{reviewer}").shuffle(ids)
    return ids


def shown_left(reviewer: str, pair_id: str, seed: int) -> str:
    """The canonical reply ("A" or "B") this reviewer sees on the left for this pair."""
    return "A" if hashlib.sha256(f"{seed}|{reviewer}|{pair_id}".encode()).digest()[0] % 2 == 0 else "B"


def canonical(choice: str, left: str) -> str:
    """The picked side on the page -> the stored value (A, B or cant_tell)."""
    if choice == "cant_tell":
        return "cant_tell"
    right = "B" if left == "A" else "A"
    return left if choice == "left" else right


def picked(value: str, left: str) -> str | None:
    """A stored value -> the side it was on for this reviewer (None: not voted)."""
    if value == "cant_tell":
        return "cant_tell"
    return "left" if value == left else "right"


class App:
    """The review of one evaluation, served to any number of reviewers at once."""

    def __init__(self, review: Review, votes: Mapping[tuple[str, str], Vote], *, port: int, target: str,
                 record: Callable[..., tuple[Vote, bool]]) -> None:
        self.review = review
        self.votes = dict(votes)
        self.port = port
        self.target = target
        self.record = record
        self.lock = threading.Lock()
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    # ------------------------------------------------------------------ checks
    def _origin_ok(self, headers: Any) -> None:
        host = (headers.get("Host") or "").strip().lower()
        if host not in self.hosts:
            raise BadRequest(403, "forbidden: requests must be addressed to this server (Host)")
        origin = headers.get("Origin")
        if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in self.hosts}:
            raise BadRequest(403, "forbidden: cross-origin request")

    def _state(self, reviewer: str, index: int | None) -> dict:
        ids = order([i.pair_id for i in self.review.items], reviewer, self.review.seed)
        with self.lock:
            mine = {pid: v for (who, pid), v in self.votes.items() if who == reviewer}
        if index is None:
            index = next((k for k, pid in enumerate(ids) if pid not in mine), len(ids))
        if not 0 <= index <= len(ids):
            raise BadRequest(400, f"index: expected 0 to {len(ids)}")
        state: dict[str, Any] = {"reviewer": reviewer, "total": len(ids), "done": len(mine), "index": index,
                                 "pair": None, "vote": None, "comment": ""}
        if index < len(ids):
            item = self.review.item(ids[index])
            if item is None:  # cannot happen: the order is made of the review's own pairs
                raise BadRequest(404, "no such pair")
            left = shown_left(reviewer, item.pair_id, self.review.seed)
            texts = {"A": item.a, "B": item.b}
            state["pair"] = {"id": item.pair_id, "prompt": item.prompt, "left": texts[left],
                             "right": texts["B" if left == "A" else "A"]}
            vote = mine.get(item.pair_id)
            if vote is not None:
                state["vote"], state["comment"] = picked(vote.value, left), vote.comment
        return state

    # ------------------------------------------------------------------ routes
    def get(self, target: str, headers: Any) -> Response:
        try:
            self._origin_ok(headers)
            url = urlsplit(target)
            if url.path in STATIC:
                name, ctype = STATIC[url.path]
                body = resources.files("rftlab.review").joinpath(name).read_bytes()
                return Response(200, body, ctype)
            query = parse_qs(url.query, keep_blank_values=True, max_num_fields=10)
            if url.path == "/api/info":
                return _json(200, {"target": self.target, "total": len(self.review.items), "kind": self.review.kind})
            if url.path == "/api/pair":
                reviewer = reviewer_name((query.get("reviewer") or [None])[0])
                raw = (query.get("index") or [None])[0]
                if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) < 7):
                    raise BadRequest(400, "index: expected a whole number")
                return _json(200, self._state(reviewer, None if raw is None else int(raw)))
            return error(404, f"no page {url.path[:80]}")
        except BadRequest as exc:
            return error(exc.status, exc.message)
        except ValueError as exc:  # parse_qs: too many fields, bad percent-encoding
            return error(400, f"bad query: {exc}")

    def post(self, target: str, headers: Any, body: bytes) -> Response:
        try:
            self._origin_ok(headers)
            if urlsplit(target).path != "/api/vote":
                return error(404, "no such endpoint (votes go to POST /api/vote)")
            req = vote_request(headers, body)
            if self.review.item(req.pair_id) is None:
                return error(404, "pair_id: not a pair of this review")
            return self._vote(req)
        except BadRequest as exc:
            return error(exc.status, exc.message)

    def _vote(self, req: VoteRequest) -> Response:
        left = shown_left(req.reviewer, req.pair_id, self.review.seed)
        value = canonical(req.choice, left)
        with self.lock:  # one vote at a time: a double click never stacks two
            try:
                vote, replaced = self.record(self.review, reviewer=req.reviewer, pair_id=req.pair_id, value=value,
                                             comment=req.comment, shown_left=left, picked=req.choice)
            except Exception as exc:  # the store failed: say so, keep serving
                log.error("vote not stored (%s, %s): %s", req.reviewer, req.pair_id, exc)
                return error(503, f"the vote was not stored: {type(exc).__name__}; try again")
            self.votes[(req.reviewer, req.pair_id)] = vote
        state = self._state(req.reviewer, None)
        return _json(200, {"stored": value, "replaced": replaced, "done": state["done"], "total": state["total"],
                           "next_index": state["index"]})
