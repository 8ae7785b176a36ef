"""VGG-16 (torchvision layout, configuration "D"), optionally with batch norm.

Published torchvision totals at 224 [P: torchvision ``VGG16_Weights`` / ``VGG16_BN_Weights`` docs]:
vgg16 138,357,544 parameters, 15.47 GFLOPS (MACs); vgg16_bn 138,365,992 parameters.
3x3 convs with bias and "same" padding, 2x2 max pools, adaptive average pool to 7x7, then
Linear 25088 -> 4096 -> 4096 -> classes with ReLU and dropout. Names follow torchvision's
``features.<i>`` indices and ``classifier.0/3/6``.

The adaptive pool to 7x7 is an identity at 224 (the last feature map is 7x7). At other resolutions it
is represented by a k x k average pool when the map is a multiple of 7 (k = H / 7) and by a nearest
upsample when it is smaller than 7 (adaptive pooling then replicates values); other sizes are refused.
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register

CFG_D: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                                512, 512, 512, "M")


@register("vgg16", "VGG-16 (torchvision, config D), optional batch norm (bn=True)")
def vgg16(resolution: int = 224, classes: int = 1000, bn: bool = False, dropout: float = 0.5) -> Graph:
    b = GraphBuilder("vgg16_bn" if bn else "vgg16", (3, resolution, resolution), resolution=resolution,
                     classes=classes, bn=bn)
    x, i = b.input, 0
    for v in CFG_D:
        if v == "M":
            x = b.pool(x, "max", 2, 2, name=f"features.{i}")
            i += 1
            continue
        x = b.conv(x, int(v), 3, 1, bias=True, name=f"features.{i}", tags=("stem",) if i == 0 else ())
        i += 1
        if bn:
            x = b.norm(x, "bn", name=f"features.{i}")
            i += 1
        x = b.act(x, "relu", name=f"features.{i}")
        i += 1
    c, h, w = b.shape(x)
    if h != w:
        raise ValueError(f"feature map {h}x{w} is not square")
    if h > 7 and h % 7 == 0:
        x = b.pool(x, "avg", h // 7, name="avgpool")
    elif h < 7:
        x = b.upsample(x, (7, 7), "nearest", name="avgpool")
    elif h != 7:
        raise ValueError(f"last feature map {h}x{h} cannot be adaptively pooled to 7x7 as a regular pool; "
                         "use a resolution of 32*7*k or below 224")
    x = b.flatten(x, name="flatten")
    x = b.act(b.linear(x, 4096, name="classifier.0"), "relu", name="classifier.1")
    x = b.dropout(x, dropout, name="classifier.2")
    x = b.act(b.linear(x, 4096, name="classifier.3"), "relu", name="classifier.4")
    x = b.dropout(x, dropout, name="classifier.5")
    b.linear(x, classes, name="classifier.6", tags=("classifier",))
    return b.build()
