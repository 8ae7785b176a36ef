"""The engine prices what execution measured: activity from the kernels, writes from executed updates."""

from __future__ import annotations

import numpy as np
import pytest

from imcsim.circuit.activity import Activity
from imcsim.circuit.macro import layer_cost
from imcsim.config.study import Study
from imcsim.device.library import load_device
from imcsim.engine.evaluation import evaluate
from imcsim.errors import SpecError
from imcsim.execute.runfolder import write_measured, write_updates


def _study(folder=None, method="inference", device="sas-mram", policy="all"):
    opts = {"write_policy": policy, **({"measured": str(folder)} if folder else {})}
    return Study.model_validate({"workload": {"name": "digits-cnn"}, "method": {"name": method},
                                 "device": device, "options": opts})


def _activity(input_ones_per_plane: int, slots: int, and_ones_per_pair: int, and_slots: int) -> Activity:
    return Activity(np.full(8, input_ones_per_plane), slots, np.full((8, 8), and_ones_per_pair), and_slots,
                    np.zeros(8, np.int64), 0)


def test_measured_activity_replaces_the_default_and_changes_energy(tmp_path):
    # stem.conv measured at input density 100/1000 = 0.1 and AND density 50/1000 = 0.05
    write_measured(tmp_path, workload="digits-cnn", source="test", command="infer",
                   activity={("stem.conv", "forward"): _activity(100, 1000, 50, 1000)})
    base, meas = evaluate(_study()), evaluate(_study(tmp_path))
    op0 = next(o for o in base.ops if o.name == "stem.conv:fwd")
    op1 = next(o for o in meas.ops if o.name == "stem.conv:fwd")
    assert op1.energy_pj["cell_read"] < op0.energy_pj["cell_read"]
    assert meas.total_energy_pj < base.total_energy_pj
    # every other layer keeps the default: its energy is unchanged
    other0 = next(o for o in base.ops if o.name == "res1.conv1:fwd")
    other1 = next(o for o in meas.ops if o.name == "res1.conv1:fwd")
    assert other1.energy_pj == other0.energy_pj
    assert any("measured by execution" in a and "1 layer phases" in a for a in meas.assumptions)


def test_measured_default_densities_price_exactly_as_the_default(tmp_path):
    # 0.5 / 0.25 measured is the stated default: the plumbing must not change a number
    write_measured(tmp_path, workload="digits-cnn", source="test", command="infer",
                   activity={("stem.conv", "forward"): _activity(500, 1000, 250, 1000)})
    base, meas = evaluate(_study()), evaluate(_study(tmp_path))
    assert meas.total_energy_pj == pytest.approx(base.total_energy_pj, rel=1e-12)


def test_measured_activity_is_what_the_macro_model_prices(tmp_path):
    from imcsim.engine.context import build_context
    from imcsim.engine.measured import MeasuredActivity

    write_measured(tmp_path, workload="digits-cnn", source="test", command="infer",
                   activity={("stem.conv", "forward"): _activity(100, 1000, 50, 1000)})
    ctx = build_context(_study(tmp_path))
    lm = next(lm for lm in ctx.mapping.layers if lm.name == "stem.conv")
    want = layer_cost(ctx.macro, lm.tiles, lm.m, MeasuredActivity(8, 8, 0.1, 0.05))
    op = next(o for o in evaluate(_study(tmp_path)).ops if o.name == "stem.conv:fwd")
    batch = ctx.batch
    assert op.energy_pj["cell_read"] == pytest.approx(float(want.energy.cell_read_pj) * batch, rel=1e-12)


@pytest.mark.parametrize("device,policy", [("sas-mram", "all"), ("sas-mram", "diff"), ("reram", "diff"),
                                           ("sot-mram", "all")])
def test_priced_write_energy_is_the_sum_of_exact_device_writes(tmp_path, device, policy):
    rng = np.random.default_rng(0)
    steps = 3
    old = rng.integers(-127, 128, (steps, 10, 32))
    new = old.copy()
    flip = rng.random(old.shape) < 0.05
    new[flip] = np.clip(old[flip] + rng.choice([-1, 1], flip.sum()), -127, 127)
    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={})
    write_updates(tmp_path, {"classifier": (old, new)})
    res = evaluate(_study(tmp_path, "last", device, policy))
    dev = load_device(device)
    exact = sum(dev.write(old[t], new[t], 8, policy).energy_pj for t in range(steps)) / steps
    priced = sum(o.energy_pj.get("write", 0.0) for o in res.ops if o.phase == "update")
    assert priced == pytest.approx(exact, rel=1e-12)
    assert res.writes.energy_pj == pytest.approx(exact, rel=1e-12)
    assert any("flip rate" in a for a in res.assumptions)
    # under 'diff' the assumed flip probability 0.5 overstates a 5 %-of-weights update
    if policy == "diff":
        assert evaluate(_study(None, "last", device, policy)).writes.energy_pj > 2 * exact


def test_hottest_cell_wear_accumulates_over_the_run(tmp_path):
    # weight 0 changes in both steps, the others never: under 'diff' on SOT-MRAM one bit write per flipped bit
    old = np.zeros((2, 10, 32), np.int64)
    new = old.copy()
    new[0, 0, 0] = 1          # step 0: bit 0 of weight 0 flips 0 -> 1
    old[1, 0, 0] = 1          # step 1: weight 0 goes back 1 -> 0 (bit 0 flips again)
    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={})
    write_updates(tmp_path, {"classifier": (old, new)})
    res = evaluate(_study(tmp_path, "last", "sot-mram", "diff"))
    # the hottest cell (bit 0 of weight 0) was written twice in 2 steps: 1 write per step
    assert res.writes.max_cell_wear_per_step == pytest.approx(1.0)


def test_measured_layers_must_belong_to_the_workload(tmp_path):
    write_measured(tmp_path, workload="resnet18", source="test", command="infer",
                   activity={("layer1.0.conv1", "forward"): _activity(1, 10, 1, 10)})
    with pytest.raises(SpecError, match="layers the workload does not have"):
        evaluate(_study(tmp_path))


def test_update_shape_must_match_the_priced_step(tmp_path):
    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={})
    write_updates(tmp_path, {"classifier": (np.zeros((1, 5)), np.zeros((1, 5)))})
    with pytest.raises(SpecError, match="does not match the priced step"):
        evaluate(_study(tmp_path, "last"))


def test_missing_folder_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="options.measured"):
        evaluate(_study(tmp_path / "nothing"))
