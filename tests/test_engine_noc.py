"""NoC hops and energy follow the placement in both engines (engine/noc.py), worked by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import Context, build_context
from imcsim.engine.costs import price_step
from imcsim.engine.events import run_plan
from imcsim.engine.noc import forward_traffic, link_cycles, link_stages, noc_cycles, transfer_cycles
from imcsim.engine.plan import build_plan
from imcsim.mapping.network import map_network
from imcsim.workload import methods
from imcsim.workload.graph import GraphBuilder

# 4 tiles of one 32x32 macro each, a 2x2 mesh: tile 0 (0,0), 1 (1,0), 2 (0,1), 3 (1,1); 1 mm apart
CHIP = {"workload": "tiny-cnn", "batch": 1, "chip.tiles": 4, "tile.macros": 1, "macro.rows": 32, "macro.cols": 32,
        "chip.tile_pitch_mm": 1.0, "chip.noc_energy_pj_per_bit_per_mm": 0.04, "chip.noc_width_bits": 128,
        "chip.noc_hop_latency_cycles": 1}


def _ctx(graph, params=CHIP) -> Context:
    base = build_context(study_from_params(params))
    step = methods.apply(graph, "inference")
    mapping = map_network(step, base.macro, base.accel.n_macros)
    return Context(base.study, base.accel, base.device, base.macro, step, mapping, base.batch)


def _net():
    # input (4, 6, 6) -> a 1x1 -> relu -> b 3x3 -> c 1x1 -> sum = c + relu(a)
    # rows (K) per conv on a 32-row macro: a 4 -> 1 macro, b 36 -> 2 row tiles, c 4 -> 1 macro; placed in
    # forward order: a on macro 0 (tile 0), b on macros 1-2 (home tile 1), c on macro 3 (tile 3)
    g = GraphBuilder("noc", (4, 6, 6))
    a = g.conv(g.input, 4, 1, name="a")
    r = g.act(a, name="r")
    b = g.conv(r, 4, 3, padding=1, name="b")
    c = g.conv(b, 4, 1, name="c")
    g.add(c, r, name="sum")
    return g.build()


def test_hops_by_hand():
    ctx = _ctx(_net())
    assert [lm.macros for lm in ctx.mapping.layers] == [1, 2, 1]
    t = forward_traffic(ctx.step, ctx.mapping, 4, 1, 1.0)
    assert t.placement.home["a"] == 0 and t.placement.home["b"] == 1 and t.placement.home["c"] == 3
    # r runs with a (tile 0), sum with c (tile 3, its first producer)
    assert t.tile["r:fwd"] == 0 and t.group["r:fwd"] == "a:fwd" and t.tile["sum:fwd"] == 3
    # crossings: r -> b (tile 0 -> 1: 1 hop), r -> sum (0 -> 3: x then y, 2 hops), b -> c (1 -> 3: 1 hop);
    # each carries a whole 4x6x6 INT8 map = 144 B = 1152 bits; a -> r and c -> sum stay on their tiles
    assert sorted(t.crossings["a:fwd"]) == [(1152.0, 1), (1152.0, 2)]
    assert t.crossings["b:fwd"] == ((1152.0, 1),)
    assert "c:fwd" not in t.crossings


def test_the_row_engine_routes_the_same_edges_from_the_same_tiles():
    ctx = _ctx(_net())
    priced = price_step(ctx)
    plan = build_plan(ctx, priced)
    run_plan(plan)
    links = {}
    for e in plan.edges:
        links[(plan.tasks[e.src].name, plan.tasks[e.dst].name)] = [plan.resources[r].name for r, _, _ in e.stages]
    # r -> sum holds links 0->1 and 1->3 (x first, then y); the crossings of test_hops_by_hand, link after link
    assert links[("r:fwd", "sum:fwd")] == ["link:0->1", "link:1->3"]
    assert links[("r:fwd", "b:fwd")] == ["link:0->1"] and links[("b:fwd", "c:fwd")] == ["link:1->3"]
    assert links[("a:fwd", "r:fwd")] == [] and links[("c:fwd", "sum:fwd")] == []
    tiles = forward_traffic(ctx.step, ctx.mapping, 4, 1, 1.0).tile
    assert {t.name: t.tile for t in plan.tasks} == tiles


def test_noc_energy_and_cycles_follow_the_placement_in_the_cost_model():
    ctx = _ctx(_net())
    priced = price_step(ctx)
    noc = {r.name: r.energy_pj.get("noc", 0.0) for r in priced.records}
    # a: (1152 x 1 + 1152 x 2) bit-hops x 1 mm x 0.04 pJ/bit/mm = 138.24 pJ; b: 1152 x 0.04 = 46.08 pJ; c: 0
    assert noc["a:fwd"] == pytest.approx(138.24) and noc["b:fwd"] == pytest.approx(46.08) and noc["c:fwd"] == 0.0
    # layer order: a's NoC stage 1152/128 + 1 hop + 1152/128 + 2 hops = 21 cycles; b's 9 + 1 = 10; c's 0
    stages = {s.op: s.cycles for s in priced.items if hasattr(s, "op")}
    assert stages["a:fwd:noc"] == 21 and stages["b:fwd:noc"] == 10 and stages["c:fwd:noc"] == 0
    assert any("4 hops of 1.0 mm in all" in a for a in priced.assumptions)   # 1 + 2 + 1


def test_spreading_layers_over_more_tiles_costs_more_noc_energy():
    # ResNet-18 on the default chip (64 tiles) against the same macros on 16 tiles: the same layers cross
    # more tile boundaries and longer routes on the larger mesh
    base = {"workload": "resnet18"}
    wide = evaluate(study_from_params(base))
    tight = evaluate(study_from_params({**base, "chip.tiles": 16, "tile.macros": 128}))
    assert wide.mapping["n_macros"] == tight.mapping["n_macros"]
    assert wide.energy_pj["noc"] > tight.energy_pj["noc"] > 0


def test_an_uncontended_transfer_takes_the_analytic_noc_cycles_up_to_rounding():
    # noc.link_stages (cut-through): 300 bits over 3 hops of 128-bit links, 2 cycles per hop: each link held
    # ceil(300 / 128) = 3 cycles; the head takes link 2 at 2 and link 3 at 4, delivered 3 + 2 after that: 9 cycles.
    # noc.noc_cycles: 300 / 128 + 3 x 2 = 8.34375; the difference is the rounding 3 - 2.34375 = 0.65625.
    stages = link_stages(((0, 1), (1, 2), (2, 3)), 300, 128, 2)
    assert stages == (((0, 1), 3, 2), ((1, 2), 3, 2), ((2, 3), 3, 2))
    assert transfer_cycles(stages) == 9 == link_cycles(((300.0, 3),), 128, 2)
    assert link_cycles(((300.0, 3),), 128, 2) - noc_cycles(((300.0, 3),), 128, 2) == pytest.approx(0.65625)
    # a zero hop latency: a head still needs a cycle per router (1 + 1), delivered as the last hold ends: 1 + 1 + 3
    # = 5 against 2.34375 (store-and-forward held the links one after the other: 3 x 3 = 9)
    assert [d for _, _, d in link_stages(((0, 1), (1, 2), (2, 3)), 300, 128, 0)] == [1, 1, 0]
    assert link_cycles(((300.0, 3),), 128, 0) == 5


@settings(max_examples=50, deadline=None)
@given(st.floats(1, 1e5), st.integers(1, 8), st.sampled_from([1, 8, 64, 128, 256]), st.integers(1, 4))
def test_link_cycles_are_noc_cycles_up_to_the_ceil(bits, hops, width, latency):
    # with whole hop latencies of a cycle or more, only the hold's rounding to whole cycles differs
    extra = link_cycles(((bits, hops),), width, latency) - noc_cycles(((bits, hops),), width, latency)
    assert extra == pytest.approx(max(1, math.ceil(bits / width - 1e-9)) - bits / width, abs=1e-6)
    assert 0 <= extra < 1 + 1e-9
