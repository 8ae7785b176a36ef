"""SNN pricing: one layer by hand, linearity in T, the exit unit, the static/dynamic/INT8 comparison."""

from __future__ import annotations

import math

import pytest

from imcsim.circuit.macro import layer_cost
from imcsim.errors import SpecError
from imcsim.mapping.layer import map_layer
from imcsim.snn.cost import (
    Densities,
    activity_from_rates,
    cnn_cost,
    exit_ops,
    load_hardware,
    mvm_cost,
    neuron_cost,
    snn_cost,
)
from imcsim.snn.exits import two_point_histogram
from imcsim.snn.network import snn_form
from imcsim.snn.results import compare
from imcsim.snn.spec import ExitSpec, NeuronSpec
from imcsim.technology import leakage_scale
from imcsim.workload import zoo
from imcsim.workload.graph import GraphBuilder


@pytest.fixture(scope="module")
def hw():
    return load_hardware("acc-sas-mram")


def _mlp():
    """input (64,) -> fc0 64->32 (direct encoding) -> relu (32 neurons) -> fc1 32->10 (readout)."""
    b = GraphBuilder("mlp", (64,))
    x = b.act(b.linear(b.input, 32, bias=False, name="fc0"), "relu", name="spk0")
    b.linear(x, 10, bias=False, name="fc1", tags=("classifier",))
    return b.build()


def test_snn_form_of_the_mlp():
    net = snn_form(_mlp())
    assert [(x.name, x.input, x.in_bits, x.source, x.once) for x in net.layers] == [
        ("fc0", "image", 0, None, True), ("fc1", "spikes", 1, "spk0", False)]
    assert net.neurons == {"spk0": 32} and net.readout == "fc1" and net.classes == 10


def test_spike_layer_cycles_and_energy_by_hand(hw):
    # acc-sas-mram macro: 256 x 256 SAS-MRAM cells, 64 rows per adder tree, 4:1 column mux -> 64 sense amps,
    # 8-bit weights in 8 one-bit columns, 5.0 fJ per read bit (card), AND factor 1, 500 MHz (2 ns).
    net = snn_form(_mlp())
    fc1 = net.layer("fc1")
    c = mvm_cost(hw, fc1, 1, 0.2, 0.1)
    m1 = hw.macro_for(1)
    assert (m1.rows, m1.rows_parallel, m1.sense_amps, m1.in_bits, m1.access_cycles) == (256, 64, 64, 1, 1)
    # fc1: K = 32 rows, N = 10 weights x 8 columns = 80 columns, M = 1 step.
    # cycles = 1 plane x ceil(32 / 64) row groups x ceil(80 / 64) column groups = 2, + the pipeline fill
    assert c.cycles == 2 + m1.pipeline_depth_cycles
    # cell reads = 0.2 x 1 plane x 32 x 80 = 512 -> 512 x read energy x AND factor (card: 5.0 fJ x 1.0 = 2.56 pJ)
    read_pj = 512 * m1.device.read_energy_per_bit_fj * m1.device.and_energy_factor * 1e-3
    assert c.energy_pj["cell_read"] == pytest.approx(read_pj)
    # the same layer with 8-bit inputs at the same density reads 8 planes: 8x the cells, 8x the cycles
    c8 = mvm_cost(hw, fc1, 8, 0.2, 0.1)
    assert c8.energy_pj["cell_read"] == pytest.approx(8 * read_pj)
    assert c8.cycles - hw.macro.pipeline_depth_cycles == 8 * 2
    # the macro components are layer_cost's at 1-bit inputs (one tile, no row-tile partial sums)
    lm = map_layer(fc1.node, m1)
    ref = layer_cost(m1, lm.tiles, lm.m, Densities(1, 8, 0.2, 0.1))
    assert c.energy_pj["shift_accumulate"] == pytest.approx(ref.energy.shift_accumulate_pj)
    # input planes from the tile buffer: 32 inputs x 1 bit / 8 = 4 bytes x 1.5 pJ/B = 6 pJ
    assert hw.buffer_read_pj_per_byte == 1.5 and c.energy_pj["buffer"] == pytest.approx(6.0)


def test_neuron_layer_by_hand(hw):
    # 32 LIF neurons, 16-bit membranes: 4 ops each (integrate, leak, compare, reset) = 128 ops x 0.56 pJ
    # preset prices: vector op 0.56 pJ, 32 ops/cycle per tile, 64 tiles, buffer 1.5 / 1.8 pJ/B, NoC 0.04 pJ/bit/mm
    a = hw.accel
    assert (a.tile.digital_unit.energy_pj_per_vector_op, a.tile.digital_unit.vector_ops_per_cycle, a.chip.tiles,
            a.tile.buffer_read_pj_per_byte, a.tile.buffer_write_pj_per_byte, a.chip.noc_energy_pj_per_bit_per_mm,
            a.chip.tile_pitch_mm, a.chip.noc_width_bits) == (0.56, 32, 64, 1.5, 1.8, 0.04, 1.0, 128)
    c = neuron_cost(hw, 32, NeuronSpec(kind="lif", membrane_bits=16))
    assert c.energy_pj["neuron"] == pytest.approx(128 * 0.56)
    # membrane read + write: 32 x 2 B x (1.5 + 1.8) = 211.2 pJ; spikes written: 32 / 8 B x 1.8 = 7.2 pJ
    assert c.energy_pj["buffer"] == pytest.approx(211.2 + 7.2)
    # the spikes' NoC traffic follows the placement (snn_traffic, tests below), not the neuron layer
    assert "noc" not in c.energy_pj
    # cycles: 128 ops / (32 ops/cycle x 64 tiles) = 0.0625
    assert c.cycles == pytest.approx(0.0625)
    # IF: 3 ops per neuron; a direct-encoded layer re-reads its stored current (32 x 2 B x 1.5 = 96 pJ)
    c_if = neuron_cost(hw, 32, NeuronSpec(kind="if"), reads_stored_current=True)
    assert c_if.energy_pj["neuron"] == pytest.approx(96 * 0.56)
    assert c_if.energy_pj["buffer"] == pytest.approx(211.2 + 7.2 + 96.0)


def test_exit_unit_ops_by_hand():
    # K = 10, X = 4: stable softmax 2K = 20; entropy K (3X + 3) = 150, + 2 -> 172
    assert exit_ops(10, ExitSpec(rule="entropy", threshold=0.5)) == 20 + 150 + 2
    # confidence: 20 + K (X + 1) = 50, + X + 1 = 5 -> 75; the mean form scales z by 1/t: + K
    assert exit_ops(10, ExitSpec(rule="confidence", threshold=0.5)) == 75
    assert exit_ops(10, ExitSpec(rule="confidence", threshold=0.5, accumulate="mean")) == 85
    assert exit_ops(10, ExitSpec()) == 0


@pytest.mark.parametrize("name", ["vgg16-cifar", "resnet19"])
def test_static_snn_energy_and_latency_linear_in_t(hw, name):
    net = snn_form(zoo.build(name))
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 6), 6)
    costs = [sc.at_exit(t, evaluated=False) for t in range(1, 7)]
    de = [b.total_pj - a.total_pj for a, b in zip(costs, costs[1:])]
    dl = [b.cycles - a.cycles for a, b in zip(costs, costs[1:])]
    assert all(d > 0 for d in de)
    assert max(de) == pytest.approx(min(de), rel=1e-9) and max(dl) == pytest.approx(min(dl), rel=1e-9)
    # the intercept is the direct-encoded first layer (8 input planes) and the argmax
    once = sc.once + sc.hw.leakage(sc.once.cycles, sc.busy_once, sc.wakeups_once, sc.macros_used)
    assert costs[0].total_pj - de[0] == pytest.approx(once.total_pj)


def test_energy_follows_the_spikes(hw):
    net = snn_form(zoo.build("vgg16-cifar"))
    lo = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=0.05), 1).steps[0]
    hi = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=0.30), 1).steps[0]
    assert hi.energy_pj["cell_read"] == pytest.approx(6 * lo.energy_pj["cell_read"])
    # no event-driven skipping in the macros (a cycle per plane whatever the spikes); only the NoC's link time
    # follows the spikes (address events at 0.05, snn/encoding.py; tests/test_snn_encoding.py)
    assert hi.cycles - lo.cycles > 0 and hi.energy_pj["noc"] > lo.energy_pj["noc"]
    lo_sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=0.05), 1)
    hi_sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=0.30), 1)
    noc = [sum(c for r, c in sc.stages[0] if r.startswith("noc:")) for sc in (lo_sc, hi_sc)]
    assert hi.cycles - noc[1] == pytest.approx(lo.cycles - noc[0])


def test_dynamic_vs_static_and_cnn(hw):
    net = snn_form(zoo.build("vgg16-cifar"))
    spec = ExitSpec(rule="entropy", threshold=0.5)
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 4), 4, spec)
    hist = two_point_histogram(1.46, 4)
    assert hist == pytest.approx([0.54, 0.46, 0.0, 0.0])
    recs = compare(sc, cnn_cost(hw, net), hist)
    cnn, st, dy = recs
    assert st["edp_vs_static"] == 1.0 and dy["timesteps_avg"] == pytest.approx(1.46)
    assert 0 < dy["exit_share"] < 1e-3  # one evaluation of ~172 ops per sample
    # energy and latency are linear in t, so the dynamic averages are E(1) + 0.46 (E(2) - E(1))
    e1, e2 = sc.at_exit(1).total_pj, sc.at_exit(2).total_pj
    assert dy["energy_pj"] == pytest.approx(0.54 * e1 + 0.46 * e2)
    assert dy["edp_pj_ns"] == pytest.approx(dy["energy_pj"] * dy["latency_ns"])
    assert cnn["energy_pj"] > st["energy_pj"]


def test_unsupported_ops_are_refused():
    with pytest.raises(SpecError, match="relu6"):
        snn_form(zoo.build("tiny-cnn"))
    b = GraphBuilder("bad", (16,))
    x = b.linear(b.input, 8, name="fc0")
    b.linear(x, 4, name="fc1")
    with pytest.raises(SpecError, match="node fc1"):
        snn_form(b.build())


def test_spike_count_inputs_take_enough_planes():
    net = snn_form(zoo.build("resnet19"))
    # 2x2 average pool of spikes: counts 0..4 -> 3 planes; 8x8 global pool: 0..64 -> 7 planes
    assert net.layer("layer2.0.downsample.1").in_bits == 3 == math.ceil(math.log2(5))
    assert net.layer("fc1").in_bits == 7 == math.ceil(math.log2(65))


@pytest.mark.parametrize("policy", ["none", "macros", "macros+buffers"])
def test_leakage_follows_the_power_gating_policy(policy):
    hw = load_hardware("acc-sas-mram", overrides={"chip.power_gating": policy})
    net = snn_form(_mlp())
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 2), 2)
    c = sc.at_exit(2, evaluated=False)
    ns = c.cycles * hw.cycle_ns
    # fc0 and fc1 fit one macro each: 2 macros, 1 tile (32 macros per tile); SAS-MRAM cells leak ~0
    assert sc.macros_used == 2 and sc.wakeups_once == 1 and sc.wakeups_step == 1
    a = hw.accel
    kib = {"macros+buffers": a.tile.buffer_kib,  # one used tile's 64 KiB; the global buffer is gated
           }.get(policy, a.chip.global_buffer_kib + a.chip.tiles * a.tile.buffer_kib)  # 2048 + 64 x 64 KiB
    cells_w = a.n_macros * 256 * 256 * hw.macro.device.leakage_w_per_bit
    # 30 uW/KiB quoted at 22 nm, x 1.373 at the preset's 28 nm (the leakage-vs-node curve, test_technology)
    per_kib_w = 30e-6 * float(leakage_scale(28, 22))
    assert per_kib_w == pytest.approx(41.19e-6, rel=1e-3)
    assert c.energy_pj["standby"] == pytest.approx((cells_w + kib * per_kib_w) * ns * 1e3)
    if policy == "none":  # every macro's periphery idles except while the two layers compute
        busy = sc.busy_once + sum(sc.busy_steps)
        idle_pj = hw.macro.periphery_leakage_w * (a.n_macros * c.cycles - busy) * hw.cycle_ns * 1e3
        assert c.energy_pj["idle_macros"] == pytest.approx(idle_pj) and "wakeup" not in c.energy_pj
    else:  # fc0 woken once, fc1 once per timestep
        assert c.energy_pj["wakeup"] == pytest.approx(3 * hw.macro.wakeup_energy_pj)
