"""MobileNetV3-Large (torchvision layout): a Rep-Net backbone option (reference section 5).

The reference has no recomputed totals for it (section 11.1 marks it U); the published torchvision
figures are 5,483,032 parameters and 0.22 GFLOPS (MACs) at 224 [P: torchvision
``MobileNet_V3_Large_Weights.IMAGENET1K_V1`` docs]. Layout from torchvision ``mobilenetv3.py``:
h-swish stem, 15 bneck blocks (ReLU or h-swish, optional squeeze-excite with a hard-sigmoid gate,
squeeze width ``_make_divisible(expanded // 4, 8)``), last conv 960, then Linear 960 -> 1280, h-swish,
dropout, Linear 1280 -> classes. Names: ``features.0`` (stem), ``features.1``..``features.15`` (IRBs
with ``.expand``/``.dw``/``.se``/``.project``), ``features.16`` (last conv), ``classifier.0``,
``classifier.3`` (the final FC, tagged ``classifier``).
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register
from imcsim.workload.zoo._layers import conv_bn_act, inverted_residual, make_divisible

#: (kernel, expanded, out, use_se, activation, stride) per bneck, input widths follow [P: torchvision].
BNECK: tuple[tuple[int, int, int, bool, str, int], ...] = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hswish", 2),
    (3, 200, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1),
    (3, 480, 112, True, "hswish", 1),
    (3, 672, 112, True, "hswish", 1),
    (5, 672, 160, True, "hswish", 2),
    (5, 960, 160, True, "hswish", 1),
    (5, 960, 160, True, "hswish", 1),
)


@register("mobilenetv3-large", "MobileNetV3-Large (torchvision), h-swish, squeeze-excite; width option")
def mobilenetv3_large(resolution: int = 224, classes: int = 1000, width: float = 1.0,
                      dropout: float = 0.2) -> Graph:
    if width <= 0:
        raise ValueError(f"width multiplier {width} must be > 0")

    def adjust(c: int) -> int:
        return make_divisible(c * width, 8)

    name = "mobilenetv3-large" if width == 1.0 else f"mobilenetv3-large-w{width:g}"
    b = GraphBuilder(name, (3, resolution, resolution), resolution=resolution, classes=classes, width=width)
    with b.scope("features.0"):
        x = conv_bn_act(b, b.input, adjust(16), 3, 2, "hswish", tags=("stem",))
    for i, (k, exp, out, se, act, s) in enumerate(BNECK, start=1):
        mid = adjust(exp)
        se_ch = make_divisible(mid // 4, 8) if se else None
        x = inverted_residual(b, x, f"features.{i}", mid, adjust(out), k, s, act=act, se_ch=se_ch,
                              se_gate="hsigmoid")
    last_conv = 6 * b.shape(x)[0]
    with b.scope(f"features.{len(BNECK) + 1}"):
        x = conv_bn_act(b, x, last_conv, 1, 1, "hswish")
    x = b.global_pool(x, "avg", name="avgpool")
    x = b.act(b.linear(x, adjust(1280), bias=True, name="classifier.0"), "hswish", name="classifier.1")
    x = b.dropout(x, dropout, name="classifier.2")
    b.linear(x, classes, bias=True, name="classifier.3", tags=("classifier",))
    return b.build()
