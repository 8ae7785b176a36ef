"""Memory and parameter accounting of a TrainingStep, by the conventions of the papers compared.

Default convention ("tinytl"): the analytic profiler of TinyTL, also shipped by Rep-Net
(mit-han-lab/tinyml ``tinytl/tinytl/utils/memory_cost_profiler.py`` and ASU-ESIC-FAN-Lab/RepNet
``repnet/utils/memory_cost_profiler.py`` [P]; [TINYTL], [P5]):

- ``Mem = B * A_peak + P_bytes``; MB = 1e6 bytes.
- ``P_bytes = 4 * trainable + 1 * frozen`` (parameters only; BN running statistics are buffers).
- Saved for backward, accumulated in forward order (:func:`profiler_saved`): conv/linear with a
  trainable weight 4|x|; BN/GN with a trainable scale 4|x|; ReLU/ReLU6 a 1-bit mask (|x|/8 bytes)
  whenever any backward runs; sigmoid/h-swish/h-sigmoid 4|x| likewise; bias-only layers nothing.
- Peak (:func:`activation_walk`): before each leaf op, ``tmp(op) + saved_so_far + residual``.

Two other conventions are kept because their papers report in them: gradient filtering (stored conv
input only, fp32, KiB; reference section 8) and the 256KB sparse update (saved activations + binary
truncation mask + updated weights; section 9). Each quirk is documented where it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from imcsim.workload.graph import Graph, Node
from imcsim.workload.step import FORM_BITS, StoredTensor, TrainingStep, stored_nbytes

MB = 1_000_000
KIB = 1024
ACT_BYTES = 4  # activations are fp32 in the convention
TRAINABLE_PARAM_BYTES = 4  # --trainable_param_bits 32
FROZEN_PARAM_BYTES = 1  # --frozen_param_bits 8

#: Activation kinds the profiler recognises: ReLU-like (1-bit mask) and "smooth" (fp32 input).
MASK_ACTS = ("relu", "relu6")
SMOOTH_ACTS = ("sigmoid", "hswish", "hsigmoid")
#: The profiler knows BN and GN only; LayerNorm/RMSNorm and GELU/softmax/matmul are imcsim extensions
#: (transformers are outside the profiler's scope): fp32 input stored when the error passes through.
PROFILER_NORMS = ("bn", "gn")
#: Ops the profiler visits as leaf modules. Functional ops (add, mul, concat, flatten, reshape and
#: F.upsample) are not modules in the reference code and take no part in the peak.
LEAF_OPS = ("conv", "linear", "norm", "act", "pool", "global_pool", "dropout", "matmul", "embedding")


# ---------------------------------------------------------------------------------------- saved tensors
def profiler_saved(node: Node, trained_roles: set[str], require_backward: bool,
                   on_error_path: bool) -> list[StoredTensor]:
    """What the profiler convention keeps from ``node`` for backward (per sample).

    ``trained_roles``: roles of ``node`` that are trained; ``require_backward``: any backward pass
    runs (the profiler stores ReLU masks and smooth-activation inputs of EVERY such layer then, even
    below the lowest trained layer: a quirk of the convention, kept); ``on_error_path``: the error
    passes through ``node`` (used only by the transformer extensions).
    """
    x = node.in_elems
    out: list[StoredTensor] = []
    if node.op in ("conv", "linear") and "weight" in trained_roles:
        out.append(StoredTensor(node.name, x, "fp32", stored_nbytes(x, "fp32"), "input"))
    elif node.op == "norm":
        kind = node.attrs.get("kind")
        if kind in PROFILER_NORMS:
            if "scale" in trained_roles:
                out.append(StoredTensor(node.name, x, "fp32", stored_nbytes(x, "fp32"), "input"))
        elif on_error_path or "scale" in trained_roles:
            # extension (LN/RMS): the normalised input is needed to pass the error back [D]
            out.append(StoredTensor(node.name, x, "fp32", stored_nbytes(x, "fp32"), "input"))
    elif node.op == "act":
        kind = node.attrs.get("kind")
        if kind in MASK_ACTS:
            if require_backward:
                out.append(StoredTensor(node.name, x, "mask1", stored_nbytes(x, "mask1"), "mask"))
        elif kind in SMOOTH_ACTS:
            if require_backward:
                out.append(StoredTensor(node.name, x, "fp32", stored_nbytes(x, "fp32"), "input"))
        elif on_error_path:
            # extension: GELU/swish need their input, softmax its output (same size) [D]
            out.append(StoredTensor(node.name, x, "fp32", stored_nbytes(x, "fp32"),
                                    "output" if kind == "softmax" else "input"))
    elif node.op == "matmul" and on_error_path:
        # extension: the gradient of a x b needs both operands [D]
        out.append(StoredTensor(node.name, x, "fp32", stored_nbytes(x, "fp32"), "input a"))
        other = _matmul_b_elems(node)
        out.append(StoredTensor(node.name, other, "fp32", stored_nbytes(other, "fp32"), "input b"))
    return out


def _matmul_b_elems(node: Node) -> int:
    a = node.attrs
    # qk: b is (S, D) = heads*n*k per head ... (S, heads*k); av: b is (S, D) = k * heads*n
    if a["kind"] == "qk":
        return a["n"] * a["k"] * a["heads"]
    return a["k"] * a["n"] * a["heads"]


# ---------------------------------------------------------------------------------------- peak walk
@dataclass(frozen=True)
class WalkRow:
    """One leaf op of the profiler walk (bytes per sample)."""

    node: str
    tmp_bytes: float
    saved_before_bytes: float
    residual_bytes: float
    saved_here_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.tmp_bytes + self.saved_before_bytes + self.residual_bytes


def tmp_bytes(node: Node, elems_in: int | None = None) -> float:
    """Temporary inference footprint of a leaf op (section 1.2).

    conv: ``4|x| + floor(4|y| / groups)`` -- the division by groups is a quirk of the profiler code
    (``y.numel() * act_byte // m.groups``), kept to reproduce the published numbers.
    """
    x = node.in_elems if elems_in is None else elems_in
    if node.op == "conv":
        return ACT_BYTES * x + (ACT_BYTES * node.out_elems) // node.attrs["groups"]
    if node.op == "linear":
        return ACT_BYTES * (x + node.out_elems)
    if node.op in ("norm", "act"):
        return ACT_BYTES * x
    if node.op == "matmul":  # extension [D]: both operands and the product
        return ACT_BYTES * (x + _matmul_b_elems(node) + node.out_elems)
    return 0.0  # pool, global pool, dropout, embedding: visited, nothing temporary


def _torchvision_shared_act_elems(graph: Graph) -> dict[str, int]:
    """Quirk: torchvision BasicBlock/Bottleneck call ONE ``self.relu`` module 2 or 3 times.

    The profiler's forward hook overwrites the module's sizes at each call, so every call is
    counted with the size of the LAST call (the post-add ReLU, block output size). Applied to the
    ReLUs of blocks of kind ``basic``/``bottleneck`` (the zoo's torchvision ResNets).
    """
    out: dict[str, int] = {}
    for blk in graph.blocks.values():
        if blk.kind not in ("basic", "bottleneck"):
            continue
        acts = [graph[n] for n in blk.nodes if n in graph and graph[n].op == "act" and graph[n].block == blk.name]
        if acts:
            last = acts[-1].in_elems
            for a in acts:
                out[a.name] = last
    return out


def _residual_bytes(graph: Graph, node: Node) -> float:
    """4|block input| while inside a block with a shortcut (section 1.2).

    The profiler sets it for OFA ResidualBlocks with a shortcut, torchvision InvertedResidual with
    ``use_res_connect`` and EVERY torchvision BasicBlock/Bottleneck -- including those with a
    downsample projection -- so any block whose ``shortcut`` is not None counts here.
    """
    name = node.block
    while name is not None and name in graph.blocks:
        blk = graph.blocks[name]
        if blk.shortcut is not None:
            return float(ACT_BYTES * prod(graph.shape_of(blk.input)))
        name = blk.parent
    return 0.0


def activation_walk(step: TrainingStep) -> list[WalkRow]:
    """The profiler walk over the leaf ops of ``step.graph`` in forward order."""
    graph = step.graph
    saved_by_node: dict[str, float] = {}
    for t in step.stored:
        saved_by_node[t.node] = saved_by_node.get(t.node, 0.0) + t.elems * FORM_BITS[t.form] / 8
    shared = _torchvision_shared_act_elems(graph)
    rows: list[WalkRow] = []
    saved = 0.0
    for node in graph:
        if node.op not in LEAF_OPS:
            # functional ops: no peak check, but anything stored there still accumulates
            saved += saved_by_node.get(node.name, 0.0)
            continue
        here = saved_by_node.get(node.name, 0.0)
        elems_in = None
        if node.name in shared and node.in_elems:
            elems_in = shared[node.name]
            here = here * elems_in / node.in_elems
        rows.append(WalkRow(node.name, float(tmp_bytes(node, elems_in)), saved, _residual_bytes(graph, node), here))
        saved += here
    return rows


def peak_activation_bytes(step: TrainingStep) -> float:
    """A_peak per sample: the maximum of ``tmp + saved_so_far + residual`` over the walk."""
    rows = activation_walk(step)
    return max((r.total_bytes for r in rows), default=0.0)


# ---------------------------------------------------------------------------------------- totals
def param_bytes(step: TrainingStep) -> int:
    """``4 * trainable + 1 * frozen`` (section 1.1)."""
    return TRAINABLE_PARAM_BYTES * step.trainable_params + FROZEN_PARAM_BYTES * step.frozen_params


def gradient_filter_memory_bytes(step: TrainingStep) -> int:
    """Gradient filtering's convention (reference section 8): stored conv input x only, fp32.

    With patch size r > 1 the stored input is the patch-summed x~; r = 1 is vanilla BP (full x).
    The spatially summed kernel theta~ is not counted ("we only consider the memory for input x").
    """
    return sum(t.nbytes for t in step.stored if t.form == "patch_sum" or (t.form == "fp32" and t.what == "input"))


def sparse_update_memory_bytes(step: TrainingStep) -> int:
    """The 256KB paper's analytic memory (reference section 9): saved activations + binary
    truncation masks + the extra copy of the updated weights (all recorded as stored tensors)."""
    return sum(t.nbytes for t in step.stored)


@dataclass(frozen=True)
class MemoryReport:
    """Memory, parameters and array writes of one step at one batch size."""

    method: str
    workload: str
    batch: int
    trainable_params: int
    frozen_params: int
    param_bytes: int
    peak_activation_bytes: float
    imc_weights_written: int
    imc_bits_written: int
    convention: str
    convention_memory_bytes: float | None = None

    @property
    def total_bytes(self) -> float:
        return self.batch * self.peak_activation_bytes + self.param_bytes

    def record(self) -> dict[str, object]:
        """Unit-suffixed record for ``emit``."""
        rec: dict[str, object] = {
            "workload": self.workload,
            "method": self.method,
            "batch": self.batch,
            "trainable_params": self.trainable_params,
            "param_mb": round(self.param_bytes / MB, 4),
            "peak_activation_mb": round(self.peak_activation_bytes / MB, 4),
            "total_mb": round(self.total_bytes / MB, 4),
            "imc_weights_written_per_step": self.imc_weights_written,
            "imc_bits_written_per_step": self.imc_bits_written,
            "convention": self.convention,
        }
        if self.convention == "gradient-filter" and self.convention_memory_bytes is not None:
            rec["stored_x_kib"] = round(self.convention_memory_bytes / KIB, 2)
        if self.convention == "sparse-update" and self.convention_memory_bytes is not None:
            rec["sparse_update_kb"] = round(self.convention_memory_bytes / 1000, 2)
        return rec


def memory_report(step: TrainingStep, batch: int = 1, workload: str | None = None) -> MemoryReport:
    """Everything the ``imcsim memory`` command prints for one method."""
    conv_mem: float | None = None
    if step.convention == "gradient-filter":
        conv_mem = float(gradient_filter_memory_bytes(step))
    elif step.convention == "sparse-update":
        conv_mem = float(sparse_update_memory_bytes(step))
    return MemoryReport(step.method, workload or step.graph.name, batch, step.trainable_params,
                        step.frozen_params, param_bytes(step), peak_activation_bytes(step),
                        step.imc_weights_written, step.imc_bits_written, step.convention, conv_mem)
