"""ONNX model -> layer graph (needs the ``onnx`` package, the ``[onnx]`` extra).

Walks the ONNX nodes in their (topological) order and rebuilds the network with
:class:`~imcsim.workload.graph.GraphBuilder`, so shapes, parameters and MACs follow the IR's rules.
Shapes are per sample: the first (batch) axis of every activation is dropped.

Supported ops (``SUPPORTED``) and how they map:
- Conv (kernel_shape, strides, pads, auto_pad, group, dilations; bias) -> ``conv``; a 1x1 Conv on a
  pooled ``(C,)`` vector (squeeze-excite) -> ``linear``. Pads must add up to an even number per axis
  (the IR pads symmetrically; output size and MACs depend only on the sum).
- Gemm (transB; bias) and MatMul with a constant weight -> ``linear``; an Add of a constant vector right
  after it is folded in as the bias. MatMul of two activations is not supported.
- BatchNormalization -> ``norm bn``; LayerNormalization -> ``norm ln``.
- Relu, Clip(0, 6) (ReLU6), HardSwish, HardSigmoid, Sigmoid, Gelu, Softmax -> ``act``.
- MaxPool / AveragePool (square kernels, symmetric pads, ceil_mode 0) -> ``pool``; GlobalAveragePool /
  GlobalMaxPool -> ``global_pool``.
- Add, Mul (both activations; Mul may broadcast a ``(C,)`` gate) -> ``add`` / ``mul``; Add of an
  activation and a constant of the same shape -> ``param`` + ``add``.
- Concat on the channel axis -> ``concat``; Flatten / Reshape -> ``flatten`` / ``reshape`` (or nothing
  when the shape does not change).
- Dropout -> ``dropout``; Identity, QuantizeLinear and DequantizeLinear (QDQ INT8 models) pass their
  input through (``meta["qdq"]`` records that the model was quantised); Constant feeds constants.

Anything else is a :class:`SpecError` naming the file, the node and the op type, listing these.

:func:`import_onnx_params` also reads the weights: per conv/linear node its ``weight`` (the IR's layout:
(C_out, C_in/groups, kh, kw) or (out, in); a Gemm's ``transB`` and ``alpha``, a MatMul's (in, out)
layout and a 1x1 conv on a pooled vector undone) and ``bias`` (a Gemm's C times ``beta``, or the folded
Add constant), per batch norm ``scale``, ``shift``, ``mean``, ``var`` (the variance shifted so that the
executed ``var + 1e-5`` equals the model's ``var + epsilon``), from the initializers or Constant nodes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from imcsim.errors import SpecError
from imcsim.workload.graph import Graph, GraphBuilder, gc_paused, replace_node

SUPPORTED = ("Conv", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization", "Relu", "Clip", "HardSwish",
             "HardSigmoid", "Sigmoid", "Gelu", "Softmax", "MaxPool", "AveragePool", "GlobalAveragePool",
             "GlobalMaxPool", "Add", "Mul", "Concat", "Reshape", "Flatten", "Identity", "Dropout",
             "QuantizeLinear", "DequantizeLinear", "Constant")
_ACTS = {"Relu": "relu", "HardSwish": "hswish", "HardSigmoid": "hsigmoid", "Sigmoid": "sigmoid", "Gelu": "gelu",
         "Softmax": "softmax"}
_PASS = ("Identity", "QuantizeLinear", "DequantizeLinear")


def import_onnx(source: str | Path | Any, input_shape: tuple[int, ...] | None = None,
                name: str | None = None) -> Graph:
    """Read an ONNX file (or an ``onnx.ModelProto``) into a Graph.

    ``input_shape`` (per sample, no batch axis) replaces the model's input shape, needed when the
    model leaves non-batch dimensions symbolic.
    """
    return _import(source, input_shape, name).run()


#: BatchNormalization epsilon of the executed networks (imcsim.execute.fp32.BN_EPS)
EXEC_BN_EPS = 1e-5


def import_onnx_params(source: str | Path | Any, input_shape: tuple[int, ...] | None = None,
                       name: str | None = None) -> tuple[Graph, dict[str, dict[str, np.ndarray]]]:
    """The Graph and its float weights (module docstring): IR node -> role -> array. A weight whose data
    cannot be read, a non-finite weight, or a quantised (QDQ) weight is a SpecError naming the file and
    the tensor."""
    imp = _import(source, input_shape, name)
    graph = imp.run()
    return graph, imp.params(graph)


def _import(source: str | Path | Any, input_shape: tuple[int, ...] | None, name: str | None) -> _Importer:
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:  # pragma: no cover - onnx is in the dev/onnx extras
        raise SpecError(str(source), None, problem="reading ONNX needs the 'onnx' package",
                        allowed="pip install 'imcsim[onnx]'") from None
    if isinstance(source, onnx.ModelProto):
        model, file = source, "<onnx model>"
    else:
        path = Path(source)
        file = str(path)
        if not path.is_file():
            raise SpecError(file, None, problem="file does not exist")
        try:
            model = onnx.load(file)
        except Exception as exc:  # protobuf raises several unrelated types on garbage input
            raise SpecError(file, None, problem=f"is not a readable ONNX model ({exc.__class__.__name__})") from None
    return _Importer(model, file, helper, numpy_helper, input_shape, name)


#: constants up to this size are read (shapes, axes, clip bounds); larger ones (weights) only their shape
MAX_MATERIALISED_ELEMS = 1 << 16
#: the largest tensor a model may declare (a 10^9-channel conv is an error, not a 27 GB allocation)
MAX_TENSOR_ELEMS = 1 << 40


class _Importer:
    """One import: the ONNX tensor names -> IR node names and constant values as it walks the nodes."""

    def __init__(self, model: Any, file: str, helper: Any, numpy_helper: Any,
                 input_shape: tuple[int, ...] | None, name: str | None) -> None:
        self.model, self.file, self.helper, self.nph = model, file, helper, numpy_helper
        self.graph = model.graph
        self.consts: dict[str, np.ndarray] = {t.name: self._tensor(t, "graph.initializer")
                                              for t in self.graph.initializer}
        # where each constant's data is: (tensor proto, where), through pass-through ops (QDQ flagged)
        self.protos: dict[str, tuple[Any, str, bool]] = {t.name: (t, "graph.initializer", False)
                                                         for t in self.graph.initializer}
        # IR node -> role -> (constant name, transform, factor) for import_onnx_params
        self.sources: dict[str, dict[str, tuple[str, str, float]]] = {}
        self.env: dict[str, str] = {}
        self.names: set[str] = set()
        self.qdq = False
        self.input_shape = input_shape
        self.name = name or (self.graph.name or Path(file).stem or "onnx")
        self.field = "graph"

    # ------------------------------------------------------------------ driver
    def run(self) -> Graph:
        with gc_paused():
            return self._run()

    def _run(self) -> Graph:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if not inputs:
            raise SpecError(self.file, "graph.input", None, problem="model has no activation input")
        shapes = [self._input_shape(k, vi) for k, vi in enumerate(inputs)]
        if self.input_shape is not None:
            shapes[0] = tuple(int(s) for s in self.input_shape)
        self.b = GraphBuilder(self.name, shapes[0], source="onnx", file=self.file,
                              opset=max((o.version for o in self.model.opset_import), default=0))
        self.env[inputs[0].name] = self.b.input
        for vi, shape in zip(inputs[1:], shapes[1:]):
            self.env[vi.name] = self.b.extra_input(self._unique(vi.name), shape)
        for i, node in enumerate(self.graph.node):
            self.field = f"graph.node[{i}] {node.name or node.op_type}"
            if node.op_type not in SUPPORTED:
                raise SpecError(self.file, self.field, node.op_type, problem="unsupported ONNX op type",
                                allowed=", ".join(SUPPORTED))
            try:
                self._node(i, node)
            except ValueError as exc:  # the IR found a shape it cannot take
                raise SpecError(self.file, self.field, None, problem=f"shape mismatch: {exc}") from None
        g = self.b.build()
        g.meta["qdq"] = self.qdq
        weights = g.weight_nodes()
        if weights and weights[-1].op == "linear":
            last = weights[-1]
            g.nodes[g.index(last.name)] = replace_node(last, tags=last.tags | {"classifier"})
        return g

    def _input_shape(self, k: int, vi: Any) -> tuple[int, ...]:
        dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        per_sample = dims[1:]
        if not dims or any(d is None or d < 1 for d in per_sample):
            if k == 0 and self.input_shape is not None:
                return tuple(self.input_shape)
            raise SpecError(self.file, f"graph.input[{k}] {vi.name!r}", dims,
                            problem="input dimensions unknown (batch is the first axis):",
                            allowed="fixed sizes after the batch axis, or pass input_shape")
        return tuple(int(d) for d in per_sample)

    # ------------------------------------------------------------------ one node
    def _node(self, i: int, node: Any) -> None:
        op = node.op_type
        a = {at.name: self.helper.get_attribute_value(at) for at in node.attribute}
        ins = [n for n in node.input]
        out = node.output[0]
        nm = self._unique(node.name or f"{op}_{i}")
        b = self.b
        if op == "Constant":
            if "value" not in a:
                raise SpecError(self.file, self.field, sorted(a), problem="Constant without a tensor 'value'")
            self.consts[out] = self._tensor(a["value"], self.field)
            self.protos[out] = (a["value"], self.field, False)
        elif op in _PASS:
            self.qdq |= op != "Identity"
            if ins[0] in self.consts:
                self.consts[out] = self.consts[ins[0]]
                if ins[0] in self.protos:
                    proto, where, _ = self.protos[ins[0]]
                    self.protos[out] = (proto, where, op != "Identity")
            else:
                self.env[out] = self._act(ins[0])
        elif op == "Conv":
            self.env[out] = self._conv(nm, ins, a)
        elif op == "Gemm":
            if a.get("transA", 0):
                raise SpecError(self.file, self.field, 1, problem="Gemm transA", allowed="0")
            w = self._const(ins[1], "weight B")
            if w.ndim != 2:
                raise SpecError(self.file, self.field, list(w.shape), problem="Gemm weight must be 2-D, got")
            k_in, n_out = (w.shape[1], w.shape[0]) if a.get("transB", 0) else w.shape
            self.env[out] = self._linear(nm, ins[0], int(k_in), int(n_out), len(ins) > 2 and bool(ins[2]))
            self.sources[self.env[out]] = {"weight": (ins[1], "" if a.get("transB", 0) else "T",
                                                      float(a.get("alpha", 1.0)))}
            if len(ins) > 2 and ins[2]:
                self.sources[self.env[out]]["bias"] = (ins[2], "", float(a.get("beta", 1.0)))
        elif op == "MatMul":
            if ins[1] not in self.consts:
                raise SpecError(self.file, self.field, "MatMul", problem="MatMul of two activations is not supported;",
                                allowed="MatMul with a constant weight (use the zoo's transformer models)")
            w = self.consts[ins[1]]
            if w.ndim != 2:
                raise SpecError(self.file, self.field, list(w.shape), problem="MatMul weight must be 2-D, got")
            self.env[out] = self._linear(nm, ins[0], int(w.shape[0]), int(w.shape[1]), False)
            self.sources[self.env[out]] = {"weight": (ins[1], "T", 1.0)}
        elif op == "BatchNormalization":
            x = self._act(ins[0])
            self._check_channels(x, self._const(ins[1], "scale").size)
            self.env[out] = b.norm(x, "bn", name=nm)
            eps = float(a.get("epsilon", 1e-5))
            self.sources[self.env[out]] = {"scale": (ins[1], "", 1.0), "shift": (ins[2], "", 1.0),
                                           "mean": (ins[3], "", 1.0), "var": (ins[4], f"+{eps - EXEC_BN_EPS!r}", 1.0)}
        elif op == "LayerNormalization":
            x = self._act(ins[0])
            if a.get("axis", -1) not in (-1, len(b.shape(x))):
                raise SpecError(self.file, self.field, a.get("axis"), problem="LayerNormalization axis",
                                allowed="-1 (the last axis)")
            self.env[out] = b.norm(x, "ln", affine=True, bias=len(ins) > 2 and bool(ins[2]), name=nm)
        elif op in _ACTS:
            self.env[out] = b.act(self._act(ins[0]), _ACTS[op], name=nm)
        elif op == "Clip":
            self.env[out] = b.act(self._act(ins[0]), self._clip_kind(ins, a), name=nm)
        elif op in ("MaxPool", "AveragePool"):
            self.env[out] = self._pool(nm, ins[0], a, "max" if op == "MaxPool" else "avg")
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            self.env[out] = b.global_pool(self._act(ins[0]), "avg" if "Average" in op else "max", name=nm)
        elif op == "Add":
            self.env[out] = self._add(nm, ins)
        elif op == "Mul":
            if any(x in self.consts for x in ins[:2]):
                raise SpecError(self.file, self.field, "Mul", problem="Mul by a constant is not supported;",
                                allowed="Mul of two activations (gating, squeeze-excite)")
            self.env[out] = b.mul(self._act(ins[0]), self._act(ins[1]), name=nm)
        elif op == "Concat":
            xs = [self._act(x) for x in ins]
            rank = len(b.shape(xs[0])) + 1
            if a.get("axis") not in (1, 1 - rank):
                raise SpecError(self.file, self.field, a.get("axis"), problem="Concat axis",
                                allowed="1 (channels / features)")
            self.env[out] = b.concat(*xs, name=nm)
        elif op == "Flatten":
            if a.get("axis", 1) != 1:
                raise SpecError(self.file, self.field, a.get("axis"), problem="Flatten axis", allowed="1")
            x = self._act(ins[0])
            self.env[out] = x if len(b.shape(x)) == 1 else b.flatten(x, name=nm)
        elif op == "Reshape":
            self.env[out] = self._reshape(nm, ins)
        elif op == "Dropout":
            ratio = float(a.get("ratio", 0.5))
            if len(ins) > 1 and ins[1] in self.consts:
                ratio = float(self.consts[ins[1]])
            self.env[out] = b.dropout(self._act(ins[0]), ratio, name=nm)

    # ------------------------------------------------------------------ op helpers
    def _conv(self, nm: str, ins: list[str], a: dict[str, Any]) -> str:
        x = self._act(ins[0])
        w = self._const(ins[1], "weight W")
        if w.ndim != 4:
            raise SpecError(self.file, self.field, list(w.shape), problem="only 2-D convolutions are supported; "
                            "weight shape", allowed="(M, C/group, kH, kW)")
        groups = int(a.get("group", 1))
        m, cg, kh, kw = (int(s) for s in w.shape)
        kernel = tuple(int(k) for k in a.get("kernel_shape", (kh, kw)))
        if kernel != (kh, kw):
            raise SpecError(self.file, self.field, list(kernel), problem="kernel_shape does not match the weight "
                            f"{list(w.shape)}:", allowed=f"[{kh}, {kw}]")
        has_bias = len(ins) > 2 and bool(ins[2])
        shape = self.b.shape(x)
        self._check_channels(x, cg * groups)
        if len(shape) == 1:  # 1x1 conv on a pooled (C,) vector: a fully connected layer
            if (kh, kw) != (1, 1) or groups != 1:
                raise SpecError(self.file, self.field, list(w.shape), problem="conv on a pooled vector must be "
                                "1x1 with group 1, weight")
            node = self.b.linear(x, m, bias=has_bias, name=nm)
            self.sources[node] = {"weight": (ins[1], "2d", 1.0), **({"bias": (ins[2], "", 1.0)} if has_bias else {})}
            return node
        strides = tuple(int(s) for s in a.get("strides", (1, 1)))
        dil = tuple(int(d) for d in a.get("dilations", (1, 1)))
        pads = self._pads(a, shape[1:], (kh, kw), strides, dil)
        node = self.b.conv(x, m, (kh, kw), strides, padding=pads, dilation=dil, groups=groups, bias=has_bias,
                           name=nm)
        self.sources[node] = {"weight": (ins[1], "", 1.0), **({"bias": (ins[2], "", 1.0)} if has_bias else {})}
        return node

    def _pads(self, a: dict[str, Any], hw: tuple[int, ...], k: tuple[int, int], s: tuple[int, ...],
              d: tuple[int, ...]) -> tuple[int, int]:
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            totals = [max((math.ceil(h / st) - 1) * st + (kk - 1) * dd + 1 - h, 0)
                      for h, kk, st, dd in zip(hw, k, s, d)]
        elif auto == "VALID":
            totals = [0, 0]
        else:
            p = [int(v) for v in a.get("pads", (0, 0, 0, 0))]
            totals = [p[0] + p[2], p[1] + p[3]]
        if any(t % 2 for t in totals):
            raise SpecError(self.file, self.field, totals, problem="padding that adds an odd number of rows/columns "
                            "(asymmetric) is not supported; total pads", allowed="even totals per axis")
        return totals[0] // 2, totals[1] // 2

    def _linear(self, nm: str, src: str, k_in: int, n_out: int, bias: bool) -> str:
        x = self._act(src)
        if self.b.shape(x)[-1] != k_in:
            raise SpecError(self.file, self.field, list(self.b.shape(x)), problem=f"shape mismatch: weight expects "
                            f"{k_in} input features, input shape is")
        return self.b.linear(x, n_out, bias=bias, name=nm)

    def _add(self, nm: str, ins: list[str]) -> str:
        const = [x for x in ins[:2] if x in self.consts]
        if not const:
            x, y = self._act(ins[0]), self._act(ins[1])
            if self.b.shape(x) != self.b.shape(y):
                raise SpecError(self.file, self.field, [list(self.b.shape(x)), list(self.b.shape(y))],
                                problem="shape mismatch: Add of shapes")
            return self.b.add(x, y, name=nm)
        if len(const) == 2:
            raise SpecError(self.file, self.field, "Add", problem="Add of two constants is not supported")
        c = self.consts[const[0]]
        x = self._act(next(v for v in ins[:2] if v not in self.consts))
        shape = self.b.shape(x)
        last = self.b.nodes[-1] if self.b.nodes else None
        if (last is not None and last.name == x and last.op in ("linear", "conv") and not last.attrs["bias"]
                and c.size == shape[0 if last.op == "conv" else -1]):
            # x = W a (+ b): fold the constant vector into the layer's bias.
            self.b.nodes[-1] = replace_node(last, attrs={**last.attrs, "bias": True},
                                            params={**last.params, "bias": int(c.size)})
            self.sources.setdefault(x, {})["bias"] = (const[0], "", 1.0)
            return x
        if c.size == math.prod(shape):
            return self.b.add(x, self.b.param(self._unique(f"{nm}.const"), shape), name=nm)
        raise SpecError(self.file, self.field, list(c.shape), problem=f"Add broadcasting a constant onto {list(shape)} "
                        "is not supported; constant shape")

    def _clip_kind(self, ins: list[str], a: dict[str, Any]) -> str:
        lo = a.get("min", None)
        hi = a.get("max", None)
        if len(ins) > 1 and ins[1]:
            lo = float(self._const(ins[1], "min"))
        if len(ins) > 2 and ins[2]:
            hi = float(self._const(ins[2], "max"))
        if lo == 0 and hi == 6:
            return "relu6"
        if lo == 0 and hi is None:
            return "relu"
        raise SpecError(self.file, self.field, (lo, hi), problem="Clip bounds", allowed="(0, 6) = ReLU6, (0, none) = ReLU")

    def _pool(self, nm: str, src: str, a: dict[str, Any], kind: str) -> str:
        x = self._act(src)
        k = [int(v) for v in a.get("kernel_shape", ())]
        s = [int(v) for v in a.get("strides", k)]
        p = [int(v) for v in a.get("pads", (0, 0, 0, 0))]
        if len(k) != 2 or k[0] != k[1] or s[0] != s[1] or len(set(p)) > 1 or a.get("ceil_mode", 0):
            raise SpecError(self.file, self.field, dict(kernel=k, strides=s, pads=p, ceil_mode=a.get("ceil_mode", 0)),
                            problem="pooling must be square with equal strides and pads, ceil_mode 0:")
        return self.b.pool(x, kind, k[0], s[0], padding=p[0], name=nm)

    def _reshape(self, nm: str, ins: list[str]) -> str:
        x = self._act(ins[0])
        shape = (1, *self.b.shape(x))
        target = [int(v) for v in self._const(ins[1], "shape").reshape(-1)]
        dims = [shape[i] if (v == 0 and i < len(shape)) else v for i, v in enumerate(target)]
        total = math.prod(shape)
        if dims.count(-1) == 1:
            known = math.prod(d for d in dims if d != -1)
            dims[dims.index(-1)] = total // known if known and total % known == 0 else -1
        if any(d < 1 for d in dims) or math.prod(dims) != total or dims[0] != 1:
            raise SpecError(self.file, self.field, target, problem=f"shape mismatch: cannot reshape {list(shape)} "
                            "(batch first) to")
        per_sample = tuple(dims[1:])
        if per_sample == self.b.shape(x):
            return x
        if len(per_sample) == 1:
            return self.b.flatten(x, name=nm)
        return self.b.reshape(x, per_sample, name=nm)

    # ------------------------------------------------------------------ lookups
    def _act(self, tensor: str) -> str:
        if tensor in self.env:
            return self.env[tensor]
        if tensor in self.consts:
            raise SpecError(self.file, self.field, tensor, problem="expected an activation, got the constant")
        raise SpecError(self.file, self.field, tensor, problem="input tensor is not produced by any earlier node:")

    def _tensor(self, t: Any, where: str) -> np.ndarray:
        """A constant tensor. Big ones (weights) are only ever asked for their shape, so they become
        a zero-strided view of that shape (no memory, whatever the file claims); a shape beyond
        :data:`MAX_TENSOR_ELEMS` elements is an error, not an allocation."""
        dims = [int(d) for d in t.dims]
        if any(d < 0 for d in dims) or math.prod(dims) > MAX_TENSOR_ELEMS:
            raise SpecError(self.file, f"{where} {t.name!r}", dims, problem="tensor of impossible size:",
                            allowed=f"at most {MAX_TENSOR_ELEMS:,} elements")
        if math.prod(dims) <= MAX_MATERIALISED_ELEMS:
            try:
                return self.nph.to_array(t)
            except (ValueError, TypeError) as exc:
                raise SpecError(self.file, f"{where} {t.name!r}", dims,
                                problem=f"tensor data does not match its shape ({exc}):") from None
        return np.broadcast_to(np.zeros((), dtype=np.float32), dims)

    def params(self, graph: Graph) -> dict[str, dict[str, np.ndarray]]:
        """The float weights of every conv/linear and batch norm of ``graph`` (the imported graph)."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for node in graph.nodes:
            src = self.sources.get(node.name)
            if src is None:
                continue
            out[node.name] = {role: self._param(node.name, role, *spec) for role, spec in src.items()}
        return out

    def _param(self, node: str, role: str, tensor: str, how: str, factor: float) -> np.ndarray:
        field = f"graph.initializer {tensor!r}"
        if tensor not in self.protos:
            raise SpecError(self.file, field, None, problem=f"the {role} of {node} has no data (not an initializer "
                            "or Constant):", allowed="weights stored as initializers")
        proto, where, quantised = self.protos[tensor]
        field = f"{where} {tensor!r}"
        if quantised:
            raise SpecError(self.file, field, "QuantizeLinear/DequantizeLinear",
                            problem=f"the {role} of {node} is quantised (QDQ); as a weight source give",
                            allowed="the float model (it is quantised here)")
        try:
            arr = np.asarray(self.nph.to_array(proto), dtype=np.float64)
        except Exception as exc:  # missing external data, data not matching the shape, ...
            raise SpecError(self.file, field, list(proto.dims), problem=f"weight data unreadable "
                            f"({exc.__class__.__name__}: {str(exc)[:80]}):") from None
        if not np.isfinite(arr).all():
            bad = arr[~np.isfinite(arr)].ravel()[0]
            raise SpecError(self.file, field, float(bad), problem=f"the {role} of {node} holds a non-finite value:",
                            allowed="finite weights")
        if how == "T":
            arr = arr.T
        elif how == "2d":
            arr = arr.reshape(arr.shape[0], -1)
        elif how.startswith("+"):
            arr = arr + float(how[1:])
        return np.ascontiguousarray(arr.reshape(-1) if role != "weight" else arr) * factor

    def _const(self, tensor: str, what: str) -> np.ndarray:
        if tensor not in self.consts:
            raise SpecError(self.file, self.field, tensor, problem=f"{what} must be a constant (initializer), got")
        return self.consts[tensor]

    def _check_channels(self, x: str, channels: int) -> None:
        shape = self.b.shape(x)
        have = shape[0] if len(shape) in (1, 3) else shape[-1]
        if have != channels:
            raise SpecError(self.file, self.field, list(shape), problem=f"shape mismatch: the weights expect "
                            f"{channels} channels, input shape is")

    def _unique(self, raw: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.\-/:]", "_", raw) or "node"
        name, k = base, 1
        while name in self.names or name == "input":
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name
