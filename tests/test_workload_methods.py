"""Method transforms: trainable sets, added modules, stored tensors, writes, errors."""

import pytest

from imcsim.errors import SpecError
from imcsim.workload import methods, zoo
from imcsim.workload.accounting import gradient_filter_memory_bytes, memory_report
from imcsim.workload.graph import GraphBuilder


@pytest.fixture(scope="module")
def t5():
    return zoo.build("flan-t5-large", seq_len=8, dec_len=4)


@pytest.fixture(scope="module")
def proxyless():
    return zoo.build("proxylessnas-mobile", classes=102)


def test_lora_and_lorafusion_on_flan_t5_large(t5):
    lora = methods.apply(t5, "lora")
    # 144 adapted matrices (24 enc x q,v + 24 dec x self q,v + cross q,v) x r(d_in + d_out) = 144 x 16 x 2048
    assert lora.trainable_params == 144 * 16 * 2048 == 4_718_592
    # every LoRA weight sits in the crossbars and is written at each update
    assert lora.imc_weights_written == 4_718_592
    fusion = methods.apply(t5, "lorafusion")
    # magnitudes 144 x 1024 = 147,456 + coefficients 20 modules x 48 layers = 960 -> 148,416
    assert fusion.trainable_params == 144 * 1024 + 20 * 48 == 148_416
    # coefficients and magnitudes live in SRAM: zero crossbar writes per new task
    assert fusion.imc_weights_written == 0
    assert all(p.location == "sram" for p in fusion.params if p.trainable)
    # the K=20 frozen pairs are graph nodes (the mapper places them): 144 x 20 x 16 x 2048 frozen weights
    pool = sum(n.params["weight"] for n in fusion.graph if "lorafusion" in n.tags and n.op == "linear")
    assert pool == 144 * 20 * 16 * 2048


def test_lora_targets_default_to_every_linear_without_attention(proxyless, t5):
    # ProxylessNAS has no q/v projections: unset targets adapt its one linear layer, the 1280 -> 102
    # classifier: r (d_in + d_out) = 16 x (1280 + 102) = 22,112 trainable weights
    step = methods.apply(proxyless, "lora")
    assert step.options["targets"] == ["linear"] and step.trainable_params == 16 * (1280 + 102) == 22_112
    # a transformer keeps LoRA's q and v
    assert methods.apply(t5, "lora").options["targets"] == ["q", "v"]
    # asked for explicitly, q/v still need attention
    with pytest.raises(SpecError, match="lora.*proxylessnas-mobile.*q/v"):
        methods.apply(proxyless, "lora", targets=["q", "v"])


def test_lite_residual_modules_params_and_macs(proxyless):
    step = methods.apply(proxyless, "lite-residual")
    lite = [n for n in step.graph if "lite_residual" in n.tags]
    # independent recomputation from the reference 11.3 block table: (C_in, C_out, H_in, stride, k) of
    # blocks 1..19 (k = 3 for the last three 192 blocks and the 320 block). Module: conv1 groups 2
    # (C_in x C_in/2 x k^2 at H_in/2/stride), GN 2 C_in, conv2 C_in x C_out, GN 2 C_out.
    table = [(16, 32, 112, 2, 5), (32, 32, 56, 1, 5), (32, 40, 56, 2, 5)] + [(40, 40, 28, 1, 5)] * 3 + \
        [(40, 80, 28, 2, 5)] + [(80, 80, 14, 1, 5)] * 3 + [(80, 96, 14, 1, 5)] + [(96, 96, 14, 1, 5)] * 3 + \
        [(96, 192, 14, 2, 5)] + [(192, 192, 7, 1, 3)] * 3 + [(192, 320, 7, 1, 3)]
    params = sum(ci * ci // 2 * k * k + 2 * ci + ci * co + 2 * co for ci, co, _, _, k in table)
    # output side after pool 2 and the stride-s conv with same padding: (h//2 + 2*(k//2) - k)//s + 1
    # (blocks.15: 14 -> 7 -> 4, not 3)
    macs = sum((ci * ci // 2 * k * k + ci * co) * ((h // 2 + 2 * (k // 2) - k) // s + 1) ** 2
               for ci, co, h, s, k in table)
    assert len(table) == 19 and len({n.block for n in lite if n.op != "add"}) == 19
    assert sum(n.n_params for n in lite) == params == 1_816_416  # reference 4 [D]
    assert sum(n.macs for n in lite) == macs == 75_290_144  # "75.3M MACs" [D]
    # L+B quirk: each final GN bias frozen while all other biases train
    lb = methods.apply(proxyless, "lite-residual+bias")
    roles = lb.trainable_by_node()
    assert "shift" not in roles["blocks.5.lite_residual.final_bn"]
    assert "shift" in roles["blocks.5.lite_residual.bn1"] and "shift" in roles["blocks.5.dw_bn"]


def test_tinytl_baselines_run_on_tinytl_network(proxyless):
    last = methods.apply(proxyless, "last")
    assert any(n.attrs.get("kind") == "gn" for n in last.graph if n.op == "norm")
    # classifier 1280 x 102 + 102 = 130,662 trainable; lite residuals present but frozen
    assert last.trainable_params == 130_662
    assert last.frozen_params == proxyless.n_params - 130_662 + 1_816_416
    assert not last.ops_by_phase("backward_error") and not last.require_backward
    # FT-Last stores nothing until the classifier, so A_peak is the largest tmp: the expand conv of
    # blocks.1, 4 * (16*112*112 + 48*112*112) = 3,211,264 bytes
    assert memory_report(last).peak_activation_bytes == 3_211_264
    plain = methods.apply(proxyless, "last", network="plain")
    assert not any("lite_residual" in n.tags for n in plain.graph)


def test_repnet_proxyless_branches(proxyless):
    step = methods.apply(proxyless, "repnet")
    convs = {n.name: n for n in step.graph if "repnet_branch" in n.tags and n.op == "conv"}
    # six modules; module 1 reads the image pooled x2 then x4 (224 -> 28), 3 -> 8 -> 32, groups 1, k5
    m1 = convs["repnet.m1.conv1"]
    assert m1.in_shape == (3, 28, 28) and m1.attrs["groups"] == 1 and m1.attrs["kernel"] == (5, 5)
    # modules 5 and 6 (slots 17, 21) use k3 (nominal size 7); module 6 is 192 -> 192 -> 320
    assert convs["repnet.m5.conv1"].attrs["kernel"] == (3, 3)
    assert convs["repnet.m6.conv2"].attrs["out_ch"] == 320
    assert len({n.split(".")[1] for n in convs}) == 6
    # error must flow through the frozen backbone down to module 1's add point: every ReLU6 stores a mask
    masks = {t.node for t in step.stored if t.form == "mask1"}
    assert all(n.name in masks for n in step.graph if n.op == "act" and n.attrs["kind"] == "relu6")
    with pytest.raises(SpecError, match="repnet.*resnet18"):
        methods.apply(zoo.build("resnet18"), "repnet")


def test_repnet_variant_card_overrides_kernel(proxyless):
    step = methods.apply(proxyless, "repnet-k3")
    k = {n.attrs["kernel"] for n in step.graph if "repnet_branch" in n.tags and n.name.endswith("conv1")}
    assert k == {(3, 3)} and step.method == "repnet-k3"


def test_gradient_filter_stored_sizes_resnet18():
    g = zoo.build("resnet18")
    step = methods.apply(g, "gradient-filter", patch=2, layers=2)
    # last two convs: layer4.1.conv1 and conv2, input 512x7x7, output 7x7 -> ceil(7/2)^2 = 16 patches:
    # x~ = 512 * 16 = 8192 values each, fp32 -> 2 * 8192 * 4 = 65,536 B = 64 KiB
    assert gradient_filter_memory_bytes(step) == 65_536
    assert memory_report(step).record()["stored_x_kib"] == 64.0
    vanilla = methods.apply(g, "gradient-filter", patch=1, layers=2)
    # vanilla BP of the same layers stores x: 2 * 512*7*7 * 4 = 200,704 B = 196 KiB
    assert gradient_filter_memory_bytes(vanilla) == 200_704
    four = methods.apply(g, "gradient-filter", layers=4)
    # "the layer4.0 downsample conv is among the last four" (module order)
    assert "layer4.0.downsample.0" in four.trainable_by_node()


def test_mobiletl_top_block_stored_sizes(proxyless):
    step = methods.apply(proxyless, "mobiletl", blocks=1)
    got = sorted((t.node, t.form, t.elems) for t in step.stored)
    hw = 7 * 7
    # blocks.19: 192 -> 1152 (k7) -> 320 at 7x7; head: feature_mix 320 -> 1280, classifier 1280 -> 102
    want = sorted([
        ("blocks.19.expand", "fp32", 192 * hw), ("blocks.19.expand_act", "mask1", 1152 * hw),
        ("blocks.19.dw", "fp32", 1152 * hw), ("blocks.19.dw_act", "mask1", 1152 * hw),
        ("blocks.19.project", "fp32", 1152 * hw), ("blocks.19.project_bn", "fp32", 320 * hw),
        ("feature_mix_layer.conv", "fp32", 320 * hw), ("feature_mix_layer.bn", "fp32", 1280 * hw),
        ("feature_mix_layer.act", "mask1", 1280 * hw), ("classifier", "fp32", 1280)])
    assert got == want
    roles = step.trainable_by_node()
    assert roles["blocks.19.expand_bn"] == {"shift"} and roles["blocks.19.project_bn"] == {"scale", "shift"}
    # no backward below the trained block
    assert step.error_floor == "blocks.19.expand"
    assert all(step.graph.index(op.node) >= step.graph.index("blocks.19.expand")
               for op in step.ops_by_phase("backward_error"))
    with pytest.raises(SpecError, match="mobiletl.*resnet18.*inverted-residual"):
        methods.apply(zoo.build("resnet18"), "mobiletl")


def test_sparse_update_stored_sizes():
    b = GraphBuilder("s", (4, 8, 8))
    y = b.act(b.norm(b.conv(b.input, 8, 1, name="c1"), "bn", name="n1"), "relu6", name="a1")
    y = b.act(b.norm(b.conv(y, 8, 1, name="c2"), "bn", name="n2"), "relu6", name="a2")
    b.linear(b.global_pool(y, name="gp"), 2, name="fc")
    step = methods.apply(b.build(), "sparse-update", bias_layers=2, weights=[{"layer": 1, "ratio": 0.5}])
    rec = {(t.node, t.what): t.nbytes for t in step.stored}
    # c2 weights, half the channels: input int8 8*8*8 = 512 B; weight copy 0.5 * 8*8 = 32 B (int8)
    # biases of the last 2 layers: c2 (folded into n2 shift, 8 x int32 = 32 B) and fc (2 x 4 = 8 B)
    # truncation masks of a1 and a2 (c2 is the lowest updated layer: a1 comes after c1 ... only a2 and
    # activations after c2): a2 = 512 elems -> 64 B
    assert rec == {("c2", "input"): 512, ("c2", "updated-weight copy"): 32,
                   ("n2", "updated-bias copy (int32)"): 32, ("fc", "updated-bias copy (int32)"): 8,
                   ("a2", "truncation mask"): 64}
    assert step.imc_weights_written == 32  # 0.5 x 64 weights of c2 rewritten in the arrays


def test_da3_is_flagged_interpretation():
    step = methods.apply(zoo.build("resnet50", classes=10), "da3")
    assert any(n.startswith("INTERPRETATION") for n in step.notes)
    # adaptors store only pooled vectors: no stored tensor of a da3 node exceeds its block's channels
    assert all(t.elems <= 2048 for t in step.stored if t.node.endswith(("fc1", "fc2", "gate")))


def test_step_structure_inference_and_sram_placement(proxyless):
    inf = methods.apply(proxyless, "inference")
    assert {op.phase for op in inf.ops} == {"forward"} and inf.trainable_params == 0 and not inf.stored
    full = methods.apply(proxyless, "full", network="plain")
    kinds = {(op.phase, op.kind) for op in full.ops}
    assert {("forward", "mvm"), ("backward_error", "mvm"), ("weight_gradient", "gemm"),
            ("weight_gradient", "vector"), ("update", "write")} <= kinds
    conv_w = sum(n.params["weight"] for n in proxyless.weight_nodes())
    assert full.imc_weights_written == conv_w and full.imc_bits_written == 8 * conv_w
    sram = methods.apply(proxyless, "full", network="plain", trained_weights_in="sram")
    assert sram.imc_weights_written == 0
    assert all(op.location == "sram" for op in sram.ops if op.kind == "mvm")


def test_bad_options_are_one_line_spec_errors(proxyless):
    with pytest.raises(SpecError, match="rnk"):
        methods.apply(proxyless, "repnet", rnk=3)
    with pytest.raises(SpecError, match="unknown method"):
        methods.apply(proxyless, "nope")


def test_method_card_inheritance_cycle_is_one_line_naming_the_loop(tmp_path):
    # a.yaml -> b.yaml -> a.yaml: caught by config.inherit.check_link, like device cards and presets
    from imcsim.workload.methods.cards import load_card

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    for me, parent in ((a, b), (b, a)):
        me.write_text(f"name: {me.stem}\ndescription: x\nsource: x\ninherits: {parent}\n")
    with pytest.raises(SpecError, match=r"inherits: inheritance cycle \(a.yaml -> b.yaml -> a.yaml\)"):
        load_card(a).resolved()
    # a variant two levels deep still resolves to its built-in method with both option layers
    (tmp_path / "k3.yaml").write_text("name: k3\ndescription: x\nsource: x\ninherits: repnet\noptions: {kernel: 3}\n")
    (tmp_path / "k3b.yaml").write_text(f"name: k3b\ndescription: x\nsource: x\ninherits: {tmp_path / 'k3.yaml'}\n"
                                       "notes: [deeper]\n")
    base, options, notes = load_card(tmp_path / "k3b.yaml").resolved()
    assert base == "repnet" and options["kernel"] == 3 and notes[-1] == "deeper"


def test_deep_merge_is_the_one_merge_and_copies():
    from imcsim.config.inherit import deep_merge

    base = {"chip": {"clock_mhz": 500, "buffer": {"kib": 64}}, "tags": [1]}
    over = {"chip": {"buffer": {"kib": 128}}, "tags": [2]}
    merged = deep_merge(base, over)
    assert merged == {"chip": {"clock_mhz": 500, "buffer": {"kib": 128}}, "tags": [2]}
    merged["chip"]["clock_mhz"] = 1
    assert base["chip"]["clock_mhz"] == 500 and over["chip"]["buffer"] == {"kib": 128}
