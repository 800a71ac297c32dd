"""Generation through the documented inference path of open-weight RFT: chat completions on the same API.

A completed job's `fine_tuned_model` serves on-demand at once, "without additional deployment steps"
(user guide fine-tuning-openai-apis, https://docs.aws.amazon.com/bedrock/latest/userguide/fine-tuning-openai-apis.html);
AWS's notebooks call `client.chat.completions.create(model=job.fine_tuned_model, messages=[...],
max_tokens=...)` and compare with the base model under its own id (`MODEL_ID`, e.g. `openai.gpt-oss-20b`).
Implements the Generator protocol (rftlab.generation), so base and tuned are scored
by the job's grader exactly as for the other backends.
"""

from __future__ import annotations

from typing import Any

from rftlab.backends.bedrock.open_weight.api import Api
from rftlab.errors import InputError
from rftlab.generation import Completion


def message_text(response: dict[str, Any]) -> str:
    """The first choice's message content (a string, or a list of text parts)."""
    choices = response.get("choices") or []
    content = ((choices[0] or {}).get("message") or {}).get("content") if choices else None
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


class OpenWeightGenerator:
    """Samples `n` replies per prompt from `model` (a base id or a job's fine_tuned_model)."""

    def __init__(self, model: str, settings: Any, *, name: str | None = None, api: Api | None = None,
                 endpoint: str | None = None):
        self.model = model
        self.name = name or model
        self._api = api
        self._settings, self._endpoint = settings, endpoint

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self._settings, endpoint=self._endpoint)
        return self._api

    def complete(self, messages: list[dict], *, temperature: float, max_tokens: int) -> Completion:
        out = self.api.chat(self.model, [{"role": m["role"], "content": m["content"]} for m in messages],
                            max_tokens=int(max_tokens), temperature=float(temperature))
        usage = out.get("usage") or {}
        return Completion(message_text(out), int(usage.get("prompt_tokens") or 0),
                          int(usage.get("completion_tokens") or 0))

    def generate(self, prompts: list[list[dict]], *, n: int, temperature: float, max_tokens: int,
                 seed: int) -> list[list[Completion]]:
        """`n` calls per prompt (the API's sampling has no seed here; `seed` is accepted for the protocol)."""
        return [[self.complete(messages, temperature=temperature, max_tokens=max_tokens) for _ in range(n)]
                for messages in prompts]


def generators(job: dict[str, Any], rft: Any) -> tuple[OpenWeightGenerator, OpenWeightGenerator]:
    """(base, tuned) for a job record (data/rft/job.json) of the bedrock_open_weight backend."""

    if not job.get("model_id"):
        raise InputError(f"job {job.get('job_id')}: no fine_tuned_model yet (the job has not succeeded)")
    endpoint = (job.get("details") or {}).get("endpoint")
    base = OpenWeightGenerator(job["base_model"], rft.section("bedrock_open_weight"), name="base", endpoint=endpoint)
    tuned = OpenWeightGenerator(job["model_id"], rft.section("bedrock_open_weight"), name="tuned", api=base._api, endpoint=endpoint)
    return base, tuned
