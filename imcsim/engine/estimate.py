"""The analytic engine's estimate of row pipelining (``chip.pipeline: row``): a proven lower bound.

The event engine runs a priced step as row streams (engine/plan.py, engine/events.py); simulating it
costs milliseconds to seconds. The analytic engine instead computes, from the same priced step and the
same per-row stage times (engine/rowtime.py, unrounded), the largest of these lower bounds, segment by
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

import numpy as np

from imcsim.engine.context import Context
from imcsim.engine.costs import POOL, PricedStep
from imcsim.engine.dataflow import build_dataflow
from imcsim.engine.noc import forward_flow, forward_traffic
from imcsim.engine.plan import GBUF, barrier_kind
from imcsim.engine.rowtime import GEMM, forward_rows, row_mode
from imcsim.engine.schedule import Barrier, Stage, _flow_shop_bound, resource_kind
from imcsim.engine.staging import analytic_staging
from imcsim.memo import IdentityMemo


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
    """What the estimate reads of one segment's items that does not depend on their cycles.

    Its forward ops (one row each in ``fwd_*``, in item order: item index, op, rows, how
    engine/rowtime.py times a row: ``rowtime.row_mode``), each op's
    position among the distinct ops (``pos``; ``last``: the row that sets each position, as later rows of a
    repeated op overwrite earlier ones), the forward edges for the heads (producer, consumer positions,
    producer rows the first consumer row needs) in order and for the tails (producer, consumer, consumer
    rows needing the last producer row, whether that is every consumer row) reversed, the sinks' positions,
    and, in item order, what the busy resources and the streaming pool see: ``(_FWD, row, resource, on
    macros?)``, ``(_RELOAD, item)`` or ``(_CHAIN, item, resource, on macros?)``."""

    fwd: tuple[str, ...]
    fwd_items: tuple[int, ...]
    fwd_rows: np.ndarray
    fwd_mode: np.ndarray
    last: tuple[int, ...] | None         # None: no op repeats (position = row)
    head_edges: tuple[tuple[int, int, int], ...]
    tail_edges: tuple[tuple[int, int, int, bool], ...]
    sinks: tuple[int, ...]
    entries: tuple[tuple, ...]
    #: the entries that matter without ``chip.contention``: forward ops on macros or on the pool, the rest
    quiet: tuple[tuple, ...]


@dataclass(frozen=True)
class _Skeleton:
    """A priced step's items as the estimate walks them (module docstring), cycles left out: the segments
    and the item index of the barrier after each but the last; and what the activation staging reads of them
    (:func:`activation_staging`): the forward ops on the streaming pool in order, each forward op's segment,
    and per forward edge of the step (``noc.forward_flow``) whether both ends are in one segment."""

    segments: tuple[_Segment, ...]
    barriers: tuple[int, ...]
    pool_ops: tuple[str, ...]
    segment_of: dict[str, int]
    same_segment: tuple[bool, ...]


_SKELETONS: IdentityMemo[_Skeleton] = IdentityMemo(64)   # each holds a shape (costs.SHAPE_HOLDERS)


def _skeleton(ctx: Context, priced: PricedStep) -> _Skeleton:
    """Memoised on the step and what decides the items' ops and resources (``PricedStep.structure``: the
    priced shape, by identity, and its slots that gave no item): points that price alike (array geometries
    that keep the residency) share it and only add up their cycles."""
    items = priced.items
    if priced.structure:
        shape, empty = priced.structure
        return _SKELETONS.get((ctx.step, shape), (empty,), lambda: _build_skeleton(ctx, items))
    sig = tuple((it.op, it.resource) if type(it) is not Barrier else tuple(s.op for s in it.stages) for it in items)
    return _SKELETONS.get((ctx.step,), (sig,), lambda: _build_skeleton(ctx, items))


def _build_skeleton(ctx: Context, items: list) -> _Skeleton:
    ops = {op.name: op for op in ctx.step.ops}
    forward = [(s.op, ops[s.op].node) for s in items
               if not isinstance(s, Barrier) and s.op in ops and ops[s.op].phase == "forward"]
    flow = _flow(ctx, forward)
    fwd = {name for name, _ in forward}
    by_src: dict[str, list[int]] = {}   # edge positions per producer: a segment reads only its own ops' edges
    for k, edge in enumerate(flow.edges):
        by_src.setdefault(edge[0], []).append(k)
    segments, barriers, entries = [], [], []

    def close() -> None:
        fwd_rows = [e for e in entries if e[0] == _FWD]
        names = tuple(e[2] for e in fwd_rows)
        pos: dict[str, int] = {}
        last: list[int] = []
        for k, name in enumerate(names):
            if name not in pos:
                pos[name] = len(pos)
                last.append(k)
            else:
                last[pos[name]] = k
        inner = [flow.edges[k] for k in sorted(k for name in pos for k in by_src.get(name, ()))
                 if flow.edges[k][1] in pos]   # flow.edges' order, as a scan of them all would give
        heads = tuple((pos[src], pos[dst], hi0) for src, dst, hi0, _ in inner)
        tails = tuple((pos[src], pos[dst], n_last, n_last == flow.rows[dst])
                      for src, dst, _, n_last in reversed(inner) if n_last)
        mode = [row_mode(ops[e[2]].kind, e[5]) for e in fwd_rows]
        ordinal = {id(e): k for k, e in enumerate(fwd_rows)}
        seen = tuple((_FWD, ordinal[id(e)], e[3], e[5] == "macros") if e[0] == _FWD else
                     (_CHAIN, e[1], e[2], e[3] == "macros") if e[0] == _CHAIN else e for e in entries)
        segments.append(_Segment(names, tuple(e[1] for e in fwd_rows), np.array([e[4] for e in fwd_rows], dtype=np.int64),
                                 np.array(mode, dtype=np.int64), None if len(pos) == len(names) else tuple(last),
                                 heads, tails, tuple(pos[k] for k in flow.sinks if k in pos), seen,
                                 tuple(e for e in seen if e[0] != _FWD or e[3] or e[2] == POOL)))
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
    segment_of = {name: k for k, seg in enumerate(segments) for name in seg.fwd}
    pool_ops = tuple(seg.fwd[e[1]] for seg in segments for e in seg.entries if e[0] == _FWD and e[2] == POOL)
    srcs, dsts = _edge_ends(ctx)
    same = tuple(segment_of.get(a, 0) == segment_of.get(b, 0) for a, b in zip(srcs, dsts))
    return _Skeleton(tuple(segments), tuple(barriers), pool_ops, segment_of, same)


def _estimate(ctx: Context, priced: PricedStep) -> float:
    items = priced.items
    sk = _skeleton(ctx, priced)
    total = 0.0
    for seg, b in zip(sk.segments, sk.barriers):
        total += _segment(ctx, priced, seg)
        total += sum(s.cycles for s in items[b].stages)
    return total + _segment(ctx, priced, sk.segments[-1])


def _segment(ctx: Context, priced: PricedStep, seg: _Segment) -> float:
    items = priced.items
    batch = ctx.batch
    contention = ctx.accel.chip.contention
    busy: dict[str, float] = {}     # contended resource -> busy cycles over the batch
    chain: list[Stage] = []
    pool: list[tuple[str, float]] = []   # ("write" | "task", cycles) in the order the pool is used
    fetch = None
    if seg.fwd:
        rows = seg.fwd_rows
        pre, has_pre, unit, fill = forward_rows(ctx, priced, seg.fwd, seg.fwd_items, rows, seg.fwd_mode)
        gemm = seg.fwd_mode == GEMM
        r = np.where(has_pre, pre + unit, unit)
        ps = rows * r + fill
        row_l, first_l, ps_l = r.tolist(), (r + fill).tolist(), ps.tolist()
        unit_busy = (batch * (rows * unit + fill)).tolist()
        pre_busy = (batch * (rows * pre + 0)).tolist()
        gbuf = (has_pre & gemm).tolist()
        task = (batch * ps).tolist()
    for e in seg.entries if contention else seg.quiet:
        tag = e[0]
        if tag == _FWD:
            _, k, resource, on_macros = e
            # a contended resource serves its users' rows one at a time (tile buffer ports: per tile, left
            # out, a looser bound)
            if contention and gbuf[k]:
                busy[GBUF] = busy.get(GBUF, 0.0) + pre_busy[k]
            if contention or on_macros:
                busy[resource] = busy.get(resource, 0.0) + unit_busy[k]
            if resource == POOL:
                pool.append(("task", task[k]))
        elif tag == _RELOAD:
            dram, write = items[e[1]].stages
            fetch = dram.cycles if fetch is None else fetch
            pool.append(("write", write.cycles))
        else:
            _, i, resource, on_macros = e
            item = items[i]
            chain.append(item)
            if contention or on_macros:
                busy[resource] = busy.get(resource, 0.0) + batch * item.cycles
            if resource == POOL:
                pool.append(("task", batch * item.cycles))
    bound = max(busy.values(), default=0.0)
    fwd_first = 0.0
    if seg.fwd:
        if seg.last is not None:   # a repeated op: its last row counts, at its first position
            row_l, first_l, ps_l = ([v[k] for k in seg.last] for v in (row_l, first_l, ps_l))
        # head: longest path of the rows each op's first row needs; tail: rows that need the last row
        head = [0.0] * len(row_l)
        for src, dst, hi0 in seg.head_edges:
            head[dst] = max(head[dst], head[src] + first_l[src] + (hi0 - 1) * row_l[src])
        tail = [0.0] * len(row_l)
        for src, dst, n_last, whole in seg.tail_edges:
            after = n_last * row_l[dst] + (first_l[dst] - row_l[dst] if whole else 0.0)
            tail[src] = max(tail[src], after + tail[dst])
        bound = max(bound, max(h + batch * p + t for h, p, t in zip(head, ps_l, tail)))
        fwd_first = max(head[k] + ps_l[k] for k in seg.sinks) if seg.sinks else 0.0
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
        # segments and pool epochs as the plan reads them from the items (the estimate's skeleton has them)
        sk = _skeleton(ctx, priced)
        return _staging_by_value(ctx, list(sk.pool_ops), sk.segment_of, False, sk.same_segment)
    return _staging_by_value(ctx, [], {}, True, ())


def _staging_by_value(ctx: Context, pool_ops: list[str], segment_of: dict[str, int], whole_maps: bool,
                      same_segment: tuple[bool, ...]) -> tuple[float, float]:
    """:func:`~imcsim.engine.staging.analytic_staging`, memoised on the step (by identity) and the values it
    reads: the batch, activation width, tile and global buffer sizes and, in row order, each edge's consumer
    tile (the placement, engine/noc.py), the streamed ops in pool order and whether each edge's ends share a segment. A sweep
    over array geometries changes the macro but mostly keeps these, so it stages once per placement."""
    chip, tile = ctx.accel.chip, ctx.accel.tile
    act_bytes = ctx.macro.in_bits / 8
    key: tuple = (whole_maps, ctx.batch, act_bytes, tile.buffer_kib, chip.global_buffer_kib)
    if not whole_maps:
        where = forward_traffic(ctx.step, ctx.mapping, chip.tiles, int(tile.macros or 1), act_bytes).tile
        key += (tuple(map(where.__getitem__, _edge_ends(ctx)[1])), tuple(pool_ops), same_segment)
    return _STAGING_VALUES.get((ctx.step,), key, lambda: analytic_staging(ctx, pool_ops, segment_of, whole_maps))
