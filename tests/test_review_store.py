"""A review's records in MLflow (sqlite store of the test session): traces under the evaluation run, the
key off the traces, one vote per reviewer and pair, and `rftlab review report`'s metrics and artifact."""

from __future__ import annotations

import json

import pytest
import review_support as RS
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.cli import app
from rftlab.errors import InputError
from rftlab.review import store

BASE = "tuned_vs_base"


@pytest.fixture(scope="module")
def fallback_review():
    """An evaluation from before evaluate/pairs.json: the review reads evaluate/side_by_side.json."""
    run_id = RS.evaluation_run("review-store", n=9)
    review, made = store.prepare(run_id, BASE, pairs=8, seed=0)
    return review, made


def test_a_review_is_one_trace_per_pair_under_the_evaluation_run_and_the_key_is_not_on_them(fallback_review):
    review, made = fallback_review
    assert made and review.source == "evaluate/side_by_side.json" and len(review.items) == 8
    traces = tracking.run_traces(review.run_id, {contracts.REVIEW: BASE})
    assert len(traces) == 8
    for trace, item in zip(sorted(traces, key=lambda t: t.tags[contracts.PAIR_ID]),
                           sorted(review.items, key=lambda i: i.pair_id), strict=True):
        assert trace.tags[contracts.PAIR_ID] == item.pair_id and set(trace.outputs) == {"A", "B"}
        visible = json.dumps([trace.inputs, trace.outputs, {k: v for k, v in trace.tags.items()
                                                            if k.startswith("rftlab.")}], ensure_ascii=False)
        visible = visible.replace(BASE, "")
        assert "tuned" not in visible and "base" not in visible
        assert "ござる" in item.a + item.b  # the fixture's tuned reply is one of the two
        tuned = item.a if item.a_is == "tuned" else item.b
        assert "ござる" in tuned and "ござる" not in (item.b if item.a_is == "tuned" else item.a)
    assert {i.a_is for i in review.items} == {"tuned", "base"}, "the tuned reply is not always A"
    key = tracking.load_json_artifact(review.run_id, "review/tuned_vs_base/key.json")
    assert [r["trace_id"] for r in key["pairs"]] == [i.trace_id for i in review.items]


def test_preparing_again_reuses_the_review(fallback_review):
    review, _ = fallback_review
    again, made = store.prepare(review.run_id, BASE, pairs=3, seed=5)
    assert not made and again.items == review.items
    assert len(tracking.run_traces(review.run_id, {contracts.REVIEW: BASE})) == 8


def test_a_second_vote_by_the_same_reviewer_replaces_the_first(fallback_review):
    review, _ = fallback_review
    pid = review.items[0].pair_id
    first, replaced = store.record_vote(review, reviewer="ann", pair_id=pid, value="A", comment="語尾が本人",
                                        shown_left="B", picked="right")
    assert not replaced
    second, replaced = store.record_vote(review, reviewer="ann", pair_id=pid, value="cant_tell", comment="",
                                         shown_left="B", picked="cant_tell")
    store.record_vote(review, reviewer="bob", pair_id=pid, value="B", comment="", shown_left="A", picked="right")
    assert replaced
    on_trace = tracking.mlflow_api().get_trace(review.items[0].trace_id).info.assessments
    mine = [a for a in on_trace if a.source.source_id == "ann"]
    assert len(mine) == 1 and mine[0].value == "cant_tell" and not mine[0].rationale
    assert mine[0].metadata["shown_left"] == "B" and mine[0].metadata["picked"] == "cant_tell"
    votes = store.votes(review)
    assert votes[("ann", pid)].value == "cant_tell" and votes[("bob", pid)].value == "B"


def test_an_interrupted_preparation_is_cleaned_up_and_pairs_json_is_preferred():
    rows = RS.pairs_rows(6)
    rows[0]["tuned"] = "連絡は taro.yamada@example.com まででござる。"
    run_id = RS.evaluation_run("review-store", n=6, pairs=rows)
    tracking.log_traces(run_id, [("pair", {"prompt": "left over"}, {"A": "x", "B": "y"},
                                  {contracts.REVIEW: BASE, contracts.PAIR_ID: "p000"})])  # no key: interrupted
    review, made = store.prepare(run_id, BASE, pairs=50, seed=0)
    assert made and review.source == "evaluate/pairs.json" and len(review.items) == 6
    traces = tracking.run_traces(run_id, {contracts.REVIEW: BASE})
    assert len(traces) == 6 and "left over" not in [t.inputs["prompt"] for t in traces]
    first = review.item("p000")
    assert "example.com" not in first.a + first.b and "<EMAIL>" in first.a + first.b
    assert first.verifier == {"base": 0.5, "tuned": 0.4} and first.judge == {"verdict": "tie", "source": "stand-in"}
    real, _ = store.prepare(run_id, "tuned_vs_real", pairs=50, seed=0)
    assert {(i.a_is, i.b_is) for i in real.items} <= {("tuned", "real"), ("real", "tuned")}
    assert len(tracking.run_traces(run_id, {contracts.REVIEW: BASE})) == 6


def test_report_gives_the_preference_per_reviewer_and_the_raters_agreement_and_logs_them():
    run_id = RS.evaluation_run("review-report", n=8, pairs=RS.pairs_rows(8, judge_source="stand-in"))
    review, _ = store.prepare(run_id, BASE, pairs=8, seed=0)
    tuned = {i.pair_id: ("A" if i.a_is == "tuned" else "B") for i in review.items}
    other = {pid: "B" if side == "A" else "A" for pid, side in tuned.items()}
    for pid in tuned:  # ann always picks the tuned reply; bob too except on p001 (can't tell) and p002 (base)
        store.record_vote(review, reviewer="ann", pair_id=pid, value=tuned[pid], comment="", shown_left="A",
                          picked="left")
        bob = {"p001": "cant_tell", "p002": other[pid]}.get(pid, tuned[pid])
        store.record_vote(review, reviewer="bob", pair_id=pid, value=bob, comment="", shown_left="A", picked="left")
    res = CliRunner().invoke(app, ["review", "report", "--run", run_id, "--experiment", "review-report"])
    assert res.exit_code == 0, res.output
    metrics = tracking.get_run(run_id).data.metrics
    # pair scores: six pairs 1.0, p001 0.75, p002 0.5 -> mean 7.25 / 8
    assert metrics["review/preference"] == pytest.approx(7.25 / 8)
    assert metrics["review/cant_tell_rate"] == pytest.approx(1 / 16)
    assert metrics["review/votes"] == 16 and metrics["review/pairs"] == 8 and metrics["review/reviewers"] == 2
    assert metrics["review/preference_ci_low"] <= 7.25 / 8 <= metrics["review/preference_ci_high"]
    # people: tuned on all pairs but p002 (tie). grader: tie on p000 and p004, tuned elsewhere -> 5 of 8
    assert metrics["review/grader_agreement"] == pytest.approx(5 / 8)
    # verifier: base on p000, p003, p006; tuned elsewhere -> 4 of 8; the stand-in judge: tie on p000, p005
    assert metrics["review/verifier_agreement"] == pytest.approx(4 / 8)
    assert metrics["review/judge_stand_in_agreement"] == pytest.approx(5 / 8)
    assert not any(k.startswith("review/judge_agreement") for k in metrics), "a stand-in is never just 'the judge'"
    report = tracking.load_json_artifact(run_id, "review/tuned_vs_base/report.json")
    assert [r["reviewer"] for r in report["per_reviewer"]] == ["ann", "bob"]
    assert report["per_reviewer"][0]["preference"] == 1.0 and report["few_pairs"] is True
    assert "People preferred the tuned reply" in res.output


def test_report_without_a_review_or_with_a_bad_option_is_one_line():
    run_id = RS.evaluation_run("review-report", n=2)
    for args in (["review", "report", "--run", run_id], ["review", "report", "--run", run_id, "--against", "x"],
                 ["review", "--run", "no-such-run"]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2 and res.output.count("\n") == 1 and res.output.startswith("error: "), res.output
    with tracking.stage_run("profile", experiment="review-report") as other:
        pass
    with pytest.raises(InputError, match="not an evaluation"):
        store.evaluation_run(other.info.run_id)
