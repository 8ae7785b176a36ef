"""Where forward activations wait between a producer and its consumer: the consumer tile's buffer, the
global buffer, or DRAM. One allocation rule (:func:`stage_edges`) serves the row event engine
(engine/plan.py: each edge needs its line-buffer rows), the analytic row estimate (the same needs, without
building the plan: :func:`analytic_levels`) and layer order (every consumer waits for its producer's whole
map), so activations that do not fit spill to DRAM, with their traffic priced, in inference too and in
every engine.

**Rule.** Per consumer tile, the edges' needs (``min_rows x row_bytes``) smallest first while they fit the
tile buffer (``tile.buffer_kib``); the rest of the tile buffer is shared evenly as extra rows (run-ahead).
An edge that does not fit its tile waits in the global buffer (``chip.global_buffer_kib``, first come first
served) for its needed rows, else goes through DRAM (each row written once and read back once). An edge into
a later *pool epoch* (its consumer runs after a streamed layer that the producer does not wait for) holds its
whole map: in the global buffer when it has room, else in DRAM. Edges across a barrier hold nothing here.

In layer order every consumer waits for its producer's whole map of one sample, and a map lives only until
its consumer has run, so each edge is placed on its own: tile buffer, else global buffer, else DRAM (A).

**Priced.** Global-buffer staging: ``bytes x (global_buffer_write + global_buffer_read)`` pJ/B; DRAM:
``bytes x 8 x (dram_write + dram_read)`` pJ/bit (engine/evaluation.py adds one ``activations:staged`` op;
``map_activation_global_buffer_bytes``, ``map_activation_spill_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from imcsim.engine.context import Context
from imcsim.engine.dataflow import op_rows
from imcsim.engine.noc import forward_flow, forward_traffic


@dataclass(frozen=True)
class EdgeNeed:
    """What one forward edge asks of the buffers."""

    min_rows: int           # rows of the producer the consumer's buffer must hold
    row_bytes: float
    total_rows: int         # producer rows over the batch (traffic of a staged edge = row_bytes x total_rows)
    tile: int               # the consumer's tile
    later_epoch: bool = False
    same_segment: bool = True


def stage_edges(needs: list[EdgeNeed], tile_bytes: float, global_bytes: float) -> list[tuple[str, int]]:
    """``(level, rows)`` per edge (module docstring): ``("tile", line-buffer rows)``, ``("global", rows)``,
    ``("global-whole", 0)``, ``("dram", 0)`` or ``("barrier", 0)``."""
    global_left = global_bytes
    where: dict[int, tuple[str, int]] = {}
    by_tile: dict[int, list[int]] = {}
    for i, n in enumerate(needs):
        if not n.same_segment:
            continue
        if n.later_epoch:
            whole = n.row_bytes * n.total_rows
            if whole <= global_left:
                global_left -= whole
                where[i] = ("global-whole", 0)
            else:
                where[i] = ("dram", 0)
            continue
        by_tile.setdefault(n.tile, []).append(i)
    for idx in by_tile.values():
        left = tile_bytes
        local = []
        for i in sorted(idx, key=lambda i: (needs[i].min_rows * needs[i].row_bytes, i)):
            need_bytes = needs[i].min_rows * needs[i].row_bytes
            if need_bytes <= left:
                left -= need_bytes
                local.append(i)
            elif need_bytes <= global_left:
                global_left -= need_bytes
                where[i] = ("global", needs[i].min_rows)
            else:
                where[i] = ("dram", 0)
        for i in local:
            rb = needs[i].row_bytes
            extra = int(left / len(local) // rb) if rb else 0
            where[i] = ("tile", needs[i].min_rows + extra)
    return [where.get(i, ("barrier", 0)) for i in range(len(needs))]


def staged_bytes(needs: list[EdgeNeed], levels: list[tuple[str, int]]) -> tuple[float, float]:
    """(bytes through DRAM, bytes through the global buffer) of the staged edges."""
    dram = sum(n.row_bytes * n.total_rows for n, (lv, _) in zip(needs, levels) if lv == "dram")
    glob = sum(n.row_bytes * n.total_rows for n, (lv, _) in zip(needs, levels) if lv.startswith("global"))
    return dram, glob


def global_bytes_left(needs: list[EdgeNeed], levels: list[tuple[str, int]], global_bytes: float) -> float:
    """What :func:`stage_edges` leaves free in the global buffer: its size less each staged edge's share (its
    needed rows, or its whole map over the batch)."""
    used = sum(n.row_bytes * (n.total_rows if lv == "global-whole" else rows)
               for n, (lv, rows) in zip(needs, levels) if lv.startswith("global"))
    return global_bytes - used


def analytic_staging(ctx: Context, pool_ops: list[str], segment_of: dict[str, int], whole_maps: bool
                     ) -> tuple[float, float]:
    """(DRAM bytes, global-buffer bytes) of :func:`analytic_levels`."""
    needs, levels, _ = analytic_levels(ctx, pool_ops, segment_of, whole_maps)
    return staged_bytes(needs, levels)


def analytic_levels(ctx: Context, pool_ops: list[str], segment_of: dict[str, int], whole_maps: bool
                    ) -> tuple[list[EdgeNeed], list[tuple[str, int]], list[tuple[str, str]]]:
    """Forward activation staging without building the row plan: each forward edge's need, its level and
    its (producer, consumer) ops. The row engine's needs (``whole_maps=False``: each edge's line-buffer rows,
    pool epochs as the plan derives them from ``pool_ops``, the forward ops on the streaming pool in order,
    segments from ``segment_of``) or layer order's (``whole_maps=True``: every consumer waits for the
    producer's whole map of one sample; module docstring)."""
    flow = forward_flow(ctx.step)
    chip, tile = ctx.accel.chip, ctx.accel.tile
    act_bytes = ctx.macro.in_bits / 8
    # whole maps are placed edge by edge, on no tile in particular (no placement needed)
    tiles = None if whole_maps else forward_traffic(ctx.step, ctx.mapping, chip.tiles, int(tile.macros or 1),
                                                    act_bytes).tile
    graph = ctx.step.graph
    ops = {op.name: op for op in ctx.step.ops}
    order = {name: i for i, name in enumerate(flow.rows)}
    pool_rank = {name: k + 1 for k, name in enumerate(pool_ops)}
    epoch: dict[str, int] = {}
    if not whole_maps:
        for e in flow.edges:
            epoch.setdefault(e.src, pool_rank.get(e.src, 0))
        for e in sorted(flow.edges, key=lambda e: order[e.dst]):
            epoch[e.dst] = max(epoch.get(e.dst, pool_rank.get(e.dst, 0)), epoch[e.src])
    needs = []
    for e in flow.edges:
        node = graph[ops[e.src].node]
        rows = op_rows(node.out_shape)
        needs.append(EdgeNeed(rows if whole_maps else e.min_rows, node.out_elems / rows * act_bytes,
                              flow.rows[e.src] * ctx.batch, tiles[e.dst] if tiles else 0,
                              later_epoch=epoch.get(e.src, 0) < epoch.get(e.dst, 0),
                              same_segment=segment_of.get(e.src, 0) == segment_of.get(e.dst, 0)))
    if whole_maps:
        # layer order: a map lives from its producer's end to its consumer's end, so buffers are reused from
        # edge to edge: each map goes to the tile buffer, else the global buffer, else DRAM, on its own (A:
        # the maps a residual shortcut keeps alive meanwhile are not counted against the space)
        tile_b, glob_b = tile.buffer_kib * 1024, chip.global_buffer_kib * 1024
        levels = [("barrier", 0) if not n.same_segment else ("tile", n.min_rows) if n.min_rows * n.row_bytes <= tile_b
                  else ("global", n.min_rows) if n.min_rows * n.row_bytes <= glob_b else ("dram", 0) for n in needs]
    else:
        levels = stage_edges(needs, tile.buffer_kib * 1024, chip.global_buffer_kib * 1024)
    return needs, levels, [(e.src, e.dst) for e in flow.edges]
