"""Backward rules of the executable ops, in float: the fp32 training reference and the digital unit's work.

:func:`node_backward` gives, for one node, the error of each input and the gradient of each trainable
parameter from the error of its output (float64 numpy). The fp32 reference trains with it end to end;
the INT8 training step (:mod:`imcsim.execute.train`) uses it only for the ops the tile's digital unit
runs (activation masks, pools, residual adds, batch-norm affine), on the dequantised tensors of its
INT8 forward pass, while the conv/linear errors and weight gradients run on the bit-serial kernels.

Batch norm is trained in its inference form (a per-channel affine with fixed statistics), which is what
an INT8 array with folded weights can train; its running statistics are not updated (A).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from imcsim.circuit.reference import im2col
from imcsim.execute.fp32 import BN_EPS, Params, add_scale, bn_affine, pool_windows
from imcsim.execute.quant import ACTIVATIONS
from imcsim.execute.resize import upsample_backward
from imcsim.workload.graph import Graph, Node


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride, padding, dilation) -> np.ndarray:
    """Adjoint of :func:`im2col`: (B, M, C*kh*kw) -> (B, C, H, W), overlapping taps summed."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, w = x_shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = cols.transpose(0, 2, 1).reshape(n, c, kh, kw, ho, wo)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), cols.dtype)
    for dy in range(kh):
        for dx in range(kw):
            y0, x0 = dy * dh, dx * dw
            xp[:, :, y0:y0 + sh * (ho - 1) + 1:sh, x0:x0 + sw * (wo - 1) + 1:sw] += cols[:, :, dy, dx]
    return xp[:, :, ph:ph + h, pw:pw + w]


def col2im_rows(cols: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride, padding,
                dilation) -> np.ndarray:
    """:func:`col2im` of integer im2col rows (B*M, C*kh*kw), as the transposed array returns them, in one pass
    without the (B, K, M) transposed copy: int64 (B, C, H, W), exact (integer sums, any order)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, w = x_shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = np.ascontiguousarray(cols, np.int64).reshape(n * ho * wo, c * kh * kw)
    return _col2im_rows(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo)


@njit(cache=True)
def _col2im_rows(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    out = np.zeros((n, c, h, w), np.int64)
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                row = cols[(b * ho + oy) * wo + ox]
                for ch in range(c):
                    for dy in range(kh):
                        iy = oy * sh - ph + dy * dh
                        if iy < 0 or iy >= h:
                            continue
                        for dx in range(kw):
                            ix = ox * sw - pw + dx * dw
                            if 0 <= ix < w:
                                out[b, ch, iy, ix] += row[(ch * kh + dy) * kw + dx]
    return out


def conv_backward(node: Node, x: np.ndarray, w: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(error of the input, weight gradient) of a conv with input ``x``, weights ``w``, output error ``e``."""
    a = node.attrs
    g = a["groups"]
    kh, kw = a["kernel"]
    cols, ho, wo = im2col(x, kh, kw, a["stride"], a["padding"], a["dilation"])
    n, c_out = x.shape[0], w.shape[0]
    cg, og = x.shape[1] // g, c_out // g
    m = ho * wo
    cols = cols.reshape(n * m, g, cg * kh * kw).transpose(1, 0, 2)               # (g, B*M, K)
    eg = e.reshape(n, g, og, m).transpose(1, 0, 3, 2).reshape(g, n * m, og)     # (g, B*M, og)
    wg = w.reshape(g, og, cg * kh * kw)                                         # (g, og, K)
    dw = np.matmul(eg.transpose(0, 2, 1), cols).reshape(w.shape)
    dcols = np.matmul(eg, wg).transpose(1, 0, 2).reshape(n, m, g * cg * kh * kw)
    # im2col orders K as (c, dy, dx) over all channels; groups are consecutive channel ranges
    dx = col2im(dcols, x.shape, kh, kw, a["stride"], a["padding"], a["dilation"])
    return dx, dw


def _bshape(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape(1, -1, *([1] * (ndim - 2)))


def _reduce(v: np.ndarray) -> np.ndarray:
    """Sum over every axis but the channel axis 1."""
    return v.sum(axis=(0, *range(2, v.ndim)))


def node_backward(node: Node, ins: list[np.ndarray], out: np.ndarray, e: np.ndarray,
                  p: dict[str, np.ndarray]) -> tuple[list[np.ndarray | None], dict[str, np.ndarray]]:
    """Errors of the node's inputs and gradients of its parameters (by role)."""
    op, a = node.op, node.attrs
    x = ins[0] if ins else None
    if op == "conv":
        dx, dw = conv_backward(node, x, p["weight"], e)
        grads = {"weight": dw}
        if "bias" in p:
            grads["bias"] = _reduce(e)
        return [dx], grads
    if op == "linear":
        grads = {"weight": e.T @ x}
        if "bias" in p:
            grads["bias"] = e.sum(axis=0)
        return [e @ p["weight"]], grads
    if op == "norm":
        s, _ = bn_affine(p)
        xhat = (x - _bshape(p["mean"], x.ndim)) / _bshape(np.sqrt(p["var"] + BN_EPS), x.ndim)
        return [e * _bshape(s, x.ndim)], {"scale": _reduce(e * xhat), "shift": _reduce(e)}
    if op == "act":
        return [e * act_derivative(a["kind"], x)], {}
    if op == "pool":
        wins = pool_windows(x, node, -np.inf if a["kind"] == "max" else 0.0)   # (B, C, Ho, Wo, k)
        if a["kind"] == "max":
            hit = wins == wins.max(axis=-1, keepdims=True)
            share = hit / hit.sum(axis=-1, keepdims=True)
        else:
            share = np.full(wins.shape, 1.0 / wins.shape[-1])
        return [_unpool(node, x.shape, share * e[..., None])], {}
    if op == "global_pool":
        if a["kind"] == "max":
            hit = x == x.max(axis=(2, 3), keepdims=True)
            return [hit / hit.sum(axis=(2, 3), keepdims=True) * e[:, :, None, None]], {}
        return [np.broadcast_to(e[:, :, None, None] / (x.shape[2] * x.shape[3]), x.shape).copy()], {}
    if op == "add":
        return [e for _ in ins[:-1]] + [e * add_scale(node)], {}
    if op == "mul":
        g = ins[1]
        if g.ndim == 2 and x.ndim == 4:
            return [e * g[:, :, None, None], (e * x).sum(axis=(2, 3))], {}
        return [e * g, e * x], {}
    if op == "concat":
        cuts = np.cumsum([t.shape[1] for t in ins])[:-1]
        return list(np.split(e, cuts, axis=1)), {}
    if op == "flatten":
        return [e.reshape(x.shape)], {}
    if op == "dropout":
        return [e], {}
    if op == "upsample":
        return [upsample_backward(node, e)], {}
    raise ValueError(f"no backward rule for op {op!r}")


def _unpool(node: Node, x_shape: tuple[int, ...], contrib: np.ndarray) -> np.ndarray:
    """Scatter window contributions (B, C, Ho, Wo, kh*kw) back onto the input (B, C, H, W)."""
    a = node.attrs
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
    b, c, h, w = x_shape
    ho, wo = contrib.shape[2], contrib.shape[3]
    xp = np.zeros((b, c, h + 2 * ph, w + 2 * pw))
    k = 0
    for dy in range(kh):
        for dx in range(kw):
            xp[:, :, dy:dy + sh * (ho - 1) + 1:sh, dx:dx + sw * (wo - 1) + 1:sw] += contrib[..., k]
            k += 1
    return xp[:, :, ph:ph + h, pw:pw + w]


def act_derivative(kind: str, x: np.ndarray) -> np.ndarray:
    """d act / dx at the activation's input ``x``."""
    if kind == "relu":
        return (x > 0).astype(np.float64)
    if kind == "relu6":
        return ((x > 0) & (x < 6)).astype(np.float64)
    if kind == "hswish":
        return np.where(x < -3, 0.0, np.where(x > 3, 1.0, (2 * x + 3) / 6))
    if kind == "hsigmoid":
        return ((x > -3) & (x < 3)) / 6.0
    if kind == "sigmoid":
        s = ACTIVATIONS["sigmoid"](x)
        return s * (1 - s)
    if kind == "swish":
        s = ACTIVATIONS["sigmoid"](x)
        return s + x * s * (1 - s)
    eps = 1e-4
    f = ACTIVATIONS[kind]
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def softmax_xent(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over the batch and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(labels)
    loss = float(-np.log(p[np.arange(n), labels] + 1e-12).mean())
    p[np.arange(n), labels] -= 1.0
    return loss, p / n


def backward(graph: Graph, params: Params, outs: dict[str, np.ndarray], e_out: np.ndarray,
             trainable: set[str]) -> dict[str, dict[str, np.ndarray]]:
    """Gradients of the trainable nodes' parameters, the error walked back only as far as needed."""
    floor = min((graph.index(n) for n in trainable), default=len(graph.nodes))
    errs: dict[str, np.ndarray] = {graph.nodes[-1].name: e_out}
    grads: dict[str, dict[str, np.ndarray]] = {}
    for node in reversed(graph.nodes[floor:]):
        e = errs.pop(node.name, None)
        if e is None:
            continue
        ins = [outs[i] for i in node.inputs]
        d_ins, d_p = node_backward(node, ins, outs[node.name], e, params.get(node.name, {}))
        if node.name in trainable:
            grads[node.name] = d_p
        for name, d in zip(node.inputs, d_ins):
            if d is not None and name != "input" and graph.index(name) >= floor:
                errs[name] = errs[name] + d if name in errs else d
    return grads
