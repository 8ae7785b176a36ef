"""toggle_activity against a direct count of every tree input's product sequence (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.circuit.toggle import toggle_activity


def direct(x, w, in_bits, w_bits, p):
    """Walk every tree input (p, n, j) through (step, row group, plane), counting changes from 0."""
    m, k = x.shape
    n = w.shape[1]
    g = -(-k // p)
    toggles = ones = 0
    for pp in range(p):
        for nn in range(n):
            for j in range(w_bits):
                prev = 0
                for mm in range(m):
                    for gg in range(g):
                        r = gg * p + pp
                        wbit = ((int(w[r, nn]) >> j) & 1) if r < k else 0
                        for i in range(in_bits):
                            xbit = ((int(x[mm, r]) >> i) & 1) if r < k else 0
                            e = xbit & wbit
                            toggles += e != prev
                            ones += e
                            prev = e
    return toggles, ones


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 7), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3),
       st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_fast_count_equals_the_direct_walk(m, k, n, in_bits, w_bits, p, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1), (m, k))
    w = rng.integers(-(2 ** (w_bits - 1)), 2 ** (w_bits - 1), (k, n))
    t = toggle_activity(x, w, in_bits, w_bits, p)
    assert (t.and_toggles, t.and_ones) == direct(x, w, in_bits, w_bits, p)
    assert t.and_slots == m * k * n * in_bits * w_bits
