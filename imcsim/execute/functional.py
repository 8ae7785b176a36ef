"""Run the conv/linear layers of an IR graph through the bit-serial kernels, optionally checked.

This is the functional path's driver (``imcsim verify`` and the benchmark use it): for every weight
node of a :class:`~imcsim.workload.graph.Graph` it generates INT data of the node's per-sample
``in_shape`` (times the batch) and weights of the node's shape, runs
:func:`imcsim.circuit.bitserial.conv2d` / ``linear``, and, when asked, the numpy reference, and
records the maximum absolute difference, the :class:`Activity` and the times.

Layers are independent: each gets its own generated input (seeded by ``(seed, layer index in the
graph)``, so ``--layer NAME`` sees the same data as a whole-network run); activations are not
propagated through norms, pools and residual adds. Data are uniform over the declared range.

Signedness rule: a layer's input is **unsigned** (0 .. 2^Bi - 1) when its producer is a
non-negative activation (``relu``, ``relu6``, ``hsigmoid``, ``sigmoid``, ``softmax``), looking
through ops that keep values non-negative (``pool``, ``global_pool``, ``flatten``, ``dropout``,
``upsample``, and ``add`` / ``mul`` / ``concat`` when all their inputs are non-negative). Everything
else (the graph input, norms, ``hswish``, ``gelu``, ``swish``, linear outputs) is **signed** two's
complement. Weights are always signed.

The kernels do not import the workload package; only this driver (in :mod:`imcsim.execute`, above
both) reads graph nodes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from imcsim.circuit import bitserial
from imcsim.circuit.activity import Activity
from imcsim.circuit.reference import conv2d_ref, linear_ref
from imcsim.errors import SpecError
from imcsim.workload.graph import Graph, Node

#: Activations whose output is never negative (so the next layer's inputs are unsigned).
NONNEGATIVE_ACTS = frozenset({"relu", "relu6", "hsigmoid", "sigmoid", "softmax"})
_PASS_THROUGH = frozenset({"pool", "global_pool", "flatten", "dropout", "upsample"})
_ALL_INPUTS = frozenset({"add", "mul", "concat"})


def produces_nonnegative(graph: Graph, name: str) -> bool:
    """True when the output of node ``name`` is non-negative by construction (see module docstring)."""
    if name == "input":
        return False
    node = graph[name]
    if node.op == "act":
        return node.attrs.get("kind") in NONNEGATIVE_ACTS
    if node.op in _PASS_THROUGH:
        return produces_nonnegative(graph, node.inputs[0])
    if node.op in _ALL_INPUTS:
        return all(produces_nonnegative(graph, i) for i in node.inputs)
    return False


def input_is_signed(graph: Graph, node: Node) -> bool:
    """Whether ``node``'s input is generated as signed (the rule of the module docstring)."""
    return not produces_nonnegative(graph, node.inputs[0])


@dataclass(frozen=True)
class LayerRun:
    """One layer's functional run: shapes, work, activity, times and (if checked) the error."""

    name: str
    op: str
    gemm: tuple[int, int, int, int]     # (groups, M, K, N) per sample
    batch: int
    in_signed: bool
    macs: int                           # for the whole batch
    activity: Activity
    kernel_ms: float                    # conversion, packing, bit-serial GEMM and activity
    reference_ms: float | None          # None when not checked
    max_abs_error: int | None           # None when not checked

    @property
    def matches(self) -> bool:
        return self.max_abs_error == 0

    def record(self) -> dict[str, object]:
        """A flat, unit-suffixed dict for tables (``emit``)."""
        g, m, k, n = self.gemm
        return {
            "layer": self.name, "op": self.op, "groups": g, "m": m, "k": k, "n": n, "batch": self.batch,
            "input": "signed" if self.in_signed else "unsigned", "macs": self.macs,
            "max_abs_error": self.max_abs_error,
            "input_bit_density": round(self.activity.mean_input_density, 4),
            "and_density": round(self.activity.mean_and_density, 4),
            "kernel_ms": round(self.kernel_ms, 3),
            "reference_ms": None if self.reference_ms is None else round(self.reference_ms, 3),
        }


def layer_data(node: Node, batch: int, rng: np.random.Generator, in_bits: int = 8, w_bits: int = 8,
               in_signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random input (batch, *in_shape) and weights of ``node``, within the declared widths."""
    a = node.attrs
    if node.op == "conv":
        kh, kw = a["kernel"]
        w_shape: tuple[int, ...] = (a["out_ch"], a["in_ch"] // a["groups"], kh, kw)
    elif node.op == "linear":
        w_shape = (a["out_features"], a["in_features"])
    else:
        raise SpecError(None, "layer", node.name, "a conv or linear layer", problem=f"op {node.op!r} has no weights:")
    lo, hi = bitserial.value_range(in_bits, in_signed)
    x = rng.integers(lo, hi + 1, (batch, *node.in_shape), dtype=np.int16)
    wlo, whi = bitserial.value_range(w_bits, True)
    w = rng.integers(wlo, whi + 1, w_shape, dtype=np.int16)
    return x, w


def run_layer(node: Node, x: np.ndarray, w: np.ndarray, in_bits: int = 8, w_bits: int = 8,
              in_signed: bool = True) -> tuple[np.ndarray, Activity]:
    """Run one conv/linear node through the bit-serial kernel with the node's attributes."""
    a = node.attrs
    if node.op == "conv":
        return bitserial.conv2d(x, w, a["stride"], a["padding"], a["dilation"], a["groups"], in_bits, w_bits,
                                in_signed)
    return bitserial.linear(x, w, in_bits, w_bits, in_signed)


def reference_layer(node: Node, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    a = node.attrs
    if node.op == "conv":
        return conv2d_ref(x, w, a["stride"], a["padding"], a["dilation"], a["groups"])
    return linear_ref(x, w)


def select_layers(graph: Graph, names: Iterable[str] | None = None) -> list[Node]:
    """The graph's weight nodes, or the named ones (unknown names are a SpecError)."""
    nodes = graph.weight_nodes()
    if names is None:
        return nodes
    by_name = {n.name: n for n in nodes}
    chosen = []
    for name in names:
        if name not in by_name:
            shown = ", ".join(list(by_name)[:8]) + (", ..." if len(by_name) > 8 else "")
            raise SpecError("<flags>", "layer", name, f"a conv/linear layer of {graph.name}: {shown}",
                            problem="unknown layer")
        chosen.append(by_name[name])
    return chosen


def run_graph(graph: Graph, *, batch: int = 1, seed: int = 0, layers: Iterable[str] | None = None,
              in_bits: int = 8, w_bits: int = 8, check: bool = True) -> list[LayerRun]:
    """Run (and with ``check`` compare to the reference) the graph's conv/linear layers."""
    if batch < 1:
        raise SpecError("<flags>", "batch", batch, "an integer >= 1")
    bitserial.warm_up()
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    runs = []
    for node in select_layers(graph, layers):
        signed = input_is_signed(graph, node)
        rng = np.random.default_rng([seed, index[node.name]])
        x, w = layer_data(node, batch, rng, in_bits, w_bits, signed)
        t0 = time.perf_counter()
        y, act = run_layer(node, x, w, in_bits, w_bits, signed)
        kernel_ms = (time.perf_counter() - t0) * 1e3
        ref_ms = err = None
        if check:
            t0 = time.perf_counter()
            ref = reference_layer(node, x, w)
            ref_ms = (time.perf_counter() - t0) * 1e3
            err = int(np.abs(y - ref).max())
        runs.append(LayerRun(node.name, node.op, node.gemm_shape(), batch, signed, node.macs * batch, act,
                             kernel_ms, ref_ms, err))
    return runs
