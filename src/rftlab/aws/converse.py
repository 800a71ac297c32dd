"""bedrock-runtime Converse as a generator: base models through their inference profiles, tuned
models through their deployment ARN. Used by the Bedrock backend's preflight and evaluation and by
the judges."""

from __future__ import annotations

from typing import Any

from rftlab.aws.clients import aws_errors, client
from rftlab.aws.models import inference_id
from rftlab.errors import InputError
from rftlab.generation import Completion
from rftlab.progress import bar


def converse_messages(messages: list[dict]) -> tuple[list[dict], list[dict]]:
    """Chat messages -> Converse (system blocks, messages); consecutive same roles are merged."""
    system = [{"text": str(m.get("content", ""))} for m in messages if m.get("role") == "system"]
    turns: list[dict] = []
    for m in messages:
        role = m.get("role", "user")
        if role == "system":
            continue
        role = "assistant" if role in {"assistant", "nova_assistant"} else "user"
        text = str(m.get("content", "")) or " "
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].append({"text": text})
        else:
            turns.append({"role": role, "content": [{"text": text}]})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"text": " "}]})
    return system, turns


def response_text(response: dict) -> str:
    """The text blocks of a Converse reply (reasoning blocks are not the answer)."""
    content = response.get("output", {}).get("message", {}).get("content", []) or []
    return "".join(block["text"] for block in content if isinstance(block, dict) and "text" in block).strip()


class ConverseGenerator:
    """bedrock-runtime Converse: `model_id` is a base model id or a custom deployment ARN.

    A customization id (`amazon.nova-2-lite-v1:0:256k`) or a foundation id served only through
    inference profiles is mapped to the inference profile Converse takes (rftlab.aws.models).

    Converse has no seed, so Bedrock samples are not reproducible; `seed` is accepted for the
    protocol and ignored. `n` samples are `n` calls.
    """

    def __init__(self, model_id: str, region: str | None = None, *, name: str | None = None, progress: bool = True):
        if not model_id:
            raise InputError("Bedrock generation needs a model id or deployment ARN")
        self.model_id = inference_id(model_id, region)
        self.region = region
        self.name = name or model_id
        self.progress = progress

    def converse(self, messages: list[dict], *, temperature: float, max_tokens: int) -> Completion:
        system, turns = converse_messages(messages)
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": turns,
            "inferenceConfig": {"maxTokens": int(max_tokens), "temperature": float(min(temperature, 1.0))},
        }
        if system:
            request["system"] = system
        with aws_errors(f"generating with {self.model_id}"):
            response = client("bedrock-runtime", self.region).converse(**request)
        usage = response.get("usage", {}) or {}
        return Completion(
            response_text(response), int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))
        )

    def generate(
        self, prompts: list[list[dict]], *, n: int, temperature: float, max_tokens: int, seed: int
    ) -> list[list[Completion]]:
        out = []
        with bar(len(prompts), desc=f"evaluate {self.name}", unit="prompt", enabled=self.progress) as shown:
            for messages in prompts:
                out.append([self.converse(messages, temperature=temperature, max_tokens=max_tokens) for _ in range(n)])
                shown.update()
        return out
