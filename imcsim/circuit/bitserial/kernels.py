"""The Numba loops of the bit-serial kernels: weight packing, the input pass, the activity counts and the
GEMM that calls the LLVM blocks of :mod:`imcsim.circuit.bitserial.codegen` (layout: the package
docstring). Compiled on first call, cached on disk (``cache=True``), the cache keyed on this file and on
``codegen.py`` (:mod:`imcsim.circuit.bitserial.cachekey`), so editing either recompiles them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit, prange

from imcsim.circuit.bitserial import codegen
from imcsim.circuit.bitserial.cachekey import key_on
from imcsim.circuit.bitserial.codegen import (
    bitplane,
    blk88_ss,
    blk88_su,
    blk88_us,
    blk88_uu,
    blk_narrow,
    blk_wide,
)

#: INT8 x INT8 rows of at most this many K words use the diagonal-accumulator block (its weight
#: stream per call, 512 bytes per word, then stays in L1); longer rows the per-plane block.
DIAG_MAX_WORDS = 40
_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.int32)  # _BITS[v, i] = bit i of v
#: _SPREAD[v] has bit i of v in byte i: adding it counts all eight bit-planes of a byte at once (SWAR)
_SPREAD = (_BITS.astype(np.uint64) << (np.uint64(8) * np.arange(8, dtype=np.uint64))).sum(axis=1).astype(np.uint64)


@njit(cache=True, parallel=True)
def pack_weight_words(wb, w_bits, n_pad):
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
                wq[g, kw, j * n_pad + n] = bitplane(flat, src, j)
    return wq


@njit(cache=True, parallel=True)
def weight_column_sums(wb, k):
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
def prep_input(x, n_words_px, n_slots, in_bits, kw_, sw, pw, dw, wo, rows_per_part):
    """One pass over the NCHW integer input, parallel over parts of ``rows_per_part`` input rows. Returns

    - ``xn[b, iy, ix, c]``: the uint8 bit patterns, NHWC;
    - ``xpk[(((b H + iy) W + ix) n_words_px + cw) n_slots + s]``: input slot s of the plane words of
      channels 64 cw .. 64 cw + 63 of a pixel (pixel path; ``n_words_px = 0``: not packed);
    - ``rs[part, dx, i, c]``: ones of bit i of channel c over the input columns that tap dx sees in the
      part's rows (``rows_per_part = 1``: ``rs[b H + iy]``, row iy of sample b; more only when H = 1, where
      every row is seen by the same taps, so the activity needs only their sum: a GEMM's (M, 1, 1) rows
      summed per part instead of an (M, 8, C) int32 array written and read back);
    - the smallest and largest value of each row (the range check).
    """
    n_batch, n_ch, h, w = x.shape
    n_rows = n_batch * h
    xn = np.empty((n_batch, h, w, n_ch), np.uint8)
    xflat = xn.reshape(-1)
    xpk = np.zeros(max(1, n_rows * w * n_words_px * n_slots), np.uint64)
    n_parts = (n_rows + rows_per_part - 1) // rows_per_part
    rs = np.zeros((n_parts, kw_, in_bits, n_ch), np.int32)
    lo = np.empty(n_rows, np.int64)
    hi = np.empty(n_rows, np.int64)
    # one input column, always inside the one tap's window: a row's counts are its bits, summed SWAR
    one_col = w == 1 and kw_ == 1 and pw == 0
    for part in prange(n_parts):
        tot = np.empty((sw, in_bits, n_ch), np.int32)
        acc = np.zeros(n_ch if one_col else 0, np.uint64)
        pending = 0
        r1 = min(n_rows, (part + 1) * rows_per_part)
        for row in range(part * rows_per_part, r1):
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
            if one_col:
                for c in range(n_ch):
                    acc[c] += _SPREAD[xn[b, iy, 0, c]]
                pending += 1
                if pending == 255 or row == r1 - 1:             # before a byte lane can overflow
                    for i in range(in_bits):
                        sh8 = np.uint64(8 * i)
                        for c in range(n_ch):
                            rs[part, 0, i, c] += np.int32((acc[c] >> sh8) & np.uint64(0xFF))
                    acc[:] = 0
                    pending = 0
            else:
                # rs[row, dx] = ones over the row's columns in the stride phase of tap dx (all of them, a
                # pass with the channels innermost) minus the few columns of that phase outside its window
                tot[:] = 0
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
                            rs[part, dx, i, c] += tot[p, i, c]
                    for ix in range(p, first, sw):
                        for i in range(in_bits):
                            for c in range(n_ch):
                                rs[part, dx, i, c] -= (xn[b, iy, ix, c] >> i) & 1
                    for ix in range(last + sw, w, sw):
                        for i in range(in_bits):
                            for c in range(n_ch):
                                rs[part, dx, i, c] -= (xn[b, iy, ix, c] >> i) & 1
            if n_words_px > 0:
                for ix in range(w):
                    pix = row * w + ix
                    for cw in range(n_words_px):
                        src = pix * n_ch + cw * 64
                        dst = (pix * n_words_px + cw) * n_slots
                        for s in range(in_bits - 1):
                            xpk[dst + s] = bitplane(xflat, src, s)
                        xpk[dst + n_slots - 1] = bitplane(xflat, src, in_bits - 1)
    return xn, xpk, rs, lo, hi


@njit(cache=True)
def activity_counts(rs, n_batch, h, kh, sh, ph, dh, ho, cg, csw, w_bits):
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
def gemm(xn, xpk, n_words_px, wq, y, wo, w_bits, w_signed, kh, kw_, sh, sw, ph, pw, dh, dw, in_bits,
          in_signed, rows_per_task, n_chunk, n_out):
    """y[(b Ho + oy) Wo + ox, g Ng + n] of a grouped conv (channels last, filled in place); Ng =
    y.shape[1] / groups is N when N is a multiple of the block width, else the padded Np (the caller
    drops the pad); see the module docstring. Only the blocks holding some of a group's ``n_out`` real
    outputs are computed (a depthwise layer's one output per group is one 8-lane block, not Np / 8);
    the pad lanes past them are left unwritten.

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
        nv = min(nc, y_group - n0, n_out - n0)          # lanes of this chunk that y holds and that are real
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
                        xrow[kk * n_slots + s] = bitplane(rowb, kk * 64, s)
                    xrow[kk * n_slots + n_slots - 1] = bitplane(rowb, kk * 64, in_bits - 1)
                    wo_[kk] = (g * n_words + kk) * lanes
                    xo_[kk] = kk * n_slots
                nk = n_words
            yo = r * y_cols + g * y_group + n0
            if int8 and nk <= DIAG_MAX_WORDS:
                for s0 in range(0, nv, 8):
                    if in_signed:
                        if w_signed:
                            blk88_ss(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                        else:
                            blk88_su(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                    elif w_signed:
                        blk88_us(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                    else:
                        blk88_uu(yflat, yo + s0, wflat, n0 + s0, n_pad, wo_, xsrc, xo_, nk)
                continue
            for s0 in range(0, nv, blk_lanes):
                if n_slots == 8:
                    blk_wide(yflat, yo + s0, wflat, n0 + s0, n_pad, w_bits, wo_, xsrc, xo_, nk, sl, neg, wneg)
                else:
                    blk_narrow(yflat, yo + s0, wflat, n0 + s0, n_pad, w_bits, wo_, xsrc, xo_, nk, sl, neg, wneg)


#: every kernel above, its cache keyed on codegen.py too (True: Numba's stamp could be extended)
KERNELS = (pack_weight_words, weight_column_sums, prep_input, activity_counts, gemm)
KEYED_ON_CODEGEN = key_on(KERNELS, Path(codegen.__file__))
