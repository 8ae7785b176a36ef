"""Row coalescing of big plans (engine/plan.py, "Granularity"): a plan under ``MAX_ROW_EVENTS`` keeps one
event per row; one over it groups rows, stays within the budget, still runs under the rules of the
cycle-stepped reference, and its latency stays between the analytic row estimate and the serial sum."""

from __future__ import annotations

from cycle_reference import run_reference
from hypothesis import given, settings
from test_engine_estimate import _context, small_cases

from imcsim.config.study import study_from_params
from imcsim.engine import plan as plan_mod
from imcsim.engine.context import build_context
from imcsim.engine.costs import price_step
from imcsim.engine.estimate import row_estimate_cycles
from imcsim.engine.events import run_plan, simulate_plan
from imcsim.engine.plan import Edge, Plan, Resource, Task, build_plan, planned_events, row_group

TINY = {"workload": "tiny-cnn", "workload.resolution": 16, "chip.tiles": 4, "chip.cell_capacity_mibit": 1,
        "macro.rows": 32, "macro.cols": 32, "tile.buffer_kib": 0.5, "batch": 2}


def test_under_the_budget_every_row_is_an_event():
    ctx = build_context(study_from_params(TINY))
    plan = build_plan(ctx, price_step(ctx))
    n = planned_events(plan)
    assert plan.row_group == 1 and not plan.notes
    assert row_group(plan, n) == 1 and row_group(plan, n - 1) > 1
    # every op streams its output rows (resolution 16: the stem's 16 rows), each row's need a list of ints
    assert max(t.rows for t in plan.tasks) == 16
    assert all(type(v) is int for e in plan.edges for v in e.hi + e.lo)


def test_row_group_by_hand():
    # tasks of 16 rows x 2 samples: 16 -> ceil(16/g) groups; the smallest g whose events fit
    ctx = build_context(study_from_params(TINY))
    plan = build_plan(ctx, price_step(ctx))
    rows, weight = plan_mod._task_weights(plan)
    for budget in (planned_events(plan) // 2, planned_events(plan) // 5):
        g = row_group(plan, budget)
        assert int((-(-rows // g) * weight).sum()) <= budget < int((-(-rows // (g - 1)) * weight).sum())


def test_over_the_budget_rows_are_coalesced(monkeypatch):
    ctx = build_context(study_from_params(TINY))
    priced = price_step(ctx)
    fine = build_plan(ctx, priced)
    budget = planned_events(fine) // 4
    monkeypatch.setattr(plan_mod, "MAX_ROW_EVENTS", budget)
    coarse = build_plan(ctx, priced)
    g = coarse.row_group
    assert g > 1 and planned_events(coarse) <= budget and coarse.notes
    # the stem's 16 rows: ceil(16 / g) groups, each stage 16 / groups rows long, rounded up to whole cycles
    stem_f, stem_c = fine.tasks[0], coarse.tasks[0]
    groups = -(-16 // g)
    assert stem_c.rows == groups
    assert stem_c.stages == tuple((r, -(-c * 16 // groups)) for r, c in stem_f.stages)
    run = simulate_plan(coarse)
    assert run.cycles == run_reference(coarse)
    assert row_estimate_cycles(ctx, priced) <= run.cycles <= coarse.serial_cycles()


@settings(max_examples=25, deadline=None)
@given(small_cases())
def test_coalesced_random_plans_stay_within_the_bounds(case):
    ctx = _context(*case)
    priced = price_step(ctx)
    plan = build_plan(ctx, priced)
    budget = max(planned_events(plan) // 3, 1)
    g = row_group(plan, budget)
    plan_mod.coalesce(plan, g)
    if g > 1:
        assert planned_events(plan) <= budget or max(t.rows for t in plan.tasks) == 1
    event = run_plan(plan).cycles
    assert 0 < row_estimate_cycles(ctx, priced) <= event <= plan.serial_cycles()


def test_balanced_groups_by_hand():
    # producer P: 7 rows of 3 cycles in 3 groups (rows 0-1, 2-3, 4-6: floor(j 7 / 3)), each group 7 x 3 / 3 = 7
    # cycles; consumer C: 7 rows (row r needs P rows up to r, reads from r on) in 2 groups (rows 0-2, 3-6).
    # C's group 0 needs P rows 1..3 -> P groups 0-1 (2 groups); group 1 needs all 7 -> 3 groups. Once C's
    # group 0 is done the rows below 3 (its group 1's first row) are read no more: P group 0 (rows 0-1) is
    # freed, group 1 (rows 2-3) is not.
    tasks = [Task("p", "p", "forward", 0, 7, 1, ((0, 3),)), Task("c", "c", "forward", 0, 7, 1, ((1, 2),))]
    edge = Edge(0, 1, list(range(1, 8)), list(range(7)), 7, 7, 2, ((2, 4, 1),), row_bytes=10.0)
    tasks[0].out_edges.append(0)
    tasks[1].in_edges.append(0)
    plan = Plan(tasks, [edge], [Resource("a", 1, "macros"), Resource("b", 1, "macros"), Resource("l", 1, "link")], [])
    plan_mod.group_rows(plan, [3, 2])
    assert (tasks[0].rows, tasks[1].rows) == (3, 2)
    assert tasks[0].stages == ((0, 7),) and tasks[1].stages == ((1, 7),)   # ceil(2 x 7 / 2) = 7
    assert edge.hi == [2, 3] and edge.lo == [0, 1] and (edge.src_rows, edge.dst_rows) == (3, 2)
    assert edge.stages == ((2, 10, 1),) and abs(edge.row_bytes - 70 / 3) < 1e-9   # ceil(4 x 7 / 3) cycles
    # the line buffer: 2 rows of P's average group (7 / 3 rows) -> 1 group, raised to the 2 groups C's first
    # group needs at once (its window in groups)
    assert edge.cap == 2
    # P0 0-7, link 7-17, hop -18; P1 7-14 takes the link once group 0 has released it (cut-through: the hop
    # latency of group 0 overlaps), link 17-27, hop -28 (delivered 2 groups), C0 28-35 frees P group 0,
    # P2 35-42, link 42-52, hop -53, C1 53-60 (store-and-forward, the link held until the hop ended: 61)
    assert simulate_plan(plan).cycles == run_reference(plan) == 60


@settings(max_examples=25, deadline=None)
@given(small_cases())
def test_grouping_shared_needs_equals_grouping_each_edge_alone(case):
    # edges that share a need (engine/dataflow.py shares one per rule and shape) are grouped once; grouping a copy
    # of the same plan where every edge has its own arrays and lists gives the same needs, stages and line buffers
    import copy

    import numpy as np

    ctx = _context(*case)
    priced = price_step(ctx)
    plan = build_plan(ctx, priced)   # hi/lo lists by now; rebuild the shared arrays the builder starts from
    g = row_group(plan, max(planned_events(plan) // 3, 1))
    alone = copy.deepcopy(plan)
    for e in alone.edges:
        e.hi, e.lo = np.array(e.hi, dtype=np.int64), np.array(e.lo, dtype=np.int64)   # its own, never shared
    plan_mod.coalesce(plan, g)
    plan_mod.coalesce(alone, g)
    assert [(e.hi, e.lo, e.cap, e.stages, e.src_rows, e.dst_rows) for e in plan.edges] == \
        [(e.hi, e.lo, e.cap, e.stages, e.src_rows, e.dst_rows) for e in alone.edges]
    assert [(t.rows, t.stages) for t in plan.tasks] == [(t.rows, t.stages) for t in alone.tasks]


def test_needs_are_shared_and_read_only():
    # every edge of one rule and shape holds the same Need (ResNet-18: the 3x3 stride-1 convs on one map size),
    # and its arrays cannot be written through any of them
    import pytest

    from imcsim.engine.dataflow import build_dataflow

    ctx = build_context(study_from_params({"workload": "resnet18"}))
    flow = build_dataflow(ctx.step.graph, [(op.name, op.node) for op in ctx.step.ops if op.phase == "forward"])
    needs = [e.need for e in flow.edges]
    assert len({id(n) for n in needs}) < len(needs) / 2
    with pytest.raises(ValueError):
        needs[0].hi[0] = 0
