"""Forward activation traffic on the mesh NoC, from the placement: which tile each forward op runs on, and
which of its output edges cross tiles and over how many hops (XY routing, mapping/placement.py).

Both engines read this: the cost model (engine/costs.py) prices a forward MVM's NoC energy and (in layer
order) its NoC stage from it, and the row engine (engine/plan.py) puts its tasks on these tiles and routes
the same edges over the same links, so hop counts and NoC energy follow the placement in both.

**Tiles.** A layer with weights runs on its home tile (the pool's tile when it is streamed); an op without
weights (norm, activation, pooling, add, attention) runs at the tile of its first producer, else tile 0.

**Traffic.** A forward edge (engine/dataflow.py) from an op on tile ``a`` to an op on tile ``b != a``
carries the producer node's whole output (``out_elems`` x the activation width) over ``hops(a, b)`` links.
The width is one for every node (the CNN's activations), unless ``widths`` names a node's own (an SNN's
1-bit spikes, its spike counts and currents: snn/cost.py).
Each crossing is charged to the *group* of its producer: the op with weights whose tile the producer
inherited (a conv, its norm and activation form one group). A group's traffic is the MVM op's NoC cost:
energy ``bits x hops x tile_pitch_mm x noc_energy_pj_per_bit_per_mm``; time (layer order) ``bits /
noc_width_bits + hops x noc_hop_latency_cycles`` per crossing, the crossings one after the other (A). A
group headed by an op without weights (nothing upstream has weights) carries the energy of its crossings
on that op's record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imcsim.engine.dataflow import Dataflow, build_dataflow
from imcsim.mapping.network import NetworkMapping
from imcsim.mapping.placement import Placement, place
from imcsim.memo import IdentityMemo
from imcsim.workload.step import TrainingStep

_FLOWS: IdentityMemo[Dataflow] = IdentityMemo(64)


def forward_flow(step: TrainingStep) -> Dataflow:
    """The row dataflow of a step's forward ops, built once per step (steps are cached per workload x
    method, so a sweep builds it once)."""
    return _FLOWS.get((step,), (), lambda: build_dataflow(
        step.graph, [(op.name, op.node) for op in step.ops if op.phase == "forward"]))


@dataclass(frozen=True)
class Traffic:
    """Forward ops' tiles and the cross-tile crossings charged to each group (module docstring)."""

    placement: Placement
    tile: dict[str, int]                                   # forward op -> tile
    group: dict[str, str]                                  # forward op -> the op with weights it runs with
    crossings: dict[str, tuple[tuple[float, int], ...]]    # group op -> ((bits, hops), ...)


_TRAFFIC: IdentityMemo[Traffic] = IdentityMemo(256)


def forward_traffic(step: TrainingStep, mapping: NetworkMapping, tiles: int, macros_per_tile: int,
                    act_bytes: float, widths: tuple[tuple[str, float], ...] = ()) -> Traffic:
    """Memoised on what it reads: the step and the mapping's layers (by identity: mappings of one array
    geometry share their ``layers``, mapping/network.py), which of them are resident and their replicas (the
    placement reads nothing else), the mesh and the activation widths. The cost model and the staging rule
    ask for one point's traffic, and a sweep over devices, adder trees or column muxes shares it. Read-only.
    ``widths``: (graph node, bits per output element) of producers not ``act_bytes`` wide."""
    return _TRAFFIC.get((step, mapping.layers), (mapping.resident, tuple(mapping.replicas.values()), tiles,
                                                 macros_per_tile, act_bytes, widths),
                        lambda: _traffic(step, mapping, tiles, macros_per_tile, act_bytes, widths))


def noc_energy_pj(crossings: tuple[tuple[float, int], ...], tile_pitch_mm: float,
                  pj_per_bit_per_mm: float) -> float:
    """Link energy of ``(bits, hops)`` crossings: bit-hops x tile pitch x energy per bit per mm."""
    return sum(bits * hops for bits, hops in crossings) * tile_pitch_mm * pj_per_bit_per_mm


def noc_cycles(crossings: tuple[tuple[float, int], ...], width_bits: float, hop_latency_cycles: float) -> float:
    """Layer-order time of ``(bits, hops)`` crossings, one after the other (A): bits / width + hops x latency."""
    return sum(bits / width_bits + hops * hop_latency_cycles for bits, hops in crossings)


def link_stages(route: tuple[tuple[int, int], ...], bits: float, width_bits: float, hop_latency_cycles: float
                ) -> tuple[tuple[tuple[int, int], int, int], ...]:
    """How an event engine holds the links of one transfer (a packet of ``bits`` over an XY ``route``), virtual
    cut-through [DALLY-TOWLES] (A; docs/engine.md, "NoC links"): ``(link, hold, delay)`` per link in route order.

    - The packet's head takes link ``i`` once it has reached router ``i`` and the link is free (the first link
      once the row is produced); each link is then held ``hold = ceil(bits / width_bits)`` whole cycles (at least
      one: its flits streaming through) and released, whatever the head meets further on.
    - The head reaches the next router ``delay`` cycles after taking a link (the hop latency, rounded to whole
      cycles, at least one: a head advances at most one router per cycle, so no hold ever starts in the instant
      the previous one was granted); a head that finds its next link busy waits in that router, whose buffer
      holds a whole packet (A: never full), so it never holds the link behind it.
    - After the last link the packet is delivered its ``hold`` plus ``delay`` (the hop latency, rounded, may be
      zero) after taking it: the tail's flits, then the last hop.

    Alone a transfer thus takes ``hops x latency + ceil(bits / width)`` (:func:`transfer_cycles`), which is
    :func:`noc_cycles` up to the rounding. The row engine's ``plan.transfer_stages`` holds a row this way and the
    SNN timeline a crossing."""
    hold = max(1, math.ceil(bits / width_bits - 1e-9))
    delay = int(round(hop_latency_cycles))
    last = len(route) - 1
    return tuple((link, hold, delay if i == last else max(1, delay)) for i, link in enumerate(route))


def transfer_cycles(stages: tuple[tuple[object, int, int], ...]) -> int:
    """Cycles of one transfer held as :func:`link_stages` says, with no other traffic: the head's ``delay`` at
    every link but the last, then the last link's ``hold`` and ``delay``."""
    if not stages:
        return 0
    return sum(delay for _, _, delay in stages[:-1]) + stages[-1][1] + stages[-1][2]


def link_cycles(crossings: tuple[tuple[float, int], ...], width_bits: float, hop_latency_cycles: float) -> float:
    """Time of ``(bits, hops)`` crossings held as :func:`link_stages` holds them, one after the other, no
    contention: per crossing ``hops x hop latency + ceil(bits / width)`` (:func:`transfer_cycles`)."""
    return float(sum(transfer_cycles(link_stages(((0, 0),) * hops, bits, width_bits, hop_latency_cycles))
                     for bits, hops in crossings))


def _traffic(step: TrainingStep, mapping: NetworkMapping, tiles: int, macros_per_tile: int,
             act_bytes: float, widths: tuple[tuple[str, float], ...] = ()) -> Traffic:
    placement = place(mapping, tiles, macros_per_tile)
    flow = forward_flow(step)
    ops = {op.name: op for op in step.ops if op.phase == "forward"}
    first_src: dict[str, str] = {}
    for e in flow.edges:
        first_src.setdefault(e.dst, e.src)
    tile: dict[str, int] = {}
    group: dict[str, str] = {}
    for name, op in ops.items():   # forward order: a producer comes before its consumers
        if op.node in placement.home:
            tile[name], group[name] = placement.home[op.node], name
        elif name in first_src and first_src[name] in tile:
            src = first_src[name]
            tile[name], group[name] = tile[src], group[src]
        else:
            tile[name], group[name] = 0, name
    crossings: dict[str, list[tuple[float, int]]] = {}
    graph = step.graph
    width = dict(widths)
    for e in flow.edges:
        hops = placement.hops(tile[e.src], tile[e.dst])
        if hops:
            node = ops[e.src].node
            w = width.get(node)
            bits = graph[node].out_elems * act_bytes * 8 if w is None else graph[node].out_elems * w
            crossings.setdefault(group[e.src], []).append((bits, hops))
    return Traffic(placement, tile, group, {k: tuple(v) for k, v in crossings.items()})
