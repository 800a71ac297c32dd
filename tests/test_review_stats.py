"""The review's pure statistics: vote scores, the people's majority, raters' labels, Cohen's kappa (checked
against scikit-learn's), and the bootstrap interval over pairs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from rftlab.review import stats as S


def test_votes_score_the_tuned_reply_one_the_other_zero_and_cant_tell_half():
    assert S.vote_score("A", "tuned", "base") == 1.0 and S.vote_score("B", "tuned", "base") == 0.0
    assert S.vote_score("A", "real", "tuned") == 0.0 and S.vote_score("cant_tell", "real", "tuned") == 0.5
    assert [S.majority(s) for s in (0.75, 0.5, 0.25)] == [S.TUNED, S.TIE, S.OTHER]


def test_raters_rank_by_rounded_scores_or_by_verdict():
    assert S.rank({"base": 0.3, "tuned": 0.30004}) == S.TIE
    assert S.rank({"base": 0.3, "tuned": 0.3001}) == S.TUNED and S.rank(None) is None
    assert [S.verdict({"verdict": v, "source": "x"}) for v in ("Tuned", "base", "tie", "A")] == \
        [S.TUNED, S.OTHER, S.TIE, None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(S.LABELS), st.sampled_from(S.LABELS)), min_size=1, max_size=40))
def test_kappa_matches_scikit_learn_and_is_none_where_undefined(pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    mine = S.cohen_kappa(a, b)
    if len(set(a)) == 1 and set(a) == set(b):
        assert mine is None  # both raters use one label: p_e = 1 (scikit-learn answers NaN)
        return
    theirs = cohen_kappa_score(a, b, labels=list(S.LABELS))
    if math.isnan(theirs):
        assert mine is None
    else:
        assert mine == pytest.approx(theirs)


def test_agreement_counts_only_pairs_the_rater_ranked():
    people = {"p1": S.TUNED, "p2": S.TUNED, "p3": S.OTHER, "p4": S.TIE}
    rater = {"p1": S.TUNED, "p2": S.OTHER, "p3": S.OTHER, "p4": None}
    got = S.agreement(people, rater)
    assert got["pairs"] == 3 and got["share"] == pytest.approx(2 / 3)
    assert got["kappa"] == pytest.approx(cohen_kappa_score([S.TUNED, S.TUNED, S.OTHER], [S.TUNED, S.OTHER, S.OTHER]))
    assert S.agreement(people, {}) == {"pairs": 0, "share": None, "kappa": None}


def test_the_bootstrap_is_seeded_and_brackets_the_mean():
    values = [1.0] * 30 + [0.0] * 10 + [0.5] * 10
    lo, hi = S.bootstrap_ci(values, n=2000, seed=0)
    assert lo < S.mean(values) < hi and (lo, hi) == S.bootstrap_ci(values, n=2000, seed=0)
    assert 0.55 < lo and hi < 0.85
    assert S.bootstrap_ci([], n=100, seed=0) == (None, None)
    assert S.people_kappa({"ann": {"p1": S.TUNED}, "bob": {"p2": S.TUNED}}) is None
