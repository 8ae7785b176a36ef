"""The TinyTL network and the lite-residual methods (TinyTL-L, TinyTL-L+B).

Cai et al., NeurIPS 2020; code mit-han-lab/tinyml ``tinytl/tinytl/model/modules.py``
(``LiteResidualModule.insert_lite_residual``) and ``tinytl_fgvc_train.py`` [P];
[TINYTL].

The TinyTL network = the backbone with every BN replaced by GN (8 channels per group) and a
lite-residual module in every MB block except the first. TinyTL runs EVERY one of its methods on
this network (FT-Full, FT-Last, FT-Norm+Last, TinyTL-B too); modules a method does not train are
present and frozen (their weights count as frozen 8-bit parameters, their ops are walked).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from imcsim.workload.graph import Block, Graph, GraphBuilder
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, classifier, spec_error
from imcsim.workload.methods._insert import (
    add_node,
    block_main_output,
    make_divisible,
    splice,
    subgraph,
    with_blocks,
)
from imcsim.workload.step import TrainingStep

GN_CHANNELS_PER_GROUP = 8  # replace_bn_with_gn(net, gn_channel_per_group=8) [P]
NOMINAL_MAX_RESOLUTION = 128  # insert_lite_residual: max_resolution = 128, independent of the image [P]
TINYTL_BACKBONES = ("proxylessnas-mobile",)


def _min_divisible_value(n: int, v: int) -> int:
    """OFA: the largest value <= v that divides n (GN channels per group)."""
    while n % v:
        v -= 1
    return v


def irb_blocks(graph: Graph) -> list[Block]:
    return [b for b in graph.blocks.values() if b.kind == "irb" and b.parent is None]


def tinytl_network(graph: Graph, kernel: int = 5, groups: int = 2, expand: float = 1.0,
                   downsample: int = 2) -> Graph:
    """The backbone with GN (8 channels/group) and lite-residual modules (reference 1.3, 4).

    Lite residual of block i (all MB blocks but the first), reading the block input:
    avg-pool 2x2 -> conv k x k, stride = block stride, groups 2, expand 1.0 -> GN -> ReLU -> conv 1x1
    -> GN -> bilinear upsample to the block output -> added to the main branch (before the shortcut).
    Kernel rule of the code: nominal resolution 128 halved per stride-2 stage; block resolution =
    max(1, res // 2) taken BEFORE the block's stride; k shrinks by 2 while it exceeds that.
    """
    blocks = irb_blocks(graph)
    if len(blocks) < 2:
        raise spec_error("lite-residual", graph, "needs inverted-residual (MB) blocks; found none")
    nodes = list(graph.nodes)
    new_blocks: dict[str, Block] = {}
    # group-by-stage: a block without a shortcut starts a new stage (OFA grouped_block_index)
    max_res = NOMINAL_MAX_RESOLUTION
    current = graph
    for blk in blocks[1:]:
        dw = next(current[n] for n in blk.nodes if n in current and "depthwise" in current[n].tags)
        stride = dw.attrs["stride"][0]
        block_res = max(1, max_res // downsample)
        max_res //= stride
        k = kernel
        pooled_global = block_res == 1
        if pooled_global:
            k = 1
        else:
            while block_res < k:
                k -= 2
        main = block_main_output(current, blk)
        c_in, _, _ = current.shape_of(blk.input)
        c_out, h_out, w_out = current.shape_of(main)
        mid = make_divisible(int(c_in * expand), 8)
        lite_name = f"{blk.name}.lite_residual"

        def build(b: GraphBuilder, x: str, k: int = k, stride: int = stride, mid: int = mid, c_out: int = c_out,
                  size: tuple[int, int] = (h_out, w_out), pooled_global: bool = pooled_global) -> str:
            if pooled_global:
                y = b.pool(x, "avg", b.shape(x)[1], name="pooling")
            else:
                y = b.pool(x, "avg", downsample, name="pooling")
            y = b.conv(y, mid, k, stride, groups=groups, name="conv1")
            y = b.norm(y, "gn", groups=mid // _min_divisible_value(mid, GN_CHANNELS_PER_GROUP), name="bn1")
            y = b.act(y, "relu", name="act")
            y = b.conv(y, c_out, 1, name="conv2")
            y = b.norm(y, "gn", groups=c_out // _min_divisible_value(c_out, GN_CHANNELS_PER_GROUP), name="final_bn")
            return b.upsample(y, size, "bilinear", name="upsample")

        new, out = subgraph(lite_name, blk.input, current.shape_of(blk.input), build, lite_name, ("lite_residual",))
        add = add_node(f"{lite_name}.add", (main, out), (c_out, h_out, w_out), blk.name, ("lite_residual",))
        nodes = splice(nodes, main, [*new, add], main, add.name)
        new_blocks[lite_name] = Block(lite_name, "lite_residual", blk.input, tuple(n.name for n in new), None,
                                      blk.name)
        current = with_blocks(graph, nodes, new_blocks)
    # BN -> GN everywhere (parameter counts are unchanged: GN has the same affine scale and shift)
    out_nodes = []
    for n in nodes:
        if n.op == "norm" and n.attrs.get("kind") == "bn":
            c = n.attrs["channels"]
            attrs = {**n.attrs, "kind": "gn", "groups": c // _min_divisible_value(c, GN_CHANNELS_PER_GROUP)}
            n = type(n)(n.name, n.op, n.inputs, n.in_shape, n.out_shape, attrs, n.params, n.macs, n.block, n.tags)
        out_nodes.append(n)
    return with_blocks(graph, out_nodes, new_blocks, tinytl_network=True)


def use_tinytl_network(graph: Graph, network: str) -> bool:
    if graph.meta.get("tinytl_network"):
        return False  # already built
    if network == "tinytl":
        return True
    return network == "auto" and graph.name in TINYTL_BACKBONES


def all_biases(graph: Graph, trainable: Trainable) -> None:
    """TinyTL ``enable_bias_update``: every parameter named ``bias`` (conv/linear biases, norm shifts)."""
    for n in graph:
        if "bias" in n.params:
            add_roles(trainable, n.name, "bias")
        if n.op == "norm" and "shift" in n.params:
            add_roles(trainable, n.name, "shift")


class LiteResidualOptions(MethodOptions):
    kernel: int = Field(5, ge=1, description="--lite_residual_ks: largest kernel (shrunk by the resolution rule)")
    groups: int = Field(2, ge=1, description="--lite_residual_groups: groups of the lite-residual convs")
    expand: float = Field(1.0, gt=0, description="--lite_residual_expand: width multiplier of the module")
    downsample: int = Field(2, ge=1, description="--lite_residual_downsample: pooling factor at the module input")


def _lite(graph: Graph, o: LiteResidualOptions, with_bias: bool, method: str) -> TrainingStep:
    if not graph.meta.get("tinytl_network"):
        if not irb_blocks(graph):
            raise spec_error(method, graph, "needs inverted-residual (MB) blocks for the lite-residual modules")
        graph = tinytl_network(graph, o.kernel, o.groups, o.expand, o.downsample)
    trainable: Trainable = {}
    if with_bias:
        all_biases(graph, trainable)
    for n in graph:
        if "lite_residual" in n.tags and n.params:
            add_roles(trainable, n.name, *n.params)
    notes = []
    if with_bias:
        # quirk (tinytl_fgvc_train.py): with bias update on, the bias of the lite residual's final
        # norm is frozen
        for n in graph:
            if "lite_residual" in n.tags and n.name.endswith(".final_bn"):
                trainable[n.name].discard("shift")
        notes.append("TinyTL-L+B quirk: the final GN bias of each lite-residual module is frozen (tinytl code)")
    add_roles(trainable, classifier(graph).name, *classifier(graph).params)
    if graph.name not in TINYTL_BACKBONES:
        notes.append(f"lite-residual modules placed on {graph.name} by the ProxylessNAS rule of the TinyTL code "
                     "(the paper only uses ProxylessNAS-Mobile)")
    return build_step(method, graph, trainable, options=o.model_dump(), notes=notes,
                      trained_weights_in=o.trained_weights_in)


@register("lite-residual", "TinyTL-L: lite-residual modules + classifier on the frozen TinyTL network",
          LiteResidualOptions)
def lite_residual(graph: Graph, o: LiteResidualOptions) -> TrainingStep:
    return _lite(graph, o, False, "lite-residual")


@register("lite-residual+bias", "TinyTL-L+B: lite residuals + all biases + classifier", LiteResidualOptions)
def lite_residual_bias(graph: Graph, o: LiteResidualOptions) -> TrainingStep:
    return _lite(graph, o, True, "lite-residual+bias")


NetworkChoice = Literal["auto", "plain", "tinytl"]
