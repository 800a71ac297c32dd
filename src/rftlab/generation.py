"""Sampling replies from a model behind one interface, whichever backend serves it (the Generator protocol).

Evaluation compares a base and a tuned model on the same prompts, so both sides must be
driven identically (same prompts, sample count, temperature, token budget, seed); the
`Generator` protocol is that contract. Prompts are chat message lists
(`[{"role": "system"?, ...}, {"role": "user", "content": ...}]`, docs/contracts.md#prompt-records).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


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
