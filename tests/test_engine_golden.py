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


def test_points_sharing_a_walk_price_their_own_writes():
    # a sweep over write options reuses the walk of the step (engine/costs.py _walked): the writes must still
    # follow each point's options, as a fresh process pricing that point alone gives them
    from imcsim.config.study import study_from_params
    from imcsim.engine import evaluate, evaluation
    from imcsim.engine import costs

    base = {"workload": "digits-cnn", "method": "full", "chip.cell_capacity_mibit": 0.0625, "chip.tiles": 2}
    first = evaluate(study_from_params({**base, "write_policy": "all", "flip_prob": 0.5})).summary()
    shared = evaluate(study_from_params({**base, "write_policy": "diff", "flip_prob": 0.1})).summary()
    costs._WALKED.clear()
    evaluation._PRICED.clear()
    alone = evaluate(study_from_params({**base, "write_policy": "diff", "flip_prob": 0.1})).summary()
    assert shared == alone
    assert shared["write_energy_pj"] != first["write_energy_pj"]
    assert first["map_reloaded_layers"] > 0  # reloads (priced per point too) are part of the check
