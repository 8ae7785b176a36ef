"""Argument checks of the bit-serial kernels: bit widths, value ranges, dtypes, stride/padding pairs.

Values outside the declared bit width raise :class:`BitWidthError` (a ``SpecError`` and a
``ValueError``), never wrap silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imcsim.errors import SpecError


class BitWidthError(SpecError, ValueError):
    """An operand does not fit its declared bit width, or shapes/widths are inconsistent."""


def value_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest value of a ``bits``-wide operand (two's complement when signed)."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def check_bits(bits: int, field: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise BitWidthError(None, field, bits, "an integer from 1 to 8", problem="bad bit width")
    return int(bits)


def check_range(amin: int, amax: int, bits: int, signed: bool, field: str) -> None:
    lo, hi = value_range(bits, signed)
    if amin < lo or amax > hi:
        bad = amin if amin < lo else amax
        kind = "signed" if signed else "unsigned"
        raise BitWidthError(None, field, bad, f"{kind} {bits}-bit values in [{lo}, {hi}]",
                            problem="value outside the declared bit width:")


def check_dtype(a: np.ndarray, field: str) -> None:
    if a.dtype.kind not in "iub":
        raise BitWidthError(None, field, str(a.dtype), "an integer array", problem="bad dtype")


def to_pattern(a: np.ndarray, bits: int, signed: bool, field: str) -> np.ndarray:
    """Check ``a`` fits ``bits`` (signed or not) and return its two's complement bit pattern as uint8."""
    a = np.asarray(a)
    check_dtype(a, field)
    if a.size:
        check_range(int(a.min()), int(a.max()), bits, signed, field)
    return (a.astype(np.int16) & 0xFF).astype(np.uint8)


def input_array(x: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """``x`` as a C-contiguous signed or narrow unsigned integer array for :func:`prep_input`.

    The range check itself happens in that pass; only uint64 (whose large values would wrap to
    negative int64 there) and bool are checked or converted here.
    """
    check_dtype(x, "x")
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    elif x.dtype == np.uint64:
        if x.size:
            check_range(0, int(x.max()), bits, signed, "x")
        x = x.astype(np.int64)
    return np.ascontiguousarray(x)


def pair(v: int | Sequence[int], field: str, minimum: int) -> tuple[int, int]:
    p = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(p) != 2 or any(int(e) != e or e < minimum for e in p):
        raise BitWidthError(None, field, v, f"an integer or pair of integers >= {minimum}")
    return int(p[0]), int(p[1])

