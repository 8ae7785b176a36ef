"""The device-model interface: read/compute figures, write cost, wear and lifetime of one cell technology.

Every technology turns a write request into a :class:`WriteEvents` record (how many pulses, assists,
reads, cells), either by counting them in real data (:meth:`DeviceModel.write`) or as expectations
in closed form (:meth:`DeviceModel.expected_write`). Both go through the same
:meth:`DeviceModel.price` so the analytic engine and a data-driven run can never disagree on what an
event costs; only the counting differs.

Weights are integers of ``bits`` bits, two's complement when signed; bit ``j`` of a weight is
``(w >> j) & 1`` of its unsigned ``bits``-bit pattern. Weights are placed on lines in C order of the
arrays given (consecutive elements are neighbours on a line).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

from imcsim import technology
from imcsim.config.device_card import DeviceCard

POLICIES = ("all", "diff")
DAYS_PER_YEAR = 365.25


def lifetime_years(endurance_cycles: float, wear_per_day: float) -> float:
    """The one lifetime formula: years until a cell worn ``wear_per_day`` times a day reaches
    ``endurance_cycles`` (infinite when nothing wears it or endurance is unlimited)."""
    if wear_per_day < 0:
        raise ValueError(f"writes per day must be >= 0, got {wear_per_day}")
    if wear_per_day == 0 or math.isinf(endurance_cycles):
        return math.inf
    return endurance_cycles / (wear_per_day * DAYS_PER_YEAR)
_EPS = 1e-9  # float noise allowed before a ceil() of an expected count moves up one step


@dataclass(frozen=True)
class WriteCost:
    """What a write request costs. Counts are floats because closed forms give expectations.

    ``pulses``: write pulses (SAS-MRAM: SOT pulses on shared lines; ReRAM: program pulses, each paired
    with a write-verify read; SOT/STT-MRAM and SRAM: bit writes). ``verify_reads``: cells read by the
    ``diff`` policy to find the flipped bits. ``rmw_reads``: cells read to preserve the untouched bits
    of a partially updated SAS-MRAM group. ``max_cell_wear``: wear (write cycles; ReRAM: pulses) of the
    most-written cell in this request.

    ``a + b`` is two requests one after the other on *different* cells (energy, counts and latency add;
    the worst cell's wear is the larger one). ``c.scaled(k)`` is the same request repeated ``k`` times
    (everything, wear included, is multiplied by ``k``).
    """

    pulses: float = 0.0
    energy_pj: float = 0.0
    latency_ns: float = 0.0
    cells_written: float = 0.0
    verify_reads: float = 0.0
    rmw_reads: float = 0.0
    max_cell_wear: float = 0.0

    def __post_init__(self) -> None:
        for name in _WRITE_COST_FIELDS:  # counts arrive as ints from data; keep one numeric type
            v = getattr(self, name)
            if type(v) is not float:
                object.__setattr__(self, name, float(v))

    def __add__(self, other: WriteCost) -> WriteCost:
        if not isinstance(other, WriteCost):
            return NotImplemented
        values = {n: getattr(self, n) + getattr(other, n) for n in _WRITE_COST_FIELDS}
        values["max_cell_wear"] = max(self.max_cell_wear, other.max_cell_wear)
        return WriteCost(**values)

    def scaled(self, k: float) -> WriteCost:
        return WriteCost(**{n: getattr(self, n) * k for n in _WRITE_COST_FIELDS})

    @staticmethod
    def sequence(costs: Iterable[WriteCost]) -> WriteCost:
        """``c1 + c2 + ...`` in one pass (requests one after the other on different cells)."""
        total = dict.fromkeys(_WRITE_COST_FIELDS, 0.0)
        wear = 0.0
        for c in costs:
            for n in _WRITE_COST_FIELDS:
                total[n] += getattr(c, n)
            wear = max(wear, c.max_cell_wear)
        total["max_cell_wear"] = wear
        return WriteCost(**total)

    def as_dict(self) -> dict[str, float]:
        return {n: float(getattr(self, n)) for n in _WRITE_COST_FIELDS}


# read once: dataclasses.fields() is slow, and a sweep adds write costs for every layer of every point
_WRITE_COST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(WriteCost))


@dataclass(frozen=True)
class WriteEvents:
    """Countable events of one write request, before pricing (expected values in closed form).

    ``write_units`` are what the write drivers handle in parallel (SAS: groups; SOT/STT/SRAM: bits;
    ReRAM: cells). ``pulses`` are SOT pulses (SAS) / bit writes / program pulses (ReRAM).
    ``assist_bits``: MTJs given an STT-assist current (SAS only). ``set_pulses``: the part of ``pulses``
    that SET a cell (PCM only; the rest are RESETs).
    """

    write_units: float = 0.0
    pulses: float = 0.0
    assist_bits: float = 0.0
    set_pulses: float = 0.0
    verify_reads: float = 0.0
    rmw_reads: float = 0.0
    cells_written: float = 0.0
    max_cell_wear: float = 0.0


def ceil_steps(count: float, per_step: float) -> int:
    """Steps needed for ``count`` units at ``per_step`` units per step (tolerates float noise)."""
    if count <= _EPS:
        return 0
    return int(math.ceil(count / per_step - _EPS))


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"write policy must be one of {POLICIES}, got {policy!r}")
    return policy


def weight_bits(values: np.ndarray, bits: int, signed: bool, what: str) -> np.ndarray:
    """Bit matrix ``(n, bits)`` (uint8) of the flattened integer array, two's complement if signed."""
    if not 1 <= bits <= 32:
        raise ValueError(f"bits must be in 1..32, got {bits}")
    arr = np.asarray(values)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"{what} must be an integer array, got dtype {arr.dtype}")
    flat = arr.astype(np.int64, copy=False).ravel()
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if flat.size and (flat.min() < lo or flat.max() > hi):
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"{what} holds values outside the {kind} {bits}-bit range [{lo}, {hi}]")
    pattern = flat & ((1 << bits) - 1)
    shifts = np.arange(bits, dtype=np.int64)
    return ((pattern[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


class DeviceModel(ABC):
    """One cell technology, built from a validated :class:`DeviceCard`.

    Subclasses implement the write physics: :meth:`count_events` (data), :meth:`expected_events`
    (closed form) and :meth:`price` (the one place an event gets its energy and latency).
    """

    def __init__(self, card: DeviceCard) -> None:
        self.card = card
        self.name = card.name
        self.technology = card.technology
        v = card.value
        self.read_energy_per_bit_fj = v("read_energy_per_bit_fj")
        self.and_energy_factor = v("and_energy_factor")
        self.read_latency_ns = v("read_latency_ns")
        self.sense_amp_energy_fj = v("sense_amp_energy_fj")
        #: Cell leakage per bit as the card quotes it, at technology.SRAM_LEAKAGE_REFERENCE_NM (22 nm);
        #: :meth:`leakage_w_per_bit_at` scales it to a node.
        self.leakage_w_per_bit = v("cell_leakage_nw") * 1e-9 / self.bits_per_cell
        self.endurance_cycles = v("endurance_cycles")
        self.retention_years = v("retention_years")
        self.write_drivers = int(v("write_drivers"))
        self.default_policy = card.options.write_policy

    # ---- read / compute / area -------------------------------------------------------------

    @property
    def bits_per_cell(self) -> int:
        return 1

    @property
    def cell_read_energy_pj(self) -> float:
        """One cell read for verify or read-modify-write: cell + bit line + sense amp."""
        return (self.read_energy_per_bit_fj + self.sense_amp_energy_fj) * 1e-3

    @property
    def read_parallel_cells(self) -> int:
        """Cells read at once by a verify/RMW read: the write drivers' width (A, see docs/devices.md)."""
        return self.write_drivers

    def cell_area_um2(self, node_nm: float) -> float:
        """Area of one cell: F^2 count x (node in um)^2 on planar nodes; the FinFET cell curve below
        20 nm (:func:`imcsim.technology.cell_area_um2`)."""
        if node_nm <= 0:
            raise ValueError(f"node_nm must be > 0, got {node_nm}")
        return technology.cell_area_um2(self.card.value("cell_area_f2"), node_nm)

    def leakage_w_per_bit_at(self, node_nm: float) -> float:
        """Cell leakage per bit at ``node_nm``: the card's 22 nm figure scaled by the leakage-vs-node curve
        (:func:`imcsim.technology.sram_leakage_at`; 0 stays 0 for non-volatile cells)."""
        if node_nm <= 0:
            raise ValueError(f"node_nm must be > 0, got {node_nm}")
        return technology.sram_leakage_at(self.leakage_w_per_bit, node_nm)

    def area_per_bit_um2(self, node_nm: float) -> float:
        return self.cell_area_um2(node_nm) / self.bits_per_cell

    # ---- writes ----------------------------------------------------------------------------

    def write(self, old: np.ndarray, new: np.ndarray, bits: int = 8, policy: str | None = None, *,
              signed: bool = True, mask: np.ndarray | None = None) -> WriteCost:
        """Cost of changing the weights ``old`` into ``new`` (integer arrays of one shape).

        ``mask`` (bool, same shape) marks the weights being updated; unmasked weights are neighbours
        that keep their value (they share lines with updated ones, which matters for SAS-MRAM). By
        default every weight given is updated. ``policy`` defaults to the card's ``write_policy``.
        """
        old_a, new_a = np.asarray(old), np.asarray(new)
        if old_a.shape != new_a.shape:
            raise ValueError(f"old and new differ in shape: {old_a.shape} vs {new_a.shape}")
        policy = check_policy(policy or self.default_policy)
        ob = weight_bits(old_a, bits, signed, "old")
        nb = weight_bits(new_a, bits, signed, "new")
        if mask is None:
            upd = np.ones(ob.shape[0], dtype=bool)
        else:
            m = np.asarray(mask, dtype=bool)
            if m.shape != old_a.shape:
                raise ValueError(f"mask shape {m.shape} differs from the weights' {old_a.shape}")
            upd = m.ravel()
            if np.any(ob[~upd] != nb[~upd]):
                raise ValueError("weights outside the mask must keep their value (old == new)")
        return self.price(self.count_events(ob, nb, upd, bits, policy), policy)

    def expected_write(self, n_weights: float, bits: int = 8, policy: str | None = None,
                       flip_prob: float = 0.5, *, run_weights: int | None = None,
                       ones_prob: float = 0.5) -> WriteCost:
        """Closed-form (expected) cost of updating ``n_weights`` weights of ``bits`` bits.

        Each bit of an updated weight flips with probability ``flip_prob`` (independently); stored
        bits are 1 with probability ``ones_prob``. By default the weights are one contiguous region
        that shares its lines with nothing else (like :meth:`write` without a mask). With
        ``run_weights`` they come in runs of that many weights, each starting on a line boundary and
        sharing its last line with live neighbours (a sparse update: read-modify-write on SAS-MRAM
        with interleaved placement). For policy ``all`` the result equals :meth:`write` on any data of
        that layout exactly (except SAS two-step, whose assists depend on the data's ones).
        """
        policy = check_policy(policy or self.default_policy)
        if n_weights < 0:
            raise ValueError(f"n_weights must be >= 0, got {n_weights}")
        if not 1 <= bits <= 32:
            raise ValueError(f"bits must be in 1..32, got {bits}")
        for name, p in (("flip_prob", flip_prob), ("ones_prob", ones_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if run_weights is not None and run_weights < 1:
            raise ValueError(f"run_weights must be >= 1, got {run_weights}")
        return self.price(self.expected_events(n_weights, bits, policy, flip_prob, run_weights, ones_prob),
                          policy)

    def four_bit_write(self, policy: str | None = None, flip_prob: float = 0.5) -> WriteCost:
        """Expected cost of writing 4 bits that share one write group (a SAS line; 4 bits elsewhere)."""
        return self.expected_write(1, bits=4, policy=policy, flip_prob=flip_prob)

    @abstractmethod
    def count_events(self, ob: np.ndarray, nb: np.ndarray, upd: np.ndarray, bits: int,
                     policy: str) -> WriteEvents:
        """Events of a write, counted from bit matrices ``(n, bits)`` and the update mask ``(n,)``."""

    @abstractmethod
    def expected_events(self, n_weights: float, bits: int, policy: str, flip_prob: float,
                        run_weights: int | None, ones_prob: float) -> WriteEvents:
        """Expected events of the same write in closed form."""

    @abstractmethod
    def price(self, ev: WriteEvents, policy: str) -> WriteCost:
        """Energy and latency of the events: the single pricing function of this technology."""

    def _pulse_energy_fj(self, voltage: str, current: str, pulse: str) -> float:
        """Energy of one write pulse from the card fields naming its voltage (V), current (uA) and width (ns):
        V x uA x ns = fJ. The one pulse formula every current-driven technology uses."""
        v = self.card.value
        return v(voltage) * v(current) * v(pulse)

    def _write_cost(self, ev: WriteEvents, write_energy_pj: float, step_ns: float, reads: float) -> WriteCost:
        """What every technology's :meth:`price` shares: its write steps of ``step_ns`` on the write
        drivers, then ``reads`` sensed reads (verify, read-modify-write) at the read parallelism."""
        energy_pj = write_energy_pj + reads * self.cell_read_energy_pj
        latency_ns = (ceil_steps(ev.write_units, self.write_drivers) * step_ns
                      + ceil_steps(reads, self.read_parallel_cells) * self.read_latency_ns)
        return WriteCost(pulses=ev.pulses, energy_pj=energy_pj, latency_ns=latency_ns,
                         cells_written=ev.cells_written, verify_reads=ev.verify_reads,
                         rmw_reads=ev.rmw_reads, max_cell_wear=ev.max_cell_wear)

    def derived_figures(self) -> list[dict[str, object]]:
        """Figures computed from card parameters, with the formula (shown by ``imcsim devices show``)."""
        return []

    @property
    def closed_form_exact_for_all(self) -> bool:
        """Whether :meth:`expected_write` under policy ``all`` equals :meth:`write` on any data (else it
        holds in expectation only: the cost depends on the values written)."""
        return True

    # ---- wear ------------------------------------------------------------------------------

    def lifetime_years(self, writes_per_day_on_hottest_cell: float) -> float:
        """Years until the most-written cell reaches its endurance.

        The argument is in wear units per day: ``WriteCost.max_cell_wear`` times requests per day
        (for ReRAM these are program pulses, as endurance is counted in pulses).
        """
        return lifetime_years(self.endurance_cycles, writes_per_day_on_hottest_cell)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
