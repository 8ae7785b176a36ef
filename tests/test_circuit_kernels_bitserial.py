"""The bit-serial kernels equal the integer reference bit for bit, and their activity equals a naive count."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from imcsim.circuit import bitserial as bs
from imcsim.circuit.reference import conv2d_ref, im2col, linear_ref
from imcsim.errors import SpecError


def _values(rng, shape, bits, signed, mode="uniform"):
    lo, hi = bs.value_range(bits, signed)
    if mode == "min":
        return np.full(shape, lo, np.int64)
    if mode == "max":
        return np.full(shape, hi, np.int64)
    if mode == "zero":
        return np.zeros(shape, np.int64)
    v = rng.integers(lo, hi + 1, shape)
    if mode == "sparse":
        v = np.where(rng.random(shape) < 0.8, 0, v)
    return v


def naive_activity(x, w, stride, padding, dilation, groups, in_bits, w_bits):
    """Count every input bit and every AND product one by one (no column-sum factoring)."""
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    c_out, cg, kh, kw = w.shape
    n_out = c_out // groups
    input_ones = np.zeros(in_bits, np.int64)
    and_ones = np.zeros((in_bits, w_bits), np.int64)
    input_slots = and_slots = 0
    for g in range(groups):
        cols, _, _ = im2col(x[:, g * cg:(g + 1) * cg], kh, kw, stride, padding, dilation)   # (B, M, K)
        wg = w[g * n_out:(g + 1) * n_out].reshape(n_out, -1).T                             # (K, N)
        xb = [((cols & 0xFF) >> i) & 1 for i in range(in_bits)]
        wb = [((wg & 0xFF) >> j) & 1 for j in range(w_bits)]
        input_slots += cols.size
        and_slots += cols.size * n_out
        for i in range(in_bits):
            input_ones[i] += xb[i].sum()
            for j in range(w_bits):
                # every product x_i[b, m, k] AND w_j[k, n], materialised and counted
                and_ones[i, j] += (xb[i][:, :, :, None] & wb[j][None, None, :, :]).sum()
    weight_ones = np.array([(((w & 0xFF) >> j) & 1).sum() for j in range(w_bits)])
    return input_ones, input_slots, and_ones, and_slots, weight_ones, w.size


def check_conv(x, w, stride=1, padding=0, dilation=1, groups=1, in_bits=8, w_bits=8, in_signed=True,
               w_signed=True, activity=True):
    y, act = bs.conv2d(x, w, stride, padding, dilation, groups, in_bits, w_bits, in_signed, w_signed)
    ref = conv2d_ref(x, w, stride, padding, dilation, groups)
    assert y.dtype == np.int64 and y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)
    if activity:
        io, islots, ao, aslots, wo, wslots = naive_activity(x, w, stride, padding, dilation, groups, in_bits,
                                                            w_bits)
        np.testing.assert_array_equal(act.input_ones, io)
        np.testing.assert_array_equal(act.and_ones, ao)
        np.testing.assert_array_equal(act.weight_ones, wo)
        assert (act.input_slots, act.and_slots, act.weight_slots) == (islots, aslots, wslots)
    return y, act


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cg = draw(st.integers(1, 4))
    n_out = draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    assume(h + 2 * padding[0] >= dilation[0] * (kh - 1) + 1 and w + 2 * padding[1] >= dilation[1] * (kw - 1) + 1)
    return dict(batch=draw(st.integers(1, 3)), groups=groups, cg=cg, n_out=n_out, kh=kh, kw=kw, stride=stride,
                dilation=dilation, padding=padding, h=h, w=w,
                in_bits=draw(st.integers(1, 8)), w_bits=draw(st.integers(1, 8)), in_signed=draw(st.booleans()),
                w_signed=draw(st.booleans()),
                xmode=draw(st.sampled_from(["uniform", "uniform", "sparse", "min", "max", "zero"])),
                wmode=draw(st.sampled_from(["uniform", "uniform", "sparse", "min", "max", "zero"])),
                seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_cases())
def test_conv2d_bit_exact_and_activity_equal_naive_count(c):
    rng = np.random.default_rng(c["seed"])
    x = _values(rng, (c["batch"], c["groups"] * c["cg"], c["h"], c["w"]), c["in_bits"], c["in_signed"], c["xmode"])
    w = _values(rng, (c["groups"] * c["n_out"], c["cg"], c["kh"], c["kw"]), c["w_bits"], c["w_signed"], c["wmode"])
    check_conv(x, w, c["stride"], c["padding"], c["dilation"], c["groups"], c["in_bits"], c["w_bits"],
               c["in_signed"], c["w_signed"])


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 300), n=st.integers(1, 40), rows=st.integers(1, 20), in_bits=st.integers(1, 8),
       w_bits=st.integers(1, 8), in_signed=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_linear_bit_exact_over_k_lengths(k, n, rows, in_bits, w_bits, in_signed, seed):
    rng = np.random.default_rng(seed)
    x = _values(rng, (rows, k), in_bits, in_signed)
    w = _values(rng, (n, k), w_bits, True)
    y, act = bs.linear(x, w, in_bits, w_bits, in_signed)
    np.testing.assert_array_equal(y, linear_ref(x, w))
    assert act.and_slots == rows * k * n and act.input_slots == rows * k


@pytest.mark.parametrize("k", [1, 63, 64, 65, 127, 128, 129, 576])
@pytest.mark.parametrize("in_signed", [True, False])
def test_k_around_word_boundaries(k, in_signed):
    # K < 64, K = 64 exactly, K not a multiple of 64, several words; batch of 3 rows.
    rng = np.random.default_rng(k)
    x = _values(rng, (3, k, 1, 1), 8, in_signed)
    w = _values(rng, (5, k, 1, 1), 8, True)
    check_conv(x, w, in_signed=in_signed)


def test_all_minus_128_is_the_largest_product():
    # every product is (-128)(-128) = 16384; a 3x3 conv over 64 channels without padding sums
    # K = 64*3*3 = 576 of them: 576 * 16384 = 9,437,184 at every output.
    x = np.full((2, 64, 5, 5), -128)
    w = np.full((3, 64, 3, 3), -128)
    y, act = check_conv(x, w, activity=False)
    assert (y == 9_437_184).all()
    # -128 = 0b10000000: only plane 7 has ones, so every AND of planes (7, 7) is 1 and nothing else.
    assert act.and_ones[7, 7] == act.and_slots and act.and_ones.sum() == act.and_slots
    assert act.input_ones[7] == act.input_slots and act.input_ones[:7].sum() == 0


def test_all_zero_has_no_activity():
    y, act = check_conv(np.zeros((1, 4, 6, 6), np.int8), np.zeros((8, 4, 3, 3), np.int8), padding=1)
    assert not y.any() and act.and_ones.sum() == 0 and act.input_ones.sum() == 0
    assert act.and_slots == 1 * 36 * 36 * 8     # M = 6*6 outputs, K = 4*3*3, N = 8


def test_one_by_one_input_with_padding_sees_only_the_centre_tap():
    # 1x1 input, 3x3 kernel, padding 1: the single output is x . w[:, :, 1, 1]
    rng = np.random.default_rng(1)
    x = _values(rng, (2, 7, 1, 1), 8, True)
    w = _values(rng, (4, 7, 3, 3), 8, True)
    y, act = check_conv(x, w, padding=1)
    np.testing.assert_array_equal(y[:, :, 0, 0], x[:, :, 0, 0] @ w[:, :, 1, 1].T)
    assert act.input_slots == 2 * 1 * 63        # B=2, M=1, K=7*3*3: padding taps count as slots


def test_depthwise_and_unsigned_inputs():
    rng = np.random.default_rng(2)
    x = _values(rng, (2, 16, 9, 9), 8, False)   # post-ReLU activations: 0..255
    w = _values(rng, (16, 1, 3, 3), 8, True)
    check_conv(x, w, stride=2, padding=1, groups=16, in_signed=False)


def test_resnet_like_layer_larger_than_a_task():
    # more rows than one parallel task (8) and N > 8 lanes, K = 64*9 = 576 (9 words)
    rng = np.random.default_rng(3)
    x = _values(rng, (1, 64, 12, 12), 8, False)
    w = _values(rng, (70, 64, 3, 3), 8, True)
    check_conv(x, w, padding=1, in_signed=False, activity=False)


def test_matmul_is_linear_with_stationary_b():
    rng = np.random.default_rng(4)
    a = _values(rng, (5, 70), 8, True)
    b = _values(rng, (70, 9), 8, True)
    y, _ = bs.matmul(a, b)
    np.testing.assert_array_equal(y, a @ b)
    y3, _ = bs.linear(a.reshape(1, 5, 70), b.T)
    np.testing.assert_array_equal(y3[0], a @ b)


@pytest.mark.parametrize("x_val, bits, signed", [(128, 8, True), (-1, 8, False), (8, 4, True), (-9, 4, True),
                                                  (16, 4, False), (2, 1, False), (1, 1, True)])
def test_values_outside_the_bit_width_are_rejected(x_val, bits, signed):
    x = np.zeros((1, 2, 3, 3), np.int64)
    x[0, 1, 2, 2] = x_val
    with pytest.raises(bs.BitWidthError, match="outside the declared bit width") as exc:
        bs.conv2d(x, np.ones((1, 2, 1, 1), np.int64), in_bits=bits, in_signed=signed)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, SpecError)
    assert str(x_val) in str(exc.value)


def test_bad_widths_dtypes_and_groups_are_rejected():
    x = np.zeros((1, 4, 3, 3), np.int64)
    w = np.zeros((2, 4, 1, 1), np.int64)
    for kwargs in ({"in_bits": 0}, {"w_bits": 9}, {"in_bits": 2.5}):
        with pytest.raises(bs.BitWidthError, match="bit width"):
            bs.conv2d(x, w, **kwargs)
    with pytest.raises(bs.BitWidthError, match="dtype"):
        bs.conv2d(x.astype(float), w)
    with pytest.raises(bs.BitWidthError, match="groups"):
        bs.conv2d(x, w, groups=3)
    with pytest.raises(bs.BitWidthError, match="kernel"):
        bs.conv2d(x, np.zeros((2, 4, 5, 5), np.int64))
    with pytest.raises(bs.BitWidthError):
        bs.linear(np.zeros((2, 3), np.int64), np.zeros((4, 5), np.int64))


@pytest.mark.parametrize("in_bits, in_signed", [(8, False), (8, True), (3, True)])
def test_many_gemm_rows_counted_eight_planes_at_a_time(in_bits, in_signed):
    # a GEMM-shaped input (H = W = 1) sums its rows' bit counts in byte lanes, flushed every 255 rows: on one
    # thread 1,100 rows are 4 parts of 275, the first 600 rows with every bit set, so no lane may overflow
    import numba

    rng = np.random.default_rng(4)
    x = _values(rng, (1100, 5, 1, 1), in_bits, in_signed)
    x[:600] = -1 if in_signed else (1 << in_bits) - 1
    w = _values(rng, (6, 5, 1, 1), 8, True)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        check_conv(x, w, in_bits=in_bits, in_signed=in_signed)
    finally:
        numba.set_num_threads(before)
