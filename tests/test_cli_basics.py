"""The imcsim command itself: version, help, and the one-line error contract."""

import subprocess
import sys

import imcsim
from imcsim.cli.main import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out.strip() == f"imcsim {imcsim.__version__}"


def test_console_script_help_runs():
    out = subprocess.run([sys.executable, "-m", "imcsim", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: imcsim" in out.stdout


def test_output_formats(capsys):
    from imcsim.cli.output import emit

    rows = [{"name": "a", "energy_pj": 1.5}, {"name": "b", "energy_pj": 20000.0}]
    emit(rows, "csv")
    assert capsys.readouterr().out.splitlines() == ["name,energy_pj", "a,1.5", "b,20000.0"]
    emit(rows, "json")
    import json

    assert json.loads(capsys.readouterr().out) == rows
    emit(rows, "table")
    lines = capsys.readouterr().out.splitlines()
    # one style per column: 3 significant digits of the smallest value (1.5 -> 2 decimals) for every row
    assert lines[0].split() == ["name", "energy_pj"] and lines[2].split() == ["a", "1.50"]
    assert lines[3].split() == ["b", "20,000.00"]
