"""The pre-flight figures from scored rollouts (pure arithmetic, no I/O).

GRPO learns from differences between the rewards of one prompt's rollouts: a group whose
rewards tie (a flat group) gives every rollout a zero advantage, so a step whose groups are all
flat teaches nothing. AWS's RFT guidance starts from the same place ("evaluate baseline
performance" before a job; the reward must spread the samples of one prompt).

- `flat_share`: share of prompts whose rollouts' reward standard deviation is below `flat_std`;
- `mean_std`: mean within-prompt standard deviation of the reward;
- `done_share`: share of rollouts whose style score already reaches the target's median real
  score (nothing left to learn on them, or a lenient grader);
- `above_p90_share`: share whose style score is above the target's 90th percentile (the
  hacking ceiling: more "target-like" than the target is a warning sign);
- `steps_with_signal`: expected optimizer steps with at least one non-flat group,
  steps x (1 - flat_share ** prompts_per_step), and `signal_groups_per_step` = prompts_per_step x
  (1 - flat_share).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BINS = 20

# What to change when a check fails (the failure line names it).
ADVICE = {
    "flat_share": "raise the sampling temperature (rft.local.temperature) or trainingSamplePerPrompt, "
                  "or widen the grader's scale (recalibrate)",
    "mean_std": "raise the sampling temperature (rft.local.temperature) or trainingSamplePerPrompt, "
                "or widen the grader's scale (recalibrate)",
    "done_share": "the base model already reaches the target's median on most rollouts: little left to learn, "
                  "or the grader is too lenient (see the gate's attack figures)",
}


@dataclass(frozen=True)
class Rollout:
    prompt_id: str
    prompt: str
    text: str
    reward: float
    style: float
    relevance: float | None = None


def _std(values: Sequence[float]) -> float:
    return float(np.std(values)) if len(values) > 1 else 0.0


def figures(groups: Sequence[Sequence[Rollout]], *, flat_std: float, median: float, p90: float,
            prompts_per_step: int, steps: int) -> dict[str, Any]:
    """Every figure of the module docstring, plus histogram rows (reward, 20 bins over [0, 1])."""
    stds = [_std([r.reward for r in g]) for g in groups if g]
    flat = [s < flat_std for s in stds]
    flat_share = float(np.mean(flat)) if flat else 1.0
    rollouts = [r for g in groups for r in g]
    rewards = np.array([r.reward for r in rollouts], dtype=float)
    styles = np.array([r.style for r in rollouts], dtype=float)
    counts, edges = np.histogram(rewards, bins=BINS, range=(0.0, 1.0))
    relevances = [r.relevance for r in rollouts if r.relevance is not None]
    with_signal = steps * (1.0 - flat_share ** max(1, prompts_per_step))
    return {
        "prompts": len(stds),
        "rollouts": len(rollouts),
        "flat_share": round(flat_share, 6),
        "mean_std": round(float(np.mean(stds)) if stds else 0.0, 6),
        "reward_mean": round(float(rewards.mean()) if len(rewards) else 0.0, 6),
        "style_mean": round(float(styles.mean()) if len(styles) else 0.0, 6),
        "relevance_mean": round(float(np.mean(relevances)), 6) if relevances else None,
        "done_share": round(float((styles >= median).mean()) if len(styles) else 0.0, 6),
        "above_p90_share": round(float((styles > p90).mean()) if len(styles) else 0.0, 6),
        "target_median": round(median, 6),
        "target_p90": round(p90, 6),
        "steps": int(steps),
        "steps_with_signal": round(with_signal, 2),
        "signal_groups_per_step": round(prompts_per_step * (1.0 - flat_share), 3),
        "histogram": [{"bin": round((edges[i] + edges[i + 1]) / 2, 3), "rollouts": int(c)} for i, c in enumerate(counts)],
    }


def total_steps(records: int, hp: dict[str, Any], max_steps: int | None = None) -> int:
    """Optimizer steps of the job: max_steps when set, else records x epochs / prompts per step."""
    if max_steps:
        return int(max_steps)
    per = int(hp.get("batchSize") or hp.get("batch_size") or 1)
    epochs = int(hp.get("epochCount") or hp.get("n_epochs") or 1)
    return max(1, math.ceil(records * epochs / max(1, per)))
