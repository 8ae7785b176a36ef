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
    # a LoRA run at rank 4 priced at the method's default rank 16: the error says which options the run used
    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={},
                   extra={"method_options": {"rank": 4, "alpha": 8.0, "targets": ["linear"]}})
    write_updates(tmp_path, {"classifier.lora.A": (np.zeros((1, 4, 32)), np.zeros((1, 4, 32)))})
    with pytest.raises(SpecError, match=r"128; allowed: 512 weights .*method.rank=4, method.alpha=8, "
                                        r"method.targets=\[linear\]: --set those to match"):
        evaluate(_study(tmp_path, "lora"))
    study = Study.model_validate({"workload": {"name": "digits-cnn"}, "options": {"measured": str(tmp_path)},
                                  "method": {"name": "lora", "options": {"rank": 4, "alpha": 8.0}}})
    # matched: A's writes are priced from the run, B's (not in this folder) assumed
    assert evaluate(study).summary()["basis_update_writes"] == "partly measured"


def test_missing_folder_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="options.measured"):
        evaluate(_study(tmp_path / "nothing"))


# --------------------------------------------------------------------------- measured vs assumed marks
def test_every_figure_says_measured_or_assumed(tmp_path):
    """Without options.measured every data-dependent figure is assumed; measured activity of one layer
    makes the activity figures partly measured; the defaults stay next to what was measured."""
    base = evaluate(_study())
    s = base.summary()
    assert s["basis_activity"] == "assumed" and s["basis_reload_writes"] == "spec"
    assert s["assumed_input_bit_density"] == 0.5 and s["assumed_and_density"] == 0.25
    assert s["assumed_flip_rate"] == 0.5 and np.isnan(s["measured_input_bit_density"])
    basis = base.basis()
    assert basis["energy_cell_read_pj"] == "assumed" and basis["energy_pj"] == "assumed"
    assert basis["energy_dram_pj"] == "spec" and basis["area_mm2"] == "spec"
    assert set(basis) == {k for k in s if not k.startswith(("basis_", "measured_", "assumed_"))}
    assert {r["basis"] for r in base.layer_records() if r["kind"] == "mvm"} == {"assumed"}
    # stem.conv measured at input density 0.1 and AND density 0.05; the other layers keep the default
    write_measured(tmp_path, workload="digits-cnn", source="test", command="infer",
                   activity={("stem.conv", "forward"): _activity(100, 1000, 50, 1000)})
    meas = evaluate(_study(tmp_path))
    s = meas.summary()
    assert s["basis_activity"] == "partly measured" and meas.basis()["energy_pj"] == "partly measured"
    assert s["measured_input_bit_density"] == pytest.approx(0.1) and s["measured_and_density"] == pytest.approx(0.05)
    assert s["assumed_input_bit_density"] == 0.5
    rows = {r["op"]: r["basis"] for r in meas.layer_records()}
    assert rows["stem.conv:fwd"] == "measured" and rows["res1.conv1:fwd"] == "assumed"
    doc = meas.to_json()
    assert doc["basis"]["energy_cell_read_pj"] == "partly measured" and doc["measured"]["and_density"] == pytest.approx(0.05)


def test_measured_updates_mark_the_write_figures(tmp_path):
    rng = np.random.default_rng(1)
    old = rng.integers(-127, 128, (2, 10, 32))
    new = np.clip(old + (rng.random(old.shape) < 0.1), -127, 127)
    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={})
    write_updates(tmp_path, {"classifier": (old, new)})
    res = evaluate(_study(tmp_path, "last", "sot-mram", "diff"))
    s, basis = res.summary(), res.basis()
    assert s["basis_update_writes"] == "measured" and basis["write_energy_pj"] == "measured"
    assert basis["lifetime_years"] == "measured" and basis["energy_pj"] == "partly measured"
    # the flip rate: bits that differ over bits written, next to the assumed flip probability
    from imcsim.device.base import weight_bits
    ob, nb = weight_bits(old, 8, True, "old"), weight_bits(new, 8, True, "new")
    assert s["measured_flip_rate"] == pytest.approx((ob != nb).sum() / ob.size)
    assert s["assumed_flip_rate"] == 0.5


# --------------------------------------------------------------------------- reloads from executed weights
#: digits-cnn on one tile of 2 macros (256 x 256): stem.conv stays, the other six layers stream through a
#: one-macro pool (sep1.dw in 2 rounds); inference reloads them in order once per step
STREAMING = {"accelerator_overrides": {"chip.tiles": 1, "chip.cell_capacity_mibit": 0.125}}
SEQUENCE = ("res1.conv1", "res1.conv2", "down.conv", "sep1.dw", "sep1.pw", "classifier")


def _streaming(folder, device="sot-mram", policy="diff"):
    return Study.model_validate({"workload": {"name": "digits-cnn"}, "device": device, **STREAMING,
                                 "options": {"write_policy": policy, "measured": str(folder)}})


def _weights(ctx, fill):
    return {lm.name: np.full(ctx.step.graph[lm.name].params["weight"], fill(lm.name), np.int64).reshape(-1)
            for lm in ctx.mapping.layers}


def test_reload_write_energy_is_the_sum_of_exact_writes(tmp_path):
    from imcsim.engine.context import build_context
    from imcsim.execute.runfolder import write_weights

    write_measured(tmp_path, workload="digits-cnn", source="test", command="infer", activity={})
    study = _streaming(tmp_path, "reram", "diff")
    ctx = build_context(study)
    assert ctx.mapping.reloaded == SEQUENCE and ctx.mapping.pool_macros == 1
    rng = np.random.default_rng(3)
    weights = {lm.name: rng.integers(-127, 128, lm.weights) for lm in ctx.mapping.layers}
    write_weights(tmp_path, weights)
    res = evaluate(study)
    # the rule by hand: one pool macro; each layer's chunks (sep1.dw: 2 of 144) fill its slots from 0; the
    # step repeats, so the first reload finds what the last one (classifier) left: run twice, price the second
    dev = load_device("reram")
    held = np.zeros(4608, np.int64)
    exact = []
    for priced in (False, True):
        for layer in SEQUENCE:
            for chunk in np.array_split(weights[layer], ctx.mapping.layers[[lm.name for lm in ctx.mapping.layers]
                                                                           .index(layer)].macros):
                old = held[:chunk.size].copy()
                held[:chunk.size] = chunk
                if priced:
                    exact.append(dev.write(old, chunk, 8, "diff").energy_pj)
    reloads = [o for o in res.ops if o.phase == "reload"]
    assert [o.node for o in reloads] == list(SEQUENCE) and {o.basis for o in reloads} == {"measured"}
    assert sum(o.energy_pj["write"] for o in reloads) == pytest.approx(sum(exact), rel=1e-12)
    assert res.summary()["basis_reload_writes"] == "measured"
    assert res.summary()["reload_write_energy_pj"] == pytest.approx(sum(exact), rel=1e-12)


def test_reload_flip_rate_hand_computed(tmp_path):
    from imcsim.engine.context import build_context
    from imcsim.execute.runfolder import write_weights

    write_measured(tmp_path, workload="digits-cnn", source="test", command="infer", activity={})
    study = _streaming(tmp_path, "sot-mram", "diff")
    ctx = build_context(study)
    # every weight 0 but the classifier's, all 1 (bit 0 set): in steady state res1.conv1 overwrites the
    # classifier's 320 ones (320 bits flip) and the classifier overwrites 320 zeros of sep1.pw (320 bits);
    # nothing else flips. Bits written: 8 x (2304 + 2304 + 4608 + 288 + 1024 + 320) = 86,784
    write_weights(tmp_path, _weights(ctx, lambda n: 1 if n == "classifier" else 0))
    res = evaluate(study)
    s = res.summary()
    assert s["measured_reload_flip_rate"] == pytest.approx(640 / 86_784)
    assert s["assumed_reload_flip_rate"] == 0.5
    # SOT-MRAM under diff writes only flipped bits: one write per flipped bit, each cell at most once
    # per reload; the hottest cell (bit 0 of slots 0-319) flips twice per step
    assert res.writes.max_cell_wear_per_step == pytest.approx(2.0)
    assumed = evaluate(Study.model_validate({"workload": {"name": "digits-cnn"}, "device": "sot-mram", **STREAMING,
                                             "options": {"write_policy": "diff"}}))
    assert s["reload_write_energy_pj"] < 0.1 * assumed.summary()["reload_write_energy_pj"]
    assert any("reload writes from DeviceModel.write" in a for a in res.assumptions)


# --------------------------------------------------------------------------- toggles from functional runs
def _toggle_study(folder=None):
    opts = {"measured": str(folder)} if folder else {}
    return Study.model_validate({"workload": {"name": "digits-cnn"}, "options": opts,
                                 "accelerator_overrides": {"macro.activity_model": "toggle"}})


def _with_toggles(folder, density, rows_parallel=64):
    """stem.conv measured: input density 0.2, toggles ``density`` per product, for trees of ``rows_parallel``."""
    import json

    write_measured(folder, workload="digits-cnn", source="test", command="infer",
                   activity={("stem.conv", "forward"): _activity(200, 1000, 50, 1000)})
    path = folder / "measured.json"
    doc = json.loads(path.read_text())
    # and_slots 1000 per plane pair, 64 pairs: 64,000 products
    doc["activity"][0].update(and_toggles=int(density * 64_000), toggle_rows_parallel=rows_parallel)
    path.write_text(json.dumps(doc))


def test_measured_toggles_price_the_adder_tree_by_hand(tmp_path):
    from imcsim.circuit.macro import adder_tree_full_adders
    from imcsim.engine.context import build_context

    _with_toggles(tmp_path, 0.1)
    meas, base = evaluate(_toggle_study(tmp_path)), evaluate(_toggle_study())
    ctx = build_context(_toggle_study(tmp_path))
    m = ctx.macro
    assert m.activity_model == "toggle" and m.rows_parallel == 64
    # stem.conv: 144 weights on one tile, M = 8 x 8 = 64 steps per sample, batch 32. Switching tree-input
    # bits per step = toggle density x Bi x Bw x weights = 0.1 x 8 x 8 x 144 = 921.6; full adders per tree
    # input bit FA(64, b) / (64 b) (b = tree input bits; 64 x 2 - (1 + 6 + 1) = 120 for b = 1)
    fa_per_bit = float(adder_tree_full_adders(64, m.tree_bits)) / (64 * m.tree_bits)
    want = 0.1 * 8 * 8 * 144 * 64 * 32 * fa_per_bit * m.gates.fa_full_fj * 1e-3
    op = next(o for o in meas.ops if o.name == "stem.conv:fwd")
    assert op.energy_pj["adder_tree"] == pytest.approx(want, rel=1e-12)
    assert op.basis == "measured"
    # the default toggle density 0.25 prices it 2.5x higher; the energy changes with the measured toggles
    op0 = next(o for o in base.ops if o.name == "stem.conv:fwd")
    assert op0.energy_pj["adder_tree"] == pytest.approx(2.5 * want, rel=1e-12)
    assert meas.total_energy_pj < base.total_energy_pj
    s = meas.summary()
    assert s["activity_model"] == "toggle" and s["measured_toggle_density"] == pytest.approx(0.1)
    assert s["assumed_toggle_density"] == 0.25 and s["basis_activity"] == "partly measured"
    assert any("toggle model: measured toggles priced 1 layer phases" in a for a in meas.assumptions)


def test_toggles_counted_for_another_tree_fall_back_to_the_default(tmp_path):
    _with_toggles(tmp_path, 0.1, rows_parallel=32)
    meas, base = evaluate(_toggle_study(tmp_path)), evaluate(_toggle_study())
    op = next(o for o in meas.ops if o.name == "stem.conv:fwd")
    op0 = next(o for o in base.ops if o.name == "stem.conv:fwd")
    assert op.energy_pj["adder_tree"] == pytest.approx(op0.energy_pj["adder_tree"], rel=1e-12)
    assert op.basis == "partly measured" and np.isnan(meas.summary()["measured_toggle_density"])
    assert any("[32]-input adder trees, not this macro's 64" in a for a in meas.assumptions)
