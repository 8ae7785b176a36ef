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

This is a numpy reference meant for the functional runs of single layers and for tests (memory
~ M x K x N x Bi x Bw / chunk); the macro model only needs the mean ``and_toggle_density``.
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


def _planes(a: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement bit-planes of an integer array, plane axis last (0 = least significant)."""
    u = np.asarray(a, dtype=np.int64) & ((1 << bits) - 1)
    return ((u[..., None] >> np.arange(bits)) & 1).astype(np.uint8)


def toggle_activity(x_cols: np.ndarray, w: np.ndarray, in_bits: int, w_bits: int, rows_parallel: int,
                    chunk: int = 64) -> ToggleActivity:
    """Exact toggle counts of ``x_cols`` (M x K im2col input vectors) against ``w`` (K x N weights),
    both integers of ``in_bits`` / ``w_bits`` (two's complement patterns), on trees of ``rows_parallel``
    inputs. ``chunk`` vectors are expanded at a time (memory only; the result does not depend on it)."""
    x_cols = np.asarray(x_cols)
    w = np.asarray(w)
    if x_cols.ndim != 2 or w.ndim != 2 or x_cols.shape[1] != w.shape[0]:
        raise ValueError(f"x_cols (M, K) and w (K, N) expected, got {x_cols.shape} and {w.shape}")
    if rows_parallel < 1:
        raise ValueError(f"rows_parallel must be >= 1, got {rows_parallel}")
    m, k = x_cols.shape
    n = w.shape[1]
    p = int(rows_parallel)
    g = -(-k // p)
    kp = g * p
    xb = np.zeros((m, kp, in_bits), np.uint8)
    xb[:, :k] = _planes(x_cols, in_bits)
    wb = np.zeros((kp, n, w_bits), np.uint8)
    wb[:k] = _planes(w, w_bits)
    # sequence axis per tree input: (m, g, i); tree input axes: (p, n, j)
    xs = xb.reshape(m, g, p, in_bits).transpose(0, 1, 3, 2)   # m, g, i, p
    ws = wb.reshape(g, p, n, w_bits)                         # g, p, n, j
    toggles = 0
    ones = 0
    prev = np.zeros((p, n, w_bits), np.uint8)
    for m0 in range(0, m, chunk):
        xc = xs[m0:m0 + chunk]                                # c, g, i, p
        seq = xc[:, :, :, :, None, None] & ws[None, :, None, :, :, :]  # c, g, i, p, n, j
        seq = seq.reshape(-1, p, n, w_bits)
        ones += int(seq.sum(dtype=np.int64))
        toggles += int((seq[0] != prev).sum(dtype=np.int64))
        toggles += int((seq[1:] != seq[:-1]).sum(dtype=np.int64))
        prev = seq[-1]
    return ToggleActivity(in_bits=in_bits, w_bits=w_bits, input_ones=int(xb.sum(dtype=np.int64)),
                          input_slots=m * k * in_bits, and_ones=ones, and_toggles=toggles,
                          and_slots=m * k * n * in_bits * w_bits)
