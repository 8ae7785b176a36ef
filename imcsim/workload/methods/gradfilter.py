"""Gradient filtering: train the last N convs with r x r patch-averaged output gradients.

Yang, Li, Marculescu, CVPR 2023, arXiv:2301.00330; code SLDGroup/GradientFilter-CVPR23
(``classification/custom_op/conv_avg.py``) [P]; [GRADFILTER].

Each trained conv stores x~ (its input summed over (r*s) x (r*s) patches: C_in * ceil(H_out/r) *
ceil(W_out/r) values) and theta~ (the kernel summed spatially, C_out x C_in/groups). Backward:
g_x = g~_y . theta~ per patch, g_theta = sum x~ . g~_y. BN is frozen. Memory convention: the stored
conv input only, fp32, per sample, KiB. ``patch: 1`` is vanilla BP of the same layers (full x).
"""

from __future__ import annotations

from math import ceil

from pydantic import Field

from imcsim.workload.graph import Graph, Node
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, classifier, spec_error
from imcsim.workload.step import StepOp, StoredTensor, TrainingStep, stored_nbytes


class GradFilterOptions(MethodOptions):
    patch: int = Field(2, ge=1, description="r: the output gradient is averaged over r x r patches")
    layers: int = Field(2, ge=1, description="#Layers: the last N conv layers are trained (torchvision module order)")
    train_classifier: bool = Field(False, description="also train the classifier (linear) layer")


def patch_positions(node: Node, r: int) -> int:
    _, ho, wo = node.out_shape
    return ceil(ho / r) * ceil(wo / r)


@register("gradient-filter", "gradient filtering: last N convs, r x r patch-averaged gradients, patch-summed inputs",
          GradFilterOptions)
def gradient_filter(graph: Graph, o: GradFilterOptions) -> TrainingStep:
    convs = graph.by_op("conv")
    if len(convs) < o.layers:
        raise spec_error("gradient-filter", graph, f"layers={o.layers} but the network has {len(convs)} convs")
    trained = convs[-o.layers:]
    names = {n.name for n in trained}
    trainable: Trainable = {n.name: {"weight"} for n in trained}
    if o.train_classifier:
        c = classifier(graph)
        add_roles(trainable, c.name, *c.params)
    stored: list[StoredTensor] = []
    r = o.patch
    for n in trained:
        if r == 1:
            stored.append(StoredTensor(n.name, n.in_elems, "fp32", stored_nbytes(n.in_elems, "fp32"), "input"))
        else:
            e = n.attrs["in_ch"] * patch_positions(n, r)
            stored.append(StoredTensor(n.name, e, "patch_sum", stored_nbytes(e, "patch_sum"), "patch-summed input"))
            ks = n.attrs["out_ch"] * n.attrs["in_ch"] // n.attrs["groups"]
            stored.append(StoredTensor(n.name, ks, "kernel_sum", stored_nbytes(ks, "kernel_sum"), "kernel sum"))
    if o.train_classifier:
        c = classifier(graph)
        stored.append(StoredTensor(c.name, c.in_elems, "fp32", stored_nbytes(c.in_elems, "fp32"), "input"))

    def override(node: Node, phase: str, default: list[StepOp]) -> list[StepOp]:
        if r == 1 or node.name not in names or phase not in ("backward_error", "weight_gradient") or not default:
            return default
        g = node.attrs["groups"]
        p = patch_positions(node, r)
        cin, cout = node.attrs["in_ch"] // g, node.attrs["out_ch"] // g
        if phase == "backward_error":  # g_x = g~_y . theta~ per patch, broadcast back over r*s x r*s
            return [StepOp(f"{node.name}:bwd_err", node.name, phase, "gemm", (g, p, cout, cin), g * p * cout * cin)]
        return [StepOp(f"{node.name}:wgrad:weight", node.name, phase, "gemm", (g, cin, p, cout), g * p * cout * cin)]

    notes = [f"gradient filtering r={r}: memory convention = stored conv input only (fp32, KiB); BN frozen"]
    return build_step("gradient-filter", graph, trainable, options=o.model_dump(), notes=notes, stored=stored,
                      require_backward=True, convention="gradient-filter", override=override,
                      trained_weights_in=o.trained_weights_in)
