"""A quantised network: the IR graph plus, per node, the integers its execution needs.

:func:`quantize` turns float weights into a :class:`QNet` after calibrating every tensor's range on a
batch (post-training quantisation): min/max, or a percentile of the values (robust to outliers).
Batch norms that directly follow a conv or linear (as its only consumer) are folded into its weights
and bias; a ReLU / ReLU6 that is the only consumer of a requantising op lends it its output range
(the requantisation then clamps at the zero point, as a fused ReLU does). The arithmetic of every
kind of op is in :mod:`imcsim.execute.quant`.

Kinds of :class:`QOp` (``kind``): ``array`` (conv / linear on the IMC arrays), ``alias`` (output =
input codes: folded batch norm, flatten, dropout), ``clamp`` (ReLU, ReLU6), ``lut`` (other
activations), ``maxpool``, ``avgpool`` (pool and global pool), ``add``, ``concat``, ``mul``,
``upsample``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imcsim.errors import SpecError
from imcsim.execute import fp32
from imcsim.execute.quant import (
    CLAMP_ACTS,
    QParams,
    act_qparams,
    clamp_bounds,
    fixed_point,
    lookup_table,
    quantize_weights,
)
from imcsim.workload.graph import Graph, Node

CALIBRATIONS = ("minmax", "percentile")
_ALIAS_OPS = frozenset({"flatten", "dropout"})
_PASS_OPS = frozenset({"flatten", "dropout", "upsample"})   # codes pass unchanged (with max pools, clamps)


@dataclass
class QOp:
    """The integer parameters of one node (unused fields stay None)."""

    node: Node
    kind: str
    out: QParams
    w: np.ndarray | None = None          # array: INT8 weights in [-127, 127] (conv 4-D, linear 2-D)
    w_scale: np.ndarray | None = None    # array: per-output-channel weight scales
    bias: np.ndarray | None = None       # array: int64 bias at scale s_x * s_w[c]
    m0: np.ndarray | None = None         # fixed-point multiplier(s)
    shift: np.ndarray | None = None
    lo: int = 0                          # clamp bounds of the output codes
    hi: int = 255
    table: np.ndarray | None = None      # lut: 256 output codes
    window: int = 0                      # avgpool: elements averaged
    folded: str | None = None            # array: the batch norm folded into it
    in_zp: int = 0                       # array: zero point of the input codes
    _packed: tuple | None = field(default=None, repr=False, compare=False)
    _packed_t: tuple | None = field(default=None, repr=False, compare=False)

    def packed(self):
        """The weights bit-plane packed for the kernels, re-packed only when ``w`` is replaced."""
        from imcsim.circuit.bitserial import PackedWeights

        if self._packed is None or self._packed[0] is not self.w:
            w = self.w if self.node.op == "conv" else self.w[:, :, None, None]
            groups = self.node.attrs["groups"] if self.node.op == "conv" else 1
            self._packed = (self.w, PackedWeights(w.astype(np.int8), groups, 8, True))
        return self._packed[1]

    @property
    def groups(self) -> int:
        return self.node.attrs["groups"] if self.node.op == "conv" else 1

    def transposed(self) -> np.ndarray:
        """The weights as the array read transposed presents them: (g*K, og), group j's rows ``W_j^T``."""
        w = self.w.reshape(self.w.shape[0], -1)
        g = self.groups
        og, kg = w.shape[0] // g, w.shape[1]
        return w.reshape(g, og, kg).transpose(0, 2, 1).reshape(g * kg, og)

    def packed_transposed(self):
        """:meth:`transposed` bit-plane packed (groups ``g``, 1x1), re-packed only when ``w`` is replaced: the
        backward error of a frozen layer, or of both passes of an INT16 error, packs it once."""
        from imcsim.circuit.bitserial import PackedWeights

        if self._packed_t is None or self._packed_t[0] is not self.w:
            wt = self.transposed()[:, :, None, None].astype(np.int8)
            self._packed_t = (self.w, PackedWeights(wt, self.groups, 8, True))
        return self._packed_t[1]


@dataclass
class QNet:
    """A quantised graph: ``ops[node]`` for every node, the input's QParams, where the weights came from."""

    graph: Graph
    ops: dict[str, QOp]
    input_q: QParams
    weight_source: str
    calibration: str = "minmax"
    qparams: dict[str, QParams] = field(default_factory=dict)

    def array_ops(self) -> list[QOp]:
        return [op for op in self.ops.values() if op.kind == "array"]


def _range(x: np.ndarray, calibration: str, percentile: float) -> tuple[float, float]:
    x = np.asarray(x, np.float64).ravel()
    if calibration == "percentile":
        return float(np.percentile(x, 100.0 - percentile)), float(np.percentile(x, percentile))
    return float(x.min()), float(x.max())


def folded_norms(graph: Graph) -> dict[str, str]:
    """conv/linear node -> the batch norm folded into it (the norm is its only consumer)."""
    fold: dict[str, str] = {}
    for node in graph.by_op("norm"):
        src = node.inputs[0]
        if src != "input" and graph[src].op in ("conv", "linear") and len(graph.consumers(src)) == 1:
            fold[src] = node.name
        else:
            raise SpecError(None, "workload", graph.name, "batch norms that directly follow a conv or linear",
                            problem=f"norm {node.name!r} cannot be folded (its input is {src!r}):")
    return fold


def fold_params(graph: Graph, params: fp32.Params) -> fp32.Params:
    """Float params with every batch norm folded into its conv/linear (norm entries dropped)."""
    out = {k: dict(v) for k, v in params.items()}
    for src, bn in folded_norms(graph).items():
        a, b = fp32.bn_affine(params[bn])
        p = out[src]
        w = p["weight"]
        p["weight"] = w * a.reshape(-1, *([1] * (w.ndim - 1)))
        p["bias"] = p.get("bias", np.zeros(w.shape[0])) * a + b
        out.pop(bn, None)
    return out


def _requantising(node: Node) -> bool:
    if node.op in ("conv", "linear", "add", "concat", "mul"):
        return True
    if node.op in ("pool", "global_pool"):
        return node.attrs["kind"] == "avg"
    return node.op == "act" and node.attrs["kind"] not in CLAMP_ACTS


def quantize(graph: Graph, params: fp32.Params, calib: np.ndarray, *, calibration: str = "minmax",
             percentile: float = 99.99, weight_source: str = "float weights") -> QNet:
    """Post-training quantisation of ``graph`` with float ``params``, calibrated on the batch ``calib``."""
    if calibration not in CALIBRATIONS:
        raise SpecError(None, "calibration", calibration, ", ".join(CALIBRATIONS))
    fp32.check_executable(graph)
    for name, p in params.items():
        for role, arr in p.items():
            if not np.isfinite(arr).all():
                raise SpecError(None, f"{name}.{role}", "NaN/inf", "finite weights", problem="weights are not finite:")
    fold = folded_norms(graph)
    outs = fp32.forward(graph, params, calib)
    raw = {name: act_qparams(*_range(v, calibration, percentile)) for name, v in outs.items()}
    fparams = fold_params(graph, params)

    qp: dict[str, QParams] = {"input": raw["input"]}
    bn_of = {bn: src for src, bn in fold.items()}
    for node in graph.nodes:
        if _requantising(node):
            tail = fold.get(node.name, node.name)
            chosen = raw[tail]
            cons = graph.consumers(tail)
            if len(cons) == 1 and cons[0].op == "act" and cons[0].attrs["kind"] in CLAMP_ACTS:
                chosen = raw[cons[0].name]
            qp[node.name] = chosen
        elif node.name in bn_of:
            qp[node.name] = qp[bn_of[node.name]]
        else:   # max pools, clamps, flatten, dropout, upsample keep their input's codes
            qp[node.name] = qp[node.inputs[0]]

    ops: dict[str, QOp] = {}
    for node in graph.nodes:
        out = qp[node.name]
        qin = qp[node.inputs[0]] if node.inputs else None
        op, a = node.op, node.attrs
        if op in ("conv", "linear"):
            p = fparams[node.name]
            wq, ws = quantize_weights(p["weight"])
            b = p.get("bias", np.zeros(wq.shape[0]))
            acc_scale = qin.scale * ws
            m0, shift = fixed_point(acc_scale / out.scale)
            ops[node.name] = QOp(node, "array", out, w=wq, w_scale=ws, bias=np.rint(b / acc_scale).astype(np.int64),
                                 m0=m0, shift=shift, folded=fold.get(node.name), in_zp=qin.zero_point)
        elif node.name in bn_of or op in _ALIAS_OPS:
            ops[node.name] = QOp(node, "alias", out)
        elif op == "upsample":
            ops[node.name] = QOp(node, "upsample", out)
        elif op == "act" and a["kind"] in CLAMP_ACTS:
            lo, hi = clamp_bounds(a["kind"], out)
            ops[node.name] = QOp(node, "clamp", out, lo=lo, hi=hi)
        elif op == "act":
            ops[node.name] = QOp(node, "lut", out, table=lookup_table(a["kind"], qin, out))
        elif op in ("pool", "global_pool") and a["kind"] == "max":
            ops[node.name] = QOp(node, "maxpool", out)
        elif op in ("pool", "global_pool"):
            window = a["kernel"][0] * a["kernel"][1] if op == "pool" else node.in_shape[1] * node.in_shape[2]
            m0, shift = fixed_point(qin.scale / out.scale / window)
            ops[node.name] = QOp(node, "avgpool", out, m0=m0, shift=shift, window=window)
        elif op == "mul":
            m0, shift = fixed_point(qin.scale * qp[node.inputs[1]].scale / out.scale)
            ops[node.name] = QOp(node, "mul", out, m0=m0, shift=shift)
        elif op in ("add", "concat"):
            ops[node.name] = QOp(node, op, out)
        else:  # pragma: no cover - check_executable rejects every other op
            raise SpecError(None, "op", op, ", ".join(sorted(fp32.EXECUTABLE_OPS)))
    return QNet(graph, ops, qp["input"], weight_source, calibration, qp)
