"""The CIFAR-size networks of the spiking-network papers DT-SNN and SEENN ([DTSNN], [SEENN]), as CNN graphs.

Layouts follow the authors' published code ([SEENN-CODE], ``models/resnet.py``, ``models/spike_vgg.py``):
every ``act`` node (ReLU here) is where the SNN has a LIF neuron, so :mod:`imcsim.snn` turns these
graphs into spiking networks and the engine prices them as INT8 CNNs of the same shape.

- ``resnet19``: 3x3 stem conv (stride 1) to 16 x ``width`` channels (the code's width_mult), BN, neuron;
  pre-activation basic blocks in three stages [3, 3, 2] of 1x, 2x, 4x the stem width (8: 128/256/512); a
  projection shortcut is a stride-sized average pool, then a 1x1 conv and BN; global average pool, FC.
- ``vgg16-cifar``: configuration D (13 3x3 convs with bias, BN, neuron) with 2x2 **average** pools and
  no pool after the last stage, then a global average pool and a single FC of 512 inputs.
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register

#: VGG-16 configuration D as the SEENN code lists it (no pool after the last stage).
CFG_D_SNN: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                                    512, 512, 512)


def _preact_basic(b: GraphBuilder, x: str, name: str, out_ch: int, stride: int) -> str:
    in_ch = b.shape(x)[0]
    project = stride != 1 or in_ch != out_ch
    with b.block(name, "basic", x, "projection" if project else "identity"):
        y = b.act(b.norm(b.conv(x, out_ch, 3, stride, name="conv1"), "bn", name="bn1"), "relu", name="spike1")
        y = b.norm(b.conv(y, out_ch, 3, 1, name="conv2"), "bn", name="bn2")
        s = x
        if project:
            if stride != 1:
                s = b.pool(s, "avg", stride, stride, name="downsample.0")
            s = b.norm(b.conv(s, out_ch, 1, 1, name="downsample.1"), "bn", name="downsample.2")
        return b.act(b.add(y, s, name="add"), "relu", name="spike2")


@register("resnet19", "ResNet-19 of the DT-SNN/SEENN code (pre-activation basic blocks [3,3,2]), 32x32")
def resnet19(resolution: int = 32, classes: int = 10, width: float = 8) -> Graph:
    if width < 1 or int(width) != width:
        raise ValueError(f"width {width} is not a whole number >= 1")
    b = GraphBuilder("resnet19", (3, resolution, resolution), resolution=resolution, classes=classes,
                     width=width)
    w0 = 16 * int(width)
    x = b.act(b.norm(b.conv(b.input, w0, 3, 1, name="conv1", tags=("stem",)), "bn", name="bn"), "relu",
              name="spike")
    for stage, (n, mult) in enumerate(zip((3, 3, 2), (1, 2, 4)), start=1):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            x = _preact_basic(b, x, f"layer{stage}.{i}", w0 * mult, stride)
    x = b.flatten(b.global_pool(x, "avg", name="avgpool"), name="flatten")
    b.linear(x, classes, bias=True, name="fc1", tags=("classifier",))
    return b.build()


@register("vgg16-cifar", "VGG-16 (config D) of the DT-SNN/SEENN code: avg pools, BN, one FC, 32x32")
def vgg16_cifar(resolution: int = 32, classes: int = 10) -> Graph:
    b = GraphBuilder("vgg16-cifar", (3, resolution, resolution), resolution=resolution, classes=classes)
    x, i = b.input, 0
    for v in CFG_D_SNN:
        if v == "M":
            x = b.pool(x, "avg", 2, 2, name=f"features.{i}")
            i += 1
            continue
        x = b.conv(x, int(v), 3, 1, bias=True, name=f"features.{i}", tags=("stem",) if i == 0 else ())
        x = b.norm(x, "bn", name=f"features.{i + 1}")
        x = b.act(x, "relu", name=f"features.{i + 2}")
        i += 3
    x = b.flatten(b.global_pool(x, "avg", name="avgpool"), name="flatten")
    b.linear(x, classes, bias=True, name="classifier.0", tags=("classifier",))
    return b.build()
