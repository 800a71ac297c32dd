"""The prompt set built from the sample export the project ships (generated and ingested here).

Also the reference-answer check against the grader. Definition of "top half": for each
split, pool the grader's scores of that split's reference answers with its scores of the
other users' messages of that split (every non-target message in the split's threads,
prompts included); a reference answer is in the top half when its score is at or above
the median of that pool. References are scored with their prompt (as during RFT), the
other messages without one. The grader is data/grader/grader.json when the calibrate
a profile built from the training side's messages only (so validation references are unseen).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from rftlab.config import load_params
from rftlab.io import read_messages
from rftlab.prompts.build import build_prompt_set
from rftlab.prompts.validate import validate_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample export with the repo's params: generated, then ingested, as the pipeline does."""
    from rftlab.slack import ingest_stage, sample_stage

    params = load_params(ROOT / "params.yaml")
    d = tmp_path_factory.mktemp("sample")
    sample_stage.run(d / "export.zip", params.sample)
    ingest_stage.run(d / "export.zip", d / "messages.jsonl", params=params.ingest, track=False)
    messages = read_messages(d / "messages.jsonl")
    out = build_prompt_set(
        messages, params.profile.author, params.prompts,
        max_prompt_length=params.prompts.max_prompt_tokens,
    )
    return params, messages, out


def test_sample_yields_enough_prompts_and_no_thread_in_both_splits(sample):
    _, _, out = sample
    assert len(out.train) >= 100 and len(out.val) > 0
    train = {(r["channel"], r["thread_ts"]) for r in out.train}
    val = {(r["channel"], r["thread_ts"]) for r in out.val}
    assert not train & val
    assert max(float(t) for _, t in train) < min(float(t) for _, t in val)  # validation = the latest threads


def test_sample_prompt_files_pass_validation(sample, tmp_path):
    from rftlab.io import write_jsonl

    params, _, out = sample
    limit = params.prompts.max_prompt_tokens
    write_jsonl(tmp_path / "train.jsonl", out.train)
    write_jsonl(tmp_path / "val.jsonl", out.val)
    assert [p for p in validate_file(tmp_path / "train.jsonl", max_prompt_length=limit) if p.severity == "error"] == []
    assert [p for p in validate_file(tmp_path / "val.jsonl", max_prompt_length=limit, training=False)
            if p.severity == "error"] == []


def _unit(m: dict) -> tuple[str, str]:
    return (str(m.get("channel") or ""), str(m.get("thread_ts") or m.get("ts") or ""))


def test_reference_answers_score_in_top_half_of_their_split(sample, tmp_path):
    from rftlab.grader.bundle import load_grader, make_bundle, write_bundle
    from rftlab.style.profile import build_profile

    params, messages, out = sample
    author = params.profile.author
    val_units = {(r["channel"], r["thread_ts"]) for r in out.val}
    profile = build_profile([m for m in messages if _unit(m) not in val_units], author)
    write_bundle(tmp_path / "grader.json", make_bundle(profile))
    grader = load_grader(tmp_path / "grader.json")
    for name, records in (("train", out.train), ("val", out.val)):
        units = {(r["channel"], r["thread_ts"]) for r in records}
        others = [m["text"] for m in messages if m["user"] != author and _unit(m) in units]
        ref_scores = [s for s, _ in grader.score_many(
            [r["reference_answer"] for r in records], prompts=[r["messages"][-1]["content"] for r in records]
        )]
        other_scores = [s for s, _ in grader.score_many(others)]
        median = statistics.median(ref_scores + other_scores)
        below = [(r["id"], round(s, 3)) for r, s in zip(records, ref_scores) if s < median]
        assert not below, f"{name}: {len(below)}/{len(records)} references below the pooled median {median:.3f}: {below[:5]}"
