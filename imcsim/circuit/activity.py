"""Switching activity of a bit-serial layer run: how many input bits and AND products were 1.

The energy of a bit-serial digital IMC macro follows the data: a word line is driven only when the
input bit is 1, and the adder tree toggles on AND products that are 1. The functional kernels
(:mod:`imcsim.circuit.bitserial`) count these events exactly and return them as an :class:`Activity`;
the macro cost model uses it instead of an assumed activity.

What is counted (for one layer, summed over batch, groups and every im2col vector):

- ``input_ones[i]``: 1 bits of input bit-plane ``i`` presented to the array. The im2col vector
  includes zero-padding taps (driven as 0), so they count as slots but never as ones.
- ``input_slots``: input bits presented per plane = batch x groups x M x K (M output positions,
  K = C_in/groups x kh x kw), the same for every plane.
- ``and_ones[i, j]``: AND products x_i[m, k] AND w_j[k, n] that are 1, over all m, k, n.
- ``and_slots``: AND products per plane pair = batch x groups x M x K x N = the layer's MACs.
- ``weight_ones[j]`` / ``weight_slots``: 1 bits of weight bit-plane ``j`` stored in the array
  (each weight counted once per layer run, not per use), for cell-state-dependent read energy.

Densities are ``ones / slots``. Activities of several layers add with ``+`` (counts and slots add, so
the summed density is the slot-weighted mean). Plane 0 is the least significant bit; for signed
operands the top plane is the two's complement sign bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Activity:
    """Exact event counts of one (or several summed) bit-serial layer runs."""

    input_ones: np.ndarray   # int64 [in_bits]
    input_slots: int
    and_ones: np.ndarray     # int64 [in_bits, w_bits]
    and_slots: int
    weight_ones: np.ndarray  # int64 [w_bits]
    weight_slots: int

    def __post_init__(self) -> None:
        inp = np.asarray(self.input_ones, dtype=np.int64)
        ands = np.asarray(self.and_ones, dtype=np.int64)
        wts = np.asarray(self.weight_ones, dtype=np.int64)
        if inp.ndim != 1 or wts.ndim != 1 or ands.shape != (inp.size, wts.size):
            raise ValueError(f"Activity shapes disagree: input_ones {inp.shape}, and_ones {ands.shape}, "
                             f"weight_ones {wts.shape}")
        for name, ones, slots in (("input", inp, self.input_slots), ("and", ands, self.and_slots),
                                  ("weight", wts, self.weight_slots)):
            if slots < 0 or (ones < 0).any() or (ones > slots).any():
                raise ValueError(f"Activity {name}: ones must lie in [0, slots={slots}]")
        object.__setattr__(self, "input_ones", inp)
        object.__setattr__(self, "and_ones", ands)
        object.__setattr__(self, "weight_ones", wts)
        object.__setattr__(self, "input_slots", int(self.input_slots))
        object.__setattr__(self, "and_slots", int(self.and_slots))
        object.__setattr__(self, "weight_slots", int(self.weight_slots))

    @classmethod
    def zeros(cls, in_bits: int, w_bits: int) -> Activity:
        """The neutral element of ``+`` (no events, no slots)."""
        return cls(np.zeros(in_bits, np.int64), 0, np.zeros((in_bits, w_bits), np.int64), 0,
                   np.zeros(w_bits, np.int64), 0)

    @property
    def in_bits(self) -> int:
        return int(self.input_ones.size)

    @property
    def w_bits(self) -> int:
        return int(self.weight_ones.size)

    # ------------------------------------------------------------------ densities
    @property
    def input_density(self) -> np.ndarray:
        """Fraction of input bits that are 1, per plane (0 where nothing was presented)."""
        return self.input_ones / self.input_slots if self.input_slots else np.zeros(self.in_bits)

    @property
    def and_density(self) -> np.ndarray:
        """Fraction of AND products that are 1, per (input plane, weight plane)."""
        return self.and_ones / self.and_slots if self.and_slots else np.zeros((self.in_bits, self.w_bits))

    @property
    def weight_density(self) -> np.ndarray:
        return self.weight_ones / self.weight_slots if self.weight_slots else np.zeros(self.w_bits)

    @property
    def mean_input_density(self) -> float:
        """Over all planes: total input ones / total input bits presented."""
        total = self.input_slots * self.in_bits
        return float(self.input_ones.sum() / total) if total else 0.0

    @property
    def mean_and_density(self) -> float:
        """Over all plane pairs: total AND ones / total AND products."""
        total = self.and_slots * self.in_bits * self.w_bits
        return float(self.and_ones.sum() / total) if total else 0.0

    @property
    def mean_weight_density(self) -> float:
        total = self.weight_slots * self.w_bits
        return float(self.weight_ones.sum() / total) if total else 0.0

    # ------------------------------------------------------------------ algebra
    def __add__(self, other: Activity) -> Activity:
        if not isinstance(other, Activity):
            return NotImplemented
        if self.and_ones.shape != other.and_ones.shape:
            raise ValueError(f"cannot add activities of different bit widths: {self.and_ones.shape} "
                             f"and {other.and_ones.shape}")
        return Activity(self.input_ones + other.input_ones, self.input_slots + other.input_slots,
                        self.and_ones + other.and_ones, self.and_slots + other.and_slots,
                        self.weight_ones + other.weight_ones, self.weight_slots + other.weight_slots)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Activity):
            return NotImplemented
        return (self.input_slots == other.input_slots and self.and_slots == other.and_slots
                and self.weight_slots == other.weight_slots
                and np.array_equal(self.input_ones, other.input_ones)
                and np.array_equal(self.and_ones, other.and_ones)
                and np.array_equal(self.weight_ones, other.weight_ones))

    __hash__ = None  # type: ignore[assignment]  # mutable numpy payload

    def to_dict(self) -> dict[str, object]:
        """Plain lists and ints (JSON-ready), densities included."""
        return {
            "input_ones": self.input_ones.tolist(), "input_slots": self.input_slots,
            "and_ones": self.and_ones.tolist(), "and_slots": self.and_slots,
            "weight_ones": self.weight_ones.tolist(), "weight_slots": self.weight_slots,
            "mean_input_density": self.mean_input_density, "mean_and_density": self.mean_and_density,
            "mean_weight_density": self.mean_weight_density,
        }
