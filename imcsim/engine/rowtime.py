"""How long one row of a forward op takes in the row pipeline: the one formula, over many ops at once.

Both users read it: the row plan (engine/plan.py) rounds each stage up to whole cycles and turns it into
events; the analytic row estimate (engine/estimate.py) takes the unrounded figures as a lower bound. One
definition, so the two engines cannot time a row differently.

A forward op's row is at most two stages (module docstring of engine/plan.py):

- an MVM on macros (``MVM``): its input and output rows through the tile buffer port (``nbytes / rows /
  tile.buffer_bytes_per_cycle``, when it moves bytes), then ``(cycles - fill) / rows`` on its macros; the
  pipeline fill (``macro.pipeline_depth_cycles``) is added to each sample's first row when the op lasts
  at least ``depth + rows`` cycles (else 0);
- a digital GEMM (``GEMM``, attention): its operands through the global buffer port (``nbytes / rows /
  chip.global_buffer_bytes_per_cycle``), then ``cycles / rows`` on the pooled digital units;
- anything else (``OTHER``: norms, activations, pooling, adds, an MVM off the macros): one stage,
  ``max(cycles, port) / rows`` with ``port = nbytes / (tile.buffer_bytes_per_cycle x chip.tiles)`` when its
  bytes go through every tile's port (``port_bytes`` kind ``tiles``), else ``cycles / rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from imcsim.engine.context import Context
from imcsim.engine.costs import PricedStep

MVM, GEMM, OTHER = 0, 1, 2
_NO_PORT = ("", 0.0)


def row_mode(op_kind: str, resource_kind: str) -> int:
    """Which formula times the op's row: ``MVM`` (an MVM on macros), ``GEMM`` or ``OTHER``."""
    if op_kind == "mvm" and resource_kind == "macros":
        return MVM
    return GEMM if op_kind == "gemm" else OTHER


class RowTimes(NamedTuple):
    """Per op, unrounded cycles: the pre-stage through a buffer port (the tile buffer for ``MVM``, the global
    buffer for ``GEMM``; ``has_pre`` where it moves bytes), the unit stage, and the fill of each sample's
    first row (whole cycles)."""

    pre: np.ndarray
    has_pre: np.ndarray
    unit: np.ndarray
    fill: np.ndarray


def row_times(cycles: np.ndarray, rows: np.ndarray, mode: np.ndarray, nbytes: np.ndarray, port_tiles: np.ndarray,
              *, depth: int, tile_bytes_per_cycle: float, global_bytes_per_cycle: float, tiles: int) -> RowTimes:
    """The module docstring's formulas, elementwise over ops: ``cycles`` priced per sample, ``rows`` per
    sample, ``mode`` from :func:`row_mode`, ``nbytes`` the op's port bytes per sample, ``port_tiles`` whether
    they go through every tile's port."""
    mvm, gemm = mode == MVM, mode == GEMM
    fill = np.where(mvm & (cycles >= depth + rows), depth, 0)
    pre = np.where(mvm, nbytes / rows / tile_bytes_per_cycle, nbytes / rows / global_bytes_per_cycle)
    has_pre = (nbytes != 0) & (mvm | gemm)
    port_cycles = np.where(port_tiles, nbytes / (tile_bytes_per_cycle * tiles), 0.0)
    unit = np.where(mvm, (cycles - fill) / rows, np.where(gemm, cycles / rows, np.maximum(cycles, port_cycles) / rows))
    return RowTimes(pre, has_pre, unit, fill)


def forward_rows(ctx: Context, priced: PricedStep, names: Sequence[str], item_index: Sequence[int],
                 rows: np.ndarray, mode: np.ndarray) -> RowTimes:
    """:func:`row_times` of these forward ops of a priced step: op ``names[k]`` is priced by item
    ``item_index[k]`` and streams ``rows[k]`` rows per sample, timed by formula ``mode[k]``."""
    chip, tile = ctx.accel.chip, ctx.accel.tile
    items = priced.items
    cycles = np.array([items[i].cycles for i in item_index], dtype=float)
    ports = [priced.port_bytes.get(name, _NO_PORT) for name in names]
    nbytes = np.array([b for _, b in ports], dtype=float)
    port_tiles = np.array([k == "tiles" for k, _ in ports], dtype=bool)
    return row_times(cycles, np.asarray(rows, dtype=np.int64), np.asarray(mode, dtype=np.int64), nbytes, port_tiles,
                     depth=int(ctx.macro.pipeline_depth_cycles), tile_bytes_per_cycle=tile.buffer_bytes_per_cycle,
                     global_bytes_per_cycle=chip.global_buffer_bytes_per_cycle, tiles=chip.tiles)


def whole_cycles(x: np.ndarray) -> np.ndarray:
    """A stage lasts a whole number of cycles, at least one (``plan._cycles`` over an array)."""
    return np.maximum(1, np.ceil(np.asarray(x, dtype=float) - 1e-9)).astype(np.int64)
