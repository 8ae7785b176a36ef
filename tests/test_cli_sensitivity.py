"""``imcsim sensitivity`` end to end: table and files; bad flags exit 2 with one line."""

import csv

from cli_helpers import run_imcsim

from imcsim.cli.main import main


def test_device_param_sweep(capsys, tmp_path):
    argv = ["sensitivity", "--device", "sas-mram", "--param", "read_energy_per_bit_fj", "--range", "3:30",
            "--points", "4", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "swing" in out and "tops_per_w" in out
    rows = list(csv.DictReader((tmp_path / "sensitivity.csv").open()))
    assert [float(r["read_energy_per_bit_fj"]) for r in rows] == [3.0, 12.0, 21.0, 30.0]
    tw = [float(r["tops_per_w"]) for r in rows]
    assert tw == sorted(tw, reverse=True) and len(set(tw)) == 4
    assert (tmp_path / "sensitivity.png").stat().st_size > 0 and (tmp_path / "sensitivity.svg").stat().st_size > 0


def test_study_yaml_and_macro_field(capsys, tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("kind: macro\ndevice: sram\nrows: 128\ncols: 128\nrows_parallel: 64\nnode_nm: 22\n")
    argv = ["sensitivity", "--study", str(study), "--param", "and_density", "--range", "0.1:0.4", "--points", "3",
            "--metric", "energy_fj_per_mac", "--out", str(tmp_path / "o"), "--format", "csv"]
    assert main(argv) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    e = [float(r["energy_fj_per_mac"]) for r in rows]
    assert e[0] < e[1] < e[2]      # more 1-products, more adder-tree switching


def _one_line_error(*argv):
    proc = run_imcsim(*argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    return lines[0]


def test_errors(tmp_path):
    out = str(tmp_path)
    assert "--param: not a parameter of sas-mram" in _one_line_error(
        "sensitivity", "--param", "read_fj", "--range", "3:30", "--out", out)
    assert "--range: empty or invalid range '5:5'" in _one_line_error(
        "sensitivity", "--param", "read_energy_per_bit_fj", "--range", "5:5", "--out", out)
    assert "--study: unknown study 'nosuch'" in _one_line_error(
        "sensitivity", "--study", "nosuch", "--param", "read_energy_per_bit_fj", "--range", "3:30", "--out", out)
    assert "--metric: unknown metric" in _one_line_error(
        "sensitivity", "--param", "read_energy_per_bit_fj", "--range", "3:30", "--metric", "tops_w", "--out", out)
    assert not list(tmp_path.iterdir())  # nothing written on bad input
