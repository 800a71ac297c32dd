"""A local stand-in for Bedrock's OpenAI-compatible fine-tuning API, on 127.0.0.1, for the official `openai` client.

Paths under `/v1` as the client calls them for the operations AWS documents (user guide
fine-tuning-openai-job-create and the gpt-oss/qwen notebooks of aws-samples/amazon-bedrock-samples):
`POST /v1/files` (multipart: file, purpose), `GET /v1/files[/{id}]`, `POST|GET /v1/fine_tuning/jobs`,
`GET /v1/fine_tuning/jobs/{id}`, `POST /v1/fine_tuning/jobs/{id}/cancel`,
`GET /v1/fine_tuning/jobs/{id}/events`, `GET /v1/fine_tuning/jobs/{id}/checkpoints` and
`POST /v1/chat/completions` (the inference path of a fine-tuned model). Lists are OpenAI's cursor
pages (`{"object": "list", "data", "has_more", "first_id", "last_id"}`, `after`/`limit`); events come
newest first. Every request needs `Authorization: Bearer <key>` (the Bedrock API key, docs:
rft-open-weight-access-security). Errors are `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rftlab.backends.bedrock.models import OPEN_WEIGHT_RFT_MODELS
from rftlab.backends.bedrock.rehearsal.openai_jobs import (
    ApiFailure,
    Grade,
    Options,
    State,
    new_id,
)

log = logging.getLogger(__name__)


def page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """One cursor page: the items after `after`, at most `limit` (default 20)."""
    after, limit = query.get("after"), int(query.get("limit") or 20)
    start = next((i + 1 for i, it in enumerate(items) if it["id"] == after), 0) if after else 0
    chunk = items[start:start + limit]
    return {"object": "list", "data": chunk, "has_more": start + limit < len(items),
            "first_id": chunk[0]["id"] if chunk else None, "last_id": chunk[-1]["id"] if chunk else None}


def multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    out = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


class Routes:
    """(method, path regex) -> handler(match, query, body, headers) -> (status, JSON)."""

    def __init__(self, state: State):
        self.s = state
        self.table: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("POST", re.compile(r"/v1/files"), self.create_file),
            ("GET", re.compile(r"/v1/files"), lambda m, q, b, h: page(list(self.s.files.values()), q)),
            ("GET", re.compile(r"/v1/files/([^/]+)"), lambda m, q, b, h: self.s.file(m[1])),
            ("POST", re.compile(r"/v1/fine_tuning/jobs"), lambda m, q, b, h: self.s.create_job(self._json(b)).describe()),
            ("GET", re.compile(r"/v1/fine_tuning/jobs"), lambda m, q, b, h: page(
                [j.describe() for j in sorted(self.s.jobs.values(), key=lambda j: j.created_at, reverse=True)], q)),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/([^/]+)"), lambda m, q, b, h: self.s.job(m[1]).describe()),
            ("POST", re.compile(r"/v1/fine_tuning/jobs/([^/]+)/cancel"), lambda m, q, b, h: self.s.cancel(m[1]).describe()),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/([^/]+)/events"),
             lambda m, q, b, h: page(list(reversed(self.s.job(m[1]).events)), q)),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/([^/]+)/checkpoints"),
             lambda m, q, b, h: page(list(reversed(self.s.job(m[1]).checkpoints)), q)),
            ("POST", re.compile(r"/v1/chat/completions"), self.chat),
        ]

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            out = json.loads(body or b"{}")
        except ValueError:
            raise ApiFailure(400, "We could not parse the JSON body of your request.") from None  # OpenAI's wording
        if not isinstance(out, dict):
            raise ApiFailure(400, "the request body must be a JSON object")  # own wording
        return out

    def create_file(self, m: Any, q: dict[str, str], body: bytes, headers: Any) -> dict[str, Any]:
        parts = multipart(headers.get("Content-Type", ""), body)
        if "file" not in parts:
            raise ApiFailure(400, "file is required", param="file")  # own wording
        filename, content = parts["file"]
        purpose = parts.get("purpose", (None, b""))[1].decode()
        return self.s.add_file(filename or "upload.jsonl", purpose, content)

    def chat(self, m: Any, q: dict[str, str], body: bytes, headers: Any) -> dict[str, Any]:
        req = self._json(body)
        served = set(OPEN_WEIGHT_RFT_MODELS) | {j.fine_tuned_model for j in self.s.jobs.values() if j.fine_tuned_model}
        if req.get("model") not in served:
            raise ApiFailure(404, f"The model {req.get('model')!r} does not exist or you do not have access to it.",
                             code="model_not_found", param="model")  # OpenAI's wording
        text = self.s.opts.reply[: int(req.get("max_tokens") or 256)]
        n_in = sum(len(str(x.get("content", ""))) for x in req.get("messages") or [])
        return {"id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
                "model": req["model"], "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": n_in, "completion_tokens": len(text), "total_tokens": n_in + len(text)}}


def _handler(routes: Routes, api_key: str, accept: Callable[[str], bool] | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, raw_query = self.path.partition("?")
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(raw_query).items()}
            try:
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if not (accept(bearer) if accept is not None else bearer == api_key):  # e.g. an expired short-term key
                    raise ApiFailure(401, "Invalid API key or bearer token.", code="invalid_api_key")  # own wording
                for method, rx, fn in routes.table:
                    m = rx.fullmatch(path.rstrip("/"))
                    if method == self.command and m:
                        return self._answer(200, fn(m, query, body, self.headers))
                raise ApiFailure(404, f"The stand-in does not implement {self.command} {path}")  # own wording
            except ApiFailure as exc:
                kind = "invalid_request_error" if exc.status < 500 else "server_error"
                self._answer(exc.status, {"error": {"message": exc.message, "type": kind, "param": exc.param,
                                                    "code": exc.code}})
            except Exception as exc:  # noqa: BLE001 - answer like a service, keep serving
                log.exception("openai stand-in failed on %s %s", self.command, path)
                self._answer(500, {"error": {"message": f"stand-in error: {exc}", "type": "server_error",
                                             "param": None, "code": None}})

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("openai stand-in: " + format, *args)

    return Handler


class OpenAIStandIn:
    """The server and its state; `start()` binds a free port on 127.0.0.1; `url` is the client's base_url."""

    def __init__(self, grader: Callable[[str], Grade], opts: Options | None = None):
        self.opts = opts or Options()
        self.state = State(self.opts, grader)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OpenAIStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Routes(self.state), self.opts.api_key, self.opts.accept))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="standin-openai")
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def stop(self) -> None:
        self.state.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
