"""The base model's making: a compact causal LM trained from scratch on the export's messages, so the
offline loop has a model that speaks like the workspace (the stage is base_model_stage.py).

CPU-sized on purpose (a few layers, d_model ~128): trains in a couple of minutes on two
cores, and GRPO can then move it within a few minutes more.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any

from rftlab.progress import bar

log = logging.getLogger(__name__)


def build_model(tokenizer: Any, *, d_model: int, n_layer: int, n_head: int, context: int, seed: int) -> Any:
    """A tiny GPT-2 shaped causal LM sized for `tokenizer`."""
    # torch loads only when a model is trained or sampled
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
    # torch loads only when a model is trained or sampled
    import torch

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
