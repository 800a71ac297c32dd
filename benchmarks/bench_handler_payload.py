"""Grader handler on a near-limit payload: wall time of `handle` and time per MB at two sizes.

    .venv/bin/python benchmarks/bench_handler_payload.py [--mb 5.7] [--samples 16]

Builds a Bedrock grader payload of `--samples` samples (one long Japanese user prompt and one
assistant reply each, a tenth of the reply copied from its prompt so the prompt-copy guard
has work to do) whose UTF-8 JSON totals about `--mb` MB (default 5.7 MB, under Lambda's 6 MB
synchronous invocation payload limit), then times `handle` on it and on a payload a quarter of
that size. Work per MB that stays flat or falls as the payload grows means scoring is linear in
text length (features stop at 20,000 characters of the reply, so the large payload can come out
cheaper per MB); a quadratic step shows as a ratio well above 1.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rftlab.grader.bundle import grader_from_obj, make_bundle  # noqa: E402
from rftlab.grader.handler import handle  # noqa: E402
from rftlab.style.profile import build_profile  # noqa: E402

TOPICS = ["デプロイ", "レビュー", "会議", "資料", "テスト", "予算", "障害対応", "リリース", "採用", "設計",
          "見積もり", "議事録", "監視", "移行", "調査"]
WHEN = ["明日", "今日", "来週", "午後", "夕方", "月曜", "今週中", "週明け"]
TARGET = ["{t}の件、{w}までに拙者が確認するでござる。", "うむ、{t}については問題ないでござる。",
          "{w}の{t}、拙者も参加するでござるよ。", "それは良き案でござる、{t}を進めるでござる。"]
BACKGROUND = ["{t}の件、{w}までに確認します！", "了解です、{t}は問題ないと思います",
              "{w}の{t}、私も参加しますー", "いいですね！{t}を進めましょう", "{t}やばいw {w}なんとかします"]


def _sentence(rng: random.Random, templates: list[str]) -> str:
    return rng.choice(templates).format(t=rng.choice(TOPICS), w=rng.choice(WHEN))


KANJI = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]  # CJK unified ideographs
PARTICLES = ["は", "が", "を", "に", "で", "と", "の", "も", "から", "まで"]
ENDINGS = ["です。", "ます。", "でござる。", "ですね。", "しました。", "でしょうか？"]


def _text(rng: random.Random, templates: list[str], chars: int) -> str:
    """Japanese-looking text with few repeated 5-grams (template sentences between random
    kanji compounds and particles), so the prompt-copy guard meets many distinct 5-grams."""
    parts, n = [], 0
    while n < chars:
        if rng.random() < 0.3:
            s = _sentence(rng, templates)
        else:
            words = ["".join(rng.choice(KANJI) for _ in range(2)) + rng.choice(PARTICLES) for _ in range(4)]
            s = "".join(words) + rng.choice(ENDINGS)
        parts.append(s)
        n += len(s)
    return "".join(parts)[:chars]


def grader():
    rng = random.Random(0)
    rows = [{"user": "U01CTO", "text": _sentence(rng, TARGET)} for _ in range(80)]
    rows += [{"user": f"U0{i % 3}BG", "text": _sentence(rng, BACKGROUND)} for i in range(160)]
    return grader_from_obj(make_bundle(build_profile(rows, "U01CTO"), {}))


def payload(total_mb: float, n: int, seed: int = 1) -> tuple[list[dict], int]:
    """n samples whose JSON (UTF-8, as Lambda receives it) totals about total_mb MB; (payload, bytes).

    Each sample: a user prompt of 5/6 of its characters and a reply of 1/6 (at 5.7 MB: 100,000
    and 20,000 characters, the handler's and the features' caps) whose first tenth is copied
    from the prompt.
    """
    rng = random.Random(seed)
    chars = int(total_mb * 1e6 / n / 3)  # 3 UTF-8 bytes per kana/kanji
    samples = []
    for i in range(n):
        prompt = _text(rng, BACKGROUND, chars * 5 // 6)
        n_reply = chars // 6
        reply = prompt[: n_reply // 10] + _text(rng, TARGET, n_reply - n_reply // 10)
        samples.append({"id": f"s{i}", "messages": [{"role": "user", "content": prompt},
                                                    {"role": "assistant", "content": reply}],
                        "metadata": {"reference_answer": "了解でござる。"}})
    return samples, len(json.dumps(samples, ensure_ascii=False).encode("utf-8"))


def timed(samples: list[dict], g) -> float:
    t0 = time.perf_counter()
    out = handle(samples, g)
    dt = time.perf_counter() - t0
    assert len(out) == len(samples)
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=5.7)
    ap.add_argument("--samples", type=int, default=16)
    args = ap.parse_args(argv)
    g = grader()
    timed(payload(0.05, 2)[0], g)  # warm the tagger and the compiled profile
    rows = []
    for mb in (args.mb / 4, args.mb):
        samples, size = payload(mb, args.samples)
        dt = timed(samples, g)
        rows.append((size / 1e6, dt))
        print(f"{args.samples} samples, {size / 1e6:.2f} MB: handle {dt:.2f} s, {dt / (size / 1e6):.3f} s/MB")
    (small_mb, small_s), (big_mb, big_s) = rows
    ratio = (big_s / big_mb) / (small_s / small_mb)
    print(f"s/MB ratio (large / small, {big_mb / small_mb:.1f}x the bytes): {ratio:.2f} "
          "(~1 or below: linear; ~size ratio: quadratic)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
