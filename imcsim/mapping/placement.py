"""Tiles on a 2-D mesh, layers on tiles, and XY routes between them.

**Mesh.** ``tiles`` tiles in a row-major grid ``cols = ceil(sqrt(tiles))`` wide; tile ``i`` sits at
``(i % cols, i // cols)``. Neighbouring tiles are ``chip.tile_pitch_mm`` apart.

**Placement policy** (deterministic): macros are numbered tile by tile (``tile.macros`` per tile).
Resident layers take consecutive macros in forward order, replicas included; the streaming pool comes
after them. A layer's *home tile* is the tile of its first macro: its outputs leave from there and its
inputs arrive there. Ops without weights (norms, activations, pooling, attention) run at the home tile of
the op that feeds them (the engine's plan decides that).

**Routing.** Dimension-ordered XY routing: first along x, then along y. Every directed link between two
neighbours is one resource; a route is the list of links it crosses (empty within a tile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imcsim.mapping.network import NetworkMapping

POOL_NAME = "<pool>"


@dataclass(frozen=True)
class Placement:
    cols: int                      # mesh width in tiles
    tiles: int
    home: dict[str, int]           # layer (or POOL_NAME) -> home tile

    def xy(self, tile: int) -> tuple[int, int]:
        return tile % self.cols, tile // self.cols

    def route(self, a: int, b: int) -> tuple[tuple[int, int], ...]:
        """Links (from tile, to tile) crossed from tile ``a`` to tile ``b`` by XY routing."""
        links: list[tuple[int, int]] = []
        (x, y), (bx, by) = self.xy(a), self.xy(b)
        cur = a
        while x != bx:
            x += 1 if bx > x else -1
            nxt = y * self.cols + x
            links.append((cur, nxt))
            cur = nxt
        while y != by:
            y += 1 if by > y else -1
            nxt = y * self.cols + x
            links.append((cur, nxt))
            cur = nxt
        return tuple(links)

    def hops(self, a: int, b: int) -> int:
        """Links of the XY route from tile ``a`` to tile ``b`` (x and y distance on the mesh)."""
        cols = self.cols
        return abs(a % cols - b % cols) + abs(a // cols - b // cols)


def place(mapping: NetworkMapping, tiles: int, macros_per_tile: int) -> Placement:
    """Home tiles of every mapped layer (and of the pool) by the policy of the module docstring."""
    cols = max(1, math.ceil(math.sqrt(tiles)))
    per_tile = max(1, int(macros_per_tile))
    resident = set(mapping.resident)
    home: dict[str, int] = {}
    nxt = 0
    for lm in mapping.layers:
        if lm.name in resident:
            home[lm.name] = min(nxt // per_tile, tiles - 1)
            nxt += lm.macros * mapping.replicas.get(lm.name, 1)
    pool_tile = min(nxt // per_tile, tiles - 1)
    home[POOL_NAME] = pool_tile
    for lm in mapping.layers:
        if lm.name not in resident:
            home[lm.name] = pool_tile
    return Placement(cols, tiles, home)
