"""Reload attribution: what streaming the layers that do not fit costs in time and energy (issue 5).

A reload is a barrier (DRAM fetch, then the pool write) that runs alone on the critical path in both
engines, so its cycles add to the latency exactly and the chip's standby power over that time is the part
of the leakage spent waiting on it. Checked on a hand-built ledger, on the engines (analytic = event,
nothing overlaps a reload in the event timeline), and on the two regimes of the study file
workloads/studies/reram-reload.yaml: low reuse per reload (Flan-T5-large, batch 1, short sequences), where
ReRAM's reload writes dominate latency and energy, and high reuse (ResNet-50), where they do not.
"""

import json
import math

import pytest

from imcsim.cli.main import main
from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import build_context
from imcsim.engine.costs import price_step
from imcsim.engine.ledger import RELOAD_METRICS, OpRecord, Result, WriteSummary
from imcsim.engine.schedule import Barrier, analytic_cycles
from imcsim.paths import workloads_dir
from imcsim.report.reloads import reload_sentence

STUDY = workloads_dir() / "studies" / "reram-reload.yaml"
#: ResNet-18 at 32x32 on a 4-tile, 8 Mibit chip: 13 of its layers do not fit (quick, and streams)
#: (layer order, chip.pipeline: layer: a reload is a barrier there; the row engine overlaps it)
SMALL = {"workload": "resnet18", "workload.resolution": 32, "chip.cell_capacity_mibit": 8, "chip.tiles": 4,
         "chip.pipeline": "layer"}
#: Flan-T5-large reduced to 2 layers per stack (about 80 M weights, 5x the 128 Mibit presets), batch 1,
#: 16 encoder and 16 decoder tokens: every streamed weight is used 16 times per reload
T5 = {"workload": "flan-t5-large", "workload.layers": 2, "workload.seq_len": 16, "workload.dec_len": 16,
      "batch": 1, "chip.pipeline": "layer"}
#: standby power: no cell leaks (MRAM, ReRAM), the SRAM buffers do, 30 uW/KiB quoted at 22 nm, x 1.37296 at
#: the presets' 28 nm (NeuroSim leakage row, log-log: exp(ln(28/22)/ln(32/22) x ln(1.8/1.1))) = 41.19 uW/KiB:
#: 2048 KiB global + 64 tiles x 64 KiB = 6144 KiB -> 0.25306 W; SMALL's 4 tiles 2048 + 256 -> 0.09490 W
PER_KIB_W = 30e-6 * math.exp(math.log(28 / 22) / math.log(32 / 22) * math.log(1.8 / 1.1))
STANDBY_W = 6144 * PER_KIB_W
SMALL_STANDBY_W = 2304 * PER_KIB_W


def _run(params, engine="analytic", **kw):
    return evaluate(study_from_params(params), engine=engine, **kw)


def _reload_ops(result):
    return [o for o in result.ops if o.phase == "reload"]


def test_summary_attribution_hand_computed():
    ops = [
        OpRecord("a:fwd", "a", "forward", "mvm", "macros:a", 2, 10.0, {"cell_read": 5.0}, macs=4),
        OpRecord("b:reload:forward", "b", "reload", "write", "macros:pool", 1, 20.0, {"write": 3.0, "dram": 4.0}),
        OpRecord("b:fwd", "b", "forward", "mvm", "macros:pool", 2, 5.0, {"cell_read": 2.0}, macs=6),
        OpRecord("c:reload:forward", "c", "reload", "write", "macros:pool", 1, 15.0, {"write": 1.0, "dram": 2.0}),
    ]
    # standby 1 mW over the 100-cycle x 2 ns latency: 1e-3 W x 200 ns = 0.2 nJ = 200 pJ of leakage
    energy = {"cell_read": 7.0, "write": 4.0, "dram": 6.0, "leakage": 200.0}
    r = Result({"device": "reram"}, "analytic", 2.0, 100.0, energy, ops, WriteSummary(reload_weights=9), {}, {},
               standby_power_w=1e-3, reload_write_cycles=25.0)
    s = r.summary()
    # reload time: (20 + 15) cycles x 2 ns = 70 ns of the 200 ns latency; its write part 25 x 2 = 50 ns
    assert s["reload_latency_ns"] == 70.0 and s["reload_latency_share"] == pytest.approx(0.35)
    assert s["reload_write_latency_ns"] == 50.0
    # writes 3 + 1 = 4 pJ, DRAM 4 + 2 = 6 pJ, standby 1e-3 W x 70 ns = 0.07 nJ = 70 pJ; 80 of 217 pJ
    assert s["reload_write_energy_pj"] == 4.0 and s["reload_dram_energy_pj"] == 6.0
    assert s["reload_standby_energy_pj"] == pytest.approx(70.0)
    assert s["reload_energy_pj"] == pytest.approx(80.0) and s["energy_pj"] == 217.0
    assert s["reload_energy_share"] == pytest.approx(80.0 / 217.0)
    assert s["macs"] == 2 * 4 + 2 * 6  # the same single pass counts the MACs
    line = reload_sentence(s)
    assert line.startswith("Reloads: 9 weights written per step; reload time 70 ns = 35 % of latency")
    assert "(writes 50 ns, DRAM fetch 20 ns)" in line and "standby while reloading 70 pJ" in line
    # a ledger without reloads (or built before standby power was stored) attributes nothing
    bare = Result({}, "analytic", 1.0, 10.0, {"cell_read": 1.0}, ops[:1], WriteSummary(), {}, {}).summary()
    assert all(bare[k] == 0.0 for k in RELOAD_METRICS) and reload_sentence(bare) is None


def test_reload_time_adds_to_latency_exactly_and_standby_is_power_times_time():
    r = _run({**SMALL, "device": "reram"})
    s = r.summary()
    reloads = _reload_ops(r)
    assert len(reloads) == s["map_reloaded_layers"] == 13 and not s["map_fits"]
    cycles = sum(o.cycles_per_execution * o.executions for o in reloads)
    assert s["reload_latency_ns"] == pytest.approx(cycles * r.cycle_ns, rel=1e-12)
    # batch 1 (ResNet-18's card): the latency is the chain's sum, so removing the reload barriers
    # removes exactly their cycles
    ctx = build_context(study_from_params({**SMALL, "device": "reram"}))
    priced = price_step(ctx)
    kept = [it for it in priced.items if not (isinstance(it, Barrier) and ":reload:" in it.stages[0].op)]
    assert r.latency_cycles - analytic_cycles(kept, ctx.batch, priced.exclusive) == pytest.approx(cycles, rel=1e-9)
    # the power the leakage component is charged at, stored on the result
    assert r.standby_power_w == priced.standby_power_w == pytest.approx(SMALL_STANDBY_W)
    # leakage = the macros' own leakage while they compute (in the ops) + standby power x latency + the
    # wake-ups of the gated macros (default chip.power_gating: macros; engine/leakage.py)
    ops_leakage = sum(o.energy_pj.get("leakage", 0.0) for o in r.ops)
    assert s["leakage_wakeup_pj"] == pytest.approx(r.macro_wakeups * ctx.macro.wakeup_energy_pj)
    assert s["energy_leakage_pj"] - ops_leakage - s["leakage_wakeup_pj"] == pytest.approx(
        SMALL_STANDBY_W * s["latency_ns"] * 1e3, rel=1e-9)
    assert s["reload_standby_energy_pj"] == pytest.approx(SMALL_STANDBY_W * s["reload_latency_ns"] * 1e3,
                                                          rel=1e-12)
    # components: the reload ops' own write and DRAM energy (inference: every write is a reload)
    assert s["reload_write_energy_pj"] == pytest.approx(sum(o.energy_pj.get("write", 0) for o in reloads))
    assert s["reload_write_energy_pj"] == pytest.approx(r.writes.energy_pj)
    assert s["reload_energy_pj"] == pytest.approx(
        s["reload_write_energy_pj"] + s["reload_dram_energy_pj"] + s["reload_standby_energy_pj"], rel=1e-12)
    # each streamed weight is fetched once: 8 bits x 15 pJ/bit = 120 pJ, and 1 B / 25.6 GB/s of DRAM time
    assert s["reload_dram_energy_pj"] == pytest.approx(s["reload_weights"] * 120.0)
    assert s["reload_latency_ns"] - s["reload_write_latency_ns"] == pytest.approx(s["reload_weights"] / 25.6)
    for k in ("reload_latency_share", "reload_energy_share"):
        assert 0 < s[k] < 1
    assert s["reload_standby_energy_pj"] < s["energy_leakage_pj"]
    assert any("reloads run once per step as barriers" in a for a in r.assumptions)


@pytest.mark.parametrize("method", ["inference", "full"])
def test_analytic_and_event_engines_give_the_same_reload_figures(method):
    # layer order (chip.pipeline: layer): the engine whose reloads are the priced step's barriers
    # weight gradients on the digital units: the event schedule then waits on them (shared by the layers)
    params = {**SMALL, "device": "reram", "method": method, "batch": 2, "chip.pipeline": "layer", "wgrad": "digital"}
    a = _run(params)
    e = _run(params, engine="event", record_trace=True)
    sa, se = a.summary(), e.summary()
    assert sa["reload_weights"] > 0
    # the shares are of each engine's own latency and total energy (standby leakage follows the latency)
    same = [k for k in RELOAD_METRICS if k not in ("reload_latency_share", "reload_energy_share")]
    assert {k: se[k] for k in same} == {k: sa[k] for k in same}
    assert se["reload_energy_share"] == pytest.approx(se["reload_energy_pj"] / se["energy_pj"], rel=1e-12)
    # the share is of each engine's own latency: equal without contention (inference), smaller where the
    # event schedule waits on a contended resource (training's backward reuses the macros and units)
    assert se["reload_latency_share"] == pytest.approx(se["reload_latency_ns"] / se["latency_ns"], rel=1e-12)
    if method == "inference":
        assert se["latency_ns"] == sa["latency_ns"] and se["reload_latency_share"] == sa["reload_latency_share"]
    else:
        assert se["latency_ns"] > sa["latency_ns"] and se["reload_latency_share"] < sa["reload_latency_share"]
    # in the event timeline nothing else is busy while a reload runs, and reload intervals add up
    ivs = e.timeline.intervals
    spans = [iv for iv in ivs if ":reload:" in iv.op]
    assert sum(iv.end - iv.start for iv in spans) * e.cycle_ns == pytest.approx(se["reload_latency_ns"], rel=1e-9)
    for sp in spans:
        if sp.end > sp.start:
            assert not [iv for iv in ivs if ":reload:" not in iv.op and iv.start < sp.end and sp.start < iv.end]


@pytest.mark.slow
def test_nothing_streamed_attributes_nothing(capsys, tmp_path):
    r = _run({"workload": "resnet18", "device": "reram"})  # ResNet-18 fits the 128 Mibit presets
    s = r.summary()
    assert s["map_fits"] and s["reload_weights"] == 0 and not _reload_ops(r)
    assert all(s[k] == 0.0 for k in RELOAD_METRICS)
    assert reload_sentence(s) is None
    assert not any("reloads run once" in a for a in r.assumptions)
    out = tmp_path / "fits"
    assert main(["run", "--workload", "resnet18", "--device", "reram", "--out", str(out)]) == 0
    assert "Reloads:" not in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert 'id="reloads"' not in page and not (out / "tables" / "reloads.csv").exists()


def test_low_reuse_reram_reload_writes_dominate_and_mram_writes_do_not():
    rr, mr = _run({**T5, "device": "reram"}), _run({**T5, "device": "sas-mram"})
    r, m = rr.summary(), mr.summary()
    assert not r["map_fits"] and r["reload_weights"] == m["reload_weights"] > 0.9 * r["map_reload_weights"]
    # ReRAM: reloads are nearly all of the latency, and their writes nearly all of that
    assert r["reload_latency_share"] > 0.9 and r["reload_write_latency_ns"] > 0.9 * r["latency_ns"]
    # ... and most of the energy, mainly as standby power over the write time
    assert r["reload_energy_share"] > 0.5
    assert r["reload_standby_energy_pj"] > r["reload_write_energy_pj"] + r["reload_dram_energy_pj"]
    # SAS-MRAM writes the same weights for far less, and its reloads wait on DRAM, not on writes
    assert m["reload_write_energy_pj"] < r["reload_write_energy_pj"] / 50
    assert m["reload_latency_share"] < r["reload_latency_share"]
    assert m["reload_write_latency_ns"] < 0.5 * m["reload_latency_ns"]
    assert m["latency_ns"] < r["latency_ns"] / 10 and m["energy_pj"] < r["energy_pj"] / 2
    # the same DRAM traffic on both: 120 pJ per 8-bit weight
    assert r["reload_dram_energy_pj"] == m["reload_dram_energy_pj"] == pytest.approx(120.0 * r["reload_weights"])


def test_high_reuse_resnet50_reram_reloads_do_not_dominate():
    s = _run({"workload": "resnet50", "device": "reram", "chip.pipeline": "layer"}).summary()
    assert not s["map_fits"] and s["map_reloaded_layers"] == 7 and s["reload_weights"] == 12_009_472
    assert s["reload_standby_energy_pj"] == pytest.approx(STANDBY_W * s["reload_latency_ns"] * 1e3, rel=1e-12)
    assert s["reload_energy_share"] < 0.5 and s["reload_latency_share"] < 0.5
    # 4.089 GMAC over 12.0 M reloaded weights: 340 uses per reload (T5 above: about 16)
    assert s["macs"] / s["reload_weights"] > 300


@pytest.mark.slow
def test_study_file_reproduces_the_comparison(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["run", str(STUDY), "--out", str(out), "--format", "json"]) == 0
    rows = {r["run"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"t5-reram", "t5-sas-mram", "resnet50-reram", "resnet50-sas-mram"}
    assert all(r["batch"] == 1 and not r["map_fits"] and r["reload_weights"] > 0 for r in rows.values())
    t5r, t5m, rnr = rows["t5-reram"], rows["t5-sas-mram"], rows["resnet50-reram"]
    # the description's numbers (rounded there): T5 on ReRAM 99.2 % reload time, 97.2 % reload energy;
    # ResNet-50 on ReRAM 24.1 % and 24.6 %; write energy 68x SAS-MRAM's
    assert t5r["reload_latency_share"] == pytest.approx(0.992, abs=0.002)
    assert t5r["reload_energy_share"] == pytest.approx(0.972, abs=0.002)
    assert rnr["reload_latency_share"] == pytest.approx(0.241, abs=0.002)
    assert rnr["reload_energy_share"] == pytest.approx(0.246, abs=0.002)
    assert t5r["reload_write_energy_pj"] / t5m["reload_write_energy_pj"] == pytest.approx(68, abs=1)
    # the report says it in numbers
    page = (out / "report.html").read_text()
    assert 'id="reloads"' in page and "standby while reloading" in page
    assert (out / "tables" / "reloads.csv").exists()
    capsys.readouterr()
    assert main(["run", str(STUDY), "--out", str(out), "--no-report", "--force"]) == 0  # same folder: --force
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "Reloads:" in ln]
    assert len(lines) == 4 and lines[0].startswith("t5-reram: Reloads: 427 layers streamed")
    assert "= 99.2 % of latency" in lines[0]


def test_event_engine_runs_the_study_with_the_same_reload_numbers():
    for params in ({**T5, "device": "reram", "chip.pipeline": "layer"},
                   {"workload": "resnet50", "device": "sas-mram", "chip.pipeline": "layer"}):
        a, e = _run(params).summary(), _run(params, engine="event").summary()
        assert all(a[k] == pytest.approx(e[k], rel=1e-12) for k in RELOAD_METRICS), params
        assert not math.isnan(a["reload_energy_share"])
