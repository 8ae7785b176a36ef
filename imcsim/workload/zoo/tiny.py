"""A tiny CNN for tests: small enough to account by hand, rich enough to exercise every rule.

It has a ResNet basic block (identity shortcut), an inverted residual block with a depthwise conv and
ReLU6 (stride 2, no shortcut), and an IRB with h-swish, squeeze-excite (sigmoid gate) and an identity
shortcut, then global pooling and a classifier. Default input 3 x 32 x 32, 10 classes: 4,826
parameters and 2,204,320 MACs (the arithmetic is in ``tests/test_workload_zoo.py``).
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register
from imcsim.workload.zoo._layers import conv_bn_act, inverted_residual


@register("tiny-cnn", "Tiny test CNN: residual block, depthwise IRBs, ReLU/ReLU6/h-swish/sigmoid, SE")
def tiny_cnn(resolution: int = 32, classes: int = 10) -> Graph:
    b = GraphBuilder("tiny-cnn", (3, resolution, resolution), resolution=resolution, classes=classes)
    with b.scope("stem"):
        x = conv_bn_act(b, b.input, 8, 3, 1, "relu", tags=("stem",))
    with b.block("res1", "basic", x, "identity"):
        y = b.act(b.norm(b.conv(x, 8, 3, name="conv1"), "bn", name="bn1"), "relu", name="relu1")
        y = b.norm(b.conv(y, 8, 3, name="conv2"), "bn", name="bn2")
        x = b.act(b.add(y, x, name="add"), "relu", name="relu2")
    x = inverted_residual(b, x, "irb1", 32, 16, 3, 2, act="relu6")
    x = inverted_residual(b, x, "irb2", 32, 16, 3, 1, act="hswish", se_ch=8, se_gate="sigmoid")
    x = b.global_pool(x, "avg", name="pool")
    b.linear(x, classes, bias=True, name="classifier", tags=("classifier",))
    return b.build()
