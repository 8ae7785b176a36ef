"""Bilinear upsampling (Rep-Net's branch output): integer codes, float and backward against numpy references."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.execute import reference, resize
from imcsim.workload.graph import Node


def _node(c: int, h: int, w: int, ho: int, wo: int, mode: str = "bilinear") -> Node:
    return Node("up", "upsample", ("x",), (c, h, w), (c, ho, wo), {"mode": mode, "size": (ho, wo)}, {}, 0)


def _pytorch_bilinear(x: np.ndarray, ho: int, wo: int) -> np.ndarray:
    """F.interpolate(mode='bilinear', align_corners=False) written out per pixel in exact rationals (the
    documented rule: source (d + 1/2) in / out - 1/2, clamped below at 0; neighbours i0, min(i0 + 1, in - 1))."""
    b, c, h, w = x.shape
    out = np.empty((b, c, ho, wo), dtype=object)

    def src(d: int, n_in: int, n_out: int) -> tuple[int, int, Fraction]:
        s = max((d + Fraction(1, 2)) * n_in / n_out - Fraction(1, 2), Fraction(0))
        i0 = min(int(s), n_in - 1)
        return i0, min(i0 + 1, n_in - 1), s - i0

    for i in range(ho):
        y0, y1, ly = src(i, h, ho)
        for j in range(wo):
            x0, x1, lx = src(j, w, wo)
            for n in range(b):
                for k in range(c):
                    v = x[n, k]
                    out[n, k, i, j] = ((1 - ly) * ((1 - lx) * int(v[y0, x0]) + lx * int(v[y0, x1]))
                                       + ly * ((1 - lx) * int(v[y1, x0]) + lx * int(v[y1, x1])))
    return out


sizes = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4))


@settings(max_examples=60)
@given(sizes, st.integers(0, 2**32 - 1))
def test_integer_bilinear_is_the_rounded_exact_interpolation(size, seed):
    h, w, fh, fw = size
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, (2, 3, h, w))
    node = _node(3, h, w, h * fh, w * fw)
    got = resize.upsample_codes(node, q)
    # the same integers as the per-pixel reference of imcsim.execute.reference ...
    np.testing.assert_array_equal(got, reference._bilinear(q, h * fh, w * fw))
    # ... which is the exact interpolation rounded half up
    exact = _pytorch_bilinear(q, h * fh, w * fw)
    np.testing.assert_array_equal(got, np.vectorize(lambda v: int(np.floor(v + Fraction(1, 2))))(exact))
    assert got.min() >= q.min() and got.max() <= q.max()       # convex: no clamp needed
    np.testing.assert_allclose(resize.upsample_float(node, q.astype(np.float64)), exact.astype(np.float64),
                               rtol=0, atol=1e-9)


def test_bilinear_x2_by_hand():
    # 2 -> 4 samples, half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (-> last sample):
    # [a, 0.75 a + 0.25 b, 0.25 a + 0.75 b, b]; a = 0, b = 4 -> [0, 1, 3, 4]; a = 0, b = 2 -> [0, 0.5, 1.5, 2],
    # rounded half up -> [0, 1, 2, 2]
    assert resize.bilinear_taps(2, 4).tolist() == [[8, 0], [6, 2], [2, 6], [0, 8]]
    node = _node(1, 1, 2, 1, 4)
    np.testing.assert_array_equal(resize.upsample_codes(node, np.array([[[[0, 4]]]])), [[[[0, 1, 3, 4]]]])
    np.testing.assert_array_equal(resize.upsample_codes(node, np.array([[[[0, 2]]]])), [[[[0, 1, 2, 2]]]])


@settings(max_examples=30)
@given(sizes, st.integers(0, 2**32 - 1), st.sampled_from(["bilinear", "nearest"]))
def test_backward_is_the_adjoint_of_the_forward(size, seed, mode):
    """<up(x), e> = <x, up^T(e)> for every x and e: the error rule is the exact transpose."""
    h, w, fh, fw = size
    rng = np.random.default_rng(seed)
    node = _node(2, h, w, h * fh, w * fw, mode)
    x, e = rng.normal(size=(3, 2, h, w)), rng.normal(size=(3, 2, h * fh, w * fw))
    lhs = float((resize.upsample_float(node, x) * e).sum())
    rhs = float((x * resize.upsample_backward(node, e)).sum())
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs))
