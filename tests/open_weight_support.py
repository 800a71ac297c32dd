"""Shared pieces for tests/test_open_weight_*.py: a project on the bedrock_open_weight backend, the API stand-in, documented shapes.

Prompt records follow "Prepare data for open-weight models" (OpenAI chat `messages` + `reference_answer`,
100-20K examples: https://docs.aws.amazon.com/bedrock/latest/userguide/rft-prepare-data-open-weight.html).
The stand-in (rftlab.backends.bedrock.rehearsal.openai_api) answers on 127.0.0.1 with the API's objects; its grader is the
REAL rftlab grader (handler.handle on a bundle calibrated from small synthetic messages), called with the
payload AWS documents for open-weight reward functions, and every payload is kept for assertions.
The example metrics event is the one printed in AWS's gpt-oss notebook (aws-samples/amazon-bedrock-samples
custom-models/bedrock-reinforcement-fine-tuning/models/gpt-oss/gptoss_gsm8k_rft.ipynb).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

KEY_ENV = "RFTLAB_TEST_BEDROCK_API_KEY"
ACCOUNT = "123456789012"

NOTEBOOK_METRICS_EVENT = {
    "id": "ftevent-c3c14785-4a3b-4dab-99a5-a15aeb6c0742", "created_at": 1771442218, "level": "info",
    "message": "Step 4/67: training metrics", "object": "fine_tuning.job.event",
    "data": {"total_steps": 67, "actor_grad_norm": 0.0008667297661304474, "response_length_mean": 519.09375,
             "step": 4, "actor_pg_loss": 0.10153239965438844, "critic_rewards_mean": 0.4375,
             "actor_entropy": 0.6235736012458801, "critic_advantages_mean": 0.013622610829770563},
    "type": "metrics"}


def prompt_rows(n: int) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "system", "content": "Slackの返信"},
                          {"role": "user", "content": f"明日の会議{i}の件、どうしますか"}],
             "reference_answer": f"承知したでござる。{i}件目は拙者が進めるでござる。", "channel": "general", "id": f"p{i}"}
            for i in range(n)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_bundle(path: Path) -> str:
    """A real grader bundle from synthetic messages; returns its version."""
    from grader_support import messages

    from rftlab.grader.bundle import make_bundle
    from rftlab.grader.bundle import write_bundle as write
    from rftlab.style.profile import build_profile

    bundle = make_bundle(build_profile(messages(), "U01CTO"))
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, bundle)
    return str(bundle["version"])


def write_params(root: Path, endpoint: str, **openai: Any) -> Path:
    rft = {"backend": "bedrock_open_weight", "budget_usd": 500.0,
           "bedrock_open_weight": {"endpoint": endpoint, "api_key_env": KEY_ENV, "region": "us-west-2", "poll_s": 0.05,
                      "poll_max_s": 0.2, **openai},
           "bedrock": {"lambda_function": "rftlab-grader"}}
    p = root / "params.yaml"
    p.write_text(yaml.safe_dump({"tracking": {"experiment": f"openai-test-{uuid.uuid4().hex[:8]}"}, "rft": rft},
                                allow_unicode=True), encoding="utf-8")
    return p


class Graded:
    """The stand-in's grader: the real handler on the project's bundle; records (lambda ARN, payload, answer)."""

    def __init__(self) -> None:
        self.bundle: Path | None = None
        self.calls: list[tuple[str, list[dict], list[dict]]] = []

    def __call__(self, arn: str) -> Any:
        from rftlab.grader.bundle import load_grader
        from rftlab.grader.handler import handle

        grader = load_grader(self.bundle)

        def grade(payload: list[dict]) -> list[dict]:
            answer = handle(json.loads(json.dumps(payload)), grader)
            self.calls.append((arn, payload, answer))
            return answer

        return grade


@pytest.fixture
def standin():
    from rftlab.backends.bedrock.rehearsal.openai_api import OpenAIStandIn
    from rftlab.backends.bedrock.rehearsal.openai_jobs import Options

    graded = Graded()
    with OpenAIStandIn(graded, Options(api_key="test-key", stage_seconds=0.05, step_seconds=0.02, max_steps=6)) as s:
        s.graded = graded
        yield s


@pytest.fixture
def deployed(monkeypatch):
    """deploy_grader recorded instead of run: the pinned version ARN it returns in the region it was asked for."""
    from rftlab.backends.bedrock import grader as bedrock_grader

    calls: list[dict] = []

    def fake(grader_path, bedrock, **kw):
        from rftlab.grader.bundle import load_grader

        calls.append({"grader_path": str(grader_path), "region": bedrock.region, "function": bedrock.lambda_function})
        arn = f"arn:aws:lambda:{bedrock.region}:{ACCOUNT}:function:{bedrock.lambda_function}:7"
        return bedrock_grader.GraderDeployment(arn, load_grader(grader_path).version, "d-test", None, True)

    monkeypatch.setattr(bedrock_grader, "deploy_grader", fake)
    return calls


@pytest.fixture
def ow_project(tmp_path, monkeypatch, standin, deployed):
    """A project on the openai backend against the stand-in: params, 120/20 prompts, a real grader bundle."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RFTLAB_PARAMS", str(write_params(tmp_path, standin.url)))
    monkeypatch.setenv("RFTLAB_JOBS_DIR", str(tmp_path / ".rftlab/jobs"))
    monkeypatch.setenv(KEY_ENV, "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_jsonl(tmp_path / "data/prompts/train.jsonl", prompt_rows(120))
    write_jsonl(tmp_path / "data/prompts/val.jsonl", prompt_rows(20))
    standin.graded.bundle = tmp_path / "data/grader/grader.json"
    version = write_bundle(standin.graded.bundle)
    return {"root": tmp_path, "standin": standin, "deployed": deployed, "grader_version": version}


class Scripted:
    """An HTTP mock of the API: fixed JSON answers per (method, path); records each request's path and body."""

    def __init__(self, answers: dict[tuple[str, str], Any]):
        self.answers, self.requests = answers, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path.partition("?")[0]
                outer.requests.append((self.command, path, body))
                status, payload = outer.answers.get((self.command, path), (404, {"error": {"message": "no route"}}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve  # noqa: N815

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
