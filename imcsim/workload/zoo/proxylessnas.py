"""ProxylessNAS-Mobile: the TinyTL / Rep-Net / MobileTL backbone.

[PROXYLESSNAS] [P: mit-han-lab/tinyml ``netaug/models/base/proxylessnas.py``;
block-slot mapping from OFA ``ProxylessNASNets``]. Node names follow OFA: ``first_conv``, ``blocks.<i>``
(i = 0..19, the real blocks), ``feature_mix_layer``, ``classifier``.

OFA indexes 22 block *slots*: the 32-channel stage has four, of which slots 3 and 4 are "zero" (skip)
layers. Rep-Net's connectors are given as OFA slots (1, 5, 9, 13, 17, 21), so the graph records
``meta["ofa_slots"]`` = {slot: block name} for the 20 real blocks and ``meta["ofa_zero_slots"]`` = (3, 4).
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register
from imcsim.workload.zoo._layers import conv_bn_act, inverted_residual, make_divisible

#: (width, expand ratios, kernels, first stride) per stage after MB1 [P, section 11.3].
STAGES: tuple[tuple[int, tuple[int, ...], tuple[int, ...], int], ...] = (
    (32, (3, 3), (5, 3), 2),
    (40, (3, 3, 3, 3), (7, 3, 5, 5), 2),
    (80, (6, 3, 3, 3), (7, 5, 5, 5), 2),
    (96, (6, 3, 3, 3), (5, 5, 5, 5), 1),
    (192, (6, 6, 3, 3), (7, 7, 7, 7), 2),
)
#: OFA allots 4 slots to every stage; the 32-stage uses 2 of them, so slots 3 and 4 are zero layers.
OFA_SLOTS_PER_STAGE = 4


@register("proxylessnas-mobile", "ProxylessNAS-Mobile (OFA/tinyml), MB blocks with ReLU6; TinyTL/Rep-Net backbone")
def proxylessnas_mobile(resolution: int = 224, classes: int = 1000, dropout: float = 0.1) -> Graph:
    b = GraphBuilder("proxylessnas-mobile", (3, resolution, resolution), resolution=resolution, classes=classes)
    with b.scope("first_conv"):
        x = conv_bn_act(b, b.input, 32, 3, 2, "relu6", tags=("stem",))
    # MB1: depthwise 3x3 on 32 channels, then project to 16 (no expand conv, no residual).
    x = inverted_residual(b, x, "blocks.0", 32, 16, 3, 1)
    slots: dict[int, str] = {0: "blocks.0"}
    in_ch, idx = 16, 1
    for stage, (width, expands, kernels, first_stride) in enumerate(STAGES):
        for i, (e, k) in enumerate(zip(expands, kernels)):
            mid = make_divisible(round(e * in_ch), 8)
            name = f"blocks.{idx}"
            x = inverted_residual(b, x, name, mid, width, k, first_stride if i == 0 else 1)
            slots[1 + stage * OFA_SLOTS_PER_STAGE + i] = name
            in_ch, idx = width, idx + 1
    # Final MB6 k7 192 -> 320, stride 1, no residual (widths differ): OFA slot 21.
    name = f"blocks.{idx}"
    x = inverted_residual(b, x, name, make_divisible(round(6 * in_ch), 8), 320, 7, 1)
    slots[1 + len(STAGES) * OFA_SLOTS_PER_STAGE] = name
    with b.scope("feature_mix_layer"):
        x = conv_bn_act(b, x, 1280, 1, 1, "relu6")
    x = b.global_pool(x, "avg", name="global_avg_pool")
    x = b.dropout(x, dropout, name="dropout")
    b.linear(x, classes, bias=True, name="classifier", tags=("classifier",))
    g = b.build()
    g.meta["ofa_slots"] = slots
    g.meta["ofa_zero_slots"] = (3, 4)
    return g
