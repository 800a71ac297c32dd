"""Invoke the grader "Lambda" the way Bedrock would: the published version's image, run locally.

moto serves the Lambda control plane but cannot run an image function without Docker, so the
stand-in reads the function version's configuration from moto (`GetFunction` on the qualified
ARN: image URI, environment, timeout, memory), maps the image URI to its Docker build context
(what `rftlab grader package` wrote: Dockerfile, rftlab/, grader.json) and runs the image's
handler (the Dockerfile's CMD) in a worker process: the context first on PYTHONPATH like
/var/task, the Dockerfile's ENV with /var/task replaced by the context, the function's
environment variables, and the reserved variables Lambda sets
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
Errors come back in Lambda's shape ({"errorType", "errorMessage"}); a call longer than the
function's timeout is "Task timed out after N.00 seconds", as Lambda reports it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from rftlab.backends.bedrock.rehearsal.options import StandInOptions

TASK_ROOT = "/var/task"
DEFAULT_HANDLER = "rftlab.grader.handler.lambda_handler"

# The worker: the image's handler behind a JSON-lines loop; the handler's own stdout logs go to stderr.
WORKER = r"""
import importlib, json, sys
results, sys.stdout = sys.stdout, sys.stderr
module, _, name = sys.argv[1].rpartition(".")
try:
    handler, init_error = getattr(importlib.import_module(module), name), None
except Exception as exc:
    handler, init_error = None, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
for line in sys.stdin:
    if init_error:
        answer = init_error
    else:
        try:
            answer = {"result": handler(json.loads(line), None)}
        except Exception as exc:
            answer = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    results.write(json.dumps(answer, ensure_ascii=False) + "\n")
    results.flush()
"""


class LambdaFailure(Exception):
    """The grader could not be reached or answered with an error; the job fails with this message."""


def image_config(context: Path) -> tuple[str, dict[str, str]]:
    """(handler, ENV) from the context's Dockerfile, /var/task mapped onto the context folder."""
    env: dict[str, str] = {}
    handler = DEFAULT_HANDLER
    dockerfile = context / "Dockerfile"
    if dockerfile.exists():
        for line in dockerfile.read_text(encoding="utf-8").splitlines():
            if m := re.match(r"\s*ENV\s+([A-Za-z_][A-Za-z0-9_]*)[=\s]+(.+?)\s*$", line):
                env[m.group(1)] = m.group(2).strip('"').replace(TASK_ROOT, str(context))
            elif m := re.match(r"\s*CMD\s+\[\s*\"([^\"]+)\"", line):
                handler = m.group(1)
    else:
        env["RFTLAB_GRADER"] = str(context / "grader.json")
    return handler, env


class GraderFunction:
    """One published version of the grader function, with a warm worker after the first call."""

    def __init__(self, arn: str, opts: StandInOptions):
        self.arn = arn
        self.opts = opts
        self._proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._log: IO[str] | None = None
        self.config = self._configuration()

    def _configuration(self) -> dict[str, Any]:
        # botocore loads with the first AWS call: offline commands never pay for it
        from botocore.exceptions import ClientError

        try:
            # the function's own Region (an open-weight job's grader lives in that backend's Region)
            region = self.arn.split(":")[3] if self.arn.startswith("arn:") else None
            out = self.opts.client("lambda", region).get_function(FunctionName=self.arn)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise LambdaFailure(f"Failed to invoke the reward function {self.arn}: "
                                f"{err.get('Code')}: {err.get('Message')}") from None
        return out

    def _context(self) -> Path:
        image = (self.config.get("Code") or {}).get("ImageUri")
        if not image:
            raise LambdaFailure(f"{self.arn}: not an image function (rftlab ships the grader as a container image)")
        context = self.opts.images.get(image) or self.opts.default_context
        if context is None or not Path(context).is_dir():
            raise LambdaFailure(f"{self.arn}: the stand-in has no build context for image {image} "
                                "(run `rftlab grader package` and pass it as the stand-in's grader context)")
        return Path(context)

    def _start(self) -> subprocess.Popen[str]:
        context = self._context()
        handler, image_env = image_config(context)
        cfg = self.config["Configuration"]
        name, _, version = self.arn.split(":function:", 1)[1].partition(":")
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env.update(image_env)
        env.update((cfg.get("Environment") or {}).get("Variables") or {})
        env.update({"PYTHONPATH": str(context), "LAMBDA_TASK_ROOT": str(context), "AWS_REGION": self.opts.region,
                    "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": version or "$LATEST",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg.get("MemorySize", 128)), "PYTHONUNBUFFERED": "1"})
        if self.opts.workdir:
            Path(self.opts.workdir).mkdir(parents=True, exist_ok=True)
            self._log = open(Path(self.opts.workdir) / f"lambda-{name}-{version or 'LATEST'}.log", "a",  # noqa: SIM115
                             encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-c", WORKER, handler], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=self._log or subprocess.DEVNULL, text=True,
                                encoding="utf-8", env=env, cwd=context)
        self._answers = queue.Queue()  # a killed worker's late end-of-output must not reach its successor
        threading.Thread(target=self._pump, args=(proc, self._answers), daemon=True).start()
        return proc

    @staticmethod
    def _pump(proc: subprocess.Popen[str], answers: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            answers.put(line)
        answers.put(None)

    def invoke(self, event: list[dict[str, Any]]) -> Any:
        """The handler's answer to `event`; LambdaFailure for a function error or a timeout."""
        timeout = float(self.config["Configuration"].get("Timeout", 3))
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps(event, ensure_ascii=False) + "\n")
                self._proc.stdin.flush()
                line = self._answers.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise LambdaFailure(f"The reward function {self.arn} failed: Task timed out after "
                                    f"{timeout:.2f} seconds") from None
            except OSError as exc:
                raise LambdaFailure(f"The reward function {self.arn} failed: {exc}") from None
        if line is None:
            raise LambdaFailure(f"The reward function {self.arn} failed: Runtime exited without providing a reason")
        answer = json.loads(line)
        if "result" not in answer:
            raise LambdaFailure(f"The reward function {self.arn} returned an error: "
                                f"{answer.get('errorType')}: {answer.get('errorMessage')}")
        return answer["result"]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
