"""Leakage by source and the power-gating policy (chip.power_gating): hand-worked arithmetic, the macro's
wake-up energy by hand, and an engine run where gating lowers leakage and shows its wake-up cost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.circuit.macro import MacroConfig
from imcsim.config.study import study_from_params
from imcsim.device.library import load_device
from imcsim.engine.evaluation import evaluate
from imcsim.engine.leakage import POLICIES, StandbySources, leakage_by_source_pj
from imcsim.errors import SpecError

SRC = StandbySources(volatile_cells_w=2e-3, macro_periphery_w=1e-6, n_macros=10, sram_buffers_w=5e-3,
                     empty_buffers_w=3e-3, wakeup_pj_per_macro=40.0)


def test_policies_by_hand():
    # latency 1000 ns, 4 macros busy for 500 ns each = 2000 macro-ns; ops charged 7 pJ; 6 wake-ups
    args = (SRC, 1000.0, 2000.0, 7.0, 6.0)
    none = leakage_by_source_pj("none", *args)
    # idle periphery: 1 uW x (10 x 1000 - 2000) ns = 8000 fJ... W x ns = nJ: 1e-6 x 8000 = 8e-3 nJ = 8 pJ
    assert none["idle_macros"] == pytest.approx(8.0)
    # cells 2 mW x 1000 ns = 2 nJ = 2000 pJ; buffers 5 mW x 1000 ns = 5000 pJ; no wake-ups
    assert none["volatile_cells"] == pytest.approx(2000.0) and none["sram_buffers"] == pytest.approx(5000.0)
    assert none["wakeup"] == 0 and none["busy_macros"] == 7.0
    macros = leakage_by_source_pj("macros", *args)
    assert macros["idle_macros"] == 0 and macros["wakeup"] == pytest.approx(6 * 40.0)
    both = leakage_by_source_pj("macros+buffers", *args)
    # the 3 mW of empty buffer capacity is gated: 2 mW x 1000 ns = 2000 pJ left
    assert both["sram_buffers"] == pytest.approx(2000.0)
    assert SRC.standby_power_w("macros+buffers") == pytest.approx(4e-3)
    with pytest.raises(SpecError):
        leakage_by_source_pj("everything", *args)


def test_wakeup_energy_by_hand():
    sas = load_device("sas-mram")
    m = MacroConfig(sas, rows=16, cols=16, rows_parallel=4, sense_amps=8, node_nm=28, clock_mhz=500)
    # 8 lanes: tree FAs 8 x 4 = 32, accumulator FAs 8 x 20 = 160 -> 192 x 3.4 fJ;
    # registers: 160 accumulator bits + 4 input bits + 32 latches = 196 x 1.7 fJ
    assert m.wakeup_energy_pj == pytest.approx((192 * 3.4 + 196 * 1.7) * 1e-3)
    # the periphery leakage is what gating removes: 192 FAs + 196 DFF-like x 0.1875 nW
    assert m.periphery_leakage_w == pytest.approx(388 * 0.1875e-9)


@pytest.fixture(scope="module")
def by_policy():
    out = {}
    for p in POLICIES:
        study = study_from_params({"workload": "tiny-cnn", "method": "inference", "device": "sas-mram",
                                   "chip.power_gating": p, "batch": 1})
        out[p] = evaluate(study)
    return out


def test_gating_lowers_leakage_and_shows_its_wakeup_cost(by_policy):
    leak = {p: r.energy_pj["leakage"] for p, r in by_policy.items()}
    assert leak["macros+buffers"] < leak["macros"] < leak["none"]
    for p, r in by_policy.items():
        # the component is exactly its sources; every result carries what each policy would give
        assert sum(r.leakage_by_source_pj.values()) == pytest.approx(r.energy_pj["leakage"])
        assert r.leakage_by_policy_pj == pytest.approx(leak)
        s = r.summary()
        assert s["power_gating"] == p and s[f"leakage_if_{p.replace('+', '_')}_pj"] == pytest.approx(leak[p])
    gated = by_policy["macros"].leakage_by_source_pj
    assert gated["wakeup"] > 0 and by_policy["macros"].macro_wakeups > 0
    assert by_policy["none"].leakage_by_source_pj["idle_macros"] > gated["wakeup"]
    # the rest of the energy does not depend on the policy
    rest = {p: r.total_energy_pj - r.energy_pj["leakage"] for p, r in by_policy.items()}
    assert rest["none"] == pytest.approx(rest["macros"]) == pytest.approx(rest["macros+buffers"])


def test_leakage_sentence_states_sources_and_policies(by_policy):
    from imcsim.report.leakage import leakage_sentence

    s = by_policy["macros+buffers"].summary()
    line = leakage_sentence(s)
    assert line.startswith("Leakage ") and "under power gating macros+buffers" in line
    assert "SRAM buffers" in line and "wake-ups" in line and f"{s['macro_wakeups']:.0f} macro wake-ups" in line
    assert "by policy: none " in line and ", macros " in line and ", macros+buffers " in line
    assert leakage_sentence({"energy_pj": 1.0}) is None   # a record without the breakdown


def test_standby_sources_memoised_on_what_they_read():
    # the pricer keeps a chip's standby sources with its numbers (engine/costs.py), shared by points that share
    # its pieces (a sweep over write options); the batch (live activations) and the master copy give their own
    from imcsim.engine import context
    from imcsim.engine.costs import price_step
    from imcsim.engine.leakage import standby_sources

    base = {"workload": "digits-cnn", "method": "last"}
    points = [base, {**base, "write_policy": "diff"}, {**base, "batch": 64}, {**base, "master_copy": "int16"}]
    got = [price_step(context.build_context(study_from_params(p))).standby for p in points]
    assert got[1] is got[0] and got[2] is not got[0] and got[3] is not got[0]
    for p, src in zip(points, got):
        assert src == standby_sources(context.build_context(study_from_params(p)))
    assert got[2].empty_buffers_w != got[0].empty_buffers_w
    assert got[3].master_copy_w > 0 and got[0].master_copy_w == 0



def _one_policy(policy, src, latency_ns, busy_ns, busy_pj, wakeups):
    """The module docstring's sources under one policy, written out (W x ns = nJ, x 1e3 -> pJ)."""
    idle_ns = max(0.0, src.n_macros * latency_ns - busy_ns)
    buffers_w = src.sram_buffers_w - (src.empty_buffers_w if policy == "macros+buffers" else 0.0)
    out = {"busy_macros": busy_pj, "idle_macros": src.macro_periphery_w * idle_ns * 1e3 if policy == "none" else 0.0,
           "volatile_cells": src.volatile_cells_w * latency_ns * 1e3, "sram_buffers": buffers_w * latency_ns * 1e3,
           "wakeup": 0.0 if policy == "none" else src.wakeup_pj_per_macro * wakeups}
    if src.master_copy_w:
        out["master_copy"] = src.master_copy_w * latency_ns * 1e3
    return out


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1e9), st.floats(0, 1e9), st.floats(0, 1e6), st.floats(0, 1e4),
       st.sampled_from([0.0, 1e-3]), st.floats(0, 1e-2), st.floats(0, 1e-2))
def test_every_policy_at_once_equals_each_policy_alone(latency_ns, busy_ns, busy_pj, wakeups, master_w, buffers_w,
                                                       empty_w):
    # a result lists the leakage under every policy (what gating would save), made at once with the terms the
    # policies share computed once: each policy's sources equal the formula for that policy alone, in order
    from imcsim.engine.leakage import leakage_by_policy_pj

    src = StandbySources(volatile_cells_w=1e-4, macro_periphery_w=2e-6, n_macros=64, sram_buffers_w=buffers_w + empty_w,
                         empty_buffers_w=empty_w, wakeup_pj_per_macro=3.0, master_copy_w=master_w)
    every = leakage_by_policy_pj(src, latency_ns, busy_ns, busy_pj, wakeups)
    assert list(every) == list(POLICIES)
    for policy in POLICIES:
        want = list(_one_policy(policy, src, latency_ns, busy_ns, busy_pj, wakeups).items())
        assert list(every[policy].items()) == want
        assert list(leakage_by_source_pj(policy, src, latency_ns, busy_ns, busy_pj, wakeups).items()) == want
