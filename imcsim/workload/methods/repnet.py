"""Rep-Net (``tiny-reprogram+bias``): small parallel branch modules on a frozen backbone.

Yang, Rakin, Fan, CVPR 2022; code ASU-ESIC-FAN-Lab/RepNet ``repnet/model/reprogram.py``
(``ProgramModule``, ``ProgramNet``, ``ResProgramNet``, ``MobiProgramNet``) and
``tiny_train_repnet.py`` [P]; [P5].

A branch (ProgramModule): avg-pool -> kxk conv (groups 2; 1 for the first) -> BN -> ReLU -> 1x1 conv
-> BN -> bilinear upsample, added to a backbone block output. Mid width = make_divisible(in, 8).
Kernel 5, or 3 where the NOMINAL input size of the code's table equals 7 (a quirk: at other
resolutions the nominal size differs and k stays 5). Pool x2 and output at x.H//2 for the code's
"reduce dimension" connectors (stride-2 blocks), pool x2 and output at x.H otherwise.
"""

from __future__ import annotations

from pydantic import Field

from imcsim.workload.graph import Block, Graph, GraphBuilder
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, classifier, spec_error
from imcsim.workload.methods._insert import (
    add_node,
    block_output,
    make_divisible,
    splice,
    subgraph,
    with_blocks,
)
from imcsim.workload.methods.tinytl import all_biases, irb_blocks
from imcsim.workload.step import TrainingStep

SUPPORTED = ("proxylessnas-mobile", "resnet50", "mobilenetv2", "digits-cnn")
#: ProgramNet connectors: OFA slots, and the nominal-size divisor of input_size_lists [P]
PROXYLESS_CONNECTORS = {5: 8, 9: 16, 13: 16, 17: 32, 21: 32}
#: ResProgramNet: (stage, block index in stage, nominal divisor) for modules m1..m5 [P]
RESNET_CONNECTORS = ((1, 0, 4), (2, 0, 8), (3, 0, 16), (4, 0, 32), (4, 2, 32))
#: MobiProgramNet (V2): features index -> nominal divisor, for modules 2..6 [P]
MOBV2_CONNECTORS = {4: 4, 7: 8, 11: 16, 14: 16, 17: 32}
#: digits-cnn (imcsim's own table, [D]): (module input, node its output is added to, groups) for modules
#: m1..m4: the image into the stem output (as ResProgramNet's m0 into the stem), then one module per
#: block -- the basic block res1, the stride-2 conv ``down`` (a "reduce dimension" connector: pooled x2,
#: added at the pooled size) and the separable block sep1. A module reads the running feature map (the
#: backbone tensor named plus every module already added to it, as in the code).
DIGITS_CONNECTORS = (("input", "stem.act", 1), ("stem.act", "res1.relu2", 2), ("res1.relu2", "down.act", 2),
                     ("down.act", "sep1.pw_act", 2))


class RepNetOptions(MethodOptions):
    bias: bool = Field(True, description="tiny-reprogram+bias (the paper's method): train every backbone bias too")
    kernel: int = Field(5, description="kernel of the branch convs where the code uses 5 (3 stays 3 on nominal 7x7 inputs)")


def _branch(b: GraphBuilder, x: str, mid: int, out_ch: int, k: int, groups: int, pool: int,
            size: tuple[int, int]) -> str:
    y = b.pool(x, "avg", pool, name="pooling")
    y = b.conv(y, mid, k, 1, groups=groups, name="conv1")
    y = b.act(b.norm(y, "bn", name="bn1"), "relu", name="act")
    y = b.norm(b.conv(y, out_ch, 1, name="conv2"), "bn", name="final_bn")
    return b.upsample(y, size, "bilinear", name="upsample")


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes = list(graph.nodes)
        self.blocks: dict[str, Block] = {}
        self.count = 0
        self.sums: dict[str, str] = {}   # backbone node -> the add that now carries its output

    def current(self) -> Graph:
        return with_blocks(self.graph, self.nodes, self.blocks)

    def module(self, reads: str, add_to: str, out_ch: int, k: int, groups: int, pools: tuple[int, ...],
               size: tuple[int, int], at_front: bool = False, twice: bool = False) -> None:
        """Branch reading ``reads``, pooled by each of ``pools`` in turn, added to ``add_to``."""
        self.count += 1
        g = self.current()
        name = f"repnet.m{self.count}"
        # the code's branch reads the running ``x``: the backbone tensor plus every module added to it
        reads = self.sums.get(reads, reads)
        c_in = g.shape_of(reads)[0]
        mid = make_divisible(int(c_in * 1.0), 8)

        def build(b: GraphBuilder, x: str) -> str:
            for i, p in enumerate(pools[:-1]):
                x = b.pool(x, "avg", p, name=f"net_pool{i}")
            return _branch(b, x, mid, out_ch, k, groups, pools[-1], size)

        new, out = subgraph(name, reads, g.shape_of(reads), build, name, ("repnet_branch",))
        shape = g.shape_of(add_to)
        adds = [add_node(f"{name}.add", (add_to, out), shape, None, ("repnet_branch",))]
        if twice:  # ResProgramNet quirk: module m1's output is added twice (x = main + side; x += side)
            adds.append(add_node(f"{name}.add2", (adds[0].name, out), shape, None, ("repnet_branch",)))
        if at_front:
            self.nodes = new + self.nodes
            self.nodes = splice(self.nodes, add_to, adds, add_to, adds[-1].name)
        else:
            self.nodes = splice(self.nodes, add_to, [*new, *adds], add_to, adds[-1].name)
        self.blocks[name] = Block(name, "repnet_branch", reads, tuple(n.name for n in new), None, None)
        self.sums[add_to] = adds[-1].name


def _kernel(nominal: int, k: int) -> int:
    return 3 if nominal == 7 else k


def build_repnet_graph(graph: Graph, kernel: int = 5) -> tuple[Graph, list[str]]:
    """The backbone with Rep-Net's branch modules added (one of the three code variants)."""
    name = graph.name
    if name not in SUPPORTED:
        raise spec_error("repnet", graph, f"Rep-Net branches are defined for {', '.join(SUPPORTED)} only")
    res = graph.input_shape[1]
    notes: list[str] = []
    rb = _Builder(graph)
    if name == "proxylessnas-mobile":
        slots: dict[int, str] = graph.meta.get("ofa_slots") or {}
        if not slots:
            raise spec_error("repnet", graph, "no meta['ofa_slots'] to place the connectors")
        blk1 = graph.blocks[slots[1]]
        # m1: net-level avg-pool x2, module pool x4 (224 -> 28), k5 groups 1, 3 -> 8 -> 32, added to slot 1
        out1 = block_output(graph, blk1)
        rb.module("input", out1, graph.shape_of(out1)[0], _kernel(res // 4, kernel), 1, (2, 4),
                  graph.shape_of(out1)[1:], at_front=True)
        for slot, div in PROXYLESS_CONNECTORS.items():
            blk = graph.blocks[slots[slot]]
            out = block_output(graph, blk)
            rb.module(blk.input, out, graph.shape_of(out)[0], _kernel(res // div, kernel), 2, (2,),
                      graph.shape_of(out)[1:])
    elif name == "resnet50":
        # m0: avg-pool x4 on the image, module pool x2, k5 groups 1, 3 -> 8 -> 64, added after maxpool
        mp = next(n for n in graph if n.op == "pool" and n.attrs.get("kind") == "max")
        rb.module("input", mp.name, graph.shape_of(mp.name)[0], _kernel(res // 4, kernel), 1, (4, 2),
                  graph.shape_of(mp.name)[1:], at_front=True)
        for i, (stage, idx, div) in enumerate(RESNET_CONNECTORS):
            blk = graph.blocks[f"layer{stage}.{idx}"]
            out = block_output(graph, blk)
            rb.module(blk.input, out, graph.shape_of(out)[0], _kernel(res // div, kernel), 2, (2,),
                      graph.shape_of(out)[1:], twice=(i == 0))
        notes.append("ResNet-50 Rep-Net: module m1's output is added twice (code quirk of ResProgramNet, kept)")
    elif name == "mobilenetv2":
        irbs = irb_blocks(graph)  # features[1..17]
        if len(irbs) != 17:
            raise spec_error("repnet", graph, f"expected 17 inverted-residual blocks, found {len(irbs)}")
        feat = {i + 1: b for i, b in enumerate(irbs)}
        out2 = block_output(graph, feat[2])
        rb.module("input", out2, graph.shape_of(out2)[0], _kernel(res // 4, kernel), 1, (4, 2),
                  graph.shape_of(out2)[1:], at_front=True)
        for idx, div in MOBV2_CONNECTORS.items():
            blk = feat[idx]
            out = block_output(graph, blk)
            rb.module(blk.input, out, graph.shape_of(out)[0], _kernel(res // div, kernel), 2, (2,),
                      graph.shape_of(out)[1:])
        notes.append("UNVERIFIED (reference 5): the MobileNetV2 Rep-Net of the code puts features[14] (stride 2) "
                     "in its stride-1 branch, a shape mismatch; imcsim upsamples that branch to the block output "
                     "(the consistent reading), and the V2 training script is not in the repository")
    elif name == "digits-cnn":
        for reads, add_to, groups in DIGITS_CONNECTORS:
            in_hw, out_hw = graph.shape_of(reads)[1:], graph.shape_of(add_to)[1:]
            # pooled x2; 3x3 convs: the code keeps k = 5 except on its smallest (7x7) maps, and every
            # digits-cnn branch map (4x4, 2x2) is smaller than that
            k = 3 if in_hw[0] // 2 <= 7 else kernel
            rb.module(reads, add_to, graph.shape_of(add_to)[0], k, groups, (2,), out_hw, at_front=reads == "input")
        notes.append("digits-cnn Rep-Net: imcsim's connector table (image module into the stem output, then one "
                     "module per block: res1, down, sep1), 3x3 branch convs on the 4x4 and 2x2 pooled maps (D)")
    else:
        raise spec_error("repnet", graph, f"Rep-Net branches are defined for {', '.join(SUPPORTED)} only")
    return rb.current(), notes


@register("repnet", "Rep-Net (tiny-reprogram+bias): 6 parallel branch modules + classifier + backbone biases",
          RepNetOptions)
def repnet(graph: Graph, o: RepNetOptions) -> TrainingStep:
    g, notes = build_repnet_graph(graph, o.kernel)
    trainable: Trainable = {}
    if o.bias:
        all_biases(g, trainable)
    for n in g:
        if "repnet_branch" in n.tags and n.params:
            add_roles(trainable, n.name, *n.params)
    c = classifier(g)
    add_roles(trainable, c.name, *c.params)
    notes.append("Rep-Net branch weights placed in IMC arrays and written each update (imcsim default; the "
                 "SAS-MRAM paper's placement is unverified)")
    return build_step("repnet", g, trainable, options=o.model_dump(), notes=notes,
                      trained_weights_in=o.trained_weights_in)
