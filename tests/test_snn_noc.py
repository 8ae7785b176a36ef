"""The SNN's NoC traffic follows the engines' placement: hops, widths, energy and cycles worked by hand."""

from __future__ import annotations

import pytest
from conftest import mlp3

from imcsim.snn.cost import activity_from_rates, cnn_cost, load_hardware, reload_costs, snn_cost, snn_traffic
from imcsim.snn.network import output_bits, snn_form
from imcsim.snn.spec import NeuronSpec
from imcsim.snn.timeline import link_excess_cycles, simulate
from imcsim.workload import zoo
from imcsim.workload.graph import GraphBuilder


def _hw(tiles: int, macros: int):
    return load_hardware("acc-sas-mram", overrides={"chip.tiles": tiles, "tile.macros": macros})


def test_three_layer_snn_on_a_3x3_mesh_by_hand():
    # acc-sas-mram: 256 x 256 macros, 8-bit weights in 8 one-bit columns; NoC 128-bit links, 1 cycle per hop,
    # 1.0 mm tile pitch, 0.04 pJ/bit/mm. 9 tiles of 1 macro: a 3 x 3 mesh, tile i at (i % 3, i // 3).
    # Mapper (forward order, consecutive macros): fc0 64x(64x8 = 512 columns) = 2 macros -> macros 0-1, home
    # tile 0 (0,0); fc1 64x256 = 1 macro -> macro 2, tile 2 (2,0); fc2 32x80 = 1 macro -> macro 3, tile 3 (0,1).
    # spk0 runs on fc0's tile, spk1 on fc1's.
    # Crossings every timestep: spk0 -> fc1: 64 spikes, tile 0 -> 2 = 2 hops (x only);
    #                           spk1 -> fc2: 32 spikes, tile 2 -> 3 = 2 hops in x + 1 in y = 3 hops.
    # Sent at the default rate 0.15 through the encoder (snn/encoding.py): spk0 9.6 events x ceil(log2 64) = 6
    # address bits = 57.6 < the 64-bit map, + 1 flag bit = 58.6 bits; spk1 4.8 x 5 = 24 < 32, + 1 = 25 bits.
    # Energy per timestep: (58.6 x 2 + 25 x 3) = 192.2 bit-hops x 1.0 mm x 0.04 pJ/bit/mm = 7.688 pJ
    # (as bitmaps, 64 x 2 + 32 x 3 = 224 bit-hops, 8.96 pJ).
    # Cycles per timestep (priced, noc.noc_cycles): 58.6 / 128 + 2 x 1 = 2.4578125 (fc0's stage) and
    # 25 / 128 + 3 x 1 = 3.1953125 (fc1's). On the timeline (noc.link_stages, cut-through) each link is held
    # ceil(bits / 128) = 1 cycle and the head moves on 1 cycle (the hop latency) after taking it; the packet is
    # delivered 1 + 1 cycles after taking the last link: fc0's 2 x 1 + 1 = 3, fc1's 3 x 1 + 1 = 4 (held link by
    # link, store-and-forward, they took 2 x (1 + 1) = 4 and 3 x 2 = 6).
    # The old fixed single hop gave (64 + 32) x 1 x 0.04 = 3.84 pJ and 0.5 + 1 + 0.25 + 1 = 2.75 cycles.
    hw = _hw(9, 1)
    c = hw.accel.chip
    assert (c.noc_width_bits, c.noc_hop_latency_cycles, c.tile_pitch_mm, c.noc_energy_pj_per_bit_per_mm) == \
        (128, 1, 1.0, 0.04)
    net = snn_form(mlp3())
    placed = snn_traffic(hw, net, 16)
    assert placed.traffic.placement.cols == 3
    assert {k: placed.traffic.placement.home[k] for k in ("fc0", "fc1", "fc2")} == {"fc0": 0, "fc1": 2, "fc2": 3}
    assert placed.by_layer() == {"fc0": ((64.0, 2),), "fc1": ((32.0, 3),)}
    assert placed.hops == 5 and placed.summary()["mesh"] == "3 x 3"

    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 2), 2)
    for step in sc.steps:
        assert step.energy_pj["noc"] == pytest.approx(7.688)
    assert sc.noc_bits[0] == {"fc0": (pytest.approx(58.6),), "fc1": (pytest.approx(25.0),)}
    # the crossings are a stage right after the layer whose outputs they carry (MVM + neurons)
    mvm = {(r["layer"], r["timestep"]): r["cycles"] for r in sc.layers}
    neuron_cycles = 64 * 4 / (32 * 9)   # 64 LIF neurons x 4 ops / (32 ops/cycle x 9 tiles)
    names = [k for k, _ in sc.stages[0]]
    assert names == ["fc0", "noc:fc0", "fc1", "noc:fc1", "fc2", "digital"]
    stage = dict(sc.stages[0])
    assert stage["fc0"] == pytest.approx(neuron_cycles)        # fc0 runs once: its stage is spk0's
    assert stage["fc1"] == pytest.approx(mvm[("fc1", 1)] + 32 * 4 / (32 * 9))
    assert (stage["noc:fc0"], stage["noc:fc1"]) == (pytest.approx(2.4578125), pytest.approx(3.1953125))
    assert link_excess_cycles(sc) == pytest.approx(3 + 4 - 2.4578125 - 3.1953125)
    assert sc.placed.routes == {"fc0": ((64.0, ((0, 1), (1, 2))),), "fc1": ((32.0, ((2, 1), (1, 0), (0, 3))),)}
    assert sum(v for _, v in sc.stages[0]) == pytest.approx(sc.steps[0].cycles)
    # dynamic timesteps: a sample that stops after t pays t timesteps of traffic
    assert sc.at_exit(1, evaluated=False).energy_pj["noc"] == pytest.approx(7.688)
    assert sc.at_exit(2, evaluated=False).energy_pj["noc"] == pytest.approx(2 * 7.688)


def test_another_mesh_changes_the_hops():
    net = snn_form(mlp3())
    # 4 tiles of 1 macro (2 x 2): fc0 tile 0 (0,0), fc1 tile 2 (0,1), fc2 tile 3 (1,1): 1 hop each,
    # (58.6 + 25) x 1 x 0.04 = 3.344 pJ per timestep (the encoded transfers of the 3 x 3 test)
    two = snn_cost(_hw(4, 1), net, NeuronSpec(), activity_from_rates(net, 1), 1)
    assert two.placed.by_layer() == {"fc0": ((64.0, 1),), "fc1": ((32.0, 1),)}
    assert two.steps[0].energy_pj["noc"] == pytest.approx(3.344)
    # one tile of 4 macros: every layer on tile 0, no crossing, no NoC energy or cycles
    one = snn_cost(_hw(1, 4), net, NeuronSpec(), activity_from_rates(net, 1), 1)
    assert one.placed.hops == 0 and one.placed.by_layer() == {} and "noc" not in one.steps[0].energy_pj
    nine = snn_cost(_hw(9, 1), net, NeuronSpec(), activity_from_rates(net, 1), 1)
    assert (one.placed.hops, two.placed.hops, nine.placed.hops) == (0, 2, 5)


def _conv_net():
    """input (3,8,8) -> c0 conv3 8ch (direct) -> s0 -> p0 avg 2x2 -> c1 conv3 8ch, c2 conv1 8ch -> add(c1, c2)
    -> s1 -> global avg pool -> fc 8->10."""
    b = GraphBuilder("convnet", (3, 8, 8))
    s0 = b.act(b.conv(b.input, 8, 3, name="c0"), "relu", name="s0")
    p0 = b.pool(s0, "avg", 2, name="p0")
    a = b.add(b.conv(p0, 8, 3, name="c1"), b.conv(p0, 8, 1, name="c2"), name="a")
    g = b.global_pool(b.act(a, "relu", name="s1"), "avg", name="gp")
    b.linear(g, 10, bias=False, name="fc", tags=("classifier",))
    return b.build()


def test_widths_follow_what_each_edge_carries_by_hand():
    # spikes 1 bit; p0 = counts 0..4 -> ceil(log2 5) = 3 bits; gp = counts 0..16 -> ceil(log2 17) = 5 bits;
    # convs and the add carry currents at the membrane width
    net = snn_form(_conv_net())
    bits = output_bits(net.graph, 16)
    assert {k: bits[k] for k in ("s0", "p0", "c1", "c2", "a", "s1", "gp")} == \
        {"s0": 1, "p0": 3, "c1": 16, "c2": 16, "a": 16, "s1": 1, "gp": 5}
    # one macro per layer (c0 27 x 64 columns, c1 72 x 64, c2 8 x 64, fc 8 x 80) on 9 one-macro tiles (3 x 3):
    # c0 tile 0 (0,0), c1 tile 1 (1,0), c2 tile 2 (2,0), fc tile 3 (0,1); p0 on c0's tile; the add, s1 and gp
    # on c1's (the add's first input). Crossings:
    #   p0 -> c1: 8x4x4 = 128 counts x 3 bits = 384 bits, 1 hop;  p0 -> c2: 384 bits, 2 hops   (group c0)
    #   c2 -> a: 128 currents x 16 bits = 2048 bits, 1 hop                                      (group c2)
    #   gp -> fc: 8 counts x 5 bits = 40 bits, (1,0) -> (0,1) = 2 hops                          (group c1)
    # as bitmaps (3280 bit-hops). Sent at rate 0.15 (snn/encoding.py): a p0 count is non-zero with probability
    # 1 - 0.85^4 = 0.478, 61.2 events x (7 address + 3 value bits) = 612 > 384: the map, + 1 flag = 385 bits;
    # gp: 1 - 0.85^16 = 0.926, 7.4 x (3 + 5) = 59.2 > 40: 41 bits; the current has no encoder: 2048.
    # energy = (385 + 770 + 2048 + 82) = 3285 bit-hops x 0.04 pJ = 131.4 pJ per timestep
    hw = _hw(9, 1)
    placed = snn_traffic(hw, net, 16)
    assert placed.by_layer() == {"c0": ((384.0, 1), (384.0, 2)), "c2": ((2048.0, 1),), "c1": ((40.0, 2),)}
    assert placed.producers == {"c0": ("p0", "p0"), "c2": ("c2",), "c1": ("gp",)}
    sc = snn_cost(hw, net, NeuronSpec(membrane_bits=16), activity_from_rates(net, 1), 1)
    assert sc.steps[0].energy_pj["noc"] == pytest.approx(131.4)
    # 8-bit membranes halve the current crossing: 385 + 770 + 1024 + 82 = 2261 bit-hops
    sc8 = snn_cost(hw, net, NeuronSpec(membrane_bits=8), activity_from_rates(net, 1), 1)
    assert sc8.steps[0].energy_pj["noc"] == pytest.approx(2261 * 0.04)


def test_the_int8_cnn_crosses_the_same_placement_at_8_bits():
    # the CNN of the MLP on the 3 x 3 mesh: the same routes, 8 bits per activation:
    # (64 x 8 x 2 + 32 x 8 x 3) = 1792 bit-hops x 0.04 = 71.68 pJ
    hw = _hw(9, 1)
    net = snn_form(mlp3())
    assert cnn_cost(hw, net).energy_pj["noc"] == pytest.approx(71.68)


@pytest.mark.parametrize("name", ["vgg16-cifar", "resnet19"])
def test_widths_agree_with_the_input_planes_of_every_layer(name):
    # the width a node sends is the number of planes its consumer layer is presented (one rule, two readers)
    net = snn_form(zoo.build(name))
    bits = output_bits(net.graph, 16)
    graph = net.graph
    for layer in net.layers:
        if not layer.once:
            src = layer.node.inputs[0]
            while graph[src].op in ("flatten", "dropout"):
                src = graph[src].inputs[0]
            assert bits[src] == layer.in_bits, layer.name


def test_links_are_resources_on_the_timeline():
    # fc0 (2 macros, tile 0) -> s0 -> fc1 (2 macros, tile 2) -> s1 -> fc2 (2 macros, tile 4) -> add(fc2, s0)
    # -> s2 -> fc3 (tile 6), on 9 one-macro tiles (3 x 3) with 1-bit links (chip.noc_width_bits = 1).
    # The add runs on fc2's tile 4 (1,1), so s0's spikes cross twice: 0 -> 2 over links 0>1, 1>2 and 0 -> 4
    # over 0>1, 1>4 (x first); s1's cross 2 -> 4 over 2>1, 1>4: link 1>4 is shared by two layers' crossings.
    b = GraphBuilder("skip", (64,))
    s0 = b.act(b.linear(b.input, 64, bias=False, name="fc0"), "relu", name="s0")
    s1 = b.act(b.linear(s0, 64, bias=False, name="fc1"), "relu", name="s1")
    a = b.add(b.linear(s1, 64, bias=False, name="fc2"), s0, name="a")
    b.linear(b.act(a, "relu", name="s2"), 10, bias=False, name="fc3", tags=("classifier",))
    net = snn_form(b.build())
    hw = load_hardware("acc-sas-mram", overrides={"chip.tiles": 9, "tile.macros": 1, "chip.noc_width_bits": 1})
    # at rate 0.5 the encoder sends each 64-spike map as the bitmap (32 events x 6 bits = 192 > 64): 65 bits
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 2, default_rate=0.5), 2)
    assert sc.placed.routes == {"fc0": ((64.0, ((0, 1), (1, 2))), (64.0, ((0, 1), (1, 4)))),
                                "fc1": ((64.0, ((2, 1), (1, 4))),), "fc2": ((64.0, ((4, 3), (3, 6))),)}
    # priced (noc.noc_cycles): a crossing 65 bits / 1 + 2 hops x 1 = 67 cycles, fc0's two 134. On the timeline
    # (cut-through) a crossing holds each of its 2 links 65 cycles, the head 1 cycle ahead on the second:
    # 1 + 65 + 1 = 67 cycles, as priced (whole cycles already); store-and-forward took 2 x (65 + 1) = 132
    assert dict(sc.stages[0])["noc:fc0"] == pytest.approx(2 * 67)
    assert link_excess_cycles(sc) == 0
    trace = []
    one = simulate(sc, [2] * 8, in_flight=1, evaluated=False, trace=trace)
    assert one.makespan_cycles == pytest.approx(8 * sc.at_exit(2, evaluated=False).cycles)
    # cut-through: s0's first crossing holds 0>1 for 65 cycles and, 1 cycle after taking it, 1>2 for 65
    first = [x for x in trace if x[1] == "fc0"][:2]
    assert [x[0] for x in first] == [(0, 1), (1, 2)]
    assert first[0][3] - first[0][2] == 65 and first[1][2] == first[0][2] + 1 and first[1][3] - first[1][2] == 65
    # 8 samples in flight, 2 timesteps each: links 0>1 and 1>4 each carry 2 x 65 bits per sample and timestep
    # at 1 bit per cycle, so the run lasts at least 8 x 2 x 130 = 2,080 cycles; with links that any number of
    # crossings could share it would take about one sample's latency (~1,100 cycles; the layer stages hold
    # their macros for at most 7 cycles each)
    trace = []
    many = simulate(sc, [2] * 8, in_flight=8, evaluated=False, trace=trace)
    assert 8 * 2 * 130 <= many.makespan_cycles < one.makespan_cycles
    # no link is ever held by two crossings at once (1>4 carries fc0's and fc1's)
    for link in {x[0] for x in trace}:
        spans = sorted((a, b) for k, _, a, b in trace if k == link)
        assert all(b0 <= a1 for (_, b0), (a1, _) in zip(spans, spans[1:])), link
    assert {x[1] for x in trace if x[0] == (1, 4)} == {"fc0", "fc1"}
    # what the run reports: links 0>1 and 1>4 each held 8 samples x 2 timesteps x 2 crossings x 65 cycles =
    # 2,080 cycles, the longest of any resource (ties go to the first name); one sample alone never waits
    assert many.busy["link:0->1"] == many.busy["link:1->4"] == 2080 and many.bottleneck == "link:0->1"
    assert many.record()["bottleneck_util"] == pytest.approx(2080 / many.makespan_cycles)
    assert many.stalls["noc"] > 0 and many.longest_queue["link:1->4"] >= 1
    assert one.stalls == {} and one.busy["link:1->4"] == 2080
    # energy follows the run: the same work, and the standby over the makespan; with one in flight that is
    # the priced energy of 8 samples (the links add no cycle here; store-and-forward added 8 x 2 x 260 cycles of
    # standby)
    priced = 8 * sc.at_exit(2, evaluated=False).total_pj
    assert one.energy_pj == pytest.approx(priced)
    assert many.energy_pj - many.leakage_pj == pytest.approx(one.energy_pj - one.leakage_pj)
    assert many.leakage_pj < one.leakage_pj


def test_a_network_that_does_not_fit_is_placed_and_says_so():
    # the MLP needs 2 + 1 + 1 = 4 macros; 3 one-macro tiles (a 2 x 2 mesh, tile 3 absent) hold 3. The mapper's
    # policy: a pool of the largest streamed layer (2 macros, capped at ceil(3 / 2) = 2), fc1 (1 macro) resident
    # on macro 0 = tile 0, the pool from macro 1 = tile 1, fc0 and fc2 streamed through it. So spk0 (fc0's, on
    # tile 1) crosses to fc1 on tile 0 and spk1 back to fc2 on tile 1: 1 hop each, (58.6 + 25) x 0.04 = 3.344 pJ
    # (the encoded transfers of the 3 x 3 test).
    net = snn_form(mlp3())
    sc = snn_cost(_hw(3, 1), net, NeuronSpec(), activity_from_rates(net, 1), 1)
    m = sc.placed.mapping
    assert (m.fits, m.resident, m.reloaded, m.pool_macros) == (False, ("fc1",), ("fc0", "fc2"), 2)
    assert sc.placed.by_layer() == {"fc0": ((64.0, 1),), "fc1": ((32.0, 1),)}
    assert sc.steps[0].energy_pj["noc"] == pytest.approx(3.344)
    assert "needs 4 macros of 3: streamed layers (fc0, fc2) sit on the pool's tile and are reloaded" in \
        sc.placed.note("spikes 1 bit")
    assert "all on one tile: no NoC traffic" in snn_cost(_hw(1, 4), net, NeuronSpec(), activity_from_rates(net, 1),
                                                         1).placed.note("spikes 1 bit")


def test_the_snn_timeline_and_the_row_engine_hold_links_the_same_way():
    # The same transfer, 192 bits over 2 hops of 128-bit links with 1 cycle per hop, in both event engines.
    # Row engine (CNN): tests/test_engine_noc.py's net on a 2 x 2 mesh of one-macro tiles; r (4x6x6 INT8 on
    # tile 0) feeds sum (tile 3) row by row: a row is 4 x 6 bytes = 192 bits over links 0->1, 1->3.
    # SNN timeline: input 64 -> fc0 64->192 (direct; 64 rows x 1536 columns = 6 macros) -> s0 -> fc1 192->10
    # (1 macro) on a 3 x 3 mesh of 3-macro tiles: fc0 on macros 0-5 (home tile 0), fc1 on macro 6 = tile 2;
    # s0's 192 spikes cross 0 -> 2 over links 0>1, 1>2; at rate 0.5 the encoder sends the map (96 events x 8
    # address bits > 192) and its flag bit: 193 bits.
    # Both, by hand (noc.link_stages, cut-through): link 1 held ceil(192 / 128) = ceil(193 / 128) = 2 cycles from
    # 0; the head at the next router 1 cycle (the hop latency) after taking it, link 2 held 2 cycles from 1;
    # delivered 2 + 1 cycles after that: 4 cycles after the first hold began (store-and-forward: 0-2, 3-5, 6).
    from test_engine_noc import _ctx, _net

    from imcsim.engine.costs import price_step
    from imcsim.engine.events import run_plan
    from imcsim.engine.noc import link_cycles, link_stages
    from imcsim.engine.plan import build_plan

    ctx = _ctx(_net())
    plan = build_plan(ctx, price_step(ctx))
    edge = next(e for e in plan.edges if (plan.tasks[e.src].name, plan.tasks[e.dst].name) == ("r:fwd", "sum:fwd"))
    cnn = [(plan.resources[r].name, hold, delay) for r, hold, delay in edge.stages]
    assert cnn == [(f"link:{a}->{b}", hold, delay) for (a, b), hold, delay in
                   link_stages(((0, 1), (1, 3)), 192, 128, 1)] == [("link:0->1", 2, 1), ("link:1->3", 2, 1)]
    rows = [iv for iv in run_plan(plan, record=True).intervals if iv.op == "r:fwd->sum:fwd" and iv.sample == 0]
    row0 = sorted(rows, key=lambda iv: iv.start)[:2]
    cnn_times = [(iv.start - row0[0].start, iv.end - row0[0].start) for iv in row0]

    b = GraphBuilder("wide", (64,))
    s0 = b.act(b.linear(b.input, 192, bias=False, name="fc0"), "relu", name="s0")
    b.linear(s0, 10, bias=False, name="fc1", tags=("classifier",))
    net = snn_form(b.build())
    hw = _hw(9, 3)
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 1, default_rate=0.5), 1)
    assert sc.placed.routes == {"fc0": ((192.0, ((0, 1), (1, 2))),)} and sc.noc_bits[0] == {"fc0": (193.0,)}
    trace = []
    simulate(sc, [1], in_flight=1, evaluated=False, trace=trace)
    snn_times = [(a - trace[0][2], e - trace[0][2]) for _, _, a, e in trace]
    assert cnn_times == snn_times == [(0, 2), (1, 3)]
    # alone both take noc.link_cycles = 2 x 1 + 2 = 4 cycles; the analytic engines price the transfer at
    # 193 / 128 + 2 x 1 = 3.5078125 (noc.noc_cycles: the same up to the rounding, docs/engine.md, "NoC links")
    assert link_cycles(((192.0, 2),), 128, 1) == link_cycles(((193.0, 2),), 128, 1) == 4
    assert dict(sc.stages[0])["noc:fc0"] == pytest.approx(3.5078125)


def test_streamed_layers_are_reloaded_as_the_cnn_engines_price_a_reload():
    # The MLP on 3 one-macro tiles (above): fc0 (direct-encoded, once per sample) and fc2 (every timestep) are
    # streamed through the pool. Their reloads are the CNN pricer's own (engine/costs.py on the same graph and
    # mapping, batch 1): fc0 64 x 64 INT8 weights = 4096 B read from DRAM at 15 pJ/bit = 491,520 pJ in
    # 4096 B / (25.6 GB/s / 500 MHz = 51.2 B per cycle) = 80 cycles, then written into the pool; fc2 32 x 10 =
    # 320 B: 38,400 pJ, 6.25 cycles, then its write.
    # Steady state, one layer in the pool at a time: each sample's once part reloads fc0 (the pool holds fc2
    # from the previous sample), its first timestep reloads fc2 (the pool holds fc0), later timesteps nothing.
    net = snn_form(mlp3())
    hw = _hw(3, 1)
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 3), 3)
    fits = snn_cost(_hw(4, 1), net, NeuronSpec(), activity_from_rates(net, 3), 3)
    reload = reload_costs(hw, net, sc.placed)
    assert set(reload) == {"fc0", "fc2"} and sc.streamed == ("fc0", "fc2")
    assert reload["fc0"].energy_pj["dram"] == pytest.approx(491_520) and reload["fc2"].energy_pj["dram"] == \
        pytest.approx(38_400)
    # cycles: the DRAM read, then the pool write (the device's write pulses, by write waves)
    assert reload["fc0"].cycles > 80 and reload["fc2"].cycles > 6.25 and reload["fc0"].energy_pj["write"] > 0
    assert sc.once.component("dram") == pytest.approx(491_520)
    assert sc.steps[0].component("dram") == pytest.approx(38_400)
    assert sc.steps[1].component("dram") == sc.steps[2].component("dram") == 0
    assert sc.once.cycles == pytest.approx(fits.once.cycles + reload["fc0"].cycles)
    assert sc.steps[0].cycles - sc.steps[1].cycles == pytest.approx(reload["fc2"].cycles)
    # the INT8 CNN of the same graph runs each layer once per sample: both reloads once, 529,920 pJ of DRAM
    assert cnn_cost(hw, net).component("dram") == pytest.approx(491_520 + 38_400)
    assert cnn_cost(hw, net).component("write") == pytest.approx(reload["fc0"].energy_pj["write"]
                                                                 + reload["fc2"].energy_pj["write"])
    # the reload is a stage on the pool before the layer's own, so stages still add up to the timestep
    assert [k for k, _ in sc.stages[0]][-3:-1] == ["reload:fc2", "fc2"]
    assert all(sum(c for _, c in st) == pytest.approx(step.cycles) for st, step in zip(sc.stages, sc.steps))
    # alone on the timeline a sample takes the priced latency plus the links' store-and-forward excess
    one = simulate(sc, [3], in_flight=1, evaluated=False)
    extra = sum(link_excess_cycles(sc, t) for t in (1, 2, 3))
    assert one.makespan_cycles == pytest.approx(sc.at_exit(3, evaluated=False).cycles + extra)


def test_the_reload_schedule_by_hand():
    # mlp3: fc0 direct-encoded (once per sample), fc1 and fc2 every timestep; the pool holds one layer
    from imcsim.snn.cost import reload_schedule

    net = snn_form(mlp3())
    # fc0 and fc2 share the pool: fc0 once per sample, fc2 at the first timestep only
    assert reload_schedule(net, ("fc0", "fc2"), 3) == (["fc0"], [{"fc2"}, set(), set()])
    # two per-timestep layers evict each other: both at every timestep
    assert reload_schedule(net, ("fc1", "fc2"), 3) == ([], [{"fc1", "fc2"}] * 3)
    # one streamed layer alone stays in the pool from sample to sample: never reloaded in steady state
    assert reload_schedule(net, ("fc2",), 3) == ([], [set()] * 3)
    assert reload_schedule(net, ("fc0",), 2) == ([], [set()] * 2)
    assert reload_schedule(net, (), 2) == ([], [set()] * 2)
