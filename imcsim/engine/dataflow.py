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

**Line-buffer sizes that cannot deadlock** (``min_rows``). A consumer's input line buffer must hold the
rows it reads at once; where a producer reaches a consumer along two paths (a residual shortcut next to
a block of convs, the branches of a concatenation), the short path's buffer must also hold the rows the
producer has to run ahead so that the long path can deliver: for producer P and consumer C,
``min_rows = max_r (M_C[r] - lo[r])``, where ``M_X[r]``, the P rows needed before row r of X can run, is
``hi`` on a direct edge and ``M_Y[hi_YX[r] - 1]`` through an intermediate op Y, maximised over the
paths (a dynamic programme in topological order over the ops between P and C). The plan gives each edge
at least that many rows, or sends the edge through DRAM when the consumer's buffer share cannot hold them.

**Coalescing rule.** Rows are never split. Up to ``engine.plan.MAX_ROW_EVENTS`` planned events every row
of every op is one event on its unit; above it the plan groups consecutive rows of each op (engine/plan.py,
"Granularity": a group waits for the producer groups holding every row its rows need). What is coalesced is *between* events: an edge whose producer and consumer sit on the
same tile and whose rows stay in that tile's buffer has no transfer event (its rows are delivered when
produced), and a resource that only one op stream ever uses is a plain delay, not a SimPy resource.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcsim.engine.memo import IdentityMemo
from imcsim.workload.graph import Graph, Node

WINDOW_OPS = ("conv", "pool")
ROW_WISE_OPS = ("act", "add", "mul", "concat", "dropout", "embedding", "upsample", "tokens")


def op_rows(shape: tuple[int, ...]) -> int:
    """Rows an op streams per sample: ``shape[-2]`` (H of (C, H, W), T of (T, D)), 1 for a vector."""
    return int(shape[-2]) if len(shape) >= 2 else 1


@dataclass(frozen=True)
class Need:
    """What each consumer row needs of one producer (per sample; see the module docstring)."""

    hi: np.ndarray  # int64, len = consumer rows: producer rows needed before the row can start
    lo: np.ndarray  # int64: first producer row the row still reads
    src_rows: int

    @property
    def window(self) -> int:
        """Producer rows the consumer holds at once on this edge alone."""
        return int(np.max(self.hi - self.lo)) if len(self.hi) else 0


def _whole(rows_out: int, rows_in: int) -> Need:
    return Need(np.full(rows_out, rows_in, dtype=np.int64), np.zeros(rows_out, dtype=np.int64), rows_in)


def _row_wise(rows_out: int, rows_in: int) -> Need:
    r = np.arange(rows_out, dtype=np.int64)
    hi = -(-(r + 1) * rows_in // rows_out)
    lo = r * rows_in // rows_out
    return Need(np.maximum(hi, 1), np.minimum(lo, np.maximum(hi, 1) - 1), rows_in)


def need(node: Node, input_index: int, in_shape: tuple[int, ...]) -> Need:
    """What each output row of ``node`` needs from its ``input_index``-th input (of shape ``in_shape``)."""
    rows_out, rows_in = op_rows(node.out_shape), op_rows(in_shape)
    op, attrs = node.op, node.attrs
    if op in WINDOW_OPS and len(in_shape) == 3 and len(node.out_shape) == 3:
        k = int(attrs["kernel"][0])
        s = int(attrs.get("stride", (1, 1))[0] or 1)
        p = int(attrs.get("padding", (0, 0))[0])
        d = int(attrs.get("dilation", (1, 1))[0])
        r = np.arange(rows_out, dtype=np.int64)
        hi = np.clip(r * s - p + (k - 1) * d + 1, 1, rows_in)
        lo = np.minimum(np.clip(r * s - p, 0, rows_in - 1), hi - 1)
        return Need(hi, lo, rows_in)
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
    consumers: dict[str, list[str]] = {}
    inputs: dict[str, list[tuple[str, Need]]] = {}
    for src, dst, nd in raw:
        consumers.setdefault(src, []).append(dst)
        inputs.setdefault(dst, []).append((src, nd))
    edges = tuple(Edge(src, dst, nd, min_rows(src, dst, nd, consumers, inputs, order))
                  for src, dst, nd in raw)
    sinks = tuple(name for name, _ in ops if name not in consumers)
    return Dataflow(rows, edges, sinks)


def min_rows(src, dst, nd: Need, consumers: dict,
              inputs: dict, order: dict) -> int:
    """Line-buffer rows of edge ``src -> dst`` that cannot deadlock (module docstring); ops are any
    hashable names (op names here, task indices in the plan's row groups)."""
    window = nd.window
    if len(consumers.get(src, ())) < 2:
        return window
    # ops on some path src -> ... -> dst: descendants of src that reach dst
    desc: set[str] = set()
    stack = [src]
    while stack:
        for c in consumers.get(stack.pop(), ()):
            if c not in desc and order[c] <= order[dst]:
                desc.add(c)
                stack.append(c)
    anc: set[str] = set()
    stack = [dst]
    while stack:
        for p, _ in inputs.get(stack.pop(), ()):
            if p not in anc and p in desc:
                anc.add(p)
                stack.append(p)
    if not anc:
        return window
    between = sorted(anc | {dst}, key=order.__getitem__)
    m: dict[str, np.ndarray] = {}
    for x in between:
        best = None
        for p, e in inputs[x]:
            if p == src:
                cand = e.hi
            elif p in m:
                cand = m[p][e.hi - 1]
            else:
                continue
            best = cand if best is None else np.maximum(best, cand)
        m[x] = best
    return max(window, int(np.max(m[dst] - nd.lo)))
