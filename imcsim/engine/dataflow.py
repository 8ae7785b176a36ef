"""Row dataflow of the forward pass: how many rows each op streams and which producer rows each row needs.

The row-pipelined event engine (``chip.pipeline: row``) runs every forward op of a sample as a stream of
output **rows**: ``rows = shape[-2]`` of the op's output (H of a (C, H, W) map, T of a (T, D) token
sequence, the query tokens of (heads, T, S) attention scores), 1 for a vector ((D,)).

For every edge producer -> consumer, two integer arrays over the consumer's rows say what row ``r`` of the
consumer needs from the producer (rows counted per sample, 0-based):

- ``hi[r]``: how many producer rows must have arrived before row ``r`` can start;
- ``lo[r]``: the first producer row that row ``r`` still reads; once row ``r - 1`` is done, the rows
  below ``lo[r]`` are freed from the consumer's input line buffer.

Rules (``need``):

- **window** (conv, pool on (C, H, W)): output row r reads input rows r*s - p ... r*s - p + (k-1)*d
  (stride s, padding p, dilation d, kernel height k), clipped to the map: ``hi = min(H_in, r*s - p +
  (k-1)*d + 1)``, ``lo = max(0, r*s - p)``.
- **row-wise** (elementwise, activations, batch/RMS norm, per-token layer norm and linear, add, mul,
  concat, dropout, embedding, upsample, tokens): row r of the output reads the input rows that cover it
  proportionally, ``hi = ceil((r+1) R_in / R_out)``, ``lo = floor(r R_in / R_out)`` (equal row counts
  give ``hi = r + 1``, ``lo = r``; a (C,) squeeze-excite gate, one row, is needed whole by every row).
- **attention** (``matmul``): the first operand row-wise (query tokens, score rows), the second whole
  (keys, values: every score row reads all of them).
- **whole input** (global pooling, flatten, reshape, select, group norm, layer norm over a map, a linear
  on a vector, anything else): every row needs every input row (``hi = R_in``, ``lo = 0``).

An op without a step op of its own (a graph node the method does not price, e.g. a dropout at
inference in some graphs) is looked through: its consumer's need is composed with its own.

**Line-buffer sizes that cannot deadlock** (``deadlock_free_rows``). A consumer's input line buffer must
hold the rows it reads at once (the edge's window). Where the paths out of a *fork* (an op with two
consumers or more) meet again at a *join*, the join's row r cannot run before the fork has made ``M[r]``
rows, ``M`` being the fork rows needed along the path that needs most (``M_X[r]`` is ``hi`` on an edge out
of the fork and ``M_Y[hi_YX[r] - 1]`` through an op Y, maximised over the paths). Until then the rows the
fork makes pile up along the other paths, so each input edge X -> join must hold the X rows that let the
fork reach ``M[r]``: every op between the fork and X runs as far as its consumers' line buffers (their
rows, at least their windows) allow, walking back from X, and X must have made the fewest rows for which
the fork gets to ``M[r]``; the edge gets ``max_r (that - lo[r])`` rows. On an edge straight from the fork
to the join this is ``M[r] - lo[r]``: the shortcut of a residual block holds the rows the block's convs
are ahead by (3 rows around two 3x3 convs). A gate fed by a global pool of the block input (DA3) or
attention scores that need every key row (a transformer: the query path beside the key path) make the
other path hold nearly a whole map. One walk per fork over its descendants in topological order; it stops
at the first op every path from the fork goes through (beyond it that op is the fork that matters). The
plan gives each edge at least that many rows (the staging rule sends it to the global buffer or DRAM when
the consumer tile's buffer cannot hold them). Before this rule looked at direct fork -> join edges only, and
such plans deadlocked; should a deadlock still occur, the event engine gives the blocked edges whole maps
(global buffer if it has room, else DRAM: ``Plan.relax``) and says so on the result; none occurs on the
built-in workloads.

**Coalescing rule.** Rows are never split. Up to ``engine.plan.MAX_ROW_EVENTS`` planned events every row
of every op is one event on its unit; above it the plan groups consecutive rows of each op (engine/plan.py,
"Granularity": a group waits for the producer groups holding every row its rows need). What is coalesced is *between* events: an edge whose producer and consumer sit on the
same tile and whose rows stay in that tile's buffer has no transfer event (its rows are delivered when
produced), and a resource that only one op stream ever uses is a plain delay, not a SimPy resource.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from imcsim.memo import IdentityMemo
from imcsim.workload.graph import Graph, Node

WINDOW_OPS = ("conv", "pool")
ROW_WISE_OPS = ("act", "add", "mul", "concat", "dropout", "embedding", "upsample", "tokens")


def op_rows(shape: tuple[int, ...]) -> int:
    """Rows an op streams per sample: ``shape[-2]`` (H of (C, H, W), T of (T, D)), 1 for a vector."""
    return int(shape[-2]) if len(shape) >= 2 else 1


@dataclass(frozen=True)
class Need:
    """What each consumer row needs of one producer (per sample; see the module docstring). Read-only: the
    needs of one rule and shape are one shared object (:func:`shared`)."""

    hi: np.ndarray  # int64, len = consumer rows: producer rows needed before the row can start
    lo: np.ndarray  # int64: first producer row the row still reads
    src_rows: int

    @cached_property
    def window(self) -> int:
        """Producer rows the consumer holds at once on this edge alone."""
        return int(np.max(self.hi - self.lo)) if len(self.hi) else 0

    @cached_property
    def identity(self) -> bool:
        """Row r needs the producer's rows up to r (``hi[r] = r + 1``: equal row counts, row-wise)."""
        return len(self.hi) == self.src_rows and bool(np.array_equal(self.hi, np.arange(1, len(self.hi) + 1)))

    @cached_property
    def hi_rows(self) -> np.ndarray:
        """``hi - 1``: the last producer row each consumer row needs, as an index."""
        return self.hi - 1


def shared(build: Callable[..., Need]) -> Callable[..., Need]:
    """One :class:`Need` per rule and arguments, its arrays read-only, shared by every edge that asks: a big
    transformer's 13,592 edges need 6 distinct arrays pairs (59 MiB as one pair per edge, 512 rows of int64)."""
    @lru_cache(maxsize=4096)
    def cached(*args: int) -> Need:
        nd = build(*args)
        nd.hi.flags.writeable = nd.lo.flags.writeable = False
        return nd

    return cached


@shared
def _whole(rows_out: int, rows_in: int) -> Need:
    return Need(np.full(rows_out, rows_in, dtype=np.int64), np.zeros(rows_out, dtype=np.int64), rows_in)


@shared
def _row_wise(rows_out: int, rows_in: int) -> Need:
    r = np.arange(rows_out, dtype=np.int64)
    hi = -(-(r + 1) * rows_in // rows_out)
    lo = r * rows_in // rows_out
    return Need(np.maximum(hi, 1), np.minimum(lo, np.maximum(hi, 1) - 1), rows_in)


@shared
def _window(rows_out: int, rows_in: int, k: int, s: int, p: int, d: int) -> Need:
    r = np.arange(rows_out, dtype=np.int64)
    hi = np.clip(r * s - p + (k - 1) * d + 1, 1, rows_in)
    lo = np.minimum(np.clip(r * s - p, 0, rows_in - 1), hi - 1)
    return Need(hi, lo, rows_in)


def need(node: Node, input_index: int, in_shape: tuple[int, ...]) -> Need:
    """What each output row of ``node`` needs from its ``input_index``-th input (of shape ``in_shape``)."""
    rows_out, rows_in = op_rows(node.out_shape), op_rows(in_shape)
    op, attrs = node.op, node.attrs
    if op in WINDOW_OPS and len(in_shape) == 3 and len(node.out_shape) == 3:
        k = int(attrs["kernel"][0])
        s = int(attrs.get("stride", (1, 1))[0] or 1)
        p = int(attrs.get("padding", (0, 0))[0])
        d = int(attrs.get("dilation", (1, 1))[0])
        return _window(rows_out, rows_in, k, s, p, d)
    if op == "matmul":
        return _row_wise(rows_out, rows_in) if input_index == 0 else _whole(rows_out, rows_in)
    row_wise = (op in ROW_WISE_OPS
                or (op == "norm" and (attrs.get("kind") in ("bn", "rms") or len(node.out_shape) == 2))
                or (op == "linear" and len(in_shape) == 2))
    return _row_wise(rows_out, rows_in) if row_wise else _whole(rows_out, rows_in)


def compose(outer: Need, inner: Need) -> Need:
    """``outer`` (consumer on X) after ``inner`` (X on producer): the producer rows the consumer needs."""
    hi = inner.hi[np.maximum(outer.hi - 1, 0)]
    lo = inner.lo[np.minimum(outer.lo, len(inner.lo) - 1)]
    return Need(hi, np.minimum(lo, hi - 1), inner.src_rows)


@dataclass(frozen=True)
class Edge:
    """A forward edge between two ops (names of step ops) and its row need."""

    src: str
    dst: str
    need: Need
    min_rows: int  # line-buffer rows that cannot deadlock (module docstring)


@dataclass(frozen=True)
class Dataflow:
    rows: dict[str, int]            # op name -> rows per sample
    edges: tuple[Edge, ...]         # in consumer order, then input order
    sinks: tuple[str, ...]          # ops no other forward op consumes


_FLOWS: IdentityMemo[Dataflow] = IdentityMemo(8)   # (graph, ops) -> its flow


def build_dataflow(graph: Graph, ops: list[tuple[str, str]]) -> Dataflow:
    """Row dataflow of forward ops given as ``(op name, node name)`` in topological order. Memoised on the
    graph object and the ops (the plan, the NoC routing and the row estimate of one step ask for it in turn;
    a big transformer's takes seconds). Callers do not modify it."""
    return _FLOWS.get((graph,), (tuple(ops),), lambda: _build_dataflow(graph, ops))


def _build_dataflow(graph: Graph, ops: list[tuple[str, str]]) -> Dataflow:
    op_of = {node: name for name, node in ops}
    order = {name: i for i, (name, _) in enumerate(ops)}
    rows = {name: op_rows(graph[node].out_shape) for name, node in ops}
    raw: list[tuple[str, str, Need]] = []

    def producers(node_name: str) -> list[tuple[str, Need | None]]:
        """(op, need of ``node_name``'s output on that op) for the priced ops upstream of a node."""
        node = graph[node_name]
        out: list[tuple[str, Need | None]] = []
        for i, inp in enumerate(node.inputs):
            if inp in op_of:
                out.append((op_of[inp], need(node, i, graph[inp].out_shape)))
            elif inp in graph and graph[inp].inputs:  # a node without a priced op: look through it
                n = need(node, i, graph[inp].out_shape)
                for src, inner in producers(inp):
                    out.append((src, compose(n, inner) if inner is not None else None))
        return out

    for name, node in ops:
        seen: dict[str, Need] = {}
        for src, nd in producers(node):
            if nd is None or order.get(src, len(ops)) >= order[name]:
                continue
            if src in seen:  # two inputs from one producer (x * x): the larger need, the smaller low mark
                old = seen[src]
                nd = Need(np.maximum(old.hi, nd.hi), np.minimum(old.lo, nd.lo), nd.src_rows)
            seen[src] = nd
        raw.extend((src, name, nd) for src, nd in seen.items())
    edges = tuple(Edge(src, dst, nd, n) for (src, dst, nd), n in zip(raw, deadlock_free_rows(raw, order)))
    sources = {src for src, _, _ in raw}
    sinks = tuple(name for name, _ in ops if name not in sources)
    return Dataflow(rows, edges, sinks)


def deadlock_free_rows(edges: Sequence[tuple[Hashable, Hashable, Need]], order: Mapping[Hashable, int]
                       ) -> list[int]:
    """Line-buffer rows per edge that cannot deadlock (module docstring, "Line-buffer sizes"); ops are any
    hashable names (op names here, task indices in the plan's row groups), ``order`` topological. One walk per
    fork (an op with two consumers or more) over its descendants in topological order, which stops where
    every path from the fork has merged into one op (past it, that op is the fork that matters).

    Cheap steps (results unchanged): an edge whose need is the identity (row r needs rows up to r: equal row
    counts, row-wise) passes the fork rows ``m`` on as the same array, already non-decreasing."""
    srcs = [src for src, _, _ in edges]
    dsts = [dst for _, dst, _ in edges]
    needs = [nd for _, _, nd in edges]
    out_of: dict[Hashable, list[int]] = {}
    into: dict[Hashable, list[int]] = {}
    n_rows: dict[Hashable, int] = {}
    for i, (src, dst, nd) in enumerate(edges):
        out_of.setdefault(src, []).append(i)
        into.setdefault(dst, []).append(i)
        n_rows[src] = nd.src_rows
        n_rows.setdefault(dst, len(nd.hi))
    rows = [nd.window for nd in needs]
    for fork, outs in out_of.items():
        if len(outs) < 2:
            continue
        # m[x]: fork rows needed before row r of x can run (max over paths), made non-decreasing
        m: dict[Hashable, np.ndarray | None] = {fork: None}
        heap = sorted({(order[dsts[i]], dsts[i]) for i in outs}, key=lambda t: t[0])
        heap_keys = {x for _, x in heap}
        pending = len(outs)   # edges from walked ops into ops not walked yet
        while heap:
            _, y = heapq.heappop(heap)
            ins = [i for i in into[y] if srcs[i] in m]
            pending -= len(ins)
            cands = []
            for i in ins:
                mx, nd = m[srcs[i]], needs[i]
                cands.append(nd.hi if mx is None else mx if nd.identity else mx[nd.hi_rows])
            if len(cands) == 1:
                my = cands[0]
                if not (m[srcs[ins[0]]] is not None and needs[ins[0]].identity):   # else non-decreasing already
                    my = np.maximum.accumulate(my)
            else:
                my = np.maximum.accumulate(np.maximum.reduce(cands))
            m[y] = my
            if len(ins) >= 2:   # a join of the fork's paths: each input must let the fork reach my[r]
                for i in ins:
                    x, lo = srcs[i], needs[i].lo
                    if x == fork:
                        held = int((my - lo).max())
                    else:
                        # at most the rows of x up to the first one that needs my[r] of the fork (x cannot
                        # make it before the fork has); only when that bound asks for more than the window
                        # do the buffers between the fork and x decide (a walk back over them)
                        held = int((m[x].searchsorted(my, side="left") + 1 - lo).max())
                        if held > rows[i]:
                            reach = _branch_rows(fork, x, my, edges, into, out_of, m, rows, n_rows, order)
                            held = int((reach - lo).max())
                    rows[i] = max(rows[i], held)
            if not pending:   # every path from the fork goes through y: past y, y is the fork that matters
                break
            for i in out_of.get(y, ()):
                z = dsts[i]
                pending += 1
                if z not in heap_keys:
                    heap_keys.add(z)
                    heapq.heappush(heap, (order[z], z))
    return rows


def _branch_rows(fork, x, need: np.ndarray, edges, into, out_of, m, rows, n_rows, order) -> np.ndarray:
    """Per join row r: the rows ``x`` must have made so that the fork can make ``need[r]`` rows while the
    join waits, given the line buffers between the fork and ``x`` (``rows``, at least their windows). Each
    op between them can run as far as its consumers' buffers allow, from ``x`` back to the fork."""
    branch = {x}
    stack = [x]
    while stack:   # the walked ops between the fork and x
        for i in into.get(stack.pop(), ()):
            w = edges[i][0]
            if w in m and w not in branch:
                branch.add(w)
                if w != fork:
                    stack.append(w)
    done = np.arange(n_rows[x] + 1, dtype=np.int64)   # x has made 0 .. all of its rows
    reach: dict = {x: done}
    for w in sorted(branch - {x}, key=order.__getitem__, reverse=True):
        total = n_rows[w]
        best = np.full(len(done), total, dtype=np.int64)
        for i in out_of[w]:
            y = edges[i][1]
            if y in reach:
                ry, lo = reach[y], edges[i][2].lo
                # y's next row ry reads from lo[ry] on; y done with the sample frees every row of w
                ahead = np.where(ry < len(lo), lo[np.minimum(ry, len(lo) - 1)] + rows[i], total)
                best = np.minimum(best, ahead)
        reach[w] = np.minimum(best, total)
    return np.searchsorted(reach[fork], need, side="left")
