"""The SNN's NoC transfers follow the executed spikes: the cheaper of a bitmap and address events, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import mlp3

from imcsim.snn.cost import activity_from_rates, load_hardware, snn_cost
from imcsim.snn.encoding import (
    FLAG_BITS,
    address_bits,
    mean_transfer_bits,
    nonzero_probability,
    transfer_bits,
)
from imcsim.snn.functional import run_snn
from imcsim.snn.network import sends_events, snn_form
from imcsim.snn.spec import NeuronSpec
from imcsim.snn.timeline import simulate
from imcsim.workload.graph import GraphBuilder


def test_packet_format_by_hand():
    # address bits name one neuron of the layer: ceil(log2 n)
    assert [address_bits(n) for n in (1, 2, 64, 65, 192, 4096)] == [1, 1, 6, 7, 8, 12]
    # 64 spikes (1 bit each): no event -> the flag alone; 5 events x 6 address bits + 1 = 31 bits; 11 events
    # x 6 = 66 > the 64-bit map -> 64 + 1 = 65
    assert FLAG_BITS == 1
    assert (transfer_bits(64, 1, 0), transfer_bits(64, 1, 5), transfer_bits(64, 1, 11)) == (1, 31, 65)
    # 128 counts of 3 bits: each event carries its value, 7 + 3 bits: 10 events = 101 bits (map: 384 + 1)
    assert (transfer_bits(128, 3, 10), transfer_bits(128, 3, 40)) == (101, 385)
    # per sample: 3 and 40 events of 64 -> 1 + 18 = 19 and 1 + 64 = 65 bits, mean 42 (at the mean count of
    # 21.5 events the map would be chosen: 65)
    assert mean_transfer_bits(64, 1, [3, 40]) == 42 and transfer_bits(64, 1, 21.5) == 65


def test_a_known_spike_pattern_on_the_kernels_sets_the_packets():
    # fc0 = 2 x identity, IF neurons with threshold 1 (fire when u > 1, hard reset): a neuron whose input is 1
    # gets 2 each timestep and fires every timestep; input 0 never fires. Sample A has 3 ones, sample B 40:
    # spk0 fires 3 and 40 neurons every timestep. fc1 = 0: spk1 never fires.
    # Placement (3 x 3 mesh of one-macro tiles, test_snn_noc.py): spk0 -> fc1 2 hops, spk1 -> fc2 3 hops.
    # Packets per timestep: spk0 A 1 + 3 x 6 = 19 bits (address events), B 40 x 6 = 240 > 64 -> 1 + 64 = 65
    # (bitmap), mean 42; spk1 no spike: the flag alone, 1 bit.
    # Energy per timestep: (42 x 2 + 1 x 3) = 87 bit-hops x 1.0 mm x 0.04 pJ/bit/mm = 3.48 pJ
    # (as bitmaps: 64 x 2 + 32 x 3 = 224 bit-hops, 8.96 pJ). Priced cycles: 42/128 + 2 and 1/128 + 3.
    net = snn_form(mlp3())
    assert sends_events(net.graph) == {"spk0", "spk1"}
    weights = {"fc0": 2 * np.eye(64, dtype=np.int64), "fc1": np.zeros((32, 64), dtype=np.int64),
               "fc2": np.zeros((10, 32), dtype=np.int64)}
    image = np.zeros((2, 64), dtype=np.int64)
    image[0, :3] = 1
    image[1, :40] = 1
    neuron = NeuronSpec(kind="if", threshold=1)
    run = run_snn(net, weights, image, 2, neuron)
    assert run.nonzero["spk0"].tolist() == [[3, 40], [3, 40]] and run.nonzero["spk1"].tolist() == [[0, 0], [0, 0]]
    table = run.activity_table()
    hw = load_hardware("acc-sas-mram", overrides={"chip.tiles": 9, "tile.macros": 1})
    sc = snn_cost(hw, net, neuron, table, 2)
    assert sc.noc_bits == ({"fc0": (42.0,), "fc1": (1.0,)},) * 2
    for step in sc.steps:
        assert step.energy_pj["noc"] == pytest.approx(87 * 0.04)
    stage = dict(sc.stages[0])
    assert (stage["noc:fc0"], stage["noc:fc1"]) == (pytest.approx(42 / 128 + 2), pytest.approx(1 / 128 + 3))
    # on the timeline each packet holds each link ceil(bits / 128) = 1 cycle, then 1 cycle per hop
    trace = []
    simulate(sc, [2], in_flight=1, evaluated=False, trace=trace)
    assert [(link, end - start) for link, _, start, end in trace[:5]] == \
        [((0, 1), 1), ((1, 2), 1), ((2, 1), 1), ((1, 0), 1), ((0, 3), 1)]

    # the same network at the rates this run measured (spk0 43 / 128 = 0.336, spk1 0) priced from the rates:
    # the encoder then chooses at the mean count (21.5 events: the 65-bit map), so it charges more than the
    # per-sample choice: (65 x 2 + 1 x 3) x 0.04 = 5.32 pJ
    from_rates = activity_from_rates(net, 2, table.spike_rates)
    sr = snn_cost(hw, net, neuron, from_rates, 2)
    assert sr.noc_bits[0] == {"fc0": (65.0,), "fc1": (1.0,)}
    assert sr.steps[0].energy_pj["noc"] == pytest.approx(133 * 0.04)


def test_zero_spikes_cost_only_the_flag():
    # no neuron fires anywhere: every spike crossing sends the 1-bit flag; the 3 x 3 MLP's NoC energy is
    # (1 x 2 + 1 x 3) x 0.04 = 0.2 pJ per timestep and its priced NoC cycles 1/128 + 2 + 1/128 + 3
    net = snn_form(mlp3())
    hw = load_hardware("acc-sas-mram", overrides={"chip.tiles": 9, "tile.macros": 1})
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=0.0), 1)
    assert sc.noc_bits[0] == {"fc0": (1.0,), "fc1": (1.0,)}
    assert sc.steps[0].energy_pj["noc"] == pytest.approx(0.2)
    assert sum(c for r, c in sc.stages[0] if r.startswith("noc:")) == pytest.approx(2 / 128 + 5)


def test_noc_energy_follows_the_spike_rate():
    # the 3 x 3 MLP from rate 0 to 1: below the break-even (1/6 for spk0's 6 address bits, 1/5 for spk1's 5)
    # the bits grow with the rate, above it the map is sent: 1 + 64 and 1 + 32 bits
    net = snn_form(mlp3())
    hw = load_hardware("acc-sas-mram", overrides={"chip.tiles": 9, "tile.macros": 1})
    bits = [snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=r), 1).noc_bits[0]
            for r in (0.0, 0.05, 0.1, 0.5, 1.0)]
    # 0.05: 3.2 x 6 + 1 = 20.2 and 1.6 x 5 + 1 = 9; 0.1: 6.4 x 6 + 1 = 39.4 and 3.2 x 5 + 1 = 17
    assert [b["fc0"][0] for b in bits] == pytest.approx([1, 20.2, 39.4, 65, 65])
    assert [b["fc1"][0] for b in bits] == pytest.approx([1, 9, 17, 33, 33])


def test_pools_of_spikes_by_the_independence_rule():
    # a 2 x 2 average pool of spikes at rate r: a count is non-zero unless all 4 positions are silent
    b = GraphBuilder("p", (2, 4, 4))
    s = b.act(b.conv(b.input, 2, 1, name="c0"), "relu", name="s")
    p = b.pool(s, "avg", 2, name="p")
    b.global_pool(s, "max", name="g")
    b.linear(b.add(b.flatten(p, name="f"), b.flatten(b.pool(s, "max", 2, name="m"), name="fm"), name="a"), 10,
             bias=False, name="fc", tags=("classifier",))
    graph = b.build()
    assert nonzero_probability(graph, "p", 0.1) == pytest.approx(1 - 0.9 ** 4)
    assert nonzero_probability(graph, "f", 0.1) == pytest.approx(1 - 0.9 ** 4)
    assert nonzero_probability(graph, "g", 0.1) == pytest.approx(1 - 0.9 ** 16)
    assert nonzero_probability(graph, "m", 0.1) == pytest.approx(1 - 0.9 ** 4)   # max pool: OR of 4
    assert nonzero_probability(graph, "s", 0.1) == 0.1
