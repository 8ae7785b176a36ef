"""Model zoo: totals and per-block tables against the reference, structure and tags methods rely on.

Expected numbers come from ``/work/shared/reference/training-methods.md`` section 11 (cited per test);
totals the reference lacks are torchvision's published figures (cited where used).
"""

import pytest

from imcsim.errors import SpecError
from imcsim.workload import zoo
from imcsim.workload.graph import Graph


def _block_sums(g: Graph, name: str) -> tuple[int, int]:
    nodes = [g[n] for n in g.blocks[name].nodes]
    return sum(n.n_params for n in nodes), sum(n.macs for n in nodes)


# ---------------------------------------------------------------- ProxylessNAS-Mobile (section 11.3)
# Per-block table of section 11.3: (block, OFA slot, params incl. BN, MACs, identity shortcut).
PROXYLESS_BLOCKS = [
    (0, 0, 896, 10_035_200, False),
    (1, 1, 3_760, 18_213_888, False),
    (2, 2, 7_456, 21_977_088, True),
    (3, 5, 12_080, 16_332_288, False),
    (4, 6, 11_240, 8_373_120, True),
    (5, 7, 13_160, 9_878_400, True),
    (6, 8, 13_160, 9_878_400, True),
    (7, 9, 41_680, 13_594_560, False),
    (8, 10, 45_520, 8_702_400, True),
    (9, 11, 45_520, 8_702_400, True),
    (10, 12, 45_520, 8_702_400, True),
    (11, 13, 98_592, 18_910_080, False),
    (12, 14, 63_840, 12_249_216, True),
    (13, 15, 63_840, 12_249_216, True),
    (14, 16, 63_840, 12_249_216, True),
    (15, 17, 196_800, 17_640_000, False),
    (16, 18, 503_808, 24_441_984, True),
    (17, 19, 252_096, 12_220_992, True),
    (18, 20, 252_096, 12_220_992, True),
    (19, 21, 651_520, 31_667_328, False),
]


def test_proxylessnas_totals_match_reference():
    g = zoo.build("proxylessnas-mobile")
    # section 11.1 / 11.3 totals: 4,080,512 parameters, 320,427,584 MACs (1000-class head)
    assert g.n_params == 4_080_512
    assert g.macs == 320_427_584
    # stem row: conv 3->32 k3 s2 = 864 weights (+64 BN), 864 * 112 * 112 = 10,838,016 MACs
    assert g["first_conv.conv"].n_params == 864 and g["first_conv.conv"].macs == 10_838_016
    # feature mix 320 -> 1280: 409,600 weights, x 7 * 7 = 20,070,400 MACs; FC 1280*1000 + 1000 = 1,281,000
    assert g["feature_mix_layer.conv"].macs == 20_070_400
    assert g["classifier"].n_params == 1_281_000 and "classifier" in g["classifier"].tags


@pytest.mark.parametrize("blk,slot,params,macs,res", PROXYLESS_BLOCKS)
def test_proxylessnas_per_block_table(blk, slot, params, macs, res):
    g = zoo.build("proxylessnas-mobile")
    name = f"blocks.{blk}"
    assert _block_sums(g, name) == (params, macs)
    assert g.blocks[name].kind == "irb"
    assert g.blocks[name].shortcut == ("identity" if res else None)
    assert g.meta["ofa_slots"][slot] == name


def test_proxylessnas_ofa_slots_and_irb_names():
    g = zoo.build("proxylessnas-mobile")
    # 22 OFA slots: 20 real blocks plus the zero slots 3 and 4 of the 32-stage (section 11.3)
    assert sorted(g.meta["ofa_slots"]) == [s for s in range(22) if s not in (3, 4)]
    assert g.meta["ofa_zero_slots"] == (3, 4)
    # Rep-Net connector slots 1, 5, 9, 13, 17, 21 are the first blocks of the 32/40/80/96/192/320 widths
    widths = [g[f"{g.meta['ofa_slots'][s]}.project"].attrs["out_ch"] for s in (1, 5, 9, 13, 17, 21)]
    assert widths == [32, 40, 80, 96, 192, 320]
    # blocks.7 (slot 9): 40 -> 240 expand, k7 s2 depthwise, 240 -> 80 project
    e, d, p = (g[f"blocks.7.{k}"] for k in ("expand", "dw", "project"))
    assert (e.attrs["in_ch"], e.attrs["out_ch"], "expand" in e.tags) == (40, 240, True)
    assert d.is_depthwise and d.attrs["kernel"] == (7, 7) and d.attrs["stride"] == (2, 2) and "depthwise" in d.tags
    assert (p.attrs["out_ch"], "project" in p.tags) == (80, True)
    # MB1 (blocks.0) has no expand conv; every activation is ReLU6
    assert "blocks.0.expand" not in g
    assert {n.attrs["kind"] for n in g.by_op("act")} == {"relu6"}


def test_proxylessnas_resolution_and_classes():
    g = zoo.build("proxylessnas-mobile", resolution=160, classes=102)
    # head changes: 1280*102 + 102 = 130,662 instead of 1,281,000; backbone parameters do not depend on size
    assert g.n_params == 4_080_512 - 1_281_000 + 130_662
    assert g["first_conv.conv"].out_shape == (32, 80, 80)
    assert g["feature_mix_layer.conv"].out_shape == (1280, 5, 5)
    # every conv MAC count scales with output positions: (80/112)^2 for the stem
    assert g["first_conv.conv"].macs == 864 * 80 * 80


def test_unknown_model_and_option_are_spec_errors():
    with pytest.raises(SpecError, match="proxylessnas-mobile"):
        zoo.build("proxyless")
    with pytest.raises(SpecError, match="seq_len"):
        zoo.build("proxylessnas-mobile", seq_len=12)


def test_batch_is_meta_only():
    g1, g8 = zoo.build("proxylessnas-mobile"), zoo.build("proxylessnas-mobile", batch=8)
    assert g1.meta["batch"] == 1 and g8.meta["batch"] == 8
    assert (g1.n_params, g1.macs) == (g8.n_params, g8.macs)
