"""The GRPO reward: the grader through exactly the Lambda's payload conversion.

Each (prompt, completion) becomes a Bedrock-shaped sample via `grader.handler.to_payload`
and is scored by `grader.handler.handle` — the code the Lambda runs — so local and
Bedrock rewards cannot drift apart. Every metric the grader answers becomes a per-step
`train/rewards/<name>/mean`: `style` and `relevance` beside the reward when the grader judges
relevance, and `above_target_p90`, the share of completions scoring above the target's own 90th
percentile (the hacking ceiling: a warning sign, not a success).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rftlab.grader.bundle import load_grader
from rftlab.grader.handler import handle, to_payload


def completion_text(completion: Any) -> str:
    """TRL hands completions as text or as a list of chat messages; take the reply text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return ""


def prompt_messages(prompt: Any) -> list[dict]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [dict(m) for m in prompt]


class GraderReward:
    """Callable reward function for TRL, plus batch scoring for evaluation."""

    __name__ = "grader"

    def __init__(self, grader_path: str) -> None:
        # local training judges relevance with the offline proxy (no Bedrock call from a laptop)
        self.grader = load_grader(grader_path).offline()
        self.version = str(getattr(self.grader, "version", "unknown"))
        self._handle, self._to_payload = handle, to_payload
        self.components: dict[str, list[float]] = defaultdict(list)
        self.calls = 0

    def score(self, prompts: list[Any], completions: list[Any], *, ids: list[str] | None = None,
              references: list[Any] | None = None) -> list[dict]:
        """Grader responses ({id, aggregate_reward_score, metrics_list}), one per completion."""
        payload = []
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            ref = references[i] if references else None
            sid = f"{ids[i] if ids else 'p'}-{i}"
            payload.append(self._to_payload(prompt_messages(prompt), completion_text(completion), sample_id=sid,
                                            reference_answer=ref, metadata={"rftlab.local": True}))
        return self._handle(payload, self.grader)

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        ids = kwargs.get("id")
        refs = kwargs.get("reference_answer")
        responses = self.score(prompts, completions, ids=[str(x) for x in ids] if ids else None, references=refs)
        for r in responses:
            for m in r.get("metrics_list") or []:
                self.components[str(m["name"])].append(float(m["value"]))
        self.calls += 1
        return [float(r.get("aggregate_reward_score") or 0.0) for r in responses]

    def pop_components(self) -> dict[str, float]:
        """Mean of each grader component since the last call (for per-step metrics)."""
        out = {k: sum(v) / len(v) for k, v in self.components.items() if v}
        self.components.clear()
        return out
