"""Sparse update (On-Device Training Under 256KB Memory): biases of the last k layers and a
fraction of the output channels of chosen layers.

Lin, Zhu, Chen, Wang, Gan, Han, NeurIPS 2022, arXiv:2206.15472; code mit-han-lab/tiny-training
``algorithm/`` [P]; [SPARSE-UPDATE].

Conventions: layers are the conv/linear nodes in forward order (index 0 = the first conv). The
graph is int8 with BN folded, so a layer's "bias" is its own bias or, when it has none, the shift of
the norm that follows it (the folded bias). Analytic memory = saved activations of the
weight-updated layers (int8 inputs) + a 1-bit truncation mask for every activation the error crosses
+ the extra copy of the updated weights (int8, the originals sit in read-only Flash) and biases
(int32). On IMC the analogue of the copy is that only the updated channels are rewritten.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from imcsim.workload.graph import Graph, Node
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, spec_error
from imcsim.workload.step import StoredTensor, TrainingStep, stored_nbytes

RATIOS = (0.125, 0.25, 0.5, 1.0)


class WeightUpdate(BaseModel):
    layer: int | str = Field(description="index among the conv/linear layers, or a node name")
    ratio: float = Field(1.0, gt=0, le=1, description="fraction of the layer's output channels updated")


class SparseOptions(MethodOptions):
    bias_layers: int = Field(22, ge=0, description="biases of the last N layers are updated (n_bias_update of the MCUNet 100KB scheme) [P]")
    weights: list[WeightUpdate] = Field([], description="layers whose weights are updated, each with the fraction of channels")


def _folded_bias(graph: Graph, node: Node) -> tuple[str, str] | None:
    if "bias" in node.params:
        return node.name, "bias"
    for c in graph.consumers(node.name):
        if c.op == "norm" and "shift" in c.params:
            return c.name, "shift"
    return None


@register("sparse-update", "256KB sparse update: biases of the last k layers + channel fractions of chosen layers",
          SparseOptions)
def sparse_update(graph: Graph, o: SparseOptions) -> TrainingStep:
    layers = graph.weight_nodes()
    if not layers:
        raise spec_error("sparse-update", graph, "no conv/linear layers")
    trainable: Trainable = {}
    fraction: dict[str, float] = {}
    for w in o.weights:
        if isinstance(w.layer, int):
            if not 0 <= w.layer < len(layers):
                raise spec_error("sparse-update", graph, f"layer index {w.layer} out of 0..{len(layers) - 1}")
            node = layers[w.layer]
        elif w.layer in graph and graph[w.layer].op in ("conv", "linear"):
            node = graph[w.layer]
        else:
            raise spec_error("sparse-update", graph, f"no conv/linear layer named {w.layer!r}")
        if w.ratio not in RATIOS:
            raise spec_error("sparse-update", graph, f"channel ratio {w.ratio} not one of {RATIOS}")
        add_roles(trainable, node.name, "weight")
        fraction[node.name] = w.ratio
    bias_nodes: list[tuple[str, str]] = []
    for node in layers[len(layers) - o.bias_layers:] if o.bias_layers else []:
        fb = _folded_bias(graph, node)
        if fb:
            add_roles(trainable, *fb)
            bias_nodes.append(fb)
    if not trainable:
        raise spec_error("sparse-update", graph, "nothing to update (bias_layers=0 and no weights)")
    stored: list[StoredTensor] = []

    def keep(node: str, elems: int, form: str, what: str) -> None:
        stored.append(StoredTensor(node, elems, form, stored_nbytes(elems, form), what))

    floor = min(graph.index(n) for n in trainable)
    for n in graph.nodes:
        if n.name in fraction:
            keep(n.name, n.in_elems, "int8", "input")
            copy = round(n.params["weight"] * fraction[n.name])
            keep(n.name, copy, "int8", "updated-weight copy")
    for node, role in bias_nodes:
        keep(node, graph[node].params[role], "fp32", "updated-bias copy (int32)")
    for n in graph.nodes[floor:]:
        if n.op == "act":
            keep(n.name, n.in_elems, "mask1", "truncation mask")
    notes = ["sparse update: the 256KB paper's memory convention (saved int8 activations + 1-bit truncation masks "
             "+ updated weight/bias copies); BN folded, so a layer's bias is the shift of its norm"]
    return build_step("sparse-update", graph, trainable, options=o.model_dump(), notes=notes, stored=stored,
                      require_backward=True, convention="sparse-update", written_fraction=fraction,
                      trained_weights_in=o.trained_weights_in)
