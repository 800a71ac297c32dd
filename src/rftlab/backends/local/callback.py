"""Per-step MLflow metrics, validation reward, sample tables, stop requests and interrupts for GRPO.

Each (metric, step) is recorded once per job: a job resumed from its last checkpoint replays the
steps after it (a SIGKILL leaves no later checkpoint), and those replays are not logged again to
MLflow or metrics.jsonl (`logged` holds what the run already has; the checkpoint restores the RNG
state, so on one machine a replayed step reproduces the logged value, and a warning says when not).
A first SIGINT/SIGTERM during training (`Interrupts`) ends the step, saves a checkpoint there and
stops, so nothing is replayed at all; a second one interrupts at once.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rftlab import contracts, tracking
from rftlab.backends.local.generation import score_prompts

log = logging.getLogger(__name__)

# TRL's log keys -> the stable metric names of docs/contracts.md#metrics; any other TRL key is kept under
# trl/<key> (grad_norm, loss, num_tokens, completions/*, ...), out of the reward and evaluation charts.
RENAME = {
    "reward": contracts.TRAIN_REWARD_MEAN,
    "reward_std": contracts.TRAIN_REWARD_STD,
    "frac_reward_zero_std": "train/frac_reward_zero_std",
    "kl": "train/kl",
    "completions/mean_length": "train/completion_length",
    "learning_rate": "train/learning_rate",
    "entropy": "train/entropy",
    "epoch": "train/epoch",
}
# Zero by construction here: with num_iterations 1 and one generation per optimizer step (rftlab's mapping),
# TRL's old and new log-probs are the same tensor (trl 1.16 GRPOTrainer._compute_loss: "When
# num_iterations == 1 ... old_per_token_logps == per_token_logps"), so no token is ever clipped.
ALWAYS_ZERO = ("clip_ratio/",)
SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss"}


def metric_names(logs: dict[str, Any], components: dict[str, float]) -> dict[str, float]:
    """TRL logs + grader component means -> rftlab's metric names (pure)."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if key in SUMMARY_KEYS or key.startswith(("rewards/", *ALWAYS_ZERO)) or not isinstance(value, int | float):
            continue  # TRL's per-reward-function means duplicate `reward`; components come from the grader
        out[RENAME.get(key, f"trl/{key}")] = float(value)
    for name, value in components.items():
        out[f"train/rewards/{name}/mean"] = float(value)
    return out


class JobCallback(TrainerCallback):
    """Streams metrics to MLflow and the job's metrics.jsonl; evaluates every `interval` steps."""

    def __init__(self, *, reward: Any, tokenizer: Any, val_rows: list[dict], interval: int, job_dir: Path,
                 gen: dict[str, Any], stop_requested: Any, on_step: Any = None,
                 logged: dict[str, dict[int, float]] | None = None, interrupts: Any = None) -> None:
        self.reward, self.tokenizer, self.val_rows = reward, tokenizer, val_rows
        self.interval, self.job_dir, self.gen = interval, job_dir, gen
        self.stop_requested, self.on_step = stop_requested, on_step
        self.logged: dict[str, dict[int, float]] = logged if logged is not None else {}
        self.interrupts = interrupts
        self.last_val: float | None = None
        self.stopped = False
        self.interrupted = False
        self.replayed = 0

    def _record(self, step: int, metrics: dict[str, float]) -> None:
        new = {}
        for key, value in metrics.items():
            seen = self.logged.setdefault(key, {})
            if step in seen:  # a step replayed after a resume: recorded already
                self.replayed += 1
                if seen[step] is not None and not math.isclose(seen[step], value, rel_tol=1e-6, abs_tol=1e-9):
                    log.warning("step %d replayed %s = %g, recorded %g before the resume (kept)", step, key, value,
                                seen[step])
                continue
            seen[step] = value
            new[key] = value
        if not new:
            return
        tracking.log_metrics(new, step=step)
        with open(self.job_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, "time": time.time(), **new}) + "\n")

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.interrupts is not None:
            self.interrupts.graceful = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.interrupts is not None:
            self.interrupts.graceful = False

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        metrics = metric_names(logs or {}, self.reward.pop_components())
        if metrics:
            self._record(state.global_step, metrics)

    def evaluate(self, model: Any, step: int) -> float | None:
        if not self.val_rows:
            return None
        # torch loads only when a model is trained or sampled
        import torch

        rng = torch.get_rng_state()  # validation sampling must not shift training's random stream
        try:
            mean, samples = score_prompts(model, self.tokenizer, self.val_rows, self.reward, **self.gen)
        finally:
            torch.set_rng_state(rng)
        self.reward.pop_components()
        self._record(step, {contracts.VAL_REWARD_MEAN: mean})
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
        if self.interrupts is not None and self.interrupts.requested:
            self.interrupted = True  # checkpoint this step, then the caller raises KeyboardInterrupt
            control.should_training_stop = True
            control.should_save = True
        elif self.stop_requested():
            self.stopped = True
            control.should_training_stop = True
            control.should_save = True
