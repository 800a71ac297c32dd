"""A review's records in MLflow: one trace per pair under the evaluation run, one vote per person and pair.

- Preparing a review (`prepare`) makes the pairs' traces (inputs: the prompt; outputs: replies "A"
  and "B"; tags `rftlab.review`, `rftlab.pair_id`), then writes the key that says which reply is the
  tuned one, `review/<kind>/key.json`, into the evaluation run. The key is written last: a review is
  ready when its key exists, and a preparation interrupted before that is cleaned up by the next one.
  It runs under a lock, so two `rftlab review` started at once make one set of traces.
- A vote is a feedback `sounds_like_target` (A, B or cant_tell) whose source is HUMAN/<reviewer>,
  with the reviewer's comment as its rationale and metadata: the pair, which canonical reply was on
  the left, which side was picked, the time. A second vote by the same reviewer replaces the first.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.errors import InputError
from rftlab.locks import file_lock
from rftlab.review.pairs import BlindPair, SourcePair, blind, from_pairs_json, from_side_by_side, select

CHOICES = ("A", "B", "cant_tell")
HUMAN = "HUMAN"  # MLflow's AssessmentSourceType for people
PAGE = "rftlab-review/1"
SOURCES = ("evaluate/pairs.json", "evaluate/side_by_side.json")
QUESTION = "Which reply sounds like the target?"


@dataclass(frozen=True)
class Item:
    """One pair of a prepared review, as the page shows it and the report reads it."""

    pair_id: str
    trace_id: str
    prompt: str
    a: str
    b: str
    a_is: str
    b_is: str
    grader: dict[str, float] | None = None
    verifier: dict[str, float] | None = None
    judge: dict[str, str] | None = None


@dataclass(frozen=True)
class Review:
    run_id: str
    kind: str
    seed: int
    source: str
    items: list[Item]

    def item(self, pair_id: str) -> Item | None:
        return next((i for i in self.items if i.pair_id == pair_id), None)


@dataclass(frozen=True)
class Vote:
    reviewer: str
    pair_id: str
    value: str            # A, B or cant_tell (canonical)
    comment: str
    shown_left: str       # A or B: the canonical reply the reviewer saw on the left ("" when voted elsewhere)
    updated_ms: int


def key_path(kind: str) -> str:
    return f"review/{kind}/key.json"


def where_key(run_id: str, kind: str) -> str:
    return f"run {run_id}: {key_path(kind)}"


def evaluation_run(run_id: str | None, experiment: str | None = None) -> str:
    """The evaluation run to review: `run_id` (checked), else the experiment's newest evaluation."""
    if run_id:
        run = tracking.get_run(run_id)
        if run.data.tags.get(contracts.KIND) != contracts.EVALUATION:
            raise InputError(f"MLflow run {run_id} is not an evaluation (its {contracts.KIND} is "
                             f"{run.data.tags.get(contracts.KIND)!r}); pass the run `rftlab evaluate` printed")
        return run_id
    runs = tracking.runs_of_kind(contracts.EVALUATION, experiment=experiment)
    if not runs:
        raise InputError(f"no evaluation run in MLflow store {tracking.tracking_uri()}: run `rftlab evaluate` first")
    return runs[0].info.run_id


def source_pairs(run_id: str) -> tuple[list[SourcePair], str]:
    """The evaluation's pairs and the artifact they came from (SOURCES, best first)."""
    rows = tracking.load_json_artifact(run_id, SOURCES[0])
    if rows is not None:
        return from_pairs_json(rows, f"run {run_id}: {SOURCES[0]}"), SOURCES[0]
    table = tracking.load_json_artifact(run_id, SOURCES[1])
    if table is not None:
        return from_side_by_side(table, f"run {run_id}: {SOURCES[1]}"), SOURCES[1]
    raise InputError(f"evaluation run {run_id} has neither {SOURCES[0]} nor {SOURCES[1]}: nothing to review")


def _lock_path(run_id: str, kind: str) -> Path:
    return Path(tempfile.gettempdir()) / f"rftlab-review-{run_id}-{kind}.lock"


def _key(run_id: str, kind: str, seed: int, source: str, pairs: list[BlindPair], trace_ids: list[str]) -> dict:
    rows = [{"pair_id": p.pair_id, "prompt_id": p.prompt_id, "trace_id": t, "A": p.a_is, "B": p.b_is,
             "grader": p.grader, "verifier": p.verifier, "judge": p.judge} for p, t in zip(pairs, trace_ids, strict=True)]
    return {"format": 1, "kind": kind, "evaluation_run": run_id, "seed": seed, "source": source,
            "created": datetime.now(UTC).isoformat(timespec="seconds"), "pairs": rows}


def prepare(run_id: str, kind: str, *, pairs: int, seed: int) -> tuple[Review, bool]:
    """The review `kind` of evaluation `run_id`, made now if it does not exist; (review, made now)."""
    with file_lock(_lock_path(run_id, kind)):
        found = load(run_id, kind)
        if found is not None:
            return found, False
        left = [t.trace_id for t in tracking.run_traces(run_id, {contracts.REVIEW: kind})]
        tracking.delete_traces(run_id, left)  # an interrupted preparation's traces (no key was written)
        source_rows, source = source_pairs(run_id)
        chosen = blind(select(source_rows, kind, pairs, seed), kind, seed)
        if not chosen:
            needs = "the prompt, the tuned reply and the target's real one" if kind == "tuned_vs_real" else \
                "the prompt and both replies"
            raise InputError(f"evaluation run {run_id}: no pair to review in {source} ({kind} needs {needs})")
        ids = tracking.log_traces(run_id, [
            ("pair", {"prompt": p.prompt}, {"A": p.a, "B": p.b}, {contracts.REVIEW: kind, contracts.PAIR_ID: p.pair_id})
            for p in chosen])
        tracking.ensure_feedback_schema(run_id, contracts.REVIEW_ANSWER, list(CHOICES), title=QUESTION,
                                        instruction="A or B: the reply that sounds like the target; cant_tell if "
                                                    "you cannot say. rftlab review shows them in a random order.")
        tracking.log_dict_to(run_id, _key(run_id, kind, seed, source, chosen, ids), key_path(kind))
    review = load(run_id, kind)
    if review is None:
        raise InputError(f"{where_key(run_id, kind)}: written but not found again in {tracking.tracking_uri()}")
    return review, True


def _check_key(key: Any, where: str) -> list[dict]:
    rows = key.get("pairs") if isinstance(key, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("pair_id"), str)
                                             and r.get("A") and r.get("B") for r in rows):
        raise InputError(f"{where}: not a review key (expected {{\"pairs\": [{{\"pair_id\", \"A\", \"B\", ...}}]}})")
    return rows


def load(run_id: str, kind: str) -> Review | None:
    """A prepared review with its texts read back from the traces; None when none was prepared."""
    where = where_key(run_id, kind)
    key = tracking.load_json_artifact(run_id, key_path(kind))
    if key is None:
        return None
    rows = _check_key(key, where)
    traces = {t.tags.get(contracts.PAIR_ID): t for t in tracking.run_traces(run_id, {contracts.REVIEW: kind})}
    items = []
    for row in rows:
        trace = traces.get(row["pair_id"])
        if trace is None:
            raise InputError(f"{where}: pair {row['pair_id']!r} has no trace any more (deleted in mlflow ui?)")
        items.append(Item(pair_id=row["pair_id"], trace_id=trace.trace_id, prompt=str(trace.inputs.get("prompt", "")),
                          a=str(trace.outputs.get("A", "")), b=str(trace.outputs.get("B", "")), a_is=str(row["A"]),
                          b_is=str(row["B"]), grader=row.get("grader"), verifier=row.get("verifier"),
                          judge=row.get("judge")))
    return Review(run_id=run_id, kind=kind, seed=int(key.get("seed", 0)), source=str(key.get("source", "")), items=items)


def votes(review: Review) -> dict[tuple[str, str], Vote]:
    """Every reviewer's current vote, by (reviewer, pair id): the latest valid HUMAN feedback per trace and person."""
    pair_of = {i.trace_id: i.pair_id for i in review.items}
    out: dict[tuple[str, str], Vote] = {}
    for f in tracking.feedbacks(review.run_id, {contracts.REVIEW: review.kind}, contracts.REVIEW_ANSWER):
        pair_id = pair_of.get(f.trace_id)
        if pair_id is None or f.source_type != HUMAN or f.value not in CHOICES:
            continue
        vote = Vote(reviewer=f.source_id, pair_id=pair_id, value=f.value, comment=f.rationale or "",
                    shown_left=str(f.metadata.get("shown_left", "")), updated_ms=f.updated_ms)
        old = out.get((vote.reviewer, pair_id))
        if old is None or vote.updated_ms >= old.updated_ms:
            out[(vote.reviewer, pair_id)] = vote
    return out


def record_vote(review: Review, *, reviewer: str, pair_id: str, value: str, comment: str, shown_left: str,
                picked: str) -> tuple[Vote, bool]:
    """Store one vote (replacing this reviewer's earlier one on the pair); (vote, replaced)."""
    item = review.item(pair_id)
    if item is None or value not in CHOICES:
        raise ValueError(f"no pair {pair_id!r} or no choice {value!r} in this review")
    now = datetime.now(UTC)
    meta = {"pair_id": pair_id, "review": review.kind, "shown_left": shown_left, "picked": picked,
            "voted_at": now.isoformat(timespec="seconds"), "page": PAGE}
    stored, replaced = tracking.record_feedback(item.trace_id, contracts.REVIEW_ANSWER, value, source_id=reviewer,
                                                rationale=comment, metadata=meta)
    return Vote(reviewer=reviewer, pair_id=pair_id, value=value, comment=comment, shown_left=shown_left,
                updated_ms=stored.updated_ms), replaced
