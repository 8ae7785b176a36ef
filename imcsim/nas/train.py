"""Measure a candidate's accuracy by training it: fp32 numpy training of an imcsim graph on digits.

FLASH fits its accuracy predictor on a few trained samples [FLASH]. Where no trained accuracies can be
sourced, ``imcsim nas samples`` produces them here by execution: the candidate graph itself (the
same nodes the engine prices) is trained with backpropagation on scikit-learn's bundled digits set
(1,797 8x8 images, no download), and its test accuracy is the sample. This is fp32 training with
batch statistics in BN (running means at test), Adam, a fixed seed and a fixed epoch budget; it is
not the INT8 execution path of the simulator. Ops: conv (dense or depthwise), bn, relu/relu6, add,
concat, global average pool, linear: what the skipnet space uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from imcsim.workload.graph import Graph, Node

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; every sample row records it so its accuracy can be reproduced."""

    epochs: int = 6
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0
    test_fraction: float = 0.25

    def describe(self) -> str:
        return (f"fp32 numpy training on sklearn digits, {self.epochs} epochs, batch {self.batch}, Adam lr {self.lr}, "
                f"seed {self.seed}, {self.test_fraction:.0%} held out")


def digits_split(cfg: TrainConfig, resolution: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits as (N, 3, 8, 8) in [0, 1], split with a fixed seed (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if resolution != 8:
        raise ValueError(f"the digits set is 8x8; the space has resolution {resolution}")
    data = load_digits()
    x = np.repeat((data.images / 16.0).astype(np.float32)[:, None], 3, axis=1)
    x_tr, x_te, y_tr, y_te = train_test_split(x, data.target, test_size=cfg.test_fraction,
                                              random_state=cfg.seed, stratify=data.target)
    return x_tr, y_tr, x_te, y_te


def train_accuracy(graph: Graph, cfg: TrainConfig = TrainConfig()) -> float:
    """Train ``graph`` on digits with ``cfg`` and return its held-out accuracy (fraction)."""
    from threadpoolctl import threadpool_limits

    x_tr, y_tr, x_te, y_te = digits_split(cfg, graph.input_shape[-1])
    with threadpool_limits(1):     # small GEMMs: BLAS threads only contend on a shared machine
        return _train(graph, cfg, x_tr, y_tr, x_te, y_te)


def _train(graph: Graph, cfg: TrainConfig, x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray,
           y_te: np.ndarray) -> float:
    net = _Net(graph, np.random.default_rng(cfg.seed))
    rng = np.random.default_rng(cfg.seed + 1)
    for _ in range(cfg.epochs):
        order = rng.permutation(len(x_tr))
        for s in range(0, len(order), cfg.batch):
            idx = order[s:s + cfg.batch]
            net.step(x_tr[idx], y_tr[idx], cfg.lr)
    pred = np.concatenate([net.forward(x_te[s:s + 256], train=False).argmax(1) for s in range(0, len(x_te), 256)])
    return float(np.mean(pred == y_te))


class _Net:
    """Forward/backward over the graph's nodes in order; parameters per node; Adam."""

    def __init__(self, graph: Graph, rng: np.random.Generator) -> None:
        self.graph = graph
        self.p: dict[str, dict[str, np.ndarray]] = {}
        self.stats: dict[str, list[np.ndarray]] = {}
        for n in graph:
            if n.op == "conv":
                a = n.attrs
                kh, kw = a["kernel"]
                fan_in = a["in_ch"] // a["groups"] * kh * kw
                w = rng.normal(0, np.sqrt(2.0 / fan_in), (a["out_ch"], a["in_ch"] // a["groups"], kh, kw))
                self.p[n.name] = {"w": w.astype(np.float32)}
                if a["groups"] not in (1, a["in_ch"]) or (a["groups"] > 1 and a["out_ch"] != a["in_ch"]):
                    raise ValueError(f"{n.name}: only dense or depthwise convs are trained here")
            elif n.op == "linear":
                fi, fo = n.attrs["in_features"], n.attrs["out_features"]
                self.p[n.name] = {"w": rng.normal(0, np.sqrt(1.0 / fi), (fo, fi)).astype(np.float32),
                                  "b": np.zeros(fo, np.float32)}
            elif n.op == "norm":
                c = n.out_shape[0]
                self.p[n.name] = {"g": np.ones(c, np.float32), "b": np.zeros(c, np.float32)}
                self.stats[n.name] = [np.zeros(c, np.float32), np.ones(c, np.float32)]
            elif n.op not in ("act", "add", "concat", "global_pool", "input"):
                raise ValueError(f"{n.name}: op {n.op!r} is not trained here")
            if n.op == "act" and n.attrs["kind"] not in ("relu", "relu6"):
                raise ValueError(f"{n.name}: activation {n.attrs['kind']!r} is not trained here")
        self.m = {k: {r: np.zeros_like(v) for r, v in d.items()} for k, d in self.p.items()}
        self.v = {k: {r: np.zeros_like(v) for r, v in d.items()} for k, d in self.p.items()}
        self.t = 0

    # -------------------------------------------------------------- forward
    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.val: dict[str, np.ndarray] = {"input": x}
        self.cache: dict[str, object] = {}
        for n in self.graph:
            ins = [self.val[i] for i in n.inputs]
            self.val[n.name] = self._fwd(n, ins, train)
        return self.val[self.graph.nodes[-1].name]

    def _fwd(self, n: Node, ins: list[np.ndarray], train: bool) -> np.ndarray:
        x = ins[0]
        if n.op == "conv":
            return self._conv_fwd(n, x)
        if n.op == "norm":
            g, b = self.p[n.name]["g"], self.p[n.name]["b"]
            if train:
                mu, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
                st = self.stats[n.name]
                st[0] = (1 - BN_MOMENTUM) * st[0] + BN_MOMENTUM * mu
                st[1] = (1 - BN_MOMENTUM) * st[1] + BN_MOMENTUM * var
            else:
                mu, var = self.stats[n.name]
            inv = 1.0 / np.sqrt(var + BN_EPS)
            xhat = (x - mu[None, :, None, None]) * inv[None, :, None, None]
            self.cache[n.name] = (xhat, inv)
            return xhat * g[None, :, None, None] + b[None, :, None, None]
        if n.op == "act":
            hi = 6.0 if n.attrs["kind"] == "relu6" else np.inf
            return np.clip(x, 0.0, hi)
        if n.op == "add":
            return np.sum(ins, axis=0)
        if n.op == "concat":
            return np.concatenate(ins, axis=1)
        if n.op == "global_pool":
            return x.mean((2, 3))
        if n.op == "linear":
            return x @ self.p[n.name]["w"].T + self.p[n.name]["b"]
        raise AssertionError(n.op)

    def _windows(self, n: Node, x: np.ndarray) -> np.ndarray:
        a = n.attrs
        (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        return win[:, :, :n.out_shape[1], :n.out_shape[2]]          # (N, C, Ho, Wo, kh, kw)

    def _conv_fwd(self, n: Node, x: np.ndarray) -> np.ndarray:
        win = self._windows(n, x)
        w = self.p[n.name]["w"]
        self.cache[n.name] = (x.shape, win)
        if n.attrs["groups"] > 1:                                     # depthwise
            return np.einsum("nchwij,cij->nchw", win, w[:, 0], optimize=True)
        nb, c, ho, wo, kh, kw = win.shape
        cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(nb * ho * wo, c * kh * kw)
        y = cols @ w.reshape(w.shape[0], -1).T
        self.cache[n.name] = (x.shape, cols)
        return y.reshape(nb, ho, wo, -1).transpose(0, 3, 1, 2)

    # -------------------------------------------------------------- backward
    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        logits = self.forward(x, train=True)
        z = logits - logits.max(1, keepdims=True)
        prob = np.exp(z)
        prob /= prob.sum(1, keepdims=True)
        loss = float(-np.log(prob[np.arange(len(y)), y] + 1e-12).mean())
        d = prob
        d[np.arange(len(y)), y] -= 1.0
        grads: dict[str, np.ndarray] = {self.graph.nodes[-1].name: d / len(y)}
        pgrad: dict[str, dict[str, np.ndarray]] = {}
        for n in reversed(self.graph.nodes):
            dy = grads.pop(n.name, None)
            if dy is None or n.op == "input":
                continue
            for name, dx in zip(n.inputs, self._bwd(n, dy, pgrad)):
                if name != "input":
                    grads[name] = grads[name] + dx if name in grads else dx
        self._adam(pgrad, lr)
        return loss

    def _bwd(self, n: Node, dy: np.ndarray, pgrad: dict) -> list[np.ndarray]:
        ins = [self.val[i] for i in n.inputs]
        if n.op == "conv":
            return [self._conv_bwd(n, dy, pgrad)]
        if n.op == "norm":
            xhat, inv = self.cache[n.name]
            g = self.p[n.name]["g"]
            pgrad[n.name] = {"g": (dy * xhat).sum((0, 2, 3)), "b": dy.sum((0, 2, 3))}
            dxh = dy * g[None, :, None, None]
            m = dy.shape[0] * dy.shape[2] * dy.shape[3]
            dx = (m * dxh - dxh.sum((0, 2, 3), keepdims=True)
                  - xhat * (dxh * xhat).sum((0, 2, 3), keepdims=True)) * (inv[None, :, None, None] / m)
            return [dx]
        if n.op == "act":
            hi = 6.0 if n.attrs["kind"] == "relu6" else np.inf
            return [dy * ((ins[0] > 0) & (ins[0] < hi))]
        if n.op == "add":
            return [dy] * len(ins)
        if n.op == "concat":
            cuts = np.cumsum([i.shape[1] for i in ins])[:-1]
            return np.split(dy, cuts, axis=1)
        if n.op == "global_pool":
            h, w = ins[0].shape[2:]
            return [np.broadcast_to(dy[:, :, None, None] / (h * w), ins[0].shape)]
        if n.op == "linear":
            pgrad[n.name] = {"w": dy.T @ ins[0], "b": dy.sum(0)}
            return [dy @ self.p[n.name]["w"]]
        raise AssertionError(n.op)

    def _conv_bwd(self, n: Node, dy: np.ndarray, pgrad: dict) -> np.ndarray:
        a = n.attrs
        (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["padding"]
        xshape, saved = self.cache[n.name]
        w = self.p[n.name]["w"]
        nb, _, ho, wo = dy.shape
        if a["groups"] > 1:
            pgrad[n.name] = {"w": np.einsum("nchw,nchwij->cij", dy, saved, optimize=True)[:, None]}
            dwin = dy[:, :, :, :, None, None] * w[:, 0][None, :, None, None, :, :]
        else:
            dy2 = dy.transpose(0, 2, 3, 1).reshape(-1, w.shape[0])
            pgrad[n.name] = {"w": (dy2.T @ saved).reshape(w.shape)}
            dwin = (dy2 @ w.reshape(w.shape[0], -1)).reshape(nb, ho, wo, xshape[1], kh, kw).transpose(0, 3, 1, 2, 4, 5)
        dxp = np.zeros((nb, xshape[1], xshape[2] + 2 * ph, xshape[3] + 2 * pw), dtype=dy.dtype)
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw] += dwin[..., i, j]
        return dxp[:, :, ph:ph + xshape[2], pw:pw + xshape[3]]

    def _adam(self, pgrad: dict, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.t += 1
        for k, d in pgrad.items():
            for r, g in d.items():
                m, v = self.m[k][r], self.v[k][r]
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                mh = m / (1 - b1 ** self.t)
                vh = v / (1 - b2 ** self.t)
                self.p[k][r] -= (lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
