"""Where forward activations wait between a producer and its consumer: the consumer tile's buffer, the
global buffer, or DRAM. One allocation rule (:func:`stage_edges`) for every engine that stages edges (today
the row event engine, engine/plan.py, where each edge needs its line-buffer rows).

**Rule.** Per consumer tile, the edges' needs (``min_rows x row_bytes``) smallest first while they fit the
tile buffer (``tile.buffer_kib``); the rest of the tile buffer is shared evenly as extra rows (run-ahead).
An edge that does not fit its tile waits in the global buffer (``chip.global_buffer_kib``, first come first
served) for its needed rows, else goes through DRAM (each row written once and read back once). An edge into
a later *pool epoch* (its consumer runs after a streamed layer that the producer does not wait for) holds its
whole map: in the global buffer when it has room, else in DRAM. Edges across a barrier hold nothing here.

**Priced.** Global-buffer staging: ``bytes x (global_buffer_write + global_buffer_read)`` pJ/B; DRAM:
``bytes x 8 x (dram_write + dram_read)`` pJ/bit (engine/evaluation.py adds one ``activations:staged`` op;
``map_activation_global_buffer_bytes``, ``map_activation_spill_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass


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
