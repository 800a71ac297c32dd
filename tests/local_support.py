"""A tiny local project built by the tests: messages, a 1-layer causal LM, a grader bundle, prompts."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

ENDINGS = {"T": ["でござる。", "でござるな。", "ではござらぬ。"], "A": ["です。", "ですね。"], "B": ["だよ。", "かな。"]}
WORDS = ["デプロイ", "テスト", "レビュー", "障害", "ログ", "設計", "予算"]


def messages(n: int = 160) -> list[dict]:
    r = random.Random(0)
    rows = []
    for i in range(n):
        u = "T" if i % 3 == 0 else r.choice("AB")
        text = "".join(f"{r.choice(WORDS)}の確認{r.choice(ENDINGS[u])}" for _ in range(r.randint(1, 2)))
        rows.append({"id": f"m{i}", "user": u, "text": text, "ts": str(1000 + i), "channel": "c"})
    return rows


def build_project(d: Path, params: dict | None = None) -> Path:
    """params.yaml (local backend, 4 steps), base/ model, grader.json, train.jsonl (40), val.jsonl (4)."""
    from rftlab.backends.local.base_model import build_model, lm_train
    from rftlab.backends.local.chat import train_tokenizer, training_texts
    from rftlab.grader.bundle import make_bundle, write_bundle
    from rftlab.io import write_jsonl
    from rftlab.style.profile import build_profile

    rows = messages()
    texts = training_texts(rows)
    tok = train_tokenizer(texts, 300)
    model = build_model(tok, d_model=32, n_layer=1, n_head=2, context=64, seed=0)
    lm_train(model, tok, texts, context=64, epochs=1, lr=3e-3, batch_size=32, seed=0)
    model.save_pretrained(d / "base")
    tok.save_pretrained(d / "base")
    write_bundle(d / "grader.json", make_bundle(build_profile(rows, "T", min_count=1)))
    prompts = [{"messages": [{"role": "user", "content": r["text"]}], "reference_answer": rows[i + 1]["text"],
                "id": r["id"]} for i, r in enumerate(rows[:-1]) if r["user"] != "T"]
    write_jsonl(d / "train.jsonl", prompts[:40])
    write_jsonl(d / "val.jsonl", prompts[40:44])
    base = {"rft": {"base_model": str(d / "base"), "seed": 0,
                    "local": {"max_steps": 4, "val_prompts": 4, "hourly_usd": 1.0,
                              "hyperparameters": {"batchSize": 4, "trainingSamplePerPrompt": 4, "learningRate": 1e-3,
                                                  "inferenceMaxTokens": 8, "evalInterval": 2}}}}
    for section, values in (params or {}).items():
        base[section] = {**base.get(section, {}), **values}
    (d / "params.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    return d
