"""A whole network onto a budget of macros: does it fit, which layers are replicated, what is reloaded.

Every conv and linear node of the graph is mapped with :func:`~imcsim.mapping.layer.map_layer` (a
training step's graph, with its added branches or adapters, is mapped the same way: pass the step or
its ``.graph``). Ops without stationary weights (attention ``matmul``, embeddings, norms) are not
placed on macros; they are listed in ``NetworkMapping.not_on_macros``.

**Fits.** The network fits when the layers' macros add up to at most ``n_macros``; then every layer is
resident and nothing is reloaded.

**Replication** (``replicate=True``, only when it fits). Layers run as a pipeline, one sample after
another; a layer's time per sample is ``ceil(M / replicas) x step cycles`` (replicas split the M output
positions). Greedy: while spare macros remain, give one more copy to the slowest layer if its macro
count fits in the spare; stop when the slowest layer cannot be copied or a copy would not make it
faster (M = 1). Deterministic; ties go to the earlier layer.

**Reloads** (it does not fit). Policy ``forward-first-fit with a streaming pool``:

1. A *pool* is set aside for the layers that are not resident: the macros of the largest such layer,
   capped at half the budget (rounded up) so that one huge layer cannot evict every other layer.
2. The other ``n_macros - pool`` macros take resident layers, first fit in forward order (a layer that
   does not fit is skipped, later smaller layers may still fit).
3. When the residents change the largest streamed layer, the pool shrinks to it and step 2 runs again
   over the freed macros, until nothing changes.

Every streamed layer is written into the pool each time it runs, so its weights are reloaded once per
pass over the network (per batch); a streamed layer larger than the pool runs in
``ceil(macros / pool)`` rounds. The policy is simple, not optimal (it does not minimise reloaded
weights); it is what ``reloaded``, ``reload_weights`` and ``reload_cells`` report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from imcsim.circuit.macro import MacroConfig, TileTable, cached_figure
from imcsim.errors import SpecError
from imcsim.mapping.layer import LayerMapping, layers_unit_step_cycles, map_layer
from imcsim.memo import IdentityMemo
from imcsim.workload.graph import WEIGHT_OPS, Graph

RELOAD_POLICY = "forward-first-fit with a streaming pool"

#: Everything :func:`map_network` reads from the macro (its geometry and what times one MVM step): macros
#: that agree on these map a network alike, whatever their device or clock, so a sweep over devices reuses
#: the mapping (engine/context.py); the placement itself does not read ``access_cycles`` (only the step cycles
#: scale with it: :meth:`NetworkMapping.at_access`). Reading another macro field here means adding it to this list.
MACRO_FIELDS = ("rows", "cols", "cols_per_weight", "weights_per_row", "rows_parallel", "sense_amps", "in_bits",
                "access_cycles", "input_bits_per_cycle")


@dataclass(frozen=True)
class NetworkMapping:
    """The placement of one network on ``n_macros`` macros."""

    layers: tuple[LayerMapping, ...]
    n_macros: int                       # the budget
    macros_required: int                # all layers resident, one copy each
    fits: bool
    replicas: dict[str, int]            # copies per layer (1 unless replicated)
    step_cycles: dict[str, int]         # cycles of one MVM step of each layer
    resident: tuple[str, ...]
    reloaded: tuple[str, ...]
    pool_macros: int                    # macros set aside for streamed layers (0 when it fits)
    reload_rounds: dict[str, int]       # pool loads per pass for each streamed layer
    not_on_macros: tuple[str, ...]      # nodes with MACs but no stationary weights (attention matmuls)
    policy: str = RELOAD_POLICY
    notes: tuple[str, ...] = field(default_factory=tuple)
    macro_cells: int = 0                # rows x cols of one macro (for chip_fill)

    @cached_figure
    def _by_name(self) -> dict[str, LayerMapping]:
        return {lm.name: lm for lm in self.layers}

    @cached_figure
    def layer_index(self) -> dict[str, int]:
        """Position of each layer in ``layers``."""
        return {lm.name: i for i, lm in enumerate(self.layers)}

    @cached_figure
    def tile_table(self) -> TileTable:
        """The tile shapes of every layer as arrays (what :func:`~imcsim.circuit.macro.layer_costs` prices)."""
        return TileTable.of(lm.tiles for lm in self.layers)

    @cached_figure
    def layer_macros(self) -> np.ndarray:
        """Macros of each layer (one copy), in ``layers`` order."""
        return np.array([lm.macros for lm in self.layers], dtype=np.int64)

    @cached_figure
    def row_tiles(self) -> np.ndarray:
        """Row tiles of each layer (per group), in ``layers`` order."""
        return np.array([lm.row_tiles for lm in self.layers], dtype=np.int64)

    def layer(self, name: str) -> LayerMapping:
        """The mapping of one layer by name (a dict lookup: big graphs ask for thousands)."""
        return self._by_name[name]

    @cached_figure
    def macros_used(self) -> int:
        """Macros occupied: resident copies (with replicas) plus the streaming pool."""
        resident = set(self.resident)
        return sum(lm.macros * self.replicas[lm.name] for lm in self.layers if lm.name in resident) + self.pool_macros

    @cached_figure
    def reload_weights(self) -> int:
        """Weights written into the pool per pass over the network."""
        gone = set(self.reloaded)
        return sum(lm.weights for lm in self.layers if lm.name in gone)

    @cached_figure
    def reload_cells(self) -> int:
        gone = set(self.reloaded)
        return sum(lm.cells_used for lm in self.layers if lm.name in gone)

    @cached_figure
    def utilisation(self) -> float:
        """Cells holding weights over the cells of the macros the layers occupy (one copy each)."""
        avail = sum(lm.cells_available for lm in self.layers)
        return sum(lm.cells_used for lm in self.layers) / avail if avail else 0.0

    @cached_figure
    def chip_fill(self) -> float:
        """Cells holding resident weights over all the chip's cells."""
        total = self.n_macros * self.macro_cells
        return sum(self.layer(n).cells_used for n in dict.fromkeys(self.resident)) / total if total else 0.0

    def layer_cycles(self, name: str) -> int:
        """Pipeline-stage time of a layer per sample: ceil(M / replicas) x step cycles."""
        lm = self.layer(name)
        return -(-lm.m // self.replicas[name]) * self.step_cycles[name]

    @cached_figure
    def bottleneck(self) -> str | None:
        if not self.layers:
            return None
        return max(self.layers, key=lambda lm: self.layer_cycles(lm.name)).name

    def at_access(self, access_cycles: int) -> NetworkMapping:
        """This mapping for macros whose array access takes ``access_cycles`` cycles, when it was made at one
        cycle: every step ``access_cycles`` times as long (a step's cycles are a product whose last factor is the
        access), the same decisions (the replication compares stage times that all scale alike). It shares the
        layers, their tile table, every placement figure and the bottleneck (the slowest stage stays the slowest,
        and equal stages stay equal, so the first of them is the same layer)."""
        if access_cycles == 1:
            return self
        self.bottleneck   # noqa: B018 (made once here, for every access time)
        scaled = object.__new__(NetworkMapping)   # dataclasses.replace without re-running __init__ (~5 us)
        scaled.__dict__.update({name: value for name, value in self.__dict__.items() if name in _SHARED})
        scaled.__dict__["step_cycles"] = {name: c * access_cycles for name, c in self.step_cycles.items()}
        return scaled

    def records(self) -> list[dict[str, Any]]:
        resident = set(self.resident)
        out = []
        for lm in self.layers:
            rec = lm.record()
            rec.update(replicas=self.replicas[lm.name], step_cycles=self.step_cycles[lm.name],
                       layer_cycles=self.layer_cycles(lm.name),
                       placement="resident" if lm.name in resident else "reloaded",
                       reload_rounds=self.reload_rounds.get(lm.name, 0))
            out.append(rec)
        return out

    def summary(self) -> dict[str, Any]:
        return {"n_macros": self.n_macros, "macros_required": self.macros_required, "macros_used": self.macros_used,
                "fits": self.fits, "layers": len(self.layers), "resident_layers": len(self.resident),
                "reloaded_layers": len(self.reloaded), "pool_macros": self.pool_macros,
                "reload_weights": self.reload_weights, "reload_cells": self.reload_cells,
                "bottleneck": self.bottleneck, "policy": self.policy, "utilisation": self.utilisation,
                "chip_fill": self.chip_fill}


#: what :meth:`NetworkMapping.at_access` shares: every field but the step cycles, the cached figures that do not
#: read them, and the bottleneck (which reads only their order)
_SHARED = frozenset({f.name for f in fields(NetworkMapping)} - {"step_cycles"}) | frozenset({
    "_by_name", "layer_index", "tile_table", "layer_macros", "row_tiles", "macros_used", "reload_weights",
    "reload_cells", "utilisation", "chip_fill", "bottleneck"})


def map_network(graph_or_step: Graph | Any, macro: MacroConfig, n_macros: int, replicate: bool = False
                ) -> NetworkMapping:
    """Map every conv/linear node of a graph (or a training step's ``.graph``) onto ``n_macros`` macros.

    The placement is made once per graph, geometry and budget at a one-cycle array access and shared by the
    macros of every device (:meth:`NetworkMapping.at_access`): an access of ``a`` cycles multiplies every
    layer's step cycles by ``a``, which changes no comparison the replication makes."""
    graph = graph_or_step if isinstance(graph_or_step, Graph) else getattr(graph_or_step, "graph", None)
    if not isinstance(graph, Graph):
        raise SpecError(None, "workload", type(graph_or_step).__name__, "a Graph or an object with .graph",
                        problem="cannot map")
    if isinstance(n_macros, bool) or not isinstance(n_macros, int) or n_macros < 1:
        raise SpecError(None, "n_macros", n_macros, "an integer >= 1")
    unit = _UNIT_MAPPINGS.get((graph,), (macro.rows, macro.cols, macro.cols_per_weight, macro.weights_per_row,
                                         macro.rows_parallel, macro.sense_amps, macro.in_bits,
                                         macro.input_bits_per_cycle, n_macros, bool(replicate)),
                              lambda: _map(graph, macro, n_macros, bool(replicate)))
    return unit.at_access(macro.access_cycles)


#: (graph by identity; the geometry fields of MACRO_FIELDS but the access cycles; budget; replication) -> the
#: mapping at a one-cycle access (:func:`map_network`)
_UNIT_MAPPINGS: IdentityMemo[NetworkMapping] = IdentityMemo(maxsize=512)


def _map(graph: Graph, macro: MacroConfig, n_macros: int, replicate: bool) -> NetworkMapping:
    """The mapping of the module docstring with a one-cycle array access (step cycles from
    :func:`~imcsim.mapping.layer.layers_unit_step_cycles`)."""
    layers, table, not_on_macros = _layers_of(graph, macro)
    cycles = dict(zip((lm.name for lm in layers), layers_unit_step_cycles(table, macro)))
    required = sum(lm.macros for lm in layers)
    replicas = {lm.name: 1 for lm in layers}
    notes: list[str] = []
    if required <= n_macros:
        if replicate:
            _replicate(layers, cycles, replicas, n_macros - required)
        return _with_table(NetworkMapping(
            layers=layers, n_macros=n_macros, macros_required=required, fits=True, replicas=replicas,
            step_cycles=cycles, resident=tuple(lm.name for lm in layers), reloaded=(), pool_macros=0,
            reload_rounds={}, not_on_macros=not_on_macros, notes=tuple(notes), macro_cells=macro.rows * macro.cols),
            table)
    if replicate:
        notes.append("replication skipped: the network does not fit in the budget")
    resident, pool = _residency(layers, n_macros)
    reloaded = tuple(lm.name for lm in layers if lm.name not in resident)
    rounds = {lm.name: -(-lm.macros // pool) for lm in layers if lm.name in reloaded}
    return _with_table(NetworkMapping(
        layers=layers, n_macros=n_macros, macros_required=required, fits=False, replicas=replicas,
        step_cycles=cycles, resident=tuple(lm.name for lm in layers if lm.name in resident), reloaded=reloaded,
        pool_macros=pool, reload_rounds=rounds, not_on_macros=not_on_macros, notes=tuple(notes),
        macro_cells=macro.rows * macro.cols), table)


#: (graph by identity; rows, cols, cols per weight, weights per row) -> (its layers, their tile table, the nodes
#: with MACs off the macros); the memo holds the graph, so its id is not reused while the entry lives
_LAYERS: IdentityMemo[tuple[tuple[LayerMapping, ...], TileTable, tuple[str, ...]]] = IdentityMemo(maxsize=256)


def _layers_of(graph: Graph, macro: MacroConfig) -> tuple[tuple[LayerMapping, ...], TileTable, tuple[str, ...]]:
    """Every layer of the graph mapped onto the macro's geometry, their tile table and the nodes with MACs but
    no stationary weights, memoised on the graph and the geometry (what :func:`map_layer` reads): macros that
    differ only in their adder trees, sense amplifiers, device or clock share one ``layers`` tuple and table,
    so what depends only on the layers (the placement and NoC traffic, the deploy write: engine/) is reused
    by identity across them. Read-only."""
    def build() -> tuple[tuple[LayerMapping, ...], TileTable, tuple[str, ...]]:
        layers = tuple(map_layer(node, macro) for node in graph.nodes if node.op in WEIGHT_OPS)
        not_on_macros = tuple(node.name for node in graph.nodes if node.op not in WEIGHT_OPS and node.macs > 0)
        return layers, TileTable.of(lm.tiles for lm in layers), not_on_macros

    return _LAYERS.get((graph,), (macro.rows, macro.cols, macro.cols_per_weight, macro.weights_per_row), build)


def _with_table(mapping: NetworkMapping, table: TileTable) -> NetworkMapping:
    """The mapping with its tile table (already built for the step cycles) in place of the cached one."""
    mapping.__dict__["tile_table"] = table
    return mapping


def _replicate(layers: tuple[LayerMapping, ...], cycles: dict[str, int], replicas: dict[str, int],
               spare: int) -> None:
    """Greedy bottleneck replication (module docstring); updates ``replicas`` in place."""
    if not layers:
        return
    while True:
        def stage(lm: LayerMapping) -> int:
            return -(-lm.m // replicas[lm.name]) * cycles[lm.name]

        slow = max(layers, key=stage)  # max() keeps the first of equals: ties go to the earlier layer
        r = replicas[slow.name]
        faster = -(-slow.m // (r + 1)) < -(-slow.m // r)
        if slow.macros > spare or not faster:
            return
        replicas[slow.name] = r + 1
        spare -= slow.macros


def _residency(layers: tuple[LayerMapping, ...], n_macros: int) -> tuple[set[str], int]:
    """Resident layer names and the pool size under the forward-first-fit policy (module docstring)."""
    resident: set[str] = set()
    cap = -(-n_macros // 2)
    pool = min(cap, max(lm.macros for lm in layers))
    while True:
        budget = n_macros - pool - sum(lm.macros for lm in layers if lm.name in resident)
        for lm in layers:
            if lm.name not in resident and lm.macros <= budget:
                resident.add(lm.name)
                budget -= lm.macros
        streamed = [lm.macros for lm in layers if lm.name not in resident]
        new_pool = min(cap, max(streamed)) if streamed else 0
        if new_pool == pool:
            return resident, pool
        pool = new_pool
