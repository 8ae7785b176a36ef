"""imcsim sweep end to end: the issue's ResNet-18 demonstration (store, plots, report.html), kill and
resume without recomputing, --jobs and Dask give the serial table, and bad specs are one line that
leaves the output folder as it was.

The demonstration sweep is 3 devices x 4 rows x 4 cols x 4 methods = 192 points: inference, full and
last apply to ResNet-18; lorafusion does not (no attention projections), so its 48 points must be recorded as
failed while the sweep goes on. Analytic engine: about 0.6 s for the 192 points (measured).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import DEMO

from imcsim.cli.main import main
from imcsim.sweep import read_manifest, read_results

N_DEMO = 3 * 4 * 4 * 4
N_FAILING = 3 * 4 * 4  # every lorafusion point


def _sweep_json(argv: list[str], capsys) -> dict:
    code = main(["sweep", *argv, "--format", "json", "--progress", "none"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)[0]


def _failures(out: Path) -> str:
    """Why points failed, by error and method (a parallel run once failed 55 more points than the serial one
    under heavy load, and the errors were not kept): the assertion message of the parallel-run tests."""
    table = read_results(out)
    failed = table[table["status"] != "ok"]
    return failed.groupby(["method", "error"]).size().to_string()


@pytest.fixture(scope="module")
def serial_table(demo_sweep) -> pd.DataFrame:
    """The demonstration sweep run serially (the session's ``demo_sweep``): the reference table."""
    return read_results(demo_sweep.out)


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------- the demonstration


@pytest.mark.slow
def test_demo_sweep_writes_store_plots_and_report(demo_sweep):
    out, summary = demo_sweep.out, demo_sweep.summary
    assert demo_sweep.code == 0, demo_sweep.stderr
    assert summary["points"] == N_DEMO and summary["evaluated"] == N_DEMO and summary["skipped"] == 0
    assert summary["failed"] == N_FAILING and summary["complete"] is True
    assert "48 point(s) failed" in demo_sweep.stderr

    df = read_results(out)
    assert len(df) == N_DEMO
    failed = df[df["status"] == "error"]
    assert set(failed["method"]) == {"lorafusion"} and len(failed) == N_FAILING
    assert failed["error"].str.contains("cannot apply to workload 'resnet18'").all()
    ok = df[df["status"] == "ok"]
    assert set(ok["method"]) == {"inference", "full", "last"} and (ok["energy_pj"] > 0).all()
    assert (ok["engine"] == "analytic").all()
    # every (device, rows, cols, method) combination is there exactly once
    assert not df.duplicated(["device", "rows", "cols", "method"]).any()

    assert sorted((out / "results").glob("part-*.parquet")) and (out / "sweep.json").is_file()
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
    for plot in ("array_size", "energy_breakdown", "pareto", "utilisation"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000
        assert (out / "plots" / f"{plot}.svg").is_file()
    assert (out / "tables" / "failed.csv").is_file()


@pytest.mark.slow  # needs the demo sweep (session fixture)
def test_jobs_2_gives_the_serial_table(tmp_path, capsys, serial_table, monkeypatch):
    import imcsim.sweep.runner as runner

    monkeypatch.setattr(runner, "SERIAL_FIRST_S", 0)   # the workers from the first point (not after 2 s)
    out = tmp_path / "jobs"
    summary = _sweep_json([*DEMO, "-o", str(out), "--jobs", "2", "--no-report"], capsys)
    assert (summary["evaluated"], summary["failed"]) == (N_DEMO, N_FAILING), _failures(out)
    pd.testing.assert_frame_equal(read_results(out), serial_table)
    assert read_manifest(out)["runs"][0]["jobs"] == 2


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_table(tmp_path, capsys, serial_table):
    distributed = pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        summary = _sweep_json([*DEMO, "-o", str(out), "--scheduler", cluster.scheduler_address, "--no-report"],
                              capsys)
    assert (summary["evaluated"], summary["failed"]) == (N_DEMO, N_FAILING), _failures(out)
    pd.testing.assert_frame_equal(read_results(out), serial_table)
    assert read_manifest(out)["runs"][0]["scheduler"] == cluster.scheduler_address


# ---------------------------------------------------------------------------- kill and --resume


def _start(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "imcsim", "sweep", *DEMO, "-o", str(out), "--no-report",
                             "--progress", "none", "--format", "json", "--force"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after_first_part(out: Path, sig: int) -> subprocess.Popen | None:
    """Start the demo sweep and send ``sig`` as soon as its first result part is on disk (64 points);
    None when the sweep finished before the signal landed."""
    proc = _start(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "results").is_dir() and any(p.suffix == ".parquet" for p in (out / "results").iterdir()):
            proc.send_signal(sig)
            break
        time.sleep(0.002)
    proc.wait(timeout=60)
    if proc.returncode == 0:
        return None
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_halfway_then_resume_skips_the_stored_points(tmp_path, capsys, serial_table, sig):
    out = tmp_path / "killed"
    # the kill must land while points remain (about 0.4 s of them); a run that finished first is retried
    for _ in range(3):
        proc = _kill_after_first_part(out, sig)
        if proc is not None:
            break
    else:
        pytest.fail("the sweep finished before the signal three times")
    stored = read_results(out)
    n_stored = len(stored)
    assert 0 < n_stored < N_DEMO
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        interrupted = json.loads(proc.stdout.read())[0]
        assert interrupted["complete"] is False and interrupted["evaluated"] == n_stored
        assert "rerun with --resume" in proc.stderr.read()
        assert read_manifest(out)["runs"][-1]["interrupted"] is True
    else:
        assert proc.returncode == -signal.SIGKILL

    summary = _sweep_json([*DEMO, "-o", str(out), "--resume", "--no-report"], capsys)
    # nothing stored is computed again: exactly the missing points are evaluated
    assert summary["skipped"] == n_stored and summary["evaluated"] == N_DEMO - n_stored
    assert summary["complete"] is True
    pd.testing.assert_frame_equal(read_results(out), serial_table)
    # a second resume has nothing left to do
    again = _sweep_json([*DEMO, "-o", str(out), "--resume", "--no-report"], capsys)
    assert (again["skipped"], again["evaluated"]) == (N_DEMO, 0)


# ----------------------------------------------------------------------------------- bad specs


@pytest.fixture(scope="module")
def finished_folder(tmp_path_factory) -> Path:
    """A folder holding a finished small sweep plus a user's note: bad specs must leave it as it is."""
    out = tmp_path_factory.mktemp("held") / "held"
    assert main(["sweep", "--workload", "tiny-cnn", "--device", "sas-mram,reram", "--rows", "32,64", "-o", str(out),
                 "--no-report", "--progress", "none", "--format", "json"]) == 0
    (out / "notes.txt").write_text("mine\n")
    return out


BASE = ["--workload", "tiny-cnn", "--device", "sas-mram,reram"]


@pytest.mark.parametrize("argv, pattern", [
    ([*BASE, "--rowz", "64"], r"--rowz: unknown field \(did you mean '--rows'\?\)"),
    ([*BASE, "--chip.tilez", "3"], r"--chip.tilez: unknown accelerator field \(did you mean '--chip.tiles'\?\)"),
    ([*BASE, "--workload.seq-length", "3"], r"--workload.seq-length: unknown workload option \(did you mean '--workload.seq-len'\?\)"),
    ([*BASE, "--rows", "256:64:64"], r"--rows: empty range \(stop below start\)"),
    ([*BASE, "--rows", "64:256:0"], r"--rows: empty range \(step must be positive\)"),
    ([*BASE, "--rows", "64,big"], r"--rows: wrong type of value 'big'; allowed: integers"),
    ([*BASE, "--rows", "64.5"], r"--rows: wrong type of value '64.5'"),
    ([*BASE, "--engine", "fast"], r"--engine: not an allowed value: 'fast'; allowed: one of analytic, event"),
    ([*BASE, "--rows", "0,64"], r"--rows: .*0"),
    ([*BASE, "--flip-prob", "0.5,1.5"], r"--flip-prob: .*1.5"),
    (["--workload", "tiny-cnn", "--device", "sas-mram,nosuch"], r"--device: unknown device 'nosuch'"),
    (["--workload", "resnt18"], r"--workload: unknown workload \(did you mean 'resnet18'\?\)"),
    (["--workload", "tiny-cnn", "--method", "inference,nosuch"], r"--method: unknown method 'nosuch'"),
    (["--workload", "tiny-cnn", "--workload.seq-len", "0"], r"--workload.seq-len: .*0"),
    (["--workload", "tiny-cnn", "--method", "inference,lora", "--method.rank", "0"],
     r"--method.rank: bad value 0; allowed: input should be greater than or equal to 1"),
    ([*BASE, "--rows", "32,64", "--filter", "rows > 1000"], r"filters: the filters drop all 4 combinations"),
    ([*BASE, "--filter", "rowz > 1"], r"rowz"),
    (["--device", "sas-mram"], r"--workload: missing"),
    ([*BASE, "--resume", "--force"], r"--force: cannot be combined with --resume; allowed: one of"),  # (no "; True")
    ([*BASE, "--retry-failed"], r"--retry-failed: needs --resume$"),
    (["nosuch.yaml"], r"nosuch.yaml: file does not exist"),
    # a different sweep is in the folder, and neither --resume nor --force is given
    ([*BASE, "--rows", "128"], r"holds a different sweep|different|--resume"),
    # the same sweep again without --resume or --force
    ([*BASE, "--rows", "32,64"], r"--resume|--force"),
])
def test_bad_spec_is_one_line_and_leaves_the_folder(finished_folder, argv, pattern, capsys):
    before = _snapshot(finished_folder)
    code = main(["sweep", *argv, "-o", str(finished_folder), "--no-report", "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imcsim: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert _snapshot(finished_folder) == before


def test_bad_value_in_a_study_file_names_the_file_and_the_axis(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text("workload: tiny-cnn\nsweep:\n  axes:\n    rows: [32, 0]\n")
    assert main(["sweep", str(study), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"imcsim: error: {study}: sweep.axes.rows: bad value 0; allowed: input should be greater than 0"
    # a flag overriding the file is blamed on the flag
    assert main(["sweep", str(study), "--rows", "32,-1", "-o", str(tmp_path / "o")]) == 2
    assert "<flags>: --rows: bad value -1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_spec_from_the_real_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "imcsim", "sweep", "--workload", "resnet18", "--rows", "0:64:16"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "--rows" in proc.stderr
    assert not (tmp_path / "reports").exists()


# ------------------------------------------------------------------------ files, folders, fields


def test_default_folder_is_a_hash_of_the_plan(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--workload", "tiny-cnn", "--rows", "32,64", "--no-report"]
    first = _sweep_json(argv, capsys)
    assert Path(first["out"]).parent == Path("reports") and Path(first["out"]).name.startswith("sweep-")
    # the same points, written another way (a range), land in the same folder and are all skipped
    again = _sweep_json(["--workload", "tiny-cnn", "--rows", "32:64*2", "--resume", "--no-report"], capsys)
    assert again["out"] == first["out"] and (again["skipped"], again["evaluated"]) == (2, 0)


def test_sweep_yaml_with_flag_override_and_filter(tmp_path, capsys):
    spec = tmp_path / "mine.yaml"
    spec.write_text("description: a small sweep\n"
                    "base: {workload: tiny-cnn, write_policy: diff}\n"
                    "axes:\n  device: [sas-mram, sot-mram, reram]\n  rows: {start: 32, stop: 128, factor: 2}\n"
                    "filters: [\"not (device == 'reram' and rows > 64)\"]\n")
    out = tmp_path / "o"
    summary = _sweep_json([str(spec), "--cols", "32,64", "--filter", "cols <= rows", "-o", str(out),
                           "--no-report"], capsys)
    df = read_results(out)
    # 3 devices x 3 rows x 2 cols = 18, minus reram at rows 128 (2 cols), minus cols > rows (rows 32 with
    # cols 64, on each of the 3 devices)
    assert summary["points"] == len(df) == 18 - 2 - 3
    assert (df["write_policy"] == "diff").all() and (df["engine"] == "analytic").all()
    assert not ((df["device"] == "reram") & (df["rows"] > 64)).any() and (df["cols"] <= df["rows"]).all()
    assert (df["status"] == "ok").all()
    assert (out / "description.txt").read_text().strip() == "a small sweep"


def test_study_file_with_runs_sweeps_each_run(tmp_path, capsys):
    study = tmp_path / "two.yaml"
    study.write_text("workload: tiny-cnn\nruns:\n  - {name: a, device: sas-mram}\n"
                     "  - {name: b, device: reram, method: last}\n"
                     "sweep:\n  axes:\n    rows: [32, 64]\n    cols: [32, 64]\n  filters: [cols >= rows]\n")
    out = tmp_path / "o"
    summary = _sweep_json([str(study), "-o", str(out), "--no-report"], capsys)
    df = read_results(out)
    assert summary["points"] == len(df) == 2 * 3  # two runs x three (rows, cols) kept
    assert list(df["name"]) == ["a"] * 3 + ["b"] * 3
    assert set(df.loc[df["name"] == "b", "method"]) == {"last"} and set(df.loc[df["name"] == "a", "device"]) == {
        "sas-mram"}
    assert (df["status"] == "ok").all()


def test_dotted_fields_are_typed_by_their_model(tmp_path, capsys):
    out = tmp_path / "o"
    _sweep_json(["--workload", "tiny-cnn", "--chip.tiles", "8,16", "--tile.macros", "4", "--workload.resolution",
                 "32", "--set", "tile.write_drivers=2", "-o", str(out), "--no-report"], capsys)
    df = read_results(out)
    assert list(df["chip.tiles"]) == [8, 16] and (df["workload.resolution"] == 32).all()
    assert (df["tile.write_drivers"] == 2).all() and (df["status"] == "ok").all()
    # tiles x macros per tile: 8 x 4 and 16 x 4
    assert list(df["map_n_macros"]) == [32, 64]


def test_event_engine_on_request(tmp_path, capsys):
    out = tmp_path / "o"
    _sweep_json(["--workload", "tiny-cnn", "--engine", "analytic,event", "-o", str(out), "--no-report"], capsys)
    df = read_results(out)
    assert list(df["engine"]) == ["analytic", "event"] and (df["status"] == "ok").all()
    # both engines price the same ops: every component but the standby leakage (over each engine's own
    # latency) and the activations the row engine stages in buffers or DRAM is identical
    for c in ("cell_read", "sense_amp", "adder_tree", "shift_accumulate", "noc", "digital_unit", "write"):
        assert df[f"energy_{c}_pj"].iloc[0] == pytest.approx(df[f"energy_{c}_pj"].iloc[1], rel=1e-12), c
    # the analytic engine's row estimate is a lower bound of the row event engine (engine/estimate.py), so its
    # standby leakage (charged over the latency) is no larger either
    assert df["latency_ns"].iloc[0] <= df["latency_ns"].iloc[1]
    assert df["energy_leakage_pj"].iloc[0] <= df["energy_leakage_pj"].iloc[1]
    assert "map_events" in df.columns and pd.isna(df["map_events"].iloc[0]) and df["map_events"].iloc[1] > 0


def test_progress_lines_go_to_stderr(tmp_path, capsys):
    code = main(["sweep", "--workload", "tiny-cnn", "--rows", "32,64", "-o", str(tmp_path / "o"), "--no-report",
                 "--progress", "lines", "--format", "csv"])
    captured = capsys.readouterr()
    assert code == 0
    assert "[2/2]" in captured.err
    assert captured.out.splitlines()[0].startswith("points,skipped,evaluated")


def test_command_modules_import_nothing_heavy():
    """The sweep command module imports nothing heavy at registration (imcsim --help stays fast)."""
    code = ("import sys, imcsim.cli.sweep, imcsim.cli.compare; "
            "print(any(m in sys.modules for m in ('pandas', 'pyarrow', 'numba', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert out.stdout.strip() == "False", out.stderr
