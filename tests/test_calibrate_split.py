"""Group k-fold and the rank AUC: groups never straddle folds; AUC matches scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftlab.calibrate.metrics import group_spread, roc_auc
from rftlab.calibrate.split import group_key, group_kfold


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=3, max_size=40),
    k=st.integers(2, 5),
    seed=st.integers(0, 10),
)
def test_no_group_is_split_and_every_row_is_held_out_once(sizes, k, seed):
    if len(sizes) < k:
        return
    rows = [{"id": f"{g}-{j}", "group": f"g{g}"} for g, n in enumerate(sizes) for j in range(n)]
    labels = [int(r["group"][1:]) % 2 for r in rows]
    folds = group_kfold(rows, k, seed, labels=labels)
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(len(rows)))
    for train, test in folds:
        assert not {rows[i]["group"] for i in train} & {rows[i]["group"] for i in test}
        assert len(test) > 0


def test_deterministic_for_a_seed_and_different_across_seeds():
    rows = [{"id": str(i), "group": str(i // 3)} for i in range(90)]
    a = [t.tolist() for _, t in group_kfold(rows, 5, 7)]
    assert a == [t.tolist() for _, t in group_kfold(rows, 5, 7)]
    assert a != [t.tolist() for _, t in group_kfold(rows, 5, 8)]


def test_group_key_fallbacks():
    assert group_key({"id": "1", "group": "book-3", "thread_ts": "9"}) == "g:book-3"
    assert group_key({"id": "1", "channel": "dev", "thread_ts": "17.5"}) == "t:dev:17.5"
    day1 = group_key({"id": "1", "channel": "dev", "ts": "1736136894.0"})
    assert day1 == group_key({"id": "2", "channel": "dev", "ts": "1736140000.0"})  # same UTC day
    assert day1 != group_key({"id": "3", "channel": "ops", "ts": "1736136894.0"})
    assert group_key({"id": "x9"}) == "i:x9"


def test_threads_stay_together_without_group_field():
    rows = [{"id": str(i), "channel": "c", "thread_ts": str(i // 4), "ts": str(1.7e9 + i)} for i in range(80)]
    for train, test in group_kfold(rows, 4, 0):
        assert not {rows[i]["thread_ts"] for i in train} & {rows[i]["thread_ts"] for i in test}


def test_both_classes_in_every_fold():
    rows = [{"id": str(i), "group": str(i // 2)} for i in range(60)]
    labels = [1 if i < 12 else 0 for i in range(60)]
    for _, test in group_kfold(rows, 5, 3, labels=labels):
        assert {labels[i] for i in test} == {0, 1}


def test_too_few_groups_is_an_error():
    with pytest.raises(ValueError, match="groups"):
        group_kfold([{"id": "1", "group": "a"}, {"id": "2", "group": "a"}], 2, 0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=2, max_size=50))
def test_rank_auc_matches_sklearn(pairs):
    from sklearn.metrics import roc_auc_score

    scores = np.array([p[0] for p in pairs], dtype=float) / 4
    labels = np.array([p[1] for p in pairs])
    if labels.all() or not labels.any():
        assert np.isnan(roc_auc(scores, labels))
        return
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_group_spread_is_zero_for_ties():
    assert group_spread(np.array([0.5, 0.5, 0.2, 0.2]), ["a", "a", "b", "b"]) == 0.0
    assert group_spread(np.array([0.1, 0.3, 0.2]), ["a", "a", "b"]) == pytest.approx(0.1)
