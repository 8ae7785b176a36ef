"""Weights packed once into bit-plane words (:class:`PackedWeights`), like weights resident in the array."""

from __future__ import annotations

import numpy as np

from imcsim.circuit.bitserial.checks import BitWidthError, check_bits, to_pattern
from imcsim.circuit.bitserial.kernels import pack_weight_words, weight_column_sums

#: N is padded to a multiple of this so a lane block never straddles two weight planes.
LANE_ALIGN = 32


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
        w_bits = check_bits(w_bits, "w_bits")
        w = np.asarray(w)
        if w.ndim != 4 or min(w.shape) < 1:
            raise BitWidthError(None, "shape", w.shape, "w (C_out, C_in/groups, kh, kw), none of them 0")
        c_out, cg, kh, kw = w.shape
        if isinstance(groups, bool) or int(groups) != groups or groups < 1 or c_out % groups:
            raise BitWidthError(None, "groups", groups, f"a divisor of C_out={c_out}")
        groups = int(groups)
        wp = to_pattern(w, w_bits, w_signed, "w")
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
        self.wq = pack_weight_words(padded, w_bits, self.n_pad)
        self.csw = weight_column_sums(padded, k)
        self.weight_ones = self.csw[:, :, :w_bits].sum(axis=(0, 1))
        self.weight_slots = int(w.size)

    def unpacked(self) -> np.ndarray:
        """The integer weights the words hold, read back: int64 (C_out, C_in/groups, kh, kw) (what a caller
        that was handed only the packed weights, e.g. a test spying on the kernels' operands, compares)."""
        c_out, cg, kh, kw = self.shape
        g, n_out, k = self.groups, c_out // self.groups, kh * kw * cg
        words = self.wq.reshape(g, -1, self.w_bits, self.n_pad)[:, :, :, :n_out]          # (g, KW, j, n)
        bits = (words[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)      # bit p: element 64 kw + p
        planes = bits.transpose(0, 3, 2, 1, 4).reshape(g, n_out, self.w_bits, -1)[..., :k].astype(np.int64)
        weight = 1 << np.arange(self.w_bits, dtype=np.int64)
        if self.w_signed:
            weight[-1] = -weight[-1]
        w = np.einsum("gnjk,j->gnk", planes, weight)
        return w.reshape(g, n_out, kh, kw, cg).transpose(0, 1, 4, 2, 3).reshape(c_out, cg, kh, kw)

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


def packed_for(w, groups, w_bits, w_signed) -> PackedWeights:
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

