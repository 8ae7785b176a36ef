"""A small CNN for the 8x8 handwritten digits that ``imcsim train`` and ``imcsim infer`` execute.

Stem conv, a ResNet basic block (identity shortcut), a strided conv, a depthwise-separable pair with
ReLU6, global average pooling and the classifier: every op kind the executor runs on the arrays
(dense, depthwise and 1x1 convs, a linear layer) and on the digital unit (batch norm folded, ReLU,
ReLU6, residual add, pooling). Input 1 x 8 x 8, 10 classes.
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register
from imcsim.workload.zoo._layers import conv_bn_act


@register("digits-cnn", "Small CNN for the 8x8 digits: basic residual block, depthwise-separable pair, ReLU6")
def digits_cnn(resolution: int = 8, classes: int = 10, width: int = 16) -> Graph:
    b = GraphBuilder("digits-cnn", (1, resolution, resolution), resolution=resolution, classes=classes)
    with b.scope("stem"):
        x = conv_bn_act(b, b.input, width, 3, 1, "relu", tags=("stem",))
    with b.block("res1", "basic", x, "identity"):
        y = b.act(b.norm(b.conv(x, width, 3, name="conv1"), "bn", name="bn1"), "relu", name="relu1")
        y = b.norm(b.conv(y, width, 3, name="conv2"), "bn", name="bn2")
        x = b.act(b.add(y, x, name="add"), "relu", name="relu2")
    with b.scope("down"):
        x = conv_bn_act(b, x, 2 * width, 3, 2, "relu")
    with b.block("sep1", "separable", x, None):
        y = b.act(b.norm(b.conv(x, 2 * width, 3, groups=2 * width, name="dw", tags=("depthwise",)), "bn",
                         name="dw_bn"), "relu6", name="dw_act")
        x = b.act(b.norm(b.conv(y, 2 * width, 1, name="pw"), "bn", name="pw_bn"), "relu6", name="pw_act")
    x = b.global_pool(x, "avg", name="pool")
    b.linear(x, classes, bias=True, name="classifier", tags=("classifier",))
    return b.build()
