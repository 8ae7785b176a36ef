"""The pricer gives, to the last bit, what the per-layer pricer gave before it was vectorised (issue 15
item 2): every summary field, and digests of the per-op records, timed items and buffer-port bytes, over
devices, methods, geometries and reload regimes. How the frozen values were made: tests/engine_golden.py."""

import json

import pytest
from engine_golden import CASES, GOLDEN, snapshot

FROZEN = json.loads(GOLDEN.read_text())


def test_the_golden_file_covers_every_case():
    assert sorted(FROZEN) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pricing_matches_the_frozen_per_layer_results(name):
    got, want = snapshot(CASES[name]), FROZEN[name]
    assert got["summary"] == want["summary"]
    assert got["exclusive"] == want["exclusive"]
    assert got["records"] == want["records"], "per-op records changed"
    assert got["items"] == want["items"], "timed items changed"
    assert got["port_bytes"] == want["port_bytes"], "buffer-port bytes changed"


def _alone(params):
    """The summary of one study priced with empty pricing caches (as a fresh process would)."""
    from imcsim.config.study import study_from_params
    from imcsim.engine import context, costs, estimate, evaluate, evaluation, noc

    context._MAPPINGS.clear()
    noc._TRAFFIC.clear()
    costs._SHAPES.clear()
    costs._NUMBERS.clear()
    estimate._ESTIMATES.clear()
    estimate._STAGING_VALUES.clear()
    evaluation._PRICED.clear()
    return evaluate(study_from_params(params)).summary()


@pytest.mark.parametrize("axis", ["writes", "geometry", "items"])
def test_points_sharing_a_shape_or_numbers_price_as_alone(axis):
    # a sweep reuses the shape of a step across geometries and its numbers across write options
    # (engine/costs.py _shape_of, _numbers_of), and the row estimate across points that share their items
    # (engine/estimate.py): every point must still price as it does alone
    from imcsim.config.study import study_from_params
    from imcsim.engine import evaluate

    if axis == "items":   # inference: no per-point writes, so the points share items and the row estimate
        points = [{"workload": "resnet18", "steps_per_day": 100}, {"workload": "resnet18", "write_policy": "diff"},
                  {"workload": "resnet18", "tile.buffer_bytes_per_cycle": 1},
                  {"workload": "resnet18", "batch_size": 2}]
        shared = [evaluate(study_from_params(p)).summary() for p in points]
        assert len({s["latency_ns"] for s in shared}) == 3   # the chip and the batch change the estimate
        for p, got in zip(points, shared):
            assert got == _alone(p)
        return
    base = {"workload": "digits-cnn", "method": "full", "chip.cell_capacity_mibit": 0.0625, "chip.tiles": 2}
    points = ([{**base, "write_policy": "all", "flip_prob": 0.5}, {**base, "write_policy": "diff", "flip_prob": 0.1}]
              if axis == "writes" else
              [{**base, "rows": 64, "cols": 64}, {**base, "rows": 128, "cols": 64, "rows_parallel": 32},
               {"workload": "resnet18", "rows": 128}, {"workload": "resnet18", "rows": 256, "cols": 128},
               {"workload": "resnet18", "rows": 128, "device": "sot-mram"},   # shares the mapping of the third
               {**base, "rows": 64, "cols": 64, "device": "sot-mram"}])
    shared = [evaluate(study_from_params(p)).summary() for p in points]
    assert shared[0]["energy_pj"] != shared[1]["energy_pj"]
    assert shared[0]["map_reloaded_layers"] > 0  # reloads (priced per point) are part of the check
    for p, got in zip(points, shared):
        assert got == _alone(p)
