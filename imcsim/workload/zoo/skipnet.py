"""Parametric networks with long-range skip links: the search space of ``imcsim nas`` (FLASH-style).

A network is a stem, ``cells`` cells and a classifier. Cell ``c`` starts with a transition conv
(stride 1 in the first cell, 2 after) that gives ``x_0`` with ``channels[c]`` channels, then has
``depth[c]`` layers ``x_1 .. x_d``, all ``channels[c]`` wide. Layer ``i`` reads its predecessor
``x_{i-1}`` (the regular link) and, through long-range links, the ``skips[c]`` nearest earlier layers
``x_{i-2}, x_{i-3}, ...`` that exist (so layer ``i`` has ``min(skips, i - 1)`` long-range links).
This is the cell model of NN-Mass [NN-MASS], with the random choice of link sources replaced by the
nearest ones so that a candidate is one deterministic graph (an interpretation, see docs/nas.md).

How a layer combines its inputs is the ``kind``:
- ``densenet``: concatenation; ``conv kxk -> BN -> ReLU`` on the concatenated channels.
- ``resnet``: addition; ``conv kxk -> BN``, plus the long-range sources, then ReLU.
- ``mobilenet``: addition around an inverted residual (``1x1 expand -> dw kxk -> 1x1 project``,
  ReLU6, linear bottleneck).

``graph.meta["cells"]`` lists the layer-output nodes ``x_0 .. x_d`` of each cell: that is what
:mod:`imcsim.nas.degree` reads to compute NN-Degree from the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register

KINDS = ("densenet", "resnet", "mobilenet")


def per_cell(value: int | Sequence[int], cells: int, name: str) -> list[int]:
    """One int for every cell, or a list of ``cells`` ints; anything else is a ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer or a list of {cells} integers, got {value!r}")
    if isinstance(value, int):
        return [value] * cells
    vals = list(value)
    if len(vals) != cells or not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        raise ValueError(f"{name} must be an integer or a list of {cells} integers, got {value!r}")
    return vals


def skip_sources(i: int, skips: int) -> list[int]:
    """Indices of the long-range sources of layer ``i`` (1-based; ``x_0`` is the cell input)."""
    return [j for j in range(i - 2, -1, -1)][:skips]


@register("skipnet", "Parametric skip-link network (NAS space): densenet | resnet | mobilenet cells")
def skipnet(resolution: int = 32, classes: int = 10, kind: str = "densenet", cells: int = 3,
            depth: int | Sequence[int] = 4, channels: int | Sequence[int] = 16, skips: int | Sequence[int] = 1,
            kernel: int = 3, stem: int = 16, expand: int = 4) -> Graph:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}; allowed: {', '.join(KINDS)}")
    if cells < 1 or stem < 1 or expand < 1 or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"cells {cells}, stem {stem}, expand {expand} must be >= 1 and kernel {kernel} odd")
    depths, widths, links = (per_cell(depth, cells, "depth"), per_cell(channels, cells, "channels"),
                             per_cell(skips, cells, "skips"))
    if min(depths) < 1 or min(widths) < 1 or min(links) < 0:
        raise ValueError(f"depth {depths} and channels {widths} must be >= 1, skips {links} >= 0")
    b = GraphBuilder("skipnet", (3, resolution, resolution), resolution=resolution, classes=classes)
    with b.scope("stem"):
        x = b.act(b.norm(b.conv(b.input, stem, 3, name="conv", tags=("stem",)), "bn", name="bn"), "relu",
                  name="relu")
    cell_nodes: list[list[str]] = []
    for c, (d, w, t) in enumerate(zip(depths, widths, links)):
        with b.scope(f"cell{c}"):
            x = b.conv(x, w, 3, 1 if c == 0 else 2, name="trans.conv")
            x = b.act(b.norm(x, "bn", name="trans.bn"), "relu", name="trans.relu")
            outs = [x]
            for i in range(1, d + 1):
                srcs = [outs[j] for j in skip_sources(i, t)]
                outs.append(_layer(b, kind, f"layer{i}", outs[i - 1], srcs, w, kernel, expand))
            cell_nodes.append(outs)
            x = outs[-1]
    x = b.global_pool(x, "avg", name="pool")
    b.linear(x, classes, bias=True, name="fc", tags=("classifier",))
    g = b.build()
    g.meta.update(kind=kind, cells=cell_nodes, depth=depths, channels=widths, skips=links, kernel=kernel)
    return g


def _layer(b: GraphBuilder, kind: str, name: str, prev: str, srcs: list[str], w: int, k: int, expand: int) -> str:
    if kind == "densenet":
        with b.block(name, "dense", prev, None):
            inp = b.concat(prev, *srcs, name="concat") if srcs else prev
            return b.act(b.norm(b.conv(inp, w, k, name="conv"), "bn", name="bn"), "relu", name="relu")
    shortcut = "identity" if srcs else None
    if kind == "resnet":
        with b.block(name, "skip", prev, shortcut):
            y = b.norm(b.conv(prev, w, k, name="conv"), "bn", name="bn")
            if srcs:
                y = b.add(y, *srcs, name="add")
            return b.act(y, "relu", name="relu")
    with b.block(name, "irb", prev, shortcut):
        y = b.act(b.norm(b.conv(prev, w * expand, 1, name="expand", tags=("expand",)), "bn", name="expand_bn"),
                  "relu6", name="expand_act")
        y = b.conv(y, w * expand, k, groups=w * expand, name="dw", tags=("depthwise",))
        y = b.act(b.norm(y, "bn", name="dw_bn"), "relu6", name="dw_act")
        y = b.norm(b.conv(y, w, 1, name="project", tags=("project",)), "bn", name="project_bn")
        return b.add(y, *srcs, name="add") if srcs else y
