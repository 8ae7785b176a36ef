"""The macro cost model: cycle formula, each energy component and the area on hand-worked cases, the
layer cost with a functional Activity, vectorisation, and the silicon check against TSMC 22 nm DIMC.

The hand cases use the real device cards; the expectations are written with the card values (read at
run time) so the arithmetic in the comments holds for the card as committed (sas-mram: read 5 fJ,
AND factor 1.0, sense latch 0.7 fJ, read 1 ns, no cell leakage) and stays honest if a card changes.
Gate values are the 28 nm anchors (node 28): FA 3.4 fJ at 100 %, 1.7 fJ at 50 %, DFF 1.7 fJ, AND 0.28 fJ,
word line 0.28 fJ per cell, FA/DFF leakage 0.1875 nW.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.circuit.activity import Activity
from imcsim.circuit.macro import (
    MacroConfig,
    TileUse,
    accumulator_bits,
    adder_tree_full_adders,
    layer_cost,
    macro_area,
    macro_summary,
    mvm_cycles,
    peak_performance,
    periphery_counts,
    periphery_leakage_w,
    step_energy,
    step_events,
)
from imcsim.device.library import load_device
from imcsim.errors import SpecError


@pytest.fixture(scope="module")
def sas():
    return load_device("sas-mram")


@pytest.fixture(scope="module")
def small(sas):
    # 16 x 16 cells, 4-row adder trees, 8 of 16 columns sensed per cycle, INT8, 28 nm, 500 MHz
    return MacroConfig(sas, rows=16, cols=16, rows_parallel=4, sense_amps=8, in_bits=8, w_bits=8, node_nm=28,
                       clock_mhz=500)


# A tile of 10 rows x 16 columns = 2 INT8 weights per row, 20 weights.
TILE = dict(rows_used=10, cols_used=16, weights=20)


# ---------------------------------------------------------------------------------------------- cycles
def test_cycle_formula_by_hand():
    # Bi x ceil(rows_used / P) x ceil(cols_used / S): 8 x ceil(10/4)=3 x ceil(16/8)=2 = 48
    assert mvm_cycles(10, 16, 4, 8, 8) == 48
    # full 128x128 array, 64-row trees, every column sensed: 8 x 2 x 1 = 16
    assert mvm_cycles(128, 128, 64, 128, 8) == 16
    # column mux of 8 (16 sense amps): 8 x 2 x 8 = 128; 4-bit inputs halve it: 64
    assert mvm_cycles(128, 128, 64, 16, 8) == 128
    assert mvm_cycles(128, 128, 64, 16, 4) == 64
    # a read slower than the clock: 3 cycles per access -> 48 x 3 = 144
    assert mvm_cycles(10, 16, 4, 8, 8, access=3) == 144
    assert mvm_cycles(0, 16, 4, 8, 8) == 0


def test_access_cycles_follow_the_card(sas):
    reram = load_device("reram")
    m = MacroConfig(reram, rows=64, cols=64, rows_parallel=64, sense_amps=64, node_nm=28, clock_mhz=500)
    # ReRAM read 10 ns at a 2 ns clock -> 5 cycles per access
    assert m.access_cycles == int(np.ceil(reram.read_latency_ns / 2.0)) == 5
    # SAS-MRAM read 1 ns fits in the 2 ns period -> 1
    m2 = MacroConfig(sas, rows=64, cols=64, rows_parallel=64, sense_amps=64, node_nm=28, clock_mhz=500)
    assert m2.access_cycles == 1


def test_pipeline_depth_from_the_gate_delays(sas):
    # T6 28 nm: t_sum = 2 XOR2 = 0.22944 ns, t_in->cout = 0.11472 + 0.0956 = 0.21032, t_cin->cout = 0.0956.
    # 64-input 1-bit tree, d = 6: 5 x 0.22944 + 0.21032 + (1 + 6 - 2) x 0.0956 = 1.8355 ns -> 1 stage at 2 ns;
    # accumulator of 8 + 8 + log2(128) = 23 bits: 0.21032 + 22 x 0.0956 = 2.3135 ns -> 2 stages at 2 ns.
    m = MacroConfig(sas, rows=128, cols=128, rows_parallel=64, sense_amps=128, node_nm=28, clock_mhz=500)
    assert m.acc_bits == 23
    assert m.pipeline_depth_cycles == 3
    # at 250 MHz (4 ns) both fit in one stage
    m = MacroConfig(sas, rows=128, cols=128, rows_parallel=64, sense_amps=128, node_nm=28, clock_mhz=250)
    assert m.pipeline_depth_cycles == 2


def test_adder_tree_and_accumulator_sizes():
    # n (b + 1) - (b + log2 n + 1): 64 one-bit inputs -> 128 - 8 = 120; 4 -> 8 - 4 = 4; 64 two-bit -> 192 - 9 = 183
    assert adder_tree_full_adders(64, 1) == 120
    assert adder_tree_full_adders(4, 1) == 4
    assert adder_tree_full_adders(64, 2) == 183
    assert adder_tree_full_adders(1, 1) == 0
    # 8 + 8 + ceil(log2 16) = 20
    assert accumulator_bits(8, 8, 16) == 20


# ---------------------------------------------------------------------------------------------- energy
def test_events_by_hand(small):
    ev = small.step_events(**TILE, input_density=0.5, and_density=0.25)
    assert ev.cycles == 48
    # reads: d_in x Bi x R x C = 0.5 x 8 x 10 x 16 = 640
    assert ev.cell_reads == 640
    # AND ones: d_and x Bi x Bw x weights = 0.25 x 8 x 8 x 20 = 320
    assert ev.and_ones == 320
    # lane accumulates: Bi x row groups x cols = 8 x 3 x 16 = 384, + 2 outputs x (8 - 1) combines = 398
    assert ev.accumulates == 398
    # word-line pulses: 0.5 x 8 x 10 x 2 column groups = 80; input bits latched: 8 x 10 x 2 = 160
    assert ev.wl_pulses == 80 and ev.input_bits == 160


def test_each_energy_component_by_hand(small, sas):
    e = small.step_energy(small.step_events(**TILE, input_density=0.5, and_density=0.25))
    # cell_read: 640 reads x read 5 fJ x AND factor 1.0 = 3200 fJ
    assert e.cell_read_pj == pytest.approx(640 * sas.read_energy_per_bit_fj * sas.and_energy_factor * 1e-3)
    # sense_amp: 640 senses x 1 latch (1 bit per cell: 2^1 - 1) x 0.7 fJ = 448 fJ
    assert e.sense_amp_pj == pytest.approx(640 * sas.sense_amp_energy_fj * 1e-3)
    # adder_tree: 320 ones x (4 FAs / 4 inputs) x 3.4 fJ = 1088 fJ
    assert e.adder_tree_pj == pytest.approx(1.088)
    # shift_accumulate: 398 x 20 bits x (1.7 + 1.7) fJ = 27064 fJ
    assert e.shift_accumulate_pj == pytest.approx(27.064)
    # control: 80 pulses x 16 cells x 0.28 fJ = 358.4 fJ + 160 input bits x (1.7 DFF + 0.28 AND) = 316.8 fJ
    assert e.control_pj == pytest.approx(0.6752)
    # leakage: latches 8 lanes x 4 rows = 32, tree FAs 8 x 4 = 32, accumulator FAs 8 x 20 = 160,
    # register bits 160 + 4 input bits; (32 + 160) FA + (160 + 4 + 32) DFF-like = 388 x 0.1875 nW = 72.75 nW,
    # cells leak 0 (non-volatile card); x 48 cycles x 2 ns = 96 ns -> 6.984e-3 pJ
    assert sas.leakage_w_per_bit == 0
    assert e.leakage_pj == pytest.approx(72.75e-9 * 96e-9 * 1e12)
    assert e.total_pj == pytest.approx(sum(e.as_dict().values()))


def test_energy_follows_the_data(small):
    base = small.step_energy(small.step_events(**TILE, input_density=0.5, and_density=0.25))
    half = small.step_energy(small.step_events(**TILE, input_density=0.25, and_density=0.125))
    # input-gated reads, senses and word lines scale with the input density; the tree with the AND density
    assert half.cell_read_pj == pytest.approx(base.cell_read_pj / 2)
    assert half.sense_amp_pj == pytest.approx(base.sense_amp_pj / 2)
    assert half.adder_tree_pj == pytest.approx(base.adder_tree_pj / 2)
    # the clocked accumulators and the input register do not
    assert half.shift_accumulate_pj == pytest.approx(base.shift_accumulate_pj)
    zero = small.step_energy(small.step_events(**TILE, input_density=0.0, and_density=0.0))
    assert zero.cell_read_pj == zero.sense_amp_pj == zero.adder_tree_pj == 0
    assert zero.control_pj == pytest.approx(160 * (1.7 + 0.28) * 1e-3)  # only the input register and gating


def test_multilevel_cells_and_sram_leakage():
    reram = load_device("reram")
    m = MacroConfig(reram, rows=16, cols=16, rows_parallel=4, sense_amps=8, bits_per_cell=2, node_nm=28)
    assert m.cols_per_weight == 4 and m.weights_per_row == 4
    e = m.step_energy(m.step_events(16, 16, 64, 0.5, 0.25))
    # reads 0.5 x 8 x 16 x 16 = 1024; a 2-bit cell needs 2^2 - 1 = 3 latch comparisons
    assert e.sense_amp_pj == pytest.approx(1024 * 3 * reram.sense_amp_energy_fj * 1e-3)
    # tree of 4 two-bit inputs: 4 x 3 - (2 + 2 + 1) = 7 FAs over 8 input bits; ones 0.25 x 8 x 8 x 64 = 1024
    assert e.adder_tree_pj == pytest.approx(1024 * 7 / 8 * 3.4e-3)
    sram = load_device("sram")
    ms = MacroConfig(sram, rows=16, cols=16, rows_parallel=4, sense_amps=8, node_nm=28)
    # SRAM cells leak: 256 cells x leakage per bit at 28 nm (the card's 3.66 nW at 22 nm x 1.373, the
    # leakage-vs-node curve: tests/test_technology.py), on top of the periphery
    assert ms.cell_leakage_w == pytest.approx(256 * 3.66e-9 * 1.373, rel=1e-3)
    assert ms.leakage_w == pytest.approx(256 * sram.leakage_w_per_bit_at(28) + (32 + 160) * 0.1875e-9
                                         + (160 + 4) * 0.1875e-9)
    # and have no sense amplifiers (the card reads through local logic)
    assert ms.area().sense_amps_um2 == 0


def test_vectorised_over_design_points(sas):
    rows = np.array([64, 128, 256, 512])
    cols = np.array([64, 128, 128, 256])
    ev = step_events(rows, cols, rows * cols // 8, rows_parallel=64, sense_amps=cols, in_bits=8, w_bits=8,
                     bits_per_cell=1, input_density=0.5, and_density=0.25)
    for i in range(len(rows)):
        m = MacroConfig(sas, rows=int(rows[i]), cols=int(cols[i]), rows_parallel=64, sense_amps=int(cols[i]))
        one = m.step_events(int(rows[i]), int(cols[i]), int(rows[i] * cols[i] // 8))
        assert ev.cycles[i] == one.cycles and ev.cell_reads[i] == one.cell_reads
        assert ev.accumulates[i] == one.accumulates
        e = step_energy(ev, m.prices, cols=cols, rows_parallel=64, bits_per_cell=1,
                        acc_bits=accumulator_bits(8, 8, rows))
        assert e.adder_tree_pj[i] == pytest.approx(float(m.step_energy(one).adder_tree_pj))


# ---------------------------------------------------------------------------------------------- area
_GEOMETRY = st.tuples(st.integers(1, 4096), st.integers(1, 4096), st.integers(1, 4096), st.integers(1, 4096),
                      st.integers(1, 4), st.integers(1, 40), st.booleans(), st.integers(1, 8), st.integers(0, 512))


@settings(max_examples=60, deadline=None)
@given(st.lists(_GEOMETRY, min_size=1, max_size=8), st.sampled_from(("bit_column", "weight_column")),
       st.sampled_from((1, 2)))
def test_periphery_counts_of_numbers_equal_the_vectorised_counts(geoms, organisation, ibpc):
    # one formula for a macro (Python numbers: what MacroConfig asks) and for arrays of design points:
    # elementwise equal to the last bit, and so are the leakage and the area made from them
    cols = list(zip(*geoms))
    gates = MacroConfig(load_device("sas-mram"), rows=16, cols=16, rows_parallel=4, sense_amps=8).gates
    kw = dict(organisation=organisation, input_bits_per_cycle=ibpc)
    many = periphery_counts(*(np.array(c) for c in cols[:7]), w_bits=np.array(cols[7]),
                            tree_register_bits=np.array(cols[8]), **kw)
    leak = periphery_leakage_w(many, gates)
    area = macro_area(many, np.array(cols[0]) * np.array(cols[1]), 0.04, gates)
    for i, (rows, c, p, s, b, acc, sensed, w, trb) in enumerate(geoms):
        one = periphery_counts(rows, c, p, s, b, acc, sensed, w_bits=w, tree_register_bits=trb, **kw)
        assert {k: float(v) for k, v in one.items()} == {k: float(v[i]) for k, v in many.items()}
        assert float(periphery_leakage_w(one, gates)) == float(leak[i])
        assert {k: float(v) for k, v in macro_area(one, rows * c, 0.04, gates).as_dict().items()} == \
            {k: float(v[i]) for k, v in area.as_dict().items()}


def test_area_by_component(small, sas):
    a = small.area()
    g = small.gates
    # cells: 256 x card cell area at 28 nm (47 F^2 x 0.028^2 um^2 = 0.036848 um^2)
    assert a.cells_um2 == pytest.approx(256 * sas.cell_area_um2(28))
    # 8 lanes x 4 latches; 8 trees x 4 FAs; 8 accumulators x 20 bits x (FA + DFF)
    assert a.sense_amps_um2 == pytest.approx(32 * g.sense_latch_area_um2)
    assert a.adder_trees_um2 == pytest.approx(32 * 4.7892)
    assert a.accumulators_um2 == pytest.approx(160 * (4.7892 + 3.684))
    # control: 16 word-line drivers (4 NAND2) + 16 decoder NAND2 + 16 column-mux switches (8 of 16 sensed)
    # + a 4-bit input register: 16 x 2.456 + 32 x 0.614 + 4 x 3.684
    assert a.control_um2 == pytest.approx(16 * 2.456 + 32 * 0.614 + 4 * 3.684)
    assert a.total_mm2 == pytest.approx(a.total_um2 * 1e-6)


# ---------------------------------------------------------------------------------------------- layers
def _activity(in_density_num, and_density_num, slots_in, slots_and):
    """An Activity whose every plane has the given number of ones (8-bit x 8-bit)."""
    return Activity(np.full(8, in_density_num), slots_in, np.full((8, 8), and_density_num), slots_and,
                    np.zeros(8, np.int64), 0)


def test_layer_cost_uses_the_functional_activity(small, sas):
    # linear 10 -> 2 on one macro, 3 samples' worth of steps: M = 3
    act = _activity(in_density_num=15, and_density_num=15, slots_in=60, slots_and=120)  # d_in 0.25, d_and 0.125
    cost = layer_cost(small, [TileUse(**TILE, count=1)], mvm_steps=3, activity=act)
    assert cost.activity.source == "functional run"
    assert (cost.activity.input_density, cost.activity.and_density) == (0.25, 0.125)
    # cell reads per step: 0.25 x 8 x 10 x 16 = 320; x 3 steps x 5 fJ
    assert cost.energy.cell_read_pj == pytest.approx(3 * 320 * sas.read_energy_per_bit_fj * 1e-3)
    # cycles: 3 steps x 48 + pipeline fill (tree 4 inputs fits, 20-bit accumulator 0.21 + 19 x 0.0956 = 2.03 ns
    # needs 2 stages at 2 ns) = 144 + 3
    assert small.pipeline_depth_cycles == 3
    assert cost.cycles == 3 * 48 + 3
    assert cost.macs == 60 and cost.performance.ops == 120
    default = layer_cost(small, [TileUse(**TILE, count=1)], mvm_steps=3)
    assert default.activity.source == "default (A)" and default.activity.input_density == 0.5
    with pytest.raises(SpecError, match="activity"):
        layer_cost(small, [TileUse(**TILE, count=1)], 3, Activity.zeros(4, 8))


def test_layer_cost_adds_tiles(small):
    t1 = TileUse(16, 16, 32, 2)
    t2 = TileUse(10, 16, 20, 1)
    cost = layer_cost(small, [t1, t2], mvm_steps=5)
    e1 = small.step_energy(small.step_events(16, 16, 32)).scaled(5 * 2)
    e2 = small.step_energy(small.step_events(10, 16, 20)).scaled(5)
    assert cost.energy.total_pj == pytest.approx(float(e1.total_pj + e2.total_pj))
    # the slowest tile sets the latency: 8 x 4 x 2 = 64 cycles per step
    assert cost.cycles == 5 * 64 + small.pipeline_depth_cycles
    assert cost.macros == 3 and cost.macs == 5 * (2 * 32 + 20)


def test_replicas_split_latency_not_energy(small):
    t = TileUse(16, 16, 32, 2)
    one = layer_cost(small, [t], mvm_steps=5)
    three = layer_cost(small, [t], mvm_steps=5, replicas=3)
    # each of the 5 steps runs on one copy: same energy; 3 copies take ceil(5/3) = 2 steps of 64 cycles
    assert three.energy.total_pj == pytest.approx(float(one.energy.total_pj))
    assert three.cycles == 2 * 64 + small.pipeline_depth_cycles
    assert three.macros == 6 and three.macs == one.macs
    with pytest.raises(SpecError, match="replicas"):
        layer_cost(small, [t], 5, replicas=0)


# ---------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("field,value", [("rows_parallel", 17), ("sense_amps", 0), ("in_bits", 9),
                                         ("rows", 0), ("clock_mhz", -1.0), ("bits_per_cell", 5)])
def test_bad_config_is_a_spec_error(sas, field, value):
    kw = dict(rows=16, cols=16, rows_parallel=4, sense_amps=8)
    kw[field] = value
    with pytest.raises(SpecError, match=field):
        MacroConfig(sas, **kw)


def test_device_by_name_and_from_spec():
    from imcsim.config.accelerator import load_accelerator

    acc = load_accelerator("acc-sas-mram")
    m = MacroConfig.from_spec(acc.macro, acc.chip.node_nm, acc.chip.clock_mhz)
    # the preset's 256 x 256 array with a 4:1 column mux senses 256 / 4 = 64 columns per cycle
    spec = acc.macro
    assert (m.device.name, m.rows, m.cols, m.rows_parallel) == (spec.device, spec.rows, spec.cols, spec.rows_parallel)
    assert m.sense_amps == spec.cols // spec.column_mux


# ---------------------------------------------------------------------------------------------- silicon
def test_sram_22nm_against_tsmc_isscc2021():
    """Chih et al. (TSMC), ISSCC 2021 16.4, 22 nm: 6T SRAM, bit-serial input, adder tree, 64 Kb;
    24.7 TOPS/W and 4.54 TOPS/mm^2 INT8-normalised [CHIH21].

    Compared configuration: the ``sram`` card, 256 x 256 cells (64 Kb), 64-row adder trees, every column
    sensed, INT8 x INT8, 22 nm periphery, 500 MHz (default clock, A), default
    activity (input 0.5, AND 0.25, A). No constant is fitted to the chip. The model must land in the
    digital-IMC window of docs/devices.md#bit-serial-sanity-checks: 10-40 TOPS/W and 0.2-5 TOPS/mm^2 at the macro level.
    """
    m = MacroConfig(load_device("sram"), rows=256, cols=256, rows_parallel=64, sense_amps=256, in_bits=8,
                    w_bits=8, node_nm=22, clock_mhz=500)
    p = peak_performance(m)
    print(f"sram 22 nm 256x256 P=64: {p.tops_per_w:.2f} TOPS/W, {p.tops_per_mm2:.2f} TOPS/mm^2, {p.tops:.3f} TOPS "
          f"(silicon: 24.7 TOPS/W, 4.54 TOPS/mm^2)")
    assert 10 <= p.tops_per_w <= 40
    assert 0.2 <= p.tops_per_mm2 <= 5
    # the same numbers are what `imcsim macro` reports
    rec = macro_summary(m)
    assert rec["tops_per_w"] == pytest.approx(p.tops_per_w) and rec["tops_per_mm2"] == pytest.approx(p.tops_per_mm2)


def test_mram_macro_sits_below_sram():
    # docs/devices.md#bit-serial-sanity-checks: a bit-serial MRAM macro with ~5 fJ reads lands at a few TOPS/W (3-8); SRAM's local AND
    # read (0.28 fJ) makes it cheaper per MAC at the same periphery
    kw = dict(rows=128, cols=128, rows_parallel=64, sense_amps=128, node_nm=28, clock_mhz=500)
    p_mram = peak_performance(MacroConfig(load_device("sas-mram"), **kw))
    p_sram = peak_performance(MacroConfig(load_device("sram"), **kw))
    assert 3 <= p_mram.tops_per_w <= 8
    assert p_sram.tops_per_w > p_mram.tops_per_w


_DEVICES = ("sas-mram", "sot-mram", "stt-mram", "reram", "sram", "pcm")


@st.composite
def _macro_family(draw):
    """Macros of one periphery on several devices (and other cell-side options), plus a neighbour."""
    rows = draw(st.sampled_from((16, 32, 64, 100, 256)))
    cols = draw(st.sampled_from((16, 32, 64, 96, 256)))
    bits = draw(st.integers(1, 4))
    cpw = -(-8 // bits)
    organisation = draw(st.sampled_from(("bit_column", "weight_column")))
    sense = draw(st.sampled_from(sorted({max(1, cols // k) for k in (1, 2, 4)})))
    if organisation == "weight_column":
        sense = max(cpw, sense - sense % cpw)
    base = dict(rows=rows, cols=cols, rows_parallel=draw(st.integers(1, rows)), sense_amps=sense, bits_per_cell=bits,
                in_bits=draw(st.integers(1, 8)), node_nm=draw(st.sampled_from((7.0, 22.0, 28.0, 45.0))),
                clock_mhz=draw(st.sampled_from((100.0, 500.0, 1000.0))), organisation=organisation,
                input_bits_per_cycle=draw(st.integers(1, 2)))
    out = []
    for device in draw(st.lists(st.sampled_from(_DEVICES), min_size=2, max_size=5)):
        other = dict(base, activity_model=draw(st.sampled_from(("activity", "toggle"))),
                     column_select=draw(st.sampled_from(("word_line", "local_mux"))))
        if draw(st.booleans()):   # a neighbour: one periphery field changed
            field = draw(st.sampled_from(("rows_parallel", "in_bits", "clock_mhz", "node_nm")))
            other[field] = {"rows_parallel": max(1, base["rows_parallel"] // 2), "in_bits": 9 - base["in_bits"],
                            "clock_mhz": 200.0, "node_nm": 16.0}[field]
        out.append((device, other))
    return out


@settings(max_examples=40, deadline=None)
@given(_macro_family())
def test_periphery_figures_shared_across_devices_equal_each_macros_own(family):
    # the periphery figures of a macro made after macros of other devices (sharing them where the periphery
    # is the same) equal the ones it makes alone, and so do the figures made from them
    from imcsim.circuit.macro import _PERIPHERY, _PERIPHERY_FIGURES

    def figures(m):
        return ({name: getattr(m, name) for name in _PERIPHERY_FIGURES}, m.leakage_w, m.area().as_dict(), m.prices)

    _PERIPHERY.clear()
    shared = [figures(MacroConfig(load_device(d), **kw)) for d, kw in family]
    for (d, kw), got in zip(family, shared):
        _PERIPHERY.clear()
        assert got == figures(MacroConfig(load_device(d), **kw))
