"""Whole-network INT8 inference on the bit-serial kernels is bit-exact against the integer reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.errors import SpecError
from imcsim.execute import fp32, infer, reference, weights
from imcsim.execute import qnet as Q
from imcsim.execute.data import load_dataset
from imcsim.workload import zoo
from imcsim.workload.graph import GraphBuilder


@st.composite
def networks(draw):
    """Small random networks: strided/padded convs, grouped and depthwise convs, residual adds,
    concatenations, max/avg pools, Rep-Net branches (bilinear or nearest upsampling), squeeze-excite
    gating, LUT activations, linear heads."""
    c = draw(st.sampled_from([2, 4, 8]))
    res = draw(st.integers(4, 9))
    b = GraphBuilder("rand", (draw(st.sampled_from([1, 3])), res, res))
    act = draw(st.sampled_from(["relu", "relu6", "hswish", None]))
    x = b.conv(b.input, c, draw(st.sampled_from([1, 3])), draw(st.sampled_from([1, 2])), name="stem")
    x = b.norm(x, "bn", name="stem_bn")
    if act:
        x = b.act(x, act, name="stem_act")
    if draw(st.booleans()):   # residual block with a grouped conv
        y = b.conv(x, c, 3, groups=draw(st.sampled_from([1, 2])), name="res_conv")
        y = b.norm(y, "bn", name="res_bn")
        x = b.act(b.add(y, x, name="res_add"), "relu", name="res_relu")
    if draw(st.booleans()):   # depthwise conv
        x = b.act(b.norm(b.conv(x, c, 3, groups=c, name="dw"), "bn", name="dw_bn"), "relu6", name="dw_act")
    if draw(st.booleans()):   # concat with a 1x1 branch
        y = b.act(b.conv(x, c, 1, bias=True, name="branch"), "sigmoid", name="branch_act")
        x = b.concat(x, y, name="cat")
    if draw(st.booleans()) and b.shape(x)[1] >= 2:
        x = b.pool(x, draw(st.sampled_from(["max", "avg"])), 2, padding=draw(st.sampled_from([0, 1])), name="pool")
    if draw(st.booleans()) and b.shape(x)[1] >= 2:   # Rep-Net branch: pool, conv, upsample back, add
        h, w = b.shape(x)[1:]
        y = b.pool(x, "avg", 2, name="br_pool")
        y = b.norm(b.conv(y, b.shape(x)[0], 3, name="br_conv"), "bn", name="br_bn")
        mode = draw(st.sampled_from(["bilinear", "nearest"])) if h % 2 == 0 and w % 2 == 0 else "bilinear"
        x = b.add(x, b.upsample(y, (h, w), mode, name="br_up"), name="br_add")
    if draw(st.booleans()):   # squeeze-excite gate
        s = b.global_pool(x, "avg", name="se_pool")
        s = b.act(b.linear(s, b.shape(x)[0], name="se_fc"), "hsigmoid", name="se_gate")
        x = b.mul(x, s, name="se_mul")
    if draw(st.booleans()):
        x = b.global_pool(x, draw(st.sampled_from(["avg", "max"])), name="gpool")
    else:
        x = b.flatten(x, name="flat")
    b.linear(x, draw(st.integers(2, 6)), name="head")
    graph = b.build()
    seed = draw(st.integers(0, 2**16))
    calibration = draw(st.sampled_from(Q.CALIBRATIONS))
    return graph, seed, calibration


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(networks())
def test_random_networks_bit_exact(net):
    graph, seed, calibration = net
    rng = np.random.default_rng(seed)
    params = weights.random_params(graph, seed)
    x = rng.normal(size=(3, *graph.input_shape))
    qn = Q.quantize(graph, params, x, calibration=calibration, percentile=99.0)
    codes = infer.quantize_input(qn, x)
    run = infer.run(qn, codes, keep=True)
    ref = reference.run_reference(qn, codes)
    for node in graph.nodes:
        np.testing.assert_array_equal(run.tensors[node.name], ref[node.name], err_msg=node.name)
    assert set(run.activity) == {n.name for n in graph.weight_nodes()}


def test_digits_cnn_bit_exact_over_the_test_split_and_close_to_fp32():
    graph = zoo.build("digits-cnn")
    params = weights.random_params(graph, 0)
    _, test = load_dataset("digits").split(0.3, seed=0)
    qn = Q.quantize(graph, params, test.images[:64])
    codes = infer.quantize_input(qn, test.images)
    run = infer.run(qn, codes)
    ref = reference.run_reference(qn, codes)
    np.testing.assert_array_equal(run.output, ref[graph.nodes[-1].name])
    assert len(test.labels) == 539   # 1,797 x 0.3 held out, rounded
    # the quantised logits follow the float ones: >= 90 % of argmaxes agree
    f = fp32.forward(graph, params, test.images)["classifier"]
    assert (f.argmax(1) == run.output.argmax(1)).mean() >= 0.9
    # measured activity: unsigned codes of a ReLU network are sparse, well below the 0.5 default
    for act in run.activity.values():
        assert 0.0 < act.mean_input_density < 0.5


@pytest.mark.parametrize("method", ["repnet", "lora"])
def test_digits_cnn_with_added_modules_bit_exact(method):
    """The networks ``imcsim train`` executes for Rep-Net (bilinear upsampling in four branches) and LoRA
    (an adapter added with weight alpha / r = 2)."""
    from imcsim.execute.train import method_step

    graph = method_step(zoo.build("digits-cnn"), method).graph
    if method == "repnet":
        assert sum(n.op == "upsample" and n.attrs["mode"] == "bilinear" for n in graph.nodes) == 4
    else:
        assert graph["classifier.lora.add"].attrs["scale"] == 2.0
    _, test = load_dataset("digits").split(0.3, seed=0)
    qn = Q.quantize(graph, weights.random_params(graph, 3), test.images[:64])
    codes = infer.quantize_input(qn, test.images[:100])
    run, ref = infer.run(qn, codes, keep=True), reference.run_reference(qn, codes)
    for node in graph.nodes:
        np.testing.assert_array_equal(run.tensors[node.name], ref[node.name], err_msg=node.name)


def test_batch_norm_not_after_a_conv_is_refused():
    b = GraphBuilder("bad", (1, 4, 4))
    x = b.act(b.conv(b.input, 2, 3, name="c"), "relu", name="r")
    b.linear(b.flatten(b.norm(x, "bn", name="bn"), name="f"), 2, name="fc")
    graph = b.build()
    with pytest.raises(SpecError, match="cannot be folded"):
        Q.quantize(graph, weights.random_params(graph), np.zeros((1, 1, 4, 4)))


def test_nan_weights_are_refused():
    graph = zoo.build("digits-cnn")
    params = weights.random_params(graph)
    params["classifier"]["weight"][0, 0] = np.nan
    with pytest.raises(SpecError, match="classifier.weight"):
        Q.quantize(graph, params, np.zeros((1, 1, 8, 8)))
