"""PackedWeights (weights packed once, reused across calls) and the pixel path of the bit-serial conv.

The pixel path (C_in/groups a multiple of 64: every input pixel is packed into plane words once, an
im2col row is the list of its in-bounds taps' words) is held to the same numpy reference and naive
activity count as the row path in ``test_circuit_kernels_bitserial.py``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_circuit_kernels_bitserial import _values, check_conv

from imcsim.circuit import bitserial as bs
from imcsim.circuit.reference import conv2d_ref, linear_ref


def _same_activity(a, b):
    np.testing.assert_array_equal(a.input_ones, b.input_ones)
    np.testing.assert_array_equal(a.and_ones, b.and_ones)
    np.testing.assert_array_equal(a.weight_ones, b.weight_ones)
    assert (a.input_slots, a.and_slots, a.weight_slots) == (b.input_slots, b.and_slots, b.weight_slots)


@st.composite
def pixel_cases(draw):
    groups = draw(st.integers(1, 2))
    cg = draw(st.sampled_from([64, 128]))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    assume(h + 2 * padding[0] >= dilation[0] * (kh - 1) + 1 and w + 2 * padding[1] >= dilation[1] * (kw - 1) + 1)
    return dict(batch=draw(st.integers(1, 2)), groups=groups, cg=cg, n_out=draw(st.integers(1, 40)), kh=kh, kw=kw,
                stride=stride, dilation=dilation, padding=padding, h=h, w=w,
                in_bits=draw(st.integers(1, 8)), w_bits=draw(st.integers(1, 8)), in_signed=draw(st.booleans()),
                w_signed=draw(st.booleans()),
                xmode=draw(st.sampled_from(["uniform", "uniform", "sparse", "min", "max"])),
                wmode=draw(st.sampled_from(["uniform", "uniform", "sparse", "min", "max"])),
                seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(pixel_cases())
def test_pixel_path_bit_exact_and_activity_equal_naive_count(c):
    rng = np.random.default_rng(c["seed"])
    x = _values(rng, (c["batch"], c["groups"] * c["cg"], c["h"], c["w"]), c["in_bits"], c["in_signed"], c["xmode"])
    w = _values(rng, (c["groups"] * c["n_out"], c["cg"], c["kh"], c["kw"]), c["w_bits"], c["w_signed"], c["wmode"])
    check_conv(x, w, c["stride"], c["padding"], c["dilation"], c["groups"], c["in_bits"], c["w_bits"],
               c["in_signed"], c["w_signed"])


@settings(max_examples=30, deadline=None)
@given(cg=st.sampled_from([3, 64]), groups=st.integers(1, 2), n_out=st.integers(1, 20), k=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.integers(0, 1), in_bits=st.integers(1, 8), w_bits=st.integers(1, 8),
       in_signed=st.booleans(), w_signed=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_packed_weights_reused_across_calls_equal_unpacked(cg, groups, n_out, k, stride, padding, in_bits, w_bits,
                                                           in_signed, w_signed, seed):
    rng = np.random.default_rng(seed)
    w = _values(rng, (groups * n_out, cg, k, k), w_bits, w_signed)
    pk = bs.PackedWeights(w, groups, w_bits, w_signed)
    words = pk.wq.copy()
    for _ in range(3):   # the same packed weights against several inputs
        x = _values(rng, (2, groups * cg, 5, 4), in_bits, in_signed)
        y_p, act_p = bs.conv2d(x, pk, stride, padding, in_bits=in_bits, in_signed=in_signed)
        y_u, act_u = bs.conv2d(x, w, stride, padding, 1, groups, in_bits, w_bits, in_signed, w_signed)
        np.testing.assert_array_equal(y_p, y_u)
        np.testing.assert_array_equal(y_p, conv2d_ref(x, w, stride, padding, 1, groups))
        _same_activity(act_p, act_u)
    np.testing.assert_array_equal(pk.wq, words)    # calls do not modify the packed words
    np.testing.assert_array_equal(pk.unpacked(), w)   # the words read back are the weights


def test_packed_weights_describe_themselves():
    w = np.ones((8, 3, 7, 7), np.int8)
    pk = bs.pack_weights(w, w_bits=4, w_signed=False)
    assert (pk.shape, pk.groups, pk.w_bits, pk.w_signed) == ((8, 3, 7, 7), 1, 4, False)
    assert (pk.in_channels, pk.out_channels, pk.weight_slots) == (3, 8, w.size)
    assert pk.weight_ones.tolist() == [w.size, 0, 0, 0]
    assert "PackedWeights(shape=(8, 3, 7, 7)" in repr(pk)


def test_wrong_shape_packed_weights_give_a_clear_error():
    pk = bs.PackedWeights(np.ones((4, 64, 3, 3), np.int8))
    with pytest.raises(bs.BitWidthError, match="input channels do not match the packed weights") as exc:
        bs.conv2d(np.ones((1, 32, 5, 5), np.int8), pk)
    assert "C_in = 64" in str(exc.value)
    grouped = bs.PackedWeights(np.ones((4, 32, 1, 1), np.int8), groups=2)
    assert grouped.in_channels == 64
    with pytest.raises(bs.BitWidthError, match="input channels do not match"):
        bs.conv2d(np.ones((1, 32, 5, 5), np.int8), grouped)


@pytest.mark.parametrize("kwargs, field", [({"groups": 2}, "groups"), ({"w_bits": 4}, "w_bits"),
                                           ({"w_signed": False}, "w_signed")])
def test_options_disagreeing_with_the_packed_weights_are_rejected(kwargs, field):
    pk = bs.PackedWeights(np.ones((4, 64, 1, 1), np.int8))
    with pytest.raises(bs.BitWidthError, match=f"{field}.*disagrees with the packed weights"):
        bs.conv2d(np.ones((1, 64, 2, 2), np.int8), pk, **kwargs)
    # the packed values themselves are accepted
    bs.conv2d(np.ones((1, 64, 2, 2), np.int8), pk, groups=1, w_bits=8, w_signed=True)


def test_packing_rejects_bad_weights():
    with pytest.raises(bs.BitWidthError, match="outside the declared bit width"):
        bs.PackedWeights(np.full((2, 2, 1, 1), 8), w_bits=4)
    with pytest.raises(bs.BitWidthError, match="groups"):
        bs.PackedWeights(np.ones((3, 2, 1, 1), np.int8), groups=2)
    with pytest.raises(bs.BitWidthError, match="shape"):
        bs.PackedWeights(np.ones((3, 2), np.int8))


def test_linear_accepts_packed_weights():
    rng = np.random.default_rng(5)
    x = _values(rng, (2, 3, 130), 8, False)
    w = _values(rng, (7, 130), 8, True)
    pk = bs.PackedWeights(w[:, :, None, None])
    y_p, act_p = bs.linear(x, pk, in_signed=False)
    y_u, act_u = bs.linear(x, w, in_signed=False)
    np.testing.assert_array_equal(y_p, linear_ref(x, w))
    np.testing.assert_array_equal(y_p, y_u)
    _same_activity(act_p, act_u)
    with pytest.raises(bs.BitWidthError, match="shape"):
        bs.linear(x, bs.PackedWeights(np.ones((7, 130, 3, 3), np.int8)))


def test_output_is_nchw_shaped_channels_last_memory():
    # like a GEMM's (M, N) output; np.ascontiguousarray gives NCHW memory when needed
    rng = np.random.default_rng(6)
    x = _values(rng, (2, 64, 4, 5), 8, True)
    w = _values(rng, (32, 64, 3, 3), 8, True)
    y, _ = bs.conv2d(x, bs.PackedWeights(w), padding=1)
    assert y.shape == (2, 32, 4, 5) and y.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(np.ascontiguousarray(y), conv2d_ref(x, w, 1, 1))


@pytest.mark.parametrize("n_out, in_bits", [(96, 8), (100, 8), (100, 3), (130, 4)])
def test_several_channel_chunks_and_padded_lanes(n_out, in_bits):
    # N above one task's channel chunk (64), N not a multiple of the 16/32-lane block (padded lanes
    # are computed but dropped), both input slot layouts; pixel path (64 channels) and row path (5).
    rng = np.random.default_rng(n_out + in_bits)
    for c_in in (64, 5):
        x = _values(rng, (2, c_in, 6, 7), in_bits, False)
        w = _values(rng, (n_out, c_in, 3, 3), 8, True)
        check_conv(x, w, stride=(1, 2), padding=1, in_bits=in_bits, in_signed=False, activity=c_in == 5)


@pytest.mark.parametrize("in_signed", [True, False])
@pytest.mark.parametrize("w_signed", [True, False])
@pytest.mark.parametrize("c_in, k", [(64, 3), (3, 7), (64 * 5, 3)])
@pytest.mark.parametrize("mode", ["uniform", "min", "max"])
def test_int8_blocks_for_every_sign_combination(in_signed, w_signed, c_in, k, mode):
    # 8-bit x 8-bit runs use sign-specialised blocks: short rows (pixel and row path) the diagonal
    # accumulators, rows above DIAG_MAX_WORDS words (64*5*9/64 = 45) the per-plane block
    rng = np.random.default_rng(c_in + k)
    x = _values(rng, (1, c_in, 4, 4), 8, in_signed, mode)
    w = _values(rng, (16, c_in, k, k), 8, w_signed, mode)
    check_conv(x, w, padding=k // 2, in_signed=in_signed, w_signed=w_signed, activity=c_in == 3)
