"""The float (fp32 numpy) forward pass of an IR graph: calibration data and the accuracy reference.

``forward(graph, params, x)`` returns every node's output for a batch ``x`` (B, *input shape). The
quantiser calibrates activation ranges on it, and training compares against it. ``params[node]``
maps role -> array: conv ``weight`` (C_out, C_in/g, kh, kw) and optional ``bias``; linear ``weight``
(N, D) and ``bias``; batch norm ``scale``, ``shift``, ``mean``, ``var`` (inference form).
"""

from __future__ import annotations

import numpy as np

from imcsim.circuit.reference import im2col
from imcsim.errors import SpecError
from imcsim.execute.quant import ACTIVATIONS
from imcsim.execute.resize import MODES, upsample_float
from imcsim.workload.graph import Graph, Node

BN_EPS = 1e-5
#: Ops an executed network may contain (conv/linear run on the arrays, the rest on the digital unit).
EXECUTABLE_OPS = frozenset({"input", "conv", "linear", "norm", "act", "pool", "global_pool", "add", "mul",
                            "concat", "flatten", "dropout", "upsample"})

Params = dict[str, dict[str, np.ndarray]]


def check_executable(graph: Graph) -> None:
    """A SpecError naming the first node the executor cannot run."""
    for n in graph.nodes:
        if n.op not in EXECUTABLE_OPS:
            raise SpecError(None, "workload", graph.name, f"a network of {', '.join(sorted(EXECUTABLE_OPS))}",
                            problem=f"node {n.name!r} has op {n.op!r}, which the executor does not run:")
        if n.op == "norm" and n.attrs.get("kind") != "bn":
            raise SpecError(None, "workload", graph.name, "batch norm (kind 'bn') only",
                            problem=f"node {n.name!r} is a {n.attrs.get('kind')!r} norm:")
        if n.op == "act" and n.attrs.get("kind") not in ACTIVATIONS:
            raise SpecError(None, "workload", graph.name, ", ".join(ACTIVATIONS),
                            problem=f"node {n.name!r} has activation {n.attrs.get('kind')!r}:")
        if n.op == "upsample" and n.attrs.get("mode") not in MODES:
            raise SpecError(None, "workload", graph.name, "nearest or bilinear upsampling",
                            problem=f"node {n.name!r} upsamples with {n.attrs.get('mode')!r}:")


def conv_f(node: Node, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    a = node.attrs
    g = a["groups"]
    kh, kw = a["kernel"]
    cols, ho, wo = im2col(x, kh, kw, a["stride"], a["padding"], a["dilation"])   # (B, M, C*kh*kw)
    n, c_out = x.shape[0], w.shape[0]
    cg, og = x.shape[1] // g, c_out // g
    cols = cols.reshape(n * ho * wo, g, cg * kh * kw).transpose(1, 0, 2)       # (g, B*M, K)
    wg = w.reshape(g, og, cg * kh * kw).transpose(0, 2, 1)                      # (g, K, og)
    y = np.matmul(cols, wg).reshape(g, n, ho * wo, og).transpose(1, 0, 3, 2).reshape(n, c_out, ho, wo)
    return y + b.reshape(1, -1, 1, 1) if b is not None else y


def pool_windows(x: np.ndarray, node: Node, fill: float) -> np.ndarray:
    """(B, C, Ho, Wo, kh*kw) windows of a pool node, padding filled with ``fill``."""
    a = node.attrs
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = node.out_shape[1], node.out_shape[2]
    wins = [xp[:, :, dy:dy + sh * (ho - 1) + 1:sh, dx:dx + sw * (wo - 1) + 1:sw] for dy in range(kh) for dx in range(kw)]
    return np.stack(wins, axis=-1)


def add_scale(node: Node) -> float:
    """The factor an ``add`` applies to its last input (LoRA's alpha / r; 1 otherwise)."""
    return float(node.attrs.get("scale", 1.0))


def bn_affine(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm in inference form as y = a x + b per channel."""
    a = p["scale"] / np.sqrt(p["var"] + BN_EPS)
    return a, p["shift"] - p["mean"] * a


def _bcast(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape(1, -1, *([1] * (ndim - 2)))


def node_forward(node: Node, ins: list[np.ndarray], p: dict[str, np.ndarray]) -> np.ndarray:
    """One node's float output from its inputs' outputs."""
    op, a = node.op, node.attrs
    x = ins[0] if ins else None
    if op == "conv":
        return conv_f(node, x, p["weight"], p.get("bias"))
    if op == "linear":
        y = x @ p["weight"].T
        return y + p["bias"] if "bias" in p else y
    if op == "norm":
        s, b = bn_affine(p)
        return x * _bcast(s, x.ndim) + _bcast(b, x.ndim)
    if op == "act":
        return ACTIVATIONS[a["kind"]](x)
    if op == "pool":
        if a["kind"] == "max":
            return pool_windows(x, node, -np.inf).max(axis=-1)
        return pool_windows(x, node, 0.0).mean(axis=-1)
    if op == "global_pool":
        return x.max(axis=(2, 3)) if a["kind"] == "max" else x.mean(axis=(2, 3))
    if op == "add":
        return sum(ins[1:-1], ins[0]) + ins[-1] * add_scale(node) if len(ins) > 1 else ins[0]
    if op == "mul":
        g = ins[1]
        return x * (g.reshape(*g.shape, 1, 1) if g.ndim == 2 and x.ndim == 4 else g)
    if op == "concat":
        return np.concatenate(ins, axis=1)
    if op == "flatten":
        return x.reshape(x.shape[0], -1)
    if op == "dropout":
        return x
    if op == "upsample":
        return upsample_float(node, x)
    raise SpecError(None, "op", op, ", ".join(sorted(EXECUTABLE_OPS)), problem="the executor cannot run")


def forward(graph: Graph, params: Params, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every node's float64 output (key ``"input"`` holds ``x``)."""
    check_executable(graph)
    outs: dict[str, np.ndarray] = {"input": np.asarray(x, np.float64)}
    for node in graph.nodes:
        outs[node.name] = node_forward(node, [outs[i] for i in node.inputs], params.get(node.name, {}))
    return outs
