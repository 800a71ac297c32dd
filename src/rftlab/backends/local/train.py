"""One local GRPO run (TRL) for a job spec: data, config, trainer, resume from checkpoint."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

from rftlab.backends.local.callback import JobCallback
from rftlab.backends.local.mapping import eval_interval, grpo_settings, prompt_limit
from rftlab.errors import InputError
from rftlab.io import iter_jsonl
from rftlab.jobs.spec import JobSpec

log = logging.getLogger(__name__)


def read_prompts(path: str | Path) -> list[dict]:
    """Prompt records (prompts stage format); each needs a non-empty `messages` list."""
    rows = []
    for i, row in enumerate(iter_jsonl(path, required=("messages",)), start=1):
        msgs = row["messages"]
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and "content" in m for m in msgs):
            raise InputError(f"{path}: record {i}: messages must be a non-empty list of {{role, content}}")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no prompts")
    return rows


def truncate_prompt(messages: list[dict], tokenizer: Any, limit: int) -> list[dict]:
    """Left-truncate the last message so the rendered prompt fits `limit` tokens."""
    msgs = [{"role": str(m.get("role", "user")), "content": str(m["content"])} for m in messages]
    while len(tokenizer.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)) > limit:
        content = msgs[-1]["content"]
        if len(content) <= 1:
            break
        msgs[-1]["content"] = content[max(1, len(content) // 8):]
    return msgs


def as_dataset(rows: list[dict], tokenizer: Any, limit: int) -> Any:
    # datasets loads only when a job trains
    from datasets import Dataset

    def ref(r: dict) -> str:
        v = r.get("reference_answer")
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) if v is not None else ""

    return Dataset.from_dict({
        "prompt": [truncate_prompt(r["messages"], tokenizer, limit) for r in rows],
        "id": [str(r.get("id", i)) for i, r in enumerate(rows)],
        "reference_answer": [ref(r) for r in rows],
    })


def last_checkpoint(out_dir: Path) -> str | None:
    cks = sorted(out_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(cks[-1]) if cks else None


def quiet_transformers() -> None:
    """Shard-writing bars and v6 deprecation notices drown the stage's own progress lines."""

    # transformers loads only when a model is trained or sampled
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")


def train(spec: JobSpec, job_dir: Path, *, reward: Any, stop_requested: Any, on_step: Any = None,
          logged: dict[str, dict[int, float]] | None = None, interrupts: Any = None) -> dict[str, Any]:
    """Run (or resume) GRPO for `spec`; saves the tuned model to job_dir/model.

    `logged`: the (metric, step) values the job's run already holds (not logged again).
    Returns {"stopped", "steps", "val_reward_mean", "base_val_reward_mean"}, or {"interrupted",
    "steps"} when a signal stopped training at a checkpoint (no model saved).

    Long: TRL's GRPOTrainer is built, resumed from its checkpoint and run in one place, so the resume rules read together.
    """
    # torch loads only when a model is trained or sampled
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    quiet_transformers()
    opts = spec.options
    hp = spec.hyperparameters
    torch.set_num_threads(int(opts.get("threads") or 1))  # tiny model: extra threads only add contention
    torch.manual_seed(spec.seed)
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(spec.base_model)
    limit = prompt_limit(hp)
    train_ds = as_dataset(read_prompts(spec.train_path), tokenizer, limit)
    val_rows = read_prompts(spec.val_path)[: int(opts.get("val_prompts") or 64)] if spec.val_path else []
    val_rows = [{**r, "messages": truncate_prompt(r["messages"], tokenizer, limit)} for r in val_rows]
    settings = grpo_settings(hp, seed=spec.seed, beta=opts.get("beta", 0.04), temperature=opts.get("temperature", 1.0),
                             max_steps=opts.get("max_steps"), per_device_max=int(opts.get("per_device_max") or 8))
    out_dir = job_dir / "trainer"
    config = GRPOConfig(output_dir=str(out_dir), **settings)
    peft_config = None
    if (lora := opts.get("lora") or {}).get("enabled"):
        # peft loads only when a job trains with LoRA
        from peft import LoraConfig

        peft_config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                 target_modules=lora.get("target_modules") or "all-linear", task_type="CAUSAL_LM")
    gen = {"n": 1, "temperature": float(opts.get("temperature", 1.0)), "max_tokens": settings["max_completion_length"],
           "seed": spec.seed + 1, "prompt_limit": limit}
    callback = JobCallback(reward=reward, tokenizer=tokenizer, val_rows=val_rows, interval=eval_interval(hp),
                           job_dir=job_dir, gen=gen, stop_requested=stop_requested, on_step=on_step,
                           logged=logged, interrupts=interrupts)
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=config, train_dataset=train_ds,
                          processing_class=tokenizer, callbacks=[callback], peft_config=peft_config)
    # transformers loads only when a model is trained or sampled
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # metrics go to MLflow, not stdout
    resume = last_checkpoint(out_dir)
    base_val = None
    if resume is None:
        base_val = callback.evaluate(trainer.model, 0)
    else:
        log.info("resuming %s from %s", job_dir.name, resume)
    trainer.train(resume_from_checkpoint=resume)
    if callback.interrupted:
        return {"interrupted": True, "steps": trainer.state.global_step, "replayed": callback.replayed}
    final = trainer.model
    if peft_config is not None:
        final = final.merge_and_unload()
    if trainer.state.global_step % eval_interval(hp):
        callback.evaluate(final, trainer.state.global_step)
    final.save_pretrained(job_dir / "model")
    tokenizer.save_pretrained(job_dir / "model")
    return {"stopped": callback.stopped, "steps": trainer.state.global_step, "max_steps": trainer.state.max_steps,
            "val_reward_mean": callback.last_val, "base_val_reward_mean": base_val, "replayed": callback.replayed}
