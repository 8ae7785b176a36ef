"""Where forward activations wait (engine/staging.py): the one allocation rule by hand, and inference
activations that exceed the buffers reach DRAM, with traffic and energy, in every engine and dataflow."""

from __future__ import annotations

import pytest

from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import build_context
from imcsim.engine.costs import price_step
from imcsim.engine.estimate import activation_staging
from imcsim.engine.plan import build_plan
from imcsim.engine.staging import EdgeNeed, stage_edges, staged_bytes


def test_stage_edges_by_hand():
    # tile buffer 100 B, global buffer 150 B. e3 crosses a pool epoch: its whole map, 10 B x 8 rows = 80 B,
    # goes to the global buffer first (70 B left). Tile 0, smallest need first: e2 (1 x 50 = 50 B) fits
    # (50 B left), e0 (2 x 30 = 60 B) does not -> global (10 B left), e1 (3 x 20 = 60 B) fits neither -> DRAM.
    # e2 then gets the tile's 50 B left as extra rows: 50 // 50 = 1 -> 2 rows. e4 crosses a barrier.
    needs = [EdgeNeed(2, 30.0, 4, 0), EdgeNeed(3, 20.0, 6, 0), EdgeNeed(1, 50.0, 2, 0),
             EdgeNeed(1, 10.0, 8, 1, later_epoch=True), EdgeNeed(1, 5.0, 1, 0, same_segment=False)]
    levels = stage_edges(needs, 100.0, 150.0)
    assert levels == [("global", 2), ("dram", 0), ("tile", 2), ("global-whole", 0), ("barrier", 0)]
    # traffic: DRAM e1 20 B x 6 rows = 120 B; global e0 30 x 4 + e3 10 x 8 = 200 B
    assert staged_bytes(needs, levels) == (120.0, 200.0)


TINY_BUFFERS = {"workload": "tiny-cnn", "tile.buffer_kib": 0.0625, "chip.global_buffer_kib": 0.0625}


@pytest.mark.parametrize("engine,pipeline", [("analytic", "row"), ("event", "row"), ("analytic", "layer"),
                                             ("event", "layer")])
def test_inference_activations_beyond_the_buffers_reach_dram_in_every_engine(engine, pipeline):
    r = evaluate(study_from_params({**TINY_BUFFERS, "chip.pipeline": pipeline}), engine=engine)
    spill = r.mapping["activation_spill_bytes"]
    assert spill > 0
    [staged] = [o for o in r.ops if o.name == "activations:staged"]
    chip = build_context(study_from_params(TINY_BUFFERS)).accel.chip
    # written once and read back once, at the DRAM write and read energies per bit
    assert staged.energy_pj["dram"] == pytest.approx(
        spill * 8 * (chip.dram_write_energy_pj_per_bit + chip.dram_read_energy_pj_per_bit))
    assert r.energy_pj["dram"] >= staged.energy_pj["dram"] > 0
    assert any("activation traffic through DRAM" in a for a in r.assumptions)
    # the default buffers hold tiny-cnn's maps: nothing spills
    big = evaluate(study_from_params({"workload": "tiny-cnn", "chip.pipeline": pipeline}), engine=engine)
    assert big.mapping["activation_spill_bytes"] == 0


def test_layer_and_row_engines_agree_on_staging():
    # layer order: analytic and event price the same whole-map staging; row order: the analytic staging is
    # the row plan's (before any deadlock relaxation)
    for params in (TINY_BUFFERS, {"workload": "resnet18", "workload.resolution": 64, "tile.buffer_kib": 1,
                                  "chip.global_buffer_kib": 16}):
        a = evaluate(study_from_params({**params, "chip.pipeline": "layer"}))
        e = evaluate(study_from_params({**params, "chip.pipeline": "layer"}), engine="event")
        assert a.energy_pj == e.energy_pj and a.mapping["activation_spill_bytes"] > 0
        ctx = build_context(study_from_params(params))
        priced = price_step(ctx)
        plan = build_plan(ctx, priced)
        assert activation_staging(ctx, priced) == (plan.spill_bytes, plan.global_bytes)
        assert plan.spill_bytes > 0


def test_points_sharing_a_table_share_its_staged_record_and_price_as_alone():
    # engine/evaluation.py memoises the step's table plus the staged-activations record on the table and
    # the record's energies: points over write options share it; another chip's DRAM energy does not
    from imcsim.engine import evaluation

    points = [{**TINY_BUFFERS, "write_policy": w, "steps_per_day": s} for w in ("all", "diff") for s in (10, 1000)]
    points.append({**TINY_BUFFERS, "chip.dram_read_energy_pj_per_bit": 9.0})
    results = [evaluate(study_from_params(p)) for p in points]
    assert all(r.ops is results[0].ops for r in results[1:4])
    assert results[4].ops is not results[0].ops
    staged = [r.ops[len(r.ops) - 1] for r in (results[0], results[4])]
    assert [s.name for s in staged] == ["activations:staged"] * 2
    assert staged[0].energy_pj["dram"] != staged[1].energy_pj["dram"]
    for p, r in zip(points, results):
        evaluation._PRICED.clear()
        evaluation._STAGED.clear()
        assert evaluate(study_from_params(p)).summary() == r.summary()
