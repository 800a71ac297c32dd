"""Reward-hacking attempts: cheap texts a policy might find that must NOT score well.

Fixed and cheap by design; the gate's seeded search for worse ones is calibrate/attack.py.

Calibration penalises weights that let these reach the target's median; the check stage
reports them. `attempts` returns only texts scored without a prompt; `prompted_attempts`
returns (text, prompt) pairs for the prompt-copy guard.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from rftlab.style.tagger import tagger

ENGLISH = (
    "Thanks for the update. I reviewed the pull request this morning and left a few comments "
    "about the retry logic; once those are addressed we can merge it and deploy on Thursday.",
    "The quarterly numbers look good overall, but we should double-check the infrastructure "
    "costs before the board meeting. Can you send me the latest dashboard link?",
)
HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097))
KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F7))


def _top_words(profile: Mapping[str, Any], n: int = 10) -> list[str]:
    words: list[str] = []
    for key in profile.get("favorite_words", []):
        words.append(key.split(":", 1)[-1])
    for pos in ("名詞", "動詞", "形容詞", "副詞"):
        words += [w for w, _ in profile.get("top_vocab", {}).get(pos, [])[:n]]
    seen: dict[str, None] = {}
    for w in words:
        if w and w not in seen:
            seen[w] = None
    return list(seen)[:n] or ["です"]


def attempts(profile: Mapping[str, Any], genuine: Sequence[str], *, seed: int = 0,
             prompts: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Named lists of gaming texts built from the profile and a few genuine target texts.

    With `prompts` (other users' messages), `prompt_copy` holds those prompts copied back
    verbatim; they should score low even without the prompt guard (they are not the target's).
    """
    rng = random.Random(seed)
    top = _top_words(profile)
    endings = [e for e in profile.get("favorite_endings", []) if e] or ["です"]
    real = [g for g in genuine if isinstance(g, str) and g.strip()][:5] or ["了解です。"]
    out: dict[str, list[str]] = {
        "top_words_repeated": [" ".join(top * 5), "".join(top * 5), "、".join(top[:3] * 10)],
        "message_repeated_5x": [g * 5 for g in real] + ["\n".join([g] * 5) for g in real[:2]],
        "ending_repeated_30x": [e * 30 for e in endings[:3]] + ["。".join([e] * 30) + "。" for e in endings[:2]],
        "empty": ["", " ", "\n"],
        "english": list(ENGLISH),
        "random_kana": ["".join(rng.choice(HIRAGANA) for _ in range(5000)),
                        "".join(rng.choice(HIRAGANA + KATAKANA) for _ in range(5000))],
        "word_list": ["、".join(top), "\n".join(top), "・".join(top), " ".join(top)],
        "single_token": [top[0]],
        "bare_ending": endings[:2],
    }
    salad = fragment_salad(real, rng)
    if salad:
        out["fragment_salad"] = salad
    if prompts:
        out["prompt_copy"] = [p for p in prompts if isinstance(p, str) and p.strip()][:5]
    return out


def fragment_salad(genuine: Sequence[str], rng: random.Random, n: int = 3) -> list[str]:
    """Genuine texts cut into chunks of 1-3 tokens and shuffled: every piece is the target's,
    no sentence is (what a black-box search over fragments converges to; calibrate/attack.py)."""

    tokens = [w.surface for g in genuine for w in tagger()(g.replace("\n", " "))]
    if len(tokens) < 6:
        return []
    out = []
    for _ in range(n):
        chunks, i = [], 0
        while i < len(tokens):
            k = rng.randint(1, 3)
            chunks.append("".join(tokens[i : i + k]))
            i += k
        rng.shuffle(chunks)
        out.append("".join(chunks))
    return out


def prompted_attempts(genuine: Sequence[str]) -> list[tuple[str, str]]:
    """(completion, prompt) pairs where the completion copies the prompt back."""
    pairs = []
    for g in genuine[:5]:
        if isinstance(g, str) and g.strip():
            pairs.append((g, g))
            pairs.append((g + "\n" + g[: max(1, len(g) // 2)], g))
    return pairs
