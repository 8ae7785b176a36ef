"""Whole-network INT8 inference on the bit-serial kernels, with the activity each layer measured.

Every conv and linear runs on :func:`imcsim.circuit.bitserial.conv2d` / ``linear`` with unsigned
8-bit input codes and signed INT8 weights; the other ops are integer ops of
:mod:`imcsim.execute.quant` (the tile's digital unit). Zero points: the input feature map is padded
with its zero point (the array is driven with the code of a real 0, so padding taps count in the
measured activity as the bits they really are), and the accumulator is corrected by
``zp_x * sum(w)`` per output channel before bias and requantisation.

:func:`run` returns the output codes, every tensor when asked (training needs them), and per
conv/linear node the :class:`~imcsim.circuit.activity.Activity` the kernel counted; with
``toggle_rows`` also the adder-tree toggle counts of every conv/linear (:func:`array_toggles`, for the
macro's ``toggle`` activity model) on trees of that many inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from imcsim.circuit import bitserial
from imcsim.circuit.activity import Activity
from imcsim.circuit.reference import im2col
from imcsim.circuit.toggle import ToggleActivity, toggle_activity
from imcsim.execute.fp32 import add_scale, pool_windows
from imcsim.execute.qnet import QNet, QOp
from imcsim.execute.quant import ACT_MAX, ACT_MIN, requantize, rescale, rounding_shift
from imcsim.execute.resize import upsample_codes


@dataclass
class InferenceRun:
    """Outputs of one batch, the per-layer measured activity, and (if kept) every node's codes."""

    output: np.ndarray                      # output codes of the last node
    activity: dict[str, Activity]           # conv/linear node -> counted events
    tensors: dict[str, np.ndarray] | None   # node -> codes (``keep=True``)
    toggles: dict[str, ToggleActivity] | None = None   # conv/linear node -> tree toggles (``toggle_rows``)


def array_forward(op: QOp, x: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, Activity]:
    """The raw accumulator of a conv/linear on the kernels, zero-point corrected, bias added.

    ``w`` overrides the op's weights (training runs the same array op on updated weights).
    """
    node, a = op.node, op.node.attrs
    w = op.w if w is None else w
    zp = op.in_zp
    if node.op == "conv":
        ph, pw = a["padding"]
        xp = np.pad(x.astype(np.uint8), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=zp)
        acc, act = bitserial.conv2d(xp, op.packed() if w is op.w else w.astype(np.int8), a["stride"], 0,
                                    a["dilation"], in_bits=8, in_signed=False, **_unpacked(w is op.w, a["groups"]))
        wsum = w.reshape(w.shape[0], -1).sum(axis=1)
        acc = acc - zp * wsum.reshape(1, -1, 1, 1) + op.bias.reshape(1, -1, 1, 1)
    else:
        acc, act = bitserial.linear(x.astype(np.uint8), op.packed() if w is op.w else w.astype(np.int8), in_bits=8,
                                    in_signed=False)
        acc = acc - zp * w.sum(axis=1) + op.bias
    return np.ascontiguousarray(acc), act


def _unpacked(packed: bool, groups: int) -> dict[str, int]:
    return {} if packed else {"groups": groups, "w_bits": 8}


def execute_op(op: QOp, ins: list[np.ndarray], qnet: QNet) -> tuple[np.ndarray, Activity | None]:
    """One node's output codes from its inputs' codes."""
    node, kind = op.node, op.kind
    x = ins[0]
    if kind == "array":
        acc, act = array_forward(op, x)
        ch = (1, -1, 1, 1) if acc.ndim == 4 else (1, -1)
        return requantize(acc, op.m0.reshape(ch), op.shift.reshape(ch), op.out.zero_point, op.lo, op.hi), act
    if kind == "alias":
        return (x.reshape(x.shape[0], -1) if node.op == "flatten" else x), None
    if kind == "clamp":
        return np.clip(x, op.lo, op.hi), None
    if kind == "lut":
        return op.table[x], None
    if kind == "upsample":
        return upsample_codes(node, x), None
    if kind == "maxpool":
        if node.op == "global_pool":
            return x.max(axis=(2, 3)), None
        return pool_windows(x, node, ACT_MIN).max(axis=-1), None
    qin = [qnet.qparams[i] for i in node.inputs]
    if kind == "avgpool":
        zp = qin[0].zero_point
        s = (x.sum(axis=(2, 3)) if node.op == "global_pool" else pool_windows(x, node, zp).sum(axis=-1)) - op.window * zp
        return np.clip(rounding_shift(s, op.m0[0], op.shift[0]) + op.out.zero_point, ACT_MIN, ACT_MAX), None
    if kind == "add":   # the last input weighted by the add's scale (LoRA's alpha / r) through its multiplier
        qin[-1] = replace(qin[-1], scale=qin[-1].scale * add_scale(node))
        total = sum(rescale(q, p, op.out) for q, p in zip(ins, qin))
        return np.clip(total + op.out.zero_point, ACT_MIN, ACT_MAX), None
    if kind == "concat":
        parts = [np.clip(rescale(q, p, op.out) + op.out.zero_point, ACT_MIN, ACT_MAX) for q, p in zip(ins, qin)]
        return np.concatenate(parts, axis=1), None
    if kind == "mul":
        g = ins[1] - qin[1].zero_point
        g = g.reshape(*g.shape, 1, 1) if g.ndim == 2 and x.ndim == 4 else g
        prod = (x - qin[0].zero_point) * g
        return np.clip(rounding_shift(prod, op.m0[0], op.shift[0]) + op.out.zero_point, ACT_MIN, ACT_MAX), None
    raise ValueError(f"unknown op kind {kind!r}")


def quantize_input(qnet: QNet, x: np.ndarray) -> np.ndarray:
    """Float images -> the network's input codes."""
    return qnet.input_q.quantize(x)


def array_toggles(op: QOp, x: np.ndarray, rows_parallel: int) -> ToggleActivity:
    """Adder-tree toggle counts of one conv/linear on input codes ``x`` (what :func:`array_forward` drives:
    padding taps at the zero point), per group on its own trees, the batch's samples one after the other
    (the im2col vectors in order), the trees cleared at the start of the batch."""
    node, a = op.node, op.node.attrs
    w = op.w.reshape(op.w.shape[0], -1)
    if node.op == "conv":
        ph, pw = a["padding"]
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=op.in_zp)
        kh, kw = a["kernel"]
        cols = im2col(xp, kh, kw, a["stride"], 0, a["dilation"])[0]
        cols = cols.reshape(-1, cols.shape[-1])
        groups = a["groups"]
    else:
        cols, groups = x, 1
    og, kg = w.shape[0] // groups, w.shape[1]
    total = None
    for g in range(groups):
        t = toggle_activity(cols[:, g * kg:(g + 1) * kg], w[g * og:(g + 1) * og].T, 8, 8, rows_parallel)
        total = t if total is None else total + t
    return total


def run(qnet: QNet, x_codes: np.ndarray, keep: bool = False, toggle_rows: int | None = None) -> InferenceRun:
    """Run the whole network on a batch of input codes (``toggle_rows``: also count tree toggles)."""
    tensors: dict[str, np.ndarray] = {"input": np.asarray(x_codes, np.int64)}
    activity: dict[str, Activity] = {}
    toggles: dict[str, ToggleActivity] | None = {} if toggle_rows else None
    last = None
    for node in qnet.graph.nodes:
        op = qnet.ops[node.name]
        ins = [tensors[i] for i in node.inputs]
        y, act = execute_op(op, ins, qnet)
        tensors[node.name] = y.astype(np.int64, copy=False)
        last = node.name
        if act is not None:
            activity[node.name] = act
            if toggles is not None:
                toggles[node.name] = array_toggles(op, ins[0], toggle_rows)
        if not keep:
            _free(qnet, tensors, node)
    return InferenceRun(tensors[last], activity, tensors if keep else None, toggles)


def _free(qnet: QNet, tensors: dict[str, np.ndarray], node) -> None:
    """Drop tensors no later node reads (keeps memory at the live set)."""
    graph = qnet.graph
    done = graph.index(node.name)
    for name in node.inputs:
        if name == "input" and any(n.inputs and "input" in n.inputs for n in graph.nodes[done + 1:]):
            continue
        if name != "input" and any(graph.index(c.name) > done for c in graph.consumers(name)):
            continue
        tensors.pop(name, None)
