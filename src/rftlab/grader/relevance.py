"""Relevance: does the reply address the prompt? Judged inside the grader (RLAIF beside RLVR).

Two judges, one contract (`Relevance.assess`: one `Assessment` per (prompt, reply), never an
exception):

- `bedrock`: a judge model called through bedrock-runtime Converse from inside the reward
  Lambda, as AWS's RLAIF sample reward function does (aws-samples/amazon-bedrock-samples,
  custom-models/bedrock-reinforcement-fine-tuning/reward-functions/pandalm_rew_func.py: a
  Converse call per sample at temperature 0, the score parsed from the reply, 0.5 when it
  cannot be read). Here the batch's calls run concurrently (`concurrency` threads), each
  under a read timeout, all under the Lambda's remaining time; answers are cached by a hash of
  (model, rubric, prompt, reply) for the container's life. Converse needs `bedrock:InvokeModel`
  (API reference, API_runtime_Converse.html); the Lambda's execution role gets it from
  `rftlab bedrock policies` when this judge is configured (backends/bedrock/iam.py).
- `proxy`: offline and free, the stand-in for local training, the gate's attack and tests.
  The prompt's key terms (nouns read with the one fugashi tagger, and Latin-script names such
  as `Route 53` or `ElastiCache`, which count double) are looked up in the reply; relevance is
  the share found, saturating once SATURATION worth of them is echoed (one name or two
  nouns), so stuffing more earns nothing; a reply naming more than FREE_NAMES names the prompt
  does not is divided down (stuffing every service name puts a reply on every prompt's topic).
  A prompt with no key term cannot be judged this way.

A failed or unreadable judgment, a deadline, or an undeterminable prompt gives the NEUTRAL
value (0.5) and a flag, never an error. The grader combines relevance r with the style
score s as

    reward = s * (1 - weight * (1 - r))

so a reply that ignores the question keeps at most (1 - weight) of its style score, and an
on-topic reply keeps all of it (docs/relevance.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from rftlab.aws.clients import short_client
from rftlab.grader.verdict import NEUTRAL, parse_verdict
from rftlab.rubrics import RELEVANCE_RUBRIC
from rftlab.style.tagger import tagger

log = logging.getLogger("rftlab.grader")

JUDGES = ("proxy", "bedrock")
DEFAULTS: dict[str, Any] = {
    "judge": "proxy", "weight": 0.5, "model_id": "us.amazon.nova-2-lite-v1:0", "region": "us-east-1",
    "rubric": RELEVANCE_RUBRIC, "max_tokens": 100, "concurrency": 8, "timeout_s": 20.0,
}
SATURATION = 2.0
FREE_NAMES = 4  # Latin-script names a reply may add beyond the prompt's (the sample's target: p90 4)
_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
_GENERIC = frozenset({"こと", "もの", "ため", "よう", "とき", "ところ", "感じ", "自分", "皆さん", "みんな", "方針",
                      "件", "方", "今", "話", "確認", "お願い", "相談", "質問", "了解", "承知"})
CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Assessment:
    value: float         # relevance in [0, 1]; NEUTRAL when it could not be judged
    failed: bool = False  # the judge call or its reply failed (value is NEUTRAL)
    undetermined: bool = False  # nothing to judge against (no prompt, or no key term for the proxy)
    cached: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    problem: str = ""


def config_from(obj: Any) -> dict[str, Any] | None:
    """The bundle's `relevance` block with defaults filled in; None when absent. ValueError when malformed."""
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise ValueError("'relevance' must be an object")
    unknown = sorted(set(obj) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"relevance: unknown key(s) {', '.join(unknown)}")
    cfg = {**DEFAULTS, **obj}
    if cfg["judge"] not in JUDGES:
        raise ValueError(f"relevance.judge must be one of {', '.join(JUDGES)}, not {cfg['judge']!r}")
    w = cfg["weight"]
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= float(w) <= 1.0:
        raise ValueError(f"relevance.weight must be a number in [0, 1], got {w!r}")
    return cfg


# --------------------------------------------------------------------------- proxy


def key_terms(text: str) -> dict[str, float]:
    """Nouns (weight 1; proper nouns 2) and Latin-script words (lowercased, weight 2) of `text`."""
    return dict(_key_terms(text[:2000]))


@functools.lru_cache(maxsize=4096)
def _key_terms(text: str) -> tuple[tuple[str, float], ...]:
    terms: dict[str, float] = {}
    for word in tagger()(text.replace("\n", " ")):
        surface, f = word.surface, word.feature
        if _LATIN.search(surface):
            if len(surface) >= 2:
                terms[surface.lower()] = 2.0
            continue
        if f.pos1 != "名詞" or f.pos2 not in ("普通名詞", "固有名詞"):
            continue
        lemma = (f.lemma or surface).split("-", 1)[0]
        if len(surface) < 2 or surface in _GENERIC or lemma in _GENERIC:
            continue
        terms[surface] = max(terms.get(surface, 0.0), 2.0 if f.pos2 == "固有名詞" else 1.0)
    return tuple(terms.items())


def proxy_relevance(prompt: str | None, reply: str) -> Assessment:
    """Share of the prompt's key terms the reply echoes, saturating at SATURATION."""
    if not isinstance(prompt, str) or not prompt.strip():
        return Assessment(NEUTRAL, undetermined=True, problem="no prompt")
    terms = key_terms(prompt)
    total = sum(terms.values())
    if total <= 0:
        return Assessment(NEUTRAL, undetermined=True, problem="no key term in the prompt")
    lowered = reply.lower()
    hit = sum(w for t, w in terms.items() if t in (lowered if _LATIN.search(t) else reply))
    value = min(1.0, hit / min(total, SATURATION))
    # topic stuffing: a reply naming every service earns its way onto every prompt's topic
    off = sum(1 for t in key_terms(reply) if _LATIN.search(t) and t not in terms)
    if off > FREE_NAMES:
        value /= 1.0 + (off - FREE_NAMES) / 2.0
    return Assessment(round(value, 6))


# --------------------------------------------------------------------------- Bedrock judge


def judge_message(rubric: str, prompt: str, reply: str) -> str:
    return f"{rubric.strip()}\n\nMessage:\n{prompt}\n\nReply:\n{reply}"


class Relevance:
    """The configured judge; `assess` scores a batch and never raises."""

    def __init__(self, config: Mapping[str, Any], *, client: Any = None) -> None:
        cfg = config_from(config)
        assert cfg is not None
        self.config = cfg
        self.judge = str(cfg["judge"])
        self.weight = float(cfg["weight"])
        self._client = client
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Assessment] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (the registry serialises graders): settings only, no client, lock or cache."""
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    def offline(self) -> Relevance:
        """The same settings with the proxy as judge (local training, the gate, tests)."""
        return self if self.judge == "proxy" else Relevance({**self.config, "judge": "proxy"})

    def factor(self, value: float) -> float:
        return 1.0 - self.weight * (1.0 - min(1.0, max(0.0, value)))

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = short_client("bedrock-runtime", self.config["region"],
                                            timeout_s=float(self.config["timeout_s"]))
            return self._client

    def _key(self, prompt: str, reply: str) -> str:
        blob = json.dumps([self.config["model_id"], self.config["rubric"], prompt, reply], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8", "replace")).hexdigest()

    def _call(self, prompt: str, reply: str) -> Assessment:
        try:
            response = self.client().converse(
                modelId=self.config["model_id"],
                messages=[{"role": "user", "content": [{"text": judge_message(self.config["rubric"], prompt, reply)}]}],
                inferenceConfig={"maxTokens": int(self.config["max_tokens"]), "temperature": 0.0},
            )
        except Exception as exc:  # noqa: BLE001 - throttling, timeouts, access denied: neutral, flagged
            code = ((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code")
            return Assessment(NEUTRAL, failed=True, problem=f"{code or type(exc).__name__}: {exc}"[:200])
        blocks = ((response.get("output") or {}).get("message") or {}).get("content") or []
        text = "".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))
        usage = response.get("usage") or {}
        verdict = parse_verdict(text)
        n_in, n_out = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
        if not verdict.ok:
            return Assessment(NEUTRAL, failed=True, input_tokens=n_in, output_tokens=n_out, problem=verdict.problem)
        return Assessment(verdict.score, input_tokens=n_in, output_tokens=n_out, problem=verdict.problem)

    def _remember(self, key: str, a: Assessment) -> None:
        with self._lock:
            self._cache[key] = a
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    def assess(self, pairs: Sequence[tuple[str | None, str]], *, deadline_s: float | None = None) -> list[Assessment]:
        """One Assessment per (prompt, reply), same order. `deadline_s`: seconds the batch may take."""
        if self.judge == "proxy":
            return [proxy_relevance(p, r) for p, r in pairs]
        out: list[Assessment | None] = [None] * len(pairs)
        todo: dict[str, list[int]] = {}
        for i, (prompt, reply) in enumerate(pairs):
            if not isinstance(prompt, str) or not prompt.strip():
                out[i] = Assessment(NEUTRAL, undetermined=True, problem="no prompt")
                continue
            key = self._key(prompt, reply)
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                out[i] = Assessment(hit.value, cached=True)
            else:
                todo.setdefault(key, []).append(i)
        if todo:
            t0 = time.monotonic()
            pool = ThreadPoolExecutor(max_workers=max(1, int(self.config["concurrency"])), thread_name_prefix="judge")
            futures = {pool.submit(self._call, pairs[idx[0]][0] or "", pairs[idx[0]][1]): key for key, idx in todo.items()}
            done, _ = wait(futures, timeout=deadline_s)
            pool.shutdown(wait=False, cancel_futures=True)
            for fut, key in futures.items():
                if fut in done:
                    a = fut.result()
                    if not a.failed:
                        self._remember(key, a)
                else:
                    a = Assessment(NEUTRAL, failed=True, problem=f"deadline: no answer within {deadline_s:.1f}s")
                for n, i in enumerate(todo[key]):
                    out[i] = a if n == 0 else Assessment(a.value, a.failed, a.undetermined, cached=not a.failed,
                                                          problem=a.problem)
            log.info(json.dumps({"event": "relevance_batch", "judge": self.judge, "model_id": self.config["model_id"],
                                 "calls": len(todo), "cached": len(pairs) - sum(len(v) for v in todo.values()),
                                 "failed": sum(1 for a in out if a is not None and a.failed),
                                 "input_tokens": sum(a.input_tokens for a in out if a is not None),
                                 "output_tokens": sum(a.output_tokens for a in out if a is not None),
                                 "ms": round((time.monotonic() - t0) * 1000, 1)}))
        return [a if a is not None else Assessment(NEUTRAL, failed=True, problem="not judged") for a in out]
