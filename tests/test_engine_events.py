"""The row-pipelined event engine: cycle for cycle equal to the cycle-stepped reference on random small
networks, row dataflow rules by hand, and row pipelining against layer order on real networks."""

from __future__ import annotations

import numpy as np
import pytest
from cycle_reference import run_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import build_context
from imcsim.engine.costs import price_step
from imcsim.engine.dataflow import build_dataflow, need
from imcsim.engine.events import simulate_plan
from imcsim.engine.noc import link_stages
from imcsim.engine.plan import Edge, Plan, Resource, Task, build_plan
from imcsim.mapping.placement import Placement
from imcsim.workload.graph import GraphBuilder


# ---------------------------------------------------------------------------------------------- dataflow
def test_window_need_by_hand():
    # 3x3 conv, stride 2, padding 1 on 8 input rows -> 4 output rows; row r reads 2r-1 .. 2r+1:
    # r=0: rows 0..1 (hi 2, lo 0); r=1: 1..3 (hi 4, lo 1); r=2: 3..5 (hi 6, lo 3); r=3: 5..7 (hi 8, lo 5)
    b = GraphBuilder("t", (2, 8, 8))
    c = b.conv(b.input, 2, 3, stride=2, padding=1)
    g = b.build()
    nd = need(g[c], 0, (2, 8, 8))
    assert nd.hi.tolist() == [2, 4, 6, 8] and nd.lo.tolist() == [0, 1, 3, 5] and nd.window == 3


def test_residual_shortcut_needs_the_run_ahead():
    # x -> conv3x3 -> conv3x3 -> add(x): add row r needs x row r (shortcut) and conv2 row r, which needs
    # conv1 rows up to r+1, which need x rows up to r+2: x must be 3 rows ahead of the add's low mark r,
    # so the shortcut edge needs 3 rows (its own window is 1)
    b = GraphBuilder("t", (2, 8, 8))
    x = b.conv(b.input, 2, 1, name="x")
    y = b.conv(x, 2, 3, name="c1")
    y = b.conv(y, 2, 3, name="c2")
    b.add(y, x, name="add")
    g = b.build()
    flow = build_dataflow(g, [(n.name, n.name) for n in g.nodes])
    short = next(e for e in flow.edges if e.src == "x" and e.dst == "add")
    assert short.need.window == 1 and short.min_rows == 3
    # x -> c1 alone: a 3x3 window with padding 1 holds rows r-1 .. r+1
    assert next(e for e in flow.edges if e.src == "x" and e.dst == "c1").min_rows == 3


def test_whole_input_and_attention_needs():
    b = GraphBuilder("t", (2, 4, 4))
    p = b.global_pool(b.input)
    g = b.build()
    nd = need(g[p], 0, (2, 4, 4))
    assert nd.hi.tolist() == [4] and nd.lo.tolist() == [0]


def test_xy_route():
    pl = Placement(cols=3, tiles=9, home={})
    # tile 0 (0,0) -> tile 8 (2,2): x first (0->1->2), then y (2->5->8)
    assert pl.route(0, 8) == ((0, 1), (1, 2), (2, 5), (5, 8))
    assert pl.route(4, 4) == () and pl.hops(0, 8) == 4


# ---------------------------------------------------------------------------------------------- random plans
@st.composite
def small_networks(draw):
    """2 to 4 layers (conv / pool / residual add) on a small map, and the plan's free parameters."""
    h = draw(st.integers(3, 9))
    b = GraphBuilder("rand", (2, h, h))
    x = b.input
    names = []
    for i in range(draw(st.integers(2, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "res"]))
        hh = b.shape(x)[1] if x != "input" else h
        k = draw(st.sampled_from([1, 3]))
        s = draw(st.sampled_from([1, 2]))
        p = draw(st.sampled_from([0, 1]))
        if (hh + 2 * p - k) // s + 1 < 1 or (kind == "pool" and p * 2 > k):
            kind = "conv1"
        if kind == "conv":
            x = b.conv(x, 2, k, stride=s, padding=p, name=f"l{i}")
        elif kind == "conv1":
            x = b.conv(x, 2, 1, name=f"l{i}")
        elif kind == "pool":
            x = b.pool(x, "max", k, stride=s, padding=p, name=f"l{i}")
        else:
            if x == "input":
                x = b.conv(x, 2, 1, name=f"l{i}in")
                names.append(x)
            y = b.conv(x, 2, 3, stride=1, padding=1, name=f"l{i}a")
            names.append(y)
            x = b.add(y, x, name=f"l{i}")
        names.append(x)
    g = b.build()
    return g, draw(st.data())


def _random_plan(g, data) -> Plan:
    ops = [(n.name, n.name) for n in g.nodes]
    flow = build_dataflow(g, ops)
    batch = data.draw(st.integers(1, 2))
    cols = data.draw(st.sampled_from([2, 3]))   # a 3 x 3 mesh: routes of up to 4 hops, sharing links
    tiles = cols * cols
    place = Placement(cols=cols, tiles=tiles, home={})
    resources: list[Resource] = []

    def res(name, kind, cap=1):
        for i, r in enumerate(resources):
            if r.name == name:
                return i
        resources.append(Resource(name, cap, kind))
        return len(resources) - 1

    tasks: list[Task] = []
    index = {}
    digital = res("digital", "digital")
    for name, node in ops:
        tile = data.draw(st.integers(0, tiles - 1))
        stages = []
        if data.draw(st.booleans()):
            stages.append((res(f"tile_buffer:{tile}", "tile_buffer"), data.draw(st.integers(1, 3))))
        unit = digital if g[node].op in ("pool", "add") else res(f"macros:{name}", "macros")
        stages.append((unit, data.draw(st.integers(1, 9))))
        index[name] = len(tasks)
        tasks.append(Task(name, node, "forward", 0, flow.rows[name], batch, tuple(stages),
                          data.draw(st.integers(0, 4)), tile))
    edges: list[Edge] = []
    width = data.draw(st.sampled_from([1, 2, 4]))
    hop = data.draw(st.integers(0, 2))
    dram = res("dram", "dram", data.draw(st.integers(1, 2)))
    for e in flow.edges:
        s, t = index[e.src], index[e.dst]
        level = data.draw(st.sampled_from(["tile", "tile", "dram"]))
        if level == "dram":
            c = data.draw(st.integers(1, 3))
            stages = ((dram, c, 0), (dram, c, 0))
            cap = None
        else:
            # held as the plan holds a row (noc.link_stages): cut-through, the same hold on every link
            route = place.route(tasks[s].tile, tasks[t].tile)
            stages = tuple((res(f"link:{a}->{b}", "link"), hold, delay) for (a, b), hold, delay in
                           link_stages(route, data.draw(st.integers(1, 4)) * 4, width, hop))
            cap = e.min_rows + data.draw(st.integers(0, 2))
        edge = Edge(s, t, [int(v) for v in e.need.hi], [int(v) for v in e.need.lo], tasks[s].rows, tasks[t].rows,
                    cap, stages, 1.0, level)
        edges.append(edge)
        tasks[s].out_edges.append(len(edges) - 1)
        tasks[t].in_edges.append(len(edges) - 1)
    users = {}
    for i, t in enumerate(tasks):
        for r, _ in t.stages:
            users.setdefault(r, set()).add(("t", i))
    for i, e in enumerate(edges):
        for r, _, _ in e.stages:
            users.setdefault(r, set()).add(("e", i))
    for r, u in users.items():
        resources[r].contended = len(u) >= 2 or data.draw(st.booleans())
    barriers = []
    return Plan(tasks, edges, resources, barriers, data.draw(st.booleans()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_event_engine_equals_cycle_stepped_reference(net):
    g, data = net
    plan = _random_plan(g, data)
    assert simulate_plan(plan).cycles == run_reference(plan)


def test_reference_by_hand_two_layer_chain():
    # producer: 3 rows of 2 cycles on its own macros; consumer: 1x1 conv (row r needs producer row r),
    # 3 cycles per row, one 1-cycle link between them with 1 cycle hop latency, line buffer of 1 row.
    # producer rows end at 2, 4(?)... with cap 1 the producer reserves a row only when the consumer freed
    # the last: P0 0-2, link 2-3, hop 3-4, C0 4-7 (frees row 0 at 7) -> P1 7-9, link 9-10, hop 10-11,
    # C1 11-14 -> P2 14-16, link 16-17, hop -18, C2 18-21: 21 cycles
    b = GraphBuilder("t", (2, 3, 3))
    x = b.conv(b.input, 2, 1, name="p")
    b.conv(x, 2, 1, name="c")
    g = b.build()
    flow = build_dataflow(g, [("p", "p"), ("c", "c")])
    res = [Resource("macros:p", 1, "macros"), Resource("macros:c", 1, "macros"), Resource("link:0->1", 1, "link")]
    e = flow.edges[0]
    tasks = [Task("p", "p", "forward", 0, 3, 1, ((0, 2),), 0, 0), Task("c", "c", "forward", 0, 3, 1, ((1, 3),), 0, 1)]
    edge = Edge(0, 1, e.need.hi.tolist(), e.need.lo.tolist(), 3, 3, 1, ((2, 1, 1),))
    tasks[0].out_edges.append(0)
    tasks[1].in_edges.append(0)
    plan = Plan(tasks, [edge], res, [])
    assert run_reference(plan) == 21
    assert simulate_plan(plan).cycles == 21
    # with a 3-row buffer the producer runs ahead: P 0-2, 2-4, 4-6; C0 4-7, C1 7-10, C2 10-13
    edge.cap = 3
    assert run_reference(plan) == simulate_plan(plan).cycles == 13


def test_cut_through_on_a_shared_link_by_hand():
    # A -> C over links L1, L2 (edge 0) and B -> D over L2, L3 (edge 1): L2 is shared (contended; edge 0's keys
    # are smaller), L1 and L3 each carry one edge. A and B make 3 rows of 2 cycles (0-2, 2-4, 4-6); C and D take a
    # row in 1 cycle once its producer row is delivered. Each link held 4 cycles, the head 1 cycle (hop latency)
    # ahead, delivered 4 + 1 after taking the last link (noc.link_stages, cut-through).
    # edge 1 row 0: L2 2-6 (alone at 2), L3 3-7, delivered 8 -> D0 8-9.
    # edge 0 row 0: L1 2-6, head at L2 at 3, L2 busy: 6-10 (edge 1 row 1, waiting since 4, has the larger key),
    #   delivered 11 -> C0 11-12. Row 1: L1 6-10, at L2 7, L2 10-14 (key below edge 1 row 1 again), delivered
    #   15 -> C1 15-16. Row 2: L1 10-14, at L2 11, L2 14-18, delivered 19 -> C2 19-20.
    # edge 1 row 1: L2 18-22, L3 19-23, delivered 24 -> D1 24-25; row 2: L2 22-26, L3 23-27, delivered 28 -> D2
    # 28-29. Latency 29 cycles. (Store-and-forward, each link held 4 and then 1 cycle of hop latency before the
    # next, rows one after the other: 44.)
    res = [Resource(f"macros:{n}", 1, "macros") for n in "ABCD"] + [Resource(n, 1, "link") for n in ("L1", "L2", "L3")]
    res[5].contended = True
    tasks = [Task(n, n, "forward", 0, 3, 1, ((i, 2 if n in "AB" else 1),)) for i, n in enumerate("ABCD")]
    edges = [Edge(0, 2, [1, 2, 3], [0, 1, 2], 3, 3, None, link_stages_of(4, 5, 4, 1)),
             Edge(1, 3, [1, 2, 3], [0, 1, 2], 3, 3, None, link_stages_of(5, 6, 4, 1))]
    for i, e in enumerate(edges):
        tasks[e.src].out_edges.append(i)
        tasks[e.dst].in_edges.append(i)
    plan = Plan(tasks, edges, res, [])
    run = simulate_plan(plan, record=True)
    assert run.cycles == run_reference(plan) == 29
    l2 = sorted((iv.start, iv.end, iv.op) for iv in run.intervals if iv.resource == "L2")
    assert l2 == [(2, 6, "B->D"), (6, 10, "A->C"), (10, 14, "A->C"), (14, 18, "A->C"), (18, 22, "B->D"),
                  (22, 26, "B->D")]
    # noc stalls: a row waiting for a link another edge holds (behind its own edge's rows it is not a stall):
    # edge 0 row 0 from 3 to 6, edge 1 row 1 from 6 (its row 0 released L2) to 18
    assert run.stalls["noc"] == (6 - 3) + (18 - 6)
    assert run.finish == {"A": 6, "B": 6, "C": 20, "D": 29}


def test_double_buffered_port_by_hand():
    # M: 3 rows, each 2 cycles on its tile buffer port then 3 on its macros, the first row 1 more (fill); C: a 1x1
    # layer on the same tile (the edge delivers at once), 1 cycle per row on its own macros. Rule 7, two input
    # buffers: port P0 0-2, unit U0 2-6 (3 + fill); P1 2-4, U1 6-9 (after U0); P2 waits for U0 to free a buffer:
    # 6-8, U2 9-12. C: 6-7, 9-10, 12-13: latency 13. Without double buffering a row's port and unit run in
    # turn: M 0-2 2-6 | 6-8 8-11 | 11-13 13-16, C at 6-7, 11-12, 16-17 (rule 1c holds: inside a tile a row is
    # delivered when done): 17.
    res = [Resource("tile_buffer:0", 1, "tile_buffer"), Resource("macros:M", 1, "macros"),
           Resource("macros:C", 1, "macros")]
    tasks = [Task("M", "M", "forward", 0, 3, 1, ((0, 2), (1, 3)), 1, 0), Task("C", "C", "forward", 0, 3, 1, ((2, 1),))]
    edge = Edge(0, 1, [1, 2, 3], [0, 1, 2], 3, 3, None, ())
    tasks[0].out_edges.append(0)
    tasks[1].in_edges.append(0)
    plan = Plan(tasks, [edge], res, [], True)
    run = simulate_plan(plan, record=True)
    assert run.cycles == run_reference(plan) == 13
    port = sorted((iv.start, iv.end) for iv in run.intervals if iv.resource == "tile_buffer:0")
    unit = sorted((iv.start, iv.end) for iv in run.intervals if iv.resource == "macros:M")
    assert port == [(0, 2), (2, 4), (6, 8)] and unit == [(2, 6), (6, 9), (9, 12)]
    assert run.finish == {"M": 12, "C": 13}
    assert run.busy == {"tile_buffer:0": 6, "macros:M": 10, "macros:C": 3}
    plan.double_buffering = False
    assert simulate_plan(plan).cycles == run_reference(plan) == 17
    # C's line buffer of 1 row: M's unit stage reserves it (its output needs it, its port stage does not). P0 0-2,
    # U0 2-6, P1 2-4; U1 waits for C to free row 0: C0 6-7, U1 7-10; P2 6-8 (U0 freed a buffer); C1 10-11, U2
    # 11-14, C2 14-15: 15. Without double buffering row 1 starts when C frees row 0: 7-9 9-12, C1 12-13, row 2
    # 13-15 15-18, C2 18-19: 19.
    edge.cap = 1
    assert simulate_plan(plan).cycles == run_reference(plan) == 19
    plan.double_buffering = True
    run = simulate_plan(plan, record=True)
    assert run.cycles == run_reference(plan) == 15
    assert sorted((iv.start, iv.end) for iv in run.intervals if iv.resource == "tile_buffer:0") == [(0, 2), (2, 4),
                                                                                                   (6, 8)]
    assert run.stalls["buffer"] == (7 - 6) + (11 - 10)   # U1 and U2 waiting for C's free row
    edge.cap = None
    # a port slower than the unit (4 and 2 cycles, no fill): P0 0-4, U0 4-6, P1 4-8, U1 8-10, P2 8-12, U2 12-14;
    # C 6-7, 10-11, 14-15: the port sets the pace (15; serial rows 6 cycles each, C after each: 19)
    plan = Plan([Task("M", "M", "forward", 0, 3, 1, ((0, 4), (1, 2)), 0, 0), tasks[1]], [edge], res, [], True)
    plan.tasks[0].out_edges.append(0)
    assert simulate_plan(plan).cycles == run_reference(plan) == 15
    plan.double_buffering = False
    assert simulate_plan(plan).cycles == run_reference(plan) == 19


def link_stages_of(first: int, second: int, hold: int, delay: int) -> tuple[tuple[int, int, int], ...]:
    """Two links (resource indices) held as noc.link_stages holds a packet of ``hold`` flits."""
    return tuple((r, h, d) for r, (_, h, d) in zip((first, second), link_stages(((0, 1), (1, 2)), hold, 1, delay)))


# ---------------------------------------------------------------------------------------------- real networks
def test_real_plan_matches_the_reference():
    # a whole priced network, tiny: every stage, edge and buffer rule of the real plan builder
    params = {"workload": "tiny-cnn", "workload.resolution": 8, "chip.tiles": 4, "chip.cell_capacity_mibit": 1,
              "macro.rows": 32, "macro.cols": 32, "tile.buffer_kib": 0.5}
    ctx = build_context(study_from_params(params))
    plan = build_plan(ctx, price_step(ctx))
    assert simulate_plan(plan).cycles == run_reference(plan)


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["resnet18", "mobilenetv2"])
def test_row_pipelining_beats_layer_order(workload):
    row = evaluate(study_from_params({"workload": workload, "chip.pipeline": "row"}), engine="event")
    layer = evaluate(study_from_params({"workload": workload, "chip.pipeline": "layer"}), engine="event")
    assert row.latency_cycles < 0.6 * layer.latency_cycles
    assert row.bottleneck and row.summary()["stall_cycles_input"] > 0
    # energies differ only through the standby leakage (latency) and the staged activation traffic
    for c in ("cell_read", "adder_tree", "noc", "digital_unit", "write"):
        assert row.energy_pj[c] == layer.energy_pj[c], c


def test_dataflow_rows_cover_every_forward_op():
    ctx = build_context(study_from_params({"workload": "resnet18"}))
    plan = build_plan(ctx, price_step(ctx))
    rows = {t.name: t.rows for t in plan.tasks}
    assert rows["conv1:fwd"] == 112 and rows["maxpool:fwd"] == 56 and rows["fc:fwd"] == 1
    # conv1's rows add up to its priced cycles (no replication): 112 rows + the pipeline fill
    priced = price_step(ctx)
    stage = next(s for s in priced.items if getattr(s, "op", "") == "conv1:fwd")
    t = next(t for t in plan.tasks if t.name == "conv1:fwd")
    compute = t.stages[-1][1]
    assert compute * t.rows + t.fill == pytest.approx(stage.cycles)
    assert np.all([e.cap is None or e.cap >= 1 for e in plan.edges])


# ---------------------------------------------------------------------------------------------- fields that bound a run
TINY = {"workload": "tiny-cnn", "workload.resolution": 32, "chip.tiles": 4}
STREAMED = {**TINY, "chip.cell_capacity_mibit": 0.25}   # 4 macros of 256x256: layers stream through the pool
T5_RERAM = {"workload": "flan-t5-large", "workload.layers": 1, "workload.seq_len": 4, "workload.dec_len": 2,
            "chip.tiles": 4, "chip.cell_capacity_mibit": 16, "device": "reram"}


def _latency(params) -> float:
    return evaluate(study_from_params(params), engine="event").latency_cycles


@pytest.mark.parametrize("field,fast,slow,base", [
    # activations whose tile buffers are too small wait in the global buffer, through its port
    ("chip.global_buffer_bytes_per_cycle", 64, 0.25, {**TINY, "tile.buffer_kib": 0.25}),
    # every MVM row moves its input and output rows through the tile buffer port
    ("tile.buffer_bytes_per_cycle", 32, 0.05, TINY),
    # streamed layers fetch their weights from DRAM (prefetched: only a slow DRAM shows)
    ("chip.dram_bandwidth_gb_per_s", 25.6, 0.002, STREAMED),
    # rows between tiles cross mesh links of this width (one macro per tile: layers spread over the mesh)
    ("chip.noc_width_bits", 128, 1, {**TINY, "chip.tiles": 16, "chip.cell_capacity_mibit": 1}),
    # ReRAM reload writes of a low-reuse network (one Flan-T5 block, 4 tokens on a 16 Mibit chip): the
    # 128-macro pool is written in waves of write_drivers macros per tile
    ("tile.write_drivers", 4, 1, T5_RERAM),
])
def test_field_bounds_the_run(field, fast, slow, base):
    quick, bound = _latency({**base, field: fast}), _latency({**base, field: slow})
    assert bound > 1.2 * quick, (field, quick, bound)


def _leaves(model, prefix=""):
    from pydantic import BaseModel

    for name, value in model:
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _leaves(value, path + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, value


@pytest.mark.slow
def test_every_numeric_accelerator_field_changes_a_result():
    # each numeric field of the preset, halved (or an integer moved by one), must change the latency, the
    # energy, the area or the lifetime of one of three small runs: an inference that stages activations and
    # streams weights, a training step, and a ReRAM streaming inference (write drivers)
    from imcsim.config.accelerator import load_accelerator

    cases = [{**STREAMED, "tile.buffer_kib": 2, "chip.global_buffer_kib": 16},
             # weight gradients on the digital units, so that they read tile.digital_unit.macs_per_cycle
             {**TINY, "method": "full", "batch": 2, "chip.cell_capacity_mibit": 2, "wgrad": "digital"},
             T5_RERAM]

    def metrics(params):
        s = evaluate(study_from_params(params), engine="event").summary()
        return s["latency_cycles"], s["energy_pj"], s["area_mm2"], s["lifetime_years"]

    base = [metrics(c) for c in cases]
    unchanged = []
    for path, value in _leaves(load_accelerator("acc-sas-mram")):
        if path == "tile.macros":  # derived from chip.cell_capacity_mibit (walked itself)
            continue
        if isinstance(value, int):
            new = value // 2 if value > 2 else value + 1
        else:
            new = value / 2
        if not any(metrics({**c, path: new}) != b for c, b in zip(cases, base)):
            unchanged.append(path)
    assert not unchanged


# ---------------------------------------------------------------------------------------------- rounds, DRAM, reloads
def test_round_step_cycles_by_hand():
    from imcsim.circuit.macro import TileUse
    from imcsim.mapping.layer import LayerMapping, round_step_cycles

    ctx = build_context(study_from_params({"workload": "tiny-cnn"}))
    m = ctx.macro
    # 3 full 256-row tiles and one 64-row remainder on a 2-macro pool: rounds {full, full}, {full, rest};
    # a full tile steps in_bits x ceil(256 / rows_parallel) x ceil(cols_used / sense_amps) cycles
    tiles = (TileUse(256, 64, 2048, 3), TileUse(64, 64, 512, 1))
    lm = LayerMapping("x", "conv", "dense", 1, 10, 832, 8, 8, 4, 1, 1, 4, 6656, 53248, 4 * 65536, tiles)
    full = m.in_bits * -(-256 // m.rows_parallel) * -(-64 // m.sense_amps) * m.access_cycles
    assert round_step_cycles(lm, m, 2) == [full, full]
    assert round_step_cycles(lm, m, 4) == [full]
    rest = m.in_bits * -(-64 // m.rows_parallel) * -(-64 // m.sense_amps) * m.access_cycles
    assert round_step_cycles(lm, m, 1) == [full, full, full, rest]


def test_fewer_macros_than_tiles_runs_in_rounds_in_both_engines():
    # ResNet-18 (64x64 input) on one 256x256 macro: every layer streams through a one-macro pool in as
    # many rounds as it has tiles, instead of computing as if all its tiles ran at once
    base = {"workload": "resnet18", "workload.resolution": 64}
    one = {**base, "chip.tiles": 1, "chip.cell_capacity_mibit": 0.0625}
    for engine, pipeline in (("analytic", "layer"), ("event", "row")):
        full = evaluate(study_from_params({**base, "chip.pipeline": pipeline}), engine=engine)
        tiny = evaluate(study_from_params({**one, "chip.pipeline": pipeline}), engine=engine)
        assert tiny.latency_cycles > 5 * full.latency_cycles, engine
        assert tiny.energy_pj["cell_read"] == pytest.approx(full.energy_pj["cell_read"])  # the same MVM steps


def test_inference_activations_beyond_the_buffers_go_to_dram():
    params = {**TINY, "tile.buffer_kib": 0.25, "chip.global_buffer_kib": 0.25, "chip.dram_channels": 2}
    r = evaluate(study_from_params(params), engine="event")
    spill = r.mapping["activation_spill_bytes"]
    assert spill > 0
    staged = next(o for o in r.ops if o.name == "activations:staged")
    # written once and read back once: bytes x 8 x (15 + 15) pJ/bit on the preset
    assert staged.energy_pj["dram"] == pytest.approx(spill * 8 * 30.0)
    assert any("through DRAM" in a for a in r.assumptions)


def test_reloads_overlap_other_layers_in_the_row_engine():
    # ResNet-50 does not fit the preset: layer4 streams through the pool. Its reloads are tasks (DRAM
    # fetch, then the write drivers), not chip-wide barriers: other layers compute while they run
    r = evaluate(study_from_params({"workload": "resnet50", "workload.resolution": 64}), engine="event",
                 record_trace=True)
    ivs = r.timeline.intervals
    reload = [iv for iv in ivs if ":reload:" in iv.op]
    compute = [iv for iv in ivs if iv.resource.startswith("macros:") and iv.resource != "macros:pool"]
    assert reload and any(c.start < x.end and x.start < c.end for x in reload for c in compute)


@pytest.mark.parametrize("extra", [
    {"chip.cell_capacity_mibit": 0.25},                               # streamed layers, reload tasks
    {"method": "full", "batch": 2, "chip.cell_capacity_mibit": 2},    # backward chain and update tasks
])
def test_real_plans_with_reloads_and_updates_match_the_reference(extra):
    params = {"workload": "tiny-cnn", "workload.resolution": 8, "chip.tiles": 4, "macro.rows": 64,
              "macro.cols": 64, **extra}
    ctx = build_context(study_from_params(params))
    plan = build_plan(ctx, price_step(ctx))
    assert simulate_plan(plan).cycles == run_reference(plan)
