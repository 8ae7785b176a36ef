"""The INT8 backward pass's shortcuts change nothing: the integer col2im equals the float one's adjoint, and
the transposed weights are packed once per weight version and give what packing them afresh gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.circuit import bitserial
from imcsim.execute import backprop
from imcsim.execute import qnet as Q
from imcsim.execute.data import load_dataset
from imcsim.execute.weights import random_params
from imcsim.workload import zoo


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(1, 2), st.integers(0, 2**31 - 1))
def test_integer_col2im_equals_the_numpy_adjoint(n, c, h, w, kh, kw, s, p, d, seed):
    ho = (h + 2 * p - d * (kh - 1) - 1) // s + 1
    wo = (w + 2 * p - d * (kw - 1) - 1) // s + 1
    if ho < 1 or wo < 1:
        return
    rows = np.random.default_rng(seed).integers(-(2**20), 2**20, (n * ho * wo, c * kh * kw))
    want = backprop.col2im(rows.reshape(n, ho * wo, -1), (n, c, h, w), kh, kw, (s, s), (p, p), (d, d))
    got = backprop.col2im_rows(rows, (n, c, h, w), kh, kw, (s, s), (p, p), (d, d))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_transposed_weights_are_packed_once_per_weight_version():
    graph = zoo.build("digits-cnn")
    x = load_dataset("digits").images[:8]
    qnet = Q.quantize(graph, random_params(graph, 0), x)
    for op in (qnet.ops["res1.conv1"], qnet.ops["sep1.dw"], qnet.ops["classifier"]):
        w = op.w.reshape(op.w.shape[0], -1)
        g, c_out = op.groups, w.shape[0]
        want_t = np.concatenate([w[j * (c_out // g):(j + 1) * (c_out // g)].T for j in range(g)])   # rows: W_j^T
        np.testing.assert_array_equal(op.transposed(), want_t)
        first = op.packed_transposed()
        assert op.packed_transposed() is first                           # same weights: not packed again
        e = np.random.default_rng(1).integers(-127, 128, (40, c_out, 1, 1))
        y_packed, act_packed = bitserial.conv2d(e, first)
        y_raw, act_raw = bitserial.conv2d(e, want_t[:, :, None, None], groups=g)
        np.testing.assert_array_equal(y_packed, y_raw)
        assert act_packed == act_raw
        op.w = op.w.copy()                                               # an update replaces the weights
        assert op.packed_transposed() is not first
