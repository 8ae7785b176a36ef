"""Building blocks shared by the mobile networks of the zoo (MobileNetV2/V3, ProxylessNAS, tiny CNN).

One inverted-residual-block (IRB) builder serves all of them so the node names and tags that method
transforms look for (``<block>.expand``, ``<block>.dw``, ``<block>.project``; tags ``expand``,
``depthwise``, ``project``) are the same in every network.
"""

from __future__ import annotations

from imcsim.workload.graph import GraphBuilder


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, never more than 10 % below ``v``.

    This is torchvision's ``_make_divisible`` (also used by OFA/tinyml for ProxylessNAS), which the
    published channel counts and therefore the parameter totals depend on.
    """
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_act(b: GraphBuilder, x: str, out_ch: int, kernel: int, stride: int = 1, act: str | None = "relu6",
                prefix: str = "", tags: tuple[str, ...] = ()) -> str:
    """conv (no bias) -> BN -> activation, named ``<prefix>conv``, ``<prefix>bn``, ``<prefix>act``."""
    y = b.conv(x, out_ch, kernel, stride, name=f"{prefix}conv", tags=tags)
    y = b.norm(y, "bn", name=f"{prefix}bn")
    return b.act(y, act, name=f"{prefix}act") if act else y


def inverted_residual(b: GraphBuilder, x: str, name: str, mid_ch: int, out_ch: int, kernel: int, stride: int,
                      act: str = "relu6", se_ch: int | None = None, se_gate: str = "hsigmoid",
                      allow_residual: bool = True) -> str:
    """One IRB: [expand 1x1 -> BN -> act] -> dw kxk -> BN -> act -> [squeeze-excite] -> project 1x1 -> BN.

    The expand conv is left out when ``mid_ch`` equals the input width (MobileNetV2's t = 1 block,
    ProxylessNAS MB1, MobileNetV3's first block). The block has an identity shortcut when stride is 1
    and the widths match (and ``allow_residual``), else none (``shortcut=None``).
    Squeeze-excite (``se_ch`` set) is global avg-pool -> FC -> ReLU -> FC -> gate -> scale; the FCs are
    linear nodes on the pooled ``(C,)`` vector, which has the parameters and MACs of torchvision's 1x1
    convs on ``(C, 1, 1)``.
    """
    in_ch = b.shape(x)[0]
    residual = allow_residual and stride == 1 and in_ch == out_ch
    with b.block(name, "irb", x, "identity" if residual else None):
        y = x
        if mid_ch != in_ch:
            y = b.conv(y, mid_ch, 1, name="expand", tags=("expand",))
            y = b.act(b.norm(y, "bn", name="expand_bn"), act, name="expand_act")
        y = b.conv(y, mid_ch, kernel, stride, groups=mid_ch, name="dw", tags=("depthwise",))
        y = b.act(b.norm(y, "bn", name="dw_bn"), act, name="dw_act")
        if se_ch is not None:
            with b.block("se", "squeeze_excite", y, None):
                s = b.global_pool(y, "avg", name="pool")
                s = b.act(b.linear(s, se_ch, bias=True, name="fc1", tags=("se",)), "relu", name="relu")
                s = b.act(b.linear(s, mid_ch, bias=True, name="fc2", tags=("se",)), se_gate, name="gate")
                y = b.mul(y, s, name="scale")
        y = b.conv(y, out_ch, 1, name="project", tags=("project",))
        y = b.norm(y, "bn", name="project_bn")
        if residual:
            y = b.add(y, x, name="add")
    return y
