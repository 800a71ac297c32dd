"""Sampling replies from a model behind one interface: a local Hugging Face folder or Bedrock.

Evaluation compares a base and a tuned model on the same prompts, so both sides must be
driven identically (same prompts, sample count, temperature, token budget, seed); the
`Generator` protocol is that contract. Prompts are chat message lists
(`[{"role": "system"?, ...}, {"role": "user", "content": ...}]`, docs/contracts.md#prompt-records).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from rftlab.errors import InputError
from rftlab.progress import bar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    """One sampled reply and what it cost in tokens."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Generator(Protocol):
    """Anything that samples `n` replies for each prompt."""

    name: str

    def generate(
        self, prompts: list[list[dict]], *, n: int, temperature: float, max_tokens: int, seed: int
    ) -> list[list[Completion]]: ...


def plain_chat(messages: list[dict]) -> str:
    """Fallback prompt format for tokenizers without a chat template."""
    lines = [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


class LocalGenerator:
    """A causal LM in a local folder (config.json, weights, tokenizer files); never touches a hub."""

    def __init__(self, model_path: str | Path, *, name: str | None = None, progress: bool = True):
        self.path = Path(model_path)
        self.name = name or self.path.name
        self.progress = progress  # a bar per side on a terminal, else a line a minute (rftlab.progress)
        if not (self.path / "config.json").exists():
            raise InputError(f"{self.path}: not a model folder (no config.json)")
        self._tok: Any = None
        self._model: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        try:
            self._tok = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: cannot load model: {exc}") from None
        self._model.eval()

    def render(self, messages: list[dict]) -> str:
        """The prompt text the model sees: its chat template when it has one."""
        self._load()
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return plain_chat(messages)

    def _ids(self) -> tuple[int, int | None]:
        eos = self._tok.eos_token_id
        if eos is None:
            eos = getattr(self._model.generation_config, "eos_token_id", None)
            if isinstance(eos, list):
                eos = eos[0] if eos else None
        pad = self._tok.pad_token_id
        if pad is None:
            pad = eos if eos is not None else 0
        return pad, eos

    def generate(
        self, prompts: list[list[dict]], *, n: int, temperature: float, max_tokens: int, seed: int
    ) -> list[list[Completion]]:
        import torch

        self._load()
        pad, eos = self._ids()
        limit = getattr(self._model.config, "n_positions", None) or getattr(
            self._model.config, "max_position_embeddings", None
        )
        out: list[list[Completion]] = []
        shown = bar(len(prompts), desc=f"evaluate {self.name}", unit="prompt", enabled=self.progress)
        for i, messages in enumerate(prompts):
            enc = self._tok(self.render(messages), return_tensors="pt", add_special_tokens=False)
            ids, mask = enc["input_ids"], enc.get("attention_mask")
            if mask is None:
                mask = torch.ones_like(ids)
            if limit and ids.shape[1] + max_tokens > limit:  # keep the end of a long prompt
                keep = max(1, limit - max_tokens)
                ids, mask = ids[:, -keep:], mask[:, -keep:]
            torch.manual_seed(seed * 1_000_003 + i)  # one stream per prompt: order-independent
            with torch.no_grad():
                gen = self._model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    do_sample=True,
                    temperature=temperature,
                    top_k=0,  # plain temperature sampling, as the local trainer samples
                    top_p=1.0,
                    max_new_tokens=max_tokens,
                    num_return_sequences=n,
                    pad_token_id=pad,
                    eos_token_id=eos,
                )
            completions = []
            for row in gen[:, ids.shape[1] :].tolist():
                if eos is not None and eos in row:
                    row = row[: row.index(eos)]
                text = self._tok.decode(row, skip_special_tokens=True)
                completions.append(Completion(text.strip(), int(ids.shape[1]), len(row)))
            out.append(completions)
            shown.update()
        shown.close()
        return out


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


class BedrockGenerator:
    """bedrock-runtime Converse: `model_id` is a base model id or a custom deployment ARN.

    A customization id (`amazon.nova-2-lite-v1:0:256k`) or a foundation id served only through
    inference profiles is mapped to the inference profile Converse takes (jobs/bedrock/models.py).

    Converse has no seed, so Bedrock samples are not reproducible; `seed` is accepted for the
    protocol and ignored. `n` samples are `n` calls.
    """

    def __init__(self, model_id: str, region: str | None = None, *, name: str | None = None, progress: bool = True):
        from rftlab.jobs.bedrock.models import inference_id

        if not model_id:
            raise InputError("Bedrock generation needs a model id or deployment ARN")
        self.model_id = inference_id(model_id, region)
        self.region = region
        self.name = name or model_id
        self.progress = progress

    def converse(self, messages: list[dict], *, temperature: float, max_tokens: int) -> Completion:
        from rftlab.aws import aws_errors, client

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
