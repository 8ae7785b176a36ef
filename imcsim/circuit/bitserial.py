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
  channel-last, so one im2col row is kh x kw contiguous copies out of an NHWC input. Any K order
  gives the same sums as long as inputs and weights share it.
- Operands are converted to their two's complement bit pattern as uint8 (bits above the declared
  width are sign extension and never read). A K-row is zero-padded to a multiple of 64 bytes and
  packed into ``KW = ceil(K / 64)`` 64-bit words per bit-plane: byte t of the row's 8-byte word g
  goes to bit 8t + g, so a plane word is eight shift-mask-or steps over whole 64-bit loads
  (``_pack_row``). Inputs and weights use the same packing, so positions match.
- Weights are packed once per layer into ``wq[group, kw, j * N + n]`` (word kw of plane j of output
  channel n): for one input word the inner loop runs over all Bw x N weight words contiguously.
- Input rows are packed on the fly, per im2col row, inside the parallel loop (no im2col matrix, no
  float copy): memory is the weight planes plus a few KiB per thread.

The inner loop (``_acc_planes8``) takes the Bi words of one input row at one K word and, for every
weight word (j, n), adds ``sum_i s(i) 2^i popcount(x_i AND w)``: one weight load serves all input
planes, and LLVM turns the loop into AVX-512 VPOPCNTQ over 8 (j, n) lanes. The input plane weights
2^i are applied there (a shift per plane); the weight plane weights 2^j and the weight sign are
applied once per output row when the accumulator is folded into y. Accumulation is int64 (no
overflow for any K below 2^48); the output is int64.

Activity (:class:`imcsim.circuit.activity.Activity`) is derived, not counted in the inner loop:
sum over (m, n, k) of x_i[m, k] AND w_j[k, n] = sum over k of (sum_m x_i[m, k]) (sum_n w_j[k, n]),
so AND ones need only the per-k column sums of the input planes (window sums over the padded input,
from 2-D prefix sums per stride phase) and of the weight planes. This is exact integer arithmetic;
``tests/test_circuit_kernels_bitserial.py`` checks it against a count of every AND product.

Values outside the declared bit width raise :class:`BitWidthError` (a ``SpecError`` and a
``ValueError``), never wrap silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from imcsim.circuit.activity import Activity
from imcsim.errors import SpecError

#: At most this many im2col rows per parallel task (each task packs its rows and multiplies them by
#: every output channel); fewer when that leaves too few tasks to balance the threads.
MAX_ROWS_PER_TASK = 64

_LOW_BITS = np.uint64(0x0101010101010101)


class BitWidthError(SpecError, ValueError):
    """An operand does not fit its declared bit width, or shapes/widths are inconsistent."""


# ---------------------------------------------------------------------------------------- numba parts
@intrinsic
def _popcount64(typingctx, x):
    """LLVM ``ctpop.i64``: one POPCNT (or a VPOPCNTQ lane once vectorised)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, inline="always")
def _pack_row(rowu, n_planes, last_row, out):
    """Pack a zero-padded byte row (viewed as uint64, 8 per K word) into bit-plane words.

    Plane i < n_planes - 1 goes to ``out[i, kw]``, the top plane to ``out[last_row, kw]``.
    """
    n_words = out.shape[1]
    for kw in range(n_words):
        for i in range(n_planes):
            sh = np.uint64(i)
            word = np.uint64(0)
            for g in range(8):
                word |= ((rowu[kw * 8 + g] >> sh) & _LOW_BITS) << np.uint64(g)
            out[last_row if i == n_planes - 1 else i, kw] = word


@njit(cache=True, inline="always")
def _acc8(acc, w, k, x0, x1, x2, x3, x4, x5, x6, xl, sl, neg):
    """acc[t] += sum_{i<7} 2^i popcount(x_i & w[t]) -/+ 2^sl popcount(xl & w[t]) (unused x_i are 0)."""
    mask = -np.int64(neg)  # all ones when the top plane is a sign bit: (top ^ mask) - mask = -top
    for t in range(acc.shape[0]):
        v = w[k, t]
        a = (_popcount64(x0 & v) + (_popcount64(x1 & v) << 1)) + \
            ((_popcount64(x2 & v) << 2) + (_popcount64(x3 & v) << 3))
        b = ((_popcount64(x4 & v) << 4) + (_popcount64(x5 & v) << 5)) + (_popcount64(x6 & v) << 6)
        top = _popcount64(xl & v) << sl
        acc[t] += (a + b) + ((top ^ mask) - mask)


@njit(cache=True, inline="always")
def _acc8x2(acc, w, k, x0, x1, x2, x3, x4, x5, x6, xl, y0, y1, y2, y3, y4, y5, y6, yl, sl, neg):
    """:func:`_acc8` for two consecutive K words (x with w, y with u): one shift per plane pair."""
    mask = -np.int64(neg)  # all ones when the top plane is a sign bit: (top ^ mask) - mask = -top
    for t in range(acc.shape[0]):
        v = w[k, t]
        q = w[k + 1, t]
        a = ((_popcount64(x0 & v) + _popcount64(y0 & q))
             + ((_popcount64(x1 & v) + _popcount64(y1 & q)) << 1)) + \
            (((_popcount64(x2 & v) + _popcount64(y2 & q)) << 2)
             + ((_popcount64(x3 & v) + _popcount64(y3 & q)) << 3))
        b = (((_popcount64(x4 & v) + _popcount64(y4 & q)) << 4)
             + ((_popcount64(x5 & v) + _popcount64(y5 & q)) << 5)) + \
            ((_popcount64(x6 & v) + _popcount64(y6 & q)) << 6)
        top = (_popcount64(xl & v) + _popcount64(yl & q)) << sl
        acc[t] += (a + b) + ((top ^ mask) - mask)


@njit(cache=True, inline="always")
def _acc4(acc, w, k, x0, x1, x2, xl, sl, neg):
    """:func:`_acc8` for inputs of at most 4 bits (3 low planes and the top one)."""
    mask = -np.int64(neg)  # all ones when the top plane is a sign bit: (top ^ mask) - mask = -top
    for t in range(acc.shape[0]):
        v = w[k, t]
        a = (_popcount64(x0 & v) + (_popcount64(x1 & v) << 1)) + (_popcount64(x2 & v) << 2)
        top = _popcount64(xl & v) << sl
        acc[t] += a + ((top ^ mask) - mask)


@njit(cache=True, inline="always")
def _acc4x2(acc, w, k, x0, x1, x2, xl, y0, y1, y2, yl, sl, neg):
    """:func:`_acc8x2` for inputs of at most 4 bits."""
    mask = -np.int64(neg)  # all ones when the top plane is a sign bit: (top ^ mask) - mask = -top
    for t in range(acc.shape[0]):
        v = w[k, t]
        q = w[k + 1, t]
        a = ((_popcount64(x0 & v) + _popcount64(y0 & q))
             + ((_popcount64(x1 & v) + _popcount64(y1 & q)) << 1)) + \
            ((_popcount64(x2 & v) + _popcount64(y2 & q)) << 2)
        top = (_popcount64(xl & v) + _popcount64(yl & q)) << sl
        acc[t] += a + ((top ^ mask) - mask)


@njit(cache=True)
def _pack_weights(wrows, w_bits):
    """wrows[g, n, KW*8] (uint64 view of zero-padded byte rows) -> wq[g, kw, j * N + n]."""
    n_groups, n_out, n_u = wrows.shape
    n_words = n_u // 8
    wq = np.empty((n_groups, n_words, w_bits * n_out), np.uint64)
    planes = np.empty((w_bits, n_words), np.uint64)
    for row in range(n_groups * n_out):
        g = row // n_out
        n = row - g * n_out
        _pack_row(wrows[g, n], w_bits, w_bits - 1, planes)
        for j in range(w_bits):
            for kw in range(n_words):
                wq[g, kw, j * n_out + n] = planes[j, kw]
    return wq


@njit(cache=True, parallel=True)
def _bitserial_core(x, wq, kh, kw_, sh, sw, ph, pw, dh, dw, ho, wo, in_bits, in_signed, w_bits, w_signed,
                    rows_per_task):
    """y[b*M + m, g*N + n] of a grouped conv on NHWC uint8 bit patterns ``x``, weights packed as ``wq``."""
    n_batch, h, w, _ = x.shape
    n_groups, n_words, lanes = wq.shape
    n_out = lanes // w_bits
    cg = x.shape[3] // n_groups
    m_per = ho * wo
    n_rows = n_batch * m_per
    n_blocks = (n_rows + rows_per_task - 1) // rows_per_task
    y = np.zeros((n_rows, n_groups * n_out), np.int64)
    sl = in_bits - 1
    wide = in_bits > 4
    top = 7 if wide else 3
    wmask = -np.int64(w_signed)  # (v ^ wmask) - wmask negates v when the weights are signed
    for task in prange(n_groups * n_blocks):
        g = task // n_blocks
        blk = task - g * n_blocks
        c0 = g * cg
        wg = wq[g]
        rowu = np.zeros(n_words * 8, np.uint64)  # tail beyond K stays zero
        rowb = rowu.view(np.uint8)
        xr = np.zeros((8, n_words), np.uint64)   # slot rows: planes 0..Bi-2, then the top plane in `top`
        acc = np.empty(lanes, np.int64)
        for r in range(blk * rows_per_task, min(n_rows, (blk + 1) * rows_per_task)):
            b = r // m_per
            m = r - b * m_per
            oy = m // wo
            ox = m - oy * wo
            pos = 0
            for dy in range(kh):
                iy = oy * sh - ph + dy * dh
                for dx in range(kw_):
                    ix = ox * sw - pw + dx * dw
                    if 0 <= iy < h and 0 <= ix < w:
                        for c in range(cg):
                            rowb[pos + c] = x[b, iy, ix, c0 + c]
                    else:
                        for c in range(cg):
                            rowb[pos + c] = 0
                    pos += cg
            _pack_row(rowu, in_bits, top, xr)
            acc[:] = 0
            k = 0
            if wide:
                while k + 2 <= n_words:
                    _acc8x2(acc, wg, k, xr[0, k], xr[1, k], xr[2, k], xr[3, k], xr[4, k], xr[5, k],
                            xr[6, k], xr[7, k], xr[0, k + 1], xr[1, k + 1], xr[2, k + 1], xr[3, k + 1],
                            xr[4, k + 1], xr[5, k + 1], xr[6, k + 1], xr[7, k + 1], sl, in_signed)
                    k += 2
                if k < n_words:
                    _acc8(acc, wg, k, xr[0, k], xr[1, k], xr[2, k], xr[3, k], xr[4, k], xr[5, k], xr[6, k],
                          xr[7, k], sl, in_signed)
            else:
                while k + 2 <= n_words:
                    _acc4x2(acc, wg, k, xr[0, k], xr[1, k], xr[2, k], xr[3, k], xr[0, k + 1],
                            xr[1, k + 1], xr[2, k + 1], xr[3, k + 1], sl, in_signed)
                    k += 2
                if k < n_words:
                    _acc4(acc, wg, k, xr[0, k], xr[1, k], xr[2, k], xr[3, k], sl, in_signed)
            # fold: weight plane j weighs 2^j, the top one -2^(Bw-1) when signed (no slices in the hot
            # loop: a view of a shared array costs an atomic reference count per call)
            ybase = g * n_out
            for n in range(n_out):
                tot = np.int64(0)
                for j in range(w_bits - 1):
                    tot += acc[j * n_out + n] << j
                last = acc[(w_bits - 1) * n_out + n] << (w_bits - 1)
                y[r, ybase + n] = tot + ((last ^ wmask) - wmask)
    return y


# ---------------------------------------------------------------------------------------- validation
def value_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest value of a ``bits``-wide operand (two's complement when signed)."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _check_bits(bits: int, field: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise BitWidthError(None, field, bits, "an integer from 1 to 8", problem="bad bit width")
    return int(bits)


def _to_pattern(a: np.ndarray, bits: int, signed: bool, field: str) -> np.ndarray:
    """Check ``a`` fits ``bits`` (signed or not) and return its two's complement bit pattern as uint8."""
    a = np.asarray(a)
    if a.dtype.kind not in "iub":
        raise BitWidthError(None, field, str(a.dtype), "an integer array", problem="bad dtype")
    lo, hi = value_range(bits, signed)
    if a.size:
        amin, amax = int(a.min()), int(a.max())
        if amin < lo or amax > hi:
            bad = amin if amin < lo else amax
            kind = "signed" if signed else "unsigned"
            raise BitWidthError(None, field, bad, f"{kind} {bits}-bit values in [{lo}, {hi}]",
                                problem="value outside the declared bit width:")
    return (a.astype(np.int16) & 0xFF).astype(np.uint8)


def _pair(v: int | Sequence[int], field: str, minimum: int) -> tuple[int, int]:
    p = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(p) != 2 or any(int(e) != e or e < minimum for e in p):
        raise BitWidthError(None, field, v, f"an integer or pair of integers >= {minimum}")
    return int(p[0]), int(p[1])


# ---------------------------------------------------------------------------------------- activity
@njit(cache=True)
def _input_column_sums(x, bits, kh, kw_, sh, sw, ph, pw, dh, dw, ho, wo):
    """cs[i, dy, dx, c] = ones of input plane i at tap (dy, dx), channel c, summed over all outputs.

    The taps of one (dy, dx) over all output positions form a lattice with the stride as step; each
    stride phase of the padded input gets a 2-D prefix sum of plane ones (summed over the batch), so
    a window sum is four lookups. Work: one pass over the input per plane plus kh x kw x C lookups.
    """
    n_batch, h, w, n_ch = x.shape
    hp = h + 2 * ph
    wp = w + 2 * pw
    cs = np.zeros((bits, kh, kw_, n_ch), np.int64)
    for pa in range(sh):
        for pb in range(sw):
            used = False
            for dy in range(kh):
                for dx in range(kw_):
                    if (dy * dh) % sh == pa and (dx * dw) % sw == pb:
                        used = True
            if not used:
                continue
            hq = (hp - pa + sh - 1) // sh
            wq = (wp - pb + sw - 1) // sw
            s = np.zeros((hq + 1, wq + 1, n_ch, bits), np.int64)
            for qy in range(hq):
                iy = pa + qy * sh - ph
                if iy < 0 or iy >= h:
                    continue
                for qx in range(wq):
                    ix = pb + qx * sw - pw
                    if ix < 0 or ix >= w:
                        continue
                    for b in range(n_batch):
                        for c in range(n_ch):
                            v = x[b, iy, ix, c]
                            for i in range(bits):
                                s[qy + 1, qx + 1, c, i] += (v >> i) & 1
            for qy in range(1, hq + 1):          # prefix sums along x, then along y
                for qx in range(2, wq + 1):
                    for c in range(n_ch):
                        for i in range(bits):
                            s[qy, qx, c, i] += s[qy, qx - 1, c, i]
            for qy in range(2, hq + 1):
                for qx in range(1, wq + 1):
                    for c in range(n_ch):
                        for i in range(bits):
                            s[qy, qx, c, i] += s[qy - 1, qx, c, i]
            for dy in range(kh):
                a = dy * dh
                if a % sh != pa:
                    continue
                qa = a // sh
                for dx in range(kw_):
                    bb = dx * dw
                    if bb % sw != pb:
                        continue
                    qb = bb // sw
                    for c in range(n_ch):
                        for i in range(bits):
                            cs[i, dy, dx, c] = (s[qa + ho, qb + wo, c, i] - s[qa, qb + wo, c, i]
                                                - s[qa + ho, qb, c, i] + s[qa, qb, c, i])
    return cs


@njit(cache=True)
def _weight_column_sums(w_rows, bits):
    """csw[g, j, k] = ones of weight plane j at reduction index k, summed over a group's outputs."""
    n_groups, n_out, k = w_rows.shape
    csw = np.zeros((n_groups, bits, k), np.int64)
    for g in range(n_groups):
        for n in range(n_out):
            for j in range(bits):
                for t in range(k):
                    csw[g, j, t] += (w_rows[g, n, t] >> j) & 1
    return csw


def _activity(x_nhwc: np.ndarray, w_rows: np.ndarray, geom: tuple[int, ...], in_bits: int,
              w_bits: int, n_groups: int) -> Activity:
    """Exact activity of one conv run from column sums (see the module docstring)."""
    kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = geom
    n_batch, _, _, n_ch = x_nhwc.shape
    cg = n_ch // n_groups
    n_out_g, k = w_rows.shape[1], w_rows.shape[2]
    cs = _input_column_sums(x_nhwc, in_bits, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo)   # [Bi, kh, kw, C]
    csx = cs.reshape(in_bits, kh, kw, n_groups, cg).transpose(3, 0, 1, 2, 4).reshape(n_groups, in_bits, k)
    csw = _weight_column_sums(np.ascontiguousarray(w_rows), w_bits)                   # [G, Bw, K]
    and_ones = np.matmul(csx, csw.transpose(0, 2, 1)).sum(axis=0)                      # sum_g sum_k
    m = ho * wo
    return Activity(
        input_ones=cs.sum(axis=(1, 2, 3)), input_slots=n_batch * m * kh * kw * n_ch,
        and_ones=and_ones, and_slots=n_batch * m * k * n_out_g * n_groups,
        weight_ones=csw.sum(axis=(0, 2)), weight_slots=w_rows.size)


# ---------------------------------------------------------------------------------------- public API
def conv2d(x: np.ndarray, w: np.ndarray, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1, in_bits: int = 8, w_bits: int = 8,
           in_signed: bool = True, w_signed: bool = True) -> tuple[np.ndarray, Activity]:
    """Bit-serial grouped 2-D convolution, bit-exact.

    ``x``: (B, C_in, H, W) integers within ``in_bits`` (signed or unsigned); ``w``: (C_out,
    C_in/groups, kh, kw) integers within ``w_bits`` (two's complement unless ``w_signed=False``).
    Returns ``y`` (B, C_out, Ho, Wo) int64 and the run's :class:`Activity`.
    """
    in_bits = _check_bits(in_bits, "in_bits")
    w_bits = _check_bits(w_bits, "w_bits")
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise BitWidthError(None, "shape", (x.shape, w.shape), "x (B, C, H, W) and w (C_out, C_in/g, kh, kw)")
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    n_batch, n_ch, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    if int(groups) != groups or groups < 1 or n_ch % groups or c_out % groups or cg * groups != n_ch:
        raise BitWidthError(None, "groups", groups,
                            f"a divisor of C_in={n_ch} and C_out={c_out} with C_in/groups = {cg}")
    groups = int(groups)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1 or min(kh, kw, c_out) < 1:
        raise BitWidthError(None, "shape", (x.shape, w.shape), "a kernel that fits the padded input")
    xp = np.ascontiguousarray(_to_pattern(x, in_bits, in_signed, "x").transpose(0, 2, 3, 1))
    wp = _to_pattern(w, w_bits, w_signed, "w")
    n_out = c_out // groups
    k = kh * kw * cg
    n_words = -(-k // 64)
    w_rows = wp.reshape(groups, n_out, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, n_out, k)
    padded = np.zeros((groups, n_out, n_words * 64), np.uint8)
    padded[:, :, :k] = w_rows
    wq = _pack_weights(padded.view(np.uint64), w_bits)
    n_rows = n_batch * ho * wo
    rows_per_task = max(1, min(MAX_ROWS_PER_TASK, -(-n_rows // (16 * numba.get_num_threads()))))
    y = _bitserial_core(xp, wq, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, in_bits, bool(in_signed), w_bits,
                        bool(w_signed), rows_per_task)
    y = np.ascontiguousarray(y.reshape(n_batch, ho, wo, c_out).transpose(0, 3, 1, 2))
    act = _activity(xp, w_rows, (kh, kw, sh, sw, ph, pw, dh, dw, ho, wo), in_bits, w_bits, groups)
    return y, act


def linear(x: np.ndarray, w: np.ndarray, in_bits: int = 8, w_bits: int = 8, in_signed: bool = True,
           w_signed: bool = True) -> tuple[np.ndarray, Activity]:
    """Bit-serial ``y = x @ w.T``: ``x`` (..., D) (any leading batch/token axes), ``w`` (N, D).

    Every row of ``x`` is one input vector presented to the array; returns y (..., N) int64.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim < 1 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
        raise BitWidthError(None, "shape", (x.shape, w.shape), "x (..., D) and w (N, D)")
    lead = x.shape[:-1]
    x4 = x.reshape(-1, x.shape[-1], 1, 1)
    y, act = conv2d(x4, w[:, :, None, None], in_bits=in_bits, w_bits=w_bits, in_signed=in_signed,
                    w_signed=w_signed)
    return y.reshape(*lead, w.shape[0]), act


def warm_up() -> None:
    """Compile (or load from the cache) every Numba function, so timings exclude compilation."""
    x = np.zeros((1, 1, 1, 1), np.int8)
    conv2d(x, x, in_bits=8)
    conv2d(x, x, in_bits=2)


def matmul(a: np.ndarray, b: np.ndarray, in_bits: int = 8, w_bits: int = 8, in_signed: bool = True,
           w_signed: bool = True) -> tuple[np.ndarray, Activity]:
    """Bit-serial ``a @ b`` with ``a`` (M, K) streamed as inputs and ``b`` (K, N) stationary."""
    b = np.asarray(b)
    if b.ndim != 2:
        raise BitWidthError(None, "shape", b.shape, "b (K, N)")
    return linear(a, b.T, in_bits=in_bits, w_bits=w_bits, in_signed=in_signed, w_signed=w_signed)
