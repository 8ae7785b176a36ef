"""The Activity record: densities, summing layers, validation."""

import numpy as np
import pytest

from imcsim.circuit.activity import Activity


def _act(scale: int = 1) -> Activity:
    # 2 input planes, 3 weight planes; 10 input slots per plane, 40 AND slots per pair, 6 weight slots.
    return Activity(np.array([3, 5]) * scale, 10 * scale, np.array([[1, 2, 3], [4, 5, 6]]) * scale, 40 * scale,
                    np.array([1, 2, 3]) * scale, 6 * scale)


def test_densities_are_ones_over_slots():
    a = _act()
    assert a.in_bits == 2 and a.w_bits == 3
    np.testing.assert_allclose(a.input_density, [0.3, 0.5])            # 3/10, 5/10
    np.testing.assert_allclose(a.and_density, [[1 / 40, 2 / 40, 3 / 40], [4 / 40, 5 / 40, 6 / 40]])
    assert a.mean_input_density == pytest.approx(8 / 20)                # (3+5) / (10*2)
    assert a.mean_and_density == pytest.approx(21 / 240)                # (1+..+6) / (40*6)
    assert a.mean_weight_density == pytest.approx(6 / 18)               # (1+2+3) / (6*3)


def test_add_sums_counts_and_slots():
    s = _act() + _act(2)
    assert s == _act(3)
    assert s.mean_input_density == pytest.approx(24 / 60)               # (9+15) / (30*2)
    assert _act() + Activity.zeros(2, 3) == _act()
    assert Activity.zeros(2, 3).mean_and_density == 0.0
    assert not (_act() == _act(2))


def test_add_rejects_other_widths_and_bad_counts():
    with pytest.raises(ValueError, match="bit widths"):
        _act() + Activity.zeros(8, 8)
    with pytest.raises(ValueError, match="slots"):
        Activity(np.array([11]), 10, np.zeros((1, 1)), 0, np.zeros(1), 0)
    with pytest.raises(ValueError, match="shapes"):
        Activity(np.zeros(2), 1, np.zeros((3, 1)), 1, np.zeros(1), 1)


def test_to_dict_is_plain():
    d = _act().to_dict()
    assert d["and_ones"] == [[1, 2, 3], [4, 5, 6]] and d["input_slots"] == 10
    assert isinstance(d["mean_and_density"], float)
