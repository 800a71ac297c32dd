"""The pairs people review, from an evaluation's artifacts; pure (no MLflow, no files).

Sources, best first (docs/review.md#what-is-reviewed):
- `evaluate/pairs.json`: one row per pair with `pair_id`, `prompt_id`, `prompt`, `base`, `tuned`,
  `reference`, `grader` {base, tuned}, `verifier` {base, tuned} or null, `judge` {verdict, source}
  or null;
- `evaluate/side_by_side.json` (older evaluations): the first sample of each prompt, the grader's
  scores from its `base_score` / `tuned_score` columns, no verifier and no judge. (Its sibling
  `evaluate/samples.json` holds the same samples without their prompts, so it cannot be shown.)

A pair is either the tuned reply against the base model's (`tuned_vs_base`) or against what the
target really replied in that thread (`tuned_vs_real`, the prompt record's reference answer).
Each pair is blinded once: which reply is "A" and which "B" on its trace is drawn from the pair id
and the seed, and only the review's key (an artifact of the evaluation run) says which is tuned.
Every text shown passes through the privacy scrubber the export went through (idempotent on
scrubbed text; it catches what a model may have made up).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from rftlab.errors import InputError
from rftlab.privacy.scrub import scrub

KINDS = {"base": "tuned_vs_base", "real": "tuned_vs_real"}  # --against -> the review's name
OTHER = {"tuned_vs_base": "base", "tuned_vs_real": "real"}
MAX_CHARS = 20_000  # a reply longer than this is cut for the page (the trace says so)


@dataclass(frozen=True)
class SourcePair:
    pair_id: str
    prompt_id: str
    prompt: str
    tuned: str
    base: str
    reference: str
    grader: dict[str, float] | None = None
    verifier: dict[str, float] | None = None
    judge: dict[str, str] | None = None


@dataclass(frozen=True)
class BlindPair:
    """A pair as it is stored: canonical A and B (texts scrubbed), and the key to them."""

    pair_id: str
    prompt_id: str
    prompt: str
    a: str
    b: str
    a_is: str  # "tuned", "base" or "real"
    b_is: str
    grader: dict[str, float] | None
    verifier: dict[str, float] | None
    judge: dict[str, str] | None


def _text(row: dict, key: str, where: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def _scores(row: dict, key: str, where: str) -> dict[str, float] | None:
    value = row.get(key)
    if value is None:
        return None
    ok = isinstance(value, dict) and all(isinstance(value.get(s), int | float) and not isinstance(value.get(s), bool)
                                         for s in ("base", "tuned"))
    if not ok:
        raise InputError(f"{where}: field {key!r} must be null or {{\"base\": number, \"tuned\": number}}")
    return {"base": float(value["base"]), "tuned": float(value["tuned"])}


def _judge(row: dict, where: str) -> dict[str, str] | None:
    value = row.get("judge")
    if value is None:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("verdict"), str) and isinstance(value.get("source"), str)):
        raise InputError(f"{where}: field 'judge' must be null or {{\"verdict\": string, \"source\": string}}")
    return {"verdict": value["verdict"], "source": value["source"]}


def from_pairs_json(obj: Any, where: str = "evaluate/pairs.json") -> list[SourcePair]:
    """Rows of the evaluation's pairs artifact (a list, or {"pairs": [...]})."""
    rows = obj.get("pairs") if isinstance(obj, dict) else obj
    if not isinstance(rows, list):
        raise InputError(f"{where}: expected a list of pairs (or {{\"pairs\": [...]}})")
    out, seen = [], set()
    for i, row in enumerate(rows):
        at = f"{where}: row {i}"
        if not isinstance(row, dict):
            raise InputError(f"{at}: expected an object")
        pair_id = row.get("pair_id")
        if not isinstance(pair_id, str | int) or isinstance(pair_id, bool) or str(pair_id) in seen:
            raise InputError(f"{at}: field 'pair_id' must be a unique string")
        seen.add(str(pair_id))
        out.append(SourcePair(pair_id=str(pair_id), prompt_id=str(row.get("prompt_id", pair_id)),
                              prompt=_text(row, "prompt", at), tuned=_text(row, "tuned", at), base=_text(row, "base", at),
                              reference=_text(row, "reference", at, required=False), grader=_scores(row, "grader", at),
                              verifier=_scores(row, "verifier", at), judge=_judge(row, at)))
    return out


def from_side_by_side(table: Any, where: str = "evaluate/side_by_side.json") -> list[SourcePair]:
    """The first sample of each prompt from the evaluation's side-by-side table (mlflow.log_table)."""
    if not (isinstance(table, dict) and isinstance(table.get("columns"), list) and isinstance(table.get("data"), list)):
        raise InputError(f"{where}: expected a table with 'columns' and 'data'")
    cols = table["columns"]
    need = ("prompt_id", "sample", "prompt", "reference", "base", "base_score", "tuned", "tuned_score")
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(f"{where}: missing column(s) {', '.join(missing)}")
    out, seen = [], set()
    for i, values in enumerate(table["data"]):
        if not isinstance(values, list) or len(values) != len(cols):
            raise InputError(f"{where}: row {i} does not have {len(cols)} values")
        row = dict(zip(cols, values, strict=True))
        if row["sample"] != 0:
            continue
        pair_id = str(row["prompt_id"]) if str(row["prompt_id"]) not in seen else f"{row['prompt_id']}#{i}"
        seen.add(pair_id)
        at = f"{where}: row {i}"
        out.append(SourcePair(pair_id=pair_id, prompt_id=str(row["prompt_id"]), prompt=_text(row, "prompt", at),
                              tuned=_text(row, "tuned", at), base=_text(row, "base", at),
                              reference=_text(row, "reference", at, required=False),
                              grader=_scores({"grader": {"base": row["base_score"], "tuned": row["tuned_score"]}},
                                             "grader", at)))
    return out


def select(pairs: list[SourcePair], kind: str, n: int, seed: int) -> list[SourcePair]:
    """The pairs a review shows: both replies present (a real reply for `tuned_vs_real`), at most `n`
    of them drawn with `seed`, in the evaluation's order."""
    other = OTHER[kind]
    usable = [p for p in pairs if p.prompt.strip() and p.tuned.strip()
              and (p.reference if other == "real" else p.base).strip()]
    if len(usable) > n:
        keep = set(random.Random(seed).sample(range(len(usable)), n))
        usable = [p for i, p in enumerate(usable) if i in keep]
    return usable


def _shown(text: str) -> str:
    clean, _ = scrub(text)
    return clean if len(clean) <= MAX_CHARS else clean[:MAX_CHARS] + " [...]"


def tuned_is_a(pair_id: str, seed: int) -> bool:
    """The canonical side of the tuned reply on the trace: a coin drawn from the pair id and the seed."""
    return hashlib.sha256(f"{seed}:{pair_id}".encode()).digest()[0] % 2 == 0


def blind(pairs: list[SourcePair], kind: str, seed: int) -> list[BlindPair]:
    """Each pair with its replies as canonical A and B, texts scrubbed."""
    other = OTHER[kind]
    out = []
    for p in pairs:
        sides = [("tuned", p.tuned), (other, p.reference if other == "real" else p.base)]
        if not tuned_is_a(p.pair_id, seed):
            sides.reverse()
        out.append(BlindPair(pair_id=p.pair_id, prompt_id=p.prompt_id, prompt=_shown(p.prompt), a=_shown(sides[0][1]),
                             b=_shown(sides[1][1]), a_is=sides[0][0], b_is=sides[1][0], grader=p.grader,
                             verifier=p.verifier, judge=p.judge))
    return out
