"""``imcsim infer``: measured activity per layer, the run folder, bad input."""

import json

import numpy as np
import pytest

from imcsim.cli.main import main


@pytest.mark.slow
def test_infer_json_writes_measured_and_checks_the_reference(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["infer", "--images", "40", "--check", "--format", "json", "--out", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["layer"] for r in rows][:2] == ["stem.conv", "res1.conv1"] and len(rows) == 7
    assert all(0 < r["input_bit_density"] < r["default_input_bit_density"] for r in rows)
    doc = json.loads((out / "measured.json").read_text())
    assert doc["images"] == 40 and "seeded random" in doc["source"]
    assert {(a["node"], a["phase"]) for a in doc["activity"]} == {(r["layer"], "forward") for r in rows}
    # the adder-tree toggles of every layer, counted for the preset's 64-input trees
    assert all(a["toggle_rows_parallel"] == 64 and 0 < a["and_toggles"] < 64 * a["and_slots"] for a in doc["activity"])
    # then the engine prices with it
    res = tmp_path / "res"
    assert main(["run", "--workload", "digits-cnn", "--set", f"measured={out}", "--out", str(res), "--no-report",
                 "--format", "json"]) == 0
    ledger = json.loads(next(res.rglob("ledger.json")).read_text())
    assert any("measured by execution" in a for a in ledger["assumptions"])
    assert ledger["summary"]["map_measured_activity_phases"] == 7
    # every figure marked; the measured activity printed next to the default it replaces (terminal, HTML)
    assert ledger["basis"]["energy_cell_read_pj"] == "measured" and ledger["basis"]["area_mm2"] == "spec"
    measured = ledger["summary"]["measured_input_bit_density"]
    assert 0 < measured < 0.5 and ledger["summary"]["assumed_input_bit_density"] == 0.5
    with np.load(out / "weights.npz") as w:
        assert sorted(w.files) == sorted(f"w:{r['layer']}" for r in rows) and w["w:stem.conv"].dtype == np.int8
    capsys.readouterr()
    html = tmp_path / "html"
    assert main(["run", "--workload", "digits-cnn", "--set", f"measured={out}", "--out", str(html)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("Measured or assumed:"))
    assert f"activity measured (input-bit density {measured:.4g} measured (default 0.5)" in line
    page = (html / "report.html").read_text()
    assert 'id="basis"' in page and "Measured or assumed" in page and 'id="basis-table"' in page
    assert "activity measured" in page
    answer = page[page.index('id="answer"'):page.index('id="study"')]
    assert "Measured by execution or assumed" in answer and "activity measured" in answer


def test_infer_bad_dataset_is_one_line_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((4, 8, 8)), labels=np.zeros(3, np.int64))
    assert main(["infer", "--dataset", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "labels" in err and "bad.npz" in err


def test_infer_bad_calibration_flag(capsys):
    assert main(["infer", "--calibration", "mean"]) == 2
    assert "--calibration" in capsys.readouterr().err
