"""Cost ESTIMATES for Bedrock RFT jobs, and the budget guard.

AWS publishes no RFT training price, so every figure here is an estimate from the price
table in params.yaml (`rft.prices`): training $/hour (one measured Nova job: 2 h 58 min for
$181.56, about $61/hour; open-weight jobs have their own `rft.bedrock_open_weight.usd_per_hour`),
Lambda $/GB-s and $/request, inference $/1K tokens. Each estimate carries `sources`: where every
price it used comes from, printed with it. The
pre-launch estimate turns data size into rollouts, rollouts into tokens, tokens into hours
using an assumed throughput (`training_tokens_per_hour`) - calibrate it from your own jobs.

When the grader judges relevance with a Bedrock model (params `relevance.judge: bedrock`, the
Lambda calls Converse once per rollout, like AWS's RLAIF sample reward function
reward-functions/pandalm_rew_func.py), the judge's inference is part of the job's cost:
`judge_usd` = rollouts x (rubric + prompt + reply tokens in, `relevance.max_tokens` out) at the
`relevance.usd_per_1k_*` prices (estimates; repeated (prompt, reply) pairs are answered from the
Lambda's cache, so this is an upper bound).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rftlab.config import load_params
from rftlab.errors import RftlabError
from rftlab.io import iter_jsonl

LABEL = "estimate"
# Where each price comes from (printed with every estimate and stored with it: Estimate.sources)
NOVA_TRAINING = ("rft.prices.training_usd_per_hour: measured from one Nova 2 Lite RFT job (2 h 58 min billed "
                 "$181.56, ~$61/h); AWS publishes no RFT training price, so this is an estimate")
SOURCES = {
    "training_tokens_per_hour": "rft.prices.training_tokens_per_hour: an assumed rollout throughput (calibrate "
                                "it from your own jobs)",
    "training_overhead_hours": "rft.prices.training_overhead_hours: assumed (validation, data processing, export)",
    "lambda": "rft.prices.lambda_usd_per_gb_s / lambda_usd_per_request: as entered, from AWS Lambda's pricing "
              "page (x86, first tier); duration per call assumed (lambda_avg_duration_s)",
    "judge": "relevance.usd_per_1k_input_tokens / usd_per_1k_output_tokens: as entered for the judge model "
             "(Amazon Bedrock pricing page)",
}


def price_sources(training: str = NOVA_TRAINING, judge: bool = False) -> dict[str, str]:
    out = {"training_usd_per_hour": training, **{k: v for k, v in SOURCES.items() if k != "judge"}}
    return {**out, "judge": SOURCES["judge"]} if judge else out


class BudgetExceeded(RftlabError):
    """The estimated cost is above rft.budget_usd."""

    exit_code = 1


@dataclass(frozen=True)
class Estimate:
    records: int
    avg_prompt_tokens: float
    rollouts: int
    tokens: int
    hours: float
    training_usd: float
    lambda_usd: float
    total_usd: float
    label: str = LABEL
    judge_usd: float = 0.0  # the grader's Bedrock relevance judge (0 with the offline proxy or none)
    sources: dict[str, str] = field(default_factory=dict)  # price -> where it comes from

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def approx_tokens(text: str, chars_per_token: float) -> int:
    """Tokens of `text` without the model's tokenizer (Nova's is not public)."""
    return max(1, math.ceil(len(text) / chars_per_token)) if text else 0


def prompt_stats(path: str | Path, chars_per_token: float = 1.0) -> tuple[int, float]:
    """(records, mean prompt tokens) of a prompt JSONL file."""

    n, tokens = 0, 0
    for rec in iter_jsonl(path, required=("messages",)):
        n += 1
        tokens += sum(approx_tokens(str(m.get("content", "")), chars_per_token) for m in rec["messages"])
    return n, (tokens / n if n else 0.0)


@dataclass(frozen=True)
class JudgeCost:
    """What one relevance-judge call costs (all estimates)."""

    usd_per_1k_input_tokens: float
    usd_per_1k_output_tokens: float
    rubric_tokens: int
    max_tokens: int


def judge_cost(relevance: Any, chars_per_token: float) -> JudgeCost | None:
    """The judge's terms from params `relevance` (None unless it calls a Bedrock model)."""
    if relevance is None or not relevance.enabled or relevance.judge != "bedrock":
        return None
    return JudgeCost(relevance.usd_per_1k_input_tokens, relevance.usd_per_1k_output_tokens,
                     approx_tokens(relevance.rubric, chars_per_token) + 8, relevance.max_tokens)


def estimate(records: int, avg_prompt_tokens: float, hp: dict[str, Any], prices: Any, *, memory_mb: int = 2048,
             judge: JudgeCost | None = None, training_source: str = NOVA_TRAINING) -> Estimate:
    """Pre-launch estimate: records x epochs x samples per prompt rollouts of (prompt + completion) tokens,
    plus one relevance-judge call per rollout when `judge` is given."""
    epochs = int(hp.get("epochCount") or 1)
    samples = int(hp.get("trainingSamplePerPrompt") or 4)
    max_new = int(hp.get("inferenceMaxTokens") or 32)
    prompt = min(avg_prompt_tokens, float(hp.get("maxPromptLength") or avg_prompt_tokens or 1))
    rollouts = records * epochs * samples
    tokens = int(rollouts * (prompt + max_new))
    hours = prices.training_overhead_hours + tokens / prices.training_tokens_per_hour
    training = hours * prices.training_usd_per_hour
    invocations = records * epochs  # one grader call per prompt group (assumed batching)
    gb_s = rollouts * prices.lambda_avg_duration_s / max(1, samples) * (memory_mb / 1024)
    lam = invocations * prices.lambda_usd_per_request + gb_s * prices.lambda_usd_per_gb_s
    judged = 0.0
    if judge is not None:
        judged = rollouts * ((judge.rubric_tokens + prompt + max_new) / 1000 * judge.usd_per_1k_input_tokens
                             + judge.max_tokens / 1000 * judge.usd_per_1k_output_tokens)
    return Estimate(records, round(avg_prompt_tokens, 1), rollouts, tokens, round(hours, 3), round(training, 2),
                    round(lam, 4), round(training + lam + judged, 2), judge_usd=round(judged, 4),
                    sources=price_sources(training_source, judge is not None))


def estimate_files(train: str | Path, hp: dict[str, Any], prices: Any, *, memory_mb: int = 2048,
                   judge: JudgeCost | None | str = "params", training_source: str = NOVA_TRAINING) -> Estimate:
    """`judge` "params": the relevance judge params.yaml configures (rftlab.config `relevance`)."""
    records, avg = prompt_stats(train, prices.chars_per_token)
    if judge == "params":
        judge = judge_cost(load_params().relevance, prices.chars_per_token)
    return estimate(records, avg, hp, prices, memory_mb=memory_mb, judge=judge if isinstance(judge, JudgeCost) else None,
                    training_source=training_source)


def spent(elapsed_hours: float, prices: Any) -> float:
    """Estimated spend of a running job so far (training hours only; Lambda is cents)."""
    return round(max(0.0, elapsed_hours) * prices.training_usd_per_hour, 2)


def inference_cost(input_tokens: int, output_tokens: int, prices: Any) -> float:
    return round(input_tokens / 1000 * prices.inference_usd_per_1k_input_tokens
                 + output_tokens / 1000 * prices.inference_usd_per_1k_output_tokens, 4)


def check_budget(total_usd: float, budget_usd: float | None, what: str = "this job") -> None:
    """Refuse when the estimate is above the budget (no budget = no limit)."""
    if budget_usd is not None and total_usd > budget_usd:
        raise BudgetExceeded(
            f"estimated cost of {what} is ${total_usd:,.2f} (estimate), above rft.budget_usd ${budget_usd:,.2f}: "
            "lower epochCount/trainingSamplePerPrompt or the prompt count, or raise the budget"
        )


def over_budget(spent_usd: float, budget_usd: float | None) -> bool:
    return budget_usd is not None and spent_usd > budget_usd


def describe(est: Estimate, budget_usd: float | None = None) -> str:
    """Human-readable breakdown; every dollar figure says it is an estimate."""
    lines = [
        f"records: {est.records}, mean prompt tokens: {est.avg_prompt_tokens} (approximate)",
        f"rollouts: {est.rollouts:,} (records x epochs x samples per prompt), tokens: {est.tokens:,}",
        f"training: {est.hours:.2f} h -> ${est.training_usd:,.2f} (estimate)",
        f"grader Lambda: ${est.lambda_usd:,.4f} (estimate)",
        *([f"relevance judge (Bedrock, one call per rollout): ${est.judge_usd:,.2f} (estimate)"] if est.judge_usd else []),
        f"total: ${est.total_usd:,.2f} (estimate; AWS publishes no RFT training price)",
        "where the prices come from:",
        *[f"  {source}" for source in est.sources.values()],
    ]
    if budget_usd is not None:
        verdict = "within" if est.total_usd <= budget_usd else "ABOVE"
        lines.append(f"budget: ${budget_usd:,.2f} -> {verdict} budget")
    return "\n".join(lines)
