"""TrainingStep: what one training (or inference) step makes the hardware do, per sample.

A method transform (:mod:`imcsim.workload.methods`) turns a layer :class:`~imcsim.workload.graph.Graph`
into a :class:`TrainingStep`. The step is the contract the mapper and the engines consume, so it says
everything they must price and nothing about hardware:

- the ops of the four phases (``forward``, ``backward_error``, ``weight_gradient``, ``update``) with
  their GEMM shapes ``(groups, M, K, N)`` and MACs per sample;
- which ops are array MVMs (weights stationary in an IMC array), digital GEMMs (activation x
  activation, weight gradients, LoRAFusion mixing) or vector ops (norms, bias gradients, elementwise);
- the tensors kept from forward for backward and their form (fp32 value, 1-bit mask, patch sums);
- every parameter group, trainable or frozen, and where it lives (IMC arrays or SRAM/registers);
- the weights written into IMC arrays at each update (``write`` ops).

The step holds data only; the memory convention that turns it into megabytes lives in
:mod:`imcsim.workload.accounting`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from imcsim.workload.graph import Graph

PHASES = ("forward", "backward_error", "weight_gradient", "update")
OP_KINDS = ("mvm", "gemm", "vector", "write")
STORED_FORMS = ("fp32", "mask1", "patch_sum", "kernel_sum", "int8")
#: Parameter roles the methods use; graph nodes may carry others (``param`` / ``rel_pos_bias`` tensors).
PARAM_ROLES = ("weight", "bias", "scale", "shift", "coeff", "magnitude")
LOCATIONS = ("imc", "sram")

#: Bytes per stored element of each form ("mask1" is one bit per element).
FORM_BITS = {"fp32": 32, "mask1": 1, "patch_sum": 32, "kernel_sum": 32, "int8": 8}


def stored_nbytes(elems: int, form: str) -> int:
    """Bytes of ``elems`` values kept in ``form`` (masks round up to whole bytes)."""
    bits = FORM_BITS[form] * elems
    return (bits + 7) // 8


@dataclass(frozen=True)
class StepOp:
    """One operation of one training step, for ONE sample unless ``batch_shared``.

    ``kind``: ``mvm`` (weights stationary in an array: conv/linear forward and backward error),
    ``gemm`` (digital GEMM: weight gradients, attention matmuls, LoRAFusion mixing), ``vector``
    (elementwise / norm / pool / bias-gradient / optimizer work; ``macs`` counts element ops) or
    ``write`` (weights written into IMC arrays, phase ``update``).
    ``location`` says which memory holds the weights of an ``mvm`` or ``write``: ``imc`` (the device
    arrays) or ``sram`` (the Hyb-Learn split puts re-trained weights in SRAM arrays).
    """

    name: str
    node: str
    phase: str
    kind: str
    gemm: tuple[int, int, int, int] | None
    macs: int
    weights: int = 0
    transposed: bool = False
    batch_shared: bool = False
    location: str = "imc"

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"op {self.name}: phase {self.phase!r}; allowed: {', '.join(PHASES)}")
        if self.kind not in OP_KINDS:
            raise ValueError(f"op {self.name}: kind {self.kind!r}; allowed: {', '.join(OP_KINDS)}")
        if self.kind in ("mvm", "gemm") and self.gemm is None:
            raise ValueError(f"op {self.name}: {self.kind} needs a gemm shape")
        if self.location not in LOCATIONS:
            raise ValueError(f"op {self.name}: location {self.location!r}")


@dataclass(frozen=True)
class StoredTensor:
    """A tensor kept from forward for backward: ``elems`` values per sample in ``form``."""

    node: str
    elems: int
    form: str
    nbytes: int
    what: str = "input"  # "input", "output", "mask", "patch-summed input", "kernel sum", ...

    def __post_init__(self) -> None:
        if self.form not in STORED_FORMS:
            raise ValueError(f"stored {self.node}: form {self.form!r}; allowed: {', '.join(STORED_FORMS)}")


@dataclass(frozen=True)
class ParamGroup:
    """Parameters of one role of one node.

    ``location``: ``imc`` for conv/linear weight matrices held in IMC arrays, ``sram`` for vector
    parameters (biases, norm scale/shift, LoRAFusion coefficients, DoRA magnitudes) and for
    re-trained weights under ``trained_weights_in=sram``. ``bits``: storage width where they live
    (8 for INT8 weights in arrays, 32 for fp32 parameters in SRAM).
    ``written_fraction``: the fraction of the group rewritten in the arrays at each update (sparse
    update trains a fraction of the output channels); 1.0 otherwise.
    """

    node: str
    role: str
    count: int
    trainable: bool
    location: str
    bits: int
    written_fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.location not in LOCATIONS:
            raise ValueError(f"param {self.node}: location {self.location!r}")

    @property
    def trained_count(self) -> int:
        """Parameters that receive a gradient (a channel fraction for sparse update)."""
        return round(self.count * self.written_fraction) if self.trainable else 0


@dataclass(frozen=True)
class TrainingStep:
    """One step of a method on a graph. ``graph`` includes nodes the method added (adapters)."""

    method: str
    graph: Graph
    ops: tuple[StepOp, ...]
    stored: tuple[StoredTensor, ...]
    params: tuple[ParamGroup, ...]
    notes: tuple[str, ...] = ()
    #: the lowest (first in forward order) node the error must reach, or None without backward
    error_floor: str | None = None
    #: True when any backward pass runs (the profiler's ``require_backward``)
    require_backward: bool = False
    #: the memory convention of the method's paper: "tinytl" (the TinyTL / Rep-Net profiler),
    #: "gradient-filter" (stored conv input only, KiB) or "sparse-update" (256KB paper)
    convention: str = "tinytl"
    options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ derived
    @cached_property  # the step is frozen; every priced point reads it
    def trainable_params(self) -> int:
        return sum(p.trained_count for p in self.params)

    @property
    def frozen_params(self) -> int:
        return sum(p.count - p.trained_count for p in self.params)

    @property
    def imc_weights_written(self) -> int:
        """Weights written into IMC arrays at each update (sum of ``write`` ops)."""
        return sum(op.weights for op in self.ops if op.kind == "write" and op.location == "imc")

    @property
    def imc_bits_written(self) -> int:
        """Bits rewritten in IMC arrays per update when every bit of an updated weight is written."""
        bits = {p.node: p.bits for p in self.params if p.role == "weight"}
        return sum(op.weights * bits.get(op.node, 8) for op in self.ops
                   if op.kind == "write" and op.location == "imc")

    def ops_by_phase(self, phase: str) -> list[StepOp]:
        if phase not in PHASES:
            raise ValueError(f"phase {phase!r}; allowed: {', '.join(PHASES)}")
        return [op for op in self.ops if op.phase == phase]

    def macs_by_phase(self) -> dict[str, int]:
        """MACs per sample of each phase (mvm + gemm ops; batch-shared ops counted once)."""
        out = {p: 0 for p in PHASES}
        for op in self.ops:
            if op.kind in ("mvm", "gemm"):
                out[op.phase] += op.macs
        return out

    @property
    def stored_bytes(self) -> int:
        """Bytes per sample of everything kept for backward (no peak, no temporaries)."""
        return sum(t.nbytes for t in self.stored)

    def trainable_by_node(self) -> dict[str, set[str]]:
        """Node -> roles that are trained."""
        out: dict[str, set[str]] = {}
        for p in self.params:
            if p.trainable:
                out.setdefault(p.node, set()).add(p.role)
        return out
