"""The public bit-serial kernels: :func:`conv2d`, :func:`linear`, :func:`matmul` (layout and identity: the
package docstring), and :func:`warm_up` / :func:`kernels_compiled` for the Numba compile step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from imcsim.circuit.activity import Activity
from imcsim.circuit.bitserial import kernels
from imcsim.circuit.bitserial.cachekey import cached
from imcsim.circuit.bitserial.checks import BitWidthError, check_bits, check_range, input_array, pair
from imcsim.circuit.bitserial.codegen import slots_for
from imcsim.circuit.bitserial.packing import PackedWeights, packed_for

#: At most this many im2col rows per parallel task; fewer when that leaves too few tasks to balance
#: the threads.
MAX_ROWS_PER_TASK = 64
#: Output channels per parallel task (at most): the weight words of one task's channels
#: (KW x Bw x 64 x 8 bytes, 295 KiB for K = 4608) stay in L2 while the task's rows stream past.
CHANNELS_PER_TASK = 64


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
    in_bits = check_bits(in_bits, "in_bits")
    if w_bits is not None:
        w_bits = check_bits(w_bits, "w_bits")
    x = np.asarray(x)
    w_shape = w.shape if isinstance(w, PackedWeights) else np.shape(w)
    if x.ndim != 4 or len(w_shape) != 4:
        raise BitWidthError(None, "shape", (x.shape, w_shape), "x (B, C, H, W) and w (C_out, C_in/g, kh, kw)")
    sh, sw = pair(stride, "stride", 1)
    ph, pw = pair(padding, "padding", 0)
    dh, dw = pair(dilation, "dilation", 1)
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
    x = input_array(x, in_bits, in_signed)
    pk = packed_for(w, groups, w_bits, w_signed)
    groups = pk.groups
    n_out = c_out // groups
    n_slots = slots_for(in_bits)[0]
    n_words_px = n_ch // 64 if cg % 64 == 0 else 0
    # H = 1 (a GEMM's rows): every row is seen by the same taps, so the activity needs only the rows' sum
    rows_per_part = -(-n_batch // (4 * numba.get_num_threads())) if h == 1 else 1
    xn, xpk, rs, lo, hi = kernels.prep_input(x, n_words_px, n_slots, in_bits, kw, sw, pw, dw, wo, rows_per_part)
    if lo.size:
        check_range(int(lo.min()), int(hi.max()), in_bits, in_signed, "x")
    n_chunk = min(pk.n_pad, CHANNELS_PER_TASK)
    per_block = groups * -(-pk.n_pad // n_chunk)
    n_rows = n_batch * ho * wo
    rows_per_task = max(1, min(MAX_ROWS_PER_TASK, -(-n_rows * per_block // (16 * numba.get_num_threads()))))
    direct = n_out % (8 * slots_for(in_bits)[1]) == 0          # no padded lanes to drop
    y = np.empty((n_rows, c_out if direct else groups * pk.n_pad), np.int64)
    kernels.gemm(xn, xpk, n_words_px, pk.wq, y, wo, pk.w_bits, pk.w_signed, kh, kw, sh, sw, ph, pw, dh, dw, in_bits,
          bool(in_signed), rows_per_task, n_chunk, n_out)
    if not direct:
        y = y.reshape(n_rows, groups, pk.n_pad)[:, :, :n_out].reshape(n_rows, c_out)
    y = y.reshape(n_batch, ho, wo, c_out).transpose(0, 3, 1, 2)   # NCHW view of channels-last memory
    input_ones, and_ones = kernels.activity_counts(rs, len(rs) // h, h, kh, sh, ph, dh, ho, cg, pk.csw, pk.w_bits)
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


def kernels_compiled() -> bool:
    """Whether Numba's on-disk cache holds the compiled kernels (``cache=True``); if not, the first call
    compiles them, which takes tens of seconds to minutes on a loaded machine."""
    return any(cached(k) for k in kernels.KERNELS)
