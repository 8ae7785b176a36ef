"""16-bit training errors priced as the kernels execute them: two 8-bit passes through the array."""

import pytest

from imcsim.circuit.macro import COMPONENTS as MACRO_COMPONENTS
from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import build_context

BASE = {"workload": "digits-cnn", "method": "full"}


def _ops(result):
    return {o.name: o for o in result.ops}


def test_sixteen_bit_errors_are_two_passes_plus_one_join_add_by_hand():
    r8, r16 = evaluate(study_from_params(BASE)), evaluate(study_from_params({**BASE, "error_bits": 16}))
    ctx = build_context(study_from_params(BASE))
    m = ctx.macro
    o8, o16 = _ops(r8), _ops(r16)
    # classifier (linear 32 -> 10, one step per sample, batch 32), its error read through the array: the
    # high-byte and low-byte passes each cost what the 8-bit error costs; joining them takes one add of
    # acc_bits full adders per output and step: 1 step x 10 outputs x 24 bits x 1.7 fJ x 1e-3 x 32 samples
    # = 13.056 pJ on top of twice the 8-bit shift-and-accumulate energy
    a, b = o8["classifier:bwd_err"], o16["classifier:bwd_err"]
    assert (m.acc_bits, m.gates.fa_fj) == (24, 1.7)
    assert b.cycles_per_execution == 2 * a.cycles_per_execution
    for c in MACRO_COMPONENTS:
        extra = 1 * 10 * 24 * 1.7 * 1e-3 * 32 if c == "shift_accumulate" else 0.0
        assert b.energy_pj.get(c, 0.0) == pytest.approx(2 * a.energy_pj.get(c, 0.0) + extra, rel=1e-12), c
    assert b.energy_pj["shift_accumulate"] - 2 * a.energy_pj["shift_accumulate"] == pytest.approx(13.056, rel=1e-9)
    # a conv: res1.conv1 (3x3, 16 -> 16 channels on 8x8: 64 steps, 16 outputs): 64 x 16 x 24 x 1.7e-3 x 32 pJ
    a, b = o8["res1.conv1:bwd_err"], o16["res1.conv1:bwd_err"]
    assert ctx.step.graph["res1.conv1"].gemm_shape()[1] == 64 and ctx.step.graph["res1.conv1"].gemm_shape()[3] == 16
    assert b.energy_pj["shift_accumulate"] == pytest.approx(2 * a.energy_pj["shift_accumulate"]
                                                            + 64 * 16 * 24 * 1.7e-3 * 32, rel=1e-12)
    # nothing else changes: forward MVMs and the writes are priced as before (the weight gradient on the scratch
    # macros runs its 16-bit errors as two passes too: tests/test_engine_wgrad.py)
    for name, op in o8.items():
        if not name.endswith((":bwd_err", ":wgrad:weight")):
            assert o16[name].energy_pj == op.energy_pj and o16[name].cycles_per_execution == op.cycles_per_execution
    assert r16.total_energy_pj > r8.total_energy_pj and r16.latency_ns > r8.latency_ns


def test_error_bits_do_not_touch_inference_or_the_digital_backward():
    for extra in ({"method": "inference"}, {"backward": "digital", "wgrad": "digital"}):
        p = {**BASE, **extra}
        assert evaluate(study_from_params({**p, "error_bits": 16})).summary() == evaluate(study_from_params(p)).summary()


def test_a_measured_run_with_other_error_bits_is_named(tmp_path):
    import numpy as np

    from imcsim.execute.runfolder import write_measured, write_updates

    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={},
                   extra={"options": {"error_bits": 16}})
    write_updates(tmp_path, {"classifier": (np.zeros((1, 10, 32)), np.ones((1, 10, 32)))})
    priced = {"workload": "digits-cnn", "method": "last", "measured": str(tmp_path)}
    assert any("measured run trained with 16-bit errors; this study prices error_bits 8" in a
               for a in evaluate(study_from_params(priced)).assumptions)
    assert not any("-bit errors" in a for a in evaluate(study_from_params({**priced, "error_bits": 16})).assumptions)
