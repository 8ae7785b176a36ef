"""Turning "these parameters are trained" into a TrainingStep: ops, stored tensors, param groups.

Every method decides only *what is trainable* (and, for some, what it adds to the graph or stores
differently); this module derives the rest the same way for all of them, with autograd semantics:
a node's output needs a gradient when the node has trained parameters or any input needs one, so
the error travels down exactly to the lowest trained node (``error_floor``) and no further.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from imcsim.errors import SpecError
from imcsim.workload.accounting import profiler_saved
from imcsim.workload.graph import Graph, Node
from imcsim.workload.step import ParamGroup, StepOp, StoredTensor, TrainingStep

Trainable = dict[str, set[str]]
#: (node, phase) -> ops that replace the default ops of that node in that phase
OpOverride = Callable[[Node, str, list[StepOp]], list[StepOp]]

WEIGHT_BITS_IMC = 8  # INT8 weights in the arrays
FP32_BITS = 32


def spec_error(method: str, graph: Graph, missing: str) -> SpecError:
    """One line naming the method, the workload and what is missing."""
    return SpecError(None, "method", None, problem=f"{method!r} cannot apply to workload {graph.name!r}: {missing}")


def classifier(graph: Graph) -> Node:
    """The final classifier: the node tagged ``classifier``, else the last linear node."""
    tagged = [n for n in graph if "classifier" in n.tags]
    if tagged:
        return tagged[-1]
    linears = graph.by_op("linear")
    if not linears:
        raise spec_error("last", graph, "no classifier (no linear node and none tagged 'classifier')")
    return linears[-1]


def add_roles(trainable: Trainable, node: str, *roles: str) -> None:
    trainable.setdefault(node, set()).update(roles)


def requires_grad(graph: Graph, trainable: Mapping[str, set[str]]) -> dict[str, bool]:
    rg: dict[str, bool] = {"input": False}
    for n in graph:
        rg[n.name] = bool(trainable.get(n.name)) or any(rg.get(i, False) for i in n.inputs)
    return rg


def forward_op(node: Node, location: str = "imc") -> StepOp:
    if node.op in ("conv", "linear"):
        return StepOp(f"{node.name}:fwd", node.name, "forward", "mvm", node.gemm_shape(), node.macs,
                      weights=node.params.get("weight", 0), location=location)
    if node.op == "matmul":
        a = node.attrs
        return StepOp(f"{node.name}:fwd", node.name, "forward", "gemm", (a["heads"], a["m"], a["k"], a["n"]),
                      node.macs)
    return StepOp(f"{node.name}:fwd", node.name, "forward", "vector", None, node.out_elems)


def backward_error_op(node: Node, location: str = "imc") -> StepOp:
    """Error through ``node``: the transposed array MVM for conv/linear (dX = dY . W^T has the
    forward's MACs), both operand gradients for a matmul, an elementwise op otherwise."""
    name = f"{node.name}:bwd_err"
    if node.op in ("conv", "linear"):
        g, m, k, n = node.gemm_shape()
        return StepOp(name, node.name, "backward_error", "mvm", (g, m, n, k), node.macs,
                      weights=node.params.get("weight", 0), transposed=True, location=location)
    if node.op == "matmul":
        a = node.attrs
        return StepOp(name, node.name, "backward_error", "gemm", (a["heads"], a["m"], a["k"], a["n"]), 2 * node.macs)
    return StepOp(name, node.name, "backward_error", "vector", None, node.in_elems)


def weight_gradient_ops(node: Node, roles: Iterable[str], fraction: float = 1.0) -> list[StepOp]:
    """dW = X^T . dY as a digital GEMM (groups, K, M, N) for conv/linear weights; vector reductions
    for biases (sum of dY), norm scales (sum of x_hat * dY) and other vector parameters."""
    ops = []
    for role in sorted(roles):
        name = f"{node.name}:wgrad:{role}"
        if role == "weight" and node.op in ("conv", "linear"):
            g, m, k, n = node.gemm_shape()
            n_eff = max(1, round(n * fraction))
            ops.append(StepOp(name, node.name, "weight_gradient", "gemm", (g, k, m, n_eff), g * k * m * n_eff))
        else:
            elems = node.in_elems if role == "scale" else node.out_elems
            ops.append(StepOp(name, node.name, "weight_gradient", "vector", None, elems))
    return ops


def param_groups(graph: Graph, trainable: Mapping[str, set[str]], trained_weights_in: str,
                 written_fraction: Mapping[str, float] | None = None) -> list[ParamGroup]:
    """Every parameter of the graph, trainable or frozen, and where it lives.

    Conv/linear weight matrices live in IMC arrays (INT8); a trained one moves to SRAM under
    ``trained_weights_in="sram"`` (Hyb-Learn). Vector parameters (biases, norms, coefficients,
    magnitudes) and embedding tables live in SRAM/registers: no array writes (reference section 2).
    """
    written_fraction = written_fraction or {}
    out = []
    for n in graph:
        roles = trainable.get(n.name, set())
        for role, count in n.params.items():
            trained = role in roles
            in_array = role == "weight" and n.op in ("conv", "linear")
            location = "imc" if in_array and not (trained and trained_weights_in == "sram") else "sram"
            bits = WEIGHT_BITS_IMC if location == "imc" else (FP32_BITS if trained else WEIGHT_BITS_IMC)
            frac = written_fraction.get(n.name, 1.0) if (trained and role == "weight") else 1.0
            out.append(ParamGroup(n.name, role, count, trained, location, bits, frac))
    return out


def build_step(method: str, graph: Graph, trainable: Trainable, *, options: Mapping[str, Any],
               notes: Iterable[str] = (), require_backward: bool | None = None,
               stored: list[StoredTensor] | None = None, trained_weights_in: str = "imc",
               convention: str = "tinytl", written_fraction: Mapping[str, float] | None = None,
               override: OpOverride | None = None) -> TrainingStep:
    """Derive the TrainingStep of ``method`` from its trainable set (see module docstring)."""
    for name in trainable:
        if name not in graph:
            raise ValueError(f"{method}: trainable node {name!r} not in graph {graph.name}")
    written_fraction = written_fraction or {}
    rg = requires_grad(graph, trainable)
    on_path = {n.name: any(rg.get(i, False) for i in n.inputs) for n in graph}
    if require_backward is None:
        require_backward = any(on_path.values())

    def loc(node: Node) -> str:
        trained_w = "weight" in trainable.get(node.name, set())
        return "sram" if trained_w and trained_weights_in == "sram" else "imc"

    def emit(node: Node, phase: str, default: list[StepOp]) -> list[StepOp]:
        return override(node, phase, default) if override else default

    ops: list[StepOp] = []
    for n in graph:
        ops += emit(n, "forward", [forward_op(n, loc(n))])
    for n in reversed(graph.nodes):
        bwd: list[StepOp] = []
        if on_path[n.name]:
            bwd.append(backward_error_op(n, loc(n)))
        ops += emit(n, "backward_error", bwd)
        roles = trainable.get(n.name, set())
        ops += emit(n, "weight_gradient", weight_gradient_ops(n, roles, written_fraction.get(n.name, 1.0)))
    groups = param_groups(graph, trainable, trained_weights_in, written_fraction)
    for p in groups:
        if not p.trainable:
            continue
        node = graph[p.node]
        upd: list[StepOp] = [StepOp(f"{p.node}:opt:{p.role}", p.node, "update", "vector", None, p.trained_count,
                                    batch_shared=True)]
        if p.role == "weight" and node.op in ("conv", "linear"):
            upd.append(StepOp(f"{p.node}:write", p.node, "update", "write", None, 0, weights=p.trained_count,
                              batch_shared=True, location=p.location))
        ops += emit(node, "update", upd)
    if stored is None:
        stored = []
        for n in graph:
            stored += profiler_saved(n, trainable.get(n.name, set()), require_backward, on_path[n.name])
    floor = next((n.name for n in graph if trainable.get(n.name)), None)
    return TrainingStep(method=method, graph=graph, ops=tuple(ops), stored=tuple(stored), params=tuple(groups),
                        notes=tuple(notes), error_floor=floor, require_backward=bool(require_backward),
                        convention=convention, options=dict(options))
