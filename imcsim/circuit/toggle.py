"""Toggle counts of a bit-serial layer: how often each adder-tree input changes between cycles.

Why: static CMOS spends energy on transitions, not on ones. The ``activity`` model of
:mod:`imcsim.circuit.macro` charges tree inputs that are 1; the ``toggle`` model charges tree inputs
that *change* between consecutive cycles of the same tree input. For random bits the two give the same
number (0.25), for real activations they do not: a ReLU output's high bit-planes are mostly 0, so
their products rarely toggle, while a stable weight bit times an input bit that alternates toggles
every cycle.

What is a tree input's sequence (the macro's loop order, docs/macro.md section 1): tree input ``p`` of
the lane holding weight bit ``j`` of output ``n`` sees, step by step (im2col vector ``m``), row group
by row group (``g``: rows ``g P .. g P + P - 1``), input plane by plane (``i``), the product bit
``x_i[m, g P + p] AND w_j[g P + p, n]``. A toggle is a change between consecutive entries; the first
entry is compared with 0 (the tree starts cleared). Rows past K (the last, partial row group) hold no
weight and never toggle. The bits of a weight-column tree input are the same product bits, so the
count holds for both organisations; with 2 input bits per cycle it is counted per plane (A).

The count is exact and linear in the operands (no M x K x N product is formed), so a functional run
of a whole network can afford it; the macro model only needs the mean ``and_toggle_density``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ToggleActivity:
    """Toggle and one counts of one layer run; duck-types :class:`~imcsim.circuit.activity.Activity`
    for :func:`~imcsim.circuit.macro.activity_densities` (``in_bits``, ``w_bits``, the mean densities)."""

    in_bits: int
    w_bits: int
    input_ones: int        # input bits that are 1, over all planes and slots
    input_slots: int       # input bits presented: M x K x Bi
    and_ones: int          # product bits that are 1
    and_toggles: int       # product-bit changes between consecutive cycles of a tree input
    and_slots: int         # product bits: M x K x N x Bi x Bw

    @property
    def mean_input_density(self) -> float:
        return self.input_ones / self.input_slots if self.input_slots else 0.0

    @property
    def mean_and_density(self) -> float:
        return self.and_ones / self.and_slots if self.and_slots else 0.0

    @property
    def and_toggle_density(self) -> float:
        return self.and_toggles / self.and_slots if self.and_slots else 0.0

    def __add__(self, other: ToggleActivity) -> ToggleActivity:
        """Counts of two runs (or groups, or batches) together: counts and slots add."""
        if not isinstance(other, ToggleActivity):
            return NotImplemented
        if (self.in_bits, self.w_bits) != (other.in_bits, other.w_bits):
            raise ValueError(f"cannot add toggles of {self.in_bits}x{self.w_bits} and {other.in_bits}x{other.w_bits} bits")
        return ToggleActivity(self.in_bits, self.w_bits, self.input_ones + other.input_ones,
                              self.input_slots + other.input_slots, self.and_ones + other.and_ones,
                              self.and_toggles + other.and_toggles, self.and_slots + other.and_slots)


def _planes(a: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement bit-planes of an integer array, plane axis last (0 = least significant)."""
    u = np.asarray(a, dtype=np.int64) & ((1 << bits) - 1)
    return ((u[..., None] >> np.arange(bits)) & 1).astype(np.uint8)


def toggle_activity(x_cols: np.ndarray, w: np.ndarray, in_bits: int, w_bits: int, rows_parallel: int
                    ) -> ToggleActivity:
    """Exact toggle counts of ``x_cols`` (M x K im2col input vectors) against ``w`` (K x N weights),
    both integers of ``in_bits`` / ``w_bits`` (two's complement patterns), on trees of ``rows_parallel``
    inputs, in O(M K Bi + K N Bw) operations (no M x K x N product is formed).

    Why it is exact: tree input (p, n, j) sees ``x_i[m, r] AND w_j[r, n]`` with r = g P + p. Inside one
    (step m, row group g) block only the input bit changes, so the block contributes
    ``w_j[r, n] x #{i: x_i != x_(i+1)}``; summed over n and j that is ``W1(r) x D(m, r)`` with W1(r) the
    1 bits of row r's weights. Between consecutive blocks the row changes from r to r' (the next row
    group, or row group 0 of the next step) and the input bit from a = x_(Bi-1)[m, r] to
    b = x_0[m', r']: the products differ in W1(r) bits if only a is 1, W1(r') if only b is 1, and in the
    Hamming distance of the two rows' weight bits if both are 1. The first cycle counts against a
    cleared tree. ``tests/test_circuit_toggle.py`` checks this against a direct count under hypothesis.
    """
    x_cols = np.asarray(x_cols)
    w = np.asarray(w)
    if x_cols.ndim != 2 or w.ndim != 2 or x_cols.shape[1] != w.shape[0]:
        raise ValueError(f"x_cols (M, K) and w (K, N) expected, got {x_cols.shape} and {w.shape}")
    if rows_parallel < 1:
        raise ValueError(f"rows_parallel must be >= 1, got {rows_parallel}")
    m, k = x_cols.shape
    n = w.shape[1]
    p = int(rows_parallel)
    g = -(-k // p) if k else 0
    kp = g * p
    if m == 0 or kp == 0 or n == 0:
        return ToggleActivity(in_bits, w_bits, 0, m * k * in_bits, 0, 0, m * k * n * in_bits * w_bits)
    xb = np.zeros((m, kp, in_bits), np.uint8)
    xb[:, :k] = _planes(x_cols, in_bits)
    wb = np.zeros((kp, n * w_bits), np.uint8)
    wb[:k] = _planes(w, w_bits).reshape(k, n * w_bits)
    w1 = wb.sum(axis=1, dtype=np.int64)                                   # (Kp,) 1 bits per row
    changes = (xb[:, :, 1:] != xb[:, :, :-1]).sum(axis=2).sum(axis=0)     # (Kp,) D summed over steps
    within = int((w1 * changes).sum())
    # block sequence per tree input p: blocks b = m G + g, row g P + p
    last = xb[:, :, in_bits - 1].reshape(m * g, p).astype(np.int64)
    first = xb[:, :, 0].reshape(m * g, p).astype(np.int64)
    w1_g = w1.reshape(g, p)
    nxt = (np.arange(g) + 1) % g                                           # the next block's row group
    ham = (wb.reshape(g, p, -1) != wb.reshape(g, p, -1)[nxt]).sum(axis=2, dtype=np.int64)   # (G, P)
    gb = np.arange(m * g - 1) % g
    a, b = last[:-1], first[1:]
    cross = int((a * (1 - b) * w1_g[gb] + (1 - a) * b * w1_g[nxt[gb]] + a * b * ham[gb]).sum())
    start = int((first[0] * w1_g[0]).sum())
    ones = int((xb.sum(axis=(0, 2), dtype=np.int64) * w1).sum())
    return ToggleActivity(in_bits=in_bits, w_bits=w_bits, input_ones=int(xb.sum(dtype=np.int64)), input_slots=m * k * in_bits,
                          and_ones=ones, and_toggles=within + cross + start, and_slots=m * k * n * in_bits * w_bits)
