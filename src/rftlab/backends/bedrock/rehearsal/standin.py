"""A local stand-in for Amazon Bedrock: two HTTP servers on 127.0.0.1 speaking botocore's rest-json.

`bedrock` (control plane: RFT jobs, custom models, deployments) and `bedrock-runtime`
(Converse) both sign as `bedrock`, so each gets its own port; boto3 reaches them through the
standard per-service endpoint variables `AWS_ENDPOINT_URL_BEDROCK` and
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` (botocore builds the name from the service id, "Bedrock Runtime"
-> BEDROCK_RUNTIME; https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
State lives in memory for the servers' lifetime.
"""

from __future__ import annotations

import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rftlab.backends.bedrock.rehearsal import wire
from rftlab.backends.bedrock.rehearsal.bedrock_needs import bedrock_needs
from rftlab.backends.bedrock.rehearsal.control import OPERATIONS, ControlPlane
from rftlab.backends.bedrock.rehearsal.enforce import Denied
from rftlab.backends.bedrock.rehearsal.options import INFERENCE_PROFILES, StandInOptions
from rftlab.backends.bedrock.rehearsal.runtime import Runtime

log = logging.getLogger(__name__)


def _handler(service: str, table: list[wire.Route], dispatch: Any, opts: StandInOptions) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # botocore keeps connections alive

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            try:
                hit = wire.match(table, self.command, path)
                if hit is None:
                    raise wire.ServiceError("UnknownOperationException",
                                            f"The stand-in does not implement {self.command} {path}")
                operation, labels = hit
                params = wire.parse_input(service, operation, labels, query, body)
                wire.check_input(service, operation, params)
                if opts.authorizer is not None:  # IAM enforced: the caller's policy must allow this call
                    try:
                        opts.authorizer.authorize(self.headers, bedrock_needs(
                            operation, params, opts.region, opts.account, INFERENCE_PROFILES))
                    except Denied as exc:
                        code = "AccessDeniedException" if exc.action else "UnrecognizedClientException"
                        raise wire.ServiceError(code, str(exc)) from None
                status, out = wire.output(service, operation, dispatch(operation, params))
                self._answer(status, out)
            except wire.ServiceError as exc:
                status, headers, out = wire.error(service, exc.code, exc.message)
                self._answer(status, out, headers)
            except Exception as exc:  # noqa: BLE001 - answer like a service, keep serving
                log.exception("stand-in %s failed on %s %s", service, self.command, path)
                status, headers, out = wire.error(service, "InternalServerException", f"stand-in error: {exc}")
                self._answer(status, out, headers)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s: " + format, service, *args)

    return Handler


class StandIn:
    """Both servers and their shared state; `start()` binds free ports on 127.0.0.1."""

    def __init__(self, opts: StandInOptions):
        self.opts = opts
        self.control = ControlPlane(opts)
        self.runtime = Runtime(opts, self.control.deployments, self.control.models)
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> StandIn:
        specs = (("bedrock", wire.routes("bedrock", OPERATIONS), self.control.handle),
                 ("bedrock-runtime", wire.routes("bedrock-runtime", ("Converse",)),
                  lambda op, params: getattr(self.runtime, op)(params)))
        for service, table, dispatch in specs:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service, table, dispatch, self.opts))
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, daemon=True, name=f"standin-{service}")
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def _url(self, i: int) -> str:
        host, port = self._servers[i].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def bedrock_url(self) -> str:
        return self._url(0)

    @property
    def runtime_url(self) -> str:
        return self._url(1)

    def jobs(self) -> list[dict[str, Any]]:
        """Every job the stand-in holds (GetModelCustomizationJob answers), oldest first."""
        return [j.describe() for j in sorted(self.control.jobs.values(), key=lambda j: j.created)]

    def stop(self) -> None:
        self.control.close()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
