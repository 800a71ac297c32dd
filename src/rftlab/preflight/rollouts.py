"""Pre-flight rollouts: sample the base model the job will start from, score the rollouts
through the grader's Lambda code path, and judge whether they give GRPO anything to learn.

- Rollouts: `trainingSamplePerPrompt` completions for each of `preflight.prompts` training
  prompts (seeded sample), from the job's own base model: the local model folder (sampled at
  `rft.local.temperature`, `inferenceMaxTokens`), or the Bedrock base model through Converse at
  its inference profile (temperature 1.0: Bedrock publishes no rollout temperature). A Bedrock
  preflight's Converse cost (and the relevance judge's, when the grader calls one) is estimated
  first and refused above `preflight.max_usd`; the tokens used are logged.
- Scoring: `grader.handler.handle` on Bedrock-shaped samples, exactly what the Lambda runs. The
  local backend (and every offline run) judges relevance with the proxy.
- The bar: the target's real replies (the prompts' reference answers) scored by the style
  grader with their prompts; median and 90th percentile.
- Figures and checks: preflight/figures.py; thresholds from params `preflight`; the stage
  itself (files, MLflow) is preflight/stage.py.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from rftlab.errors import InputError
from rftlab.preflight.figures import ADVICE, Rollout

log = logging.getLogger(__name__)
BEDROCK_TEMPERATURE = 1.0


def sample_prompts(path: str | Path, n: int, seed: int) -> tuple[list[dict], int]:
    """(n records chosen with Random(seed), total records) of a prompts file."""
    from rftlab.evaluate.run import read_prompts

    rows = read_prompts(path)
    chosen = random.Random(seed).sample(rows, min(n, len(rows)))
    return chosen, len(rows)


def _prompt_text(record: dict) -> str:
    users = [m for m in record["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def target_bar(grader: Any, records: list[dict]) -> tuple[float, float, int]:
    """(median, p90, n) of the target's real replies' style scores (reference answers with their prompts)."""
    scores = []
    for r in records:
        ref = r.get("reference_answer")
        ref = ref.get("text") if isinstance(ref, dict) else ref
        if isinstance(ref, str) and ref.strip():
            scores.append(grader.score(ref, prompt=_prompt_text(r))[0])
    if not scores:
        raise InputError("the prompts have no reference_answer: the target's real replies set the bar")
    return float(np.median(scores)), float(np.quantile(scores, 0.9)), len(scores)


def bedrock_estimate(prompts: list[dict], n: int, max_tokens: int, prices: Any, relevance: Any) -> dict[str, float]:
    """Estimated USD of the rollouts' Converse calls and, with a Bedrock relevance judge, its calls."""
    from rftlab.jobs.cost import approx_tokens

    cpt = prices.chars_per_token
    prompt_tokens = sum(approx_tokens(str(m.get("content", "")), cpt) for r in prompts for m in r["messages"])
    rollouts = prompt_tokens * n / 1000 * prices.inference_usd_per_1k_input_tokens + \
        len(prompts) * n * max_tokens / 1000 * prices.inference_usd_per_1k_output_tokens
    judge = 0.0
    if relevance is not None and relevance.bundle_block() and relevance.judge == "bedrock":
        rubric = approx_tokens(relevance.rubric, cpt)
        judge = ((rubric * len(prompts) * n + prompt_tokens * n + len(prompts) * n * max_tokens) / 1000
                 * relevance.usd_per_1k_input_tokens
                 + len(prompts) * n * relevance.max_tokens / 1000 * relevance.usd_per_1k_output_tokens)
    return {"rollouts_usd": round(rollouts, 4), "judge_usd": round(judge, 4), "total_usd": round(rollouts + judge, 4)}


def score_rollouts(grader: Any, prompts: list[dict], completions: list[list[Any]]) -> list[list[Rollout]]:
    """Every completion through `handle` (one batch per prompt: one Lambda call per group, as in training)."""
    from rftlab.grader.handler import handle, to_payload

    groups = []
    for record, samples in zip(prompts, completions, strict=True):
        payload = [to_payload(record["messages"], c.text, sample_id=f"{record['id']}-{k}",
                              reference_answer=record.get("reference_answer")) for k, c in enumerate(samples)]
        group = []
        for c, res in zip(samples, handle(payload, grader), strict=True):
            named = {m["name"]: m["value"] for m in res["metrics_list"]}
            reward = float(res["aggregate_reward_score"])
            group.append(Rollout(str(record["id"]), _prompt_text(record), c.text, reward,
                                 float(named.get("style", reward)), named.get("relevance")))
        groups.append(group)
    return groups


def checks(figs: dict[str, Any], settings: Any) -> list[Any]:
    from rftlab.calibrate.check import Check

    return [Check("flat_share", figs["flat_share"], settings.max_flat_share, "max"),
            Check("mean_std", figs["mean_std"], settings.min_mean_std, "min"),
            Check("done_share", figs["done_share"], settings.max_done_share, "max")]


def failure(failed: list[Any]) -> str:
    parts = []
    for c in failed:
        op = "<" if c.kind == "min" else ">"
        parts.append(f"{c.name} {c.value:.4f} {op} threshold {c.threshold:g}: {ADVICE[c.name]}")
    return "preflight failed: " + "; ".join(parts)
