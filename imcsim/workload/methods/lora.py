"""LoRA and LoRAFusion on attention projections (Flan-T5-large in the papers).

LoRA: Hu et al. [LORA]; configuration of LoRAFusion's baselines (``LoRAs/loraConfig.py``: r = 16, alpha
32, targets q and v) [P]. LoRAFusion: Guo, Ali, Yang, Fan, GLSVLSI 2025; code
ASU-ESIC-FAN-Lab/LoRAFusion [P6] [P].

LoRAFusion on crossbars (reference 6, "How the fused module runs", [D]): the K pre-trained LoRA
pairs stay frozen in the arrays. Per adapted matrix: K MVMs A_i.x (rank r), a digital mix
sum_i c_i (A_i x) = A_f x, K MVMs B_i.(A_f x), a digital mix with c_i again, then the DoRA
magnitude scaling of the adapted output. Trainable: the per-layer coefficients (K per transformer
layer, shared by q and v and by A and B) and one magnitude vector per adapted matrix -- all in SRAM,
so a new task writes nothing into the crossbars.
"""

from __future__ import annotations

import re

from pydantic import Field

from imcsim.workload.graph import Block, Graph, Node
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, spec_error
from imcsim.workload.methods._insert import add_node, splice_many, with_blocks
from imcsim.workload.step import StepOp, TrainingStep


class LoRAOptions(MethodOptions):
    rank: int = Field(16, ge=1, description="r: inner dimension of the adapters A (r x d) and B (d x r)")
    alpha: float = Field(32.0, description="LoRA scale numerator: B.A is added with scale alpha / r")
    targets: list[str] | None = Field(None, description=(
        "layers that get adapters: attention projections by tag (q, k, v, o), or 'linear' for every linear layer; "
        "unset: q and v on a network with attention projections, else every linear layer (a CNN's classifier)"))


class LoRAFusionOptions(LoRAOptions):
    targets: list[str] = Field(["q", "v"], description=(
        "layers whose frozen LoRA modules are fused: attention projections by tag (q, k, v, o), or 'linear' "
        "for every linear layer (LoraHub's modules adapt q and v)"))
    modules: int = Field(20, ge=1, description="frozen LoRA modules fused (--lora_num, sampled from LoraHub's 196) [P]")


#: tags of attention projections (transformer importers and cards tag their linears with these)
ATTENTION_TAGS = ("q", "k", "v", "o")


def default_targets(graph: Graph) -> list[str]:
    """The method's targets when none are given: q and v (LoRA's configuration [P]) on a network with attention
    projections; on one without (a CNN of convs and linears) every linear layer, since q/v do not exist there."""
    if any(n.op == "linear" and any(t in n.tags for t in ATTENTION_TAGS) for n in graph):
        return ["q", "v"]
    return ["linear"]


def targets_of(graph: Graph, targets: list[str], method: str) -> list[Node]:
    found = [n for n in graph if n.op == "linear" and ("linear" in targets or any(t in n.tags for t in targets))]
    if not found:
        raise spec_error(method, graph, f"no linear layers tagged {'/'.join(targets)} (q/k/v/o need a transformer; "
                         "targets=linear adapts every linear layer)")
    return found


def _linear(name: str, x: str, in_shape: tuple[int, ...], out_features: int, block: str, tags: tuple[str, ...],
            **attrs: object) -> Node:
    d = in_shape[-1]
    tokens = 1
    for s in in_shape[:-1]:
        tokens *= s
    out_shape = (*in_shape[:-1], out_features)
    return Node(name, "linear", (x,), tuple(in_shape), out_shape,
                dict(in_features=d, out_features=out_features, bias=False, **attrs),
                {"weight": d * out_features}, d * out_features * tokens, block, frozenset(tags))


def layer_key(name: str) -> str:
    """The transformer layer of a node: its name up to the first numeric component
    (``encoder.block.3.layer.0.SelfAttention.q`` -> ``encoder.block.3``)."""
    m = re.match(r"^(.*?\.\d+)(?:\.|$)", name)
    return m.group(1) if m else name


@register("lora", "LoRA adapters (rank r, alpha, targets; q and v by default, every linear layer on a network "
          "without attention) on a frozen network",
          LoRAOptions)
def lora(graph: Graph, o: LoRAOptions) -> TrainingStep:
    o = o.model_copy(update={"targets": o.targets or default_targets(graph)})
    tg = targets_of(graph, o.targets, "lora")
    insertions: dict[str, tuple[list[Node], str]] = {}
    blocks: dict[str, Block] = {}
    trainable: Trainable = {}
    for t in tg:
        bname = f"{t.name}.lora"
        a = _linear(f"{bname}.A", t.inputs[0], t.in_shape, o.rank, bname, ("lora",))
        b = _linear(f"{bname}.B", a.name, a.out_shape, t.attrs["out_features"], bname, ("lora",))
        add = add_node(f"{bname}.add", (t.name, b.name), t.out_shape, t.block, ("lora",), scale=o.alpha / o.rank)
        insertions[t.name] = ([a, b, add], add.name)
        blocks[bname] = Block(bname, "lora", t.inputs[0], (a.name, b.name, add.name), None, t.block)
        add_roles(trainable, a.name, "weight")
        add_roles(trainable, b.name, "weight")
    g = with_blocks(graph, splice_many(graph.nodes, insertions), blocks)
    return build_step("lora", g, trainable, options=o.model_dump(), trained_weights_in=o.trained_weights_in)


@register("lorafusion", "LoRAFusion: K frozen LoRA modules in crossbars, trained layer-wise fusion coefficients "
          "and DoRA magnitudes in SRAM (0 crossbar writes)", LoRAFusionOptions)
def lorafusion(graph: Graph, o: LoRAFusionOptions) -> TrainingStep:
    tg = targets_of(graph, o.targets, "lorafusion")
    k, r = o.modules, o.rank
    insertions: dict[str, tuple[list[Node], str]] = {}
    blocks: dict[str, Block] = {}
    trainable: Trainable = {}
    layers_seen: set[str] = set()
    mixes: set[str] = set()
    for t in tg:
        bname = f"{t.name}.lorafusion"
        d_out = t.attrs["out_features"]
        a_nodes = [_linear(f"{bname}.A{i}", t.inputs[0], t.in_shape, r, bname, ("lorafusion",)) for i in range(k)]
        layer = layer_key(t.name)
        # coefficients: K per transformer layer, shared by q/v and A/B: held by the layer's first A-mix
        coeff = {"coeff": k} if layer not in layers_seen else {}
        layers_seen.add(layer)
        mix_a = Node(f"{bname}.mixA", "add", tuple(n.name for n in a_nodes), a_nodes[0].out_shape,
                     a_nodes[0].out_shape, {"weighted": "lorafusion_coeff", "layer": layer}, coeff, 0, bname,
                     frozenset({"lorafusion", "mix"}))
        b_nodes = [_linear(f"{bname}.B{i}", mix_a.name, mix_a.out_shape, d_out, bname, ("lorafusion",))
                   for i in range(k)]
        mix_b = Node(f"{bname}.mixB", "add", tuple(n.name for n in b_nodes), t.out_shape, t.out_shape,
                     {"weighted": "lorafusion_coeff", "layer": layer}, {}, 0, bname,
                     frozenset({"lorafusion", "mix"}))
        add = add_node(f"{bname}.add", (t.name, mix_b.name), t.out_shape, t.block, ("lorafusion",))
        dora = Node(f"{bname}.dora", "mul", (add.name,), t.out_shape, t.out_shape, {"kind": "dora_magnitude"},
                    {"magnitude": d_out}, 0, bname, frozenset({"lorafusion", "dora"}))
        new = [*a_nodes, mix_a, *b_nodes, mix_b, add, dora]
        insertions[t.name] = (new, dora.name)
        blocks[bname] = Block(bname, "lorafusion", t.inputs[0], tuple(n.name for n in new), None, t.block)
        if coeff:
            add_roles(trainable, mix_a.name, "coeff")
        add_roles(trainable, dora.name, "magnitude")
        mixes.update((mix_a.name, mix_b.name))
    g = with_blocks(graph, splice_many(graph.nodes, insertions), blocks)

    def override(node: Node, phase: str, default: list[StepOp]) -> list[StepOp]:
        if node.name not in mixes:
            return default
        t_tokens = 1
        for s in node.out_shape[:-1]:
            t_tokens *= s
        width = node.out_shape[-1]
        gemm = (1, t_tokens, k, width)  # sum_i c_i y_i: a (T*width) x K by K product
        macs = t_tokens * k * width
        if phase == "forward":
            return [StepOp(f"{node.name}:fwd", node.name, "forward", "gemm", gemm, macs)]
        if phase == "backward_error":  # dy_i = c_i dy (K scalings) ...
            return [StepOp(f"{node.name}:bwd_err", node.name, "backward_error", "gemm", gemm, macs)]
        if phase == "weight_gradient":  # ... and dc_i = <y_i, dy>: needs every y_i stored
            return [StepOp(f"{node.name}:wgrad:coeff", node.name, "weight_gradient", "gemm", gemm, macs)]
        return default

    # Stored for backward [D, reference 6]: the per-module products A_i x and B_i (A_f x) for the
    # coefficient gradients, and the adapted output before the magnitude scaling for the magnitude
    # gradient; the rest follows the convention (frozen layers store nothing, masks/extensions apply).
    step = build_step("lorafusion", g, trainable, options=o.model_dump(), override=override,
                      trained_weights_in=o.trained_weights_in)
    from dataclasses import replace

    from imcsim.workload.step import StoredTensor, stored_nbytes

    extra: list[StoredTensor] = []
    for name in sorted(mixes):
        n = g[name]
        e = n.out_elems * k
        extra.append(StoredTensor(name, e, "fp32", stored_nbytes(e, "fp32"), "per-module products"))
    for n in g:
        if "dora" in n.tags:
            extra.append(StoredTensor(n.name, n.in_elems, "fp32", stored_nbytes(n.in_elems, "fp32"),
                                      "pre-scaling output"))
    # DoRA column norms of W0 + B_f A_f change with the coefficients: recomputed digitally once per
    # update (r * d_in * d_out MACs for B_f A_f plus d_in * d_out for the norms) [D; paper unverified]
    upd = []
    for t in tg:
        d_in, d_out = t.attrs["in_features"], t.attrs["out_features"]
        upd.append(StepOp(f"{t.name}.lorafusion:dora_norm", t.name, "update", "gemm", (1, d_out, r, d_in),
                          r * d_in * d_out + d_in * d_out, batch_shared=True))
    notes = ("LoRAFusion on crossbars: K frozen LoRA pairs run as 2K rank-r MVMs with digital mixing (exact, K x "
             "LoRA MACs); DoRA column norms recomputed digitally per update (D; the paper's handling is "
             "unverified)",)
    return replace(step, stored=step.stored + tuple(extra), ops=step.ops + tuple(upd), notes=step.notes + notes)
