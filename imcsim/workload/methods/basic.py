"""Inference and the fine-tuning baselines: full, last, norm+last, bias (TinyTL-B).

Trainable sets follow ``tinytl_fgvc_train.py`` / ``tiny_train_repnet.py`` [P] (reference sections 3
and 4). On ProxylessNAS-Mobile (``network: auto``) they run on the TinyTL network -- GN and frozen
lite residuals -- because that is how TinyTL measured them (reference 1.3); ``network: plain`` runs
them on the bare backbone (Rep-Net's baselines use the plain BN network).
"""

from __future__ import annotations

from pydantic import Field

from imcsim.workload.graph import Graph
from imcsim.workload.methods import MethodOptions, register
from imcsim.workload.methods._core import Trainable, add_roles, build_step, classifier
from imcsim.workload.methods.tinytl import NetworkChoice, all_biases, tinytl_network, use_tinytl_network
from imcsim.workload.step import TrainingStep


class BaselineOptions(MethodOptions):
    network: NetworkChoice = Field("auto", description="auto: the TinyTL network (GN, lite residuals) when the backbone is ProxylessNAS-Mobile, as TinyTL measured its baselines; tinytl or plain to force one")


def _net(graph: Graph, o: BaselineOptions) -> tuple[Graph, list[str]]:
    if use_tinytl_network(graph, o.network):
        return tinytl_network(graph), ["runs on the TinyTL network (GN 8 ch/group, 19 lite residuals present, "
                                       "frozen unless trained), "
                                       "as TinyTL measured it (reference 1.3)"]
    return graph, []


def _classifier_roles(graph: Graph, trainable: Trainable) -> None:
    c = classifier(graph)
    add_roles(trainable, c.name, *c.params)


@register("inference", "forward only: no trainable parameters, nothing stored, no writes")
def inference(graph: Graph, o: MethodOptions) -> TrainingStep:
    return build_step("inference", graph, {}, options=o.model_dump(), require_backward=False)


@register("full", "FT-Full: every parameter trained, error to layer 1", BaselineOptions)
def full(graph: Graph, o: BaselineOptions) -> TrainingStep:
    graph, notes = _net(graph, o)
    # set_module_grad_status(net, True): every parameter, lite residuals included
    trainable: Trainable = {n.name: set(n.params) for n in graph if n.params}
    return build_step("full", graph, trainable, options=o.model_dump(), notes=notes,
                      trained_weights_in=o.trained_weights_in)


@register("last", "FT-Last: classifier only; no error propagation, no masks", BaselineOptions)
def last(graph: Graph, o: BaselineOptions) -> TrainingStep:
    graph, notes = _net(graph, o)
    trainable: Trainable = {}
    _classifier_roles(graph, trainable)
    return build_step("last", graph, trainable, options=o.model_dump(), notes=notes, require_backward=False,
                      trained_weights_in=o.trained_weights_in)


@register("norm+last", "FT-Norm+Last (Rep-Net bn+last): norm scale and shift + classifier", BaselineOptions)
def norm_last(graph: Graph, o: BaselineOptions) -> TrainingStep:
    graph, notes = _net(graph, o)
    trainable: Trainable = {}
    # enable_bn_update: BatchNorm2d/GroupNorm with affine weight (lite residual GNs included)
    for n in graph:
        if n.op == "norm" and n.params:
            add_roles(trainable, n.name, *n.params)
    _classifier_roles(graph, trainable)
    return build_step("norm+last", graph, trainable, options=o.model_dump(), notes=notes,
                      trained_weights_in=o.trained_weights_in)


@register("bias", "TinyTL-B: every bias (norm shifts) + classifier; stores only masks and the classifier input",
          BaselineOptions)
def bias(graph: Graph, o: BaselineOptions) -> TrainingStep:
    graph, notes = _net(graph, o)
    trainable: Trainable = {}
    all_biases(graph, trainable)
    _classifier_roles(graph, trainable)
    return build_step("bias", graph, trainable, options=o.model_dump(), notes=notes,
                      trained_weights_in=o.trained_weights_in)
