"""The layer-graph IR: nodes in forward order, per-sample shapes, parameters and MACs.

A :class:`Graph` is what every workload source (model zoo, ONNX, SCALE-Sim CSV) produces and what
method transforms, accounting and mapping consume. It knows nothing of hardware.

Conventions
- Shapes are **per sample** (batch is applied by the consumer): ``(C, H, W)`` for feature maps,
  ``(T, D)`` for token sequences, ``(D,)`` for vectors.
- ``Node.params`` counts parameters by role (``weight``, ``bias``, ``scale``, ``shift``);
  ``Node.macs`` counts multiply-accumulates of one sample (conv, linear, attention matmul only;
  norms, activations, pools and adds are 0, as in the reference tables).
- Nodes are kept in forward (topological) order; ``inputs`` name the producers (``"input"`` is the
  graph input). Source nodes (ops ``input``, ``param``, ``rel_pos_bias``) read nothing: ``inputs == ()``
  and ``in_shape == ()``. Residual blocks are recorded as :class:`Block` s, never flattened away.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

Shape = tuple[int, ...]

#: Every op kind of the IR, and what its ``attrs`` hold.
OPS: dict[str, str] = {
    "input": "graph input",
    "conv": "in_ch, out_ch, kernel (kh, kw), stride, padding, dilation (pairs), groups, bias",
    "linear": "in_features, out_features, bias; applied to the last axis ((D,) or (T, D))",
    "matmul": "activation x activation (attention): kind 'qk' or 'av', heads, m, n, k (per head)",
    "norm": "kind 'bn' | 'gn' | 'ln' | 'rms', channels, groups (gn), affine, bias (has shift)",
    "act": "kind 'relu' | 'relu6' | 'hswish' | 'hsigmoid' | 'sigmoid' | 'gelu' | 'swish' | 'softmax'",
    "pool": "kind 'max' | 'avg', kernel, stride, padding",
    "global_pool": "kind 'avg' | 'max'; (C, H, W) -> (C,)",
    "upsample": "mode 'bilinear' | 'nearest', size (H, W)",
    "add": "elementwise sum of all inputs (same shape); attr scale (optional) multiplies the last input (LoRA)",
    "mul": "elementwise product (gating, squeeze-excite scaling); broadcast over H, W for (C,) inputs",
    "concat": "axis 0 (channels / features) concatenation",
    "flatten": "(C, H, W) -> (C*H*W,)",
    "embedding": "vocab, dim; (T,) token ids -> (T, dim)",
    "dropout": "identity at inference; kept for accounting parity with the reference profilers",
    "param": "a learned tensor used as an activation (ViT class token, position embedding); no inputs",
    "rel_pos_bias": "T5 bucketed relative-position bias: buckets, heads, bidirectional; no inputs; "
                    "-> (heads, T, S), added to the attention scores",
    "tokens": "(C, H, W) -> (H*W, C): a feature map read as a token sequence (ViT patch embedding)",
    "select": "index; (T, D) -> (D,): one token of a sequence (ViT class token)",
    "reshape": "shape; any shape -> the same number of elements in another shape (ONNX Reshape)",
}

WEIGHT_OPS = ("conv", "linear")


@dataclass(frozen=True)
class Node:
    """One op of the graph."""

    name: str
    op: str
    inputs: tuple[str, ...]
    in_shape: Shape
    out_shape: Shape
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    macs: int = 0
    block: str | None = None
    tags: frozenset[str] = frozenset()

    @property
    def n_params(self) -> int:
        return sum(self.params.values())

    @property
    def in_elems(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_elems(self) -> int:
        return math.prod(self.out_shape)

    @property
    def is_depthwise(self) -> bool:
        a = self.attrs
        return self.op == "conv" and a["groups"] > 1 and a["groups"] == a["in_ch"] == a["out_ch"]

    def gemm_shape(self) -> tuple[int, int, int, int]:
        """(groups, M, K, N) of the im2col GEMM of a conv or linear, one sample.

        M = output positions (tokens for linear), K = reduction length per group,
        N = output channels per group.
        """
        a = self.attrs
        if self.op == "conv":
            g = a["groups"]
            kh, kw = a["kernel"]
            return g, self.out_shape[1] * self.out_shape[2], a["in_ch"] // g * kh * kw, a["out_ch"] // g
        if self.op == "linear":
            m = math.prod(self.in_shape[:-1]) if len(self.in_shape) > 1 else 1
            return 1, m, a["in_features"], a["out_features"]
        raise ValueError(f"{self.name}: op {self.op!r} has no weight GEMM")


@dataclass(frozen=True)
class Block:
    """A group of nodes with one entry: residual blocks, side branches, attention blocks.

    ``shortcut`` is ``"identity"`` (the block input is added to its output unchanged),
    ``"projection"`` (a conv/linear on the shortcut), or ``None`` (no shortcut).
    ``kind`` says what the block is (``basic``, ``bottleneck``, ``irb``, ``lite_residual``,
    ``repnet_branch``, ``attention``, ``ffn``, ...).
    """

    name: str
    kind: str
    input: str
    nodes: tuple[str, ...]
    shortcut: str | None = None
    parent: str | None = None


@dataclass
class Graph:
    """A network as nodes in forward order plus its blocks and metadata."""

    name: str
    input_shape: Shape
    nodes: list[Node]
    blocks: dict[str, Block] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {n.name: i for i, n in enumerate(self.nodes)}
        if len(self._index) != len(self.nodes):
            raise ValueError(f"graph {self.name}: duplicate node names")

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[self._index[name]]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def index(self, name: str) -> int:
        return self._index[name]

    def by_op(self, *ops: str) -> list[Node]:
        return [n for n in self.nodes if n.op in ops]

    def weight_nodes(self) -> list[Node]:
        """Conv and linear nodes: the ones whose weights an IMC array can hold."""
        return self.by_op(*WEIGHT_OPS)

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]

    def shape_of(self, name: str) -> Shape:
        return self.input_shape if name == "input" else self[name].out_shape

    @property
    def n_params(self) -> int:
        return sum(n.n_params for n in self.nodes)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def params_of(self, *ops: str) -> int:
        return sum(n.n_params for n in self.nodes if n.op in ops)

    def with_nodes(self, nodes: Sequence[Node], blocks: dict[str, Block] | None = None,
                   name: str | None = None, **meta: Any) -> Graph:
        """A new graph with other nodes (method transforms build on this; graphs are not mutated)."""
        return Graph(name or self.name, self.input_shape, list(nodes),
                     dict(self.blocks if blocks is None else blocks), {**self.meta, **meta})


class GraphBuilder:
    """Builds a :class:`Graph` op by op, inferring shapes, parameters and MACs.

    Each method takes the name of its input node(s) and returns the new node's name. Names are
    ``<scope>.<name>`` inside :meth:`scope`; unnamed nodes get ``<op><n>``.
    """

    def __init__(self, name: str, input_shape: Shape, **meta: Any) -> None:
        self.name = name
        self.input_shape = tuple(int(s) for s in input_shape)
        self.nodes: list[Node] = []
        self.blocks: dict[str, Block] = {}
        self.meta = dict(meta)
        self._shapes: dict[str, Shape] = {"input": self.input_shape}
        self._scope: list[str] = []
        self._open_blocks: list[tuple[str, str, str, str | None, list[str]]] = []
        self._counter = 0
        self._tags: list[frozenset[str]] = []

    # ------------------------------------------------------------------ structure
    @property
    def input(self) -> str:
        return "input"

    def shape(self, name: str) -> Shape:
        return self._shapes[name]

    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    @contextmanager
    def tagged(self, *tags: str) -> Iterator[None]:
        """Every node added inside gets these tags (e.g. ``lite_residual``, ``repnet_branch``)."""
        self._tags.append(frozenset(tags))
        try:
            yield
        finally:
            self._tags.pop()

    @contextmanager
    def block(self, name: str, kind: str, input: str, shortcut: str | None = None) -> Iterator[None]:
        """Nodes added inside belong to block ``name`` (scoped under it too)."""
        full = self._full(name)
        parent = self._open_blocks[-1][0] if self._open_blocks else None
        self._open_blocks.append((full, kind, input, shortcut, []))
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()
            full, kind, inp, sc, members = self._open_blocks.pop()
            self.blocks[full] = Block(full, kind, inp, tuple(members), sc, parent)

    def build(self) -> Graph:
        return Graph(self.name, self.input_shape, list(self.nodes), dict(self.blocks), dict(self.meta))

    # ------------------------------------------------------------------ ops with weights
    def conv(self, x: str, out_ch: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
             padding: int | tuple[int, int] | None = None, dilation: int | tuple[int, int] = 1,
             groups: int = 1, bias: bool = False, name: str | None = None, tags: Sequence[str] = ()) -> str:
        c, h, w = self._chw(x, "conv")
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        dh, dw = _pair(dilation)
        ph, pw = _pair(padding) if padding is not None else (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
        if c % groups or out_ch % groups:
            raise ValueError(f"conv {name or ''}: channels {c}->{out_ch} not divisible by groups {groups}")
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"conv {name or ''}: output {ho}x{wo} from input {h}x{w}")
        weight = out_ch * (c // groups) * kh * kw
        params = {"weight": weight, **({"bias": out_ch} if bias else {})}
        attrs = dict(in_ch=c, out_ch=out_ch, kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                     dilation=(dh, dw), groups=groups, bias=bias)
        return self._add("conv", (x,), (out_ch, ho, wo), attrs, params, weight * ho * wo, name, tags)

    def linear(self, x: str, out_features: int, bias: bool = True, name: str | None = None,
               tags: Sequence[str] = ()) -> str:
        shape = self._shapes[x]
        d = shape[-1]
        tokens = math.prod(shape[:-1]) if len(shape) > 1 else 1
        weight = d * out_features
        params = {"weight": weight, **({"bias": out_features} if bias else {})}
        attrs = dict(in_features=d, out_features=out_features, bias=bias)
        return self._add("linear", (x,), (*shape[:-1], out_features), attrs, params, weight * tokens, name, tags)

    def embedding(self, x: str, vocab: int, dim: int, name: str | None = None,
                  tied_to: str | None = None) -> str:
        """Token lookup. ``tied_to`` names an earlier embedding whose table this one reuses (T5's shared
        encoder/decoder embedding): the node then holds no parameters, so the table is counted once."""
        (t,) = self._shapes[x]
        if tied_to is not None and (tied_to not in self._shapes or self._op_of(tied_to) != "embedding"):
            raise ValueError(f"embedding {name or ''}: tied_to {tied_to!r} is not an earlier embedding")
        params = {} if tied_to else {"weight": vocab * dim}
        attrs = dict(vocab=vocab, dim=dim, **({"tied_to": tied_to} if tied_to else {}))
        return self._add("embedding", (x,), (t, dim), attrs, params, 0, name, ())

    def matmul(self, a: str, b: str, kind: str, heads: int, name: str | None = None) -> str:
        """Attention matmul of activations. ``qk``: (T, D) x (S, D) -> (heads, T, S);
        ``av``: (heads, T, S) x (S, D) -> (T, D)."""
        if kind == "qk":
            (t, d), (s, d2) = self._shapes[a], self._shapes[b]
            if d != d2 or d % heads:
                raise ValueError(f"matmul qk {name or ''}: dims {d} and {d2} with {heads} heads")
            dk = d // heads
            out, m, n, k = (heads, t, s), t, s, dk
        elif kind == "av":
            (hh, t, s), (s2, d) = self._shapes[a], self._shapes[b]
            if hh != heads or s != s2 or d % heads:
                raise ValueError(f"matmul av {name or ''}: shapes {self._shapes[a]} and {self._shapes[b]}")
            out, m, n, k = (t, d), t, d // heads, s
        else:
            raise ValueError(f"matmul kind {kind!r}; allowed: qk, av")
        attrs = dict(kind=kind, heads=heads, m=m, n=n, k=k)
        return self._add("matmul", (a, b), out, attrs, {}, heads * m * n * k, name, ())

    # ------------------------------------------------------------------ sources (nodes without inputs)
    def extra_input(self, name: str, shape: Shape) -> str:
        """A second graph input (T5's decoder token ids; a SCALE-Sim row's own IFMAP). Its
        ``in_shape`` is ``()``: it reads nothing."""
        return self._add_source("input", name, shape, {}, {}, ())

    def param(self, name: str, shape: Shape, tags: Sequence[str] = ()) -> str:
        """A learned tensor used as an activation (ViT class token and position embedding)."""
        shape = tuple(int(s) for s in shape)
        return self._add_source("param", name, shape, dict(shape=shape), {"weight": math.prod(shape)}, tags)

    def rel_pos_bias(self, t: int, s: int, buckets: int, heads: int, bidirectional: bool = True,
                     name: str | None = None) -> str:
        """T5's relative-position bias: a ``buckets x heads`` table looked up per (query, key) pair,
        giving ``(heads, t, s)`` to add to the attention scores. It has parameters but no MACs."""
        attrs = dict(buckets=buckets, heads=heads, bidirectional=bidirectional)
        return self._add_source("rel_pos_bias", name or "rel_pos_bias", (heads, t, s), attrs,
                                {"weight": buckets * heads}, ())

    # ------------------------------------------------------------------ layout changes (no MACs)
    def tokens(self, x: str, name: str | None = None) -> str:
        """(C, H, W) -> (H*W, C): patches as a token sequence (ViT's flatten(2).transpose(1, 2))."""
        c, h, w = self._chw(x, "tokens")
        return self._add("tokens", (x,), (h * w, c), {}, {}, 0, name, ())

    def select(self, x: str, index: int = 0, name: str | None = None) -> str:
        """(T, D) -> (D,): one token (ViT reads the class token, index 0, into its head)."""
        shape = self._shapes[x]
        if len(shape) != 2 or not 0 <= index < shape[0]:
            raise ValueError(f"select {name or ''}: index {index} of shape {shape}")
        return self._add("select", (x,), (shape[1],), dict(index=index), {}, 0, name, ())

    def reshape(self, x: str, shape: Shape, name: str | None = None) -> str:
        """Same elements, another per-sample shape (ONNX Reshape to something other than a vector)."""
        shape = tuple(int(s) for s in shape)
        if math.prod(shape) != math.prod(self._shapes[x]) or min(shape, default=1) < 1:
            raise ValueError(f"reshape {name or ''}: {self._shapes[x]} cannot become {shape}")
        return self._add("reshape", (x,), shape, dict(shape=shape), {}, 0, name, ())

    # ------------------------------------------------------------------ ops without MACs
    def norm(self, x: str, kind: str = "bn", groups: int | None = None, affine: bool = True,
             bias: bool = True, name: str | None = None) -> str:
        shape = self._shapes[x]
        channels = shape[0] if len(shape) == 3 else shape[-1]
        if kind not in ("bn", "gn", "ln", "rms"):
            raise ValueError(f"norm kind {kind!r}; allowed: bn, gn, ln, rms")
        if kind == "gn" and (groups is None or channels % groups):
            raise ValueError(f"gn {name or ''}: {channels} channels, groups {groups}")
        params: dict[str, int] = {}
        if affine:
            params["scale"] = channels
            if bias and kind != "rms":
                params["shift"] = channels
        attrs = dict(kind=kind, channels=channels, groups=groups, affine=affine, bias=bias and kind != "rms")
        return self._add("norm", (x,), shape, attrs, params, 0, name, ())

    def act(self, x: str, kind: str = "relu", name: str | None = None) -> str:
        allowed = ("relu", "relu6", "hswish", "hsigmoid", "sigmoid", "gelu", "swish", "softmax")
        if kind not in allowed:
            raise ValueError(f"activation {kind!r}; allowed: {', '.join(allowed)}")
        return self._add("act", (x,), self._shapes[x], dict(kind=kind), {}, 0, name, ())

    def pool(self, x: str, kind: str, kernel: int, stride: int | None = None, padding: int = 0,
             name: str | None = None) -> str:
        c, h, w = self._chw(x, "pool")
        stride = stride or kernel
        ho = (h + 2 * padding - kernel) // stride + 1
        wo = (w + 2 * padding - kernel) // stride + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"pool {name or ''}: output {ho}x{wo} from input {h}x{w}")
        attrs = dict(kind=kind, kernel=(kernel, kernel), stride=(stride, stride), padding=(padding, padding))
        return self._add("pool", (x,), (c, ho, wo), attrs, {}, 0, name, ())

    def global_pool(self, x: str, kind: str = "avg", name: str | None = None) -> str:
        c, _, _ = self._chw(x, "global_pool")
        return self._add("global_pool", (x,), (c,), dict(kind=kind), {}, 0, name, ())

    def upsample(self, x: str, size: tuple[int, int], mode: str = "bilinear", name: str | None = None) -> str:
        c, _, _ = self._chw(x, "upsample")
        return self._add("upsample", (x,), (c, *size), dict(mode=mode, size=tuple(size)), {}, 0, name, ())

    def add(self, *xs: str, name: str | None = None) -> str:
        shapes = {self._shapes[x] for x in xs}
        if len(shapes) != 1:
            raise ValueError(f"add {name or ''}: shapes differ {sorted(shapes)}")
        return self._add("add", tuple(xs), shapes.pop(), {}, {}, 0, name, ())

    def mul(self, x: str, gate: str, name: str | None = None) -> str:
        sx, sg = self._shapes[x], self._shapes[gate]
        if sx != sg and not (len(sg) == 1 and sg[0] == sx[0]):
            raise ValueError(f"mul {name or ''}: shapes {sx} and {sg}")
        return self._add("mul", (x, gate), sx, {}, {}, 0, name, ())

    def concat(self, *xs: str, name: str | None = None) -> str:
        shapes = [self._shapes[x] for x in xs]
        if len({s[1:] for s in shapes}) != 1:
            raise ValueError(f"concat {name or ''}: shapes {shapes}")
        out = (sum(s[0] for s in shapes), *shapes[0][1:])
        return self._add("concat", tuple(xs), out, dict(axis=0), {}, 0, name, ())

    def flatten(self, x: str, name: str | None = None) -> str:
        return self._add("flatten", (x,), (math.prod(self._shapes[x]),), {}, {}, 0, name, ())

    def dropout(self, x: str, p: float = 0.1, name: str | None = None) -> str:
        return self._add("dropout", (x,), self._shapes[x], dict(p=p), {}, 0, name, ())

    # ------------------------------------------------------------------ internals
    def _chw(self, x: str, op: str) -> tuple[int, int, int]:
        shape = self._shapes[x]
        if len(shape) != 3:
            raise ValueError(f"{op} needs a (C, H, W) input, got {shape} from {x!r}")
        return shape  # type: ignore[return-value]

    def _op_of(self, name: str) -> str:
        return next(n.op for n in reversed(self.nodes) if n.name == name)

    def _add_source(self, op: str, name: str | None, shape: Shape, attrs: dict[str, Any],
                    params: dict[str, int], tags: Sequence[str]) -> str:
        """Add a node that reads no other node (``inputs == ()``, ``in_shape == ()``)."""
        return self._insert(op, (), (), shape, attrs, params, 0, name, tags)

    def _full(self, name: str) -> str:
        return ".".join([*self._scope, name])

    def _add(self, op: str, inputs: tuple[str, ...], out_shape: Shape, attrs: dict[str, Any],
             params: dict[str, int], macs: int, name: str | None, tags: Sequence[str]) -> str:
        for i in inputs:
            if i not in self._shapes:
                raise ValueError(f"{op} {name or ''}: unknown input {i!r}")
        return self._insert(op, inputs, self._shapes[inputs[0]], out_shape, attrs, params, macs, name, tags)

    def _insert(self, op: str, inputs: tuple[str, ...], in_shape: Shape, out_shape: Shape,
                attrs: dict[str, Any], params: dict[str, int], macs: int, name: str | None,
                tags: Sequence[str]) -> str:
        if name is None:
            self._counter += 1
            name = f"{op}{self._counter}"
        full = self._full(name)
        if full in self._shapes:
            raise ValueError(f"duplicate node name {full!r}")
        all_tags = frozenset(tags).union(*self._tags) if self._tags else frozenset(tags)
        block = self._open_blocks[-1][0] if self._open_blocks else None
        node = Node(full, op, inputs, tuple(in_shape), tuple(int(s) for s in out_shape), attrs, params, int(macs),
                    block, all_tags)
        self.nodes.append(node)
        self._shapes[full] = node.out_shape
        for blk in self._open_blocks:
            blk[4].append(full)
        return full


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


def replace_node(node: Node, **changes: Any) -> Node:
    """A copy of ``node`` with fields changed (nodes are frozen)."""
    return replace(node, **changes)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a big graph is built (importers).

    Building allocates many long-lived objects and no cycles; with the collector on, its passes
    over the growing heap make a 100,000-layer import take time that grows faster than the layer
    count. Paused, the import is linear; the collector is restored on exit, whatever happens.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

