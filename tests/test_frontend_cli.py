"""``imcsim sensor``: the study runs end to end (tables, files, report.html), the break-even sweep, and
bad input is one line with exit code 2."""

import json

import pytest

from imcsim.cli.main import main
from imcsim.frontend.breakeven import breakeven, roi_for_fraction
from imcsim.frontend.pipeline import run_frontend
from imcsim.frontend.spec import BreakevenSpec, SensorStudy

SMALL = """\
name: small
sensor: hirise-vga
accelerator: acc-sas-mram
frontend:
  pool: 4
  detector: tiny-cnn
  task: tiny-cnn
  rois: [{height: 104, width: 105, count: 1}]
  downscale_resolution: 32
breakeven: {fractions: [0.1, 0.5, 1.0], tolerance: 0.01}
"""


def _write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_sensor_study_end_to_end(tmp_path, capsys):
    study = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["sensor", str(study), "-o", str(out), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    ratio = next(r for r in records if r["table"] == "ratio" and r["baseline"] == "full-frame")
    assert ratio["bits_ratio"] == pytest.approx(17.7367, rel=1e-4)
    assert {r["metric"] for r in records if r["table"] == "breakeven"} == {"bits", "frontend_energy_pj", "energy_pj"}
    for f in ("stages.csv", "schemes.csv", "ratios.csv", "breakeven.csv", "frontend.json", "report.html",
              "frontend_energy.png", "frontend_energy.svg", "frontend_breakeven.png"):
        assert (out / f).is_file(), f
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html and "Break-even" in html and "adc_fom_fj" in html


def test_sensor_table_output_and_card(tmp_path, capsys):
    assert main(["sensor", str(_write(tmp_path, SMALL)), "-o", str(tmp_path / "o"), "--no-breakeven",
                 "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "baseline / two-stage" in text and "assumption: ADC energy" in text
    assert not (tmp_path / "o" / "report.html").exists() and not (tmp_path / "o" / "breakeven.csv").exists()
    assert main(["sensor", "--card", "hirise-vga"]) == 0
    assert "link_energy_per_bit_pj" in capsys.readouterr().out


@pytest.mark.parametrize("edit, pattern", [
    (("rois: [{height: 104, width: 105, count: 1}]", "rois: [{height: 500, width: 105}]"),
     r"frontend.rois.0: ROI does not fit in the frame: '105 x 500'"),
    (("pool: 4", "pool: 7"), r"frontend.pool: pooling factor does not divide the frame: 7"),
    (("rois: [{height: 104, width: 105, count: 1}]", "rois: []"), r"frontend.rois: no ROI for the stage-2 network"),
    (("sensor: hirise-vga", "sensor: nope"), r"sensor: unknown sensor 'nope'"),
    (("pool: 4", "pool: 0"), r"frontend.pool: bad value 0"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, edit, pattern):
    import re

    study = _write(tmp_path, SMALL.replace(*edit))
    assert main(["sensor", str(study), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(pattern, err), err
    assert not (tmp_path / "o").exists()


def test_breakeven_bits_matches_the_closed_form():
    study = SensorStudy.model_validate({"frontend": {"pool": 4}})
    res = run_frontend(study)
    be = breakeven(res, BreakevenSpec(fractions=[0.25, 1.0], tolerance=0.001))
    # bits: 8 (HW/16 + 3 f HW) = 8 x 3HW  ->  f = 1 - 1/48 = 0.97917 (ROI sides rounded to pixels)
    assert be.fraction["bits"] == pytest.approx(1 - 1 / 48, abs=0.003)
    # no networks: front-end energy is the only energy; it breaks even before the bits do, because
    # stage 1 reads every pixel sample: 3HW x 2 pJ + HW (0.3 + 0.1) pJ + (HW/16 + 3fHW)(25.6 + 8 x 5.1) pJ
    # + 3fHW x 2 pJ = 3HW (2 + 66.4)  ->  f = (205.2 - 6 - 0.4 - 66.4/16) / (3 x 68.4) = 0.9484
    assert be.fraction["frontend_energy_pj"] == pytest.approx(0.9484, abs=0.003)
    assert be.fraction["energy_pj"] == pytest.approx(be.fraction["frontend_energy_pj"])
    assert roi_for_fraction(res, 0.25) == (240, 320) and roi_for_fraction(res, 1.0) == (480, 640)
    assert [p["fraction"] for p in be.points] == [0.25, 1.0]
    assert be.points[1]["hirise_bits"] > be.points[1]["baseline_bits"]


def test_imcsim_run_points_to_imcsim_sensor(capsys):
    from imcsim.paths import workloads_dir

    assert main(["run", str(workloads_dir() / "studies" / "hirise-paper.yaml")]) == 2
    assert "imcsim sensor" in capsys.readouterr().err


def test_output_folder_rules_as_imcsim_run(tmp_path, capsys):
    study = _write(tmp_path, SMALL)
    out = tmp_path / "o"
    args = ["sensor", str(study), "-o", str(out), "--no-breakeven", "--no-report", "--format", "csv"]
    assert main(args) == 0
    before = (out / "schemes.csv").read_bytes()
    assert (out / "run.json").is_file()
    capsys.readouterr()
    assert main(args) == 2  # an earlier run is not replaced by accident ...
    assert "holds an earlier run" in capsys.readouterr().err
    assert (out / "schemes.csv").read_bytes() == before
    assert main([*args, "--force"]) == 0  # ... only on request


@pytest.mark.slow
def test_imcsim_report_rebuilds_a_sensor_folder(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["sensor", str(_write(tmp_path, SMALL)), "-o", str(out), "--no-report", "--format", "csv"]) == 0
    assert not (out / "report.html").exists()
    capsys.readouterr()
    assert main(["report", str(out), "--format", "csv"]) == 0
    assert "report.html,page" in capsys.readouterr().out and (out / "frontend_breakeven.png").is_file()
    other = tmp_path / "r"
    before = sorted(p.name for p in out.iterdir())
    assert main(["report", str(out), "--out", str(other)]) == 0
    assert (other / "report.html").is_file() and sorted(p.name for p in out.iterdir()) == before
    (out / "frontend.json").write_text("{")
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot be read as front-end results" in err
