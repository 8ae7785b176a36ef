"""imcsim compare: per-step figures are the engine's, per-task and per-epoch ones are checked by hand
from them, ratios are to the first device, files are written, bad input is one line."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from imcsim.cli.main import main
from imcsim.compare import ratio

ARGV = ["compare", "--device", "sas-mram,reram", "--workload", "tiny-cnn", "--method", "full,last",
        "--set", "steps_per_task=7", "--set", "dataset_size=1001", "--set", "batch=4", "--set", "steps_per_day=50"]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*ARGV, "--out", str(out), "--format", "json"]) == 0
    return json.loads(buf.getvalue()), out


def test_records_are_methods_by_devices_with_the_engines_per_step_figures(compared):
    from imcsim.config.study import study_from_params
    from imcsim.engine.evaluation import evaluate

    records, _ = compared
    assert [(r["method"], r["device"]) for r in records] == [("full", "sas-mram"), ("full", "reram"),
                                                             ("last", "sas-mram"), ("last", "reram")]
    for r in records:
        result = evaluate(study_from_params({"workload": "tiny-cnn", "device": r["device"], "method": r["method"],
                                             "batch": 4, "steps_per_task": 7, "dataset_size": 1001,
                                             "steps_per_day": 50}))
        s = result.summary()
        assert r["energy_per_step_pj"] == s["energy_pj"] and r["time_per_step_ns"] == s["latency_ns"]
        assert r["write_energy_per_step_pj"] == s["write_energy_pj"] > 0
        assert r["write_time_per_step_ns"] == s["write_latency_ns"] > 0
        assert r["write_energy_share"] == s["write_energy_share"]
        assert r["lifetime_years"] == s["lifetime_years"] and r["steps_per_day"] == 50
        assert r["deploy_energy_pj"] == result.mapping["deploy_energy_pj"] > 0
        assert r["deploy_time_ns"] == result.mapping["deploy_latency_ns"]
        assert r["batch"] == 4


def test_per_task_and_per_epoch_by_hand(compared):
    records, _ = compared
    for r in records:
        # a task is steps_per_task = 7 steps; an epoch is ceil(1001 samples / batch 4) = 251 steps
        # (250 full batches and one of 1 sample, still a step)
        assert r["steps_per_task"] == 7 and r["steps_per_epoch"] == 251
        e, t = r["energy_per_step_pj"], r["time_per_step_ns"]
        we, wt = r["write_energy_per_step_pj"], r["write_time_per_step_ns"]
        assert r["energy_per_task_pj"] == pytest.approx(7 * e, rel=1e-12)
        assert r["time_per_task_ns"] == pytest.approx(7 * t, rel=1e-12)
        assert r["write_energy_per_task_pj"] == pytest.approx(7 * we, rel=1e-12)
        assert r["write_time_per_task_ns"] == pytest.approx(7 * wt, rel=1e-12)
        assert r["energy_per_epoch_pj"] == pytest.approx(251 * e, rel=1e-12)
        assert r["time_per_epoch_ns"] == pytest.approx(251 * t, rel=1e-12)
        assert r["write_energy_per_epoch_pj"] == pytest.approx(251 * we, rel=1e-12)
        assert r["write_time_per_epoch_ns"] == pytest.approx(251 * wt, rel=1e-12)
        assert 0 < r["write_energy_share"] < 1
        assert r["write_energy_share"] == pytest.approx(we / e, rel=1e-12)


def test_ratios_are_to_the_first_device_of_the_same_method(compared):
    records, _ = compared
    for first, other in (records[0:2], records[2:4]):
        assert first["energy_vs_first"] == first["write_energy_vs_first"] == 1.0
        assert other["energy_vs_first"] == pytest.approx(other["energy_per_step_pj"] / first["energy_per_step_pj"])
        assert other["write_energy_vs_first"] == pytest.approx(
            other["write_energy_per_step_pj"] / first["write_energy_per_step_pj"])
        assert other["deploy_energy_vs_first"] == pytest.approx(other["deploy_energy_pj"] / first["deploy_energy_pj"])
        assert other["lifetime_vs_first"] == pytest.approx(other["lifetime_years"] / first["lifetime_years"])
    # ReRAM wears out (1e6-class endurance) long before SAS-MRAM: the comparison must show it
    assert records[1]["lifetime_years"] < records[0]["lifetime_years"]


def test_files_hold_the_same_records(compared):
    records, out = compared
    on_disk = json.loads((out / "compare.json").read_text())
    assert on_disk == records
    csv = pd.read_csv(out / "compare.csv")
    assert list(csv["device"]) == [r["device"] for r in records]
    assert csv["write_energy_per_epoch_pj"].tolist() == pytest.approx([r["write_energy_per_epoch_pj"] for r in records])


def test_terminal_table_and_inference_without_writes(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["compare", "--device", "sot-mram,sas-mram", "--workload", "tiny-cnn", "--method", "inference",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ratios to sot-mram" in text and "task_wr_mJ" in text and "compare.csv" in text
    assert max(len(line) for line in text.splitlines() if not line.startswith("written:")) <= 100
    assert main(["compare", "--device", "sot-mram,sas-mram", "--workload", "tiny-cnn", "--method", "inference",
                 "--out", str(out), "--wide"]) == 0
    assert "write_energy_per_task_mj" in capsys.readouterr().out  # --wide: every column, full names
    rec = json.loads((out / "compare.json").read_text())
    # no writes: infinite lifetime (JSON has no infinity: "inf"), write ratio 0/0 has no meaning (null)
    assert [r["lifetime_years"] for r in rec] == ["inf", "inf"]
    assert [r["write_energy_vs_first"] for r in rec] == [None, None]
    assert [r["write_energy_per_epoch_pj"] for r in rec] == [0.0, 0.0]


def test_ratio_edge_cases():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(0.0, 0.0) is None and ratio(1.0, 0.0) == math.inf
    assert ratio(math.inf, math.inf) is None and ratio(5.0, math.inf) == 0.0


@pytest.mark.parametrize("argv, pattern", [
    (["compare", "--device", "sas-mram", "--method", "full"], r"--workload: missing"),
    (["compare", "--device", "sas-mram,nosuch", "--workload", "tiny-cnn", "--method", "full"], r"<flags>: --device: unknown device .nosuch."),
    (["compare", "--device", "sas-mram,sas-mram", "--workload", "tiny-cnn", "--method", "full"], r"listed twice"),
    (["compare", "--device", "sas-mram", "--workload", "tiny-cnn,resnet18", "--method", "full"], r"one workload"),
    (["compare", "--device", "sas-mram", "--workload", "tiny-cnn", "--method", "full", "--set", "stepz_per_task=3"],
     r"unknown study field \(did you mean 'steps_per_task'\?\)"),
    (["compare", "--device", "sas-mram", "--workload", "tiny-cnn", "--method", "full", "--set", "dataset_size=0"],
     r"dataset_size"),
    (["compare", "--device", "sas-mram", "--workload", "tiny-cnn", "--method", "full", "--set", "device=reram"],
     r"has its own flag"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, pattern):
    assert main([*argv, "--out", str(tmp_path / "c")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines
    assert not (tmp_path / "c").exists()
