"""The one place the `openai` client is made and called, against Bedrock's OpenAI-compatible endpoint.

Endpoint and authentication as AWS documents them (user guide "Access and security for open-weight
models", https://docs.aws.amazon.com/bedrock/latest/userguide/rft-open-weight-access-security.html):
`OPENAI_BASE_URL` = `https://bedrock-mantle.<region>.api.aws/v1`, `OPENAI_API_KEY` = a Bedrock API
key. AWS's notebooks (aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-
fine-tuning/models/gpt-oss/gptoss_gsm8k_rft.ipynb, models/qwen/qwen_gsm8k_rft.ipynb) build
`OpenAI(base_url=f"https://bedrock-mantle.{region}.api.aws/v1", api_key=<key>)` with a short-term key
from `aws_bedrock_token_generator.provide_token(region=...)`. rftlab reads only what params.yaml names:
`rft.bedrock_open_weight.endpoint` (else the regional endpoint) and the variable named by `api_key_env`
(else short-term keys from the token generator, renewed before they expire: token.py); an unrelated
OPENAI_BASE_URL / OPENAI_API_KEY in the environment is ignored. Calls used, each as the notebooks make it: `files.create(file=...,
purpose="fine-tune")`, `files.list(purpose="fine-tune")`, `fine_tuning.jobs.create(model=...,
training_file=..., extra_body={"method": ...})`, `.retrieve`, `.list`, `.cancel`,
`.list_events(fine_tuning_job_id=..., limit=...)`, `.checkpoints.list(fine_tuning_job_id=...)`,
`chat.completions.create(model=<fine_tuned_model>, messages=..., max_tokens=...)`.
Every API error becomes one RftlabError line naming what was being done.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rftlab.backends.bedrock.open_weight.token import TokenSource, aws_generator
from rftlab.errors import ConfigError, RftlabError

PURPOSE = "fine-tune"


class ApiError(RftlabError):
    """The OpenAI-compatible API refused a call or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def base_url(settings: Any, endpoint: str | None = None) -> str:
    """rft.bedrock_open_weight.endpoint, else the regional bedrock-mantle endpoint (never OPENAI_BASE_URL)."""
    return endpoint or settings.endpoint or f"https://bedrock-mantle.{settings.region}.api.aws/v1"


def key_source(settings: Any) -> tuple[str | None, TokenSource | None]:
    """A fixed key from the variable `api_key_env` names, or (None, short-term keys made and renewed here)."""
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise ConfigError(f"rft.bedrock_open_weight.api_key_env: {settings.api_key_env} is not set (a Bedrock API "
                              "key), or set api_key_env to null to make short-term keys from your AWS credentials")
        return key, None
    return None, TokenSource(aws_generator(settings.region), lifetime_s=settings.token_lifetime_s,
                             refresh_before_s=settings.token_refresh_before_s)


def make_client(settings: Any, endpoint: str | None = None, api_key: str | None = None) -> Any:
    try:
        # the openai client loads only when the open-weight API is called
        from openai import OpenAI
    except ImportError:
        raise ConfigError("the bedrock_open_weight backend needs the `openai` package: pip install openai") from None
    return OpenAI(base_url=base_url(settings, endpoint), api_key=api_key, max_retries=3, timeout=120.0)


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
    """The calls the backend makes (tests point it at a local server). With short-term keys the client is
    remade whenever the key is renewed, and a call refused with 401 gets one new key and one retry."""

    def __init__(self, settings: Any, endpoint: str | None = None, client: Any = None,
                 tokens: TokenSource | None = None):
        self.settings, self._endpoint = settings, endpoint
        self.tokens: TokenSource | None = tokens
        self._client, self._key = client, None
        if client is None and tokens is None:
            key, self.tokens = key_source(settings)
            if key:
                self._client = make_client(settings, endpoint, key)

    @property
    def client(self) -> Any:
        if self.tokens is not None:
            key = self.tokens()
            if key != self._key or self._client is None:
                self._client, self._key = make_client(self.settings, self._endpoint, key), key
        return self._client

    def _call(self, doing: str, fn: Callable[[Any], Any]) -> Any:
        """`fn(client)` inside api_errors(doing); on a 401 with short-term keys, a new key and one retry."""
        try:
            with api_errors(doing):
                return fn(self.client)
        except ApiError as exc:
            if exc.status != 401 or self.tokens is None:
                raise
        self.tokens.renew()
        with api_errors(doing):
            return fn(self.client)

    # ------------------------------------------------------------------ files
    def find_file(self, filename: str) -> str | None:
        """The id of an uploaded fine-tune file with exactly this name (uploads are content-named)."""
        files = self._call("listing fine-tune files", lambda c: [dump(f) for f in c.files.list(purpose=PURPOSE)])
        hits = [f for f in files if f.get("filename") == filename and f.get("status") not in ("error", "deleted")]
        return str(hits[0]["id"]) if hits else None

    def upload(self, path: str | Path, filename: str) -> str:
        """Upload `path` as `filename` (purpose fine-tune) unless it is there already; returns the file id."""
        found = self.find_file(filename)
        if found:
            return found
        data = Path(path).read_bytes()
        return str(self._call(f"uploading {path}", lambda c: c.files.create(file=(filename, data), purpose=PURPOSE).id))

    # ------------------------------------------------------------------ jobs
    def create_job(self, model: str, training_file: str, method: dict[str, Any],
                   validation_file: str | None = None) -> dict[str, Any]:
        kw: dict[str, Any] = {"validation_file": validation_file} if validation_file else {}
        return dump(self._call(f"creating the fine-tuning job for {model}", lambda c: c.fine_tuning.jobs.create(
            model=model, training_file=training_file, extra_body={"method": method}, **kw)))

    def retrieve(self, job_id: str) -> dict[str, Any]:
        return dump(self._call(f"reading job {job_id}", lambda c: c.fine_tuning.jobs.retrieve(job_id)))

    def jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        """Every fine-tuning job of the account (paginated by the client)."""
        return self._call("listing fine-tuning jobs",
                          lambda c: [dump(j) for j in c.fine_tuning.jobs.list(limit=limit)])

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dump(self._call(f"cancelling job {job_id}", lambda c: c.fine_tuning.jobs.cancel(job_id)))

    def events(self, job_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """All of a job's events (every page), as the API orders them."""
        return self._call(f"listing events of {job_id}", lambda c: [
            dump(e) for e in c.fine_tuning.jobs.list_events(fine_tuning_job_id=job_id, limit=limit)])

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return self._call(f"listing checkpoints of {job_id}", lambda c: [
            dump(x) for x in c.fine_tuning.jobs.checkpoints.list(fine_tuning_job_id=job_id)])

    # ------------------------------------------------------------------ inference
    def chat(self, model: str, messages: list[dict[str, Any]], *, max_tokens: int,
             temperature: float) -> dict[str, Any]:
        return dump(self._call(f"generating with {model}", lambda c: c.chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=temperature)))
