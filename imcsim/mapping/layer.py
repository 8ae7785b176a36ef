"""One conv or linear layer onto bit-serial IMC macros: tiles, macros, cells, utilisation, MVM steps.

A layer's im2col GEMM is ``(groups, M, K, N)`` (:meth:`imcsim.workload.graph.Node.gemm_shape`): for each
of ``groups`` groups, ``M`` output positions (tokens), each a matrix-vector product of a K-long input
vector with a K x N weight block. Weights stay in the arrays; inputs stream in, one MVM step per output
position. A weight of ``w_bits`` occupies ``cols_per_weight = ceil(w_bits / bits_per_cell)`` adjacent
columns of one row, and is never split across macros.

Schemes (``LayerMapping.scheme``):

- ``dense`` (groups = 1): rows = K, columns = N x cols_per_weight. ``row_tiles = ceil(K / rows)``,
  ``col_tiles = ceil(N / weights_per_row)``, one macro per (row tile, column tile). Every macro runs M
  steps per sample; partial sums of the row tiles are added in the tile's digital accumulator.
- ``block_diagonal`` (groups > 1, one group's K x N block fits a macro): the im2col matrix of a grouped
  conv is block-diagonal (group g's outputs see only group g's inputs), so mapping it as one dense
  (groups x K) x (groups x N) matrix would store and read mostly zeros. Instead the blocks are packed
  along the macro's diagonal: group blocks occupy disjoint rows (each group has its own inputs) and
  disjoint columns (its own outputs), ``groups_per_macro = min(rows // K, weights_per_row // N)``, so
  ``macros = ceil(groups / groups_per_macro)``. All groups of a macro compute in the same MVM step
  (their rows are driven together; the off-diagonal cells hold 0 and add nothing). A depthwise conv
  (K = kh x kw, N = 1) puts each channel in kh x kw rows and cols_per_weight columns: a 3x3 depthwise
  layer on a 128 x 128 macro at 8-bit weights packs min(128 // 9, 16 // 1) = 14 channels, using
  14 x 9 x 8 = 1008 of 16384 cells (6.2 %); the cost model still reads the whole 126 x 112 footprint.
- ``group_tiled`` (groups > 1 and one block does not fit): each group is tiled densely on its own
  macros (no packing), ``macros = groups x row_tiles x col_tiles``.

The tile shapes (full tiles and remainders) are returned as :class:`~imcsim.circuit.macro.TileUse`
records, which is what :func:`imcsim.circuit.macro.layer_cost` prices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from imcsim.circuit.macro import MacroConfig, TileTable, TileUse, mvm_cycles
from imcsim.errors import SpecError
from imcsim.workload.graph import WEIGHT_OPS, Node


@dataclass(frozen=True)
class LayerMapping:
    """Where one layer's weights go and how often the macros are stepped."""

    name: str
    op: str
    scheme: str                 # dense | block_diagonal | group_tiled
    groups: int
    m: int                      # MVM steps per sample (output positions / tokens)
    k: int                      # im2col rows per group
    n: int                      # outputs per group
    cols_per_weight: int
    row_tiles: int              # per group (1 for block_diagonal)
    col_tiles: int              # per group (1 for block_diagonal)
    groups_per_macro: int       # groups packed on one macro (block_diagonal), else 1
    macros: int
    weights: int                # groups x K x N
    cells_used: int             # weights x cols_per_weight
    cells_available: int        # macros x rows x cols
    tiles: tuple[TileUse, ...]

    @property
    def utilisation(self) -> float:
        """Cells holding weight bits / cells of the macros the layer occupies."""
        return self.cells_used / self.cells_available if self.cells_available else 0.0

    @property
    def mvm_steps_per_sample(self) -> int:
        """Steps each of the layer's macros runs per sample (all macros in parallel)."""
        return self.m

    @property
    def macs_per_sample(self) -> int:
        return self.m * self.weights

    def record(self) -> dict[str, Any]:
        return {"layer": self.name, "op": self.op, "scheme": self.scheme, "groups": self.groups, "m": self.m,
                "k": self.k, "n": self.n, "row_tiles": self.row_tiles, "col_tiles": self.col_tiles,
                "groups_per_macro": self.groups_per_macro, "macros": self.macros, "weights": self.weights,
                "cells_used": self.cells_used, "utilisation": self.utilisation,
                "mvm_steps_per_sample": self.mvm_steps_per_sample, "macs_per_sample": self.macs_per_sample}


def _splits(total: int, size: int) -> list[tuple[int, int]]:
    """(chunk, how many) covering ``total`` in chunks of ``size``: full chunks then the remainder."""
    full, rest = divmod(total, size)
    out = [(size, full)] if full else []
    if rest:
        out.append((rest, 1))
    return out


def _dense_tiles(k: int, n: int, rows: int, wpr: int, cpw: int, repeat: int = 1) -> list[TileUse]:
    tiles = []
    for rows_used, nr in _splits(k, rows):
        for outs, nc in _splits(n, wpr):
            tiles.append(TileUse(rows_used=rows_used, cols_used=outs * cpw, weights=rows_used * outs,
                                 count=nr * nc * repeat))
    return tiles


def map_layer(node: Node, macro: MacroConfig) -> LayerMapping:
    """Map one conv or linear node onto macros of ``macro`` (see the module docstring for the rules)."""
    if node.op not in WEIGHT_OPS:
        raise SpecError(None, f"layer {node.name}", node.op, "conv or linear (weights held in IMC arrays)",
                        problem="op cannot be mapped onto macros:")
    groups, m, k, n = (int(v) for v in node.gemm_shape())
    return _map_gemm(node.name, node.op, groups, m, k, n, macro.rows, macro.cols, macro.cols_per_weight,
                     macro.weights_per_row)


# The placement depends on the macro's geometry only (not on its device, clock or adder trees): a sweep
# over devices or rows_parallel reuses it.
@lru_cache(maxsize=1 << 14)
def _map_gemm(name: str, op: str, groups: int, m: int, k: int, n: int, rows: int, cols: int, cpw: int,
              wpr: int) -> LayerMapping:
    weights = groups * k * n
    if groups == 1:
        scheme, gpm = "dense", 1
        row_tiles, col_tiles = -(-k // rows), -(-n // wpr)
        macros = row_tiles * col_tiles
        tiles = _dense_tiles(k, n, rows, wpr, cpw)
    elif k <= rows and n <= wpr:
        scheme = "block_diagonal"
        gpm = min(rows // k, wpr // n, groups)
        row_tiles = col_tiles = 1
        macros = -(-groups // gpm)
        tiles = [TileUse(rows_used=g * k, cols_used=g * n * cpw, weights=g * k * n, count=c)
                 for g, c in _splits(groups, gpm)]
    else:
        scheme, gpm = "group_tiled", 1
        row_tiles, col_tiles = -(-k // rows), -(-n // wpr)
        macros = groups * row_tiles * col_tiles
        tiles = _dense_tiles(k, n, rows, wpr, cpw, repeat=groups)
    merged: Counter[tuple[int, int, int]] = Counter()
    for t in tiles:
        merged[(t.rows_used, t.cols_used, t.weights)] += t.count
    tile_uses = tuple(TileUse(r, c, w, cnt) for (r, c, w), cnt in sorted(merged.items(), reverse=True))
    assert sum(t.count for t in tile_uses) == macros and sum(t.weights * t.count for t in tile_uses) == weights
    return LayerMapping(name=name, op=op, scheme=scheme, groups=groups, m=m, k=k, n=n,
                        cols_per_weight=cpw, row_tiles=row_tiles, col_tiles=col_tiles, groups_per_macro=gpm,
                        macros=macros, weights=weights, cells_used=weights * cpw,
                        cells_available=macros * rows * cols, tiles=tile_uses)


def step_cycles(mapping: LayerMapping, macro: MacroConfig) -> int:
    """Cycles of one MVM step of the layer: its slowest tile (all tiles run in parallel)."""
    return layers_step_cycles(TileTable.of([mapping.tiles]), macro)[0]


def layers_step_cycles(tiles: TileTable, macro: MacroConfig) -> list[int]:
    """:func:`step_cycles` of many layers at once (numpy over their tile shapes): their
    :func:`layers_unit_step_cycles` times the macro's access cycles."""
    access = macro.access_cycles
    return [c * access for c in layers_unit_step_cycles(tiles, macro)]


def layers_unit_step_cycles(tiles: TileTable, macro: MacroConfig) -> list[int]:
    """The step cycles of each layer with a one-cycle array access: the slowest tile's :func:`mvm_cycles` at
    ``access=1``. A step's cycles are a product whose last factor is the access cycles, so in integers the
    slowest tile at ``a`` cycles an access takes ``a`` times these, exactly (macros of the same geometry on
    devices of other read latencies share them: mapping/network.py)."""
    tiles = tiles.on(macro)
    cycles = mvm_cycles(tiles.rows_used, tiles.cols_used, macro.rows_parallel, macro.sense_amps, macro.in_bits,
                        1, macro.input_bits_per_cycle)
    return [int(c) for c in np.where(tiles.count > 0, cycles, 0).max(axis=1)]


def round_step_cycles(mapping: LayerMapping, macro: MacroConfig, pool: int) -> list[int]:
    """Step cycles of each round when the layer runs on ``pool`` macros at a time: its tiles (largest
    first, the order of ``mapping.tiles``) taken ``pool`` at a time, each round as slow as its slowest
    tile. One round (the whole layer at once) when ``pool`` covers its macros."""
    per_tile = [int(mvm_cycles(t.rows_used, t.cols_used, macro.rows_parallel, macro.sense_amps, macro.in_bits,
                               macro.access_cycles, macro.input_bits_per_cycle))
                for t in mapping.tiles for _ in range(t.count)]
    pool = max(1, int(pool))
    return [max(per_tile[i:i + pool]) for i in range(0, len(per_tile), pool)]
