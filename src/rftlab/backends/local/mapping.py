"""Bedrock RFT hyperparameters -> TRL GRPOConfig settings: the one place they are mapped.

Pure (no TRL import) so the mapping is testable and documented in docs/hyperparameters.md.
"""

from __future__ import annotations

import math
from typing import Any

# Bedrock name -> what it means locally (rendered into docs/hyperparameters.md).
LOCAL_MEANING: dict[str, str] = {
    "epochCount": "`num_train_epochs` (passes over the train prompts; `rft.local.max_steps` caps the steps)",
    "batchSize": "PROMPTS per optimizer step, as on Bedrock: batchSize x trainingSamplePerPrompt completions ="
    " `per_device_train_batch_size` x `gradient_accumulation_steps` (per-device batch kept small on CPU;"
    " also `generation_batch_size`)",
    "learningRate": "`learning_rate` (AdamW, linear decay)",
    "trainingSamplePerPrompt": "`num_generations` (completions per prompt, the GRPO group)",
    "inferenceMaxTokens": "`max_completion_length` (new tokens per completion)",
    "maxPromptLength": "prompts are left-truncated to this many tokens before training (TRL has no prompt limit)",
    "evalInterval": "`logging_steps`; validation reward, sample tables and checkpoints every this many steps",
    "reasoningEffort": "no local meaning (the small local model has no reasoning mode); recorded as a param only",
}


def micro_batch(batch_size: int, generations: int, per_device_max: int) -> int:
    """Per-device batch: a multiple of the group size, at most `per_device_max` where possible."""
    groups = max(1, per_device_max // generations)
    per_device = generations * groups
    while per_device > generations and batch_size % per_device:
        per_device -= generations
    return min(per_device, max(generations, batch_size))


def grpo_settings(
    hp: dict[str, Any],
    *,
    seed: int = 0,
    beta: float = 0.04,
    temperature: float = 1.0,
    max_steps: int | None = None,
    per_device_max: int = 8,
) -> dict[str, Any]:
    """GRPOConfig keyword arguments for the Bedrock-named hyperparameters `hp`."""
    g = int(hp.get("trainingSamplePerPrompt") or 4)
    batch = int(hp.get("batchSize") or 4) * g  # batchSize counts prompts (Bedrock's meaning); TRL counts completions
    per_device = micro_batch(batch, g, per_device_max)
    accum = max(1, math.ceil(batch / per_device))
    interval = eval_interval(hp)
    return {
        "num_generations": g,
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": accum,
        "generation_batch_size": per_device * accum,
        "max_completion_length": int(hp.get("inferenceMaxTokens") or 32),
        "learning_rate": float(hp.get("learningRate") or 1e-5),
        "num_train_epochs": float(hp.get("epochCount") or 1),
        "max_steps": int(max_steps) if max_steps else -1,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": interval,
        "save_total_limit": 1,
        "beta": float(beta),
        "temperature": float(temperature),
        "seed": int(seed),
        "data_seed": int(seed),
        "use_cpu": True,
        "gradient_checkpointing": False,  # TRL's default recomputes activations: pure overhead for a tiny model
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "shuffle_dataset": True,
    }


def prompt_limit(hp: dict[str, Any]) -> int:
    """Tokens a prompt may keep (maxPromptLength; left truncation keeps the end of the message)."""
    return int(hp.get("maxPromptLength") or 256)


def eval_interval(hp: dict[str, Any]) -> int:
    """Steps between validation passes; unset means 10 locally (Bedrock picks its own when unset)."""
    return int(hp.get("evalInterval") or 10)
