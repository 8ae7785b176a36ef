"""Digital gate energies, leakage, areas and delays of the bit-serial macro periphery, per node.

Why a table: the periphery of a digital IMC macro (AND gates, popcount adder trees, shift-accumulators,
word-line drivers, sense latches) is ordinary CMOS logic, so its cost follows the technology node, not
the memory device. One table, anchored at 28 nm, feeds :mod:`imcsim.circuit.macro`; nothing else
re-derives these numbers.

Anchor (28 nm, 0.9 V): the unit gate of the ZigZag-IMC DIMC calibration ([T6], fitted to four ISSCC
28 nm DIMC chips): NAND2 input capacitance 0.7 fF, area 0.614 um^2, delay 47.8 ps; XOR2 = 1.5x C,
2.4x area, 2.4x delay; DFF = 3x C, 6x area; full adder = 2 XOR2 + 3 NAND2. Energies are
C x V^2 from those capacitances (D; table in docs/devices.md#sram-periphery-and-system-defaults).

Node scaling (``energy_scale``), one curve per gate kind, normalised to 1 at 28 nm:

- **22-45 nm: table interpolation (D).** The NeuroSim V1.4 gate models ([T3])
  give each gate's energy at 45 / 32 / 22 nm (supplies 1.0 / 0.9 / 0.85 V). Between those nodes the
  energy is interpolated linearly in log(energy) vs log(node), and divided by the same interpolation
  at 28 nm. (The interpolation reproduces the 28 nm anchors: full adder 1.72 fJ vs 1.7; latch 0.70 fJ
  vs 0.7.)
- **7-22 nm: the Stillmaker-Baas energy fits (T/D).** [STILLMAKER17] fits the switching energy of
  predictive-technology (PTM) circuits per node as a quadratic in the supply, E(V) = a V^2 + b V + c,
  for 45/32 nm planar and 20/16/14/10/7 nm FinFET devices. Below the table edge the scale is
  ``s(n) = s(22) x f(n) / f(22)``, with f the fit of the low-power (LP) devices (the NeuroSim table is
  LSTP) evaluated at the node's supply, log-log interpolated between the fitted nodes (22 nm between 32
  and 20). The supplies at 16 nm and below (16/12 nm 0.8 V, 7 nm 0.75 V) are typical nominal FinFET core
  supplies, an assumption (A); the fit itself is T. At 7 nm this gives 1.08x, at 12 nm 0.83x and at 16 nm
  0.86x the former C x V^2 rule.
- **Below 7 nm: foundry power steps (T).** TSMC quotes N5 at ~30 % less power than N7 at the same speed
  [TSMC-N5] and N3 at 25-30 % less than N5 [TSMC-N3]: ``s(5) = 0.70 s(7)``, ``s(3) = 0.725 s(5)`` (the
  middle of the range, D), 4 nm log-log in between (A). Iso-speed power at one activity is energy per
  operation, so the steps apply to energy directly; they include the foundries' own supply changes, so
  no supply is applied below 7 nm.
- **Above 45 nm: C x V^2 extrapolation (A).** E ~ C x V^2 with C ~ node from the 45 nm edge, supply held
  at 1.0 V.
- Leakage: the NeuroSim 8-bit adder leakage row, interpolated the same way in 22-45 nm; outside,
  ~ node x V (device width x supply, A). (Stillmaker-Baas also fit a "power" term, but it is the
  dynamic power at each node's speed, not leakage, so it is not used for leakage.)
- Area: ``imcsim.technology.area_scale(node, "logic")``: ~ node^2 on planar nodes (D: the NeuroSim
  area rows scale as node^2 within 4 % from 45 to 22 nm); below 20 nm the FinFET area table of
  [STILLMAKER17] and foundry density steps (T), which give 1.4x (16 nm) to 2.4x (5 nm) the node^2 area.
- Delay: ~ node (A: constant-field scaling of the ZigZag-IMC 28 nm gate delays).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from imcsim import technology

ANCHOR_NODE_NM = 28.0


@dataclass(frozen=True)
class Sourced:
    """A number with its unit, provenance tag (S/T/D/A) and source key (defined in docs/references.md)."""

    value: float
    unit: str
    tag: str
    source: str


#: 28 nm, 0.9 V defaults of the bit-serial macro periphery (docs/macro.md section 5).
GATES_28NM: dict[str, Sourced] = {
    "vdd_v": Sourced(0.9, "V", "T", "[T6] ZigZag-IMC TECH_PARAM_28NM vdd"),
    "and_fj": Sourced(0.28, "fJ", "D", "1-bit AND/NOR product, 0.7/2 fF x 0.81 V^2 [T6]"),
    "xor_fj": Sourced(0.42, "fJ", "D", "XOR2 = 1.5 x NAND2 capacitance [T6]: 1.5 x the 0.28 fJ AND product"),
    "fa_full_fj": Sourced(3.4, "fJ", "D", "full-adder bit op at 100 % activity, 4.2 fF x 0.81 V^2 [T6]"),
    "fa_fj": Sourced(1.7, "fJ", "D", "full-adder bit op at 50 % activity [T6] (NeuroSim 1.1-2.2 fJ [T3])"),
    "dff_fj": Sourced(1.7, "fJ", "D", "DFF bit write, 2.1 fF x 0.81 V^2 [T6]"),
    "sense_latch_fj": Sourced(0.7, "fJ", "T/D", "NeuroSim voltage sense-amp latch, 22-32 nm [T3]"),
    "wl_per_cell_fj": Sourced(0.28, "fJ", "D", "[T6] word-line cap per cell = NAND2 cap / 2 = 0.35 fF x 0.81 V^2"),
    "adder8_leak_nw": Sourced(1.5, "nW", "T/D", "8-bit adder leakage, NeuroSim 22-32 nm [T3]"),
    "fa_leak_nw": Sourced(1.5 / 8, "nW", "D", "8-bit adder leakage / 8 full adders"),
    "dff_leak_nw": Sourced(1.5 / 8, "nW", "A", "taken equal to one full adder's leakage (no sourced DFF leakage)"),
    "nand2_area_um2": Sourced(0.614, "um^2", "T", "[T6] nd2_area"),
    "xor2_area_um2": Sourced(0.614 * 2.4, "um^2", "T", "[T6] xor2_area = 2.4 x NAND2"),
    "dff_area_um2": Sourced(0.614 * 6, "um^2", "T", "[T6] dff_area = 6 x NAND2"),
    "fa_area_um2": Sourced(3 * 0.614 + 2 * 0.614 * 2.4, "um^2", "D", "[T6]: full adder = 3 NAND2 + 2 XOR2"),
    "and_area_um2": Sourced(0.614, "um^2", "T", "[T6]: 1-bit multiplier = one NOR2, costed as a NAND2"),
    # 0.9 um^2 (22 nm) x (28/22)^1.995, the log-log interpolation of the NeuroSim latch areas 1.9 / 0.9 um^2.
    "sense_latch_area_um2": Sourced(1.456, "um^2", "D", "NeuroSim latch area, interpolated to 28 nm [T3]"),
    "wl_driver_area_um2": Sourced(4 * 0.614, "um^2", "A", "word-line driver = 4 NAND2-equivalents (buffer chain)"),
    "nand2_delay_ns": Sourced(0.0478, "ns", "T", "[T6] nd2_dly"),
    "xor2_delay_ns": Sourced(0.0478 * 2.4, "ns", "T", "[T6] xor2_dly = 2.4 x NAND2"),
}

#: NeuroSim V1.4 gate models ([T3]): node -> value. LSTP devices.
NEUROSIM_TABLE: dict[str, dict[float, float]] = {
    "vdd_v": {45.0: 1.0, 32.0: 0.9, 22.0: 0.85},          # T: [T3] Technology.cpp (PTM)
    "fa_fj": {45.0: 4.3, 32.0: 2.2, 22.0: 1.1},           # T/D: 1-bit full-adder op
    "dff_fj": {45.0: 5.5, 32.0: 2.7, 22.0: 1.4},          # T/D: DFF write per bit (validated = false)
    "sense_latch_fj": {45.0: 1.7, 32.0: 0.87, 22.0: 0.48},  # T/D: voltage sense-amp latch per sense
    "adder8_leak_nw": {45.0: 3.0, 32.0: 1.8, 22.0: 1.1},  # T/D: 8-bit RCA leakage
}

#: Supplies outside the NeuroSim table (A: typical nominal core supplies; not from a cited table). Used to
#: evaluate the Stillmaker-Baas fits at 7-20 nm and in reports; below 7 nm the foundry steps carry the supply.
EXTRAPOLATED_VDD_V: dict[float, float] = {3.0: 0.7, 5.0: 0.7, 7.0: 0.75, 12.0: 0.8, 16.0: 0.8}

#: [STILLMAKER17] energy fits of low-power (LP) PTM devices, E(V) = a V^2 + b V + c per node, in the
#: paper's relative units (only ratios are used); T, as tabulated in the MIT-licensed nodeScale script.
STILLMAKER_LP_ENERGY: dict[float, tuple[float, float, float]] = {
    32.0: (0.9559, -0.7823, 0.471),
    20.0: (0.2632, -0.14, 0.06841),
    16.0: (0.2139, -0.1187, 0.05639),
    14.0: (0.1556, -0.06472, 0.03066),
    10.0: (0.1261, -0.0518, 0.02769),
    7.0: (0.09365, -0.03409, 0.02043),
}

#: Energy per operation of one foundry node over the next larger one at the same speed (T): TSMC N5 vs N7
#: ~30 % less power [TSMC-N5]; N3 vs N5 25-30 % less [TSMC-N3] (0.725, the middle, D).
FOUNDRY_ENERGY_STEP: dict[float, float] = {5.0: 0.70, 3.0: 0.725}

#: The nodes a study may ask for (A): the CMOS range with published digital-IMC silicon (4-65 nm) and some
#: margin. Outside it the gate table's extrapolation (C x V^2 with a clamped supply) has no footing.
NODE_MIN_NM = 3.0
NODE_MAX_NM = 180.0

_TABLE_MIN_NM = 22.0
_TABLE_MAX_NM = 45.0

#: Which NeuroSim row scales which kind of energy. Plain logic (AND, word-line wire) follows the
#: full-adder row: they are the same static CMOS switching C x V^2.
_ENERGY_ROW = {"fa": "fa_fj", "logic": "fa_fj", "dff": "dff_fj", "sense": "sense_latch_fj",
               "leakage": "adder8_leak_nw"}


def vdd_v(node_nm: ArrayLike) -> np.ndarray:
    """Supply per node: NeuroSim PTM values at 22/32/45 nm and ZigZag-IMC's 0.9 V at 28 nm (T), linear
    in between; assumed nominal supplies below 22 nm (A). Used for the C x V^2 extrapolation and reports."""
    n = np.asarray(node_nm, dtype=float)
    points = {**EXTRAPOLATED_VDD_V, **NEUROSIM_TABLE["vdd_v"], ANCHOR_NODE_NM: GATES_28NM["vdd_v"].value}
    xs = np.array(sorted(points))
    ys = np.array([points[x] for x in xs])
    return np.interp(n, xs, ys)  # clamps: 1.0 V above 45 nm, 0.7 V below 3 nm


def _loglog(row: dict[float, float], n: np.ndarray) -> np.ndarray:
    xs = np.log(np.array(sorted(row)))
    ys = np.log(np.array([row[x] for x in sorted(row)]))
    return np.exp(np.interp(np.log(n), xs, ys))


def energy_scale(kind: str, node_nm: ArrayLike) -> np.ndarray:
    """Energy (or leakage power) at ``node_nm`` relative to 28 nm for a gate ``kind``.

    ``kind``: ``fa`` / ``logic`` (adders, AND gates, wires), ``dff``, ``sense`` or ``leakage``.
    See the module docstring for the interpolation (D) and extrapolation (A) rules.
    """
    if kind not in _ENERGY_ROW:
        raise ValueError(f"unknown gate kind {kind!r}; allowed: {', '.join(sorted(_ENERGY_ROW))}")
    row = NEUROSIM_TABLE[_ENERGY_ROW[kind]]
    n = np.asarray(node_nm, dtype=float)
    if np.any(n <= 0):
        raise ValueError(f"node_nm must be > 0, got {node_nm}")
    anchor = _loglog(row, np.asarray(ANCHOR_NODE_NM))
    inside = _loglog(row, np.clip(n, _TABLE_MIN_NM, _TABLE_MAX_NM)) / anchor
    edge = np.where(n < _TABLE_MIN_NM, _TABLE_MIN_NM, _TABLE_MAX_NM)
    if kind == "leakage":
        outside_factor = (n / edge) * (vdd_v(n) / vdd_v(edge))
    else:
        cv2 = (n / edge) * (vdd_v(n) / vdd_v(edge)) ** 2
        below = finfet_energy_factor(np.minimum(n, _TABLE_MIN_NM)) / finfet_energy_factor(_TABLE_MIN_NM)
        outside_factor = np.where(n < _TABLE_MIN_NM, below, cv2)
    in_table = (n >= _TABLE_MIN_NM) & (n <= _TABLE_MAX_NM)
    return np.where(in_table, inside, inside * outside_factor)


def _stillmaker_lp(node_nm: float) -> float:
    a, b, c = STILLMAKER_LP_ENERGY[node_nm]
    v = float(vdd_v(node_nm))
    return a * v * v + b * v + c


def finfet_energy_factor(node_nm: ArrayLike) -> np.ndarray:
    """Relative switching energy at 3-22 nm (only ratios are meaningful): the [STILLMAKER17] LP fit at the
    node's supply, log-log between the fitted nodes (22 nm between 32 and 20), and below 7 nm the foundry
    steps of :data:`FOUNDRY_ENERGY_STEP` (4 nm log-log between 5 and 3 nm, A). Clamped at 3 nm."""
    f = {node: _stillmaker_lp(node) for node in STILLMAKER_LP_ENERGY}
    f[5.0] = f[7.0] * FOUNDRY_ENERGY_STEP[5.0]
    f[3.0] = f[5.0] * FOUNDRY_ENERGY_STEP[3.0]
    return _loglog(f, np.clip(np.asarray(node_nm, dtype=float), NODE_MIN_NM, 32.0))


def area_scale(node_nm: ArrayLike) -> np.ndarray:
    """Logic area relative to 28 nm: node^2 on planar nodes (D), the FinFET table below 20 nm (T);
    :func:`imcsim.technology.area_scale`."""
    return technology.area_scale(node_nm, "logic")


def delay_scale(node_nm: ArrayLike) -> np.ndarray:
    """Gate delay relative to 28 nm: node / 28 (A: constant-field scaling)."""
    return np.asarray(node_nm, dtype=float) / ANCHOR_NODE_NM


def regime(node_nm: float) -> str:
    """How a node's gate energies were obtained: 'anchor' (28 nm, D), 'interpolated' (22-45 nm, D),
    'fitted' (3-22 nm: the Stillmaker-Baas fits and foundry steps, T/D) or 'extrapolated' (above 45 nm, A)."""
    if node_nm == ANCHOR_NODE_NM:
        return "anchor"
    if _TABLE_MIN_NM <= node_nm <= _TABLE_MAX_NM:
        return "interpolated"
    if node_nm < _TABLE_MIN_NM:
        return "fitted"
    return "extrapolated"


@dataclass(frozen=True)
class GateSet:
    """Gate costs at one node (floats), what :mod:`imcsim.circuit.macro` prices events with."""

    node_nm: float
    vdd_v: float
    regime: str                  # anchor | interpolated (D) | fitted (T/D, below 22 nm) | extrapolated (A)
    and_fj: float                # one AND product
    xor_fj: float                # one XOR2 switching (Booth digit select / negate)
    fa_full_fj: float            # full-adder bit op, 100 % activity
    fa_fj: float                 # full-adder bit op, 50 % activity
    dff_fj: float                # DFF bit write
    sense_latch_fj: float        # one latch sense (reference value; the device card's own value is used in the macro)
    wl_per_cell_fj: float        # word-line charge per cell on the line
    fa_leak_w: float
    dff_leak_w: float
    and_area_um2: float
    fa_area_um2: float
    xor2_area_um2: float
    dff_area_um2: float
    sense_latch_area_um2: float
    wl_driver_area_um2: float
    nand2_area_um2: float
    nand2_delay_ns: float
    xor2_delay_ns: float

    @property
    def fa_in_to_sum_ns(self) -> float:
        """Full adder, input to sum: two XOR2 (T6 delay model)."""
        return 2 * self.xor2_delay_ns

    @property
    def fa_in_to_cout_ns(self) -> float:
        """Full adder, input to carry-out: XOR2 + 2 NAND2 [T6]."""
        return self.xor2_delay_ns + 2 * self.nand2_delay_ns

    @property
    def fa_cin_to_cout_ns(self) -> float:
        """Full adder, carry-in to carry-out: 2 NAND2 [T6]."""
        return 2 * self.nand2_delay_ns


@lru_cache(maxsize=64)  # a frozen value per node; every macro of a sweep asks for it
def gates_at(node_nm: float) -> GateSet:
    """The 28 nm defaults scaled to ``node_nm`` (one scalar node)."""
    node = float(node_nm)
    if not node > 0:
        raise ValueError(f"node_nm must be > 0, got {node_nm}")
    g = {k: v.value for k, v in GATES_28NM.items()}
    logic = float(energy_scale("logic", node))
    dff = float(energy_scale("dff", node))
    sense = float(energy_scale("sense", node))
    leak = float(energy_scale("leakage", node))
    area = float(area_scale(node))
    dly = float(delay_scale(node))
    return GateSet(
        node_nm=node, vdd_v=float(vdd_v(node)), regime=regime(node),
        and_fj=g["and_fj"] * logic, xor_fj=g["xor_fj"] * logic, fa_full_fj=g["fa_full_fj"] * logic,
        fa_fj=g["fa_fj"] * logic,
        dff_fj=g["dff_fj"] * dff, sense_latch_fj=g["sense_latch_fj"] * sense,
        wl_per_cell_fj=g["wl_per_cell_fj"] * logic,
        fa_leak_w=g["fa_leak_nw"] * 1e-9 * leak, dff_leak_w=g["dff_leak_nw"] * 1e-9 * leak,
        and_area_um2=g["and_area_um2"] * area, fa_area_um2=g["fa_area_um2"] * area,
        xor2_area_um2=g["xor2_area_um2"] * area,
        dff_area_um2=g["dff_area_um2"] * area, sense_latch_area_um2=g["sense_latch_area_um2"] * area,
        wl_driver_area_um2=g["wl_driver_area_um2"] * area, nand2_area_um2=g["nand2_area_um2"] * area,
        nand2_delay_ns=g["nand2_delay_ns"] * dly, xor2_delay_ns=g["xor2_delay_ns"] * dly,
    )


def fastest_clock_mhz(node_nm: float) -> float:
    """Fastest clock a bit-serial macro can be pipelined for: one full adder (input to sum) per stage.

    The adder tree and the carry-save accumulator are cut into register stages (see
    ``circuit.macro.pipeline_depth_cycles``); a stage shorter than one full adder does not exist,
    so a faster clock is not a design point (D, from the gate delays of this module).
    """
    return 1e3 / gates_at(float(node_nm)).fa_in_to_sum_ns

