"""Small two-style message sets for the calibration tests (built here, never read from disk)."""

from __future__ import annotations

import random

AUTHOR = "U01CTO"
SUBJECTS = ["今日は", "明日の会議は", "例の件は", "デプロイは", "レビューは", "新機能は", "資料は"]
PREDICATES = ["進んで", "終わって", "遅れて", "順調に進んで", "止まって", "確認して"]


def synth_messages(n: int = 150, seed: int = 0, *, overlap: float = 0.3, group_key: str = "thread_ts",
                   per_group: int = 4) -> list[dict]:
    """The target ends with ござる, the others with です/ます/よ; `overlap` of the messages get a
    tail phrase drawn from both styles so the task is not trivially separable."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        target = i % 3 == 0
        text = rng.choice(SUBJECTS) + rng.choice(PREDICATES)
        text += "いるでござる。" if target else rng.choice(["います。", "いるよ！", "いる感じです"])
        if rng.random() < overlap:
            text += rng.choice(["よろしくお願いします", "承知したでござる", "了解です"])
        rows.append({"id": f"m{i}", "user": AUTHOR if target else rng.choice(["U02A", "U03B"]),
                     "text": text, "channel": "dev", group_key: f"g{i // per_group}"})
    return rows
