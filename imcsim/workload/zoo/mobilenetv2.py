"""MobileNetV2 (torchvision layout), with width multiplier.

[MOBILENETV2] (1.0 @224: 3,504,872 parameters incl. 34,112 BN,
300,774,272 MACs). Channel rounding is torchvision's ``_make_divisible(c * width, 8)``; the last
conv keeps at least 1280 channels (``1280 * max(1, width)``), and hidden widths are
``int(round(C_in * t))``, as in torchvision ``mobilenetv2.py``.
Names: ``features.0`` (stem: ``.conv/.bn/.act``), ``features.1``..``features.17`` (IRB blocks with
``.expand``, ``.dw``, ``.project``), ``features.18`` (last conv), ``classifier``.
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register
from imcsim.workload.zoo._layers import conv_bn_act, inverted_residual, make_divisible

#: (expansion t, output channels c, repeats n, first stride s) [P: torchvision; reference 11.2].
SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


@register("mobilenetv2", "MobileNetV2 (torchvision), ReLU6 inverted residual blocks; width multiplier option")
def mobilenetv2(resolution: int = 224, classes: int = 1000, width: float = 1.0, dropout: float = 0.2) -> Graph:
    if width <= 0:
        raise ValueError(f"width multiplier {width} must be > 0")
    name = "mobilenetv2" if width == 1.0 else f"mobilenetv2-w{width:g}"
    b = GraphBuilder(name, (3, resolution, resolution), resolution=resolution, classes=classes, width=width)
    in_ch = make_divisible(32 * width, 8)
    last_ch = make_divisible(1280 * max(1.0, width), 8)
    with b.scope("features.0"):
        x = conv_bn_act(b, b.input, in_ch, 3, 2, "relu6", tags=("stem",))
    idx = 1
    for t, c, n, s in SETTING:
        out_ch = make_divisible(c * width, 8)
        for i in range(n):
            hidden = int(round(in_ch * t))
            x = inverted_residual(b, x, f"features.{idx}", hidden, out_ch, 3, s if i == 0 else 1)
            in_ch, idx = out_ch, idx + 1
    with b.scope(f"features.{idx}"):
        x = conv_bn_act(b, x, last_ch, 1, 1, "relu6")
    x = b.global_pool(x, "avg", name="avgpool")
    x = b.dropout(x, dropout, name="dropout")
    b.linear(x, classes, bias=True, name="classifier", tags=("classifier",))
    return b.build()
