"""Small synthetic Slack-like messages for the style/grader tests (no shared corpus needed)."""

from __future__ import annotations

import random

TOPICS = ["デプロイ", "レビュー", "会議", "資料", "テスト", "予算", "障害対応", "リリース", "採用", "設計"]
WHEN = ["明日", "今日", "来週", "午後", "夕方", "月曜"]
TARGET_TEMPLATES = [
    "{t}の件、{w}までに拙者が確認するでござる。",
    "{t}は順調でござるな、{w}に共有いたす。",
    "うむ、{t}については問題ないでござる。",
    "{w}の{t}、拙者も参加するでござるよ。",
    "それは良き案でござる、{t}を進めるでござる。",
    "{t}で困っておるなら、拙者に相談するでござる。",
]
BACKGROUND_TEMPLATES = [
    "{t}の件、{w}までに確認します！",
    "{t}は順調です。{w}に共有しますね",
    "了解です、{t}は問題ないと思います",
    "{w}の{t}、私も参加しますー",
    "いいですね！{t}を進めましょう",
    "{t}で困ってたら相談してください",
    "{t}やばいw {w}なんとかします",
]


def messages(n_target: int = 60, n_background: int = 120, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n_target):
        text = rng.choice(TARGET_TEMPLATES).format(t=rng.choice(TOPICS), w=rng.choice(WHEN))
        rows.append({"id": f"t{i}", "user": "U01CTO", "text": text, "channel": "general"})
    for i in range(n_background):
        text = rng.choice(BACKGROUND_TEMPLATES).format(t=rng.choice(TOPICS), w=rng.choice(WHEN))
        rows.append({"id": f"b{i}", "user": f"U0{i % 3}BG", "text": text, "channel": "general"})
    rng.shuffle(rows)
    return rows


def heldout(seed: int = 99) -> tuple[list[str], list[str]]:
    """Fresh target-like and background-like texts (different seed from the profile's)."""
    rows = messages(30, 30, seed=seed)
    return ([r["text"] for r in rows if r["user"] == "U01CTO"], [r["text"] for r in rows if r["user"] != "U01CTO"])
