"""MobileTL: fine-tune the top N inverted-residual blocks with cheap norms and 1-bit activation masks.

Chiang, Frumkin, Liang, Marculescu, AAAI 2023, arXiv:2212.03246 (abstract and project page; code not
available) [P rules, U per-block accounting]; [MOBILETL].

In each trained IRB: conv weights trained; the two internal norms (after expand and depthwise) train
their shift only and store nothing; the last norm trains scale, shift and statistics (stores its
input fp32); ReLU6/h-swish backward is a sign/step, so each stores a 1-bit mask. Stored per block:
the inputs of the trained convs (fp32), the last-norm input (fp32), one mask per activation; a
tensor that is both an activation output and the next conv's input is stored once (as that conv's
input). No backward below the lowest trained block.
"""

from __future__ import annotations

from pydantic import Field

from imcsim.workload.graph import Graph
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, classifier, spec_error
from imcsim.workload.methods.tinytl import irb_blocks
from imcsim.workload.step import StoredTensor, TrainingStep, stored_nbytes

MASKED_ACTS = ("relu", "relu6", "hswish", "hsigmoid")


class MobileTLOptions(MethodOptions):
    blocks: int = Field(5, ge=1, description="top inverted-residual blocks trained ('fine-tuning 5 blocks') [P]")


@register("mobiletl", "MobileTL: top N IRBs (shift-only internal norms, 1-bit activation masks) + head",
          MobileTLOptions)
def mobiletl(graph: Graph, o: MobileTLOptions) -> TrainingStep:
    irbs = irb_blocks(graph)
    if not irbs:
        raise spec_error("mobiletl", graph, "needs inverted-residual blocks (IRB); found none")
    if o.blocks > len(irbs):
        raise spec_error("mobiletl", graph, f"blocks={o.blocks} but the network has {len(irbs)} IRBs")
    top = irbs[-o.blocks:]
    first_node = graph.index(next(n for n in top[0].nodes if n in graph))
    in_top = {n for b in top for n in b.nodes}
    trainable: Trainable = {}
    stored: list[StoredTensor] = []

    def keep(node: str, elems: int, form: str, what: str) -> None:
        stored.append(StoredTensor(node, elems, form, stored_nbytes(elems, form), what))

    for blk in top:
        members = [graph[n] for n in blk.nodes if n in graph]
        norms = [n for n in members if n.op == "norm"]
        last_norm = norms[-1] if norms else None
        for n in members:
            if n.op in ("conv", "linear"):
                add_roles(trainable, n.name, *n.params)
                keep(n.name, n.in_elems, "fp32", "input")
            elif n.op == "norm" and n.params:
                if n is last_norm:
                    add_roles(trainable, n.name, *n.params)
                    keep(n.name, n.in_elems, "fp32", "input")
                elif "shift" in n.params:
                    add_roles(trainable, n.name, "shift")  # internal norm: shift only, stores nothing
            elif n.op == "act":
                kind = n.attrs.get("kind")
                if kind in MASKED_ACTS:
                    keep(n.name, n.in_elems, "mask1", "mask (sign/step backward)")
                else:  # sigmoid gates of squeeze-excite keep their input (no MobileTL rule for them)
                    keep(n.name, n.in_elems, "fp32", "input")
    # the head above the trained blocks (feature-mix conv, norms, classifier) is trained normally
    # (interpretation: "fine-tune the top of the network")
    for n in graph.nodes[first_node:]:
        if n.name in in_top or not n.params:
            continue
        add_roles(trainable, n.name, *n.params)
        if n.op in ("conv", "linear") or (n.op == "norm" and "scale" in n.params):
            keep(n.name, n.in_elems, "fp32", "input")
    for n in graph.nodes[first_node:]:
        if n.name not in in_top and n.op == "act" and n.attrs.get("kind") in MASKED_ACTS:
            keep(n.name, n.in_elems, "mask1", "mask (sign/step backward)")
    c = classifier(graph)
    add_roles(trainable, c.name, *c.params)
    notes = ["MobileTL: per-block accounting from the paper's rules (its tables are unverified); layers above "
             "the trained blocks (head conv, classifier) are trained normally (imcsim interpretation)"]
    return build_step("mobiletl", graph, trainable, options=o.model_dump(), notes=notes, stored=stored,
                      require_backward=True, trained_weights_in=o.trained_weights_in)
