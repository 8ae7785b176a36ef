"""The SNN form of a CNN graph: which weight layers take spikes, spike counts or the image, where the
neurons are, and what the digital unit does every timestep.

Rules (``docs/snn.md``):

- Every ReLU ``act`` node is a layer of spiking neurons (its element count is the neuron count). Other
  activations (ReLU6, sigmoid, GELU, ...), ``mul``, attention and token ops have no spiking form here:
  a graph with them is refused.
- A ``norm`` after a conv is folded into its weights and the neuron threshold (A): no cost.
- A weight layer's input is, looking back through ``flatten``/``dropout``:
  - the graph input: **direct encoding** ([P] DT-SNN/SEENN code): the layer runs once per sample at the
    macro's input precision and its output current is kept in the tile buffer and re-read every
    timestep (the papers' code repeats the same output T times);
  - a neuron layer (or a max pool of one): **spikes**, one 1-bit plane per timestep;
  - an average pool (or global average pool) of spikes: **spike counts** 0..k (k = pooled window), as
    ceil(log2(k + 1)) bit planes (the 1/k scale folds into the weights, A);
  - anything else (a current straight into a weight layer) is refused.
- ``add`` adds currents before a neuron (residual blocks): a spike from a shortcut adds one threshold
  of current (A), one digital op per element and input beyond the first.
- The last weight layer is the readout: no neuron; its per-timestep output o_t is accumulated into z_t.

What each node sends to its consumers (:func:`output_bits`, the width of its NoC traffic): a neuron layer
1-bit spikes; a max pool of spikes spikes, an average pool of spikes counts (the planes above); a flatten
or dropout what it receives; a weight layer, norm or add a current, at the neuron's membrane width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imcsim.errors import SpecError
from imcsim.workload.graph import WEIGHT_OPS, Graph, Node

#: Ops the SNN form runs (everything else is refused with the node's name).
SUPPORTED_OPS = frozenset({"input", "conv", "linear", "norm", "act", "pool", "global_pool", "flatten",
                           "dropout", "add"})
_THROUGH = frozenset({"flatten", "dropout"})


@dataclass(frozen=True)
class SpikeLayer:
    """One conv/linear layer of the SNN."""

    name: str
    node: Node
    input: str              # "image" | "spikes" | "counts"
    in_bits: int            # bit planes presented per timestep (1 for spikes)
    source: str | None      # the neuron layer whose spikes (or counts) feed it; None for the image
    once: bool              # direct encoding: computed once per sample, not per timestep


@dataclass(frozen=True)
class DigitalWork:
    """Per-timestep work on the digital unit that is not a neuron update (pools, residual adds)."""

    name: str
    op: str
    ops: int                # vector operations per timestep


@dataclass(frozen=True)
class SNNNetwork:
    """A graph in SNN form (hardware-free)."""

    graph: Graph
    layers: tuple[SpikeLayer, ...]
    neurons: dict[str, int]          # neuron layer (act node) -> neurons
    work: tuple[DigitalWork, ...]
    readout: str                     # the last weight layer
    classes: int

    @property
    def total_neurons(self) -> int:
        return sum(self.neurons.values())

    def layer(self, name: str) -> SpikeLayer:
        return next(x for x in self.layers if x.name == name)


def _bad(graph: Graph, node: Node, problem: str, allowed: str) -> SpecError:
    return SpecError(graph.name, f"node {node.name}", node.op if node.op != "act" else node.attrs.get("kind"),
                     allowed, problem=problem)


def _feed(graph: Graph, name: str, layer: Node) -> tuple[str, int, str | None]:
    """What reaches weight layer ``layer`` from node ``name``: (kind, max value, neuron layer)."""
    if name == "input":
        return "image", 0, None
    node = graph[name]
    if node.op in _THROUGH:
        return _feed(graph, node.inputs[0], layer)
    if node.op == "act":
        return "spikes", 1, node.name
    if node.op in ("pool", "global_pool"):
        kind, vmax, src = _feed(graph, node.inputs[0], layer)
        if kind == "image":
            raise _bad(graph, node, "a pool of the image has no spiking form here:", "pools of spikes")
        if node.attrs.get("kind") == "max":
            return kind, vmax, src
        if node.op == "pool":
            kh, kw = node.attrs["kernel"]
            window = kh * kw
        else:
            _, h, w = graph.shape_of(node.inputs[0])
            window = h * w
        return "counts", vmax * window, src
    raise SpecError(graph.name, f"node {layer.name}", f"{node.name} ({node.op})", "spikes (act), pool/global_pool "
                    "of spikes, flatten, dropout, or the image", problem="input is not spikes, spike counts or "
                    "the image but the output of")


def output_bits(graph: Graph, membrane_bits: int) -> dict[str, int]:
    """Bits per output element of every non-input node in its SNN form (module docstring): 1 for spikes,
    ceil(log2(k + 1)) for counts up to k, ``membrane_bits`` for currents."""
    vmax = _largest_values(graph)
    return {name: max(1, math.ceil(math.log2(v + 1))) if v else int(membrane_bits)
            for name, v in vmax.items() if name != "input"}


def sends_events(graph: Graph) -> frozenset[str]:
    """The nodes whose output is spikes or spike counts (their NoC transfers go through the encoder of
    :mod:`imcsim.snn.encoding`); every other node sends a current."""
    return frozenset(name for name, v in _largest_values(graph).items() if v and name != "input")


def _largest_values(graph: Graph) -> dict[str, int]:
    """The largest value each node sends in its SNN form: 1 for spikes, k for counts, 0 for a current."""
    vmax: dict[str, int] = {"input": 0}   # largest value a node sends, 0 for a current (or the image)
    for node in graph.nodes:
        if node.op == "input":
            continue
        src = vmax.get(node.inputs[0], 0) if node.inputs else 0
        if node.op == "act":
            vmax[node.name] = 1
        elif node.op in _THROUGH or (node.op in ("pool", "global_pool") and node.attrs.get("kind") == "max"):
            vmax[node.name] = src
        elif node.op == "pool":
            kh, kw = node.attrs["kernel"]
            vmax[node.name] = src * kh * kw
        elif node.op == "global_pool":
            _, h, w = graph.shape_of(node.inputs[0])
            vmax[node.name] = src * h * w
        else:
            vmax[node.name] = 0
    return vmax


def snn_form(graph: Graph) -> SNNNetwork:
    """The SNN form of ``graph`` (the rules of the module docstring); unsupported ops are a SpecError."""
    for node in graph.nodes:
        if node.op not in SUPPORTED_OPS:
            raise _bad(graph, node, "op has no spiking form:", ", ".join(sorted(SUPPORTED_OPS)))
        if node.op == "act" and node.attrs.get("kind") != "relu":
            raise _bad(graph, node, "activation has no spiking form:", "relu (becomes an IF/LIF neuron)")
    weights = graph.weight_nodes()
    if not weights:
        raise SpecError(graph.name, "nodes", None, "a graph with conv/linear layers", problem="no weight layers")
    readout = weights[-1]
    if graph.consumers(readout.name):
        raise SpecError(graph.name, f"node {readout.name}", readout.op, "a network ending in its last "
                        "conv/linear layer (the readout)", problem="the last weight layer feeds further ops:")
    layers = []
    for node in weights:
        kind, vmax, src = _feed(graph, node.inputs[0], node)
        if kind == "image":
            bits = 0  # the macro's own input precision, set by the pricer
        else:
            bits = max(1, math.ceil(math.log2(vmax + 1)))
            if bits > 8:
                raise _bad(graph, node, f"spike counts up to {vmax} need {bits} input bits:", "at most 8 "
                           "(pool windows of at most 255 positions)")
        layers.append(SpikeLayer(node.name, node, kind, bits, src, kind == "image"))
    neurons = {n.name: n.out_elems for n in graph.nodes if n.op == "act"}
    work = []
    for n in graph.nodes:
        if n.op == "pool":
            kh, kw = n.attrs["kernel"]
            work.append(DigitalWork(n.name, "pool", n.out_elems * (kh * kw - 1)))
        elif n.op == "global_pool":
            _, h, w = graph.shape_of(n.inputs[0])
            work.append(DigitalWork(n.name, "global_pool", n.out_elems * (h * w - 1)))
        elif n.op == "add":
            work.append(DigitalWork(n.name, "add", n.out_elems * (len(n.inputs) - 1)))
    classes = int(readout.out_shape[-1])
    return SNNNetwork(graph, tuple(layers), neurons, tuple(work), readout.name, classes)


__all__ = ["SUPPORTED_OPS", "WEIGHT_OPS", "DigitalWork", "SNNNetwork", "SpikeLayer", "output_bits", "sends_events",
           "snn_form"]
