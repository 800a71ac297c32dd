"""The `base_model` stage (dvc.yaml `base_model`): a tokenizer and a tiny causal LM trained from scratch on
the messages, the local backend's starting model (offline, CPU). Shape: rftlab.stage (docs/architecture.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rftlab import contracts, tracking
from rftlab.backends.local.base_model import build_model, lm_train
from rftlab.backends.local.chat import group_by_user, train_tokenizer, training_texts
from rftlab.backends.local.train import quiet_transformers
from rftlab.errors import InputError
from rftlab.headline import write_headline
from rftlab.io import atomic_dir, read_messages, write_json
from rftlab.stage import PASS, Verdict, stage_record

KIND = contracts.BASE_MODEL


@dataclass
class Result:
    model: Any
    tokenizer: Any
    summary: dict[str, Any]
    seconds: float = 0.0


def read_inputs(messages_path: Path) -> list[dict]:
    if not messages_path.exists():
        raise InputError(f"{messages_path}: messages file not found (run `rftlab ingest` first)")
    messages = read_messages(messages_path)
    if not messages:
        raise InputError(f"{messages_path}: no messages")
    return messages


def compute(messages: list[dict], params: Any, *, author: str, source: Path, progress: bool) -> Result:
    """Train the tokenizer, then the model; the summary holds no wall time (a DVC output)."""
    t0 = time.monotonic()
    quiet_transformers()
    torch.set_num_threads(1)  # a model this small gains nothing from more threads on a shared CPU
    texts = training_texts(messages, exclude_user=None if params.include_target else author)
    if len(texts) < 10:
        raise InputError(f"{source}: only {len(texts)} usable messages (need at least 10)")
    tokenizer = train_tokenizer(texts, params.vocab_size)
    model = build_model(tokenizer, d_model=params.d_model, n_layer=params.n_layer, n_head=params.n_head,
                        context=params.context, seed=params.seed)
    losses = lm_train(model, tokenizer, texts, context=params.context, epochs=params.epochs,
                      lr=params.learning_rate, batch_size=params.batch_size, seed=params.seed, progress=progress)
    summary = {
        "messages": len(messages), "training_texts": len(texts),
        "target_messages": group_by_user(messages).get(author, 0), "include_target": params.include_target,
        "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(tokenizer),
        "final_loss": losses[-1], "losses": losses,
    }
    return Result(model, tokenizer, summary, round(time.monotonic() - t0, 1))


def gate(result: Result) -> Verdict:
    return PASS  # the preflight judges the base model, through the grader


def write_outputs(result: Result, out_dir: Path, *, metrics: Path | None, headline: Path | None) -> None:
    with atomic_dir(out_dir) as tmp:
        result.model.save_pretrained(tmp)
        result.tokenizer.save_pretrained(tmp)
    if metrics:
        write_json(metrics, {k: v for k, v in result.summary.items() if k != "losses"})
    if headline:
        write_headline(headline, "base_model", result.summary)


def record(result: Result) -> None:
    summary = result.summary
    tracking.log_metrics({f"loss_epoch_{i + 1}": v for i, v in enumerate(summary["losses"])})
    tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, int | float)})
    tracking.log_metrics({"train_seconds": result.seconds})  # wall time: MLflow only, never a DVC output


def run(messages_path: Path, out_dir: Path, params: Any, *, author: str, metrics: Path | None = None,
        headline: Path | None = None, track: bool = True, progress: bool = True) -> Result:
    """Train and save tokenizer + model (atomically); returns the result (summary, wall seconds)."""
    messages = read_inputs(Path(messages_path))
    with stage_record(KIND, track=track, run_name=contracts.BASE_MODEL, deps={"messages": messages_path},
                      params={"base_model": params.model_dump(), "author": author}) as run_:
        result = compute(messages, params, author=author, source=Path(messages_path), progress=progress)
        verdict = gate(result)
        write_outputs(result, Path(out_dir), metrics=metrics, headline=headline)
        if run_ is not None:
            record(result)
    verdict.raise_if_failed(KIND)
    return result
