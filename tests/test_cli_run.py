"""imcsim run: flags, study files with runs, the default study, traces, and one-line errors."""

import json
import re

import pandas as pd
import pytest
from cli_helpers import run_imcsim

from imcsim.cli.main import main


def test_flags_run_writes_the_ledger_files(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--workload", "tiny-cnn", "--device", "sot-mram", "--rows", "64", "--cols", "64",
                 "--out", str(out), "--no-report", "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["device"] == "sot-mram" and rec["workload"] == "tiny-cnn" and rec["energy_pj"] > 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "rows"] == 64 and summary.loc[0, "energy_pj"] == pytest.approx(rec["energy_pj"])
    layers = pd.read_csv(out / "layers.csv")
    # the ledger's per-op energies add up to the total less the chip standby leakage
    ledger = json.loads((out / "ledger.json").read_text())
    standby = ledger["energy_pj"]["leakage"] - layers["energy_leakage_pj"].sum()
    assert layers["energy_pj"].sum() + standby == pytest.approx(rec["energy_pj"], rel=1e-9)


def test_lora_on_a_cnn_needs_no_targets(tmp_path, capsys):
    # digits-cnn has no attention: LoRA's unset targets adapt its classifier (32 -> 10): 16 x (32 + 10) weights
    assert main(["run", "--workload", "digits-cnn", "--method", "lora", "--out", str(tmp_path / "r"), "--no-report",
                 "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["weights_written"] == 16 * (32 + 10)


@pytest.mark.slow
def test_study_file_with_runs_and_trace(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text("description: two devices\nworkload: tiny-cnn\nengine: event\n"
                     "runs:\n  - {name: a, device: sas-mram}\n  - {name: b, device: reram}\n")
    out = tmp_path / "o"
    assert main(["run", str(study), "--out", str(out), "--trace", str(tmp_path / "t.json")]) == 0
    assert (out / "a_summary.csv").exists() and (out / "b_ledger.json").exists()
    assert (out / "report.html").exists()
    trace = json.loads((tmp_path / "a_t.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])
    table = capsys.readouterr().out
    assert "sas-mram" in table and "reram" in table


@pytest.mark.slow
def test_default_study(tmp_path, capsys):
    out = tmp_path / "default"
    assert main(["run", "--default", "--out", str(out), "--no-report"]) == 0
    a = pd.read_csv(out / "resnet18-inference_summary.csv")
    b = pd.read_csv(out / "repnet-proxylessnas_summary.csv")
    assert a.loc[0, "method"] == "inference" and a.loc[0, "weights_written"] == 0
    assert b.loc[0, "method"] == "repnet" and b.loc[0, "weights_written"] > 0 and b.loc[0, "engine"] == "event"


@pytest.mark.parametrize("argv, pattern", [
    (["run"], r"--workload: missing"),
    (["run", "--workload", "nosuch"], r"unknown workload"),
    (["run", "--workload", "tiny-cnn", "--rows", "0"], r"macro.rows: bad value 0"),
    (["run", "--workload", "tiny-cnn", "--trace", "t.json"], r"a trace needs the event engine"),
    (["run", "--workload", "tiny-cnn", "--set", "chip.tilez=3"], r"chip.tilez: unknown accelerator field"),
    (["run", "--workload", "tiny-cnn", "--method", "lora", "--set", "method.targets=[q, v]"], r"lora.*q/v"),
    (["run", "nope.yaml"], r"nope.yaml: file does not exist"),
])
def test_bad_input_is_one_line(tmp_path, argv, pattern):
    proc = run_imcsim(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "reports").exists()
