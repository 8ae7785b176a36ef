"""Running an IR graph's conv/linear layers bit-serially: signedness rule, exactness, seeding, errors."""

import numpy as np
import pytest

from imcsim.errors import SpecError
from imcsim.execute import functional
from imcsim.workload import zoo
from imcsim.workload.graph import GraphBuilder


@pytest.fixture(scope="module")
def tiny():
    return zoo.build("tiny-cnn")


def test_signedness_rule_on_tiny_cnn(tiny):
    # Read off the graph by hand: inputs after relu/relu6 (directly, or through a global pool) are
    # unsigned; the image, a BN output, an h-swish output and an SE product (h-swish x sigmoid) are signed.
    signed = {n.name: functional.input_is_signed(tiny, n) for n in tiny.weight_nodes()}
    assert signed == {
        "stem.conv": True, "res1.conv1": False, "res1.conv2": False, "irb1.expand": False, "irb1.dw": False,
        "irb1.project": False, "irb2.expand": True, "irb2.dw": True, "irb2.se.fc1": True, "irb2.se.fc2": False,
        "irb2.project": True, "classifier": True,
    }


def test_tiny_cnn_layers_are_bit_exact_and_activity_is_consistent(tiny):
    runs = functional.run_graph(tiny, batch=2, seed=3)
    assert [r.name for r in runs] == [n.name for n in tiny.weight_nodes()]
    for r in runs:
        assert r.max_abs_error == 0 and r.matches
        g, m, k, n = r.gemm
        # one AND product per MAC: and_slots = batch x groups x M x K x N = batch x node MACs
        assert r.activity.and_slots == r.macs == 2 * g * m * k * n
        assert r.activity.input_slots == 2 * g * m * k
        assert 0 < r.activity.mean_and_density < r.activity.mean_input_density < 1
    dw = next(r for r in runs if r.name == "irb1.dw")
    assert dw.gemm[0] == 32 and dw.gemm[2] == 9      # depthwise: 32 groups of K = 1 x 3 x 3


def test_one_layer_sees_the_same_data_as_the_whole_run(tiny):
    whole = {r.name: r for r in functional.run_graph(tiny, seed=7, check=False)}
    (one,) = functional.run_graph(tiny, seed=7, layers=["irb2.dw"], check=False)
    assert one.activity == whole["irb2.dw"].activity
    (other,) = functional.run_graph(tiny, seed=8, layers=["irb2.dw"], check=False)
    assert other.activity != one.activity
    assert one.max_abs_error is None and one.reference_ms is None


def test_unsigned_layers_get_unsigned_data(tiny):
    node = tiny["res1.conv1"]
    x, w = functional.layer_data(node, 3, np.random.default_rng(0), in_signed=False)
    assert x.shape == (3, *node.in_shape) and x.min() >= 0 and x.max() > 127
    assert w.shape == (8, 8, 3, 3) and w.min() < 0


def test_linear_over_tokens():
    b = GraphBuilder("tok", (5, 16))
    h = b.linear(b.input, 24, name="up")
    h = b.act(h, "gelu", name="gelu")
    b.linear(h, 16, name="down")
    runs = functional.run_graph(b.build(), batch=2)
    assert [(r.name, r.gemm, r.in_signed, r.max_abs_error) for r in runs] == [
        ("up", (1, 5, 16, 24), True, 0), ("down", (1, 5, 24, 16), True, 0)]


def test_a_wrong_result_is_reported(tiny, monkeypatch):
    real = functional.reference_layer
    monkeypatch.setattr(functional, "reference_layer", lambda node, x, w: real(node, x, w) + 3)
    (r,) = functional.run_graph(tiny, layers=["res1.conv2"])
    assert r.max_abs_error == 3 and not r.matches


def test_bad_requests(tiny):
    with pytest.raises(SpecError, match="unknown layer"):
        functional.run_graph(tiny, layers=["nope"])
    with pytest.raises(SpecError, match="batch"):
        functional.run_graph(tiny, batch=0)
    with pytest.raises(SpecError, match="no weights"):
        functional.layer_data(tiny.by_op("norm")[0], 1, np.random.default_rng(0))
