"""Bit-exact bit-serial INT8 kernels (Numba) that compute a layer the way the digital IMC macro does.

The identity (DESIGN.md section 4). With x and w written as bit-planes x_i, w_j in {0, 1},

    y[m, n] = sum_{i < Bi, j < Bw} s_x(i) s_w(j) 2^(i+j) popcount( x_i[m, :] AND w_j[:, n] )

where s(b) = -1 for the two's complement sign bit (the top plane of a signed operand, which weighs
-2^(b-1)) and +1 otherwise; unsigned operands (post-ReLU activations) have no negative plane. Each
popcount is what one adder tree sums over the activated rows for one weight bit column and one input
bit step; the shifts and signs are the shift-accumulator. This equals the integer convolution bit
for bit, and the tests hold it to a numpy reference (:mod:`imcsim.circuit.reference`).

Data layout
- The reduction axis K of a group (the im2col row: C_in/groups x kh x kw) is ordered (dy, dx, c),
  channel-last. Operands are converted to their two's complement bit pattern as uint8 (bits above
  the declared width are sign extension and never read). A K-row is zero-padded to a multiple of 64
  and packed into ``KW = ceil(K / 64)`` 64-bit words per bit-plane, bit p of word kw being element
  64 kw + p: one AVX-512 VPTESTMB of 64 bytes against the plane's bit mask gives a plane word
  (:func:`bitplane`). Inputs and weights use the same packing, so positions match.
- Weights (:class:`PackedWeights`, packed once and reused, like the weights resident in the array):
  ``wq[group, kw, j * Np + n]``, word kw of plane j of output channel n, with N padded to ``Np``
  (a multiple of 32) so a block of output channels never straddles two planes; plus the weights'
  per-K column sums for the activity counts.
- Inputs: one pass (:func:`prep_input`, parallel over input rows) converts the NCHW integers to
  NHWC bit patterns, checks the range, computes the activity row sums and, when C/groups is a
  multiple of 64 ("pixel path"), packs every input pixel's channels into plane words once
  (``xpk[b, iy, ix, cw, slot]``). An im2col row is then just the list of the pixel words of its
  in-bounds taps (padding taps are skipped: they are zero). Otherwise ("row path", e.g. the RGB
  stem with C = 3) each task assembles and packs its im2col rows from the NHWC bytes.

The inner kernel (:func:`make_block`, emitted as LLVM IR with ``<8 x i64>`` vectors) computes, for
one im2col row and a block of 16 (8-bit inputs) or 32 (<= 4-bit inputs) output channels, the
finished outputs: for each weight plane j, ``sum_i s(i) 2^i sum_k popcount(x_i[k] AND w_j[k, n])``
with the K loop innermost and one accumulator register per (input slot, 8 channels), so per 8
plane-pair words it is one AND (with the input word broadcast from memory), one VPOPCNTQ and one
add, and one weight load serves all input planes; after each j the input-plane shifts and sign are
applied and the result is added with weight 2^j (negated for the sign plane of signed weights).
Each output is stored once. Accumulation is int64 (no overflow for any K below 2^48).

The output is written channels-last, ``y[b, oy, ox, n]`` (the layout of a GEMM's (M, N) result),
and returned as an NCHW-shaped view of it.

Activity (:class:`imcsim.circuit.activity.Activity`) is derived, not counted in the inner loop:
sum over (m, n, k) of x_i[m, k] AND w_j[k, n] = sum over k of (sum_m x_i[m, k]) (sum_n w_j[k, n]).
The input column sums are window sums over the padded input, separable into per-row sums (a
prefix sum per stride phase along x, computed in the input pass) and a sum over the rows each tap
row sees; the weight column sums are computed when the weights are packed. This is exact integer
arithmetic; ``tests/test_circuit_kernels_bitserial.py`` checks it against a count of every AND
product.

Values outside the declared bit width raise :class:`BitWidthError` (a ``SpecError`` and a
``ValueError``), never wrap silently.

Modules (one job each): :mod:`.codegen` (the LLVM IR blocks), :mod:`.kernels` (the Numba loops),
:mod:`.checks` (argument checks), :mod:`.packing` (:class:`PackedWeights`), :mod:`.api` (the
functions below, re-exported here).
"""

from __future__ import annotations

from imcsim.circuit.bitserial.api import (
    CHANNELS_PER_TASK,
    MAX_ROWS_PER_TASK,
    conv2d,
    kernels_compiled,
    linear,
    matmul,
    warm_up,
)
from imcsim.circuit.bitserial.checks import BitWidthError, value_range
from imcsim.circuit.bitserial.packing import PackedWeights, pack_weights

__all__ = ["CHANNELS_PER_TASK", "MAX_ROWS_PER_TASK", "BitWidthError", "PackedWeights", "conv2d",
           "kernels_compiled", "linear", "matmul", "pack_weights", "value_range", "warm_up"]
