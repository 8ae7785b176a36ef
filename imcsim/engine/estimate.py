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
  B x total_k + tail_k)``. An MVM whose port stage is double-buffered (engine/events.py rule 7) overlaps its
  port stage with its previous row's unit stage: its rows follow each other at its unit stage's pace after the
  first port stage, and at least at its port stage's pace (formulas in ``_Points.segment``).
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

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from imcsim.engine import rowtime
from imcsim.engine.context import Context
from imcsim.engine.costs import POOL, PricedStep
from imcsim.engine.dataflow import build_dataflow
from imcsim.engine.noc import forward_flow, forward_traffic
from imcsim.engine.plan import GBUF, barrier_kind
from imcsim.engine.rowtime import GEMM, MVM, forward_rows, row_mode
from imcsim.engine.schedule import Barrier, _flow_shop_bound, resource_kind
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
    return _ESTIMATES.get(*_estimate_key(ctx, priced), lambda: _estimate(ctx, priced))


def _estimate_key(ctx: Context, priced: PricedStep) -> tuple[tuple, tuple]:
    """(owners, values) of a point's estimate in ``_ESTIMATES`` (:func:`row_estimate_cycles`)."""
    return (priced.items, ctx.step, ctx.mapping, ctx.macro, ctx.accel, ctx.device), (ctx.batch,)


_FWD, _RELOAD, _CHAIN = 0, 1, 2
_CYCLES, _FIRST, _SECOND = attrgetter("cycles"), itemgetter(0), itemgetter(1)


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
    return _Points([ctx], [priced]).estimate(_skeleton(ctx, priced))[0]


def row_estimates_many(contexts: Sequence[Context], priced: Sequence[PricedStep]) -> list[float]:
    """:func:`row_estimate_cycles` of many points (each under ``chip.pipeline: row``), with
    the points that share a skeleton (engine/costs.py: the same priced shape: array geometries that keep the
    residency), batch and contention flag estimated together, numpy over the points: the same operations per
    point in the same order (sums, products, maxima), so each equals its own estimate to the last bit
    (tests/test_engine_batch.py). Not kept in ``_ESTIMATES``: the batch path keeps each point's estimate in its
    priced entry (engine/evaluation.py ``_PRICED``), which a revisit finds first."""
    out: list[Any] = [None] * len(contexts)
    groups: dict[tuple, list[int]] = {}
    for k, (ctx, pr) in enumerate(zip(contexts, priced)):
        sk = _skeleton(ctx, pr)
        groups.setdefault((id(sk), ctx.batch, ctx.accel.chip.contention), []).append(k)
    for members in groups.values():
        ctxs, prs = [contexts[k] for k in members], [priced[k] for k in members]
        values = (_Points(ctxs, prs).estimate(_skeleton(ctxs[0], prs[0])) if len(members) > 1 else
                  [_estimate(ctxs[0], prs[0])])
        for k, value in zip(members, values):
            out[k] = float(value)
    return out


class _Points:
    """The points one skeleton's estimate runs over: one point in Python floats (``evaluate``), several as
    numpy arrays with one entry per point (``row_estimates_many``); every formula below is written once for
    both (``_max`` is ``max`` or ``np.maximum``)."""

    def __init__(self, contexts: Sequence[Context], priced: Sequence[PricedStep]) -> None:
        self.contexts, self.priced = contexts, priced
        self.one = len(contexts) == 1
        ctx = contexts[0]
        self.batch = ctx.batch
        self.contention = ctx.accel.chip.contention
        self._max = max if self.one else np.maximum
        # per point (a column over points): MVM rows through the tile buffer port double-buffered (events.py rule 7)
        self.double_buffering = (ctx.accel.tile.double_buffering if self.one else
                                 np.array([c.accel.tile.double_buffering for c in contexts])[:, None])

    def cycles(self, i: int) -> Any:
        """Item ``i``'s cycles at every point."""
        if self.one:
            return self.priced[0].items[i].cycles
        return np.array([pr.items[i].cycles for pr in self.priced], dtype=float)

    def stage_cycles(self, i: int, k: int) -> Any:
        """Stage ``k`` of barrier item ``i``: its cycles at every point."""
        if self.one:
            return self.priced[0].items[i].stages[k].cycles
        return np.array([pr.items[i].stages[k].cycles for pr in self.priced], dtype=float)

    def largest(self, values: list[Any]) -> Any:
        """``max(values, default=0.0)`` at every point."""
        if not values:
            return 0.0
        out = values[0]
        for v in values[1:]:
            out = self._max(out, v)
        return out

    def estimate(self, sk: _Skeleton) -> Any:
        total: Any = 0.0
        for seg, b in zip(sk.segments, sk.barriers):
            total += self.segment(seg)
            total += sum(self.stage_cycles(b, k) for k in range(len(self.priced[0].items[b].stages)))
        total = total + self.segment(sk.segments[-1])
        return [total] if self.one else np.broadcast_to(total, (len(self.priced),)).tolist()

    def forward_rows(self, seg: _Segment) -> rowtime.RowTimes:
        """engine/rowtime.py's row times of the segment's forward ops, (points x ops) for several points."""
        if self.one:
            return forward_rows(self.contexts[0], self.priced[0], seg.fwd, seg.fwd_items, seg.fwd_rows, seg.fwd_mode)
        # (points x ops) read item by item and port by port in C (map, fromiter): the per-point Python loops
        # cost most of a new geometry's estimate
        n, shape, names, where = len(self.priced) * len(seg.fwd), (len(self.priced), len(seg.fwd)), seg.fwd, seg.fwd_items
        cycles = np.fromiter(map(_CYCLES, chain.from_iterable(map(pr.items.__getitem__, where) for pr in self.priced)),
                             float, count=n).reshape(shape)
        ports = list(chain.from_iterable(map(pr.port_bytes.get, names, repeat(rowtime._NO_PORT))
                                         for pr in self.priced))
        nbytes = np.fromiter(map(_SECOND, ports), float, count=n).reshape(shape)
        port_tiles = np.fromiter(map("tiles".__eq__, map(_FIRST, ports)), bool, count=n).reshape(shape)

        def col(values: list) -> np.ndarray:
            return np.array(values)[:, None]

        chips = [ctx.accel.chip for ctx in self.contexts]
        tiles = [ctx.accel.tile for ctx in self.contexts]
        return rowtime.row_times(cycles, seg.fwd_rows[None, :], seg.fwd_mode[None, :], nbytes, port_tiles,
                                 depth=col([int(ctx.macro.pipeline_depth_cycles) for ctx in self.contexts]),
                                 tile_bytes_per_cycle=col([t.buffer_bytes_per_cycle for t in tiles]),
                                 global_bytes_per_cycle=col([c.global_buffer_bytes_per_cycle for c in chips]),
                                 tiles=col([c.tiles for c in chips]))

    def per_op(self, a: np.ndarray) -> list[Any]:
        """An (ops) or (points x ops) array as a list over ops of floats or point arrays."""
        return a.tolist() if self.one else list(a.T)

    def segment(self, seg: _Segment) -> Any:
        batch, contention, mx = self.batch, self.contention, self._max
        busy: dict[str, Any] = {}     # contended resource -> busy cycles over the batch
        chain: list[int] = []         # the chain's items
        pool: list[tuple[str, Any]] = []   # ("write" | "task", cycles) in the order the pool is used
        fetch = None
        if seg.fwd:
            rows = seg.fwd_rows
            pre, has_pre, unit, fill = self.forward_rows(seg)
            gemm = seg.fwd_mode == GEMM
            r = np.where(has_pre, pre + unit, unit)
            ps = rows * r + fill
            # a port task (events.py rule 7: an MVM with a port stage, double-buffered) ends row i of a sample at
            # least max(first + i x unit, r + i x pre) after its first row's start: its units follow each other,
            # the first after its port stage, and each unit follows its row's port stage, the ports one after the
            # other; other ops first + i x r (so ``base`` and ``port`` are 0 for them, and max keeps the first)
            db = has_pre & (seg.fwd_mode == MVM) & self.double_buffering
            row = np.where(db, unit, r)
            port = np.where(db, pre, 0.0)
            base = np.where(db, r, 0.0)
            # one sample's rows and the batch's (a port task: its units after the first port stage, or its ports
            # and the last unit)
            span = np.where(db, np.maximum(pre + (rows * unit + fill), rows * pre + unit), ps)
            stream = np.where(db, np.maximum(pre + batch * (rows * unit + fill), batch * (rows * pre) + unit), batch * ps)
            row_l, first_l, ps_l = self.per_op(row), self.per_op(r + fill), self.per_op(span)
            port_l, base_l, stream_l = self.per_op(port), self.per_op(base), self.per_op(stream)
            unit_busy = self.per_op(batch * (rows * unit + fill))
            pre_busy = self.per_op(batch * (rows * pre + 0))
            gbuf = (has_pre & gemm).any(axis=0).tolist() if not self.one else (has_pre & gemm).tolist()
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
                    pool.append(("task", stream_l[k]))
            elif tag == _RELOAD:
                write = self.stage_cycles(e[1], 1)
                fetch = self.stage_cycles(e[1], 0) if fetch is None else fetch
                pool.append(("write", write))
            else:
                _, i, resource, on_macros = e
                chain.append(i)
                if contention or on_macros:
                    busy[resource] = busy.get(resource, 0.0) + batch * self.cycles(i)
                if resource == POOL:
                    pool.append(("task", batch * self.cycles(i)))
        bound = self.largest(list(busy.values()))
        fwd_first: Any = 0.0
        if seg.fwd:
            if seg.last is not None:   # a repeated op: its last row counts, at its first position
                row_l, first_l, ps_l, port_l, base_l, stream_l = (
                    [v[k] for k in seg.last] for v in (row_l, first_l, ps_l, port_l, base_l, stream_l))
            # head: longest path of the rows each op's first row needs; tail: rows that need the last row (a port
            # task's first of them after its port stage, its last unit after their port stages)
            head: list[Any] = [0.0] * len(row_l)
            for src, dst, hi0 in seg.head_edges:
                head[dst] = mx(head[dst], mx(head[src] + first_l[src] + (hi0 - 1) * row_l[src],
                                             head[src] + base_l[src] + (hi0 - 1) * port_l[src]))
            tail: list[Any] = [0.0] * len(row_l)
            for src, dst, n_last, whole in seg.tail_edges:
                after = mx(n_last * row_l[dst] + (first_l[dst] - row_l[dst] if whole else port_l[dst]),
                           base_l[dst] + (n_last - 1) * port_l[dst])
                tail[src] = mx(tail[src], after + tail[dst])
            bound = mx(bound, self.largest([h + s + t for h, s, t in zip(head, stream_l, tail)]))
            fwd_first = self.largest([head[k] + ps_l[k] for k in seg.sinks]) if seg.sinks else 0.0
        if chain:
            stages = [[pr.items[i] for i in chain] for pr in self.priced]
            exclusive = {s.resource for s in stages[0] if contention or resource_kind(s.resource) == "macros"}
            shop = [_flow_shop_bound(c, batch, exclusive) for c in stages]
            bound = mx(bound, fwd_first + (shop[0] if self.one else np.array(shop)))
        writes = [c for what, c in pool if what == "write"]
        if writes and all(i and pool[i - 1][0] == "write" for i, (what, _) in enumerate(pool) if what == "task"):
            first_fetch = (fetch or 0.0) if self.one else (0.0 if fetch is None else fetch)
            bound = mx(bound, first_fetch + sum(c for _, c in pool))
        return bound


def activation_staging(ctx: Context, priced: PricedStep) -> tuple[float, float]:
    """(DRAM bytes, global-buffer bytes) of forward activations that do not fit the tile buffers, without the
    row plan (engine/staging.py): under ``chip.pipeline: row`` each edge's line-buffer rows, segments and pool
    epochs read from the priced items as the plan reads them (equal to the plan's staging before any
    deadlock relaxation); under ``layer``, whole maps. Memoised by value (:func:`_staging_by_value`), so
    array geometries that keep the placement, the streamed layers and the buffers share it, and so do points
    of a sweep over write options (a revisited point finds its priced entry first: engine/evaluation.py)."""
    if ctx.accel.chip.pipeline == "row":
        # segments and pool epochs as the plan reads them from the items (the estimate's skeleton has them)
        sk = _skeleton(ctx, priced)
        return _staging_by_value(ctx, sk.pool_ops, sk.segment_of, False, sk.same_segment)
    return _staging_by_value(ctx, (), {}, True, ())


_STAGING_VALUES: IdentityMemo[tuple[float, float]] = IdentityMemo(1024)
_CONSUMER_TILES: IdentityMemo[tuple[int, ...]] = IdentityMemo(256)
_EDGE_ENDS: IdentityMemo[tuple[tuple[str, ...], tuple[str, ...]]] = IdentityMemo(64)


def _edge_ends(ctx: Context) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(producers, consumers) of the step's forward edges, in edge order (per step)."""
    def build() -> tuple[tuple[str, ...], tuple[str, ...]]:
        edges = forward_flow(ctx.step).edges
        return tuple(e.src for e in edges), tuple(e.dst for e in edges)

    return _EDGE_ENDS.get((ctx.step,), (), build)


def _staging_by_value(ctx: Context, pool_ops: tuple[str, ...], segment_of: dict[str, int], whole_maps: bool,
                      same_segment: tuple[bool, ...]) -> tuple[float, float]:
    """:func:`~imcsim.engine.staging.analytic_staging`, memoised on the step (by identity) and the values it
    reads: the batch, activation width, tile and global buffer sizes and, in row order, each edge's consumer
    tile (the placement, engine/noc.py), the streamed ops in pool order and whether each edge's ends share a segment. A sweep
    over array geometries changes the macro but mostly keeps these, so it stages once per placement."""
    chip, tile = ctx.accel.chip, ctx.accel.tile
    act_bytes = ctx.macro.in_bits / 8
    key: tuple = (whole_maps, ctx.batch, act_bytes, tile.buffer_kib, chip.global_buffer_kib)
    if not whole_maps:
        traffic = forward_traffic(ctx.step, ctx.mapping, chip.tiles, int(tile.macros or 1), act_bytes)
        # each edge's consumer tile, once per placement (points that share it share the traffic object)
        tiles = _CONSUMER_TILES.get((traffic, ctx.step), (), lambda: tuple(map(traffic.tile.__getitem__,
                                                                                _edge_ends(ctx)[1])))
        key += (tiles, pool_ops, same_segment)
    return _STAGING_VALUES.get((ctx.step,), key,
                               lambda: analytic_staging(ctx, list(pool_ops), segment_of, whole_maps))
