"""The one write-accounting object (ledger.WriteSummary: the cost model adds, evaluation finishes) and the
mapping figures the mapper computes (utilisation, chip_fill), by hand."""

from __future__ import annotations

import pytest

from imcsim.config.study import study_from_params
from imcsim.device.base import WriteCost
from imcsim.engine import evaluate
from imcsim.engine.context import build_context
from imcsim.engine.ledger import WriteSummary
from imcsim.engine.schedule import resource_kind


class _Device:
    endurance_cycles = 1e6

    @staticmethod
    def lifetime_years(writes_per_day: float) -> float:
        return 1e6 / writes_per_day / 365.0


def test_write_summary_adds_and_finishes_by_hand():
    w = WriteSummary()
    # an update write of 4 weights: 8 cells, 10 pulses, 5 pJ, 2 ns, hottest cell written once
    w.add(WriteCost(pulses=10, energy_pj=5.0, latency_ns=2.0, cells_written=8, max_cell_wear=1.0), 2.0, 4, 8)
    # two reloads of 3 weights through the same pool: their wear adds (2 + 2), updates take the max
    for _ in range(2):
        w.add(WriteCost(pulses=6, energy_pj=5.0, latency_ns=1.0, cells_written=8, max_cell_wear=2.0), 1.0, 3, 8,
              reload=True)
    w.count(5, 8)   # a streamed layer's update written back to DRAM: weights, no array write
    assert (w.weights_written, w.bits_written, w.reload_weights) == (15, 120, 6)
    assert (w.update_wear, w.reload_wear, w.max_cell_wear_per_step) == (1.0, 4.0, 5.0)
    assert (w.cells_written, w.pulses, w.energy_pj, w.latency_ns) == (24, 22, 15.0, 4.0)
    done = w.finished(100, _Device(), 10.0)
    # mean wear 24 cells / 100 cells; lifetime at 5 writes per step x 10 steps per day on the hottest cell
    assert done.mean_cell_wear_per_step == pytest.approx(0.24) and done.steps_per_day == 10.0
    assert done.lifetime_years == pytest.approx(1e6 / 50 / 365.0) and done.endurance_cycles == 1e6
    assert w.lifetime_years == float("inf")   # the cost model's account is left as it was (shared, cached)


def test_mapper_computes_utilisation_and_chip_fill():
    r = evaluate(study_from_params({"workload": "tiny-cnn"}))
    m = build_context(study_from_params({"workload": "tiny-cnn"})).mapping
    used = sum(lm.cells_used for lm in m.layers)
    assert m.utilisation == pytest.approx(used / sum(lm.cells_available for lm in m.layers))
    # tiny-cnn fits: every layer resident, the chip's cells = macros x rows x cols
    assert m.chip_fill == pytest.approx(used / (m.n_macros * m.macro_cells))
    assert r.mapping["utilisation"] == m.utilisation and r.mapping["chip_fill"] == m.chip_fill


def test_resource_kinds_from_one_table():
    assert [resource_kind(n) for n in ("macros:conv1", "macros:pool", "macros_T:fc", "sram_macros:fc", "digital",
                                       "dram", "noc", "write_drivers:3")] == \
        ["macros", "macros", "macros", "macros", "digital", "dram", "noc", "other"]


def test_a_layer_in_rounds_is_refetched_for_every_group_of_samples():
    # tiny-cnn on one 256x256 macro: every layer streams through a one-macro pool; the depthwise layers need
    # two macros, so they run in 2 rounds. A sample's outputs stay unfinished between its rounds: 256 positions
    # x 32 groups x 1 output x 24-bit sums = 24,576 B per sample. A 48 KiB (49,152 B) global buffer holds 2
    # samples' sums, so the samples run the rounds in groups of 2 and each group fetches and writes the
    # weights again: batch 5 -> ceil(5 / 2) = 3 loads, batch 2 -> 1; a one-round layer loads once per batch.
    one = {"workload": "tiny-cnn", "chip.tiles": 1, "chip.cell_capacity_mibit": 0.0625, "chip.global_buffer_kib": 48}
    b1, b2, b5 = (evaluate(study_from_params({**one, "batch": b})) for b in (1, 2, 5))
    ctx = build_context(study_from_params(one))
    rounds = ctx.mapping.reload_rounds
    assert rounds["irb1.dw"] == 2 and rounds["stem.conv"] == 1
    lm = ctx.mapping.layer("irb1.dw")
    assert lm.m * lm.n * lm.groups * ctx.macro.acc_bits / 8 == 24576

    def reload(r, layer):
        [op] = [o for o in r.ops if o.phase == "reload" and o.node == layer]
        return op

    for layer, k2, k5 in (("irb1.dw", 1, 3), ("irb2.dw", 1, 3), ("stem.conv", 1, 1), ("classifier", 1, 1)):
        for r, k in ((b2, k2), (b5, k5)):
            assert reload(r, layer).energy_pj["dram"] == pytest.approx(k * reload(b1, layer).energy_pj["dram"]), layer
            assert reload(r, layer).energy_pj["write"] == pytest.approx(k * reload(b1, layer).energy_pj["write"])
            assert reload(r, layer).weights_written == k * reload(b1, layer).weights_written
    # the write account follows: reload weights and the pool's hottest-cell wear grow with the extra loads
    twice = sum(ctx.mapping.layer(n).weights for n, k in rounds.items() if k > 1)
    assert b5.writes.reload_weights - b1.writes.reload_weights == 2 * twice > 0
    assert b5.writes.max_cell_wear_per_step > b1.writes.max_cell_wear_per_step
    assert any("written into the pool again for every such group (3-3 loads per step" in a for a in b5.assumptions)
    assert not any("again for every such group" in a for a in b1.assumptions + b2.assumptions)


def test_points_sharing_a_shape_keep_their_own_reload_loads():
    # the global buffer decides how many samples share a fetch of a layer in rounds (24,576 B of sums per
    # sample of tiny-cnn's depthwise layers): 48 KiB -> groups of 2 (batch 5: 3 loads), 24 KiB -> 1 (5 loads).
    # A sweep over the buffer keeps the mapping, so the step's shape is looked up first: each point must
    # still price as it does alone.
    from imcsim.engine import costs, evaluation

    one = {"workload": "tiny-cnn", "chip.tiles": 1, "chip.cell_capacity_mibit": 0.0625, "batch": 5}
    swept = [evaluate(study_from_params({**one, "chip.global_buffer_kib": kib})) for kib in (48, 24)]

    def alone(kib):
        costs._SHAPES.clear()
        costs._NUMBERS.clear()
        evaluation._PRICED.clear()
        return evaluate(study_from_params({**one, "chip.global_buffer_kib": kib}))

    for r, kib, loads in zip(swept, (48, 24), (3, 5)):
        [op] = [o for o in r.ops if o.phase == "reload" and o.node == "irb1.dw"]
        assert op.weights_written == loads * build_context(study_from_params(one)).mapping.layer("irb1.dw").weights
        assert r.summary() == alone(kib).summary()
