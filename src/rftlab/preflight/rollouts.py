"""Pre-flight rollouts: sample the base model the job will start from, score the rollouts
through the grader's Lambda code path, and judge whether they give GRPO anything to learn.

- Rollouts: `trainingSamplePerPrompt` completions for each of `preflight.prompts` training
  prompts (seeded sample), from the job's own base model, through its backend's rollout
  generator (rftlab.plugins: a local model folder at the local trainer's temperature, a remote base
  model at 1.0). A backend whose rollouts cost money estimates them first (its
  `preflight_estimate`, `converse_estimate` here for Converse prices and the relevance judge's
  calls); the stage refuses an estimate above `preflight.max_usd`; the tokens used are logged.
- Scoring: `grader.handler.handle` on Bedrock-shaped samples, exactly what the Lambda runs. The
  local backend (and every offline run) judges relevance with the proxy.
- The bar: the target's real replies (the prompts' reference answers) scored by the style
  grader with their prompts; median and 90th percentile.
- Figures and checks: preflight/figures.py; thresholds from params `preflight`; the stage
  itself (files, MLflow) is preflight_stage.py.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from rftlab.errors import InputError
from rftlab.grader.handler import handle, to_payload
from rftlab.jobs.cost import approx_tokens
from rftlab.preflight.figures import Rollout
from rftlab.prompts.records import prompt_text, read_prompts
from rftlab.stage import Check

log = logging.getLogger(__name__)


def sample_prompts(path: str | Path, n: int, seed: int) -> tuple[list[dict], int]:
    """(n records chosen with Random(seed), total records) of a prompts file."""
    rows = read_prompts(path)
    chosen = random.Random(seed).sample(rows, min(n, len(rows)))
    return chosen, len(rows)


def target_bar(grader: Any, records: list[dict]) -> tuple[float, float, int]:
    """(median, p90, n) of the target's real replies' style scores (reference answers with their prompts)."""
    scores = []
    for r in records:
        ref = r.get("reference_answer")
        ref = ref.get("text") if isinstance(ref, dict) else ref
        if isinstance(ref, str) and ref.strip():
            scores.append(grader.score(ref, prompt=prompt_text(r))[0])
    if not scores:
        raise InputError("the prompts have no reference_answer: the target's real replies set the bar")
    return float(np.median(scores)), float(np.quantile(scores, 0.9)), len(scores)


def converse_estimate(prompts: list[dict], n: int, max_tokens: int, prices: Any, relevance: Any) -> dict[str, float]:
    """Estimated USD of the rollouts' Converse calls and, with a Bedrock relevance judge, its calls."""

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

    groups = []
    for record, samples in zip(prompts, completions, strict=True):
        payload = [to_payload(record["messages"], c.text, sample_id=f"{record['id']}-{k}",
                              reference_answer=record.get("reference_answer")) for k, c in enumerate(samples)]
        group = []
        for c, res in zip(samples, handle(payload, grader), strict=True):
            named = {m["name"]: m["value"] for m in res["metrics_list"]}
            reward = float(res["aggregate_reward_score"])
            group.append(Rollout(str(record["id"]), prompt_text(record), c.text, reward,
                                 float(named.get("style", reward)), named.get("relevance")))
        groups.append(group)
    return groups


def checks(figs: dict[str, Any], settings: Any) -> list[Check]:
    return [Check("flat_share", figs["flat_share"], settings.max_flat_share, "max"),
            Check("mean_std", figs["mean_std"], settings.min_mean_std, "min"),
            Check("done_share", figs["done_share"], settings.max_done_share, "max")]
