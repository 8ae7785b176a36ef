"""A sweep over array geometries reuses what does not change (issue 15 item 2): the priced-step cache, the
activation staging memoised by value, the shapes, placements and mappings shared between points. Every
point priced after others must equal, to the last bit, the same point priced alone (every engine cache
emptied first, as in a fresh process)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.evaluation import _PRICED, clear_caches

DEVICES = ("sas-mram", "sot-mram", "reram", "sram")
SIZES = (32, 64, 128, 256)


def _alone(params: dict) -> dict:
    clear_caches()
    return evaluate(study_from_params(params)).summary()


def _records(params: dict) -> list:
    return [(r.name, r.cycles_per_execution, list(r.energy_pj.items()), r.macros)
            for r in evaluate(study_from_params(params)).ops]


geometry = st.fixed_dictionaries({
    "device": st.sampled_from(DEVICES), "rows": st.sampled_from(SIZES), "cols": st.sampled_from(SIZES),
    "rows_parallel": st.sampled_from((8, 16, 32)), "column_mux": st.sampled_from((1, 2)),
    "chip.pipeline": st.sampled_from(("row", "layer"))})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(geometry, min_size=3, max_size=5))
def test_geometries_priced_in_a_sweep_equal_each_priced_alone(points):
    # inference (ResNet-18): the staging by value and the shared placements; a sweep visits the points in turn
    points = [{"workload": "resnet18", **p} for p in points]
    swept = [(evaluate(study_from_params(p)).summary(), _records(p)) for p in points]
    for p, (summary, records) in zip(points, swept):
        assert summary == _alone(p)
        assert records == _records(p)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({"rows": st.sampled_from((32, 64, 128)), "cols": st.sampled_from((32, 64)),
                                       "device": st.sampled_from(DEVICES),
                                       "write_policy": st.sampled_from(("all", "diff"))}), min_size=2, max_size=4))
def test_training_geometries_with_reloads_priced_in_a_sweep_equal_each_priced_alone(points):
    # training with streamed layers: per-point writes and reloads, pool epochs and segments in the staging key
    base = {"workload": "digits-cnn", "method": "full", "chip.cell_capacity_mibit": 0.0625, "chip.tiles": 2}
    points = [{**base, **p} for p in points]
    swept = [evaluate(study_from_params(p)).summary() for p in points]
    for p, summary in zip(points, swept):
        assert summary == _alone(p)


def test_the_priced_step_cache_hits_a_revisited_point_and_not_another_option():
    clear_caches()
    a = {"workload": "resnet18", "rows": 128, "write_policy": "diff", "flip_prob": 0.25}
    first = evaluate(study_from_params(a))
    assert len(_PRICED) == 1
    # another option value is another key (options are part of it, by value)
    evaluate(study_from_params({**a, "flip_prob": 0.3}))
    assert len(_PRICED) == 2
    # an equal study (a new object) finds the first entry: the same priced step, nothing added
    again = evaluate(study_from_params(dict(a)))
    assert len(_PRICED) == 2 and again.ops is first.ops


def test_macros_of_one_array_geometry_share_layers_placement_and_deploy():
    # mappings of macros that differ in their adder trees or column mux (not in rows x cols) share their layers
    # (mapping/network.py), so the NoC traffic and the deploy write are reused by identity
    from imcsim.engine.context import build_context
    from imcsim.engine.noc import forward_traffic

    clear_caches()
    a = build_context(study_from_params({"workload": "resnet18", "rows": 128, "cols": 64, "rows_parallel": 16}))
    b = build_context(study_from_params({"workload": "resnet18", "rows": 128, "cols": 64, "rows_parallel": 32,
                                         "column_mux": 2}))
    c = build_context(study_from_params({"workload": "resnet18", "rows": 64, "cols": 64, "rows_parallel": 16}))
    assert a.mapping is not b.mapping and a.mapping.layers is b.mapping.layers
    assert a.mapping.step_cycles != b.mapping.step_cycles          # the adder trees time the steps differently
    assert c.mapping.layers is not a.mapping.layers
    chip, tile = a.accel.chip, a.accel.tile

    def traffic(ctx):
        return forward_traffic(ctx.step, ctx.mapping, chip.tiles, int(tile.macros or 1), 1.0)

    assert traffic(a) is traffic(b)
    pa, pb = evaluate(a.study), evaluate(b.study)
    assert pa.mapping["deploy_energy_pj"] == pb.mapping["deploy_energy_pj"] > 0


def test_points_of_one_shape_share_the_row_estimates_skeleton():
    # the row estimate's skeleton is keyed on the priced shape (PricedStep.structure), not on a walk of the items
    from imcsim.engine import estimate

    clear_caches()
    for rows_parallel in (8, 16, 32):
        evaluate(study_from_params({"workload": "resnet18", "rows": 256, "cols": 128, "rows_parallel": rows_parallel}))
    assert len(estimate._SKELETONS) == 1
    evaluate(study_from_params({"workload": "resnet18", "rows": 256, "cols": 128, "batch_size": 2}))
    assert len(estimate._SKELETONS) == 2    # another batch: another shape


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({"rows": st.sampled_from((32, 64, 128)), "cols": st.sampled_from((32, 64)),
                                       "device": st.sampled_from(DEVICES),
                                       "method": st.sampled_from(("full", "last"))}), min_size=2, max_size=4))
def test_reload_write_cycles_of_points_of_one_shape_equal_a_walk_of_their_items(points):
    # the pool-write stages' positions are memoised on the priced shape (PricedStep.structure): each point of a
    # sweep adds up the same stages, in the same order, as a walk over all its items
    from imcsim.engine.context import build_context
    from imcsim.engine.costs import POOL
    from imcsim.engine.evaluation import _priced, _reload_write_cycles
    from imcsim.engine.schedule import Barrier

    base = {"workload": "digits-cnn", "chip.cell_capacity_mibit": 0.0625, "chip.tiles": 2}
    clear_caches()
    for p in points:
        study = study_from_params({**base, **p})
        priced = _priced(study, build_context(study)).step
        walk = sum(s.cycles for it in priced.items if isinstance(it, Barrier) for s in it.stages if s.resource == POOL)
        assert priced.structure and _reload_write_cycles(priced) == walk
        assert repr(_reload_write_cycles(priced)) == repr(walk)   # the same type too (0 without reloads)
