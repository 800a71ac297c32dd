"""Seeded sampling from a local causal LM with the chat template, and mean grader score."""

from __future__ import annotations

from typing import Any


def generate(model: Any, tokenizer: Any, prompts: list[list[dict]], *, n: int = 1, temperature: float = 1.0,
             max_tokens: int = 32, seed: int = 0, prompt_limit: int = 256, batch: int = 32) -> list[list[str]]:
    """n completions per prompt (same seed -> same texts on CPU)."""
    # torch loads only when a model is trained or sampled
    import torch

    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    flat = [t for t in texts for _ in range(n)]
    side, trunc = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side, tokenizer.truncation_side = "left", "left"
    out: list[str] = []
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(flat), batch):
            enc = tokenizer(flat[i : i + batch], return_tensors="pt", padding=True, truncation=True,
                            max_length=prompt_limit, add_special_tokens=False)
            with torch.no_grad():
                gen = model.generate(**enc, do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                                     max_new_tokens=max_tokens, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id)
            new = gen[:, enc["input_ids"].shape[1] :]
            out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = side, trunc
        model.train(was_training)
    return [out[i * n : (i + 1) * n] for i in range(len(prompts))]


def score_prompts(model: Any, tokenizer: Any, rows: list[dict], reward: Any, **gen: Any) -> tuple[float, list[dict]]:
    """Mean grader score of sampled completions on prompt records, plus per-sample rows."""
    n = int(gen.pop("n", 1))
    prompts = [r["messages"] for r in rows]
    completions = generate(model, tokenizer, prompts, n=n, **gen)
    flat_p = [p for p in prompts for _ in range(n)]
    flat_c = [c for cs in completions for c in cs]
    ids = [str(r.get("id", i)) for i, r in enumerate(rows) for _ in range(n)]
    refs = [r.get("reference_answer") for r in rows for _ in range(n)]
    responses = reward.score(flat_p, flat_c, ids=ids, references=refs)
    scores = [float(r.get("aggregate_reward_score") or 0.0) for r in responses]
    samples = [
        {"id": i, "prompt": p[-1]["content"] if p else "", "completion": c, "reward": s}
        for i, p, c, s in zip(ids, flat_p, flat_c, scores, strict=True)
    ]
    return (sum(scores) / len(scores) if scores else 0.0), samples


def load_local(path: str) -> tuple[Any, Any]:
    # transformers loads only when a model is trained or sampled
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
