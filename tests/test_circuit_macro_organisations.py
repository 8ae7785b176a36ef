"""Macro organisations, 2 input bits per cycle, the clock limit with priced pipeline registers and the
three activity models, each hand-worked on a small macro.

Card values are read at run time (sas-mram: read 5 fJ, AND factor 1.0, latch 0.7 fJ, read 1 ns, no cell
leakage). 28 nm gate anchors: FA 3.4 fJ at 100 % / 1.7 fJ at 50 %, DFF 1.7 fJ, AND 0.28 fJ, XOR2 0.42 fJ,
word line 0.28 fJ per cell; areas FA 4.7892 um^2 (3 NAND2 + 2 XOR2), DFF 3.684 um^2, XOR2 1.4736 um^2;
delays NAND2 47.8 ps, XOR2 114.72 ps.
"""

import numpy as np
import pytest

from imcsim.circuit.macro import (
    MacroConfig,
    TileUse,
    activity_densities,
    layer_cost,
    macro_summary,
    tree_pipeline_register_bits,
)
from imcsim.circuit.toggle import toggle_activity
from imcsim.device.library import load_device
from imcsim.errors import SpecError

# A tile of 10 rows x 16 columns = 2 INT8 weights per row, 20 weights.
TILE = dict(rows_used=10, cols_used=16, weights=20)


@pytest.fixture(scope="module")
def sas():
    return load_device("sas-mram")


def small(sas, **kw):
    # 16 x 16 cells, 4-row adder trees, every column sensed, INT8, 28 nm, 500 MHz
    return MacroConfig(sas, rows=16, cols=16, rows_parallel=4, sense_amps=16, in_bits=8, w_bits=8, node_nm=28,
                       clock_mhz=500, **kw)


def test_bit_column_by_hand(sas):
    m = small(sas)
    ev = m.step_events(**TILE, input_density=0.5, and_density=0.25)
    # 8 planes x ceil(10/4) = 3 row groups x 1 column group = 24 cycles; 16 lanes x 24 = 384 tree evaluations
    assert ev.cycles == 24 and ev.tree_evals == 384
    # accumulates: 384 lane accumulates + 2 outputs x (8 - 1) combines
    assert ev.accumulates == 398
    e = m.step_energy(ev)
    # tree: 320 ones x FA(4, 1) = 4 FAs over 4 input bits x 3.4 fJ = 1088 fJ
    assert e.adder_tree_pj == pytest.approx(1.088)
    # accumulators: 398 x 20 bits x (1.7 + 1.7) fJ = 27064 fJ
    assert e.shift_accumulate_pj == pytest.approx(27.064)
    # area: 16 trees x 4 FAs, 16 accumulators x 20 (FA + DFF)
    a = m.area()
    assert a.adder_trees_um2 == pytest.approx(64 * 4.7892)
    assert a.accumulators_um2 == pytest.approx(16 * 20 * (4.7892 + 3.684))


def test_weight_column_by_hand(sas):
    m = small(sas, organisation="weight_column")
    assert m.lanes == 2 and m.tree_bits == 8
    ev = m.step_events(**TILE, input_density=0.5, and_density=0.25)
    # same cycles and reads as the bit column: 24 cycles, 0.5 x 8 x 10 x 16 = 640 reads
    assert ev.cycles == 24 and ev.cell_reads == 640
    # one tree per weight column: 8 planes x 3 row groups x 2 weight columns = 48 evaluations = accumulates
    assert ev.tree_evals == 48 and ev.accumulates == 48
    e = m.step_energy(ev)
    # tree of 4 inputs of 8 bits: FA = 4 x 9 - (8 + 2 + 1) = 25 over 32 input bits; 320 ones x 25/32 x 3.4 fJ
    assert e.adder_tree_pj == pytest.approx(320 * 25 / 32 * 3.4e-3)      # 0.85 pJ
    # accumulators: 48 x 20 bits x 3.4 fJ = 3264 fJ (the bit column: 27064 fJ)
    assert e.shift_accumulate_pj == pytest.approx(3.264)
    # cell reads, senses and control are the organisation's neighbours, unchanged
    ref = small(sas).step_energy(small(sas).step_events(**TILE, input_density=0.5, and_density=0.25))
    assert e.cell_read_pj == pytest.approx(ref.cell_read_pj) and e.control_pj == pytest.approx(ref.control_pj)
    a = m.area()
    # 2 trees x 25 FAs; 2 accumulators x 20 (FA + DFF)
    assert a.adder_trees_um2 == pytest.approx(50 * 4.7892)
    assert a.accumulators_um2 == pytest.approx(2 * 20 * (4.7892 + 3.684))


def test_two_input_bits_per_cycle_booth_by_hand(sas):
    m = small(sas, organisation="weight_column", input_bits_per_cycle=2)
    assert m.tree_bits == 9 and m.input_cycles == 4
    ev = m.step_events(**TILE, input_density=0.5, and_density=0.25)
    # 4 digit cycles x 3 row groups = 12 cycles (half of one bit per cycle)
    assert ev.cycles == 12
    # a row is read when its 2-bit digit is non-zero: 1 - 0.5^2 = 0.75; reads 0.75 x 4 x 10 x 16 = 480
    assert ev.cell_reads == pytest.approx(480)
    assert ev.wl_pulses == pytest.approx(30) and ev.input_bits == 80
    # 4 x 3 x 2 = 24 evaluations; 480 weight-bit selects; 4 x 10 = 40 digits encoded
    assert ev.tree_evals == 24 and ev.digit_selects == pytest.approx(480) and ev.digits == 40
    e = m.step_energy(ev)
    # tree of 4 nine-bit inputs: 4 x 10 - (9 + 2 + 1) = 28 FAs over 36 input bits; 320 x 28/36 x 3.4 fJ
    assert e.adder_tree_pj == pytest.approx(320 * 28 / 36 * 3.4e-3)
    # accumulators: 24 x 20 x 3.4 fJ = 1632 fJ
    assert e.shift_accumulate_pj == pytest.approx(1.632)
    # control: 30 pulses x 16 cells x 0.28 + 80 input bits x (1.7 + 0.28) + (480 + 2 x 40) x 0.42 XOR2 = 528 fJ
    assert e.control_pj == pytest.approx(0.528)
    # XOR2 gates: 16 sensed columns x 4 parallel rows x 1 bit + 2 x 4 encoders = 72
    assert m.counts()["xor2_gates"] == 72


def test_critical_path_and_pipeline_registers(sas):
    kw = dict(rows=128, cols=128, rows_parallel=64, sense_amps=128, node_nm=28)
    m = MacroConfig(sas, clock_mhz=500, **kw)
    # 64 one-bit inputs, d = 6: 5 x 0.22944 + 0.21032 + 5 x 0.0956 = 1.83552 ns -> 544.8 MHz
    assert m.tree_delay_ns == pytest.approx(1.83552)
    assert m.max_clock_mhz == pytest.approx(1e3 / 1.83552)
    assert m.tree_stages == 1 and m.tree_register_bits == 0
    fast = MacroConfig(sas, clock_mhz=1000, **kw)
    # 1 ns period: ceil(1.83552) = 2 stages; one cut after level round(6/2) = 3: 64/8 = 8 sums of 1 + 3 bits
    assert fast.tree_stages == 2 and fast.tree_register_bits == 32
    # area: 128 trees x 32 register bits x 3.684 um^2 more
    assert fast.area().adder_trees_um2 - m.area().adder_trees_um2 == pytest.approx(128 * 32 * 3.684)
    ev = fast.step_events(128, 128, 2048)
    # energy: every tree evaluation clocks its 32 register bits at 1.7 fJ (8 planes x 2 row groups x 128 lanes)
    extra = fast.step_energy(ev).adder_tree_pj - m.step_energy(m.step_events(128, 128, 2048)).adder_tree_pj
    assert ev.tree_evals == 8 * 2 * 128
    assert extra == pytest.approx(2048 * 32 * 1.7e-3)
    # refusing to pipeline is a one-line error naming the highest clock
    with pytest.raises(SpecError) as exc:
        MacroConfig(sas, clock_mhz=1000, pipeline="none", **kw)
    assert exc.value.field == "clock_mhz" and "544.8 MHz" in exc.value.allowed
    assert MacroConfig(sas, clock_mhz=500, pipeline="none", **kw).tree_stages == 1


def test_pipeline_register_bits_by_levels():
    # 64 one-bit inputs in 3 stages: cuts after levels round(6/3) = 2 and round(12/3) = 4:
    # 16 sums of 3 bits + 4 sums of 5 bits = 48 + 20 = 68
    assert tree_pipeline_register_bits(64, 1, 3) == 68
    assert tree_pipeline_register_bits(64, 1, 1) == 0
    assert tree_pipeline_register_bits(1, 8, 4) == 0


def test_data_independent_charges_every_gate(sas):
    m = small(sas, activity_model="data_independent")
    act = activity_densities(None, 8, 8, "data_independent")
    assert (act.input_density, act.and_density, act.model) == (1.0, 0.5, "data_independent")
    cost = layer_cost(m, [TileUse(10, 16, 20, 1)], 1)
    assert cost.activity.model == "data_independent"
    # every cell of the footprint read every cycle: 8 x 10 x 16 = 1280 reads x 5 fJ
    assert cost.energy.cell_read_pj == pytest.approx(1280 * sas.read_energy_per_bit_fj * 1e-3)
    # every tree input of a used row switching at density 0.5 every cycle, i.e. each of its FAs at the
    # 50 % figure: 8 x 8 x 20 = 1280 product bits x 0.5 x (4 FAs / 4 inputs) x 3.4 fJ = 1280 x 1.7 fJ
    assert cost.energy.adder_tree_pj == pytest.approx(1280 * 1.7e-3)
    rec = macro_summary(m, input_density=0.1)   # densities given to a data-independent macro are ignored
    assert rec["input_density"] == 1.0 and rec["activity_model"] == "data_independent"


def test_toggle_counts_by_hand():
    # one row, one 1-bit weight of value 1, 2-bit inputs 1 then 2: planes (1, 0) then (0, 1);
    # tree input sequence 1, 0, 0, 1 starting from 0 -> toggles 0->1, 1->0, 0->1 = 3 of 4 slots
    t = toggle_activity(np.array([[1], [2]]), np.array([[1]]), in_bits=2, w_bits=1, rows_parallel=1)
    assert (t.and_toggles, t.and_ones, t.and_slots) == (3, 2, 4)
    assert t.and_toggle_density == 0.75 and t.mean_and_density == 0.5
    # a weight bit of 0 never toggles; a constant input bit of 1 toggles once (from the cleared tree)
    t0 = toggle_activity(np.array([[3], [3]]), np.array([[0]]), 2, 1, 1)
    t1 = toggle_activity(np.array([[3], [3]]), np.array([[1]]), 2, 1, 1)
    assert t0.and_toggles == 0 and t1.and_toggles == 1
    # two rows on one tree input (rows_parallel 1): row 0 then row 1 in the same step -> 1, 1, 0, 0
    t2 = toggle_activity(np.array([[1, 0]]), np.array([[1], [1]]), 2, 1, 1)
    assert t2.and_toggles == 2


def test_toggle_model_prices_toggles(sas):
    m = small(sas, activity_model="toggle")
    default = layer_cost(m, [TileUse(10, 16, 20, 1)], 1)
    assert default.activity.source == "default toggles (A)" and default.activity.and_density == 0.25
    rng = np.random.default_rng(1)
    run = toggle_activity(rng.integers(0, 4, (6, 10)), rng.integers(-128, 128, (10, 2)), 8, 8, 4)
    cost = layer_cost(m, [TileUse(10, 16, 20, 1)], 1, activity=run)
    assert cost.activity.source == "functional run (toggles)"
    # the tree energy is linear in the toggle density (ones x 4 FAs / 4 inputs x 3.4 fJ)
    assert cost.energy.adder_tree_pj == pytest.approx(run.and_toggle_density * 8 * 8 * 20 * 3.4e-3)
    # small inputs: the high planes are 0, so products toggle less than independent random bits would
    assert run.and_toggle_density < 0.25


def test_local_mux_drives_only_the_sensed_entries(sas):
    kw = dict(rows=16, cols=16, rows_parallel=4, sense_amps=8, node_nm=28, clock_mhz=500)
    wl = MacroConfig(sas, **kw)
    local = MacroConfig(sas, column_select="local_mux", **kw)
    ev = wl.step_events(**TILE, input_density=0.5, and_density=0.25)
    # word line: 80 pulses (0.5 x 8 x 10 x 2 column groups) x 16 cells x 0.28 fJ + 160 input bits x 1.98 fJ
    assert wl.step_energy(ev).control_pj == pytest.approx((80 * 16 * 0.28 + 160 * 1.98) * 1e-3)
    # local mux: the same pulses reach only the 8 sensed compute entries
    assert local.step_energy(ev).control_pj == pytest.approx((80 * 8 * 0.28 + 160 * 1.98) * 1e-3)
    assert local.step_energy(ev).cell_read_pj == wl.step_energy(ev).cell_read_pj


def test_bad_organisation_inputs(sas):
    with pytest.raises(SpecError) as exc:
        small(sas, organisation="diagonal")
    assert exc.value.field == "organisation"
    with pytest.raises(SpecError) as exc:
        MacroConfig(sas, rows=16, cols=16, rows_parallel=4, sense_amps=12, organisation="weight_column")
    assert exc.value.field == "sense_amps"
    with pytest.raises(SpecError):
        small(sas, input_bits_per_cycle=3)
    with pytest.raises(SpecError):
        small(sas, activity_model="glitch")
