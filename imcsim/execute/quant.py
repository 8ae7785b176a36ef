"""Integer quantisation arithmetic: the one definition of every integer op an executed network uses.

Scheme (the usual integer-only inference scheme of Jacob et al. [JACOB-INT8], fixed here so that the
kernel path and the reference compute the same integers):

- **Activations** are unsigned 8-bit codes ``q`` in [0, 255] with a real value ``s * (q - zp)``: a
  scale ``s`` and a zero point ``zp`` per tensor (asymmetric). A tensor that is never negative (after
  ReLU) gets ``zp = 0``. The arrays are always driven with unsigned 8-bit inputs.
- **Weights** are signed, symmetric per output channel: ``w = s_w[c] * q_w`` with ``q_w`` in
  [-127, 127] (the -128 code is left out so that negation, used by the transposed backward pass,
  stays in range).
- **Bias** is int32-like at the accumulator's scale ``s_x * s_w[c]``.
- **Requantisation** of an integer ``acc`` to an output scale: the real multiplier
  ``M = s_x s_w / s_y`` is a fixed-point pair ``(m0, shift)`` with ``M ~ m0 / 2^shift`` and
  ``m0`` in [2^22, 2^23) (23-bit precision: ``acc * m0`` stays below 2^63 for ``|acc| < 2^40``, which
  :func:`requantize` checks); the product is rounded half up by adding ``2^(shift-1)`` and shifting
  right (arithmetic), then the output zero point is added and the result clamped.
- **ReLU / ReLU6** are integer clamps to ``[zp, 255]`` / ``[zp, zp + round(6 / s)]`` on the input's
  codes (same scale and zero point); every other elementwise activation (h-swish, h-sigmoid,
  sigmoid, GELU, swish) is a 256-entry lookup table built once from the scales (:func:`lookup_table`).
- **Residual add / concat / mul / average pool** rescale each input with its own fixed-point
  multiplier (:func:`rescale`), then add the output zero point and clamp.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ACT_MIN, ACT_MAX = 0, 255         # unsigned 8-bit activation codes
W_MAX = 127                       # symmetric signed weights in [-127, 127]
MULT_BITS = 23                    # m0 in [2^(MULT_BITS-1), 2^MULT_BITS)
ACC_LIMIT = 1 << 40               # |acc| below this keeps acc * m0 inside int64


@dataclass(frozen=True)
class QParams:
    """Scale and zero point of an unsigned 8-bit activation tensor: real = scale * (code - zero_point)."""

    scale: float
    zero_point: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        q = np.rint(np.asarray(x, np.float64) / self.scale) + self.zero_point
        return np.clip(q, ACT_MIN, ACT_MAX).astype(np.int64)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q, np.float64) - self.zero_point) * self.scale

    def to_dict(self) -> dict[str, float | int]:
        return {"scale": self.scale, "zero_point": self.zero_point}


def act_qparams(lo: float, hi: float) -> QParams:
    """Asymmetric uint8 parameters covering [lo, hi] (widened to include 0, so 0 is exact)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"activation range [{lo}, {hi}] is not finite")
    if hi - lo < 1e-12:
        hi = lo + 1e-6
    scale = (hi - lo) / (ACT_MAX - ACT_MIN)
    zp = int(np.clip(round(-lo / scale), ACT_MIN, ACT_MAX))
    return QParams(scale, zp)


def quantize_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel (axis 0) INT8 weights in [-127, 127] and their scales."""
    w = np.asarray(w, np.float64)
    amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / W_MAX, 1.0)
    q = np.clip(np.rint(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -W_MAX, W_MAX).astype(np.int64)
    return q, scale


def fixed_point(m: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real multipliers ``m >= 0`` as (m0, shift) int64 arrays with m ~ m0 / 2^shift, 1 <= shift <= 62."""
    m = np.atleast_1d(np.asarray(m, np.float64))
    if (m < 0).any() or not np.isfinite(m).all():
        raise ValueError(f"fixed-point multipliers must be finite and >= 0, got {m}")
    exp = np.floor(np.log2(np.where(m > 0, m, 1.0))).astype(np.int64)
    shift = np.clip(MULT_BITS - 1 - exp, 1, 62)
    m0 = np.rint(m * np.exp2(shift.astype(np.float64))).astype(np.int64)
    top = m0 >= (1 << MULT_BITS)
    m0 = np.where(top, m0 >> 1, m0)
    shift = np.where(top, shift - 1, shift)
    if (shift < 1).any() or (m0 >= (1 << MULT_BITS)).any():
        raise ValueError(f"multiplier too large for a {MULT_BITS}-bit fixed point: {m.max()}")
    return m0, shift


def rounding_shift(v: np.ndarray, m0: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """round(v * m0 / 2^shift), halves rounded up; v int64 with |v| < 2^40."""
    v = np.asarray(v, np.int64)
    if v.size and int(np.abs(v).max()) >= ACC_LIMIT:
        raise OverflowError(f"accumulator {int(np.abs(v).max())} exceeds 2^40: the requantisation would overflow")
    return (v * m0 + np.left_shift(np.int64(1), shift - 1)) >> shift


def requantize(acc: np.ndarray, m0: np.ndarray, shift: np.ndarray, zero_point: int, lo: int = ACT_MIN,
               hi: int = ACT_MAX) -> np.ndarray:
    """Accumulator -> output codes: rounded fixed-point product, plus the zero point, clamped to [lo, hi]."""
    return np.clip(rounding_shift(acc, m0, shift) + zero_point, lo, hi)


def rescale(q: np.ndarray, qin: QParams, qout: QParams) -> np.ndarray:
    """Codes of ``qin`` re-expressed at ``qout``'s scale, *without* the output zero point (for sums)."""
    m0, shift = fixed_point(qin.scale / qout.scale)
    return rounding_shift(np.asarray(q, np.int64) - qin.zero_point, m0[0], shift[0])


#: Real elementwise activations (as floats), for lookup tables and the fp32 reference.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "hswish": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hsigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "swish": lambda x: x / (1.0 + np.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3))),
}
CLAMP_ACTS = ("relu", "relu6")


def clamp_bounds(kind: str, q: QParams) -> tuple[int, int]:
    """The integer clamp of ReLU / ReLU6 on codes of scale/zero point ``q``."""
    if kind == "relu":
        return q.zero_point, ACT_MAX
    return q.zero_point, int(min(ACT_MAX, q.zero_point + round(6.0 / q.scale)))


def lookup_table(kind: str, qin: QParams, qout: QParams) -> np.ndarray:
    """256-entry integer table: input code -> output code of the activation ``kind``."""
    codes = np.arange(ACT_MIN, ACT_MAX + 1)
    return qout.quantize(ACTIVATIONS[kind](qin.dequantize(codes)))
