"""Optional LLM judge: a second opinion on relevance/helpfulness, so a style gain that answers
nonsense shows up.

The judge is asked for JSON `{"score": <lo-hi>, "reason": "..."}`. Models wrap JSON in code
fences, add prose, use single quotes, give the score as a string or out of range, or fail
outright; `parse_verdict` takes all of that. A verdict that cannot be read (or a failed call)
gets the neutral score (the middle of the scale) and `ok=False`, never an exception, so one
bad judge reply cannot sink an evaluation. Scores are normalised to [0, 1].
"""

from __future__ import annotations

import logging

from rftlab.aws.converse import ConverseGenerator
from rftlab.grader.verdict import NEUTRAL, Verdict, parse_verdict

__all__ = ["NEUTRAL", "Judge", "Verdict", "judge_prompt", "parse_verdict"]
log = logging.getLogger(__name__)


def judge_prompt(rubric: str, prompt: str, reply: str) -> str:
    return f"{rubric.strip()}\n\nMessage:\n{prompt}\n\nReply:\n{reply}"


class Judge:
    """Bedrock Converse judge; `judge()` returns a Verdict and never raises."""

    def __init__(self, model_id: str, rubric: str, region: str | None = None, *, lo: float = 1, hi: float = 5):
        self.model_id, self.rubric, self.region, self.lo, self.hi = model_id, rubric, region, lo, hi

    def judge(self, prompt: str, reply: str) -> Verdict:
        gen = ConverseGenerator(self.model_id, self.region)
        messages = [{"role": "user", "content": judge_prompt(self.rubric, prompt, reply)}]
        try:
            completion = gen.converse(messages, temperature=0.0, max_tokens=200)
        except Exception as exc:  # noqa: BLE001 - a judge failure must never stop the evaluation
            log.warning("judge call failed: %s", exc)
            return Verdict(NEUTRAL, None, "", False, f"judge call failed: {exc}"[:300])
        return parse_verdict(completion.text, lo=self.lo, hi=self.hi)
