"""The `base_model` stage: a tokenizer and a compact causal LM trained from scratch on the
export's messages, so the offline loop has a model that speaks like the workspace.

CPU-sized on purpose (a few layers, d_model ~128): trains in a couple of minutes on two
cores, and GRPO can then move it within a few minutes more.
"""

from __future__ import annotations

import logging
import math
import random
from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.io import read_messages

log = logging.getLogger(__name__)


def build_model(tokenizer: Any, *, d_model: int, n_layer: int, n_head: int, context: int, seed: int) -> Any:
    """A tiny GPT-2 shaped causal LM sized for `tokenizer`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=context, n_embd=d_model, n_layer=n_layer, n_head=n_head,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(config)


def lm_train(model: Any, tokenizer: Any, texts: list[str], *, context: int, epochs: int, lr: float,
             batch_size: int, seed: int, progress: bool = False) -> list[float]:
    """Plain next-token training (AdamW, warmup + cosine); returns the loss per epoch. With
    `progress`, a bar over the optimizer steps with the running loss (rftlab.progress)."""
    import torch

    from rftlab.progress import bar

    torch.manual_seed(seed)
    rng = random.Random(seed)
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"][:context] for t in texts]
    ids = [x for x in ids if len(x) > 1]
    steps = epochs * math.ceil(len(ids) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))
    )
    pad = tokenizer.pad_token_id
    losses = []
    model.train()
    shown = bar(steps, desc="base model", unit="step", enabled=progress)
    for epoch in range(epochs):
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]) // 8, rng.random()))  # similar lengths
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(batches)
        total, n = 0.0, 0
        for batch in batches:
            width = max(len(ids[i]) for i in batch)
            x = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros_like(x)
            for r, i in enumerate(batch):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                mask[r, : len(ids[i])] = 1
            labels = x.masked_fill(mask == 0, -100)
            loss = model(input_ids=x, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total, n = total + loss.item(), n + 1
            shown.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {total / n:.3f}", refresh=False)
            shown.update()
        losses.append(total / max(1, n))
        log.info("base model epoch %d/%d loss %.3f", epoch + 1, epochs, losses[-1])
    shown.close()
    model.eval()
    return losses


def run_base_model(messages_path: str | Path, out_dir: str | Path, params: Any, *, author: str,
                   progress: bool = True) -> dict[str, Any]:
    """Train tokenizer + model on the messages and save both to `out_dir` (atomically)."""
    import torch

    from rftlab.jobs.local.chat import group_by_user, train_tokenizer, training_texts

    from rftlab.jobs.local.train import quiet_transformers

    quiet_transformers()
    torch.set_num_threads(1)  # a model this small gains nothing from more threads on a shared CPU
    messages = read_messages(messages_path)
    if not messages:
        raise InputError(f"{messages_path}: no messages")
    exclude = None if params.include_target else author
    texts = training_texts(messages, exclude_user=exclude)
    if len(texts) < 10:
        raise InputError(f"{messages_path}: only {len(texts)} usable messages (need at least 10)")
    tokenizer = train_tokenizer(texts, params.vocab_size)
    model = build_model(tokenizer, d_model=params.d_model, n_layer=params.n_layer, n_head=params.n_head,
                        context=params.context, seed=params.seed)
    losses = lm_train(model, tokenizer, texts, context=params.context, epochs=params.epochs,
                      lr=params.learning_rate, batch_size=params.batch_size, seed=params.seed, progress=progress)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    users = group_by_user(messages)
    return {
        "messages": len(messages),
        "training_texts": len(texts),
        "target_messages": users.get(author, 0),
        "include_target": params.include_target,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "final_loss": losses[-1],
        "losses": losses,
    }


class atomic_dir:
    """Write a folder beside `path`, then swap it in; a failed run leaves the old one."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        import tempfile

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        return self.tmp

    def __exit__(self, exc_type, *_: Any) -> None:
        import shutil

        if exc_type is None:
            old = self.path.with_name(f".{self.path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            self.tmp.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
