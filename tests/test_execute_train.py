"""INT8 training on the kernels: the executed ops are the priced ones, the kernel GEMMs are exact, the
float backward rules are right, and a short run learns deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.errors import SpecError
from imcsim.execute import backprop, fp32, train, weights
from imcsim.execute import qnet as Q
from imcsim.execute.data import load_dataset
from imcsim.workload import methods, zoo
from imcsim.workload.graph import GraphBuilder


@pytest.fixture(autouse=True)
def _one_thread():
    with train.single_thread():   # tiny layers: one thread is faster on a shared machine
        yield


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _qnet(graph, seed, x):
    return Q.quantize(graph, weights.random_params(graph, seed), x)


@pytest.mark.parametrize("method", train.METHODS)
def test_executed_ops_are_the_ops_the_engine_prices(digits, method):
    step = train.method_step(zoo.build("digits-cnn"), method)     # = methods.apply with imcsim train's options
    x, y = digits.images[:4], digits.labels[:4]
    rec = train.Int8Trainer(_qnet(step.graph, 0, x), train.TrainOptions(method=method), 0, step).step(x, y)
    executed = sorted((o.node, o.phase, o.kind, o.gemm) for o in rec.ops)
    priced = sorted((o.node, o.phase, o.kind, o.gemm) for o in step.ops if o.kind in ("mvm", "gemm", "write"))
    assert executed == priced
    assert set(rec.updates) == {o.node for o in step.ops if o.kind == "write"}


def test_repnet_trains_only_its_branches_and_the_classifier_in_the_arrays(digits):
    """Rep-Net on digits-cnn: the frozen backbone's INT8 weights do not move; the branch convs and the
    classifier are written; the error reaches module 1 (whose input is the image) without a transposed
    read of the stem conv (nothing below it trains)."""
    step = methods.apply(zoo.build("digits-cnn"), "repnet")
    x, y = digits.images[:8], digits.labels[:8]
    qn = _qnet(step.graph, 1, x)
    before = {op.node.name: op.w.copy() for op in qn.array_ops()}
    rec = train.Int8Trainer(qn, train.TrainOptions(method="repnet", lr_shift=0), 1, step).step(x, y)
    branch = {n.name for n in step.graph.weight_nodes() if "repnet_branch" in n.tags}
    assert len(branch) == 8 and set(rec.updates) == branch | {"classifier"}
    for name, w in before.items():
        if name in rec.updates:
            np.testing.assert_array_equal(rec.updates[name][0], w)
            np.testing.assert_array_equal(rec.updates[name][1], qn.ops[name].w)
        else:
            np.testing.assert_array_equal(qn.ops[name].w, w, err_msg=f"frozen {name} moved")
    assert any(not np.array_equal(o, n) for o, n in rec.updates.values())
    err = {o.node for o in rec.ops if o.phase == "backward_error"}
    assert "stem.conv" not in err and "repnet.m1.conv1" not in err and "repnet.m2.conv1" in err


@st.composite
def conv_nets(draw):
    c = draw(st.sampled_from([2, 4]))
    b = GraphBuilder("rand", (draw(st.sampled_from([1, 2])), 6, 6))
    x = b.act(b.conv(b.input, c, draw(st.sampled_from([1, 3])), draw(st.sampled_from([1, 2])), name="c1"), "relu",
              name="r1")
    groups = draw(st.sampled_from([1, 2, c]))
    x = b.act(b.conv(x, c, 3, draw(st.sampled_from([1, 2])), groups=groups, bias=True, name="c2"), "relu6",
              name="r2")
    b.linear(b.global_pool(x, "avg", name="gp"), 3, name="fc", tags=("classifier",))
    return b.build(), draw(st.integers(0, 1000)), draw(st.sampled_from(train.ERROR_BITS))


@settings(max_examples=15, deadline=None)
@given(conv_nets())
def test_kernel_backward_and_weight_gradient_equal_numpy_integers(net):
    """The transposed-array error and the weight-gradient GEMM on the kernels give exactly the integers
    numpy gives (INT8 errors, or INT16 ones in two 8-bit passes): same seed, same stochastic rounding, so
    every updated weight and bias is equal."""
    graph, seed, bits = net
    rng = np.random.default_rng(seed)
    x, y = rng.random((3, *graph.input_shape)), rng.integers(0, 3, 3)
    q1, q2 = _qnet(graph, seed, x), _qnet(graph, seed, x)
    kern = train.Int8Trainer(q1, train.TrainOptions(method="full", error_bits=bits), seed)
    ref = train.Int8Trainer(q2, train.TrainOptions(method="full", backward="digital", wgrad="digital",
                                                   error_bits=bits), seed)
    r1, r2 = kern.step(x, y), ref.step(x, y)
    assert r1.loss == r2.loss
    for name in ("c1", "c2", "fc"):
        np.testing.assert_array_equal(q1.ops[name].w, q2.ops[name].w, err_msg=name)
        np.testing.assert_array_equal(q1.ops[name].bias, q2.ops[name].bias, err_msg=name)
        old, new = r1.updates[name]
        assert np.abs(new).max() <= 127 and old.shape == new.shape
    assert ("c2", "backward_error") in r1.activity and ("fc", "weight_gradient") in r1.activity
    assert not r2.activity.keys() - {(n, "forward") for n in ("c1", "c2", "fc")}


def _central_difference(loss, params, arr, idx, h: float = 1e-5) -> float:
    """d loss / d arr[idx] by central difference (arr is one of params' arrays, restored afterwards)."""
    old = arr[idx]
    arr[idx] = old + h
    up = loss(params)
    arr[idx] = old - h
    down = loss(params)
    arr[idx] = old
    return (up - down) / (2 * h)


def test_float_backward_matches_finite_differences():
    graph = zoo.build("digits-cnn", width=4)
    p = weights.random_params(graph, 0)
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 1, 8, 8)), np.array([1, 2, 3])

    def loss(params):
        return backprop.softmax_xent(fp32.forward(graph, params, x)["classifier"], y)[0]

    outs = fp32.forward(graph, p, x)
    _, e = backprop.softmax_xent(outs["classifier"], y)
    grads = backprop.backward(graph, p, outs, e, {n.name for n in graph.nodes if n.op in ("conv", "linear", "norm")})
    for name, role in [("stem.conv", "weight"), ("res1.conv1", "weight"), ("sep1.dw", "weight"),
                       ("down.conv", "weight"), ("classifier", "weight"), ("classifier", "bias"),
                       ("res1.bn2", "scale"), ("res1.bn2", "shift")]:
        arr = p[name][role]
        idx = tuple(int(rng.integers(0, s)) for s in arr.shape)
        numeric = _central_difference(loss, p, arr, idx)
        assert grads[name][role][idx] == pytest.approx(numeric, rel=1e-4, abs=1e-9)


def test_int16_errors_split_into_two_kernel_operands():
    e = np.array([-32767, -32768 + 1, -257, -256, -1, 0, 1, 255, 256, 32767])
    digits = train.error_digits(e, 16)
    np.testing.assert_array_equal(sum(d * w for d, w, _ in digits), e)
    (hi, _, hi_signed), (lo, _, lo_signed) = digits
    assert hi_signed and -128 <= hi.min() and hi.max() <= 127        # a signed byte
    assert not lo_signed and 0 <= lo.min() and lo.max() <= 255       # an unsigned byte
    # INT16 stochastic rounding: max |v| = 0.3 -> scale 2^ceil(log2(0.3 / 32767)) = 2^-16; 0.3 * 2^16 = 19660.8
    q, scale = train.sr_quantize(np.full(4000, 0.3), np.random.default_rng(0), 16)
    assert scale == 2.0 ** -16 and set(np.unique(q)) == {19660, 19661}


@pytest.mark.slow
def test_int16_errors_train_like_int8_ones(digits):
    """INT16 errors run the same ops (the kernels twice per error operand) and move the same weights."""
    graph = zoo.build("digits-cnn", width=4)
    x, y = digits.images[:8], digits.labels[:8]
    r8 = train.Int8Trainer(_qnet(graph, 0, x), train.TrainOptions(method="full", lr_shift=0), 0).step(x, y)
    r16 = train.Int8Trainer(_qnet(graph, 0, x), train.TrainOptions(method="full", lr_shift=0, error_bits=16),
                            0).step(x, y)
    assert r8.ops == r16.ops and r8.loss == r16.loss
    key = ("res1.conv2", "backward_error")
    assert r16.activity[key].input_slots == 2 * r8.activity[key].input_slots     # two passes
    for name, (old, new) in r16.updates.items():
        d8, d16 = r8.updates[name][1] - old, new - old
        assert (np.sign(d8) * np.sign(d16) >= 0).mean() > 0.9, name         # same directions (SR noise aside)


def test_stochastic_rounding_is_unbiased_and_power_of_two():
    rng = np.random.default_rng(0)
    v = np.full(20000, 0.3)
    q, scale = train.sr_quantize(v, rng)
    # max |v| = 0.3 -> scale = 2^ceil(log2(0.3 / 127)) = 2^-8; 0.3 / 2^-8 = 76.8 -> 76 or 77, mean 76.8
    assert scale == 2.0 ** -8
    assert set(np.unique(q)) == {76, 77}
    assert q.mean() == pytest.approx(76.8, abs=0.02)


@pytest.mark.slow
def test_short_training_learns_and_is_deterministic(digits):
    graph = zoo.build("digits-cnn", width=4)
    opts = train.TrainOptions(method="last", lr_shift=2, batch=16)
    a = train.continual_learning(graph, digits, opts, steps=16, seed=1, log_every=8, pretrain_steps=40)
    b = train.continual_learning(graph, digits, opts, steps=16, seed=1, log_every=8, pretrain_steps=40)
    assert a.records == b.records
    first, last = a.records[1], a.records[-1]
    assert last["loss"] < first["loss"]
    assert a.records[0]["accuracy"] < 0.2 < last["accuracy"]     # task B starts unknown (chance is 0.2 of 5)
    old, new = a.updates["classifier"]
    assert old.shape == (16, 10, 8) and (old != new).any()
    assert np.array_equal(old[1:], new[:-1])      # each update starts from the previous one's result


def test_lora_trains_its_adapters_and_leaves_the_classifier_frozen(digits):
    """LoRA on digits-cnn's linear layer: A (4 x 32) and B (10 x 4) beside the frozen classifier, added
    with alpha / r = 2; only A and B are written; the error stops at A (nothing below it trains)."""
    step = train.method_step(zoo.build("digits-cnn"), "lora")
    assert step.options["targets"] == ["linear"] and step.options["rank"] == 4
    x, y = digits.images[:8], digits.labels[:8]
    qn = _qnet(step.graph, 2, x)
    frozen = {op.node.name: op.w.copy() for op in qn.array_ops() if "lora" not in op.node.tags}
    rec = train.Int8Trainer(qn, train.TrainOptions(method="lora", lr_shift=0), 2, step).step(x, y)
    assert set(rec.updates) == {"classifier.lora.A", "classifier.lora.B"}
    assert rec.updates["classifier.lora.B"][0].shape == (10, 4)
    for name, w in frozen.items():
        np.testing.assert_array_equal(qn.ops[name].w, w, err_msg=name)
    assert {o.node for o in rec.ops if o.phase == "backward_error"} == {"classifier.lora.B"}


def test_lora_add_scale_backward_matches_finite_differences():
    """The adapter's add weights B A x by alpha / r; its float gradients (the fp32 reference's) are right."""
    step = train.method_step(zoo.build("digits-cnn", width=4), "lora")
    graph = step.graph
    p = weights.random_params(graph, 4)
    rng = np.random.default_rng(4)
    x, y = rng.random((3, 1, 8, 8)), np.array([5, 6, 7])
    out = graph.nodes[-1].name

    def loss(params):
        return backprop.softmax_xent(fp32.forward(graph, params, x)[out], y)[0]

    outs = fp32.forward(graph, p, x)
    _, e = backprop.softmax_xent(outs[out], y)
    grads = backprop.backward(graph, p, outs, e, {"classifier.lora.A", "classifier.lora.B"})
    for name in ("classifier.lora.A", "classifier.lora.B"):
        arr = p[name]["weight"]
        idx = tuple(int(rng.integers(0, s)) for s in arr.shape)
        numeric = _central_difference(loss, p, arr, idx)
        assert grads[name]["weight"][idx] == pytest.approx(numeric, rel=1e-4, abs=1e-9)


@pytest.mark.slow
def test_repnet_run_is_deterministic_and_starts_from_the_backbone(digits):
    graph = zoo.build("digits-cnn", width=8)
    opts = train.TrainOptions(method="repnet", batch=16)
    a = train.continual_learning(graph, digits, opts, steps=6, seed=2, log_every=3, pretrain_steps=30)
    b = train.continual_learning(graph, digits, opts, steps=6, seed=2, log_every=3, pretrain_steps=30)
    assert a.records == b.records and [r["step"] for r in a.records] == [0, 3, 6]
    for name, (old, new) in a.updates.items():
        np.testing.assert_array_equal(old, b.updates[name][0])
        np.testing.assert_array_equal(new, b.updates[name][1])
    # the branches' last convs start at 0 (the code zeroes the final batch norm): a new branch adds nothing
    assert not a.updates["repnet.m4.conv2"][0][0].any() and a.updates["repnet.m4.conv2"][1][-1].any()
    # before training the INT8 and fp32 networks are the pre-trained backbone: same task-A accuracy, high
    assert abs(a.records[0]["accuracy_task_a"] - a.records[0]["fp32_accuracy_task_a"]) <= 0.03


def test_bad_training_flags_are_spec_errors(digits):
    with pytest.raises(SpecError, match="--lr-shift"):
        train.TrainOptions(lr_shift=40).check()
    with pytest.raises(SpecError, match="--method"):
        train.TrainOptions(method="lorafusion").check()
    with pytest.raises(SpecError, match="--error-bits.*8 or 16"):
        train.TrainOptions(error_bits=12).check()
    with pytest.raises(SpecError, match="cannot apply to workload 'resnet18'"):
        train.method_step(zoo.build("resnet18"), "repnet")
    with pytest.raises(SpecError, match="lora.*no linear layers tagged q/v"):
        train.method_step(zoo.build("digits-cnn"), "lora", {"targets": ["q", "v"]})
    with pytest.raises(SpecError, match="rank"):
        train.method_step(zoo.build("digits-cnn"), "lora", {"rank": 0})
    graph = zoo.build("digits-cnn", classes=4)
    with pytest.raises(SpecError, match="classes do not fit"):
        train.continual_learning(graph, digits, train.TrainOptions(), steps=1)


@pytest.mark.parametrize("error_bits", [8, 16])
def test_backward_error_toggles_are_counted_on_the_kernels_operands(digits, monkeypatch, error_bits):
    """The backward error's tree toggles: per transposed-array kernel call (each 8-bit pass), each group's
    error vectors one after the other against that group's transposed weights. Checked against a direct
    count of the operands the kernels received (captured), over every layer (depthwise sep1.dw included)."""
    import sys

    from imcsim.circuit.bitserial import PackedWeights
    from imcsim.circuit.toggle import toggle_activity

    calls = []
    real = train.bitserial.conv2d

    def spy(*args, **kw):
        if sys._getframe(1).f_code.co_name == "_transposed":
            w = args[1]   # the transposed weights, packed once per weight version
            calls.append((np.array(args[0]), w.unpacked(), w.groups) if isinstance(w, PackedWeights)
                         else (np.array(args[0]), np.array(w), kw.get("groups", 1)))
        return real(*args, **kw)

    monkeypatch.setattr(train.bitserial, "conv2d", spy)
    step = train.method_step(zoo.build("digits-cnn"), "full")
    x, y = digits.images[:3], digits.labels[:3]
    opts = train.TrainOptions(method="full", error_bits=error_bits)
    rec = train.Int8Trainer(_qnet(step.graph, 0, x), opts, 0, step, toggle_rows=16).step(x, y)
    layers = {k[0] for k in rec.activity if k[1] == "backward_error"}
    assert "sep1.dw" in layers and len(calls) == (error_bits // 8) * len(layers)
    want = 0
    for e4, w4, g in calls:
        e, wt = e4.reshape(len(e4), -1), w4.reshape(len(w4), -1)   # (B*M, g*og) errors, (g*kg, og) = W_j^T
        og, kg = e.shape[1] // g, wt.shape[0] // g
        want += sum(toggle_activity(e[:, j * og:(j + 1) * og], wt[j * kg:(j + 1) * kg].T, 8, 8, 16).and_toggles
                    for j in range(g))
    got = {k[0]: t for k, t in rec.toggles.items() if k[1] == "backward_error"}
    assert set(got) == layers and sum(t.and_toggles for t in got.values()) == want > 0
    for node, tog in got.items():   # every pass, every product the kernels counted
        assert tog.and_slots == rec.activity[(node, "backward_error")].and_slots * 64
