"""Evaluation arithmetic on inputs whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rftlab.evaluate import metrics as M


def test_uplift_pct_known_values_and_zero_base():
    assert M.uplift_pct(0.5, 0.6) == pytest.approx(20.0)
    assert M.uplift_pct(0.4, 0.3) == pytest.approx(-25.0)
    assert M.uplift_pct(0.0, 0.0) == 0.0
    assert M.uplift_pct(0.0, 0.1) is None  # undefined, never inf
    assert M.uplift_pct(None, 0.1) is None


def test_win_rate_counts_ties_half_and_is_symmetric():
    base = [0.1, 0.5, 0.5, 0.9]
    tuned = [0.2, 0.5, 0.4, 0.9]
    # win, tie, loss, tie -> (1 + .5 + 0 + .5) / 4
    assert M.win_rate(base, tuned) == pytest.approx(0.5)
    assert M.win_rate([0, 0, 0], [1, 1, 0]) == pytest.approx(2.5 / 3)
    assert M.win_rate([1, 1, 0], [0, 0, 0]) == pytest.approx(1 - 2.5 / 3)
    assert M.tie_rate(base, tuned) == pytest.approx(0.5)
    assert M.win_rate([], []) is None
    with pytest.raises(ValueError):
        M.win_rate([1, 2], [1])


def test_bootstrap_ci_constant_shift_is_a_point():
    base = [0.2, 0.4, 0.6, 0.8]
    tuned = [b * 1.5 for b in base]  # every resample's uplift is exactly 50 %
    lo, hi = M.bootstrap_uplift_ci(base, tuned, n=200, seed=3)
    assert lo == pytest.approx(50.0) and hi == pytest.approx(50.0)


def test_bootstrap_ci_matches_a_hand_computed_resample():
    base, tuned = [1.0, 2.0, 3.0], [2.0, 2.0, 6.0]
    n, seed = 500, 11
    idx = np.random.default_rng(seed).integers(0, 3, size=(n, 3))
    b, t = np.array(base)[idx].mean(1), np.array(tuned)[idx].mean(1)
    expect = np.quantile((t - b) / b * 100, [0.025, 0.975])
    lo, hi = M.bootstrap_uplift_ci(base, tuned, n=n, seed=seed)
    assert (lo, hi) == pytest.approx(tuple(expect))
    point = M.uplift_pct(2.0, 10 / 3)
    assert lo <= point <= hi
    assert M.bootstrap_uplift_ci(base, tuned, n=n, seed=seed) == (lo, hi)  # seeded


def test_bootstrap_ci_all_zero_base_is_undefined():
    assert M.bootstrap_uplift_ci([0, 0], [1, 1], n=100) == (None, None)
    assert M.bootstrap_uplift_ci([], [], n=100) == (None, None)


def test_summarize_uses_per_prompt_means():
    base = [[0.2, 0.4], [0.5, 0.5]]  # prompt means .3, .5 -> .4
    tuned = [[0.6, 0.6], [0.4, 0.6]]  # .6, .5 -> .55
    out = M.summarize(base, tuned, bootstrap=100, seed=0)
    assert out["eval/base_mean"] == pytest.approx(0.4)
    assert out["eval/tuned_mean"] == pytest.approx(0.55)
    assert out["eval/uplift_pct"] == pytest.approx(37.5)
    assert out["eval/uplift_abs"] == pytest.approx(0.15)
    assert out["eval/win_rate"] == pytest.approx(0.75)  # one win, one tie
    assert out["eval/uplift_ci_low"] <= 37.5 <= out["eval/uplift_ci_high"]
    assert out["eval/prompts"] == 2


def test_component_means_skip_non_numbers_and_cost():
    comps = [{"a": 1.0, "b": 0.0}, {"a": 0.0, "c": "x", "d": float("nan")}, {"b": 1.0, "e": True}]
    assert M.component_means(comps) == {"a": 0.5, "b": 0.5}
    cost = M.inference_cost(2000, 500, usd_per_1k_input=0.0003, usd_per_1k_output=0.0025)
    assert math.isclose(cost, 2 * 0.0003 + 0.5 * 0.0025)
