"""DA3 (Dynamic Additive Attention Adaption): an INTERPRETATION of the abstract, not the paper.

Yang, Rakin, Fan, arXiv:2012.01362 v3; CVPRW 2022 (ECV) -- abstract facts only, no code, full text
unavailable [U]; [DA3].

Facts used: a frozen pre-trained backbone; a learned per-domain "additive attention adaptor"
"designed to avoid activation memory buffering". Reading built here (imcsim's, flagged in every
step's notes): one adaptor per residual block, reading the block input through a global average
pool, 1x1 conv C_in -> C_out/reduction -> ReLU -> 1x1 conv -> C_out -> sigmoid, broadcast
(nearest upsample) and ADDED to the block output. Being additive, its gradient needs only the
error at the block output (like a bias), and its own inputs are pooled vectors, so no backbone
activation is buffered; the error still crosses the frozen backbone (ReLU masks). The dynamic
gating of the CVPRW version is not modelled.
"""

from __future__ import annotations

from pydantic import Field

from imcsim.workload.graph import Block, Graph, GraphBuilder
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, classifier, spec_error
from imcsim.workload.methods._insert import add_node, block_output, splice, subgraph, with_blocks
from imcsim.workload.step import TrainingStep

BLOCK_KINDS = ("basic", "bottleneck", "irb")
INTERPRETATION = ("INTERPRETATION (DA3): adaptor architecture built from the abstract only (pooled channel "
                  "attention added to each residual block output); the paper's architecture, backbone and "
                  "figures are unverified")


class DA3Options(MethodOptions):
    reduction: int = Field(16, ge=1, description="channel reduction of the additive attention adaptor (A)")


@register("da3", "DA3 (interpretation): per-domain additive attention adaptors on a frozen backbone + classifier",
          DA3Options)
def da3(graph: Graph, o: DA3Options) -> TrainingStep:
    blocks = [b for b in graph.blocks.values() if b.kind in BLOCK_KINDS and b.parent is None]
    if not blocks:
        raise spec_error("da3", graph, "needs residual / inverted-residual blocks to attach adaptors to")
    nodes = list(graph.nodes)
    new_blocks: dict[str, Block] = {}
    for blk in blocks:
        out = block_output(graph, blk)
        c_in, h, w = graph.shape_of(blk.input)
        c_out, ho, wo = graph.shape_of(out)
        hidden = max(1, c_out // o.reduction)
        name = f"{blk.name}.da3"

        def build(b: GraphBuilder, x: str, h: int = h, hidden: int = hidden, c_out: int = c_out,
                  size: tuple[int, int] = (ho, wo)) -> str:
            y = b.pool(x, "avg", h, name="pool")
            y = b.act(b.conv(y, hidden, 1, bias=True, name="fc1"), "relu", name="relu")
            y = b.act(b.conv(y, c_out, 1, bias=True, name="fc2"), "sigmoid", name="gate")
            return b.upsample(y, size, "nearest", name="broadcast")

        if h != w:
            raise spec_error("da3", graph, f"block {blk.name} input is not square ({h}x{w})")
        new, a = subgraph(name, blk.input, (c_in, h, w), build, name, ("da3",))
        add = add_node(f"{name}.add", (out, a), (c_out, ho, wo), None, ("da3",))
        nodes = splice(nodes, out, [*new, add], out, add.name)
        new_blocks[name] = Block(name, "da3_adaptor", blk.input, tuple(n.name for n in new), None, None)
    g = with_blocks(graph, nodes, new_blocks)
    trainable: Trainable = {}
    for n in g:
        if "da3" in n.tags and n.params:
            add_roles(trainable, n.name, *n.params)
    c = classifier(g)
    add_roles(trainable, c.name, *c.params)
    return build_step("da3", g, trainable, options=o.model_dump(), notes=[INTERPRETATION],
                      trained_weights_in=o.trained_weights_in)
