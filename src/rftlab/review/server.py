"""The HTTP side of the review page: the standard library's threading server on 127.0.0.1 only.

The handler is glue: it checks the declared body length before reading a byte (a body over
validate.MAX_BODY is refused unread), hands the request to `App`, and adds the security headers. An
unexpected error answers 500 with one line and is logged; the client never sees a traceback.
"""

from __future__ import annotations

import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rftlab.review.app import SECURITY_HEADERS, App, Response, error
from rftlab.review.validate import BadRequest, content_length

log = logging.getLogger(__name__)
HOST = "127.0.0.1"  # never another interface: the pairs are private to the people who review them


class _Handler(BaseHTTPRequestHandler):
    server_version = "rftlab-review"
    sys_version = ""
    timeout = 30  # seconds a client may take to send its request (a stalled body frees its thread)
    server: _Server

    def _send(self, res: Response) -> None:
        self.send_response(res.status)
        self.send_header("Content-Type", res.content_type)
        self.send_header("Content-Length", str(len(res.body)))
        for key, value in {**SECURITY_HEADERS, **res.headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(res.body)

    def _guarded(self, fn: Any) -> None:
        try:
            res = fn()
        except Exception:  # never a traceback to the client; one line in the server's log
            log.exception("review server: %s %s failed", self.command, self.path[:200])
            res = error(500, "internal error (see the server's log)")
        self._send(res)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._guarded(lambda: self.server.app.get(self.path, self.headers))

    def do_POST(self) -> None:  # noqa: N802
        def post() -> Response:
            try:
                n = content_length(self.headers)
            except BadRequest as exc:
                self.close_connection = True  # an unread body must not be read as the next request
                return error(exc.status, exc.message)
            try:
                body = self.rfile.read(n)
            except TimeoutError:
                self.close_connection = True
                return error(408, f"the body did not arrive within {self.timeout} s")
            return self.server.app.post(self.path, self.headers, body)

        self._guarded(post)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.debug("review server: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, app_factory: Any) -> None:
        super().__init__((HOST, port), _Handler)
        self.app: App = app_factory(self.server_address[1])


def make_server(port: int, app_factory: Any) -> _Server:
    """A server bound to 127.0.0.1:`port` (0: any free port); `app_factory(port)` builds its App once
    the port is known (the App accepts only requests addressed to that port)."""
    return _Server(port, app_factory)


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(srv: _Server) -> None:
    """Serve until Ctrl-C or SIGTERM (`kill`), then close the socket. Votes are stored as they are cast,
    so stopping loses nothing. (A shell starts `cmd &` with SIGINT ignored: SIGTERM still stops it.)"""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
