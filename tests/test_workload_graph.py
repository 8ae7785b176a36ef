"""The IR: shapes, parameters and MACs against hand arithmetic and the reference tables."""

import pytest

from imcsim.workload import zoo
from imcsim.workload.graph import GraphBuilder


def test_conv_shape_params_macs_by_hand():
    b = GraphBuilder("t", (8, 10, 10))
    y = b.conv(b.input, 16, 3, stride=2, groups=2, bias=True, name="c")
    n = b.build()[y]
    # out = (10 + 2*1 - 2 - 1)//2 + 1 = 5; weight = 16 * (8/2) * 3 * 3 = 576; bias 16
    assert n.out_shape == (16, 5, 5)
    assert n.params == {"weight": 576, "bias": 16}
    assert n.macs == 576 * 25
    # im2col GEMM per group: M = 25 positions, K = 4*3*3 = 36, N = 8
    assert n.gemm_shape() == (2, 25, 36, 8)


def test_depthwise_and_dilation():
    b = GraphBuilder("t", (4, 9, 9))
    y = b.conv(b.input, 4, 3, dilation=2, groups=4, name="dw")
    n = b.build()[y]
    # padding defaults to dilation*(k-1)//2 = 2 -> same size; weight = 4*1*9 = 36
    assert n.out_shape == (4, 9, 9) and n.is_depthwise and n.n_params == 36


def test_linear_on_tokens_and_attention():
    b = GraphBuilder("t", (6, 32))
    q = b.linear(b.input, 32, bias=False, name="q")
    k = b.linear(b.input, 32, bias=False, name="k")
    s = b.matmul(q, k, "qk", heads=4, name="qk")
    a = b.matmul(b.act(s, "softmax"), b.input, "av", heads=4, name="av")
    g = b.build()
    assert g[q].macs == 6 * 32 * 32
    assert g[s].out_shape == (4, 6, 6) and g[s].macs == 4 * 6 * 6 * 8
    assert g[a].out_shape == (6, 32) and g[a].macs == 4 * 6 * 8 * 6


def test_bad_shapes_are_errors():
    b = GraphBuilder("t", (3, 8, 8))
    with pytest.raises(ValueError, match="groups"):
        b.conv(b.input, 4, 3, groups=2)
    c1 = b.conv(b.input, 4, 3, name="a")
    c2 = b.conv(b.input, 5, 3, name="b")
    with pytest.raises(ValueError, match="shapes differ"):
        b.add(c1, c2)


@pytest.mark.parametrize("name,params,macs", [
    # published totals, docs/references.md [RESNET] [MOBILENETV2]
    ("resnet18", 11_689_512, 1_814_073_344),
    ("resnet34", 21_797_672, 3_663_761_408),
    ("resnet50", 25_557_032, 4_089_184_256),
])
def test_resnet_totals_match_reference(name, params, macs):
    g = zoo.build(name)
    assert g.n_params == params
    assert g.macs == macs


def test_residual_blocks_preserved():
    g = zoo.build("resnet18")
    assert g.blocks["layer1.0"].shortcut == "identity"
    assert g.blocks["layer2.0"].shortcut == "projection"
    assert "layer2.0.downsample.0" in g.blocks["layer2.0"].nodes
    assert g["layer2.0.add"].inputs == ("layer2.0.bn2", "layer2.0.downsample.1")
