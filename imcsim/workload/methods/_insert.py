"""Graph surgery for methods that add modules (lite residuals, Rep-Net branches, adapters).

New modules are built with :class:`GraphBuilder` on a stand-in input of the right shape (so shapes,
parameters and MACs are inferred the usual way), renamed under a prefix, and spliced into the node
list after an anchor node; consumers of the anchor's output are rewired to the new sum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from imcsim.workload.graph import Block, Graph, GraphBuilder, Node, Shape


def make_divisible(v: float, divisor: int = 8) -> int:
    """OFA/torchvision channel rounding (the lite-residual and Rep-Net mid widths use it)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def subgraph(prefix: str, input_name: str, input_shape: Shape, build: Callable[[GraphBuilder, str], str],
             block: str | None, tags: Sequence[str] = ()) -> tuple[list[Node], str]:
    """Build a module on ``input_name`` and return its nodes (named ``<prefix>.<local>``) and output."""
    b = GraphBuilder(prefix, input_shape)
    with b.tagged(*tags):
        out_local = build(b, b.input)

    def rename(n: str) -> str:
        return input_name if n == "input" else f"{prefix}.{n}"

    nodes = [replace(n, name=rename(n.name), inputs=tuple(rename(i) for i in n.inputs), block=block) for n in b.nodes]
    return nodes, rename(out_local)


def add_node(name: str, inputs: Sequence[str], shape: Shape, block: str | None, tags: Sequence[str] = (),
             **attrs: object) -> Node:
    return Node(name, "add", tuple(inputs), tuple(shape), tuple(shape), dict(attrs), {}, 0, block, frozenset(tags))


def splice(nodes: list[Node], after: str | None, new: Sequence[Node], rewire_from: str | None = None,
           rewire_to: str | None = None) -> list[Node]:
    """Insert ``new`` after node ``after`` (at the front when None); later nodes that read
    ``rewire_from`` read ``rewire_to`` instead."""
    idx = 0 if after is None else next(i for i, n in enumerate(nodes) if n.name == after) + 1
    tail = nodes[idx:]
    if rewire_from is not None:
        tail = [replace(n, inputs=tuple(rewire_to if i == rewire_from else i for i in n.inputs)) for n in tail]
    return nodes[:idx] + list(new) + tail


def splice_many(nodes: Sequence[Node], insertions: dict[str, tuple[Sequence[Node], str]]) -> list[Node]:
    """Insert many modules in one pass: ``insertions[anchor] = (new_nodes, output)`` puts ``new_nodes``
    right after ``anchor``, and later original nodes that read ``anchor`` read ``output`` instead.

    Equal to ``splice(nodes, anchor, new, anchor, output)`` called once per anchor in node order
    (the new nodes themselves are never rewired, as with successive splices), in O(nodes) instead of
    O(anchors x nodes): LoRA-style methods insert hundreds of adapters into graphs of thousands of nodes.
    """
    order = {n.name: i for i, n in enumerate(nodes)}
    missing = [a for a in insertions if a not in order]
    if missing:
        raise KeyError(f"anchor node(s) not in the graph: {', '.join(missing[:3])}")
    positions = [order[a] for a in insertions]
    if positions != sorted(positions):
        raise ValueError("splice_many: insertions must be given in node order")
    out: list[Node] = []
    renamed: dict[str, str] = {}
    for n in nodes:
        if renamed and any(i in renamed for i in n.inputs):
            n = replace(n, inputs=tuple(renamed.get(i, i) for i in n.inputs))
        out.append(n)
        ins = insertions.get(n.name)
        if ins is not None:
            new, output = ins
            out.extend(new)
            renamed[n.name] = output
    return out


def block_main_output(graph: Graph, blk: Block) -> str:
    """The block's main-branch output: the non-shortcut input of its shortcut add, else its last node."""
    members = [graph[n] for n in blk.nodes if n in graph]
    if blk.shortcut == "identity":
        for n in reversed(members):
            if n.op == "add" and blk.input in n.inputs:
                others = [i for i in n.inputs if i != blk.input]
                if others:
                    return others[0]
    return members[-1].name


def block_output(graph: Graph, blk: Block) -> str:
    members = [n for n in blk.nodes if n in graph]
    return members[-1]


def with_blocks(graph: Graph, nodes: list[Node], new_blocks: dict[str, Block], **meta: object) -> Graph:
    blocks = dict(graph.blocks)
    blocks.update(new_blocks)
    return graph.with_nodes(nodes, blocks, **meta)
