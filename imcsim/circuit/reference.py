"""Plain numpy integer reference for conv2d and linear: the ground truth the bit-serial kernels match.

Written independently of :mod:`imcsim.circuit.bitserial`: no bit-planes, NCHW layout, im2col with K
ordered (c, dy, dx) as PyTorch does, then a matrix product per group. The product is done in
float64 BLAS when that is provably exact (every term and every partial sum is an integer below
2^53: |x| |w| K < 2^53), otherwise in int64 numpy; either way the result is returned as int64.
It checks nothing about bit widths: it multiplies whatever integers it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_EXACT_FLOAT64 = 2**53


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def im2col(x: np.ndarray, kh: int, kw: int, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1) -> tuple[np.ndarray, int, int]:
    """(B, C, H, W) -> cols (B, Ho*Wo, C*kh*kw) with K ordered (c, dy, dx), plus Ho, Wo."""
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n, c, h, w = x.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
    for dy in range(kh):
        for dx in range(kw):
            y0, x0 = dy * dh, dx * dw
            cols[:, :, dy, dx] = xp[:, :, y0:y0 + sh * (ho - 1) + 1:sh, x0:x0 + sw * (wo - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, ho * wo).transpose(0, 2, 1), ho, wo


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b (int64 result), through float64 BLAS only when provably exact."""
    a64 = a.astype(np.int64)
    b64 = b.astype(np.int64)
    k = a.shape[-1]
    bound = int(np.abs(a64).max(initial=0)) * int(np.abs(b64).max(initial=0)) * max(k, 1)
    if bound < _EXACT_FLOAT64:
        return np.matmul(a64.astype(np.float64), b64.astype(np.float64)).astype(np.int64)
    return np.matmul(a64, b64)


def conv2d_ref(x: np.ndarray, w: np.ndarray, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
               dilation: int | Sequence[int] = 1, groups: int = 1) -> np.ndarray:
    """Integer grouped convolution: x (B, C_in, H, W), w (C_out, C_in/groups, kh, kw) -> int64."""
    x = np.asarray(x).astype(np.int64)
    w = np.asarray(w).astype(np.int64)
    n = x.shape[0]
    c_out, cg, kh, kw = w.shape
    n_out = c_out // groups
    outs = []
    for g in range(groups):
        cols, ho, wo = im2col(x[:, g * cg:(g + 1) * cg], kh, kw, stride, padding, dilation)
        wg = w[g * n_out:(g + 1) * n_out].reshape(n_out, cg * kh * kw)
        outs.append(int_matmul(cols, wg.T))                     # (B, Ho*Wo, n_out)
    y = np.concatenate(outs, axis=2)
    return y.transpose(0, 2, 1).reshape(n, c_out, ho, wo)


def linear_ref(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Integer ``x @ w.T``: x (..., D), w (N, D) -> int64 (..., N)."""
    return int_matmul(np.asarray(x), np.asarray(w).T)
