"""Line buffers sized by ``dataflow.deadlock_free_rows`` never deadlock the row engine, also where a fork's
paths join without a direct edge (a gate fed by a whole-map pool beside a chain of convs, two conv branches
into an add, a pooled branch upsampled back): the event engine finishes with every bounded edge at exactly
those rows and equals the cycle-stepped reference; one row fewer on the hand-worked edge deadlocks."""

from __future__ import annotations

import numpy as np
import pytest
from cycle_reference import run_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcsim.engine.dataflow import build_dataflow
from imcsim.engine.events import Deadlock, simulate_plan
from imcsim.engine.plan import Edge, Plan, Resource, Task
from imcsim.workload.graph import GraphBuilder


def _plan(g, caps: dict[tuple[str, str], int] | None = None, batch: int = 1) -> Plan:
    """Every op one row-stream of 1-cycle rows on its own macros, every edge a bounded line buffer inside
    one tile (no transfer) of ``min_rows`` rows, or of ``caps[(src, dst)]``."""
    ops = [(n.name, n.name) for n in g.nodes]
    flow = build_dataflow(g, ops)
    res = [Resource(f"macros:{name}", 1, "macros") for name, _ in ops]
    index = {name: i for i, (name, _) in enumerate(ops)}
    tasks = [Task(name, name, "forward", 0, flow.rows[name], batch, ((i, 1),)) for i, (name, _) in enumerate(ops)]
    edges = []
    for e in flow.edges:
        s, t = index[e.src], index[e.dst]
        cap = (caps or {}).get((e.src, e.dst), e.min_rows)
        edges.append(Edge(s, t, e.need.hi.tolist(), e.need.lo.tolist(), tasks[s].rows, tasks[t].rows, cap, ()))
        tasks[s].out_edges.append(len(edges) - 1)
        tasks[t].in_edges.append(len(edges) - 1)
    return Plan(tasks, edges, res, [])


def _gate(h: int):
    # x -> c1 (1x1) -> c2 (1x1) -> mul(., gate); x -> global pool -> gate: the mul's first row needs the gate,
    # i.e. all h rows of x, while the conv branch passes x on row by row
    b = GraphBuilder("gate", (2, h, h))
    x = b.conv(b.input, 2, 1, name="x")
    y = b.conv(b.conv(x, 2, 1, name="c1"), 2, 1, name="c2")
    b.mul(y, b.global_pool(x, name="gate"), name="mul")
    return b.build()


def test_gate_beside_a_conv_chain_by_hand():
    # mul row 0 needs all 8 rows of x (through the gate). With c2 -> mul holding k rows, c1 -> c2 and x -> c1
    # one row each (their windows), x can make at most k + 2 rows (c2 made k rows, c1 one more, x one more),
    # so k = 8 - 2 = 6. The old rule (only direct fork -> join edges) gave c2 -> mul its window, 1.
    g = _gate(8)
    flow = build_dataflow(g, [(n.name, n.name) for n in g.nodes])
    rows = {(e.src, e.dst): e.min_rows for e in flow.edges}
    assert rows[("c2", "mul")] == 6
    assert rows[("x", "c1")] == rows[("c1", "c2")] == 1 and rows[("x", "gate")] == 8
    plan = _plan(g)
    assert simulate_plan(plan).cycles == run_reference(plan)
    with pytest.raises(Deadlock):
        simulate_plan(_plan(g, {("c2", "mul"): 5}))


@st.composite
def fork_join_networks(draw):
    """1 to 3 blocks, each a fork whose paths join again: a residual add, two conv branches into an add,
    a whole-map gate beside a conv chain, or a pooled branch upsampled back."""
    h = draw(st.integers(4, 9))
    b = GraphBuilder("forks", (2, h, h))
    x = b.conv(b.input, 2, 1, name="in")
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["res", "branches", "gate", "updown"]))
        k1, k2 = draw(st.sampled_from([1, 3])), draw(st.sampled_from([1, 3]))
        y = b.conv(x, 2, k1, padding=k1 // 2, name=f"b{i}a")
        y = b.conv(y, 2, k2, padding=k2 // 2, name=f"b{i}b")
        if kind == "res":
            x = b.add(y, x, name=f"b{i}")
        elif kind == "branches":
            z = b.conv(x, 2, draw(st.sampled_from([1, 3])), padding=1 if k1 == 3 else 0, name=f"b{i}c")
            x = b.add(y, z, name=f"b{i}") if b.shape(z) == b.shape(y) else b.add(y, b.conv(x, 2, 1, name=f"b{i}d"),
                                                                                   name=f"b{i}")
        elif kind == "gate":
            x = b.mul(y, b.global_pool(x, name=f"b{i}g"), name=f"b{i}")
        else:
            hh = b.shape(x)[1]
            z = b.conv(b.pool(x, "max", 2, stride=2, name=f"b{i}p"), 2, 1, name=f"b{i}q")
            x = b.add(y, b.upsample(z, (hh, hh), name=f"b{i}u"), name=f"b{i}") if hh >= 2 else y
    return b.build(), draw(st.integers(1, 2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fork_join_networks())
def test_min_rows_never_deadlock(net):
    g, batch = net
    plan = _plan(g, batch=batch)
    assert simulate_plan(plan).cycles == run_reference(plan)


def _rows_before(edges, order):
    """``deadlock_free_rows`` as it was before its cheap steps (identity needs passing the fork rows on, one
    maximum per join input): the oracle the faster walk must equal, edge for edge."""
    import heapq

    import numpy as np

    from imcsim.engine.dataflow import _branch_rows

    out_of, into, n_rows = {}, {}, {}
    for i, (src, dst, nd) in enumerate(edges):
        out_of.setdefault(src, []).append(i)
        into.setdefault(dst, []).append(i)
        n_rows[src] = nd.src_rows
        n_rows.setdefault(dst, len(nd.hi))
    rows = [int(np.max(nd.hi - nd.lo)) if len(nd.hi) else 0 for _, _, nd in edges]
    for fork, outs in out_of.items():
        if len(outs) < 2:
            continue
        m = {fork: None}
        heap = sorted({(order[edges[i][1]], edges[i][1]) for i in outs}, key=lambda t: t[0])
        heap_keys = {x for _, x in heap}
        pending = len(outs)
        while heap:
            _, y = heapq.heappop(heap)
            ins = [i for i in into[y] if edges[i][0] in m]
            pending -= len(ins)
            cands = [edges[i][2].hi if m[edges[i][0]] is None else m[edges[i][0]][edges[i][2].hi - 1] for i in ins]
            my = np.maximum.accumulate(cands[0] if len(cands) == 1 else np.maximum.reduce(cands))
            m[y] = my
            if len(ins) >= 2:
                for i in ins:
                    x, _, nd = edges[i]
                    if x == fork:
                        reach = my
                    else:
                        reach = np.searchsorted(m[x], my, side="left") + 1
                        if int(np.max(reach - nd.lo)) > rows[i]:
                            reach = _branch_rows(fork, x, my, edges, into, out_of, m, rows, n_rows, order)
                    rows[i] = max(rows[i], int(np.max(reach - nd.lo)))
            if not pending:
                break
            for i in out_of.get(y, ()):
                z = edges[i][1]
                pending += 1
                if z not in heap_keys:
                    heap_keys.add(z)
                    heapq.heappush(heap, (order[z], z))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fork_join_networks())
def test_the_walks_cheap_steps_change_no_rows(net):
    # identity needs pass the fork rows on unchanged, one maximum per join input: the same rows as the plain walk,
    # on the op graph and on the plan's row groups (grouped needs, task indices as ops)
    from imcsim.engine import plan as plan_mod
    from imcsim.engine.dataflow import Need, deadlock_free_rows

    g, batch = net
    ops = [(n.name, n.name) for n in g.nodes]
    flow = build_dataflow(g, ops)
    raw = [(e.src, e.dst, e.need) for e in flow.edges]
    order = {name: i for i, (name, _) in enumerate(ops)}
    assert deadlock_free_rows(raw, order) == _rows_before(raw, order) == [e.min_rows for e in flow.edges]
    plan = _plan(g, batch=batch)
    plan_mod.group_rows(plan, [max(1, t.rows // 2) for t in plan.tasks])
    grouped = [(e.src, e.dst, Need(np.asarray(e.hi), np.asarray(e.lo), e.src_rows)) for e in plan.edges]
    assert deadlock_free_rows(grouped, range(len(plan.tasks))) == _rows_before(grouped, range(len(plan.tasks)))


@pytest.mark.parametrize("left, in_global, in_dram", [(240.0, 240.0, 0.0), (239.0, 160.0, 80.0), (79.0, 0.0, 240.0)])
def test_a_deadlock_relaxes_into_the_global_buffer_only_when_it_has_room(left, in_global, in_dram):
    # the gate of test_gate_beside_a_conv_chain_by_hand with c2 -> mul one row short (5) deadlocks with all three
    # producers of the conv chain waiting for a free row; run_plan gives each of those edges its producer's whole
    # map (8 rows of 10 B = 80 B), in turn: in the global buffer while the bytes the staging rule left free hold it
    # (240 B: all three; 239 B: two, 79 B left; 79 B: none), else through DRAM (10 B at 1 GB/s = 10 ns = 10 cycles
    # to write, 10 to read back); the run ends, equal to the cycle reference, with the traffic priced and a note
    # naming the edges
    from imcsim.engine.events import run_plan

    plan = _plan(_gate(8), {("c2", "mul"): 5})
    for e in plan.edges:
        e.row_bytes = 10.0
    plan.global_bytes_left, plan.dram_channel_gb_per_s, plan.cycle_ns = left, 1.0, 1.0
    cycles = run_plan(plan).cycles
    relaxed = [e for e in plan.edges if e.level != "tile"]
    assert plan.relaxed == len(relaxed) == 3 and all(e.cap is None for e in relaxed)
    assert (plan.global_bytes, plan.spill_bytes, plan.global_bytes_left) == (in_global, in_dram, left - in_global)
    assert all([c for _, c, _ in e.stages] == [10, 10] for e in relaxed if e.level == "dram")
    names = [f"{plan.tasks[e.src].name} -> {plan.tasks[e.dst].name} ({e.level})" for e in relaxed]
    assert any("deadlock" in n and all(name in n for name in names) for n in plan.notes)
    assert cycles == run_reference(plan)
