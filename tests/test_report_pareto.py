"""The Pareto front (all objectives minimised), checked against fronts worked out by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.report.pareto import pareto_mask


def test_two_objectives_by_hand():
    # (energy, latency): a=(1,5) b=(2,2) c=(5,1) trade off; d=(3,3) is dominated by b (2<=3, 2<=3);
    # e=(6,6) by everything; f=(1,6) by a (same energy, 5 < 6).
    pts = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [6, 6], [1, 6]])
    assert pareto_mask(pts).tolist() == [True, True, True, False, False, False]


def test_three_objectives_keep_points_best_in_one_axis():
    # (energy, latency, area): p=(1,1,9) q=(9,9,1) are each best somewhere; r=(2,2,9) is dominated
    # by p (1<2, 1<2, 9<=9); s=(2,2,2) is beaten by none (p has area 9 > 2, q energy 9 > 2).
    pts = np.array([[1, 1, 9], [9, 9, 1], [2, 2, 9], [2, 2, 2]])
    assert pareto_mask(pts).tolist() == [True, True, False, True]


def test_ties_and_nan():
    # two identical points do not dominate each other; a point with a missing objective is never on it
    pts = np.array([[1.0, 2.0], [1.0, 2.0], [0.5, np.nan], [3.0, 3.0]])
    assert pareto_mask(pts).tolist() == [True, True, False, False]


def test_single_objective_and_empty():
    assert pareto_mask(np.array([[3.0], [1.0], [1.0], [2.0]])).tolist() == [False, True, True, False]
    assert pareto_mask(np.zeros((0, 3))).tolist() == []
    with pytest.raises(ValueError):
        pareto_mask(np.array([1.0, 2.0]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 5)] * 3), min_size=1, max_size=25))
def test_matches_brute_force_definition(points):
    v = np.array(points, dtype=float)
    expected = [not any((w <= p).all() and (w < p).any() for w in v) for p in v]
    mask = pareto_mask(v)
    assert mask.tolist() == expected
    assert mask.any()  # a non-empty set always has a non-dominated point
