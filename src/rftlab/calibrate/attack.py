"""Red team for the reward: a seeded black-box search for text the grader pays too much for.

The gate's fixed gaming texts (grader/gaming.py) are hand-written; a policy under GRPO is a
search. This module is that search, run before any money is spent, against the grader
through the Lambda code path (`grader.handler.handle` on Bedrock-shaped samples):

- constant replies: the target's own content-free sentences (no word the prompts use),
  joined, sent unchanged for every prompt;
- fixed real messages: the target's highest-scoring real replies, sent for every prompt;
- splices: sentences of two or three real target messages joined;
- hill climbing (one climb per seed): mutations over fragments of the target's messages
  (single tokens, short token spans, whole sentences) and the profile's favourite words and
  endings — replace, insert, delete, swap, duplicate, splice a real message in.

Every candidate is prompt-independent. In the climb each grader call is one batch (a Lambda
invocation scores a batch): the incumbent and a mutation, each as the reply to `panel` fresh
training prompts; the mutation is kept when its mean is at least the incumbent's on those
same prompts (a paired comparison, so the draw of prompts cancels out), so the climb favours
text that earns on whatever prompt comes. `budget` counts grader calls per seed. The texts
each climb ends with, and every other attack, are then scored on `eval_prompts` prompts the
climb never saw: what a policy that ignores its prompt would earn.

The bar is the target's median real score: the style score of the target's own replies
(the prompts' reference answers) as the grader scores them with their prompts. The gate
(`gate_attack`, calibrate/check.py) runs the grader offline (grader/relevance.py's proxy in
place of a Bedrock judge: no model calls, no cost).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rftlab.grader.handler import handle, to_payload
from rftlab.grader.relevance import key_terms
from rftlab.style.tagger import tagger

SENTENCE = re.compile(r"(?<=[。！？!?\n])")
BatchScorer = Callable[[Sequence[str], Sequence[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Attack:
    kind: str     # constant | fixed_message | splice | hill_climb
    text: str
    score: float  # mean reward over the evaluation prompts
    panel_score: float | None = None  # hill climb: mean reward over its own panel
    seed: int | None = None
    style: float | None = None  # mean style score over the evaluation prompts (the aggregate's style part)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class AttackReport:
    bar: float                        # the target's median real score
    attacks: list[Attack] = field(default_factory=list)
    calls: int = 0
    trace: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # seed -> (call, best panel score)

    def best(self, kind: str | None = None) -> Attack | None:
        pool = [a for a in self.attacks if kind is None or a.kind == kind]
        return max(pool, key=lambda a: a.score) if pool else None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bar": round(self.bar, 6), "calls": self.calls}
        for kind in ("constant", "fixed_message", "splice", "hill_climb"):
            b = self.best(kind)
            if b is not None:
                out[f"{kind}_best"] = round(b.score, 6)
        best = self.best()
        out["best"] = round(best.score, 6) if best else 0.0
        out["margin"] = round(self.bar - out["best"], 6)
        return out


def handler_scorer(grader: Any) -> BatchScorer:
    """Score replies against several prompts in one call of the Lambda's `handle`: results are
    reply-major (every prompt for the first reply, then for the second, ...)."""

    def score(texts: Sequence[str], prompts: Sequence[str]) -> list[dict[str, Any]]:
        payload = [to_payload([{"role": "user", "content": p}], text, sample_id=f"attack-{j}-{i}")
                   for j, text in enumerate(texts) for i, p in enumerate(prompts)]
        return handle(payload, grader)

    return score


def _reward(results: list[dict[str, Any]]) -> float:
    vals = [float(r.get("aggregate_reward_score") or 0.0) for r in results]
    return sum(vals) / len(vals) if vals else 0.0


def _style(results: list[dict[str, Any]]) -> float:
    vals = []
    for r in results:
        named = {m.get("name"): m.get("value") for m in r.get("metrics_list") or []}
        vals.append(float(named.get("style", r.get("aggregate_reward_score") or 0.0)))
    return sum(vals) / len(vals) if vals else 0.0


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text) if s.strip()]


def _tokens(text: str) -> list[str]:
    return [w.surface for w in tagger()(text.replace("\n", " "))]


def fragment_pool(profile: dict, genuine: Sequence[str], *, rng: random.Random, limit: int = 400) -> list[str]:
    """Tokens, 2-4 token spans and sentences of the target's messages, plus favourite words and endings."""
    pool: list[str] = []
    for text in rng.sample(list(genuine), min(limit, len(genuine))):
        toks = _tokens(text)
        pool += toks
        for _ in range(2):
            if len(toks) >= 2:
                n = rng.randint(2, min(4, len(toks)))
                i = rng.randrange(0, len(toks) - n + 1)
                pool.append("".join(toks[i : i + n]))
        pool += _sentences(text)
    pool += [w.split(":", 1)[-1].split("-", 1)[0] for w in profile.get("favorite_words", [])]
    pool += [e for e in profile.get("favorite_endings", []) if e]
    for items in (profile.get("top_vocab") or {}).values():
        pool += [w for w, _ in items[:20]]
    return [p for p in pool if p and p.strip()]


def _mutate(frags: list[str], pool: Sequence[str], genuine: Sequence[str], rng: random.Random) -> list[str]:
    out = list(frags)
    op = rng.random()
    if not out or op < 0.25:
        out.insert(rng.randint(0, len(out)), rng.choice(pool))
    elif op < 0.50:
        out[rng.randrange(len(out))] = rng.choice(pool)
    elif op < 0.65 and len(out) > 1:
        del out[rng.randrange(len(out))]
    elif op < 0.75 and len(out) > 1:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    elif op < 0.82:
        i = rng.randrange(len(out))
        out.insert(i, out[i])
    elif op < 0.92:  # splice: a real message's head or tail around the current fragments
        toks = _tokens(rng.choice(genuine))
        cut = rng.randint(1, max(1, len(toks)))
        out = toks[:cut] + out if rng.random() < 0.5 else out + toks[cut:]
    else:
        out.append(rng.choice(pool))
    return out[:80]


def hill_climb(score: Callable[[list[str]], list[float]], pool: Sequence[str], genuine: Sequence[str], *,
               budget: int, seed: int, patience: int = 300,
               trace: list[tuple[int, float]] | None = None) -> list[tuple[float, str]]:
    """(1+1) hill climbing with restarts; returns each restart's (mean score when kept, text).

    `score(texts)` scores several texts against the same fresh prompts in one grader call: the
    incumbent and the candidate are compared on the prompts of that call (a paired test, so
    the prompts' luck cancels), and the climb favours text that earns on any prompt."""
    rng = random.Random(seed)
    ends: list[tuple[float, str]] = []
    calls = 0
    best_all = -1.0
    while calls < budget:
        cur = _tokens(rng.choice(genuine)) if rng.random() < 0.5 else [rng.choice(pool) for _ in range(rng.randint(3, 12))]
        stale, total, n = 0, 0.0, 0
        while calls < budget and stale < patience:
            cand = _mutate(cur, pool, genuine, rng)
            s_cur, s_cand = score(["".join(cur), "".join(cand)])
            calls += 1
            if s_cand >= s_cur:
                stale = 0 if s_cand > s_cur else stale + 1
                cur, total, n = cand, s_cand, 1
            else:
                stale += 1
                total, n = total + s_cur, n + 1
            if n and total / n > best_all:
                best_all = total / n
                if trace is not None:
                    trace.append((calls, round(best_all, 6)))
        ends.append((total / n if n else 0.0, "".join(cur)))
    return ends


def constant_replies(genuine: Sequence[str], prompts: Sequence[str], n: int = 13) -> list[str]:
    """The target's most frequent sentences that name nothing any prompt names (no shared key term,
    grader/relevance.py), joined in twos and threes: `結論から言うと、急ぐ話ではござらぬ。よしなにでござる。`."""

    topics = {t for p in prompts for t in key_terms(p)}
    seen: dict[str, int] = {}
    for text in genuine:
        for s in _sentences(text):
            s = s.strip()
            if s and not set(key_terms(s)) & topics:
                seen[s] = seen.get(s, 0) + 1
    common = [s for s, _ in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))][:4]
    out = [a + b for a in common for b in common if a != b] + ["".join(common[:3])]
    return [t for t in dict.fromkeys(out) if t][:n] or common[:1]


def red_team(grader: Any, genuine: Sequence[str], prompts: Sequence[str], bar: float, *,
             budget: int = 6000, seeds: Sequence[int] = (0, 1, 2), panel: int = 4, eval_prompts: int = 32,
             top: int = 5, scorer: BatchScorer | None = None) -> AttackReport:
    """Run every attack; returns the report (best attacks first in `attacks`)."""
    batch_scorer = scorer or handler_scorer(grader)

    def scorer(text: str, prompts: Sequence[str]) -> list[dict[str, Any]]:
        return batch_scorer([text], prompts)

    genuine = [g for g in genuine if isinstance(g, str) and g.strip()]
    prompts = [p for p in prompts if isinstance(p, str) and p.strip()]
    if not genuine or len(prompts) < panel + 1:
        raise ValueError("the attack needs target messages and more prompts than the panel size")
    report = AttackReport(bar=bar)
    rng = random.Random(1_000_003)
    held = rng.sample(prompts, min(eval_prompts, len(prompts)))

    def on_held(kind: str, text: str, **kw: Any) -> Attack:
        results = scorer(text, held)
        report.calls += 1
        return Attack(kind, text, _reward(results), style=_style(results), **kw)

    for text in constant_replies(genuine, prompts):
        report.attacks.append(on_held("constant", text))
    by_style = sorted(genuine, key=lambda t: -_style(scorer(t, held[:1])))[:top]
    report.calls += len(genuine)
    for text in by_style:
        report.attacks.append(on_held("fixed_message", text))
    for _ in range(top):
        parts = [rng.choice(_sentences(rng.choice(genuine)) or [""]) for _ in range(rng.randint(2, 3))]
        report.attacks.append(on_held("splice", "".join(parts)))
    train = [p for p in prompts if p not in held] or prompts
    for seed in seeds:
        srng = random.Random(seed)
        pool = fragment_pool(grader.profile, genuine, rng=srng)
        trace: list[tuple[int, float]] = []

        def score(texts: list[str], srng: random.Random = srng) -> list[float]:
            panel_prompts = srng.sample(train, panel)
            results = batch_scorer(texts, panel_prompts)
            k = len(panel_prompts)
            return [_reward(results[i * k : (i + 1) * k]) for i in range(len(texts))]

        ends = hill_climb(score, pool, genuine, budget=budget, seed=seed, trace=trace)
        report.calls += budget
        report.trace[seed] = trace
        for panel_score, text in sorted(ends, reverse=True)[:top]:
            report.attacks.append(on_held("hill_climb", text, panel_score=round(panel_score, 6), seed=seed))
    report.attacks.sort(key=lambda a: -a.score)
    return report


def gate_attack(grader: Any, refs: Sequence[str], ref_prompts: Sequence[str | None], genuine: Sequence[str], *,
                budget: int, seeds: Sequence[int], panel: int, eval_prompts: int) -> tuple[AttackReport, list[float]]:
    """The gate's attack: (report, the target's real scores: each reference answer scored with its prompt)."""
    real = sorted(float(grader.score(r, prompt=p)[0]) for r, p in zip(refs, ref_prompts))
    usable = [p for p in ref_prompts if p]
    mid = len(real) // 2
    bar = real[mid] if len(real) % 2 else (real[mid - 1] + real[mid]) / 2
    report = red_team(grader, genuine, usable, bar, budget=budget, seeds=seeds, panel=panel,
                      eval_prompts=min(eval_prompts, max(1, len(usable) - panel)))
    return report, real
