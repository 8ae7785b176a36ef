"""ResNet-18/34/50 (torchvision layout), [RESNET]."""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register


def _basic(b: GraphBuilder, x: str, name: str, out_ch: int, stride: int) -> str:
    in_ch = b.shape(x)[0]
    project = stride != 1 or in_ch != out_ch
    with b.block(name, "basic", x, "projection" if project else "identity"):
        y = b.conv(x, out_ch, 3, stride, name="conv1")
        y = b.norm(y, "bn", name="bn1")
        y = b.act(y, "relu", name="relu1")
        y = b.conv(y, out_ch, 3, 1, name="conv2")
        y = b.norm(y, "bn", name="bn2")
        s = x
        if project:
            s = b.conv(x, out_ch, 1, stride, name="downsample.0")
            s = b.norm(s, "bn", name="downsample.1")
        y = b.add(y, s, name="add")
        return b.act(y, "relu", name="relu2")


def _bottleneck(b: GraphBuilder, x: str, name: str, mid: int, stride: int) -> str:
    in_ch, out_ch = b.shape(x)[0], mid * 4
    project = stride != 1 or in_ch != out_ch
    with b.block(name, "bottleneck", x, "projection" if project else "identity"):
        y = b.act(b.norm(b.conv(x, mid, 1, name="conv1"), "bn", name="bn1"), "relu", name="relu1")
        y = b.act(b.norm(b.conv(y, mid, 3, stride, name="conv2"), "bn", name="bn2"), "relu", name="relu2")
        y = b.norm(b.conv(y, out_ch, 1, name="conv3"), "bn", name="bn3")
        s = x
        if project:
            s = b.norm(b.conv(x, out_ch, 1, stride, name="downsample.0"), "bn", name="downsample.1")
        return b.act(b.add(y, s, name="add"), "relu", name="relu3")


def _resnet(name: str, blocks: list[int], bottleneck: bool, resolution: int, classes: int) -> Graph:
    b = GraphBuilder(name, (3, resolution, resolution), resolution=resolution, classes=classes)
    x = b.conv(b.input, 64, 7, 2, padding=3, name="conv1", tags=("stem",))
    x = b.act(b.norm(x, "bn", name="bn1"), "relu", name="relu")
    x = b.pool(x, "max", 3, 2, padding=1, name="maxpool")
    widths = [64, 128, 256, 512]
    for stage, (n, width) in enumerate(zip(blocks, widths), start=1):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            blk = f"layer{stage}.{i}"
            x = _bottleneck(b, x, blk, width, stride) if bottleneck else _basic(b, x, blk, width, stride)
    x = b.global_pool(x, "avg", name="avgpool")
    b.linear(x, classes, bias=True, name="fc", tags=("classifier",))
    return b.build()


@register("resnet18", "ResNet-18 (torchvision), BasicBlocks [2,2,2,2]")
def resnet18(resolution: int = 224, classes: int = 1000) -> Graph:
    return _resnet("resnet18", [2, 2, 2, 2], False, resolution, classes)


@register("resnet34", "ResNet-34 (torchvision), BasicBlocks [3,4,6,3]")
def resnet34(resolution: int = 224, classes: int = 1000) -> Graph:
    return _resnet("resnet34", [3, 4, 6, 3], False, resolution, classes)


@register("resnet50", "ResNet-50 (torchvision), Bottlenecks [3,4,6,3]")
def resnet50(resolution: int = 224, classes: int = 1000) -> Graph:
    return _resnet("resnet50", [3, 4, 6, 3], True, resolution, classes)
