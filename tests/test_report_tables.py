"""Report tables: reading sweep, run and Parquet folders, and the tables built from them."""

import math

import pandas as pd
import pytest

from imcsim.engine.ledger import COMPONENTS, OpRecord, Result, WriteSummary
from imcsim.errors import SpecError
from imcsim.report.load import parameter_columns, read_folder
from imcsim.report.synthetic import synthetic_results
from imcsim.report.tables import build_tables, point_labels, write_tables


def _result(device: str, scale: float) -> Result:
    ops = [
        OpRecord("c1:fwd", "c1", "forward", "mvm", "macros:c1", 2, 10.0, {"cell_read": 3.0 * scale}, macs=5),
        OpRecord("c2:fwd", "c2", "forward", "mvm", "macros:c2", 1, 4.0, {"cell_read": 1.0 * scale,
                                                                          "adder_tree": 0.5}, macs=3),
        OpRecord("c2:upd", "c2", "update", "write", "macros:c2", 1, 7.0, {"write": 6.0 * scale}, weights_written=9),
    ]
    energy = {"cell_read": 4.0 * scale, "adder_tree": 0.5, "write": 6.0 * scale}
    return Result({"device": device, "method": "repnet", "rows": 64, "cols": 64}, "analytic", 1.0, 30.0, energy,
                  ops, WriteSummary(weights_written=9, energy_pj=6.0 * scale, endurance_cycles=1e6,
                                    steps_per_day=500.0, max_cell_wear_per_step=1.0, lifetime_years=5.48),
                  {"cells": 1e6}, {"utilisation": 0.5, "fits": True},
                  assumptions=[f"activity 0.5 ({device})", "one step per update"])


@pytest.fixture
def run_folder(tmp_path):
    _result("sas-mram", 1.0).write(tmp_path, prefix="sas-mram_")
    _result("reram", 10.0).write(tmp_path, prefix="reram_")
    return tmp_path


def test_run_folder_reads_every_run_with_layers_and_ledgers(run_folder):
    data = read_folder(run_folder)
    assert data.kind == "runs"
    assert sorted(data.results["run"]) == ["reram", "sas-mram"]
    assert (data.results["status"] == "ok").all()
    # ledger writes -> lifetime assumptions per row
    assert data.results["steps_per_day"].tolist() == [500.0, 500.0]
    assert data.results["endurance_cycles"].tolist() == [1e6, 1e6]
    assert len(data.layers) == 6 and set(data.layers["run"]) == {"reram", "sas-mram"}
    assert ("sas-mram", "activity 0.5 (sas-mram)") in data.assumptions
    assert ("reram", "one step per update") in data.assumptions


def test_phase_and_layer_tables_sum_the_ops(run_folder):
    tables = build_tables(read_folder(run_folder))
    ph = tables["phases"].set_index(["run", "phase"])
    # sas-mram forward: busy = 2 x 10 + 1 x 4 = 24 cycles; energy 3 + 1 + 0.5 = 4.5 pJ; ops 2
    fwd = ph.loc[("sas-mram", "forward")]
    assert fwd["busy_cycles"] == 24.0 and fwd["energy_pj"] == pytest.approx(4.5) and fwd["ops"] == 2
    assert fwd["energy_cell_read_pj"] == pytest.approx(4.0)
    # reram update: 6 x 10 = 60 pJ of writes
    assert ph.loc[("reram", "update"), "energy_write_pj"] == pytest.approx(60.0)
    lay = tables["layers"].set_index(["run", "node"])
    # node c2 of reram: forward 1 x 10 + 0.5 and update 60 -> 70.5 pJ; 4 + 7 = 11 busy cycles; 9 weights
    c2 = lay.loc[("reram", "c2")]
    assert c2["energy_pj"] == pytest.approx(70.5) and c2["busy_cycles"] == 11.0 and c2["weights_written"] == 9


def test_summary_components_failed_pareto_from_synthetic(tmp_path):
    df = synthetic_results(failed=2)
    df.to_parquet(tmp_path / "results.parquet")
    data = read_folder(tmp_path)
    assert data.kind == "tables"
    tables = build_tables(data)
    assert len(tables["summary"]) == 26 and len(tables["failed"]) == 2
    assert tables["failed"]["error"].str.startswith("mapping:").all()
    comps = tables["components"]
    assert len(comps) == 24  # failed points have no energy
    cols = [f"energy_{c}_pj" for c in COMPONENTS]
    assert comps[cols].sum(axis=1).to_numpy() == pytest.approx(comps["energy_pj"].to_numpy())
    pareto = tables["pareto"]
    # the lowest-energy point can never be dominated
    assert pareto.loc[pareto["energy_pj"].idxmin(), "on_front"]
    assert 0 < pareto["on_front"].sum() < len(pareto)
    assert "phases" not in tables and "layers" not in tables


def test_written_tables_round_trip(tmp_path):
    df = synthetic_results(failed=1)
    df.loc[0, "lifetime_years"] = math.inf
    df.to_parquet(tmp_path / "in.parquet")
    tables = build_tables(read_folder(tmp_path))
    paths = write_tables(tables, tmp_path / "tables")
    assert {p.name for p in paths} == {f"{n}.{ext}" for n in tables for ext in ("csv", "parquet")}
    back = pd.read_parquet(tmp_path / "tables" / "summary.parquet")
    pd.testing.assert_frame_equal(back, tables["summary"], check_dtype=False)
    csv = pd.read_csv(tmp_path / "tables" / "summary.csv")
    assert math.isinf(csv.loc[0, "lifetime_years"])


def test_parameter_columns_and_labels():
    df = synthetic_results(devices=("sram",), rows=(64, 128), cols=(32,), methods=("inference",))
    df["temperature_c"] = [25, 85]  # an unknown swept field is a parameter too
    params = parameter_columns(df)
    assert params[:3] == ["device", "workload", "method"] and "temperature_c" in params
    assert "energy_pj" not in params and "status" not in params
    assert point_labels(df, params).tolist() == ["64x32 / temperature_c=25", "128x32 / temperature_c=85"]
    df["workload.classes"], df["batch"], df["batch_size"] = [10, 102], [1, 8], [1.0, 8.0]
    assert point_labels(df, parameter_columns(df)).tolist() == ["64x32 / batch=1 / temperature_c=25 / classes=10",
                                                               "128x32 / batch=8 / temperature_c=85 / classes=102"]
    same = df.iloc[:1]
    assert point_labels(same, params).tolist() == ["sram"]  # nothing varies: fall back to the device


def test_folders_without_results_are_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="holds no results"):
        read_folder(tmp_path)
    with pytest.raises(SpecError, match="no such folder"):
        read_folder(tmp_path / "missing")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(SpecError, match="is not a folder"):
        read_folder(tmp_path / "f.txt")
    synthetic_results().iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(SpecError, match="no result rows"):
        read_folder(tmp_path)
