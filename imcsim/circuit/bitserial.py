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
  (:func:`_bitplane`). Inputs and weights use the same packing, so positions match.
- Weights (:class:`PackedWeights`, packed once and reused, like the weights resident in the array):
  ``wq[group, kw, j * Np + n]``, word kw of plane j of output channel n, with N padded to ``Np``
  (a multiple of 32) so a block of output channels never straddles two planes; plus the weights'
  per-K column sums for the activity counts.
- Inputs: one pass (:func:`_prep_input`, parallel over input rows) converts the NCHW integers to
  NHWC bit patterns, checks the range, computes the activity row sums and, when C/groups is a
  multiple of 64 ("pixel path"), packs every input pixel's channels into plane words once
  (``xpk[b, iy, ix, cw, slot]``). An im2col row is then just the list of the pixel words of its
  in-bounds taps (padding taps are skipped: they are zero). Otherwise ("row path", e.g. the RGB
  stem with C = 3) each task assembles and packs its im2col rows from the NHWC bytes.

The inner kernel (:func:`_make_block`, emitted as LLVM IR with ``<8 x i64>`` vectors) computes, for
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
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from imcsim.circuit.activity import Activity
from imcsim.errors import SpecError

#: At most this many im2col rows per parallel task; fewer when that leaves too few tasks to balance
#: the threads.
MAX_ROWS_PER_TASK = 64
#: Output channels per parallel task (at most): the weight words of one task's channels
#: (KW x Bw x 64 x 8 bytes, 295 KiB for K = 4608) stay in L2 while the task's rows stream past.
CHANNELS_PER_TASK = 64
#: INT8 x INT8 rows of at most this many K words use the diagonal-accumulator block (its weight
#: stream per call, 512 bytes per word, then stays in L1); longer rows the per-plane block.
DIAG_MAX_WORDS = 40
#: N is padded to a multiple of this so a lane block never straddles two weight planes.
LANE_ALIGN = 32

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.int32)  # _BITS[v, i] = bit i of v


class BitWidthError(SpecError, ValueError):
    """An operand does not fit its declared bit width, or shapes/widths are inconsistent."""


# ---------------------------------------------------------------------------------------- LLVM parts
def _splat(builder, value, vty):
    """Broadcast a scalar into every lane of vector type ``vty``."""
    undef = ir.Constant(vty, ir.Undefined)
    one = builder.insert_element(undef, value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count))


def _as_i64(context, builder, val, ty):
    return context.cast(builder, val, ty, types.int64)


@intrinsic
def _bitplane(typingctx, arr, off, bit):
    """Word whose bit p is bit ``bit`` of ``arr[off + p]`` (p < 64): one VPTESTMB on 64 bytes."""
    sig = types.uint64(arr, off, bit)

    def codegen(context, builder, signature, args):
        a = context.make_array(signature.args[0])(context, builder, args[0])
        off_ = _as_i64(context, builder, args[1], signature.args[1])
        bit_ = _as_i64(context, builder, args[2], signature.args[2])
        vty = ir.VectorType(ir.IntType(8), 64)
        ptr = builder.bitcast(builder.gep(a.data, [off_]), vty.as_pointer())
        v = builder.load(ptr, align=1)
        mask = builder.trunc(builder.shl(ir.Constant(_I64, 1), bit_), ir.IntType(8))
        hit = builder.icmp_unsigned("!=", builder.and_(v, _splat(builder, mask, vty)), ir.Constant(vty, [0] * 64))
        return builder.bitcast(hit, _I64)

    return sig, codegen


def _make_block(n_slots: int, n_vec: int):
    """Intrinsic ``blk(out, oo, w, wbase, jstride, w_bits, wo, x, xo, nk, sl, neg, wneg)``: 8 n_vec outputs.

    For the 8 n_vec output channels t after ``wbase`` (weight plane j, word k of channel t at
    ``w[wo[k] + wbase + j jstride + t]``; input slot s, word k at ``x[xo[k] + s]``) it stores

        out[oo + t] = sum_{j < w_bits} s_w(j) 2^j ( sum_{s < n_slots - 1} 2^s A_js[t]  +/-  2^sl A_j,top[t] )

    with A_js[t] = sum_{k < nk} popcount(x_s,k AND w_j,k,t), the top input slot negative when ``neg``
    and the top weight plane when ``wneg``. The k loop is innermost; the A_js of one j live in
    n_slots x n_vec vector registers and are folded into the running sum after each j.
    """
    vty = ir.VectorType(_I64, 8)

    @intrinsic
    def blk(typingctx, out, oo, w, wbase, jstride, w_bits, wo, x, xo, nk, sl, neg, wneg):
        sig = types.void(out, oo, w, wbase, jstride, w_bits, wo, x, xo, nk, sl, neg, wneg)

        def codegen(context, builder, signature, args):
            ta = signature.args
            a_out = context.make_array(ta[0])(context, builder, args[0])
            a_w = context.make_array(ta[2])(context, builder, args[2])
            a_wo = context.make_array(ta[6])(context, builder, args[6])
            a_x = context.make_array(ta[7])(context, builder, args[7])
            a_xo = context.make_array(ta[8])(context, builder, args[8])
            oo_, wbase_, jstride_, wbits_, nk_, sl_, neg_, wneg_ = (
                _as_i64(context, builder, args[i], ta[i]) for i in (1, 3, 4, 5, 9, 10, 11, 12))
            ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), "llvm.ctpop.v8i64")
            zero = ir.Constant(vty, [0] * 8)
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(n_slots)] for _ in range(n_vec)]
            tots = [cgutils.alloca_once_value(builder, zero) for _ in range(n_vec)]
            slv = _splat(builder, sl_, vty)
            negv = _splat(builder, builder.sub(ir.Constant(_I64, 0), neg_), vty)  # all ones when negative
            last_j = builder.sub(wbits_, ir.Constant(_I64, 1))
            for v in range(n_vec):
                builder.store(zero, tots[v])
            with cgutils.for_range(builder, wbits_) as jloop:
                j = jloop.index
                for v in range(n_vec):
                    for s in range(n_slots):
                        builder.store(zero, accs[v][s])
                wj = builder.add(wbase_, builder.mul(j, jstride_))
                with cgutils.for_range(builder, nk_) as loop:
                    k = loop.index
                    wp = builder.gep(a_w.data, [builder.add(builder.load(builder.gep(a_wo.data, [k])), wj)])
                    xo_k = builder.load(builder.gep(a_xo.data, [k]))
                    xs = [_splat(builder, builder.load(builder.gep(a_x.data, [builder.add(xo_k, ir.Constant(_I64, s))])),
                                 vty) for s in range(n_slots)]
                    for v in range(n_vec):
                        wv = builder.load(builder.bitcast(builder.gep(wp, [ir.Constant(_I64, 8 * v)]),
                                                          vty.as_pointer()), align=8)
                        for s in range(n_slots):
                            cnt = builder.call(ctpop, [builder.and_(wv, xs[s])])
                            builder.store(builder.add(builder.load(accs[v][s]), cnt), accs[v][s])
                # the weight sign: all ones for the top plane of signed weights
                wm = builder.sub(ir.Constant(_I64, 0), builder.and_(wneg_, builder.zext(
                    builder.icmp_signed("==", j, last_j), _I64)))
                wmv = _splat(builder, wm, vty)
                jv = _splat(builder, j, vty)
                for v in range(n_vec):
                    val = zero
                    for s in range(n_slots - 1):
                        val = builder.add(val, builder.shl(builder.load(accs[v][s]), ir.Constant(vty, [s] * 8)))
                    top = builder.shl(builder.load(accs[v][n_slots - 1]), slv)
                    val = builder.add(val, builder.sub(builder.xor(top, negv), negv))   # (top ^ m) - m = -top
                    val = builder.sub(builder.xor(builder.shl(val, jv), wmv), wmv)
                    builder.store(builder.add(builder.load(tots[v]), val), tots[v])
            for v in range(n_vec):
                dst = builder.gep(a_out.data, [builder.add(oo_, ir.Constant(_I64, 8 * v))])
                builder.store(builder.load(tots[v]), builder.bitcast(dst, vty.as_pointer()), align=8)
            return context.get_dummy_value()

        return sig, codegen

    return blk


def _make_block88(x_neg: bool, w_neg: bool):
    """Intrinsic ``blk(out, oo, w, wbase, jstride, wo, x, xo, nk)``: :func:`_make_block` for 8-bit
    inputs and 8-bit weights, signs fixed at compile time, 8 output channels.

    Every popcount of (input plane s, weight plane j) goes straight into the accumulator of its
    diagonal d = s + j (subtracted when exactly one of the two is a sign plane), 15 registers; the
    only per-output work left is ``sum_d 2^d D_d``.
    """
    vty = ir.VectorType(_I64, 8)

    @intrinsic
    def blk(typingctx, out, oo, w, wbase, jstride, wo, x, xo, nk):
        sig = types.void(out, oo, w, wbase, jstride, wo, x, xo, nk)

        def codegen(context, builder, signature, args):
            ta = signature.args
            a_out = context.make_array(ta[0])(context, builder, args[0])
            a_w = context.make_array(ta[2])(context, builder, args[2])
            a_wo = context.make_array(ta[5])(context, builder, args[5])
            a_x = context.make_array(ta[6])(context, builder, args[6])
            a_xo = context.make_array(ta[7])(context, builder, args[7])
            oo_, wbase_, jstride_, nk_ = (_as_i64(context, builder, args[i], ta[i]) for i in (1, 3, 4, 8))
            ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), "llvm.ctpop.v8i64")
            zero = ir.Constant(vty, [0] * 8)
            diag = [cgutils.alloca_once_value(builder, zero) for _ in range(15)]
            joff = [builder.mul(jstride_, ir.Constant(_I64, j)) for j in range(8)]
            with cgutils.for_range(builder, nk_) as loop:
                k = loop.index
                wp = builder.gep(a_w.data, [builder.add(builder.load(builder.gep(a_wo.data, [k])), wbase_)])
                xo_k = builder.load(builder.gep(a_xo.data, [k]))
                xs = [_splat(builder, builder.load(builder.gep(a_x.data, [builder.add(xo_k, ir.Constant(_I64, i))])),
                             vty) for i in range(8)]
                for j in range(8):
                    wv = builder.load(builder.bitcast(builder.gep(wp, [joff[j]]), vty.as_pointer()), align=8)
                    for i in range(8):
                        cnt = builder.call(ctpop, [builder.and_(wv, xs[i])])
                        d = diag[i + j]
                        if (x_neg and i == 7) != (w_neg and j == 7):
                            builder.store(builder.sub(builder.load(d), cnt), d)
                        else:
                            builder.store(builder.add(builder.load(d), cnt), d)
            tot = builder.load(diag[0])
            for dd in range(1, 15):
                tot = builder.add(tot, builder.shl(builder.load(diag[dd]), ir.Constant(vty, [dd] * 8)))
            builder.store(tot, builder.bitcast(builder.gep(a_out.data, [oo_]), vty.as_pointer()), align=8)
            return context.get_dummy_value()

        return sig, codegen

    return blk


_blk88_ss = _make_block88(True, True)
_blk88_us = _make_block88(False, True)
_blk88_su = _make_block88(True, False)
_blk88_uu = _make_block88(False, False)


#: (input slots, 8-lane vectors per block): 8-bit inputs use 8 slots x 2 vectors (16 accumulators),
#: inputs of at most 4 bits 4 slots x 4 vectors. Unused slots hold zero words; the top plane always
#: sits in the last slot.
_WIDE = (8, 2)
_NARROW = (4, 4)
_blk_wide = _make_block(*_WIDE)
_blk_narrow = _make_block(*_NARROW)


def _slots_for(in_bits: int) -> tuple[int, int]:
    return _WIDE if in_bits > 4 else _NARROW


# ---------------------------------------------------------------------------------------- numba parts
@njit(cache=True, parallel=True)
def _pack_weight_words(wb, w_bits, n_pad):
    """wb[g, n, KW * 64] zero-padded uint8 patterns -> wq[g, kw, j * n_pad + n] (lanes n >= N stay zero)."""
    n_groups, n_out, n_bytes = wb.shape
    n_words = n_bytes // 64
    flat = wb.reshape(-1)
    wq = np.zeros((n_groups, n_words, w_bits * n_pad), np.uint64)
    for gk in prange(n_groups * n_words):
        g = gk // n_words
        kw = gk - g * n_words
        for n in range(n_out):
            src = (g * n_out + n) * n_bytes + kw * 64
            for j in range(w_bits):
                wq[g, kw, j * n_pad + n] = _bitplane(flat, src, j)
    return wq


@njit(cache=True, parallel=True)
def _weight_column_sums(wb, k):
    """csw[g, t, j] = ones of bit j of the weight patterns at reduction index t < k, over a group's outputs."""
    n_groups, n_out, _ = wb.shape
    csw = np.zeros((n_groups, k, 8), np.int64)
    n_parts = min(k, 16)
    for task in prange(n_groups * n_parts):
        g = task // n_parts
        part = task - g * n_parts
        t0 = part * k // n_parts
        t1 = (part + 1) * k // n_parts
        for n in range(n_out):
            for t in range(t0, t1):
                v = wb[g, n, t]
                for j in range(8):
                    csw[g, t, j] += _BITS[v, j]
    return csw


@njit(cache=True, parallel=True)
def _prep_input(x, n_words_px, n_slots, in_bits, kw_, sw, pw, dw, wo):
    """One pass over the NCHW integer input, parallel over input rows. Returns

    - ``xn[b, iy, ix, c]``: the uint8 bit patterns, NHWC;
    - ``xpk[(((b H + iy) W + ix) n_words_px + cw) n_slots + s]``: input slot s of the plane words of
      channels 64 cw .. 64 cw + 63 of a pixel (pixel path; ``n_words_px = 0``: not packed);
    - ``rs[b H + iy, dx, i, c]``: ones of bit i of channel c over the input columns that tap dx sees
      in row iy;
    - the smallest and largest value of each row (the range check).
    """
    n_batch, n_ch, h, w = x.shape
    n_rows = n_batch * h
    xn = np.empty((n_batch, h, w, n_ch), np.uint8)
    xflat = xn.reshape(-1)
    xpk = np.zeros(max(1, n_rows * w * n_words_px * n_slots), np.uint64)
    rs = np.zeros((n_rows, kw_, in_bits, n_ch), np.int32)
    lo = np.empty(n_rows, np.int64)
    hi = np.empty(n_rows, np.int64)
    for row in prange(n_rows):
        b = row // h
        iy = row - b * h
        mn = np.int64(0x7FFFFFFFFFFFFFFF)
        mx = -mn - 1
        for c in range(n_ch):
            for ix in range(w):
                v = np.int64(x[b, c, iy, ix])
                mn = min(mn, v)
                mx = max(mx, v)
                xn[b, iy, ix, c] = np.uint8(v & 0xFF)
        lo[row] = mn
        hi[row] = mx
        # rs[row, dx] = ones over the row's columns in the stride phase of tap dx (all of them, a
        # pass with the channels innermost) minus the few columns of that phase outside its window
        tot = np.zeros((sw, in_bits, n_ch), np.int32)
        for ix in range(w):
            p = ix % sw
            for i in range(in_bits):
                for c in range(n_ch):
                    tot[p, i, c] += (xn[b, iy, ix, c] >> i) & 1
        for dx in range(kw_):
            off = dx * dw - pw                                  # tap dx of output ox reads ix = ox sw + off
            ox_lo = max(0, (sw - 1 - off) // sw)
            ox_hi = min(wo - 1, (w - 1 - off) // sw)
            if ox_lo > ox_hi:
                continue
            first = ox_lo * sw + off
            last = ox_hi * sw + off
            p = first % sw
            for i in range(in_bits):
                for c in range(n_ch):
                    rs[row, dx, i, c] = tot[p, i, c]
            for ix in range(p, first, sw):
                for i in range(in_bits):
                    for c in range(n_ch):
                        rs[row, dx, i, c] -= (xn[b, iy, ix, c] >> i) & 1
            for ix in range(last + sw, w, sw):
                for i in range(in_bits):
                    for c in range(n_ch):
                        rs[row, dx, i, c] -= (xn[b, iy, ix, c] >> i) & 1
        if n_words_px > 0:
            for ix in range(w):
                pix = row * w + ix
                for cw in range(n_words_px):
                    src = pix * n_ch + cw * 64
                    dst = (pix * n_words_px + cw) * n_slots
                    for s in range(in_bits - 1):
                        xpk[dst + s] = _bitplane(xflat, src, s)
                    xpk[dst + n_slots - 1] = _bitplane(xflat, src, in_bits - 1)
    return xn, xpk, rs, lo, hi


@njit(cache=True)
def _activity_counts(rs, n_batch, h, kh, sh, ph, dh, ho, cg, csw, w_bits):
    """Input ones per plane and AND ones per plane pair from the row sums and the weight column sums."""
    _, kw_, in_bits, n_ch = rs.shape
    n_groups = n_ch // cg
    cs = np.zeros((kh, kw_, in_bits, n_ch), np.int64)       # cs[dy, dx, i, c]: the input column sums
    for b in range(n_batch):
        for dy in range(kh):
            for oy in range(ho):
                iy = oy * sh - ph + dy * dh
                if 0 <= iy < h:
                    r = b * h + iy
                    for dx in range(kw_):
                        for i in range(in_bits):
                            for c in range(n_ch):
                                cs[dy, dx, i, c] += rs[r, dx, i, c]
    input_ones = np.zeros(in_bits, np.int64)
    and_ones = np.zeros((in_bits, w_bits), np.int64)
    for g in range(n_groups):
        for dy in range(kh):
            for dx in range(kw_):
                for c in range(cg):
                    k = (dy * kw_ + dx) * cg + c
                    for i in range(in_bits):
                        xi = cs[dy, dx, i, g * cg + c]
                        input_ones[i] += xi
                        for j in range(w_bits):
                            and_ones[i, j] += xi * csw[g, k, j]
    return input_ones, and_ones


@njit(cache=True, parallel=True)
def _gemm(xn, xpk, n_words_px, wq, y, wo, w_bits, w_signed, kh, kw_, sh, sw, ph, pw, dh, dw, in_bits,
          in_signed, rows_per_task, n_chunk):
    """y[(b Ho + oy) Wo + ox, g Ng + n] of a grouped conv (channels last, filled in place); Ng =
    y.shape[1] / groups is N when N is a multiple of the block width, else the padded Np (the caller
    drops the pad); see the module docstring.

    Tasks are (group, block of output pixels, block of n_chunk output channels). Pixel path
    (``n_words_px > 0``): an im2col row is the list of pixel words of its in-bounds taps. Row path:
    each row is assembled from the NHWC bytes ``xn`` and packed into a per-task buffer.
    """
    n_batch, h, w, n_ch = xn.shape
    n_groups, n_words, lanes = wq.shape
    n_pad = lanes // w_bits
    n_rows, y_cols = y.shape
    y_group = y_cols // n_groups
    cg = n_ch // n_groups
    cwg = cg // 64
    pix = n_words_px > 0
    n_slots = 8 if in_bits > 4 else 4
    blk_lanes = 16 if in_bits > 4 else 32
    m_per = n_rows // n_batch
    n_blocks = (n_rows + rows_per_task - 1) // rows_per_task
    n_chunks = (n_pad + n_chunk - 1) // n_chunk
    sl = np.int64(in_bits - 1)
    neg = np.int64(in_signed)
    wneg = np.int64(w_signed)
    wflat = wq.reshape(-1)
    xflat = xn.reshape(-1)
    yflat = y.reshape(-1)
    contiguous = n_groups == 1 and dw == 1
    int8 = in_bits == 8 and w_bits == 8
    for task in prange(n_groups * n_blocks * n_chunks):
        chunk = task % n_chunks
        rest = task // n_chunks
        blk = rest % n_blocks
        g = rest // n_blocks
        n0 = chunk * n_chunk
        nc = min(n_chunk, n_pad - n0)
        nv = min(nc, y_group - n0)                      # lanes of this chunk that y holds
        r0 = blk * rows_per_task
        r1 = min(n_rows, r0 + rows_per_task)
        wo_ = np.empty(n_words, np.int64)
        xo_ = np.empty(n_words, np.int64)
        rowb = np.zeros(n_words * 64, np.uint8)           # row path: tail beyond K stays zero
        xrow = np.zeros(n_words * n_slots, np.uint64)     # row path: unused slots stay zero
        xsrc = xpk if pix else xrow
        for r in range(r0, r1):
            b = r // m_per
            m = r - b * m_per
            oy = m // wo
            ox = m - oy * wo
            nk = 0
            if pix:
                for dy in range(kh):
                    iy = oy * sh - ph + dy * dh
                    if iy < 0 or iy >= h:
                        continue
                    for dx in range(kw_):
                        ix = ox * sw - pw + dx * dw
                        if ix < 0 or ix >= w:
                            continue
                        wk = (g * n_words + (dy * kw_ + dx) * cwg) * lanes
                        xk = (((b * h + iy) * w + ix) * n_words_px + g * cwg) * n_slots
                        for cw in range(cwg):
                            wo_[nk] = wk + cw * lanes
                            xo_[nk] = xk + cw * n_slots
                            nk += 1
            else:
                pos = 0
                ix0 = ox * sw - pw
                for dy in range(kh):
                    iy = oy * sh - ph + dy * dh
                    if iy < 0 or iy >= h:
                        for t in range(pos, pos + kw_ * cg):
                            rowb[t] = 0
                        pos += kw_ * cg
                    elif contiguous:        # the kw taps of row iy are one run of NHWC bytes
                        lo_ = min(kw_, max(0, -ix0))             # taps [lo_, hi_) are inside the row
                        hi_ = max(lo_, min(kw_, w - ix0))
                        for t in range(pos, pos + lo_ * cg):
                            rowb[t] = 0
                        src = ((b * h + iy) * w + ix0) * n_ch
                        for t in range(lo_ * cg, hi_ * cg):
                            rowb[pos + t] = xflat[src + t]
                        for t in range(pos + hi_ * cg, pos + kw_ * cg):
                            rowb[t] = 0
                        pos += kw_ * cg
                    else:
                        for dx in range(kw_):
                            ix = ix0 + dx * dw
                            if 0 <= ix < w:
                                for c in range(cg):
                                    rowb[pos + c] = xn[b, iy, ix, g * cg + c]
                            else:
                                for c in range(cg):
                                    rowb[pos + c] = 0
                            pos += cg
                for kk in range(n_words):
                    for s in range(in_bits - 1):
                        xrow[kk * n_slots + s] = _bitplane(rowb, kk * 64, s)
                    xrow[kk * n_slots + n_slots - 1] = _bitplane(rowb, kk * 64, in_bits - 1)
                    wo_[kk] = (g * n_words + kk) * lanes
                    xo_[kk] = kk * n_slots
                nk = n_words
            yo = r * y_cols + g * y_group + n0
            if int8 and nk <= DIAG_MAX_WORDS:
                for s0 in range(0, nv, 8):
                    if in_signed:
                        if w_signed:
                            _blk88_ss(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                        else:
                            _blk88_su(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                    elif w_signed:
                        _blk88_us(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                    else:
                        _blk88_uu(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                continue
            for s0 in range(0, nv, blk_lanes):
                if n_slots == 8:
                    _blk_wide(yflat, yo + s0, wflat, n0 + s0, n_pad, w_bits, wo_, xsrc, xo_, nk, sl, neg, wneg)
                else:
                    _blk_narrow(yflat, yo + s0, wflat, n0 + s0, n_pad, w_bits, wo_, xsrc, xo_, nk, sl, neg, wneg)


# ---------------------------------------------------------------------------------------- validation
def value_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest value of a ``bits``-wide operand (two's complement when signed)."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _check_bits(bits: int, field: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise BitWidthError(None, field, bits, "an integer from 1 to 8", problem="bad bit width")
    return int(bits)


def _check_range(amin: int, amax: int, bits: int, signed: bool, field: str) -> None:
    lo, hi = value_range(bits, signed)
    if amin < lo or amax > hi:
        bad = amin if amin < lo else amax
        kind = "signed" if signed else "unsigned"
        raise BitWidthError(None, field, bad, f"{kind} {bits}-bit values in [{lo}, {hi}]",
                            problem="value outside the declared bit width:")


def _check_dtype(a: np.ndarray, field: str) -> None:
    if a.dtype.kind not in "iub":
        raise BitWidthError(None, field, str(a.dtype), "an integer array", problem="bad dtype")


def _to_pattern(a: np.ndarray, bits: int, signed: bool, field: str) -> np.ndarray:
    """Check ``a`` fits ``bits`` (signed or not) and return its two's complement bit pattern as uint8."""
    a = np.asarray(a)
    _check_dtype(a, field)
    if a.size:
        _check_range(int(a.min()), int(a.max()), bits, signed, field)
    return (a.astype(np.int16) & 0xFF).astype(np.uint8)


def _input_array(x: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """``x`` as a C-contiguous signed or narrow unsigned integer array for :func:`_prep_input`.

    The range check itself happens in that pass; only uint64 (whose large values would wrap to
    negative int64 there) and bool are checked or converted here.
    """
    _check_dtype(x, "x")
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    elif x.dtype == np.uint64:
        if x.size:
            _check_range(0, int(x.max()), bits, signed, "x")
        x = x.astype(np.int64)
    return np.ascontiguousarray(x)


def _pair(v: int | Sequence[int], field: str, minimum: int) -> tuple[int, int]:
    p = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(p) != 2 or any(int(e) != e or e < minimum for e in p):
        raise BitWidthError(None, field, v, f"an integer or pair of integers >= {minimum}")
    return int(p[0]), int(p[1])


# ---------------------------------------------------------------------------------------- weights
class PackedWeights:
    """Conv weights bit-plane packed once for :func:`conv2d` and reused across calls.

    In the macro the weights are written into the array once and stay there while inputs stream
    past; this is that state. ``w`` is (C_out, C_in/groups, kh, kw) integers within ``w_bits``
    (two's complement unless ``w_signed=False``); a linear layer's (N, D) weights are
    ``w[:, :, None, None]``. Passing a ``PackedWeights`` to :func:`conv2d` (or :func:`linear`) gives
    the same outputs and activity as passing the raw weights, without re-packing.

    Attributes: ``shape`` (of ``w``), ``groups``, ``w_bits``, ``w_signed``, ``in_channels``,
    ``out_channels``; ``wq`` the packed words [groups, KW, w_bits x Np], ``csw`` the weight column
    sums [groups, K, 8] (activity), ``weight_ones`` / ``weight_slots``.
    """

    def __init__(self, w: np.ndarray, groups: int = 1, w_bits: int = 8, w_signed: bool = True) -> None:
        w_bits = _check_bits(w_bits, "w_bits")
        w = np.asarray(w)
        if w.ndim != 4 or min(w.shape) < 1:
            raise BitWidthError(None, "shape", w.shape, "w (C_out, C_in/groups, kh, kw), none of them 0")
        c_out, cg, kh, kw = w.shape
        if isinstance(groups, bool) or int(groups) != groups or groups < 1 or c_out % groups:
            raise BitWidthError(None, "groups", groups, f"a divisor of C_out={c_out}")
        groups = int(groups)
        wp = _to_pattern(w, w_bits, w_signed, "w")
        n_out = c_out // groups
        k = kh * kw * cg
        n_words = -(-k // 64)
        padded = np.zeros((groups, n_out, n_words * 64), np.uint8)
        padded[:, :, :k] = wp.reshape(groups, n_out, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, n_out, k)
        self.shape: tuple[int, int, int, int] = (c_out, cg, kh, kw)
        self.groups = groups
        self.w_bits = w_bits
        self.w_signed = bool(w_signed)
        self.n_pad = -(-n_out // LANE_ALIGN) * LANE_ALIGN
        self.wq = _pack_weight_words(padded, w_bits, self.n_pad)
        self.csw = _weight_column_sums(padded, k)
        self.weight_ones = self.csw[:, :, :w_bits].sum(axis=(0, 1))
        self.weight_slots = int(w.size)

    @property
    def in_channels(self) -> int:
        return self.shape[1] * self.groups

    @property
    def out_channels(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        sign = "signed" if self.w_signed else "unsigned"
        return f"PackedWeights(shape={self.shape}, groups={self.groups}, {sign} {self.w_bits}-bit)"


def pack_weights(w: np.ndarray, groups: int = 1, w_bits: int = 8, w_signed: bool = True) -> PackedWeights:
    """Pack conv weights (C_out, C_in/groups, kh, kw) once for reuse: ``PackedWeights(w, ...)``."""
    return PackedWeights(w, groups, w_bits, w_signed)


def _packed_for(w, groups, w_bits, w_signed) -> PackedWeights:
    """``w`` if it is a PackedWeights agreeing with the given options (None = its own), else pack it."""
    if isinstance(w, PackedWeights):
        for name, given, have in (("groups", groups, w.groups), ("w_bits", w_bits, w.w_bits),
                                  ("w_signed", w_signed, w.w_signed)):
            if given is not None and given != have:
                raise BitWidthError(None, name, given, f"{have!r} (the value the weights were packed with) or None",
                                    problem="disagrees with the packed weights:")
        return w
    return PackedWeights(w, 1 if groups is None else groups, 8 if w_bits is None else w_bits,
                         True if w_signed is None else w_signed)


# ---------------------------------------------------------------------------------------- public API
def conv2d(x: np.ndarray, w: np.ndarray | PackedWeights, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, groups: int | None = None,
           in_bits: int = 8, w_bits: int | None = None, in_signed: bool = True,
           w_signed: bool | None = None) -> tuple[np.ndarray, Activity]:
    """Bit-serial grouped 2-D convolution, bit-exact.

    ``x``: (B, C_in, H, W) integers within ``in_bits`` (signed or unsigned); ``w``: (C_out,
    C_in/groups, kh, kw) integers within ``w_bits`` (two's complement unless ``w_signed=False``), or a
    :class:`PackedWeights` (then ``groups``, ``w_bits``, ``w_signed`` default to, and must agree with,
    the packed ones). Unpacked weights default to ``groups=1``, ``w_bits=8``, signed. Returns ``y``
    (B, C_out, Ho, Wo) int64 (a view of channels-last memory; ``np.ascontiguousarray`` gives NCHW
    memory) and the run's :class:`Activity`.
    """
    in_bits = _check_bits(in_bits, "in_bits")
    if w_bits is not None:
        w_bits = _check_bits(w_bits, "w_bits")
    x = np.asarray(x)
    w_shape = w.shape if isinstance(w, PackedWeights) else np.shape(w)
    if x.ndim != 4 or len(w_shape) != 4:
        raise BitWidthError(None, "shape", (x.shape, w_shape), "x (B, C, H, W) and w (C_out, C_in/g, kh, kw)")
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    n_batch, n_ch, h, wd = x.shape
    c_out, cg, kh, kw = w_shape
    if isinstance(w, PackedWeights):
        if n_ch != w.in_channels:
            raise BitWidthError(None, "shape", (x.shape, w.shape),
                                f"x with C_in = {w.in_channels} channels for {w!r}",
                                problem="input channels do not match the packed weights:")
    else:
        g = 1 if groups is None else groups
        if isinstance(g, bool) or int(g) != g or g < 1 or n_ch % g or c_out % g or cg * g != n_ch:
            raise BitWidthError(None, "groups", g, f"a divisor of C_in={n_ch} and C_out={c_out} with C_in/groups = {cg}")
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1 or min(kh, kw, c_out) < 1:
        raise BitWidthError(None, "shape", (x.shape, w_shape), "a kernel that fits the padded input")
    x = _input_array(x, in_bits, in_signed)
    pk = _packed_for(w, groups, w_bits, w_signed)
    groups = pk.groups
    n_out = c_out // groups
    n_slots = _slots_for(in_bits)[0]
    n_words_px = n_ch // 64 if cg % 64 == 0 else 0
    xn, xpk, rs, lo, hi = _prep_input(x, n_words_px, n_slots, in_bits, kw, sw, pw, dw, wo)
    if lo.size:
        _check_range(int(lo.min()), int(hi.max()), in_bits, in_signed, "x")
    n_chunk = min(pk.n_pad, CHANNELS_PER_TASK)
    per_block = groups * -(-pk.n_pad // n_chunk)
    n_rows = n_batch * ho * wo
    rows_per_task = max(1, min(MAX_ROWS_PER_TASK, -(-n_rows * per_block // (16 * numba.get_num_threads()))))
    direct = n_out % (8 * _slots_for(in_bits)[1]) == 0          # no padded lanes to drop
    y = np.empty((n_rows, c_out if direct else groups * pk.n_pad), np.int64)
    _gemm(xn, xpk, n_words_px, pk.wq, y, wo, pk.w_bits, pk.w_signed, kh, kw, sh, sw, ph, pw, dh, dw, in_bits,
          bool(in_signed), rows_per_task, n_chunk)
    if not direct:
        y = y.reshape(n_rows, groups, pk.n_pad)[:, :, :n_out].reshape(n_rows, c_out)
    y = y.reshape(n_batch, ho, wo, c_out).transpose(0, 3, 1, 2)   # NCHW view of channels-last memory
    input_ones, and_ones = _activity_counts(rs, n_batch, h, kh, sh, ph, dh, ho, cg, pk.csw, pk.w_bits)
    m = ho * wo
    act = Activity(input_ones=input_ones, input_slots=n_batch * m * kh * kw * n_ch, and_ones=and_ones,
                   and_slots=n_batch * m * kh * kw * cg * c_out, weight_ones=pk.weight_ones.copy(),
                   weight_slots=pk.weight_slots)
    return y, act


def linear(x: np.ndarray, w: np.ndarray | PackedWeights, in_bits: int = 8, w_bits: int | None = None,
           in_signed: bool = True, w_signed: bool | None = None) -> tuple[np.ndarray, Activity]:
    """Bit-serial ``y = x @ w.T``: ``x`` (..., D) (any leading batch/token axes), ``w`` (N, D).

    ``w`` may also be a :class:`PackedWeights` of ``w[:, :, None, None]``. Every row of ``x`` is one
    input vector presented to the array; returns y (..., N) int64.
    """
    x = np.asarray(x)
    if isinstance(w, PackedWeights):
        n, d = w.out_channels, w.in_channels
        ok = w.shape[2:] == (1, 1) and w.groups == 1
    else:
        w = np.asarray(w)
        ok = w.ndim == 2
        n, d = w.shape if ok else (0, 0)
        w = w[:, :, None, None] if ok else w
    if x.ndim < 1 or not ok or x.shape[-1] != d:
        raise BitWidthError(None, "shape", (x.shape, w.shape), "x (..., D) and w (N, D)")
    lead = x.shape[:-1]
    x4 = x.reshape(-1, d, 1, 1)
    y, act = conv2d(x4, w, in_bits=in_bits, w_bits=w_bits, in_signed=in_signed, w_signed=w_signed)
    return y.reshape(*lead, n), act


def warm_up() -> None:
    """Compile (or load from the cache) every Numba function, so timings exclude compilation."""
    for dtype in (np.int8, np.int16, np.int64):
        conv2d(np.zeros((1, 64, 1, 1), dtype), np.zeros((1, 64, 1, 1), dtype), in_bits=8)   # pixel path
        conv2d(np.zeros((1, 1, 1, 1), dtype), np.zeros((1, 1, 1, 1), dtype), in_bits=2)     # row path


def matmul(a: np.ndarray, b: np.ndarray, in_bits: int = 8, w_bits: int = 8, in_signed: bool = True,
           w_signed: bool = True) -> tuple[np.ndarray, Activity]:
    """Bit-serial ``a @ b`` with ``a`` (M, K) streamed as inputs and ``b`` (K, N) stationary."""
    b = np.asarray(b)
    if b.ndim != 2:
        raise BitWidthError(None, "shape", b.shape, "b (K, N)")
    return linear(a, b.T, in_bits=in_bits, w_bits=w_bits, in_signed=in_signed, w_signed=w_signed)
