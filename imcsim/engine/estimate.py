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


_FWD, _RELOAD, _CHAIN = 0, 1, 2


@dataclass(frozen=True)
class _Segment:
    """What the estimate reads of one segment's items that does not depend on their cycles: per item in
    order, ``(_FWD, index, op, resource, rows, kind)``, ``(_RELOAD, index)`` or ``(_CHAIN, index, resource,
    kind)``; its forward edges for the heads, in order (producer, consumer, producer rows the first consumer
    row needs) and, reversed, for the tails (producer, consumer, consumer rows needing the last producer row,
    whether that is every row of the consumer); its sinks."""

    entries: tuple[tuple, ...]
    fwd: tuple[str, ...]
    head_edges: tuple[tuple[str, str, int], ...]
    tail_edges: tuple[tuple[str, str, int, bool], ...]
    sinks: tuple[str, ...]


@dataclass(frozen=True)
class _Skeleton:
    """A priced step's items as the estimate walks them (module docstring), cycles left out: the segments
    and the item index of the barrier after each but the last."""

    segments: tuple[_Segment, ...]
    barriers: tuple[int, ...]


_SKELETONS: IdentityMemo[_Skeleton] = IdentityMemo(256)


def _skeleton(ctx: Context, items: list) -> _Skeleton:
    """Memoised on the step (by identity) and the items' ops and resources in order: points that price alike
    (array geometries that keep the residency) share it and only add up their cycles."""
    sig = tuple((it.op, it.resource) if type(it) is not Barrier else tuple(s.op for s in it.stages)
                for it in items)
    return _SKELETONS.get((ctx.step,), (sig,), lambda: _build_skeleton(ctx, items))


def _build_skeleton(ctx: Context, items: list) -> _Skeleton:
    ops = {op.name: op for op in ctx.step.ops}
    forward = [(s.op, ops[s.op].node) for s in items
               if not isinstance(s, Barrier) and s.op in ops and ops[s.op].phase == "forward"]
    flow = _flow(ctx, forward)
    fwd = {name for name, _ in forward}
    segments, barriers, entries = [], [], []

    def close() -> None:
        names = tuple(e[2] for e in entries if e[0] == _FWD)
        seg = set(names)
        heads = tuple((src, dst, hi0) for src, dst, hi0, _ in flow.edges if src in seg and dst in seg)
        tails = tuple((src, dst, n_last, n_last == flow.rows[dst]) for src, dst, _, n_last in reversed(flow.edges)
                      if src in seg and dst in seg and n_last)
        segments.append(_Segment(tuple(entries), names, heads, tails, tuple(k for k in flow.sinks if k in seg)))
        entries.clear()

    for i, item in enumerate(items):
        if isinstance(item, Barrier):
            kind = barrier_kind(item, ops)
            if kind == "barrier":
                close()
                barriers.append(i)
            elif kind == "reload":
                entries.append((_RELOAD, i))
            continue
        name, resource = item.op, item.resource
        if name in fwd:
            entries.append((_FWD, i, name, resource, flow.rows[name], resource_kind(resource)))
        elif not (name.endswith(":noc") and name[:-4] in fwd):
            # (the row engine moves forward rows over the placed NoC links instead)
            entries.append((_CHAIN, i, resource, resource_kind(resource)))
    close()
    return _Skeleton(tuple(segments), tuple(barriers))


def _estimate(ctx: Context, priced: PricedStep) -> float:
    items = priced.items
    sk = _skeleton(ctx, items)
    total = 0.0
    for seg, b in zip(sk.segments, sk.barriers):
        total += _segment(ctx, priced, seg)
        total += sum(s.cycles for s in items[b].stages)
    return total + _segment(ctx, priced, sk.segments[-1])


_OPS: IdentityMemo[dict] = IdentityMemo(64)


def _ops(ctx: Context) -> dict:
    """The step's ops by name (per step)."""
    return _OPS.get((ctx.step,), (), lambda: {op.name: op for op in ctx.step.ops})


def _segment(ctx: Context, priced: PricedStep, seg: _Segment) -> float:
    items = priced.items
    ops = _ops(ctx)
    batch = ctx.batch
    contention = ctx.accel.chip.contention
    row: dict[str, float] = {}      # one row after the first, all stages
    first: dict[str, float] = {}    # the first row of a sample (with the fill)
    per_sample: dict[str, float] = {}
    busy: dict[str, float] = {}     # contended resource -> busy cycles over the batch
    chain: list[Stage] = []
    pool: list[tuple[str, float]] = []   # ("write" | "task", cycles) in the order the pool is used
    fetch = None

    for e in seg.entries:
        tag = e[0]
        if tag == _RELOAD:
            dram, write = items[e[1]].stages
            fetch = dram.cycles if fetch is None else fetch
            pool.append(("write", write.cycles))
        elif tag == _FWD:
            _, i, name, resource, rows, kind = e
            stages, fill = forward_row_stages(ctx, priced, ops[name], kind, items[i].cycles, rows)
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
        else:
            _, i, resource, kind = e
            item = items[i]
            chain.append(item)
            if contention or kind == "macros":
                busy[resource] = busy.get(resource, 0.0) + batch * item.cycles
            if resource == POOL:
                pool.append(("task", batch * item.cycles))
    bound = max(busy.values(), default=0.0)
    fwd_first = 0.0
    if row:
        # head: longest path of the rows each op's first row needs; tail: rows that need the last row
        head = dict.fromkeys(row, 0.0)
        for src, dst, hi0 in seg.head_edges:
            head[dst] = max(head[dst], head[src] + first[src] + (hi0 - 1) * row[src])
        tail = dict.fromkeys(row, 0.0)
        for src, dst, n_last, whole in seg.tail_edges:
            after = n_last * row[dst] + (first[dst] - row[dst] if whole else 0.0)
            tail[src] = max(tail[src], after + tail[dst])
        bound = max(bound, max(head[k] + batch * per_sample[k] + tail[k] for k in row))
        fwd_first = max(head[k] + per_sample[k] for k in seg.sinks) if seg.sinks else 0.0
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
