"""Process-node facts shared by devices and circuits: area per node.

Why one module: the area of a memory cell (device cards quote it in F^2) and the area of a unit gate
(:mod:`imcsim.circuit.gates`) follow the node, and must follow it the same way wherever they are
priced. Nothing else re-derives these curves.

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
- **Cells** (SRAM and NVM arrays, quoted in F^2 at the cell's own node) follow the same curve, except that
  below 5 nm they do not shrink: TSMC's N3E high-density SRAM bitcell is the N5 one, 0.021 um^2
  [IEDM22-SRAM] (S). NVM cells are access-transistor limited, so they are given the same curve (A).
"""

from __future__ import annotations

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

#: Cells do not shrink below this node ([IEDM22-SRAM]: N3E bitcell = N5 bitcell, 0.021 um^2, S).
CELL_FLOOR_NM = 5.0

_AREA_KINDS = ("logic", "cell")


def _table_rel_45(n: np.ndarray) -> np.ndarray:
    xs = np.log(np.array(sorted(AREA_REL_45NM)))
    ys = np.log(np.array([AREA_REL_45NM[x] for x in sorted(AREA_REL_45NM)]))
    return np.exp(np.interp(np.log(n), xs, ys))


def area_scale(node_nm: ArrayLike, kind: str = "logic") -> np.ndarray:
    """Area at ``node_nm`` relative to 28 nm for ``kind`` ``logic`` (gates) or ``cell`` (memory cells).

    >= 20 nm: (node / 28)^2 (D). Below: (20/28)^2 x S(node) / S(20) from [STILLMAKER17] and the
    foundry steps (T); cells are held at their 5 nm size below 5 nm ([IEDM22-SRAM]).
    """
    if kind not in _AREA_KINDS:
        raise ValueError(f"unknown area kind {kind!r}; allowed: {', '.join(_AREA_KINDS)}")
    n = np.asarray(node_nm, dtype=float)
    if np.any(n <= 0):
        raise ValueError(f"node_nm must be > 0, got {node_nm}")
    if kind == "cell":
        n = np.maximum(n, CELL_FLOOR_NM)
    planar = (n / ANCHOR_NODE_NM) ** 2
    finfet = (FINFET_BELOW_NM / ANCHOR_NODE_NM) ** 2 * _table_rel_45(np.minimum(n, FINFET_BELOW_NM)) \
        / AREA_REL_45NM[FINFET_BELOW_NM]
    return np.where(n >= FINFET_BELOW_NM, planar, finfet)


def cell_area_um2(cell_area_f2: float, node_nm: float) -> float:
    """Area of one memory cell quoted as ``cell_area_f2`` F^2: F^2 x node^2 on planar nodes, and the
    FinFET cell curve below 20 nm (:func:`area_scale` with ``kind="cell"``)."""
    return float(cell_area_f2 * (ANCHOR_NODE_NM * 1e-3) ** 2 * area_scale(node_nm, "cell"))


def area_regime(node_nm: float) -> str:
    """'planar' (node^2, D) or 'finfet' ([STILLMAKER17] table and foundry steps, T)."""
    return "planar" if node_nm >= FINFET_BELOW_NM else "finfet"
