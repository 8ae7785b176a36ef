"""The analytic engine's estimate of row pipelining (``chip.pipeline: row``): a proven lower bound.

The event engine runs a priced step as row streams (engine/plan.py, engine/events.py); simulating it
costs milliseconds to seconds. The analytic engine instead computes, from the same priced step and the
same per-row stage times (``plan.forward_row_stages``), the largest of these lower bounds, segment by
segment (a segment ends at a barrier: a spill of stored tensors, batch-shared digital work):

- **a layer's stream** (fill + slowest stage x rows): op k cannot start its first row before its
  producers have finished the rows that row needs (``head_k``: longest path of first rows,
  ``first_p + (hi[0] - 1) x row_p`` along each edge, ``first`` including the pipeline fill); it then runs
  ``batch x rows`` rows one after the other (``B x total_k``); after its last row, each consumer still runs
  the rows that need that last row (``tail_k``, longest path over consumers). Bound: ``max_k (head_k +
  B x total_k + tail_k)``.
- **a shared resource**: a contended resource (a macro group, the streaming pool; with
  ``chip.contention`` also the digital units and the global buffer port) serves its users' rows one at a
  time: the sum of their busy cycles.
- **the streaming pool**: when every streamed layer has its own reload, the pool is used in turn: the
  first fetch, then each reload write and the layer's rows (a write waits for the previous layer).
- **the backward chain** (training): the ops that are not row-pipelined form the flow shop of the layer
  engine, started once the first sample's forward pass can have ended: ``fwd_0 + max_r (head_r + B x
  busy_r + tail_r)`` (engine/schedule.py).

Every bound drops a constraint of the event engine (line-buffer capacity, NoC links and DRAM channels,
the tile buffer ports, write drivers, arbitration order) and every per-row time is the unrounded one the
plan rounds up, so ``estimate <= event``. The event latency in turn is at most
``Plan.serial_cycles()`` (every event one after the other). Tests hold ``estimate <= event <= serial``
on random small networks and on ResNet-18 and MobileNetV2 (docs/engine.md has the measured gaps).
"""

from __future__ import annotations

from dataclasses import dataclass

from imcsim.engine.context import Context
from imcsim.engine.costs import POOL, PricedStep
from imcsim.engine.dataflow import build_dataflow
from imcsim.engine.memo import IdentityMemo
from imcsim.engine.noc import forward_flow, forward_traffic
from imcsim.engine.plan import GBUF, barrier_kind, forward_row_stages
from imcsim.engine.schedule import Barrier, Stage, _flow_shop_bound, resource_kind
from imcsim.engine.staging import analytic_staging


@dataclass(frozen=True)
class _Flow:
    """The hardware-free part of the row dataflow of one step: rows per op and, per edge, the producer
    rows the consumer's first row needs and how many consumer rows need the producer's last row."""

    rows: dict[str, int]
    edges: tuple[tuple[str, str, int, int], ...]     # (src, dst, hi[0], rows needing the last src row)
    sinks: tuple[str, ...]


_FLOWS: IdentityMemo[_Flow] = IdentityMemo(64)


def _flow(ctx: Context, forward: list[tuple[str, str]]) -> _Flow:
    """Per training step (steps are cached per workload x method, so a sweep builds this once)."""
    def build() -> _Flow:
        flow = build_dataflow(ctx.step.graph, forward)
        edges = tuple((e.src, e.dst, int(e.need.hi[0]), int((e.need.hi >= flow.rows[e.src]).sum()))
                      for e in flow.edges)
        return _Flow(dict(flow.rows), edges, flow.sinks)

    return _FLOWS.get((ctx.step,), (), build)


_ESTIMATES: IdentityMemo[float] = IdentityMemo(64)


def row_estimate_cycles(ctx: Context, priced: PricedStep) -> float:
    """Latency lower bound of the row-pipelined event engine for this priced step (module docstring).
    Memoised on what it reads: the item list (points that price alike share it, engine/costs.py, and with
    it the port bytes), the batch and the context's pieces (the step, mapping, macro, accelerator and
    device objects the context builders memoise); a sweep over write options or steps per day asks once."""
    return _ESTIMATES.get((priced.items, ctx.step, ctx.mapping, ctx.macro, ctx.accel, ctx.device), (ctx.batch,),
                          lambda: _estimate(ctx, priced))


_KINDS: dict[str, str] = {}


def _kinds() -> dict[str, str]:
    """resource -> :func:`resource_kind`, memoised (the same resource names recur at every point)."""
    if len(_KINDS) > 4096:
        _KINDS.clear()
    return _KINDS


def _estimate(ctx: Context, priced: PricedStep) -> float:
    ops = {op.name: op for op in ctx.step.ops}
    items = priced.items
    forward = [(s.op, ops[s.op].node) for s in items
               if not isinstance(s, Barrier) and s.op in ops and ops[s.op].phase == "forward"]
    flow = _flow(ctx, forward)
    fwd = {name for name, _ in forward}
    batch = ctx.batch
    contention = ctx.accel.chip.contention
    total = 0.0
    seg: list = []
    for item in items:
        if isinstance(item, Barrier) and barrier_kind(item, ops) == "barrier":
            total += _segment(ctx, priced, seg, flow, fwd, ops, batch, contention)
            total += sum(s.cycles for s in item.stages)
            seg = []
        else:
            seg.append(item)
    return total + _segment(ctx, priced, seg, flow, fwd, ops, batch, contention)


def _segment(ctx: Context, priced: PricedStep, items: list, flow: _Flow, fwd: set[str], ops: dict,
             batch: int, contention: bool) -> float:
    row: dict[str, float] = {}      # one row after the first, all stages
    first: dict[str, float] = {}    # the first row of a sample (with the fill)
    per_sample: dict[str, float] = {}
    busy: dict[str, float] = {}     # contended resource -> busy cycles over the batch
    chain: list[Stage] = []
    pool: list[tuple[str, float]] = []   # ("write" | "task", cycles) in the order the pool is used
    fetch = None
    kinds = _kinds()
    flow_rows = flow.rows

    for item in items:
        if type(item) is Barrier:
            if barrier_kind(item, ops) == "reload":
                dram, write = item.stages
                fetch = dram.cycles if fetch is None else fetch
                pool.append(("write", write.cycles))
            continue
        name, resource = item.op, item.resource
        if name in fwd:
            rows = flow_rows[name]
            kind = kinds.get(resource) or kinds.setdefault(resource, resource_kind(resource))
            stages, fill = forward_row_stages(ctx, priced, ops[name], kind, item.cycles, rows)
            r = sum([c for _, c in stages])
            row[name], first[name] = r, r + fill
            per_sample[name] = ps = rows * r + fill
            for where, c in stages:
                # a contended resource serves its users' rows one at a time (tile buffer ports: per tile, left
                # out, a looser bound)
                if where == "unit":
                    if contention or kind == "macros":
                        busy[resource] = busy.get(resource, 0.0) + batch * (rows * c + fill)
                elif where == "global_buffer" and contention:
                    busy[GBUF] = busy.get(GBUF, 0.0) + batch * (rows * c + 0)
            if resource == POOL:
                pool.append(("task", batch * ps))
            continue
        if name.endswith(":noc") and name[:-4] in fwd:
            continue   # the row engine moves forward rows over the placed NoC links instead
        chain.append(item)
        if contention or (kinds.get(resource) or kinds.setdefault(resource, resource_kind(resource))) == "macros":
            busy[resource] = busy.get(resource, 0.0) + batch * item.cycles
        if resource == POOL:
            pool.append(("task", batch * item.cycles))
    bound = max(busy.values(), default=0.0)
    fwd_first = 0.0
    if row:
        # head: longest path of the rows each op's first row needs; tail: rows that need the last row
        head = dict.fromkeys(row, 0.0)
        for src, dst, hi0, _ in flow.edges:
            if src in row and dst in row:
                head[dst] = max(head[dst], head[src] + first[src] + (hi0 - 1) * row[src])
        tail = dict.fromkeys(row, 0.0)
        rows = flow.rows
        for src, dst, _, n_last in reversed(flow.edges):
            if src in row and dst in row and n_last:
                after = n_last * row[dst] + (first[dst] - row[dst] if n_last == rows[dst] else 0.0)
                tail[src] = max(tail[src], after + tail[dst])
        bound = max(bound, max(head[k] + batch * per_sample[k] + tail[k] for k in row))
        fwd_first = max(head[k] + per_sample[k] for k in flow.sinks if k in row) if any(
            k in row for k in flow.sinks) else 0.0
    if chain:
        exclusive = {s.resource for s in chain if contention or resource_kind(s.resource) == "macros"}
        bound = max(bound, fwd_first + _flow_shop_bound(chain, batch, exclusive))
    writes = [c for what, c in pool if what == "write"]
    if writes and all(i and pool[i - 1][0] == "write" for i, (what, _) in enumerate(pool) if what == "task"):
        bound = max(bound, (fetch or 0.0) + sum(c for _, c in pool))
    return bound


_STAGING: IdentityMemo[tuple[float, float]] = IdentityMemo(64)


def activation_staging(ctx: Context, priced: PricedStep) -> tuple[float, float]:
    """(DRAM bytes, global-buffer bytes) of forward activations that do not fit the tile buffers, without the
    row plan (engine/staging.py): under ``chip.pipeline: row`` each edge's line-buffer rows, segments and pool
    epochs read from the priced items as the plan reads them (equal to the plan's staging before any
    deadlock relaxation); under ``layer``, whole maps. Memoised on what it reads (the item list, the batch,
    the context's pieces), so a sweep over write options asks once; and by value (:func:`_staging_by_value`),
    so array geometries that keep the placement, the streamed layers and the buffers share it."""
    return _STAGING.get((priced.items, ctx.step, ctx.mapping, ctx.macro, ctx.accel), (ctx.batch,),
                        lambda: _activation_staging(ctx, priced))


_STAGING_VALUES: IdentityMemo[tuple[float, float]] = IdentityMemo(1024)
_EDGE_ENDS: IdentityMemo[tuple[tuple[str, ...], tuple[str, ...]]] = IdentityMemo(64)


def _edge_ends(ctx: Context) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(producers, consumers) of the step's forward edges, in edge order (per step)."""
    def build() -> tuple[tuple[str, ...], tuple[str, ...]]:
        edges = forward_flow(ctx.step).edges
        return tuple(e.src for e in edges), tuple(e.dst for e in edges)

    return _EDGE_ENDS.get((ctx.step,), (), build)


def _activation_staging(ctx: Context, priced: PricedStep) -> tuple[float, float]:
    if ctx.accel.chip.pipeline == "row":
        ops = {op.name: op for op in ctx.step.ops}
        segment, segment_of, pool_ops = 0, {}, []
        for item in priced.items:
            if isinstance(item, Barrier):
                segment += barrier_kind(item, ops) == "barrier"
            elif item.op in ops and ops[item.op].phase == "forward":
                segment_of[item.op] = segment
                if item.resource == POOL:
                    pool_ops.append(item.op)
        return _staging_by_value(ctx, pool_ops, segment_of, whole_maps=False)
    return _staging_by_value(ctx, [], {}, whole_maps=True)


def _staging_by_value(ctx: Context, pool_ops: list[str], segment_of: dict[str, int], whole_maps: bool
                      ) -> tuple[float, float]:
    """:func:`~imcsim.engine.staging.analytic_staging`, memoised on the step (by identity) and the values it
    reads: the batch, activation width, tile and global buffer sizes and, in row order, each edge's consumer
    tile (the placement, engine/noc.py), the streamed ops in pool order and each edge end's segment. A sweep
    over array geometries changes the macro but mostly keeps these, so it stages once per placement."""
    chip, tile = ctx.accel.chip, ctx.accel.tile
    act_bytes = ctx.macro.in_bits / 8
    key: tuple = (whole_maps, ctx.batch, act_bytes, tile.buffer_kib, chip.global_buffer_kib)
    if not whole_maps:
        srcs, dsts = _edge_ends(ctx)
        where = forward_traffic(ctx.step, ctx.mapping, chip.tiles, int(tile.macros or 1), act_bytes).tile
        key += (tuple(map(where.__getitem__, dsts)), tuple(pool_ops),
                tuple(segment_of.get(s, 0) == segment_of.get(d, 0) for s, d in zip(srcs, dsts)))
    return _STAGING_VALUES.get((ctx.step,), key, lambda: analytic_staging(ctx, pool_ops, segment_of, whole_maps))
