"""What each event of the row-pipelined engine costs: a priced step turned into row streams and edges.

The plan is built from :class:`~imcsim.engine.costs.PricedStep` (so both engines price with one cost
model: a layer's cycles come from ``circuit.macro.mvm_cycles`` through ``layer_cost``) and from the row
dataflow (:mod:`imcsim.engine.dataflow`). It is plain data that :mod:`imcsim.engine.events` (SimPy) and
the cycle-stepped reference of the tests both run, under the same rules.

**Tasks.** One task per op, streaming its rows for every sample in turn (``rows x samples`` rows; sample
b + 1's rows follow sample b's on the op's unit). Each row is a short sequence of *stages*, each a
whole number of cycles (at least 1; the priced cycles rounded up) on one resource; a forward row's stages
come from engine/rowtime.py (the one formula, which the analytic row estimate reads unrounded):

- forward MVM row: the input rows and the output row through the tile buffer port
  (``tile.buffer_bytes_per_cycle``; the op's buffer bytes per row), then the MVM steps of the row on the
  layer's macros: ``(cycles - fill) / rows`` with the pipeline fill (``macro.pipeline_depth_cycles``)
  added to the first row of each sample. Without replication this is ``W_out x`` the step cycles of
  ``mvm_cycles``, so a layer's rows add up exactly to its priced cycles.
- forward vector row (norm, activation, pooling, add): on the pooled digital units, ``max(ops /
  (vector_ops_per_cycle x tiles), bytes / (buffer_bytes_per_cycle x tiles)) / rows``.
- forward digital GEMM row (attention): operands through the global buffer port
  (``chip.global_buffer_bytes_per_cycle``), then the pooled digital units.
- every other op (backward, weight gradients: not row-pipelined): one row per sample holding its priced
  stage, in the chain order of the priced step (the first one waits for the whole forward pass).

**Edges.** A forward edge producer -> consumer carries the producer's rows (``row_bytes``) to the
consumer's tile (both tiles from engine/noc.py, the tiles the NoC traffic is routed by): over the NoC links
of the XY route by virtual cut-through (``noc.link_stages``: each link held ``ceil(row bits / noc_width_bits)``
cycles, the row's head ``noc_hop_latency_cycles`` ahead from link to link), or with no transfer event inside
one tile. Where its rows wait follows engine/staging.py's one rule: the
consumer tile's line buffer (its ``min_rows`` and a share of what is left, counted in rows), else the
global buffer (through its port), else DRAM: each row is written to and read back from DRAM on one of
``chip.dram_channels`` channels (each ``bandwidth / channels``), and its traffic is priced
(``spill_bytes``, ``global_bytes``; energy added by :mod:`imcsim.engine.evaluation`).

**Barriers.** Work the priced step runs once per step (reloads, updates, spills of stored tensors)
stays a barrier: every task before it finishes, its stages run, then the next segment starts.

**Resources.** Each stage names a resource with a capacity (1, or ``dram_channels``). A resource used by
one stream only never contends (its rows are sequential anyway): the engine times it as a delay, not as
a SimPy resource. ``chip.contention: false`` leaves only the macros contended.

**Granularity** (``row_group``). A plan whose row events (every row's stages and every transfer's stages,
over the batch) exceed ``MAX_ROW_EVENTS`` groups consecutive rows of each op into one event, up to ``g``
rows per event with the smallest ``g`` that fits (``g = 1``, the row plan unchanged, for every plan under
the budget). An op of ``R`` rows streams ``n = ceil(R / g)`` groups; group ``j`` holds rows
``floor(j R / n) .. floor((j + 1) R / n) - 1`` (sizes differ by one row at most) and each group's stages and
transfers last ``R / n`` rows' (rounded up to whole cycles; hop delays once), so an op's groups add up to
its rows within a cycle per group. A consumer group waits for the producer groups holding every row its
rows need and frees the producer groups wholly below the first row it still reads; a bounded line buffer
holds its rows in the producer's average group, rounded up, and at least the groups that cannot deadlock
(``deadlock_free_rows`` of engine/dataflow.py on the grouped needs). Each group thus waits for at least
the rows its rows waited for, so the pipelining inside a group is lost: latency and buffer occupancy are
coarser (longer as a rule, not a proven bound) than the row plan's; the priced energy and traffic do not
depend on it. (Until this rule, every group lasted ``ceil(R / n)`` rows, so an op of 512 rows in groups of
10 was timed as 520 rows: grouped plans came out 1-1.6 % slower than the row plan.)
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from imcsim.engine.context import Context
from imcsim.engine.costs import POOL, PricedStep
from imcsim.engine.dataflow import Dataflow, Need, build_dataflow, deadlock_free_rows, op_rows
from imcsim.engine.noc import forward_traffic, link_stages
from imcsim.engine.rowtime import MVM, forward_rows, row_mode, whole_cycles
from imcsim.engine.schedule import Barrier, resource_kind
from imcsim.engine.staging import EdgeNeed, global_bytes_left, stage_edges, staged_bytes
from imcsim.mapping.placement import POOL_NAME, Placement

# T (tool default): above this many planned row events the plan coalesces rows (module docstring,
# "Granularity"). Why: the engine keeps a few hundred bytes per event in flight and runs ~1 M events/s, so
# 2 M events stay within seconds and a few hundred MiB; every built-in CNN under the budget keeps g = 1.
MAX_ROW_EVENTS = 2_000_000

DRAM_RES = "dram"
GBUF = "global_buffer"


@dataclass
class Resource:
    name: str
    capacity: int
    kind: str            # macros | digital | tile_buffer | global_buffer | link | dram | noc | other
    contended: bool = False
    users: int = 0          # task and transfer streams whose stages use it (contended when two or more)


@dataclass(slots=True)   # no per-object dict: a big plan has ~46 k tasks and ~76 k edges
class Task:
    name: str
    node: str
    phase: str
    segment: int
    rows: int                               # per sample
    samples: int
    stages: tuple[tuple[int, int], ...]     # (resource index, cycles) of every row
    fill: int = 0                           # extra cycles on each sample's first row (last stage)
    tile: int = 0
    in_edges: list[int] = field(default_factory=list)
    out_edges: list[int] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return self.rows * self.samples


@dataclass(slots=True)
class Edge:
    src: int
    dst: int
    hi: list[int]           # per consumer row (of one sample): producer rows needed
    lo: list[int]           # first producer row still read
    src_rows: int
    dst_rows: int
    cap: int | None         # line-buffer rows (None: unbounded: DRAM or across a barrier)
    stages: tuple[tuple[int, int, int], ...]   # per row: (resource, cycles, delay; of a link: noc.link_stages)
    row_bytes: float = 0.0
    level: str = "tile"     # where its rows wait: tile (line buffer) | global (global buffer) | dram

    @property
    def spilled(self) -> bool:
        return self.level == "dram"

    @property
    def links(self) -> bool:
        """Its rows cross NoC links (``stages``: ``noc.link_stages``, moved by cut-through), not DRAM or the global
        buffer (a write, then a read back)."""
        return self.level == "tile" and bool(self.stages)

    def need(self, g: int) -> int:
        """Producer rows (over the batch stream) the consumer's row ``g`` needs."""
        b, r = divmod(g, self.dst_rows)
        return b * self.src_rows + self.hi[r]

    def low(self, g: int, total_dst: int, total_src: int) -> int:
        """Producer rows freed once the consumer's rows before ``g`` are done."""
        if g >= total_dst:
            return total_src
        b, r = divmod(g, self.dst_rows)
        return b * self.src_rows + self.lo[r]


@dataclass
class Plan:
    tasks: list[Task]
    edges: list[Edge]
    resources: list[Resource]
    barriers: list[tuple[tuple[str, str, int], ...]]   # per segment boundary: (op, resource, cycles)
    double_buffering: bool = True
    spill_bytes: float = 0.0        # activation bytes written to DRAM (and read back once)
    global_bytes: float = 0.0       # activation bytes staged in the global buffer (written, read back)
    notes: list[str] = field(default_factory=list)
    global_port_cycles_per_byte: float = 0.0
    relaxed: int = 0                # edges unbounded after a deadlock (events.run_plan)
    row_group: int = 1              # rows coalesced into one event (module docstring, "Granularity")
    #: global-buffer bytes the staging rule left free (engine/staging.py; a plan built by hand: unbounded)
    global_bytes_left: float = math.inf
    dram_channel_gb_per_s: float = math.inf   # one DRAM channel's bandwidth
    cycle_ns: float = 1.0
    dram_channels: int = 1
    contention: bool = True         # chip.contention: shared resources other than macros are arbitrated

    def relax(self, edges: list[int]) -> None:
        """After a deadlock (``events.run_plan``): these bounded edges hold their producer's whole map over the
        batch, where the staging rule would put a map that must wait whole (engine/staging.py): in the global
        buffer if what it has left holds it (each row written there and read back through its port; a line buffer
        it already had there stays counted), else in DRAM (written and read back on a channel). Their traffic is priced, and a note on the result says which
        edges and why: a deadlock means the line-buffer sizing rule (engine/dataflow.py) missed a wait."""
        index = {r.name: i for i, r in enumerate(self.resources)}
        names = []
        for i in edges:
            e = self.edges[i]
            traffic = e.row_bytes * self.tasks[e.src].total_rows
            if traffic <= self.global_bytes_left:
                self.global_bytes_left -= traffic
                port = _cycles(e.row_bytes * self.global_port_cycles_per_byte)
                r = self._resource(index, GBUF, "global_buffer")
                stages, level = ((r, port, 0), (r, port, 0)), "global"
            else:
                r = self._resource(index, f"{DRAM_RES}:{i % self.dram_channels}", "dram")
                c = _dram_cycles(e.row_bytes, self.dram_channel_gb_per_s, self.cycle_ns)
                stages, level = ((r, c, 0), (r, c, 0)), "dram"
            if e.level != level:
                self.global_bytes += traffic * ((level == "global") - (e.level == "global"))
                self.spill_bytes += traffic * ((level == "dram") - (e.level == "dram"))
                e.stages, e.level = stages, level
                self.resources[r].users += 1   # both stages on one resource, new to this edge
            e.cap = None
            self.relaxed += 1
            names.append(f"{self.tasks[e.src].name} -> {self.tasks[e.dst].name} ({level})")
        for r in self.resources:
            if self.contention or r.kind == "macros":
                r.contended = r.users >= 2
        self.notes.append(f"row engine deadlock: {len(edges)} line buffer(s) too small for a wait the sizing rule "
                          "(engine/dataflow.py, deadlock_free_rows) does not know; each now holds its producer's "
                          "whole map (global buffer if it has room, else DRAM; traffic priced) and the run restarted: "
                          + ", ".join(names[:5]) + (", ..." if len(names) > 5 else ""))

    def _resource(self, index: dict[str, int], name: str, kind: str) -> int:
        i = index.get(name)
        if i is None:
            i = index[name] = len(self.resources)
            self.resources.append(Resource(name, 1, kind))
        return i

    @property
    def segments(self) -> int:
        return len(self.barriers) + 1

    def serial_cycles(self) -> int:
        """Every timed event of the plan one after the other: each row's stages and fill, each transfer's
        holds and hop delays, each barrier stage. The event engine's latency never exceeds it: simulated time
        only advances through these timeouts, and a run that ends without deadlock has one running at every
        instant before its end (docs/engine.md, "The analytic estimate")."""
        rows = sum(t.total_rows * sum(c for _, c in t.stages) + t.samples * t.fill for t in self.tasks)
        moves = sum(self.tasks[e.src].total_rows * sum(c + d for _, c, d in e.stages) for e in self.edges)
        return rows + moves + sum(c for b in self.barriers for _, _, c in b)


def _cycles(x: float) -> int:
    """A stage lasts a whole number of cycles, at least one."""
    return max(1, math.ceil(x - 1e-9))


def _dram_cycles(row_bytes: float, channel_gb_per_s: float, cycle_ns: float) -> int:
    """A row written to (or read from) one DRAM channel: bytes / (GB/s) = ns, in whole cycles."""
    return _cycles(row_bytes / channel_gb_per_s / cycle_ns)


def barrier_kind(item: Barrier, ops: dict) -> str:
    """What a priced barrier becomes in the row engine: ``reload`` and ``update`` are tasks that overlap
    other work; anything else (spills of stored tensors, batch-shared digital work) stays a ``barrier``."""
    names = [s.op for s in item.stages]
    if all(":reload:" in n for n in names):
        return "reload"
    found = [ops.get(n) for n in names]
    if all(op is not None and op.phase == "update" and op.kind == "write" for op in found):
        return "update"
    return "barrier"


class _Builder:
    def __init__(self, ctx: Context, priced: PricedStep) -> None:
        self.ctx, self.priced = ctx, priced
        self.chip, self.tile = ctx.accel.chip, ctx.accel.tile
        self.resources: list[Resource] = []
        self.res_index: dict[str, int] = {}
        self.tasks: list[Task] = []
        self.task_index: dict[str, int] = {}
        self.edges: list[Edge] = []
        self.traffic = forward_traffic(ctx.step, ctx.mapping, self.chip.tiles, int(self.tile.macros or 1),
                                       ctx.macro.in_bits / 8)
        self.placement: Placement = self.traffic.placement
        self.ops = {op.name: op for op in ctx.step.ops}
        self.act_bytes = ctx.macro.in_bits / 8
        self.last_for_node: dict[str, int] = {}
        self.pending_reload: dict[str, int] = {}
        self.last_pool_task: int | None = None
        self.last_reload_write: int | None = None
        self.pool_tasks: list[str] = []    # tasks on the streaming pool, in the order they hold it
        self.dram_edges = 0
        self.global_left = float(self.chip.global_buffer_kib * 1024)
        self.reload_needs: dict[int, tuple[list[int], list[int]]] = {}

    def res(self, name: str, kind: str, capacity: int = 1) -> int:
        i = self.res_index.get(name)
        if i is None:
            i = self.res_index[name] = len(self.resources)
            self.resources.append(Resource(name, capacity, kind))
        return i

    def _kind(self, resource: str) -> str:
        return resource_kind(resource)

    # ------------------------------------------------------------------ tasks
    def forward_task(self, name: str, resource: str, segment: int, flow: Dataflow, times: tuple) -> Task:
        """A forward op's task: its row's stages from engine/rowtime.py (``times``: mode, whether it has a
        port stage, the port and unit stages rounded up to whole cycles, the fill)."""
        op = self.ops[name]
        mode, has_pre, pre, unit, fill = times
        tile = self.traffic.tile[name]   # the same tiles the cost model routes the NoC traffic by
        stages: list[tuple[int, int]] = []
        if has_pre:
            where = self.res(f"tile_buffer:{tile}", "tile_buffer") if mode == MVM else self.res(GBUF, "global_buffer")
            stages.append((where, pre))
        stages.append((self.res(resource, self._kind(resource)), unit))
        return Task(name, op.node, op.phase, segment, flow.rows[name], self.ctx.batch, tuple(stages), fill, tile)

    def row_stages(self, flow: Dataflow, fwd_names: set[str]) -> dict[int, tuple]:
        """Per forward item (by index): what :meth:`forward_task` needs of engine/rowtime.py, all ops timed
        in one numpy call."""
        items = self.priced.items
        index = [i for i, s in enumerate(items) if not isinstance(s, Barrier) and s.op in fwd_names]
        names = [items[i].op for i in index]
        mode = np.array([row_mode(self.ops[items[i].op].kind, self._kind(items[i].resource)) for i in index],
                        dtype=np.int64)
        t = forward_rows(self.ctx, self.priced, names, index, np.array([flow.rows[n] for n in names], dtype=np.int64),
                         mode)
        return dict(zip(index, zip(mode.tolist(), t.has_pre.tolist(), whole_cycles(t.pre).tolist(),
                                   whole_cycles(t.unit).tolist(), t.fill.tolist())))

    def chain_task(self, name: str, resource: str, cycles: float, segment: int) -> Task:
        op = self.ops.get(name.removesuffix(":noc"))
        node = op.node if op else name
        phase = op.phase if op else "forward"
        stages = ((self.res(resource, self._kind(resource), self._capacity(resource)), _cycles(cycles)),)
        return Task(name, node, phase, segment, 1, self.ctx.batch, stages)

    def _capacity(self, resource: str) -> int:
        return 1

    def add_task(self, task: Task, pool: bool = False) -> int:
        i = len(self.tasks)
        self.tasks.append(task)
        self.task_index[task.name] = i
        for r in {r for r, _ in task.stages}:   # a stream counts once per resource
            self.resources[r].users += 1
        self.last_for_node[task.node] = i
        if pool:
            self.pool_tasks.append(task.name)
            w = self.pending_reload.pop(task.node, None)
            if w is not None:  # every row of every sample waits for the layer's weights
                hi, lo = self.after_reload(task.rows)
                self.add_edge(Edge(w, i, hi, lo, 0, task.rows, None, ()))
            self.last_pool_task = i
        return i

    def after_reload(self, rows: int) -> tuple[list[int], list[int]]:
        """The need of a streamed op's rows on its reload's write: one list pair per row count, shared."""
        pair = self.reload_needs.get(rows)
        if pair is None:
            pair = self.reload_needs[rows] = ([1] * rows, [0] * rows)
        return pair

    # ------------------------------------------------------------------ reloads and updates
    def _barrier_kind(self, item: Barrier) -> str:
        return barrier_kind(item, self.ops)

    def _once_edge(self, src: int, dst: int) -> None:
        """``dst`` (one row) waits for every row of every sample of ``src``."""
        self.add_edge(Edge(src, dst, [self.tasks[src].total_rows], [0], 0, 1, None, ()))

    def _dram_parts(self, name: str, node: str, phase: str, segment: int, cycles: float) -> list[int]:
        """A bulk DRAM transfer priced at the full bandwidth, split evenly over the channels (each carries
        1/k of the bytes at 1/k of the bandwidth: the same cycles)."""
        return [self.add_task(Task(f"{name}:ch{c}", node, phase, segment, 1, 1,
                                   ((self.res(f"{DRAM_RES}:{c}", "dram"), _cycles(cycles)),)))
                for c in range(self.chip.dram_channels)]

    def reload_tasks(self, item: Barrier, segment: int) -> None:
        """A reload of a streamed layer: fetch from DRAM, then write the pool with the tile's write drivers.
        The write waits until the pool's previous layer has finished every row; the fetch is prefetched once
        the previous reload's write has emptied the global buffer (when the weights fit there), else it waits
        for the pool too. Nothing else waits: other layers compute meanwhile."""
        dram, write = item.stages
        layer = dram.op.split(":reload:")[0]
        pool_tile = self.placement.home.get(POOL_NAME, 0)
        fetch = self._dram_parts(dram.op, layer, "reload", segment, dram.cycles)
        w = self.add_task(Task(write.op, layer, "reload", segment, 1, 1,
                               ((self.res(f"write_drivers:{pool_tile}", "write"), _cycles(write.cycles)),),
                               tile=pool_tile))
        for f in fetch:
            self._once_edge(f, w)
        prev = self.last_pool_task
        if prev is not None:
            self._once_edge(prev, w)
        lm = self.ctx.mapping.layer(layer)
        fits = lm.weights * self.ctx.macro.w_bits / 8 <= self.chip.global_buffer_kib * 1024
        before = self.last_reload_write if fits else prev
        if before is not None:
            for f in fetch:
                self._once_edge(before, f)
        self.last_reload_write = w
        self.pending_reload[layer] = w

    def update_tasks(self, item: Barrier, segment: int, last_chain: int | None) -> None:
        """Weight updates: each written by its tile's write drivers (or written back to DRAM for a streamed
        layer) once the last op that reads the layer is done; other layers' work goes on meanwhile."""
        for st in item.stages:
            op = self.ops[st.op]
            after = self.last_for_node.get(op.node, last_chain)
            if st.resource == DRAM_RES:
                parts = self._dram_parts(st.op, op.node, "update", segment, st.cycles)
            else:
                tile = self.placement.home.get(op.node, 0)
                parts = [self.add_task(Task(st.op, op.node, "update", segment, 1, 1,
                                            ((self.res(f"write_drivers:{tile}", "write"), _cycles(st.cycles)),),
                                            tile=tile))]
            if after is not None:
                for p in parts:
                    self._once_edge(after, p)

    def add_edge(self, edge: Edge) -> None:
        i = len(self.edges)
        self.edges.append(edge)
        self.tasks[edge.src].out_edges.append(i)
        self.tasks[edge.dst].in_edges.append(i)
        for r in {r for r, _, _ in edge.stages}:
            self.resources[r].users += 1

    # ------------------------------------------------------------------ edges
    def transfer_stages(self, src_tile: int, dst_tile: int, row_bytes: float) -> tuple[tuple[int, int, int], ...]:
        """A row over the XY route between two tiles, its links held as :func:`noc.link_stages` says (cut-through;
        one definition for the row engine and the SNN timeline)."""
        route = tuple(self.placement.route(src_tile, dst_tile))
        return tuple((self.res(f"link:{a}->{b}", "link"), hold, delay) for (a, b), hold, delay in
                     link_stages(route, row_bytes * 8, self.chip.noc_width_bits, self.chip.noc_hop_latency_cycles))

    def dram_stages(self, row_bytes: float) -> tuple[tuple[int, int, int], ...]:
        """A spilled edge's rows: written to and read back from one channel (edges take channels in turn)."""
        per_channel_gb_s = self.chip.dram_bandwidth_gb_per_s / self.chip.dram_channels
        cycles = _dram_cycles(row_bytes, per_channel_gb_s, self.ctx.cycle_ns)
        r = self.res(f"{DRAM_RES}:{self.dram_edges % self.chip.dram_channels}", "dram")
        self.dram_edges += 1
        return ((r, cycles, 0), (r, cycles, 0))

    # ------------------------------------------------------------------ the whole plan
    def build(self) -> Plan:
        items = self.priced.items
        forward = [(s.op, self.ops[s.op].node) for s in items
                   if not isinstance(s, Barrier) and s.op in self.ops and self.ops[s.op].phase == "forward"]
        flow = build_dataflow(self.ctx.step.graph, forward)
        fwd_names = {name for name, _ in forward}
        times = self.row_stages(flow, fwd_names)
        by_dst: dict[str, list] = {}
        for e in flow.edges:
            by_dst.setdefault(e.dst, []).append(e)
        barriers: list[tuple[tuple[str, str, int], ...]] = []
        segment = 0
        prev_chain: int | None = None
        pending_edges = []
        for i, item in enumerate(items):
            if isinstance(item, Barrier):
                kind = self._barrier_kind(item)
                if kind == "reload":
                    self.reload_tasks(item, segment)
                elif kind == "update":
                    self.update_tasks(item, segment, prev_chain)
                else:
                    barriers.append(tuple((s.op, s.resource, _cycles(s.cycles)) for s in item.stages))
                    segment += 1
                continue
            if item.op in fwd_names:
                t = self.add_task(self.forward_task(item.op, item.resource, segment, flow, times[i]),
                                  pool=item.resource == POOL)
                pending_edges.extend((e, t) for e in by_dst.get(item.op, ()))
                continue
            if item.op.endswith(":noc") and item.op.removesuffix(":noc") in fwd_names:
                continue  # replaced by the edges' transfers
            t = self.add_task(self.chain_task(item.op, item.resource, item.cycles, segment),
                              pool=item.resource == POOL)
            if prev_chain is None:
                srcs = [self.task_index[s] for s in flow.sinks]
            else:
                srcs = [prev_chain]
            for s in srcs:
                src = self.tasks[s]
                self.add_edge(Edge(s, t, [src.rows], [0], src.rows, 1, None, ()))
            prev_chain = t
        spill, staged = self._forward_edges(pending_edges)
        for r in self.resources:
            if self.chip.contention or r.kind == "macros":
                r.contended = r.users >= 2
        plan = Plan(self.tasks, self.edges, self.resources, barriers, self.tile.double_buffering, spill, staged,
                    global_port_cycles_per_byte=1 / self.chip.global_buffer_bytes_per_cycle,
                    global_bytes_left=self.global_left,
                    dram_channel_gb_per_s=self.chip.dram_bandwidth_gb_per_s / self.chip.dram_channels,
                    cycle_ns=self.ctx.cycle_ns, dram_channels=self.chip.dram_channels, contention=self.chip.contention)
        coalesce(plan, row_group(plan, MAX_ROW_EVENTS))
        return plan

    def _forward_edges(self, pending) -> tuple[float, float]:
        """Line buffers, global buffer or DRAM for every forward edge, by the one rule of
        engine/staging.py (``stage_edges``); the bytes staged in DRAM and in the global buffer."""
        graph = self.ctx.step.graph
        info = []
        for e, t in pending:
            s = self.task_index[e.src]
            node = graph[self.tasks[s].node]
            row_bytes = node.out_elems / op_rows(node.out_shape) * self.act_bytes
            info.append((e, s, t, row_bytes))
        # Pool epochs: a task after the k-th streamed layer (on the pool) cannot start before the pool's
        # previous layer has finished every row, so an edge into a later epoch must hold the whole map
        # (global buffer if it has room, else DRAM): a bounded buffer there could deadlock.
        # epoch of a task: the position in pool order of the last streamed layer it (transitively) follows
        pool_rank = {name: k + 1 for k, name in enumerate(self.pool_tasks)}
        epoch: dict[int, int] = {}
        for _e, s, _t, _rb in info:
            epoch.setdefault(s, pool_rank.get(self.tasks[s].name, 0))
        for _e, s, t, _rb in sorted(info, key=lambda x: x[2]):
            epoch[t] = max(epoch.get(t, pool_rank.get(self.tasks[t].name, 0)), epoch[s])
        needs = [EdgeNeed(e.min_rows, rb, self.tasks[s].total_rows, self.tasks[t].tile,
                          later_epoch=epoch.get(s, 0) < epoch.get(t, 0),
                          same_segment=self.tasks[s].segment == self.tasks[t].segment)
                 for e, s, t, rb in info]
        levels = stage_edges(needs, self.tile.buffer_kib * 1024, self.chip.global_buffer_kib * 1024)
        self.global_left = global_bytes_left(needs, levels, self.chip.global_buffer_kib * 1024)
        for (e, s, t, row_bytes), (kind, cap) in zip(info, levels):
            src, dst = self.tasks[s], self.tasks[t]
            hi, lo = e.need.hi, e.need.lo   # arrays until coalesce() makes them lists
            if kind == "barrier":
                self.add_edge(Edge(s, t, hi, lo, src.rows, dst.rows, None, (), row_bytes))
            elif kind == "tile":
                stages = self.transfer_stages(src.tile, dst.tile, row_bytes)
                self.add_edge(Edge(s, t, hi, lo, src.rows, dst.rows, cap, stages, row_bytes))
            elif kind in ("global", "global-whole"):
                port = _cycles(row_bytes / self.chip.global_buffer_bytes_per_cycle)
                g = self.res(GBUF, "global_buffer")
                self.add_edge(Edge(s, t, hi, lo, src.rows, dst.rows, cap if kind == "global" else None,
                                   ((g, port, 0), (g, port, 0)), row_bytes, level="global"))
            else:
                self.add_edge(Edge(s, t, hi, lo, src.rows, dst.rows, None, self.dram_stages(row_bytes), row_bytes,
                                   level="dram"))
        return staged_bytes(needs, levels)


def _task_weights(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Per task: rows per sample, and the events one of its rows makes (its stages, its out-edges' stages)
    times the samples."""
    per_row = np.array([len(t.stages) for t in plan.tasks], dtype=np.int64)
    for e in plan.edges:
        per_row[e.src] += len(e.stages)
    rows = np.array([t.rows for t in plan.tasks], dtype=np.int64)
    samples = np.array([t.samples for t in plan.tasks], dtype=np.int64)
    return rows, per_row * samples


def planned_events(plan: Plan) -> int:
    """Timed events the plan makes: every row's stages and every transfer's stages, over the batch."""
    rows, weight = _task_weights(plan)
    return int((rows * weight).sum())


def row_group(plan: Plan, budget: int) -> int:
    """The smallest number of rows per event that keeps the plan's events within ``budget`` (1 if it fits;
    the largest op's rows if nothing fits)."""
    rows, weight = _task_weights(plan)
    if not len(rows) or int((rows * weight).sum()) <= budget:
        return 1
    lo, hi = 1, int(rows.max())
    while lo < hi:
        mid = (lo + hi) // 2
        if int((-(-rows // mid) * weight).sum()) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return lo


def coalesce(plan: Plan, g: int) -> None:
    """Group the plan's rows, up to ``g`` per event (module docstring, "Granularity"): an op of ``R`` rows
    streams ``ceil(R / g)`` groups; ``g = 1`` only makes every edge's need a list of ints."""
    group_rows(plan, [-(-t.rows // max(g, 1)) for t in plan.tasks])


def group_rows(plan: Plan, n: list[int]) -> None:
    """Let task i stream ``n[i]`` groups per sample: group j of an op of ``R`` rows holds rows
    ``floor(j R / n) .. floor((j + 1) R / n) - 1``, and each group's stages last ``R / n`` rows' (rounded up to
    whole cycles, so an op's groups add up to its rows within a cycle each). An edge's grouped need depends only
    on its row need and the two ops' rows and groups, so edges that share a need (engine/dataflow.py shares one
    per rule and shape) share the grouped one: computed once, one list object for all of them."""
    before = [t.rows for t in plan.tasks]
    if all(k >= r for k, r in zip(n, before)):
        memo: dict = {}
        for e in plan.edges:
            e.hi, e.lo = _ints(e.hi, memo), _ints(e.lo, memo)
        return
    ends: list = []   # per task: the row each group ends before, per sample (None: not grouped)
    for t, k, r in zip(plan.tasks, n, before):
        if k < r:
            ends.append((np.arange(1, k + 1, dtype=np.int64) * r) // k)
            t.stages = tuple((res, -(-c * r // k)) for res, c in t.stages)
            t.rows = k
        else:
            ends.append(None)
    grouped: dict = {}   # (need objects, rows and groups of both ends) -> (their needs, grouped hi, lo, Need)
    needs: list[Need | None] = []   # per edge: its grouped need (forward edges, for the line buffers)
    for e in plan.edges:
        src, dst = plan.tasks[e.src], plan.tasks[e.dst]
        rs, ns = before[e.src], src.rows
        if ends[e.src] is None and ends[e.dst] is None:   # neither side grouped (one-row tasks, mostly)
            key = (_key(e.hi), _key(e.lo), e.src_rows, None)
        else:
            key = (_key(e.hi), _key(e.lo), e.src_rows, rs, ns, before[e.dst], dst.rows)
            if ends[e.src] is not None:
                e.stages = tuple((r, -(-c * rs // ns), d) for r, c, d in e.stages)
                e.row_bytes *= rs / ns
        hit = grouped.get(key)
        if hit is None:
            hi, lo = _grouped(e, rs, ns, ends[e.src], ends[e.dst])
            nd = Need(hi, lo, ns) if e.src_rows else None
            if nd is not None:
                hi.flags.writeable = lo.flags.writeable = False
            hit = grouped[key] = (e.hi, e.lo, hi.tolist(), lo.tolist(), nd)   # e.hi, e.lo kept: ids stay theirs
        e.hi, e.lo = hit[2], hit[3]
        needs.append(hit[4])
        e.src_rows = ns if e.src_rows else 0
        e.dst_rows = dst.rows
    _group_caps(plan, before, needs)
    plan.row_group = max(-(-r // t.rows) for r, t in zip(before, plan.tasks))
    plan.notes.append(f"rows grouped, up to {plan.row_group} per event (plan over {MAX_ROW_EVENTS:,} row events, "
                      "engine/plan.py 'Granularity'): each group waits for its last row's inputs and holds its "
                      "resources for all its rows, so the latency is that of a coarser pipeline (longer as a rule, "
                      "not a proven bound)")


def _grouped(e: Edge, rs: int, ns: int, end_s: np.ndarray | None, end_d: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """An edge's need in groups: per consumer group, the producer groups it needs and the first it still reads
    (``end_s``, ``end_d``: where each group of the producer, the consumer ends; None: not grouped)."""
    hi, lo = np.asarray(e.hi, dtype=np.int64), np.asarray(e.lo, dtype=np.int64)
    if end_d is not None:
        starts = np.concatenate(([0], end_d[:-1]))
        hi, lo = np.maximum.reduceat(hi, starts), np.minimum.reduceat(lo, starts)
    if end_s is not None:
        if e.src_rows:
            hi_g = np.searchsorted(end_s, hi, side="left") + 1
            lo_g = np.searchsorted(end_s, lo, side="right")
        else:   # counts over the whole batch (a task waiting for rows of another's stream)
            bh, rh = np.divmod(hi, rs)
            bl, rl = np.divmod(lo, rs)
            hi_g = bh * ns + np.where(rh > 0, np.searchsorted(end_s, rh, side="left") + 1, 0)
            lo_g = bl * ns + np.searchsorted(end_s, rl, side="right")
        hi, lo = hi_g, lo_g
    return hi, lo


def _key(values) -> int | tuple:
    """What a need is known by: a short list by its values, anything else by its identity (kept alive by the
    caller meanwhile)."""
    return tuple(values) if type(values) is list and len(values) <= 8 else id(values)


def _ints(values, memo: dict) -> list[int]:
    """A need as a list of Python ints (numpy arrays until the plan is grouped); a shared array (one per rule
    and shape, engine/dataflow.py) gives one shared list."""
    if not isinstance(values, np.ndarray):
        return [int(v) for v in values]
    hit = memo.get(id(values))
    if hit is None:
        hit = memo[id(values)] = (values, values.tolist())   # the array kept: its id stays its own
    return hit[1]


def _group_caps(plan: Plan, before: list[int], needs: list[Need | None]) -> None:
    """A bounded line buffer in groups: its rows in the producer's average group, rounded up, and at least the
    groups that cannot deadlock, by the rule of engine/dataflow.py (``deadlock_free_rows``) on the grouped
    needs (``needs``, per edge)."""
    forward = [(e, nd) for e, nd in zip(plan.edges, needs) if e.src_rows]
    safe = deadlock_free_rows([(e.src, e.dst, nd) for e, nd in forward], range(len(plan.tasks)))
    for (e, _), n in zip(forward, safe):
        if e.cap is not None:
            e.cap = max(-(-e.cap * e.src_rows // before[e.src]), n)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off while a big plan is built or run: both only add objects (tasks,
    edges, event records), so each full collection rescans a heap that only grows, a third of a big plan's
    run time (Flan-T5-large LoRAFusion); whatever cycles are left are collected once it is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_plan(ctx: Context, priced: PricedStep) -> Plan:
    """The row-pipelined plan of a priced step (see the module docstring)."""
    with paused_gc():
        return _Builder(ctx, priced).build()
