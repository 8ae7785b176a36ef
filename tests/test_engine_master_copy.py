"""The higher-precision master copy of trained weights (options.master_copy), priced as SRAM by hand."""

import pytest

from imcsim.config.study import Study
from imcsim.engine.context import build_context
from imcsim.engine.evaluation import evaluate


def _study(master="none", method="last"):
    return Study.model_validate({"workload": {"name": "digits-cnn"}, "method": {"name": method},
                                 "options": {"master_copy": master}})


def test_int16_master_copy_priced_as_sram_by_hand():
    base, res = evaluate(_study()), evaluate(_study("int16"))
    chip = build_context(_study("int16")).accel.chip
    # method last trains the classifier: 32 x 10 = 320 array weights written per update. INT16 master:
    # 320 x 2 B = 640 B, read once and written once per step through the global buffer's port
    rec = next(o for o in res.ops if o.name == "classifier:master")
    want_pj = 640 * (chip.global_buffer_read_pj_per_byte + chip.global_buffer_write_pj_per_byte)
    assert rec.energy_pj == {"buffer": pytest.approx(want_pj, rel=1e-12)} and rec.phase == "update"
    # 2 x 640 B over a port of global_buffer_bytes_per_cycle
    assert rec.cycles_per_execution == pytest.approx(1280 / chip.global_buffer_bytes_per_cycle)
    # capacity 640 B = 0.625 KiB, always on: 0.625 x the chip's SRAM leakage per KiB at its node over the
    # step's latency (W x ns = nJ, x 1e3 -> pJ)
    leak_w = 0.625 * chip.sram_leakage_w_per_kib
    assert res.leakage_by_source_pj["master_copy"] == pytest.approx(leak_w * res.latency_ns * 1e3, rel=1e-12)
    assert res.standby_power_w == pytest.approx(base.standby_power_w + leak_w, rel=1e-12)
    # area: 640 B x 8 bits x the SRAM bit area
    assert res.area_um2["master_copy_sram"] == pytest.approx(640 * 8 * chip.sram_bit_area_um2)
    assert "master_copy_sram" not in base.area_um2 and "master_copy" not in base.leakage_by_source_pj
    assert not any(o.name.endswith(":master") for o in base.ops)
    # the step's energy grows by exactly the SRAM traffic and its leakage (the latency grows by the traffic)
    extra_leak = res.energy_pj["leakage"] - base.energy_pj["leakage"]
    assert res.total_energy_pj - base.total_energy_pj == pytest.approx(want_pj + extra_leak, rel=1e-9)
    assert any("int16 master copy" in a for a in res.assumptions)


def test_fp32_master_copy_is_twice_the_int16_bytes():
    r16, r32 = evaluate(_study("int16", "full")), evaluate(_study("fp32", "full"))
    e16 = sum(o.energy_pj["buffer"] for o in r16.ops if o.name.endswith(":master"))
    e32 = sum(o.energy_pj["buffer"] for o in r32.ops if o.name.endswith(":master"))
    assert e32 == pytest.approx(2 * e16) and e16 > 0
    assert r32.area_um2["master_copy_sram"] == pytest.approx(2 * r16.area_um2["master_copy_sram"])


def test_inference_has_no_master_copy():
    res = evaluate(_study("int16", "inference"))
    assert "master_copy" not in res.leakage_by_source_pj and "master_copy_sram" not in res.area_um2



def test_a_measured_run_with_another_master_copy_is_named(tmp_path):
    import numpy as np

    from imcsim.execute.runfolder import write_measured, write_updates

    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={},
                   extra={"options": {"master_copy": "int16"}})
    write_updates(tmp_path, {"classifier": (np.zeros((1, 10, 32)), np.ones((1, 10, 32)))})
    study = Study.model_validate({"workload": {"name": "digits-cnn"}, "method": {"name": "last"},
                                  "options": {"measured": str(tmp_path)}})
    assert any("measured run kept master_copy int16" in a and "prices master_copy none" in a
               for a in evaluate(study).assumptions)
