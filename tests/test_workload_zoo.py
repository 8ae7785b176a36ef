"""Model zoo: totals and per-block tables against the reference, structure and tags methods rely on.

Expected numbers are the published totals of the backbones ([RESNET], [MOBILENETV2], [PROXYLESSNAS], [FLAN-T5] in docs/references.md), recomputed by hand (cited per test);
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


# ---------------------------------------------------------------- MobileNetV2 (section 11.2)
# Per-layer table of section 11.2: (layer, Cin, Cout, k, s, groups, Hin, Hout, params w/o BN, MACs, in-act elems).
# The reference's "pw" after a depthwise conv is imcsim's ".project", "exp" is ".expand".
MNV2_LAYERS = [
    ("features.0.conv", 3, 32, 3, 2, 1, 224, 112, 864, 10838016, 150528),
    ("features.1.dw", 32, 32, 3, 1, 32, 112, 112, 288, 3612672, 401408),
    ("features.1.project", 32, 16, 1, 1, 1, 112, 112, 512, 6422528, 401408),
    ("features.2.expand", 16, 96, 1, 1, 1, 112, 112, 1536, 19267584, 200704),
    ("features.2.dw", 96, 96, 3, 2, 96, 112, 56, 864, 2709504, 1204224),
    ("features.2.project", 96, 24, 1, 1, 1, 56, 56, 2304, 7225344, 301056),
    ("features.3.expand", 24, 144, 1, 1, 1, 56, 56, 3456, 10838016, 75264),
    ("features.3.dw", 144, 144, 3, 1, 144, 56, 56, 1296, 4064256, 451584),
    ("features.3.project", 144, 24, 1, 1, 1, 56, 56, 3456, 10838016, 451584),
    ("features.4.expand", 24, 144, 1, 1, 1, 56, 56, 3456, 10838016, 75264),
    ("features.4.dw", 144, 144, 3, 2, 144, 56, 28, 1296, 1016064, 451584),
    ("features.4.project", 144, 32, 1, 1, 1, 28, 28, 4608, 3612672, 112896),
    ("features.5.expand", 32, 192, 1, 1, 1, 28, 28, 6144, 4816896, 25088),
    ("features.5.dw", 192, 192, 3, 1, 192, 28, 28, 1728, 1354752, 150528),
    ("features.5.project", 192, 32, 1, 1, 1, 28, 28, 6144, 4816896, 150528),
    ("features.6.expand", 32, 192, 1, 1, 1, 28, 28, 6144, 4816896, 25088),
    ("features.6.dw", 192, 192, 3, 1, 192, 28, 28, 1728, 1354752, 150528),
    ("features.6.project", 192, 32, 1, 1, 1, 28, 28, 6144, 4816896, 150528),
    ("features.7.expand", 32, 192, 1, 1, 1, 28, 28, 6144, 4816896, 25088),
    ("features.7.dw", 192, 192, 3, 2, 192, 28, 14, 1728, 338688, 150528),
    ("features.7.project", 192, 64, 1, 1, 1, 14, 14, 12288, 2408448, 37632),
    *[(f"features.{i}.{k}", *row) for i in (8, 9, 10) for k, row in (
        ("expand", (64, 384, 1, 1, 1, 14, 14, 24576, 4816896, 12544)),
        ("dw", (384, 384, 3, 1, 384, 14, 14, 3456, 677376, 75264)),
        ("project", (384, 64, 1, 1, 1, 14, 14, 24576, 4816896, 75264)))],
    ("features.11.expand", 64, 384, 1, 1, 1, 14, 14, 24576, 4816896, 12544),
    ("features.11.dw", 384, 384, 3, 1, 384, 14, 14, 3456, 677376, 75264),
    ("features.11.project", 384, 96, 1, 1, 1, 14, 14, 36864, 7225344, 75264),
    *[(f"features.{i}.{k}", *row) for i in (12, 13) for k, row in (
        ("expand", (96, 576, 1, 1, 1, 14, 14, 55296, 10838016, 18816)),
        ("dw", (576, 576, 3, 1, 576, 14, 14, 5184, 1016064, 112896)),
        ("project", (576, 96, 1, 1, 1, 14, 14, 55296, 10838016, 112896)))],
    ("features.14.expand", 96, 576, 1, 1, 1, 14, 14, 55296, 10838016, 18816),
    ("features.14.dw", 576, 576, 3, 2, 576, 14, 7, 5184, 254016, 112896),
    ("features.14.project", 576, 160, 1, 1, 1, 7, 7, 92160, 4515840, 28224),
    *[(f"features.{i}.{k}", *row) for i in (15, 16) for k, row in (
        ("expand", (160, 960, 1, 1, 1, 7, 7, 153600, 7526400, 7840)),
        ("dw", (960, 960, 3, 1, 960, 7, 7, 8640, 423360, 47040)),
        ("project", (960, 160, 1, 1, 1, 7, 7, 153600, 7526400, 47040)))],
    ("features.17.expand", 160, 960, 1, 1, 1, 7, 7, 153600, 7526400, 7840),
    ("features.17.dw", 960, 960, 3, 1, 960, 7, 7, 8640, 423360, 47040),
    ("features.17.project", 960, 320, 1, 1, 1, 7, 7, 307200, 15052800, 47040),
    ("features.18.conv", 320, 1280, 1, 1, 1, 7, 7, 409600, 20070400, 15680),
]


def test_mobilenetv2_totals_match_reference():
    g = zoo.build("mobilenetv2")
    # section 11.1/11.2: 3,504,872 parameters including 34,112 BN affine; 300,774,272 MACs
    assert g.n_params == 3_504_872
    assert g.params_of("norm") == 34_112
    assert g.macs == 300_774_272
    # section 11.2: "The sum of all conv inputs is 6,765,920 elements per sample."
    assert sum(n.in_elems for n in g.by_op("conv")) == 6_765_920
    # row 52: classifier 1280 -> 1000, 1,281,000 params, 1,280,000 MACs, input 1280
    fc = g["classifier"]
    assert (fc.n_params, fc.macs, fc.in_elems, "classifier" in fc.tags) == (1_281_000, 1_280_000, 1280, True)
    # 52 convs + 1 FC (the table has rows 0..52)
    assert len(g.weight_nodes()) == 53 == len(MNV2_LAYERS) + 1


@pytest.mark.parametrize("row", MNV2_LAYERS, ids=[r[0] for r in MNV2_LAYERS])
def test_mobilenetv2_per_layer_table(row):
    name, cin, cout, k, s, groups, hin, hout, params, macs, in_elems = row
    n = zoo.build("mobilenetv2")[name]
    a = n.attrs
    assert (a["in_ch"], a["out_ch"], a["kernel"], a["stride"], a["groups"]) == (cin, cout, (k, k), (s, s), groups)
    assert (n.in_shape[1], n.out_shape[1]) == (hin, hout)
    assert (n.n_params, n.macs, n.in_elems) == (params, macs, in_elems)


def test_mobilenetv2_blocks_and_tags():
    g = zoo.build("mobilenetv2")
    # identity shortcut when s = 1 and Cin = Cout (section 11.2): features 3, 5, 6, 8-10, 12, 13, 15, 16
    with_res = sorted(int(n.split(".")[1]) for n, b in g.blocks.items() if b.kind == "irb" and b.shortcut)
    assert with_res == [3, 5, 6, 8, 9, 10, 12, 13, 15, 16]
    assert g.blocks["features.3"].input == "features.2.project_bn"
    assert g["features.3.add"].inputs == ("features.3.project_bn", "features.2.project_bn")
    # ReLU6 after every conv except the projections (linear bottleneck)
    assert {g.consumers(n.name)[0].op for n in g.by_op("conv") if "project" not in n.tags} == {"norm"}
    assert all(g.consumers(g.consumers(n.name)[0].name)[0].attrs.get("kind") == "relu6"
               for n in g.by_op("conv") if "project" not in n.tags)
    assert all(g.consumers(g.consumers(n.name)[0].name)[0].op != "act" for n in g.by_op("conv") if "project" in n.tags)
    assert len([n for n in g.by_op("conv") if "depthwise" in n.tags and n.is_depthwise]) == 17


def test_mobilenetv2_width_multiplier_rounding():
    g = zoo.build("mobilenetv2", width=0.35)
    # torchvision _make_divisible(c * 0.35, 8): 32->11.2->16 (8 < 0.9*11.2, bumped), 16->5.6->8, 24->8.4->8,
    # 32->16, 64->22.4->24, 96->33.6->32, 160->56, 320->112; last conv keeps 1280 (width < 1)
    assert g["features.0.conv"].attrs["out_ch"] == 16
    outs = [g[f"features.{i}.project"].attrs["out_ch"] for i in (1, 2, 4, 7, 11, 14, 17)]
    assert outs == [8, 8, 16, 24, 32, 56, 112]
    assert g["features.18.conv"].attrs["out_ch"] == 1280
    # hidden = int(round(8 * 6)) = 48 in features.2
    assert g["features.2.expand"].attrs["out_ch"] == 48
    # width 1.4: last conv is _make_divisible(1280 * 1.4) = 1792; stem _make_divisible(44.8) = 48
    g14 = zoo.build("mobilenetv2", width=1.4)
    assert g14["features.18.conv"].attrs["out_ch"] == 1792 and g14["features.0.conv"].attrs["out_ch"] == 48


# ---------------------------------------------------------------- tiny CNN (hand arithmetic)
def test_tiny_cnn_by_hand():
    g = zoo.build("tiny-cnn")
    # params: stem 3*8*9 = 216 + BN 16; res1 2*(8*8*9) + 2*16 = 1184;
    # irb1 expand 8*32 + 64 + dw 32*9 + 64 + project 32*16 + 32 = 1216;
    # irb2 expand 16*32 + 64 + dw 288 + 64 + SE (32*8+8) + (8*32+32) + project 512 + 32 = 2024; FC 16*10+10 = 170
    assert g.n_params == 216 + 16 + 1184 + 1216 + 2024 + 170 == 4826
    # MACs at 32x32: stem 216*1024 = 221,184; res1 2*576*1024 = 1,179,648; irb1 expand 256*1024 = 262,144,
    # dw (s2 -> 16x16) 288*256 = 73,728, project 512*256 = 131,072; irb2 expand 131,072, dw 73,728,
    # SE 256 + 256 = 512, project 131,072; FC 160
    by_hand = 221_184 + 1_179_648 + 262_144 + 73_728 + 131_072 + 131_072 + 73_728 + 512 + 131_072 + 160
    assert g.macs == by_hand == 2_204_320
    acts = {n.attrs["kind"] for n in g.by_op("act")}
    assert {"relu", "relu6", "hswish", "sigmoid"} <= acts
    assert g.blocks["res1"].shortcut == "identity" and g.blocks["res1"].kind == "basic"
    assert g.blocks["irb1"].shortcut is None and g.blocks["irb2"].shortcut == "identity"
    assert g.blocks["irb2.se"].parent == "irb2" and g["irb2.se.scale"].op == "mul"
    assert g["irb1.dw"].is_depthwise and "depthwise" in g["irb1.dw"].tags
    assert g["classifier"].out_shape == (10,) and "classifier" in g["classifier"].tags


def test_tiny_cnn_resolution():
    g = zoo.build("tiny-cnn", resolution=16, classes=3)
    assert g["irb2.project"].out_shape == (16, 8, 8)
    # only the head changes parameters: 16*3 + 3 = 51 instead of 170
    assert g.n_params == 4826 - 170 + 51
    with pytest.raises(SpecError, match="cannot be built"):
        zoo.build("tiny-cnn", resolution=0)


# ---------------------------------------------------------------- Flan-T5-large (section 11.5)
def test_flan_t5_large_parameter_breakdown():
    g = zoo.build("flan-t5-large")
    # section 11.5: 783,150,080 in total =
    #   shared embedding 32,899,072 (32128 * 1024) + 24 encoder layers x 12,847,104 + 24 decoder layers x 17,042,432
    #   + untied LM head 32,899,072 + final layer norms 2 x 1024 + relative position biases 2 x (32 buckets x 16 heads)
    assert 32_899_072 * 2 + 24 * 12_847_104 + 24 * 17_042_432 + 2 * 1024 + 2 * 32 * 16 == 783_150_080
    assert g.n_params == 783_150_080
    assert g["shared"].n_params == 32_899_072 and g["lm_head"].n_params == 32_899_072
    assert g["decoder.embed_tokens"].n_params == 0 and g["decoder.embed_tokens"].attrs["tied_to"] == "shared"
    assert g["encoder.relative_attention_bias"].n_params == 512 == g["decoder.relative_attention_bias"].n_params

    def layer_params(prefix):
        return sum(n.n_params for n in g if n.block and (n.block == prefix or n.block.startswith(prefix + ".")))

    for i in (0, 23):
        # encoder layer: 4 * 1024^2 (q,k,v,o) + 3 * 1024 * 2816 (wi_0, wi_1, wo) + 2 RMS norms * 1024
        assert layer_params(f"encoder.{i}") == 4 * 1024**2 + 3 * 1024 * 2816 + 2 * 1024 == 12_847_104
        # decoder layer adds cross-attention q,k,v,o and a third norm
        assert layer_params(f"decoder.{i}") == 8 * 1024**2 + 3 * 1024 * 2816 + 3 * 1024 == 17_042_432


def test_flan_t5_names_and_tags_for_lora():
    g = zoo.build("flan-t5-large")
    q = g["encoder.3.SelfAttention.q"]
    assert q.op == "linear" and not q.attrs["bias"] and {"q", "encoder"} <= q.tags
    assert {"v", "decoder", "cross"} <= g["decoder.5.EncDecAttention.v"].tags
    assert "cross" not in g["decoder.5.SelfAttention.v"].tags
    # LoRA targets (section 6): q and v of every attention block = 24*2 + 24*4 = 144 matrices of 1024 x 1024
    qv = [n for n in g.by_op("linear") if n.tags & {"q", "v"}]
    assert len(qv) == 144 and all(n.params == {"weight": 1024 * 1024} for n in qv)
    assert all(n.attrs["kind"] == "rms" and "shift" not in n.params for n in g.by_op("norm"))
    ffn = g["encoder.0.DenseReluDense.wi_0"]
    assert (ffn.attrs["in_features"], ffn.attrs["out_features"], ffn.attrs["bias"]) == (1024, 2816, False)
    assert g.blocks["encoder.0.SelfAttention"].kind == "attention"
    assert g.blocks["encoder.0.SelfAttention"].shortcut == "identity"
    assert g.blocks["decoder.0.DenseReluDense"].parent == "decoder.0"
    # cross-attention keys and values read the encoder output
    assert g["decoder.7.EncDecAttention.k"].inputs == ("encoder.final_dropout",)
    assert "classifier" in g["lm_head"].tags


def test_flan_t5_macs_by_formula():
    t, s = 8, 4  # encoder tokens, decoder tokens
    g = zoo.build("flan-t5-large", seq_len=t, dec_len=s)
    d, ff, v = 1024, 2816, 32128
    # section 11.5: per token per encoder layer 4 d^2 + 3 d d_ff, plus attention 2 L d (QK^T and AV)
    enc_layer = t * (4 * d * d + 3 * d * ff) + 2 * t * t * d
    # decoder layer: self-attn 4 d^2 per decoder token + 2 s^2 d; cross-attn q,o on decoder tokens,
    # k,v on encoder tokens, scores/AV 2 s t d; FFN 3 d d_ff per decoder token
    dec_layer = s * 4 * d * d + 2 * s * s * d + s * 2 * d * d + t * 2 * d * d + 2 * s * t * d + s * 3 * d * ff
    assert g.macs == 24 * enc_layer + 24 * dec_layer + s * d * v
    assert g["encoder.0.SelfAttention.scores"].out_shape == (16, t, t)
    assert g["decoder.0.EncDecAttention.scores"].out_shape == (16, s, t)
    assert g.input_shape == (t,) and g["decoder_input_ids"].out_shape == (s,)
    assert g["lm_head"].out_shape == (s, v)


def test_flan_t5_fewer_layers_option():
    g = zoo.build("flan-t5-large", layers=2, seq_len=4, dec_len=2)
    # 2 x 32,899,072 + 2 x 12,847,104 + 2 x 17,042,432 + 2048 + 1024
    assert g.n_params == 2 * 32_899_072 + 2 * 12_847_104 + 2 * 17_042_432 + 2048 + 1024


# ---------------------------------------------------------------- models the reference has no totals for
# Published torchvision figures (pytorch.org/vision model docs, "num_params" and "GFLOPS", where GFLOPS are
# multiply-accumulates of conv/linear and attention matmuls at 224):
#   mobilenet_v3_large 5,483,032 params, 0.22 GFLOPS; vgg16 138,357,544, 15.47; vgg16_bn 138,365,992, 15.47;
#   vit_b_16 86,567,656, 17.56.
@pytest.mark.parametrize("name,opts,params,gmacs", [
    ("mobilenetv3-large", {}, 5_483_032, 0.22),
    ("vgg16", {}, 138_357_544, 15.47),
    ("vgg16", {"bn": True}, 138_365_992, 15.47),
    ("vit-b16", {}, 86_567_656, 17.56),
])
def test_torchvision_published_totals(name, opts, params, gmacs):
    g = zoo.build(name, **opts)
    assert g.n_params == params
    assert round(g.macs / 1e9, 2) == gmacs


def test_mobilenetv3_structure():
    g = zoo.build("mobilenetv3-large")
    # features.4: k5, 24 -> 72 expand, SE squeeze _make_divisible(72 // 4, 8) = 24, project to 40, stride 2
    assert g["features.4.se.fc1"].attrs["out_features"] == 24
    assert g["features.4.se.gate"].attrs["kind"] == "hsigmoid"
    assert g["features.4.dw"].attrs["kernel"] == (5, 5) and g.blocks["features.4"].shortcut is None
    assert g.blocks["features.5"].shortcut == "identity"
    # features.1 has no expand conv (expanded 16 == input 16)
    assert "features.1.expand" not in g and g.blocks["features.1"].shortcut == "identity"
    assert g["features.16.conv"].attrs["out_ch"] == 960
    assert g["classifier.3"].attrs["in_features"] == 1280 and "classifier" in g["classifier.3"].tags
    # 11 bnecks use h-swish, the stem and last conv too, and classifier.1
    assert sum(1 for n in g.by_op("act") if n.attrs["kind"] == "hswish") > 20
    # MACs: hand check for the stem: 16 * 3 * 9 = 432 weights x 112 x 112
    assert g["features.0.conv"].macs == 432 * 112 * 112


def test_vgg16_structure_and_resolution():
    g = zoo.build("vgg16")
    # classifier.0: 25088 = 512 * 7 * 7 inputs, 4096 outputs, with bias: 102,764,544 params
    assert g["classifier.0"].n_params == 25088 * 4096 + 4096
    assert len(g.by_op("conv")) == 13 and all(n.attrs["bias"] for n in g.by_op("conv"))
    # at 32x32 the last map is 1x1; adaptive pooling replicates it to 7x7, so the parameters do not change
    g32 = zoo.build("vgg16", resolution=32)
    assert g32.n_params == 138_357_544 and g32["avgpool"].out_shape == (512, 7, 7)
    with pytest.raises(SpecError, match="adaptively"):
        zoo.build("vgg16", resolution=320)


def test_vit_b16_structure():
    g = zoo.build("vit-b16")
    # (224/16)^2 = 196 patches + class token = 197 tokens of 768
    assert g["encoder.add_pos_embedding"].out_shape == (197, 768)
    assert g["encoder.pos_embedding"].n_params == 197 * 768 and g["class_token"].n_params == 768
    q = g["encoder.layers.11.self_attention.q"]
    assert q.macs == 197 * 768 * 768 and "q" in q.tags and q.attrs["bias"]
    assert g["encoder.layers.0.self_attention.scores"].out_shape == (12, 197, 197)
    assert g["heads.head"].in_shape == (768,) and "classifier" in g["heads.head"].tags
    # 384 input: 24 * 24 + 1 = 577 tokens, position embedding grows to 577 * 768
    g384 = zoo.build("vit-b16", resolution=384)
    assert g384.n_params == 86_567_656 + (577 - 197) * 768
    with pytest.raises(SpecError, match="multiple of the patch"):
        zoo.build("vit-b16", resolution=200)


def test_every_zoo_model_builds_consistently():
    for name in zoo.names():
        g = zoo.build(name)
        assert g.n_params > 0 and g.macs > 0, name
        # every node input is produced earlier (forward order) or is the graph input
        seen = {"input"}
        for n in g:
            assert set(n.inputs) <= seen, (name, n.name)
            seen.add(n.name)
        # a block's nodes exist and start after its input
        for blk in g.blocks.values():
            assert all(m in g for m in blk.nodes), (name, blk.name)
            if blk.input != "input":
                assert g.index(blk.input) < g.index(blk.nodes[0]), (name, blk.name)
