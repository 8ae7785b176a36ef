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
