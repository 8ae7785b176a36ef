"""The TinyTL/Rep-Net profiler convention ([TINYTL], [P5]; docs/methods.md), rule by rule,
on small hand-built graphs. Every expected number is worked out in the comment next to it."""

from imcsim.workload.accounting import activation_walk, memory_report, param_bytes, peak_activation_bytes
from imcsim.workload.graph import GraphBuilder
from imcsim.workload.methods._core import build_step


def _chain():
    # input 3x8x8 (|x|=192) -> conv1 3->4 k3 (|y|=256) -> bn -> relu -> conv2 4->8 k1 s2 (8x4x4=128)
    # -> global pool (8) -> fc 8->2
    b = GraphBuilder("chain", (3, 8, 8))
    y = b.conv(b.input, 4, 3, name="conv1")
    y = b.act(b.norm(y, "bn", name="bn"), "relu", name="relu")
    y = b.conv(y, 8, 1, 2, name="conv2")
    b.linear(b.global_pool(y, name="gp"), 2, name="fc", tags=("classifier",))
    return b.build()


def test_conv_norm_relu_linear_rules_and_peak():
    g = _chain()
    step = build_step("t", g, {"conv1": {"weight"}, "bn": {"scale", "shift"}, "fc": {"weight", "bias"}}, options={})
    saved = {t.node: t.nbytes for t in step.stored}
    # conv1 trainable weight: 4|x| = 4*192 = 768; bn trainable scale: 4*256 = 1024;
    # relu mask: 256/8 = 32; fc trainable weight: 4*8 = 32; frozen conv2 stores nothing
    assert saved == {"conv1": 768, "bn": 1024, "relu": 32, "fc": 32}
    rows = {r.node: r.total_bytes for r in activation_walk(step)}
    # conv1: 4*192 + 4*256 = 1792; bn: 1024 + 768 = 1792; relu: 1024 + 1792 = 2816
    # conv2: 4*256 + 4*128 + (768+1024+32) = 1536 + 1824 = 3360; gp: 0 + 1824; fc: 4*(8+2) + 1824 = 1864
    assert rows == {"conv1": 1792, "bn": 1792, "relu": 2816, "conv2": 3360, "gp": 1824, "fc": 1864}
    assert peak_activation_bytes(step) == 3360
    # params: conv1 3*4*9=108, bn 4+4=8, conv2 4*8=32, fc 8*2+2=18; trainable 108+8+18=134, frozen 32
    assert (step.trainable_params, step.frozen_params) == (134, 32)
    assert param_bytes(step) == 4 * 134 + 32  # 568
    # Mem = B * A_peak + P = 8 * 3360 + 568 = 27448
    assert memory_report(step, batch=8).total_bytes == 27448


def test_last_stores_no_masks():
    g = _chain()
    step = build_step("last", g, {"fc": {"weight", "bias"}}, options={}, require_backward=False)
    # only the classifier input: 4 * 8 = 32 bytes; no ReLU mask without backward
    assert [(t.node, t.nbytes) for t in step.stored] == [("fc", 32)]
    assert not step.ops_by_phase("backward_error")


def test_bias_only_layers_store_nothing():
    g = _chain()
    step = build_step("bias", g, {"bn": {"shift"}, "fc": {"weight", "bias"}}, options={})
    # bn trains its shift only -> nothing; relu mask 256/8 = 32 (backward runs); fc input 4*8 = 32
    assert sorted((t.node, t.form, t.nbytes) for t in step.stored) == [("fc", "fp32", 32), ("relu", "mask1", 32)]


def test_hswish_and_sigmoid_store_fp32_input_only_with_backward():
    b = GraphBuilder("h", (2, 4, 4))
    y = b.conv(b.input, 2, 1, name="c")
    y = b.act(y, "hswish", name="hs")
    y = b.act(y, "sigmoid", name="sg")
    b.linear(b.global_pool(y, name="gp"), 3, name="fc", tags=("classifier",))
    g = b.build()
    step = build_step("t", g, {"c": {"weight"}, "fc": {"weight"}}, options={})
    saved = {t.node: t.nbytes for t in step.stored}
    # |x| = 2*4*4 = 32 for c, hs and sg: conv 4*32 = 128, h-swish 4*32 = 128, sigmoid 4*32 = 128, fc 4*2 = 8
    assert saved == {"c": 128, "hs": 128, "sg": 128, "fc": 8}
    last = build_step("t", g, {"fc": {"weight"}}, options={}, require_backward=False)
    assert {t.node for t in last.stored} == {"fc"}


def test_depthwise_groups_quirk_in_tmp():
    b = GraphBuilder("dw", (4, 8, 8))
    b.conv(b.input, 4, 3, groups=4, name="dw")
    step = build_step("inference", b.build(), {}, options={})
    # tmp = 4|x| + floor(4|y| / groups) = 4*256 + 4*256 // 4 = 1024 + 256 = 1280 (not 2048)
    assert peak_activation_bytes(step) == 1280


def test_residual_counted_inside_identity_block():
    b = GraphBuilder("res", (4, 4, 4))
    with b.block("blk", "irb", b.input, "identity"):
        y = b.act(b.conv(b.input, 4, 3, name="conv"), "relu", name="relu")
        b.add(y, b.input, name="add")
    g = b.build()
    step = build_step("t", g, {"blk.conv": {"weight"}}, options={})
    rows = {r.node: (r.tmp_bytes, r.saved_before_bytes, r.residual_bytes) for r in activation_walk(step)}
    # |block input| = 64 -> residual 4*64 = 256 on every op inside the block
    # conv: tmp 4*64 + 4*64 = 512, saved 0; relu: tmp 4*64 = 256, saved 4*64 = 256
    assert rows == {"blk.conv": (512, 0, 256), "blk.relu": (256, 256, 256)}
    assert peak_activation_bytes(step) == 768  # max(512+0+256, 256+256+256)


def test_torchvision_shared_relu_quirk():
    # a bottleneck-kind block whose ReLUs differ in size: relu1 on 8x4x4 = 128, relu2 after add on 16x4x4 = 256.
    # torchvision calls ONE relu module for both, so the profiler counts both at the last call's size (256).
    b = GraphBuilder("tv", (16, 4, 4))
    with b.block("l1", "bottleneck", b.input, "identity"):
        y = b.act(b.conv(b.input, 8, 1, name="conv1"), "relu", name="relu1")
        y = b.conv(y, 16, 1, name="conv2")
        b.act(b.add(y, b.input, name="add"), "relu", name="relu2")
    step = build_step("bias-like", b.build(), {"l1.conv2": {"weight"}}, options={})
    rows = {r.node: r for r in activation_walk(step)}
    # relu1: tmp 4*256 = 1024 (not 4*128), mask 256/8 = 32 (not 16)
    assert rows["l1.relu1"].tmp_bytes == 1024 and rows["l1.relu1"].saved_here_bytes == 32
