"""Weight gradients priced where ``imcsim train`` runs them (``options.wgrad``): on bit-serial SRAM scratch
macros (the errors stationary, the activation codes streamed) or as a GEMM on the digital units."""

import numpy as np
import pytest

from imcsim.circuit.macro import COMPONENTS as MACRO_COMPONENTS
from imcsim.circuit.macro import TileUse, layer_cost
from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import _device, build_context
from imcsim.engine.schedule import resource_kind

#: the classifier of digits-cnn (linear 32 -> 10) is the only layer method ``last`` trains
LAST = {"workload": "digits-cnn", "method": "last", "batch": 4}


def _wgrad(result, name="classifier:wgrad:weight"):
    return next(o for o in result.ops if o.name == name)


def test_weight_gradient_on_scratch_macros_by_hand():
    res = evaluate(study_from_params({**LAST, "wgrad": "array"}))
    ctx = build_context(study_from_params({**LAST, "wgrad": "array"}))
    m, tile, du = ctx.macro, ctx.accel.tile, ctx.accel.tile.digital_unit
    op = _wgrad(res)
    # per sample the GEMM is (groups 1, K 32, M 1, N 10); the batch's 4 x 1 error rows x 10 columns are the
    # stationary operand: one scratch macro holding 4 rows x 10 weights x 8 columns per weight = 4 x 80 cells,
    # 40 values; the 32 input features of every sample are streamed as 32 steps of 4-element input vectors
    assert (m.rows, m.cols, m.w_bits, m.in_bits) == (256, 256, 8, 8)
    assert op.resource == "sram_macros:classifier:wgrad:weight" and resource_kind(op.resource) == "macros"
    assert op.executions == 1 and op.macs == 4 * 32 * 10 and op.macros == 1 and op.phase == "weight_gradient"
    sram = ctx.macro.__class__(_device("sram"), m.rows, m.cols, m.rows_parallel, m.sense_amps, m.in_bits, m.w_bits,
                               1, m.node_nm, m.clock_mhz)
    lc = layer_cost(sram, [TileUse(rows_used=4, cols_used=80, weights=40, count=1)], 32)
    # the errors are written into the scratch macro first: 40 INT8 values, every bit (SRAM write model)
    write = _device("sram").expected_write(40, bits=8, policy="all", flip_prob=0.5)
    assert op.cycles_per_execution == pytest.approx(lc.cycles + write.latency_ns / ctx.cycle_ns, rel=1e-12)
    for c in MACRO_COMPONENTS:
        assert op.energy_pj.get(c, 0.0) == pytest.approx(getattr(lc.energy, f"{c}_pj"), rel=1e-12), c
    assert op.energy_pj["write"] == pytest.approx(write.energy_pj, rel=1e-12)
    # buffer: read 4 samples x (32 activation bytes + 10 INT8 error bytes) = 168 B, write the 32 x 10 gradient
    # at the digital unit's precision (fp32: 4 B) = 1280 B
    assert du.precision == "fp32"
    assert op.energy_pj["buffer"] == pytest.approx(168 * tile.buffer_read_pj_per_byte
                                                   + 1280 * tile.buffer_write_pj_per_byte, rel=1e-12)
    assert op.basis == "assumed"
    # scratch writes are not device-array writes: the step's write summary holds the classifier's update only
    assert res.writes.weights_written == 320
    assert any("scratch" in a for a in res.assumptions)


def test_weight_gradient_on_the_digital_unit_by_hand():
    res = evaluate(study_from_params({**LAST, "wgrad": "digital"}))
    ctx = build_context(study_from_params({**LAST, "wgrad": "digital"}))
    chip, du = ctx.accel.chip, ctx.accel.tile.digital_unit
    op = _wgrad(res)
    # 320 MACs per sample, 4 samples, on every tile's digital unit pooled; operands (32 x 1 + 1 x 10) and the
    # 32 x 10 result at 4 B through the global buffer
    assert op.resource == "digital" and op.executions == 4 and op.macs == 320
    assert op.cycles_per_execution == pytest.approx(320 / (du.macs_per_cycle * chip.tiles), rel=1e-12)
    assert op.energy_pj["digital_unit"] == pytest.approx(320 * du.energy_pj_per_mac * 4, rel=1e-12)
    assert op.energy_pj["buffer"] == pytest.approx(4 * ((32 + 10) * 4 * chip.global_buffer_read_pj_per_byte
                                                        + 320 * 4 * chip.global_buffer_write_pj_per_byte), rel=1e-12)


def test_sixteen_bit_errors_run_the_scratch_macros_twice():
    r8 = evaluate(study_from_params(LAST))
    r16 = evaluate(study_from_params({**LAST, "error_bits": 16}))
    ctx = build_context(study_from_params(LAST))
    m = ctx.macro
    a, b = _wgrad(r8), _wgrad(r16)
    w8 = _device("sram").expected_write(40, bits=8, policy="all", flip_prob=0.5)
    w16 = _device("sram").expected_write(80, bits=8, policy="all", flip_prob=0.5)   # both error digits written
    compute = a.cycles_per_execution - w8.latency_ns / ctx.cycle_ns
    assert b.cycles_per_execution == pytest.approx(2 * compute + w16.latency_ns / ctx.cycle_ns, rel=1e-12)
    # the passes are joined by one add per output and step: 32 steps x 10 outputs x acc_bits x FA energy
    join = 32 * 10 * m.acc_bits * m.gates.fa_fj * 1e-3
    assert b.energy_pj["shift_accumulate"] == pytest.approx(2 * a.energy_pj["shift_accumulate"] + join, rel=1e-12)
    assert b.energy_pj["write"] == pytest.approx(w16.energy_pj, rel=1e-12)


@pytest.mark.parametrize("wgrad", ["array", "digital"])
def test_priced_weight_gradients_are_the_executed_ones(wgrad, tmp_path):
    """One executed INT8 step of ``full`` on digits-cnn: every weight gradient it ran is priced, where it ran
    (scratch macros or digital units), with its MACs; on the kernels its measured activity prices it."""
    from imcsim.execute import qnet as Q
    from imcsim.execute import train, weights
    from imcsim.execute.data import load_dataset
    from imcsim.execute.runfolder import write_measured
    from imcsim.workload import zoo

    data = load_dataset("digits")
    step = train.method_step(zoo.build("digits-cnn"), "full")
    x, y = data.images[:4], data.labels[:4]
    qn = Q.quantize(step.graph, weights.random_params(step.graph, 0), x)
    with train.single_thread():
        rec = train.Int8Trainer(qn, train.TrainOptions(method="full", wgrad=wgrad), 0, step).step(x, y)
    executed = {o.node: int(np.prod(o.gemm)) * 4 for o in rec.ops if o.phase == "weight_gradient"}
    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity=rec.activity,
                   extra={"options": {"wgrad": wgrad}})
    res = evaluate(study_from_params({"workload": "digits-cnn", "method": "full", "batch": 4, "wgrad": wgrad,
                                      "measured": str(tmp_path)}))
    priced = {o.node: o for o in res.ops if o.phase == "weight_gradient" and o.name.endswith(":wgrad:weight")}
    assert set(priced) == set(executed) and len(executed) == 7   # stem, res1 x2, sep1 x2, down, classifier
    for node, macs in executed.items():
        op = priced[node]
        assert op.macs * op.executions == macs, node
        assert resource_kind(op.resource) == ("macros" if wgrad == "array" else "digital"), node
        assert op.basis == ("measured" if wgrad == "array" else ""), node
    assert {n for n, p in rec.activity if p == "weight_gradient"} == (set(executed) if wgrad == "array" else set())


def test_a_measured_run_with_the_other_wgrad_is_named(tmp_path):
    from imcsim.execute.runfolder import write_measured, write_updates

    write_measured(tmp_path, workload="digits-cnn", source="test", command="train", activity={},
                   extra={"options": {"wgrad": "digital"}})
    write_updates(tmp_path, {"classifier": (np.zeros((1, 10, 32)), np.ones((1, 10, 32)))})
    res = evaluate(study_from_params({"workload": "digits-cnn", "method": "last", "measured": str(tmp_path)}))
    assert any("weight gradients with --wgrad digital; this study prices wgrad array" in a for a in res.assumptions)
    same = evaluate(study_from_params({"workload": "digits-cnn", "method": "last", "measured": str(tmp_path),
                                       "wgrad": "digital"}))
    assert not any("--wgrad" in a for a in same.assumptions)
