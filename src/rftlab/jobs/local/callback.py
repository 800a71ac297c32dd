"""Per-step MLflow metrics, validation reward, sample tables and stop requests for GRPO."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rftlab import tracking

# TRL's log keys -> the stable metric names of docs/contracts.md#metrics (others keep their TRL name under train/).
RENAME = {
    "reward": "train/reward_mean",
    "reward_std": "train/reward_std",
    "frac_reward_zero_std": "train/frac_reward_zero_std",
    "kl": "train/kl",
    "completions/mean_length": "train/completion_length",
    "learning_rate": "train/learning_rate",
}
SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss"}


def metric_names(logs: dict[str, Any], components: dict[str, float]) -> dict[str, float]:
    """TRL logs + grader component means -> rftlab's metric names (pure)."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if key in SUMMARY_KEYS or key.startswith("rewards/") or not isinstance(value, int | float):
            continue  # TRL's per-reward-function means duplicate `reward`; components come from the grader
        out[RENAME.get(key, f"train/{key}")] = float(value)
    for name, value in components.items():
        out[f"train/rewards/{name}/mean"] = float(value)
    return out


class JobCallback(TrainerCallback):
    """Streams metrics to MLflow and the job's metrics.jsonl; evaluates every `interval` steps."""

    def __init__(self, *, reward: Any, tokenizer: Any, val_rows: list[dict], interval: int, job_dir: Path,
                 gen: dict[str, Any], stop_requested: Any, on_step: Any = None) -> None:
        self.reward, self.tokenizer, self.val_rows = reward, tokenizer, val_rows
        self.interval, self.job_dir, self.gen = interval, job_dir, gen
        self.stop_requested, self.on_step = stop_requested, on_step
        self.last_val: float | None = None
        self.stopped = False

    def _record(self, step: int, metrics: dict[str, float]) -> None:
        tracking.log_metrics(metrics, step=step)
        with open(self.job_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, "time": time.time(), **metrics}) + "\n")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        metrics = metric_names(logs or {}, self.reward.pop_components())
        if metrics:
            self._record(state.global_step, metrics)

    def evaluate(self, model: Any, step: int) -> float | None:
        if not self.val_rows:
            return None
        import torch

        from rftlab.jobs.local.generation import score_prompts

        rng = torch.get_rng_state()  # validation sampling must not shift training's random stream
        try:
            mean, samples = score_prompts(model, self.tokenizer, self.val_rows, self.reward, **self.gen)
        finally:
            torch.set_rng_state(rng)
        self.reward.pop_components()
        self._record(step, {"val/reward_mean": mean})
        tracking.log_table(
            {k: [s[k] for s in samples] for k in ("id", "prompt", "completion", "reward")},
            f"samples/step_{step:05d}.json",
        )
        self.last_val = mean
        return mean

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if self.on_step:
            self.on_step(state.global_step, state.max_steps)
        if state.global_step % self.interval == 0:
            self.evaluate(model, state.global_step)
        if self.stop_requested():
            self.stopped = True
            control.should_training_stop = True
            control.should_save = True
