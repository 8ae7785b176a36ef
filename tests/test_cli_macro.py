"""`imcsim macro`: the configuration, per-step energy by component, TOPS figures and area, in every format."""

import json

import pytest

from imcsim.circuit.macro import COMPONENTS, MacroConfig, macro_summary
from imcsim.cli.main import main

SRAM_22 = ["macro", "--device", "sram", "--rows", "256", "--cols", "256", "--rows-parallel", "64", "--node", "22",
           "--clock", "500"]


def test_json_is_one_record_with_unit_keys(capsys):
    assert main(SRAM_22 + ["--format", "json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["device"] == "sram" and rec["sense_amps"] == 256 and rec["node_nm"] == 22
    # 8 planes x ceil(256 / 64) x ceil(256 / 256) = 32 cycles for 256 x 32 = 8192 INT8 MACs
    assert rec["step_cycles"] == 32 and rec["step_macs"] == 8192
    assert rec["step_energy_pj"] == pytest.approx(sum(rec[f"{c}_pj"] for c in COMPONENTS))
    assert rec["area_um2"] == pytest.approx(sum(rec[k] for k in rec if k.endswith("_um2") and k != "area_um2"))
    # the silicon-check configuration (see tests/test_circuit_macro.py): inside the 10-40 TOPS/W window
    assert 10 <= rec["tops_per_w"] <= 40
    # same numbers as the library call
    lib = macro_summary(MacroConfig("sram", rows=256, cols=256, rows_parallel=64, sense_amps=256, node_nm=22))
    assert rec["tops_per_w"] == pytest.approx(lib["tops_per_w"])


def test_table_shows_every_section(capsys):
    assert main(SRAM_22) == 0
    out = capsys.readouterr().out
    for title in ("configuration", "one MVM step on the full array: 32 cycles, 8192 MACs", "performance",
                  "area:"):
        assert title in out
    for comp in COMPONENTS + ("cells", "adder_trees", "accumulators", "tops_per_w"):
        assert comp in out


def test_csv_and_density_flags(capsys):
    assert main(["macro", "--input-density", "0.2", "--and-density", "0.1", "--format", "csv"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    rec = dict(zip(header.split(","), row.split(",")))
    assert rec["activity_source"] == "given" and float(rec["input_density"]) == 0.2


@pytest.mark.parametrize("args,flag", [(["--rows", "32", "--rows-parallel", "64"], "--rows-parallel"),
                                       (["--sense-amps", "500"], "--sense-amps"),
                                       (["--node", "-5"], "--node"),
                                       (["--and-density", "0.9"], "--and-density"),
                                       (["--device", "unobtainium"], "device")])
def test_bad_flags_are_one_line_exit_2(capsys, args, flag):
    assert main(["macro"] + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("imcsim: error:") and flag in err[0]


def test_table_states_organisation_activity_model_and_clock_limit(capsys):
    assert main(SRAM_22 + ["--organisation", "weight_column", "--input-bits-per-cycle", "2",
                           "--activity-model", "toggle"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    # 64-input tree of 8 + 1 bit inputs at 22 nm: the limit is printed with the chosen models
    m = MacroConfig("sram", rows=256, cols=256, rows_parallel=64, sense_amps=256, node_nm=22, clock_mhz=500,
                    organisation="weight_column", input_bits_per_cycle=2, activity_model="toggle")
    assert "organisation weight_column" in first and "2 input bit(s) per cycle" in first
    assert "activity model toggle" in first and f"max unpipelined clock {m.max_clock_mhz:.0f} MHz" in first
    assert "default toggles (A)" in out


def test_clock_past_the_unpipelined_limit_without_pipelining_is_exit_2(capsys):
    assert main(["macro", "--clock", "2000", "--pipeline", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--clock" in err[0] and "MHz" in err[0]
    assert main(["macro", "--clock", "2000", "--format", "json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["tree_stages"] >= 2 and rec["tree_pipeline_register_bits"] > 0
