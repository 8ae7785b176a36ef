"""NN-Degree: a training-free topology metric of networks with skip links (FLASH [FLASH]).

FLASH defines NN-Degree as an analytical metric of the topology of cell-based networks with skip
connections; its closed form could not be read in any source reachable here (abstract only). This
module implements the reading documented in docs/nas.md, flagged as an **interpretation**:

- Each cell is a graph. Its vertices are the channels of the cell's layer outputs ``x_0 .. x_d``
  (``x_0`` is the output of the cell's transition conv). A conv output channel depends on every
  channel it reads, so a link from ``x_j`` to ``x_i`` (regular ``j = i - 1`` or long-range
  ``j < i - 1``) contributes ``C_j * C_i`` edges, whether the link concatenates or adds.
- The cell's value is its **average degree** ``2 |E| / |V|``; NN-Degree is the **sum over cells**.

For the parametric cells of :mod:`imcsim.workload.zoo.skipnet` (every layer ``w`` channels, ``d``
layers, ``t`` long-range links per layer where they exist) this is
``2 w (d + L) / (d + 1)`` with ``L = sum_i min(t, i - 1)`` long-range links, which
:func:`nn_degree_closed` evaluates on numpy arrays for the search; :func:`nn_degree` computes the
same value from any graph whose ``meta["cells"]`` names the layer outputs of each cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcsim.workload.graph import Graph

INTERPRETATION = ("NN-Degree is an interpretation (FLASH's closed form not readable here): sum over cells of the "
                  "average degree 2|E|/|V| of the cell's channel graph, each link x_j -> x_i giving C_j*C_i edges")


@dataclass(frozen=True)
class CellDegree:
    """One cell's channel graph: vertices, edges (channel pairs) and long-range links."""

    vertices: int
    edges: int
    links: int            # regular + long-range links between layer outputs
    long_range_links: int

    @property
    def average_degree(self) -> float:
        return 2.0 * self.edges / self.vertices


def cell_degrees(graph: Graph) -> list[CellDegree]:
    """The channel graph of every cell listed in ``graph.meta["cells"]`` (layer outputs in order)."""
    cells = graph.meta.get("cells")
    if not cells:
        raise ValueError(f"graph {graph.name!r} has no meta['cells'] (layer outputs per cell); NN-Degree "
                         "needs a cell-structured network such as the 'skipnet' zoo model")
    out = []
    for names in cells:
        index = {n: i for i, n in enumerate(names)}
        chans = [graph[n].out_shape[0] for n in names]
        edges = links = long_range = 0
        for i, name in enumerate(names[1:], start=1):
            for j in _sources(graph, name, index):
                edges += chans[j] * chans[i]
                links += 1
                long_range += j < i - 1
        out.append(CellDegree(sum(chans), edges, links, long_range))
    return out


def nn_degree(graph: Graph) -> float:
    """NN-Degree of a cell-structured graph (see the module docstring for the reading used)."""
    return sum(c.average_degree for c in cell_degrees(graph))


def _sources(graph: Graph, name: str, index: dict[str, int]) -> set[int]:
    """Layer outputs of the same cell that ``name`` reads directly (walking back through non-layer nodes)."""
    found: set[int] = set()
    stack = list(graph[name].inputs)
    seen: set[str] = set()
    while stack:
        n = stack.pop()
        if n in seen or n == "input":
            continue
        seen.add(n)
        if n in index:
            found.add(index[n])
        else:
            stack.extend(graph[n].inputs)
    return found


def long_range_links(depth: np.ndarray | int, skips: np.ndarray | int) -> np.ndarray:
    """``L = sum_{i=1..d} min(t, i - 1)``: with ``m = min(t, d - 1)``, ``m (m + 1) / 2 + m (d - 1 - m)``."""
    d = np.asarray(depth, dtype=np.int64)
    m = np.minimum(np.asarray(skips, dtype=np.int64), d - 1)
    return m * (m + 1) // 2 + m * (d - 1 - m)


def cell_degrees_closed(depth: np.ndarray, width: np.ndarray, skips: np.ndarray) -> np.ndarray:
    """Per-cell NN-Degree of skipnet candidates from their per-cell variables (arrays ``[..., cells]``).

    Cell value ``2 w (d + L) / (d + 1)``: ``|V| = (d + 1) w`` channels, ``|E| = (d + L) w^2``.
    """
    d = np.asarray(depth, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    links = long_range_links(depth, skips)
    return 2.0 * w * (d + links) / (d + 1.0)


def nn_degree_closed(depth: np.ndarray, width: np.ndarray, skips: np.ndarray) -> np.ndarray:
    """NN-Degree of skipnet candidates: the sum over cells of :func:`cell_degrees_closed`."""
    return np.sum(cell_degrees_closed(depth, width, skips), axis=-1)
