"""``imcsim validate`` end to end: table/JSON, --list, --out files, --calibrate, error lines."""

import csv
import json

from cli_helpers import run_imcsim

from imcsim.cli.main import main


def test_json_single_case(capsys):
    assert main(["validate", "--case", "lorafusion-trainable-params", "--format", "json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["case"] == "lorafusion-trainable-params" and rec["verdict"] == "pass"
    assert rec["published"] == 148 and rec["simulated"] == 148.416 and rec["source"].startswith("Guo")


def test_list(capsys):
    assert main(["validate", "--list", "--format", "csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {"fp-smr-tops-per-w", "tsmc22-isscc2021-tops-per-w"} <= {r["case"] for r in rows}
    assert all(r["source"] for r in rows)


def test_table_and_out_files(capsys, tmp_path):
    cases = ["tsmc22-isscc2021-tops-per-w", "nvdcim-stt40-tops-per-w", "fp-smr-tops-per-w"]
    argv = ["validate", "--out", str(tmp_path)] + [a for c in cases for a in ("--case", c)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for col in ("case", "source", "published", "simulated", "error_pct", "band", "verdict"):
        assert col in out.splitlines()[1]
    assert "known deviation nvdcim-stt40-tops-per-w:" in out
    # held-out silicon: tsmc22 (pass) and nvdcim (deviation); the fitted FP-SMR case is counted apart
    assert "held-out silicon cases: 2, within their band: 1 (50 %); fitted silicon cases (not counted): 1" in out
    rows = list(csv.DictReader((tmp_path / "validation.csv").open()))
    assert [r["case"] for r in rows] == cases
    assert [r["verdict"] for r in rows] == ["pass", "known deviation", "fitted"]
    html = (tmp_path / "validation.html").read_text()
    assert html.startswith('<section class="imcsim-validation">') and html.count("<tr class=") == 3
    assert "<html" not in html  # a fragment for report.html


def test_calibrate_prints_fit(capsys):
    assert main(["validate", "--calibrate", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    main_row = rows[0]
    assert main_row["param"] == "read_energy_per_bit_fj" and main_row["feasible"] is True
    assert abs(main_row["stored_residual_pct"] - main_row["recorded_residual_pct"]) < 5e-4
    assert any(r["feasible"] is False for r in rows[1:])


def _one_line_error(*argv):
    proc = run_imcsim(*argv)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    return lines[0]


def test_unknown_case_exits_2_with_one_line():
    line = _one_line_error("validate", "--case", "tsmc-22")
    assert line.startswith("imcsim: error: <flags>: --case: unknown validation case 'tsmc-22'")


def test_calibrate_on_a_case_without_calibration_exits_2():
    line = _one_line_error("validate", "--calibrate", "--case", "lora-trainable-params")
    assert "--case" in line and "fp-smr-tops-per-w" in line
