"""``layer_costs_many`` (the macros of many design points priced in one numpy pass) equals one
``layer_costs`` call per macro to the last bit: the formulas are elementwise, so stacking the macros as
columns changes nothing but how many numpy calls price them."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcsim.circuit.macro import (
    STACK_MAX_ROWS_PARALLEL,
    MacroConfig,
    TileTable,
    TileUse,
    layer_costs,
    layer_costs_many,
)
from imcsim.device.library import load_device

DEVICES = ("sas-mram", "sot-mram", "reram", "sram", "pcm")


def test_numpy_ceil_log2_equals_math_up_to_the_stacking_limit():
    # the one transcendental of the stacked formulas (the adder tree's depth, ceil(log2 rows_parallel)): on
    # every integer up to the limit numpy gives the exact value, the bit length of n - 1 (frexp is exact),
    # which is also what the scalar path (math.log2) gives
    n = np.arange(1, STACK_MAX_ROWS_PARALLEL + 1)
    exact = np.where(n == 1, 0, np.frexp((n - 1).astype(float))[1])
    assert (np.ceil(np.log2(n.astype(float))) == exact).all()
    sample = list(range(1, 4097)) + [(1 << k) + d for k in range(12, 23) for d in (-1, 0, 1)]
    assert all(math.ceil(math.log2(k)) == exact[k - 1] for k in sample if k <= len(n))


@st.composite
def macros(draw):
    rows = draw(st.sampled_from((16, 32, 64, 100, 128, 256, 512)))
    cols = draw(st.sampled_from((16, 32, 64, 96, 128, 256, 512)))
    bits = draw(st.integers(1, 4))
    cpw = -(-8 // bits)
    organisation = draw(st.sampled_from(("bit_column", "weight_column")))
    sense = draw(st.sampled_from([s for s in (cols, cols // 2, cols // 4) if s >= 1]))
    if organisation == "weight_column":
        sense = max(cpw, sense - sense % cpw)
    return MacroConfig(load_device(draw(st.sampled_from(DEVICES))), rows=rows, cols=cols,
                       rows_parallel=draw(st.integers(1, rows)), sense_amps=sense, bits_per_cell=bits,
                       node_nm=draw(st.sampled_from((22.0, 28.0, 45.0))),
                       clock_mhz=draw(st.sampled_from((200.0, 500.0, 1000.0))), organisation=organisation,
                       input_bits_per_cycle=draw(st.integers(1, 2)),
                       column_select=draw(st.sampled_from(("word_line", "local_mux"))))


@st.composite
def jobs(draw):
    macro = draw(macros())
    layers = draw(st.integers(1, 6))
    table = TileTable.of([tuple(TileUse(draw(st.integers(1, macro.rows)), draw(st.integers(1, macro.cols)),
                                        draw(st.integers(0, 4096)), draw(st.integers(0, 9)))
                                for _ in range(draw(st.integers(1, 4)))) for _ in range(layers)])
    steps = np.array(draw(st.lists(st.integers(0, 5000), min_size=layers, max_size=layers)), dtype=np.int64)
    d_in = np.array(draw(st.lists(st.floats(0, 1), min_size=layers, max_size=layers)))
    d_and = d_in * np.array(draw(st.lists(st.floats(0, 1), min_size=layers, max_size=layers)))
    reps = np.array(draw(st.lists(st.integers(1, 4), min_size=layers, max_size=layers)), dtype=np.int64)
    return macro, table, steps, d_in, d_and, reps


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(jobs(), min_size=1, max_size=6), st.booleans())
def test_stacked_layer_costs_equal_one_call_per_macro(batch, fill):
    many = layer_costs_many(batch, stream_fill=fill)
    for job, got in zip(batch, many):
        want = layer_costs(*job, stream_fill=fill)
        for field in ("energy_pj", "cycles", "macro_busy_cycles", "macro_steps", "macs", "macros"):
            a, b = np.asarray(getattr(got, field)), np.asarray(getattr(want, field))
            assert a.shape == b.shape and a.dtype == b.dtype, field
            assert a.tobytes() == b.tobytes(), field   # to the last bit


def test_a_macro_past_the_stacking_limit_is_priced_alone():
    rows = STACK_MAX_ROWS_PARALLEL * 2
    big = MacroConfig("sram", rows=rows, cols=64, rows_parallel=rows, sense_amps=64)
    small = MacroConfig("sram", rows=64, cols=64, rows_parallel=64, sense_amps=64)
    table = TileTable.of([(TileUse(64, 64, 512, 1),)])
    one = (np.array([3]), np.array([0.5]), np.array([0.25]), np.array([1]))
    got = layer_costs_many([(big, table, *one), (small, table, *one)])
    for macro, lc in zip((big, small), got):
        assert lc.energy_pj.tobytes() == layer_costs(macro, table, *one).energy_pj.tobytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs(), st.booleans())
def test_layer_costs_fold_the_shapes_as_numpy_reductions_do(job, fill):
    # layer_costs folds a layer's tile shapes column by column (slowest used shape, any shape used, tiles):
    # the same as numpy's reductions along the shape axis, its earlier form (max and integer sums are exact)
    macro, table, steps, d_in, d_and, reps = job
    lc = layer_costs(*job, stream_fill=fill)
    ev = macro.step_events(table.rows_used, table.cols_used, table.weights, d_in[:, None], d_and[:, None])
    step = np.broadcast_to(np.asarray(ev.cycles, dtype=float), table.count.shape)
    used = table.count > 0
    slowest = np.where(used, step, 0.0).max(axis=1, initial=0.0)
    pipeline_fill = np.where((steps > 0) & used.any(axis=1), macro.pipeline_depth_cycles, 0) if fill else 0
    want = slowest * -(-steps // reps) + pipeline_fill
    assert lc.cycles.dtype == want.dtype and lc.cycles.tobytes() == want.tobytes()
    tiles = table.count.sum(axis=1)
    assert lc.macros.tobytes() == (tiles * reps).tobytes()
    assert lc.macro_steps.tobytes() == (steps * tiles).astype(float).tobytes()
