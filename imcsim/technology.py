"""Process-node facts shared by devices, circuits and the engine: area and SRAM leakage per node.

Why one module: the area of a memory cell (device cards quote it in F^2), the area of a unit gate
(:mod:`imcsim.circuit.gates`) and the leakage of an SRAM buffer or SRAM cell all follow the node, and
must follow it the same way wherever they are priced. Nothing else re-derives these curves.

**Area** (relative to 28 nm, the gate table's anchor; docs/devices.md#node-scaling-of-area-and-leakage):

- **Planar nodes, >= 20 nm: node^2 (D).** The NeuroSim gate-area rows [T3] scale as node^2 within 4 %
  from 45 to 22 nm, so a card's F^2 count times node^2 is kept there.
- **FinFET nodes, < 20 nm: the published area table of Stillmaker and Baas [STILLMAKER17] (T),**
  applied from 20 nm down: ``area(n) = (20/28)^2 x S(n) / S(20)``, with S the table's area at each node
  relative to 45 nm (20: 0.21, 16: 0.19, 14: 0.17, 10: 0.10, 7: 0.059), interpolated linearly in
  log(area) vs log(node). Fin pitch, contacted gate pitch and metal pitch stopped shrinking with the
  node name, so node^2 would under-size a 16 nm gate by 1.4x and a 7 nm gate by 2.3x.
- **Below 7 nm: foundry density steps (T).** 5 nm = 7 nm / 1.84 (TSMC's N5 logic density over N7,
  IEDM 2019 [WIKICHIP-N5]); 3 nm = 5 nm / 1.7 (TSMC's N3 over N5 claim [TSMC-N3]); 4 nm interpolated (A).
- **Cells** (SRAM and NVM arrays, quoted in F^2 at the cell's own node) follow the logic curve down to
  16 nm, and below it the published SRAM bitcells of one foundry (S): TSMC 16 nm 0.070 um^2
  [WIKICHIP-16NM], 7 nm 0.027 um^2 [WIKICHIP-7NM], 5 nm and N3E 0.021 um^2 [IEDM22-SRAM]:
  ``cell(n) = logic(16) x B(n) / B(16)``, log-log between those nodes. Bitcells shrank slower than logic
  (7 nm: 0.386 of 16 nm where the logic table gives 0.31; 5 nm 0.30 where logic gives 0.17) and stopped
  below 5 nm. NVM cells are access-transistor limited, so they are given the same curve (A).

**SRAM buffer area** (``chip.sram_area_um2_per_bit``, quoted at ``chip.sram_area_node_nm``, 28 nm in the
presets) follows the cell curve to the chip's node: :func:`sram_area_at`.

**SRAM leakage** (buffers and SRAM cells; the cards and presets quote it at 22 nm, the NVMExplorer
22 nm LOP figure [T2]): scaled by the NeuroSim LSTP leakage row (8-bit adder leakage 3.0 / 1.8 / 1.1 nW
at 45 / 32 / 22 nm [T3]), interpolated in log-log between those nodes (D) and ~ node x V outside (A):
the same curve the gate table uses for the periphery leakage (``circuit.gates.energy_scale("leakage")``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

#: The node every relative curve is normalised to (the gate table's anchor).
ANCHOR_NODE_NM = 28.0

#: Below this node FinFET area scaling applies (the planar node^2 rule holds at and above it).
FINFET_BELOW_NM = 20.0

#: [STILLMAKER17] area at each node relative to 45 nm (T), the FinFET part of the table; below 7 nm the
#: foundry steps of the module docstring (T: [WIKICHIP-N5] 1.84x N7 -> N5; [TSMC-N3] 1.7x N5 -> N3).
AREA_REL_45NM: dict[float, float] = {
    20.0: 0.21, 16.0: 0.19, 14.0: 0.17, 10.0: 0.10, 7.0: 0.059,
    5.0: 0.059 / 1.84, 3.0: 0.059 / 1.84 / 1.7,
}

#: TSMC SRAM bitcells (um^2, S): 16 nm demo chip [WIKICHIP-16NM], 7 nm demo chip [WIKICHIP-7NM], N5 and
#: N3E high-density [IEDM22-SRAM]. Below :data:`CELL_BITCELL_BELOW_NM` memory cells follow their ratios.
SRAM_BITCELL_UM2: dict[float, float] = {16.0: 0.070, 7.0: 0.027, 5.0: 0.021, 3.0: 0.021}

#: Cells take the logic curve down to this node and the bitcell ratios below it.
CELL_BITCELL_BELOW_NM = 16.0

#: The node at which the SRAM leakage figures of the cards and presets are quoted ([T2]: 22 nm LOP).
SRAM_LEAKAGE_REFERENCE_NM = 22.0

#: The node at which the presets quote the SRAM buffer bit area (146 F^2 [T2] x (28 nm)^2, D).
SRAM_AREA_REFERENCE_NM = 28.0

_AREA_KINDS = ("logic", "cell")


def _bitcell_um2(n: np.ndarray) -> np.ndarray:
    xs = np.log(np.array(sorted(SRAM_BITCELL_UM2)))
    ys = np.log(np.array([SRAM_BITCELL_UM2[x] for x in sorted(SRAM_BITCELL_UM2)]))
    return np.exp(np.interp(np.log(n), xs, ys))  # flat outside 3-16 nm


def _table_rel_45(n: np.ndarray) -> np.ndarray:
    xs = np.log(np.array(sorted(AREA_REL_45NM)))
    ys = np.log(np.array([AREA_REL_45NM[x] for x in sorted(AREA_REL_45NM)]))
    return np.exp(np.interp(np.log(n), xs, ys))


def area_scale(node_nm: ArrayLike, kind: str = "logic") -> np.ndarray:
    """Area at ``node_nm`` relative to 28 nm for ``kind`` ``logic`` (gates) or ``cell`` (memory cells).

    >= 20 nm: (node / 28)^2 (D). Below: (20/28)^2 x S(node) / S(20) from [STILLMAKER17] and the
    foundry steps (T); cells below 16 nm: the 16 nm value x the TSMC bitcell ratio B(node) / B(16) (S).
    """
    if kind not in _AREA_KINDS:
        raise ValueError(f"unknown area kind {kind!r}; allowed: {', '.join(_AREA_KINDS)}")
    n = np.asarray(node_nm, dtype=float)
    if np.any(n <= 0):
        raise ValueError(f"node_nm must be > 0, got {node_nm}")
    planar = (n / ANCHOR_NODE_NM) ** 2
    finfet = (FINFET_BELOW_NM / ANCHOR_NODE_NM) ** 2 * _table_rel_45(np.minimum(n, FINFET_BELOW_NM)) \
        / AREA_REL_45NM[FINFET_BELOW_NM]
    logic = np.where(n >= FINFET_BELOW_NM, planar, finfet)
    if kind == "logic":
        return logic
    at16 = (FINFET_BELOW_NM / ANCHOR_NODE_NM) ** 2 * AREA_REL_45NM[CELL_BITCELL_BELOW_NM] \
        / AREA_REL_45NM[FINFET_BELOW_NM]
    bitcell = at16 * _bitcell_um2(n) / SRAM_BITCELL_UM2[CELL_BITCELL_BELOW_NM]
    return np.where(n >= CELL_BITCELL_BELOW_NM, logic, bitcell)


def cell_area_um2(cell_area_f2: float, node_nm: float) -> float:
    """Area of one memory cell quoted as ``cell_area_f2`` F^2: F^2 x node^2 on planar nodes, and the
    FinFET cell curve below 20 nm (:func:`area_scale` with ``kind="cell"``)."""
    try:
        node = float(node_nm)
    except TypeError:   # not one number (an array): area_scale and float() below treat it as before
        node = math.nan
    scale = _cell_area_scale(node) if node > 0 else area_scale(node_nm, "cell")   # a bad node: area_scale's error
    return float(cell_area_f2 * (ANCHOR_NODE_NM * 1e-3) ** 2 * scale)


@lru_cache(maxsize=1024)
def _cell_area_scale(node_nm: float) -> np.float64:
    """:func:`area_scale` of the cells at one node, memoised: every new macro of a sweep asks it (~100 us each)."""
    return area_scale(node_nm, "cell")[()]


def sram_area_at(value_at_reference: float, node_nm: float,
                 reference_nm: float = SRAM_AREA_REFERENCE_NM) -> float:
    """An SRAM bit area quoted at ``reference_nm`` (28 nm for the presets), at ``node_nm``: the cell curve of
    :func:`area_scale` with kind "cell": node^2 on planar nodes, the FinFET table to 16 nm, TSMC bitcells below."""
    if reference_nm <= 0:
        raise ValueError(f"reference_nm must be > 0, got {reference_nm}")
    return float(value_at_reference * _cell_area_ratio(float(node_nm), float(reference_nm)))


@lru_cache(maxsize=1024)
def _cell_area_ratio(node_nm: float, reference_nm: float) -> float:
    """Cell area at ``node_nm`` over ``reference_nm``, memoised: every design point prices its buffers with it."""
    return float(area_scale(node_nm, "cell") / area_scale(reference_nm, "cell"))


def area_regime(node_nm: float) -> str:
    """'planar' (node^2, D) or 'finfet' ([STILLMAKER17] table and foundry steps, T)."""
    return "planar" if node_nm >= FINFET_BELOW_NM else "finfet"


# ------------------------------------------------------------------------------------------ leakage
def leakage_scale(node_nm: ArrayLike, reference_nm: float = ANCHOR_NODE_NM) -> np.ndarray:
    """Leakage power at ``node_nm`` relative to ``reference_nm``: the gate table's leakage curve
    (``circuit.gates.energy_scale("leakage")``: the NeuroSim LSTP row in log-log between 22 and 45 nm, D;
    ~ node x V outside, A), so SRAM cells, SRAM buffers and the periphery follow one curve."""
    # Imported here: circuit.gates imports this module for its area curve.
    from imcsim.circuit.gates import energy_scale
    if reference_nm <= 0:
        raise ValueError(f"reference_nm must be > 0, got {reference_nm}")
    return energy_scale("leakage", node_nm) / energy_scale("leakage", float(reference_nm))


def sram_leakage_at(value_at_reference: float, node_nm: float,
                    reference_nm: float = SRAM_LEAKAGE_REFERENCE_NM) -> float:
    """An SRAM leakage figure quoted at ``reference_nm`` (22 nm for the cards and presets), at ``node_nm``."""
    return float(value_at_reference * _node_leakage_scale(float(node_nm), float(reference_nm)))


@lru_cache(maxsize=1024)
def _node_leakage_scale(node_nm: float, reference_nm: float) -> np.float64:
    """:func:`leakage_scale` of one node, memoised: every design point asks it for its buffers and cells."""
    return leakage_scale(node_nm, reference_nm)
