"""A plain numpy integer reference of a quantised network: what the kernel path must equal bit for bit.

Written apart from :mod:`imcsim.execute.infer`: convolutions use the im2col reference of
:mod:`imcsim.circuit.reference` on zero-point-*centred* inputs padded with zeros (the executor pads with
the zero point and corrects the accumulator by ``zp * sum(w)`` instead), fixed-point products are
floor divisions by ``2^shift`` rather than shifts, pools loop over window offsets. It shares only the
integers of the :class:`~imcsim.execute.qnet.QNet` (weights, biases, multipliers, tables).
"""

from __future__ import annotations

import numpy as np

from imcsim.circuit.reference import conv2d_ref, linear_ref
from imcsim.execute.qnet import QNet, QOp


def _fx(v: np.ndarray, m0: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """round(v m0 / 2^shift), ties up, as a floor division."""
    div = np.power(np.int64(2), shift.astype(np.int64))
    return np.floor_divide(v.astype(np.int64) * m0 + div // 2, div)


def _pool(x: np.ndarray, op: QOp, fill: int, reduce: str) -> np.ndarray:
    a = op.node.attrs
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
    b, c, h, w = x.shape
    xp = np.full((b, c, h + 2 * ph, w + 2 * pw), fill, np.int64)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    ho, wo = op.node.out_shape[1:]
    out = np.full((b, c, ho, wo), np.iinfo(np.int64).min if reduce == "max" else 0, np.int64)
    for i in range(ho):
        for j in range(wo):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = win.max(axis=(2, 3)) if reduce == "max" else win.sum(axis=(2, 3))
    return out


def _source(d: int, n_in: int, n_out: int) -> tuple[int, int, int, int]:
    """Half-pixel source of output ``d`` in units of 1/(2 n_out): (i0, i1, weight of i0, weight of i1)."""
    pos = max((2 * d + 1) * n_in - n_out, 0)      # 2 n_out (src), src = (d + 1/2) n_in / n_out - 1/2
    i0 = min(pos // (2 * n_out), n_in - 1)
    frac = pos - i0 * 2 * n_out
    return i0, min(i0 + 1, n_in - 1), 2 * n_out - frac, frac


def _bilinear(x: np.ndarray, ho: int, wo: int) -> np.ndarray:
    """Bilinear upsampling (align_corners False), one output pixel at a time, rounded half up."""
    b, c, h, w = x.shape
    out = np.zeros((b, c, ho, wo), np.int64)
    den = 4 * ho * wo
    for i in range(ho):
        y0, y1, a0, a1 = _source(i, h, ho)
        for j in range(wo):
            x0, x1, b0, b1 = _source(j, w, wo)
            s = a0 * b0 * x[:, :, y0, x0] + a0 * b1 * x[:, :, y0, x1] + a1 * b0 * x[:, :, y1, x0] \
                + a1 * b1 * x[:, :, y1, x1]
            out[:, :, i, j] = np.floor_divide(2 * s + den, 2 * den)
    return out


def _clip(v: np.ndarray, lo: int = 0, hi: int = 255) -> np.ndarray:
    return np.minimum(np.maximum(v, lo), hi)


def reference_op(op: QOp, ins: list[np.ndarray], qnet: QNet) -> np.ndarray:
    node, kind = op.node, op.kind
    x = ins[0]
    zps = [qnet.qparams[i].zero_point for i in node.inputs]
    if kind == "array":
        xc = x - op.in_zp
        if node.op == "conv":
            a = node.attrs
            acc = conv2d_ref(xc, op.w, a["stride"], a["padding"], a["dilation"], a["groups"])
            acc = acc + op.bias[None, :, None, None]
            return _clip(_fx(acc, op.m0[None, :, None, None], op.shift[None, :, None, None]) + op.out.zero_point,
                         op.lo, op.hi)
        acc = linear_ref(xc, op.w) + op.bias[None, :]
        return _clip(_fx(acc, op.m0[None, :], op.shift[None, :]) + op.out.zero_point, op.lo, op.hi)
    if kind == "alias":
        return x.reshape(len(x), -1) if node.op == "flatten" else x
    if kind == "clamp":
        return _clip(x, op.lo, op.hi)
    if kind == "lut":
        return np.take(op.table, x)
    if kind == "upsample":
        if node.attrs.get("mode") == "bilinear":
            return _bilinear(x, node.out_shape[1], node.out_shape[2])
        fh, fw = node.out_shape[1] // node.in_shape[1], node.out_shape[2] // node.in_shape[2]
        return np.kron(x, np.ones((1, 1, fh, fw), np.int64))
    if kind == "maxpool":
        if node.op == "global_pool":
            return x.reshape(*x.shape[:2], -1).max(axis=2)
        return _pool(x, op, 0, "max")
    if kind == "avgpool":
        if node.op == "global_pool":
            s = (x - zps[0]).reshape(*x.shape[:2], -1).sum(axis=2)
        else:
            s = _pool(x - zps[0], op, 0, "sum")
        return _clip(_fx(s, op.m0[0], op.shift[0]) + op.out.zero_point)
    if kind in ("add", "concat"):
        from imcsim.execute.quant import fixed_point

        parts = []
        for i, (q, name) in enumerate(zip(ins, node.inputs)):
            factor = float(node.attrs.get("scale", 1.0)) if kind == "add" and i == len(ins) - 1 else 1.0
            m0, sh = fixed_point(qnet.qparams[name].scale * factor / op.out.scale)
            parts.append(_fx(q - qnet.qparams[name].zero_point, m0[0], sh[0]))
        if kind == "add":
            return _clip(np.sum(parts, axis=0) + op.out.zero_point)
        return np.concatenate([_clip(p + op.out.zero_point) for p in parts], axis=1)
    if kind == "mul":
        g = ins[1] - zps[1]
        if g.ndim == 2 and x.ndim == 4:
            g = g[:, :, None, None]
        return _clip(_fx((x - zps[0]) * g, op.m0[0], op.shift[0]) + op.out.zero_point)
    raise ValueError(f"unknown op kind {kind!r}")


def run_reference(qnet: QNet, x_codes: np.ndarray) -> dict[str, np.ndarray]:
    """Every node's output codes, computed by the reference."""
    t: dict[str, np.ndarray] = {"input": np.asarray(x_codes, np.int64)}
    for node in qnet.graph.nodes:
        t[node.name] = reference_op(qnet.ops[node.name], [t[i] for i in node.inputs], qnet).astype(np.int64)
    return t
