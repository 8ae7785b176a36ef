"""On-device INT8 training executed on the bit-serial kernels, with an fp32 numpy reference alongside.

The scheme follows what is public of the SAS-MRAM continual-learning system [P1-SAS-CL] (INT8 training,
bit-serial in-memory convolution, frozen backbone, a small trained part); every choice the sources do not
fix is made here and listed in ``docs/execution.md``. One INT8 SGD step on a batch:

1. **forward**: the whole network in INT8 on the kernels (:func:`imcsim.execute.infer.run`), tensors kept;
2. **loss**: softmax cross-entropy on the dequantised logits (digital unit, float);
3. **backward error**, walking back from the output to the lowest trainable layer: digital ops (masks of
   ReLU/ReLU6, pools, residual adds) apply their float rules (:mod:`imcsim.execute.backprop`) to the
   dequantised INT8 forward tensors; a conv/linear multiplies its output error by its per-channel weight
   scales, quantises it to INT8 with a power-of-two scale and stochastic rounding, and (``backward`` =
   ``transposed-array``) reads it through its own array transposed on the kernels: per group
   ``dcols = e @ W`` (the array's column lines driven by the error, its rows sensed), then the digital
   unit overlap-adds the columns back onto the input (col2im); ``digital`` does the same product in numpy;
4. **weight gradient** of a trained conv/linear: activation x error as a GEMM over the batch and output
   positions, on the kernels (``wgrad`` = ``array``: the im2col activation codes streamed, the INT8 errors
   stationary) or in numpy (``digital``), zero point corrected;
5. **update**: ``W <- sat127(W - SR(dW * 2^-lr_shift * s_e s_x / s_w^2))``, the learning rate a shift,
   the per-channel rescale a fixed-point multiplier, stochastic rounding with the seeded generator.
   Biases (integers at the accumulator scale) likewise. The old and new INT8 weights of every update are
   kept: they are what the engine prices the writes with.

Methods (:data:`METHODS`): what a method trains is what its ``TrainingStep`` (``methods.apply``) trains,
and the network executed is that step's graph: ``last`` (classifier), ``bias`` (TinyTL-B: every bias,
i.e. the folded batch-norm shifts, and the classifier), ``full`` (everything; batch norms are folded, so
their affine parameters train as part of the folded weights and biases) and ``repnet`` (Rep-Net's
branches, the classifier and every backbone bias, on the backbone with the branches added; the backbone's
array weights stay frozen). The error goes exactly as far down as autograd sends it (:func:`needs_error`).
The fp32 reference trains the same parameters of the same folded float network with plain SGD at learning
rate ``2^-lr_shift`` on the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from imcsim.circuit import bitserial
from imcsim.circuit.activity import Activity
from imcsim.circuit.reference import im2col
from imcsim.circuit.toggle import ToggleActivity, toggle_activity
from imcsim.errors import SpecError
from imcsim.execute import backprop, fp32, infer
from imcsim.execute.qnet import QNet, QOp, folded_norms
from imcsim.execute.quant import W_MAX, fixed_point
from imcsim.workload import methods
from imcsim.workload.graph import Graph
from imcsim.workload.step import TrainingStep

#: methods the executor runs (their TrainingStep's trained parameters are conv/linear weights and biases)
METHODS = ("last", "bias", "full", "repnet", "lora")
#: options ``imcsim train`` gives a method unless told otherwise (D): LoRA at rank 4 (rank 16 would exceed
#: the digits CNN classifier's 10 outputs) with alpha / r = 2, the ratio of the method's defaults (32 / 16);
#: its targets keep the method's default (every linear layer on a network without attention projections:
#: the digits CNN's 32 -> 10 classifier)
TRAIN_OPTIONS: dict[str, dict[str, object]] = {"lora": {"rank": 4, "alpha": 8.0}}
BIAS_MAX = 2**31 - 1      # biases are int32 at the accumulator scale
BACKWARDS = ("transposed-array", "digital")
#: error/gradient widths: INT8, or INT16 run on the 8-bit kernels as two passes (:func:`error_digits`)
ERROR_BITS = (8, 16)
WGRADS = ("array", "digital")
#: higher-precision master weights kept digitally (the arrays get the INT8 copy): none, INT16 with 8
#: fraction bits below the INT8 LSB (stochastic rounding at 1/256 LSB), or fp32 (no rounding)
MASTER_COPIES = ("none", "int16", "fp32")
MASTER_FRACTION_BITS = 8


@dataclass(frozen=True)
class TrainOptions:
    method: str = "last"
    lr_shift: int = 4                 # learning rate 2^-lr_shift
    batch: int = 32
    backward: str = "transposed-array"
    wgrad: str = "array"
    error_bits: int = 8
    method_options: tuple[tuple[str, object], ...] = ()   # overrides of the method's options (--method-option)
    master_copy: str = "none"

    def check(self) -> None:
        for flag, value, allowed in (("--method", self.method, METHODS), ("--backward", self.backward, BACKWARDS),
                                     ("--wgrad", self.wgrad, WGRADS), ("--master-copy", self.master_copy,
                                                                       MASTER_COPIES)):
            if value not in allowed:
                raise SpecError("<flags>", flag, value, ", ".join(allowed))
        if not 0 <= self.lr_shift <= 16:
            raise SpecError("<flags>", "--lr-shift", self.lr_shift, "an integer from 0 to 16 (learning rate 2^-shift)")
        if self.batch < 1:
            raise SpecError("<flags>", "--batch", self.batch, "an integer >= 1")
        if self.error_bits not in ERROR_BITS:
            raise SpecError("<flags>", "--error-bits", self.error_bits, " or ".join(map(str, ERROR_BITS)))


def method_step(graph: Graph, method: str, options: dict[str, object] | None = None) -> TrainingStep:
    """The TrainingStep the engine prices for ``method`` on ``graph``; its graph is the one executed
    (Rep-Net's branches, LoRA's adapters added), its trainable parameters the ones trained."""
    if method not in METHODS:
        raise SpecError("<flags>", "--method", method, ", ".join(METHODS))
    return methods.apply(graph, method, **{**TRAIN_OPTIONS.get(method, {}), **(options or {})})


def trained_parts(step: TrainingStep) -> dict[str, tuple[str, ...]]:
    """conv/linear node -> the roles the INT8 network trains (``weight``, ``bias``).

    Batch norms are folded into the conv/linear before them, so a trained norm shift is that layer's
    bias and a trained norm scale is part of its weights (which must then be trained too).
    """
    folded = {bn: src for src, bn in folded_norms(step.graph).items()}
    out: dict[str, set[str]] = {}
    for node, roles in step.trainable_by_node().items():
        op = step.graph[node].op
        if op in ("conv", "linear"):
            out.setdefault(node, set()).update(r for r in roles if r in ("weight", "bias"))
        elif op == "norm" and node in folded:
            out.setdefault(folded[node], set()).update({"shift": "bias", "scale": "weight"}[r] for r in roles
                                                       if r in ("scale", "shift"))
        else:
            raise SpecError("<flags>", "--method", step.method, "a method that trains conv/linear weights and "
                            "biases (batch norms folded into them)", problem=f"it trains {node}.{sorted(roles)}:")
    trained_w = step.trainable_by_node()
    for name, roles in out.items():
        if "weight" in roles and "weight" not in trained_w.get(name, set()):
            raise SpecError("<flags>", "--method", step.method, "a method that trains a norm scale only with the "
                            "weights it is folded into", problem=f"the norm after {name} is trained alone:")
    return {n: tuple(sorted(r)) for n, r in out.items() if r}


def needs_error(graph: Graph, parts: dict[str, tuple[str, ...]]) -> dict[str, bool]:
    """Autograd's rule, as the TrainingStep applies it: a node's output needs an error when the node is
    trained or any of its inputs needs one (so the error goes exactly as far down as it must)."""
    rg: dict[str, bool] = {"input": False}
    for n in graph.nodes:
        rg[n.name] = n.name in parts or any(rg[i] for i in n.inputs)
    return rg


@dataclass(frozen=True)
class ExecutedOp:
    """One array/GEMM op a training step executed, in the engine's per-sample GEMM convention."""

    node: str
    phase: str
    kind: str                       # "mvm" | "gemm" | "write"
    gemm: tuple[int, int, int, int] | None


@dataclass
class StepRecord:
    loss: float
    ops: list[ExecutedOp]
    activity: dict[tuple[str, str], Activity]
    updates: dict[str, tuple[np.ndarray, np.ndarray]]   # node -> (old, new) INT8 weights
    #: adder-tree toggles per (node, phase) of the MVMs on the arrays (forward, and backward error through the
    #: transposed array), when the trainer counts them (``toggle_rows``)
    toggles: dict[tuple[str, str], ToggleActivity] = field(default_factory=dict)


def sr_quantize(v: np.ndarray, rng: np.random.Generator, bits: int = 8) -> tuple[np.ndarray, float]:
    """Stochastic rounding to signed ``bits`` with a power-of-two scale covering max |v|."""
    qmax = (1 << (bits - 1)) - 1
    amax = float(np.abs(v).max(initial=0.0))
    if amax == 0.0:
        return np.zeros(v.shape, np.int64), 1.0
    scale = 2.0 ** np.ceil(np.log2(amax / qmax))
    q = np.floor(v / scale + rng.random(v.shape))
    return np.clip(q, -qmax, qmax).astype(np.int64), float(scale)


def error_digits(e: np.ndarray, bits: int) -> list[tuple[np.ndarray, int, bool]]:
    """Operands of at most 8 bits whose weighted sum is ``e``: ``(digit, weight, signed)``.

    INT8 errors are one signed digit. An INT16 error is its signed high byte (weight 256) and its unsigned
    low byte: the kernels take 8-bit operands, so a 16-bit error drives the array in two passes whose
    results are shifted and added (the bit-serial array would see the same 16 bit-planes in one longer pass).
    """
    if bits == 8:
        return [(e, 1, True)]
    return [(e >> 8, 256, True), (e & 0xFF, 1, False)]


def sr_fixed(v: np.ndarray, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stochastically rounded ``v * m`` in fixed point: (v m0 + r) >> shift, r uniform in [0, 2^shift)."""
    m = np.broadcast_to(np.asarray(m, np.float64), np.shape(v))
    if (m >= 2.0 ** 20).any():
        # a degenerate scale (e.g. a dead input channel calibrated to a range of ~0) makes the step
        # larger than any fixed-point multiplier: round in float, the result is clipped by the caller
        return np.floor(v * m + rng.random(np.shape(v))).astype(np.int64)
    m0, shift = fixed_point(m)
    r = rng.integers(0, np.left_shift(np.int64(1), shift))
    return (v.astype(np.int64) * m0 + r) >> shift


class Int8Trainer:
    """Runs INT8 SGD steps of one method on a :class:`QNet` (which it updates in place).

    ``step`` is the method's TrainingStep whose graph ``qnet`` executes (default: the method applied to
    ``qnet.graph``, right for methods that add no nodes); ``toggle_rows`` counts the adder-tree toggles of
    the forward passes and of the backward error through the transposed array on trees of that size (None:
    not counted; the weight gradient's toggles are not counted: its scratch-macro price uses the default density).
    """

    def __init__(self, qnet: QNet, opts: TrainOptions, seed: int = 0, step: TrainingStep | None = None,
                 toggle_rows: int | None = None) -> None:
        opts.check()
        self.toggle_rows = toggle_rows   # count tree toggles on trees of this size (None: do not)
        self.qnet = qnet
        self.opts = opts
        self.graph = qnet.graph
        step = step or method_step(self.graph, opts.method, dict(opts.method_options))
        if [n.name for n in step.graph.nodes] != [n.name for n in self.graph.nodes]:
            raise ValueError(f"the network executed is not the graph of the {step.method} TrainingStep")
        self.parts = trained_parts(step)
        self.rg = needs_error(self.graph, self.parts)
        self.rng = np.random.default_rng([seed, 0x7A1])
        self.floor = min(self.graph.index(n) for n, r in self.rg.items() if r and n != "input")
        self.master: dict[str, np.ndarray] = {}   # node -> master weights (``master_copy``), from the first update

    # ------------------------------------------------------------------ array ops of the backward pass
    def _cols(self, op: QOp, x: np.ndarray) -> np.ndarray:
        """im2col of the input codes (padding = the zero point) as uint8 (B, C*kh*kw, M), K-major per sample
        (the memory :func:`im2col` fills, so no copy; codes are 0..255)."""
        a = op.node.attrs
        if op.node.op == "linear":
            return x.astype(np.uint8)[:, :, None]
        ph, pw = a["padding"]
        xp = np.pad(x.astype(np.uint8), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=op.in_zp)
        kh, kw = a["kernel"]
        return im2col(xp, kh, kw, a["stride"], 0, a["dilation"])[0].transpose(0, 2, 1)

    def _transposed(self, op: QOp, e_q: np.ndarray, rec: StepRecord, per_sample_m: int) -> np.ndarray:
        """dcols = e @ W per group, through the array read transposed (or numpy): (B*M, g*K) int64.

        On the kernels this is one grouped 1x1 convolution: the error vector of every output position
        drives the group's column lines, the group's rows are sensed (weights (g*K, og) per group).
        """
        w = op.w.reshape(op.w.shape[0], -1)
        g = op.groups
        og, kg = w.shape[0] // g, w.shape[1]
        if self.opts.backward == "transposed-array":
            y = None
            for digit, weight, signed in error_digits(e_q, self.opts.error_bits):
                yd, act = bitserial.conv2d(digit[:, :, None, None], op.packed_transposed(), in_bits=8,
                                           in_signed=signed)
                self._add(rec, op.node.name, "backward_error", act)
                if self.toggle_rows:
                    # the error vectors one after the other against each group's transposed weights (kg x og as
                    # (og x kg) tree inputs), per pass as the kernels run them
                    wt = op.transposed()
                    key = (op.node.name, "backward_error")
                    for j in range(g):
                        tog = toggle_activity(digit[:, j * og:(j + 1) * og], wt[j * kg:(j + 1) * kg].T, 8, 8,
                                              self.toggle_rows)
                        rec.toggles[key] = rec.toggles[key] + tog if key in rec.toggles else tog
                yd = yd.reshape(len(e_q), g * kg)
                term = yd if weight == 1 else yd * weight
                y = term if y is None else y + term
        else:
            y = np.matmul(e_q.reshape(-1, g, og).transpose(1, 0, 2), w.reshape(g, og, kg)).transpose(1, 0, 2)
            y = y.reshape(len(e_q), g * kg)
        rec.ops.append(ExecutedOp(op.node.name, "backward_error", "mvm", (g, per_sample_m, og, kg)))
        return y

    def _wgrad(self, op: QOp, cols_t: np.ndarray, e_q: np.ndarray, rec: StepRecord, per_sample_m: int) -> np.ndarray:
        """dW (C_out, K) int64 = sum over batch and positions of e x (codes - zp), per group.

        On the kernels: one grouped 1x1 convolution whose "batch" is the K im2col rows of a group, whose
        input channels are the B*M positions (activation codes streamed) and whose stationary weights
        are the group's INT8 errors.
        """
        g = op.groups
        rows, c_out = e_q.shape
        n, k, m = cols_t.shape
        og, kg = c_out // g, k // g
        # (kg, g, B*M), rows in the errors' (b, m) order: one copy of the uint8 codes
        xs = np.ascontiguousarray(cols_t.reshape(n, g, kg, m).transpose(2, 1, 0, 3)).reshape(kg, g, rows)
        es = e_q.reshape(rows, g, og).transpose(1, 2, 0)                           # (g, og, B*M)
        if self.opts.wgrad == "array":
            y = np.zeros((kg, g, og), np.int64)
            xin = xs.reshape(kg, g * rows, 1, 1)
            for digit, weight, signed in error_digits(es, self.opts.error_bits):
                yd, act = bitserial.conv2d(xin, digit.reshape(g * og, rows, 1, 1).astype(np.int16), groups=g,
                                           in_bits=8, w_bits=8, in_signed=False, w_signed=signed)
                self._add(rec, op.node.name, "weight_gradient", act)
                y += yd.reshape(kg, g, og) * weight
        else:
            y = np.matmul(xs.transpose(1, 0, 2), es.transpose(0, 2, 1)).transpose(1, 0, 2)   # (kg, g, og)
        y = y - op.in_zp * es.sum(axis=2)[None, :, :]
        rec.ops.append(ExecutedOp(op.node.name, "weight_gradient", "gemm", (g, kg, per_sample_m, og)))
        return y.transpose(1, 2, 0).reshape(c_out, kg)

    def _master_update(self, name: str, w: np.ndarray, dw: np.ndarray, mult: np.ndarray) -> np.ndarray:
        """Update the master weights of ``name`` by ``dw x mult`` (weight LSBs) and return the INT8 copy the
        arrays get: the master rounded to the nearest INT8 code (half up), saturated.

        ``int16``: the master holds 2^8 steps per INT8 LSB (codes within +-127 x 2^8, an int16), the update
        stochastically rounded to that step; ``fp32``: the master is float32, the update not rounded."""
        if self.opts.master_copy == "int16":
            f = MASTER_FRACTION_BITS
            m = self.master.get(name)
            m = w.astype(np.int64) << f if m is None else m
            step = sr_fixed(dw, np.broadcast_to(mult[:, None] * 2.0 ** f, dw.shape), self.rng).reshape(w.shape)
            m = np.clip(m - step, -W_MAX << f, W_MAX << f)
            self.master[name] = m
            return np.clip((m + (1 << (f - 1))) >> f, -W_MAX, W_MAX)
        m32 = self.master.get(name)
        m32 = w.astype(np.float32) if m32 is None else m32
        m32 = np.clip(m32 - (dw * mult[:, None]).reshape(w.shape).astype(np.float32), -W_MAX, W_MAX)
        self.master[name] = m32
        return np.clip(np.floor(m32.astype(np.float64) + 0.5), -W_MAX, W_MAX).astype(np.int64)

    @staticmethod
    def _add(rec: StepRecord, node: str, phase: str, act: Activity) -> None:
        key = (node, phase)
        rec.activity[key] = rec.activity[key] + act if key in rec.activity else act

    # ------------------------------------------------------------------ one step
    def step(self, x: np.ndarray, labels: np.ndarray) -> StepRecord:
        qnet, graph = self.qnet, self.graph
        rec = StepRecord(0.0, [], {}, {})
        run = infer.run(qnet, infer.quantize_input(qnet, x), keep=True, toggle_rows=self.toggle_rows)
        t = run.tensors
        rec.toggles = {(name, "forward"): tog for name, tog in (run.toggles or {}).items()}
        for name, act in run.activity.items():
            rec.activity[(name, "forward")] = act
            node = graph[name]
            g, m, k, n = node.gemm_shape()
            rec.ops.append(ExecutedOp(name, "forward", "mvm", (g, m, k, n)))
        last = graph.nodes[-1].name
        logits = qnet.qparams[last].dequantize(t[last])
        rec.loss, e_out = backprop.softmax_xent(logits, labels)
        errs: dict[str, np.ndarray] = {last: e_out}
        for node in reversed(graph.nodes[self.floor:]):
            e = errs.pop(node.name, None)
            if e is None:
                continue
            op = qnet.ops[node.name]
            if op.kind == "array":
                d_in = self._array_backward(op, t, e, rec, need_input=self.rg[node.inputs[0]])
            elif op.kind == "alias":
                d_in = [e.reshape(t[node.inputs[0]].shape)]
            else:
                ins = [qnet.qparams[i].dequantize(t[i]) for i in node.inputs]
                d_in, _ = backprop.node_backward(node, ins, qnet.qparams[node.name].dequantize(t[node.name]), e, {})
            for name, d in zip(node.inputs, d_in):
                if d is not None and self.rg[name]:
                    errs[name] = errs[name] + d if name in errs else d
        return rec

    def _array_backward(self, op: QOp, t: dict[str, np.ndarray], e: np.ndarray, rec: StepRecord,
                        need_input: bool) -> list[np.ndarray | None]:
        node = op.node
        name = node.name
        q_out = t[name]
        if name != self.graph.nodes[-1].name:
            e = e * ((q_out > op.lo) & (q_out < op.hi))        # saturated outputs pass no error ...
        # ... except the logits: the loss reads them, and a logit stuck at a bound of the range calibrated on
        # task A would never get an error again (straight-through there, as the fp32 reference has no bound)
        # error in the units of the integer weights: e_c * s_w[c], one power-of-two scale
        chan = e.transpose(0, 2, 3, 1).reshape(-1, e.shape[1]) if e.ndim == 4 else e
        e_q, s_e = sr_quantize(chan * op.w_scale[None, :], self.rng, self.opts.error_bits)
        x = t[node.inputs[0]]
        m = len(chan) // len(x)                                # output positions per sample
        s_x = self.qnet.qparams[node.inputs[0]].scale
        d_in: list[np.ndarray | None] = [None]
        if need_input:
            # overlap-added in integers, then scaled: exact (integers far below 2^53, s_e a power of two), so the
            # same floats as scaling first, with one float pass instead of several
            dcols = self._transposed(op, e_q, rec, m)
            if node.op == "conv":
                a = node.attrs
                kh, kw = a["kernel"]
                dcols = backprop.col2im_rows(dcols, x.shape, kh, kw, a["stride"], a["padding"], a["dilation"])
            d_in = [dcols.astype(np.float64) * s_e]
        roles = self.parts.get(name, ())
        if "weight" in roles:
            dw = self._wgrad(op, self._cols(op, x), e_q, rec, m)
            # real gradient g = dw s_e s_x / s_w[c]; step in weight LSBs = lr g / s_w[c]
            mult = s_e * s_x * 2.0 ** -self.opts.lr_shift / op.w_scale ** 2
            old = op.w.copy()
            if self.opts.master_copy == "none":
                delta = sr_fixed(dw, np.broadcast_to(mult[:, None], dw.shape), self.rng).reshape(op.w.shape)
                op.w = np.clip(op.w - delta, -W_MAX, W_MAX)
            else:
                op.w = self._master_update(name, op.w, dw, mult)
            rec.updates[name] = (old, op.w.copy())
            rec.ops.append(ExecutedOp(name, "update", "write", None))
        if "bias" in roles:
            # bias in units of s_x s_w[c]; real gradient sum(e_c) = sum(e_q) s_e / s_w[c]
            db = e_q.sum(axis=0)
            mult = s_e * 2.0 ** -self.opts.lr_shift / (s_x * op.w_scale ** 2)
            op.bias = np.clip(op.bias - sr_fixed(db, mult, self.rng), -BIAS_MAX, BIAS_MAX)
        return d_in


# ---------------------------------------------------------------------------------------- fp32 side
def identity_norms(graph: Graph, folded: fp32.Params) -> fp32.Params:
    """Folded float params plus identity batch norms, so :func:`fp32.forward` runs the folded network."""
    out = {k: {r: v.copy() for r, v in p.items()} for k, p in folded.items()}
    for node in graph.by_op("norm"):
        c = node.in_shape[0]
        out[node.name] = {"scale": np.ones(c), "shift": np.zeros(c), "mean": np.zeros(c),
                          "var": np.full(c, 1.0 - fp32.BN_EPS)}
    return out


@dataclass
class Fp32Trainer:
    """Plain SGD of the same method on the folded float network (the reference)."""

    graph: Graph
    params: fp32.Params
    method: str
    lr: float
    step_: TrainingStep | None = None
    parts: dict[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.parts = trained_parts(self.step_ or method_step(self.graph, self.method))
        for name, roles in self.parts.items():
            if "bias" in roles and "bias" not in self.params[name]:
                self.params[name]["bias"] = np.zeros(self.params[name]["weight"].shape[0])

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        outs = fp32.forward(self.graph, self.params, x)
        loss, e = backprop.softmax_xent(outs[self.graph.nodes[-1].name], labels)
        grads = backprop.backward(self.graph, self.params, outs, e, set(self.parts))
        for name, roles in self.parts.items():
            for role in roles:
                self.params[name][role] = self.params[name][role] - self.lr * grads[name][role]
        return loss


def pretrain(graph: Graph, params: fp32.Params, images: np.ndarray, labels: np.ndarray, *, steps: int,
             batch: int, lr: float, seed: int, progress: Callable[[int], None] | None = None) -> fp32.Params:
    """fp32 SGD with momentum 0.9 of every conv/linear/batch-norm parameter (the backbone on task A)."""
    rng = np.random.default_rng([seed, 0xBB])
    trainable = {n.name for n in graph.nodes if n.op in ("conv", "linear", "norm")}
    vel = {n: {r: np.zeros_like(v) for r, v in params[n].items() if r in ("weight", "bias", "scale", "shift")}
           for n in trainable}
    for s in range(steps):
        idx = rng.integers(0, len(labels), batch)
        outs = fp32.forward(graph, params, images[idx])
        _, e = backprop.softmax_xent(outs[graph.nodes[-1].name], labels[idx])
        grads = backprop.backward(graph, params, outs, e, trainable)
        for n, gr in grads.items():
            for r, gv in gr.items():
                vel[n][r] = 0.9 * vel[n][r] - lr * gv
                params[n][r] = params[n][r] + vel[n][r]
        if progress:
            progress(s)
    return params


# ---------------------------------------------------------------------------------------- the scenario
def added_params(step: TrainingStep, backbone: fp32.Params, seed: int) -> tuple[fp32.Params, fp32.Params, list[str]]:
    """Float params of the executed graph: the backbone's, plus an initialisation of what the method added.

    Added modules start so that the network is the backbone: Rep-Net's code initialises a branch with
    He-normal convs and unit batch norms, then zeroes the final batch norm's weight [P5]; LoRA initialises
    A at random and B at zero [LORA] (A He-normal here). Returns (params, calibration params, zeroed): a
    zero weight (folded, a zero norm weight makes its conv's weights 0) gives no weight scale and no
    activation ranges to quantise with, so the network is calibrated with a stand-in (the norm weight at 1,
    B He-normal: the scales and ranges of a trained module), and the ``zeroed`` layers' INT8 codes are set
    to 0 after quantisation (A).
    """
    from imcsim.execute.weights import random_params

    init = random_params(step.graph, seed + 1)
    params = {k: {r: v.copy() for r, v in p.items()} for k, p in backbone.items()}
    calib = {k: dict(p) for k, p in params.items()}
    zeroed: list[str] = []
    folded = {bn: src for src, bn in folded_norms(step.graph).items()}
    for node in step.graph.nodes:
        if node.name in backbone or node.name not in init:
            continue
        p = init[node.name]
        if node.op == "norm":
            c = node.in_shape[0]
            p = {"scale": np.ones(c), "shift": np.zeros(c), "mean": np.zeros(c), "var": np.ones(c)}
            calib[node.name] = p
            if "repnet_branch" in node.tags and node.name.endswith(".final_bn"):
                p = dict(p, scale=np.zeros(c))
                zeroed.append(folded[node.name])
        else:
            calib[node.name] = p
            if "lora" in node.tags and node.name.endswith(".lora.B"):
                p = {r: np.zeros_like(v) for r, v in p.items()}
                zeroed.append(node.name)
        params[node.name] = p
    return params, calib, zeroed



TASK_SPLIT = 5   # task A: labels 0-4 (pre-training), task B: labels 5-9 (on-device)


@dataclass
class TrainRun:
    """Logged records, the measured activity summed over the run, and the stacked executed updates."""

    records: list[dict[str, float | int]]
    activity: dict[tuple[str, str], Activity]
    updates: dict[str, tuple[np.ndarray, np.ndarray]]
    ops: list[ExecutedOp]          # the executed ops of one step (they are the same every step)
    qnet: QNet
    source: str
    method_options: dict[str, object] = field(default_factory=dict)   # the validated options of the method
    toggles: dict[tuple[str, str], ToggleActivity] = field(default_factory=dict)   # forward, summed over steps


def _accuracy(qnet: QNet, images: np.ndarray, labels: np.ndarray) -> float:
    out = infer.run(qnet, infer.quantize_input(qnet, images)).output
    return float((out.argmax(axis=1) == labels).mean())


@contextmanager
def single_thread():
    """Run the kernels and numpy's BLAS on one thread: the digits network's layers are far too small for a
    parallel region to pay on a shared machine (measured: 60 ms CPU per training step on one thread,
    150-800 ms on two; BLAS threads spinning on a loaded machine made the fp32 reference 5x slower)."""
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(before)


def continual_learning(graph: Graph, dataset, opts: TrainOptions, *, steps: int, seed: int = 0, log_every: int = 20,
                       pretrain_steps: int = 300, toggle_rows: int | None = None) -> TrainRun:
    """Pre-train on task A in fp32, quantise, then train ``opts.method`` on task B in INT8 and in fp32
    (``toggle_rows``: also count the forward passes' adder-tree toggles, trees of that size)."""
    import copy

    from imcsim.execute.qnet import fold_params, quantize
    from imcsim.execute.session import fit_images
    from imcsim.execute.weights import random_params

    opts.check()
    if steps < 1:
        raise SpecError("<flags>", "--steps", steps, "an integer >= 1")
    if dataset.classes > graph.nodes[-1].out_shape[-1]:
        raise SpecError("<flags>", "--dataset", dataset.name,
                        f"labels below {graph.nodes[-1].out_shape[-1]} (the network's outputs)",
                        problem=f"{dataset.classes} classes do not fit the network:")
    step = method_step(graph, opts.method, dict(opts.method_options))  # a method the network cannot take
    # fails here, before its images are resized (ResNet-18: 1.5 GB and ~10 s of CPU)
    train, test = dataset.split(0.3, seed=seed)
    images_tr, images_te = fit_images(train.images, graph.input_shape), fit_images(test.images, graph.input_shape)
    a_tr, b_tr = train.labels < TASK_SPLIT, train.labels >= TASK_SPLIT
    a_te, b_te = test.labels < TASK_SPLIT, test.labels >= TASK_SPLIT
    if not (a_tr.any() and b_tr.any() and b_te.any() and a_te.any()):
        raise SpecError("<flags>", "--dataset", dataset.name, f"labels on both sides of {TASK_SPLIT} (tasks A and B)")
    params = pretrain(graph, random_params(graph, seed), images_tr[a_tr], train.labels[a_tr], steps=pretrain_steps,
                      batch=64, lr=0.05, seed=seed)
    source = f"pre-trained in fp32 on task A (labels 0-{TASK_SPLIT - 1}), {pretrain_steps} steps"
    graph = step.graph      # the network executed: the backbone plus what the method adds
    params, calib_params, zeroed = added_params(step, params, seed)
    if zeroed:
        source += f"; {opts.method} modules added with He-normal weights, their last layers ({len(zeroed)}) at zero"
    qnet = quantize(graph, calib_params, images_tr[a_tr][:64], weight_source=source)
    for name in zeroed:      # scales and ranges from the unit-gain stand-in, codes from the real (zero) start
        qnet.ops[name].w = np.zeros_like(qnet.ops[name].w)
    ref = Fp32Trainer(graph, identity_norms(graph, copy.deepcopy(fold_params(graph, params))), opts.method,
                      2.0 ** -opts.lr_shift, step)
    trainer = Int8Trainer(qnet, opts, seed, step, toggle_rows)
    rng = np.random.default_rng([seed, 0xB7])
    xb, yb = images_tr[b_tr], train.labels[b_tr]
    records: list[dict[str, float | int]] = []
    activity: dict[tuple[str, str], Activity] = {}
    toggles: dict[tuple[str, str], ToggleActivity] = {}
    olds: dict[str, list[np.ndarray]] = {}
    news: dict[str, list[np.ndarray]] = {}
    losses: list[float] = []
    ref_losses: list[float] = []
    ops: list[ExecutedOp] = []

    def log(step: int) -> None:
        out = fp32.forward(graph, ref.params, images_te)[graph.nodes[-1].name]
        records.append({
            "step": step,
            "loss": round(float(np.mean(losses)), 6) if losses else None,
            "fp32_loss": round(float(np.mean(ref_losses)), 6) if ref_losses else None,
            "accuracy": round(_accuracy(qnet, images_te[b_te], test.labels[b_te]), 6),
            "fp32_accuracy": round(float((out[b_te].argmax(1) == test.labels[b_te]).mean()), 6),
            "accuracy_task_a": round(_accuracy(qnet, images_te[a_te], test.labels[a_te]), 6),
            "fp32_accuracy_task_a": round(float((out[a_te].argmax(1) == test.labels[a_te]).mean()), 6),
        })
        losses.clear()
        ref_losses.clear()

    log(0)
    for s in range(1, steps + 1):
        idx = rng.integers(0, len(yb), opts.batch)
        rec = trainer.step(xb[idx], yb[idx])
        ref_losses.append(ref.step(xb[idx], yb[idx]))
        losses.append(rec.loss)
        ops = rec.ops
        for k, a in rec.activity.items():
            activity[k] = activity[k] + a if k in activity else a
        for k, tg in rec.toggles.items():
            toggles[k] = toggles[k] + tg if k in toggles else tg
        for n, (o, w) in rec.updates.items():
            olds.setdefault(n, []).append(o)
            news.setdefault(n, []).append(w)
        if s % log_every == 0 or s == steps:
            log(s)
    updates = {n: (np.stack(olds[n]), np.stack(news[n])) for n in olds}
    source = (f"{qnet.weight_source}; INT8 {opts.method} on task B (labels {TASK_SPLIT}-9), {steps} steps of "
              f"{opts.batch} {dataset.name} images, seed {seed}")
    return TrainRun(records, activity, updates, ops, qnet, source, dict(step.options), toggles)
