"""The one place the `openai` client is made and called, against Bedrock's OpenAI-compatible endpoint.

Endpoint and authentication as AWS documents them (user guide "Access and security for open-weight
models", https://docs.aws.amazon.com/bedrock/latest/userguide/rft-open-weight-access-security.html):
`OPENAI_BASE_URL` = `https://bedrock-mantle.<region>.api.aws/v1`, `OPENAI_API_KEY` = a Bedrock API
key. AWS's notebooks (aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-
fine-tuning/models/gpt-oss/gptoss_gsm8k_rft.ipynb, models/qwen/qwen_gsm8k_rft.ipynb) build
`OpenAI(base_url=f"https://bedrock-mantle.{region}.api.aws/v1", api_key=<key>)` with a short-term key
from `aws_bedrock_token_generator.provide_token(region=...)`; rftlab does the same when no key is set
and that package is installed. Calls used, each as the notebooks make it: `files.create(file=...,
purpose="fine-tune")`, `files.list(purpose="fine-tune")`, `fine_tuning.jobs.create(model=...,
training_file=..., extra_body={"method": ...})`, `.retrieve`, `.list`, `.cancel`,
`.list_events(fine_tuning_job_id=..., limit=...)`, `.checkpoints.list(fine_tuning_job_id=...)`,
`chat.completions.create(model=<fine_tuned_model>, messages=..., max_tokens=...)`.
Every API error becomes one RftlabError line naming what was being done.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rftlab.errors import ConfigError, RftlabError

PURPOSE = "fine-tune"


class ApiError(RftlabError):
    """The OpenAI-compatible API refused a call or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def base_url(settings: Any, endpoint: str | None = None) -> str:
    """rft.bedrock_open_weight.endpoint, else OPENAI_BASE_URL, else the regional bedrock-mantle endpoint."""
    return (endpoint or settings.endpoint or os.environ.get("OPENAI_BASE_URL")
            or f"https://bedrock-mantle.{settings.region}.api.aws/v1")


def api_key(settings: Any) -> str:
    """The Bedrock API key from `rft.bedrock_open_weight.api_key_env`, else a short-term one as AWS's notebooks make it."""
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    try:
        from aws_bedrock_token_generator import provide_token  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(f"no Bedrock API key: set {settings.api_key_env} (rft.bedrock_open_weight.api_key_env) to a Bedrock "
                          "API key, or pip install aws-bedrock-token-generator to make a short-term one") from None
    return str(provide_token(region=settings.region))


def make_client(settings: Any, endpoint: str | None = None) -> Any:
    try:
        # the openai client loads only when the open-weight API is called
        from openai import OpenAI
    except ImportError:
        raise ConfigError("the bedrock_open_weight backend needs the `openai` package: pip install openai") from None
    return OpenAI(base_url=base_url(settings, endpoint), api_key=api_key(settings), max_retries=3, timeout=120.0)


@contextlib.contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """Translate openai's exceptions raised in the block into one ApiError line naming `doing`."""
    # the openai client loads only when the open-weight API is called
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        msg = (err or {}).get("message") or exc.message
        hint = " (check the Bedrock API key in rft.bedrock_open_weight.api_key_env)" if exc.status_code in (401, 403) else ""
        raise ApiError(f"{doing}: HTTP {exc.status_code}: {msg}{hint}", exc.status_code) from None
    except openai.APIConnectionError as exc:
        raise ApiError(f"{doing}: cannot reach the fine-tuning endpoint ({exc.__class__.__name__}: {exc})") from None


def dump(obj: Any) -> dict[str, Any]:
    """A response object as plain JSON data (pydantic models of the openai client, or dicts)."""
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump(mode="json", warnings=False))
    return dict(obj)


class Api:
    """The calls the backend makes; one client per backend instance (tests point it at a local server)."""

    def __init__(self, settings: Any, endpoint: str | None = None, client: Any = None):
        self.settings = settings
        self.client = client or make_client(settings, endpoint)

    # ------------------------------------------------------------------ files
    def find_file(self, filename: str) -> str | None:
        """The id of an uploaded fine-tune file with exactly this name (uploads are content-named)."""
        with api_errors("listing fine-tune files"):
            files = [dump(f) for f in self.client.files.list(purpose=PURPOSE)]
        hits = [f for f in files if f.get("filename") == filename and f.get("status") not in ("error", "deleted")]
        return str(hits[0]["id"]) if hits else None

    def upload(self, path: str | Path, filename: str) -> str:
        """Upload `path` as `filename` (purpose fine-tune) unless it is there already; returns the file id."""
        found = self.find_file(filename)
        if found:
            return found
        with api_errors(f"uploading {path}"), open(path, "rb") as f:
            return str(self.client.files.create(file=(filename, f.read()), purpose=PURPOSE).id)

    # ------------------------------------------------------------------ jobs
    def create_job(self, model: str, training_file: str, method: dict[str, Any],
                   validation_file: str | None = None) -> dict[str, Any]:
        kw: dict[str, Any] = {"validation_file": validation_file} if validation_file else {}
        with api_errors(f"creating the fine-tuning job for {model}"):
            return dump(self.client.fine_tuning.jobs.create(model=model, training_file=training_file,
                                                            extra_body={"method": method}, **kw))

    def retrieve(self, job_id: str) -> dict[str, Any]:
        with api_errors(f"reading job {job_id}"):
            return dump(self.client.fine_tuning.jobs.retrieve(job_id))

    def jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        """Every fine-tuning job of the account (paginated by the client)."""
        with api_errors("listing fine-tuning jobs"):
            return [dump(j) for j in self.client.fine_tuning.jobs.list(limit=limit)]

    def cancel(self, job_id: str) -> dict[str, Any]:
        with api_errors(f"cancelling job {job_id}"):
            return dump(self.client.fine_tuning.jobs.cancel(job_id))

    def events(self, job_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """All of a job's events (every page), as the API orders them."""
        with api_errors(f"listing events of {job_id}"):
            return [dump(e) for e in self.client.fine_tuning.jobs.list_events(fine_tuning_job_id=job_id, limit=limit)]

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        with api_errors(f"listing checkpoints of {job_id}"):
            return [dump(c) for c in self.client.fine_tuning.jobs.checkpoints.list(fine_tuning_job_id=job_id)]

    # ------------------------------------------------------------------ inference
    def chat(self, model: str, messages: list[dict[str, Any]], *, max_tokens: int,
             temperature: float) -> dict[str, Any]:
        with api_errors(f"generating with {model}"):
            return dump(self.client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                                            temperature=temperature))
