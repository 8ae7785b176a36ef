"""Hostile conditions on the output side (issue 18): nothing already written is lost, nothing hangs,
every error a user can cause is one line with exit 2.

Classes: a run into a folder holding a run or a sweep, two writers at once, damaged result parts and
manifests, file-system errors (read-only, full, name too long, a file where a folder is expected,
closed stdout), kill -9 of a parallel sweep, and hash-seed determinism.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_helpers as helpers
from cli_helpers import run_imcsim
from sweep_helpers import COUNT_FILE_ENV, demo_spec, logged_calls

from imcsim.cli.main import main
from imcsim.sweep.outdir import LOCK
from imcsim.sweep.runner import run_sweep
from imcsim.sweep.store import DAMAGED, read_results

RUN = ["run", "--workload", "tiny-cnn", "--no-report", "--format", "csv"]
N = 48  # demo_spec


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("imcsim: error: "), err
    return err[0]


# --------------------------------------------------------------------------------------------- run folders


def test_run_refuses_a_folder_holding_a_run_and_force_replaces_it(tmp_path, capsys):
    out = tmp_path / "o"
    assert main([*RUN, "-o", str(out)]) == 0
    before = _snapshot(out)
    assert {"summary.csv", "layers.csv", "ledger.json", "run.json"} <= set(before)
    assert json.loads(before["run.json"])["format"] == "imcsim-run"
    capsys.readouterr()
    assert main([*RUN, "--rows", "64", "-o", str(out)]) == 2
    assert "holds an earlier run; allowed: another --out folder, or --force" in _one_error_line(capsys)
    assert _snapshot(out) == before                          # untouched
    assert main([*RUN, "--rows", "64", "-o", str(out), "--force"]) == 0
    assert _snapshot(out)["summary.csv"] != before["summary.csv"]
    assert not list(out.glob(".staging-*")) and not (out / LOCK).exists()


def test_run_refuses_a_sweep_folder_and_a_sweep_refuses_a_run_folder(tmp_path, capsys):
    sweep_out = tmp_path / "s"
    run_sweep(demo_spec(), helpers.analytic, sweep_out, progress="none")
    before = _snapshot(sweep_out)
    assert main([*RUN, "-o", str(sweep_out)]) == 2
    assert "holds a sweep" in _one_error_line(capsys)
    assert _snapshot(sweep_out) == before
    run_out = tmp_path / "r"
    assert main([*RUN, "-o", str(run_out)]) == 0
    capsys.readouterr()
    assert main(["sweep", "--workload", "tiny-cnn", "--rows", "32,64", "-o", str(run_out), "--no-report",
                 "--progress", "none"]) == 2
    assert "holds an imcsim run" in _one_error_line(capsys)


def test_a_failed_run_keeps_the_earlier_results(tmp_path, capsys):
    out = tmp_path / "o"
    assert main([*RUN, "-o", str(out)]) == 0
    before = _snapshot(out)
    assert main(["run", "--workload", "tiny-cnn", "--method", "lorafusion", "-o", str(out), "--force"]) == 2
    _one_error_line(capsys)
    assert _snapshot(out) == before


def test_two_writers_exclude_each_other(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (out / LOCK).write_text(str(holder.pid))
        assert main([*RUN, "-o", str(out)]) == 2
        assert f"another imcsim run or sweep is writing into this folder, pid {holder.pid}" in _one_error_line(capsys)
        assert not (out / "summary.csv").exists()
    finally:
        holder.communicate(b"")
    assert main([*RUN, "-o", str(out)]) == 0    # the lock of a dead process is taken over


# --------------------------------------------------------------------------------------------- damaged stores


def _sweep(out, **kw):
    return run_sweep(demo_spec(), helpers.logged, out, progress="none", flush_every=8, **kw)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_a_damaged_part_is_moved_aside_and_its_points_recomputed(tmp_path, monkeypatch, caplog, damage):
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = tmp_path / "calls.txt"
    monkeypatch.setenv(COUNT_FILE_ENV, str(count))
    out = tmp_path / "out"
    _sweep(out, compact_when_done=False)
    parts = sorted((out / "results").glob("part-*.parquet"))
    assert len(parts) == N // 8
    victim = parts[2]
    if damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:100])
    elif damage == "garbage":
        victim.write_bytes(os.urandom(500))
    else:
        pq.write_table(pa.table({"something": [1, 2, 3]}), victim)
    # readers skip it with a warning naming it (and never write)
    df = read_results(out)
    assert len(df) == N - 8 and str(victim) in caplog.text
    assert victim.exists()
    # --resume moves it aside and evaluates exactly its points again
    calls = len(logged_calls(count))
    summary = _sweep(out, resume=True)
    assert summary.evaluated == 8 and len(logged_calls(count)) == calls + 8
    assert (out / "results" / DAMAGED / victim.name).exists()
    assert read_results(out)["point"].tolist() == list(range(N))


def test_force_recovers_a_damaged_manifest(tmp_path, capsys):
    out = tmp_path / "out"
    _sweep(out)
    (out / "sweep.json").write_text("{not json")
    assert main(["report", str(out)]) == 2
    assert "sweep.json: cannot be read" in _one_error_line(capsys)
    summary = _sweep(out, force=True)
    assert summary.evaluated == N and len(read_results(out)) == N


def test_compaction_keeps_parts_readable_one_by_one(tmp_path, monkeypatch):
    import imcsim.sweep.store as store

    monkeypatch.setattr(store, "COMPACT_ROWS_PER_PART", 10)
    out = tmp_path / "out"
    _sweep(out)
    parts = sorted((out / "results").glob("part-*.parquet"))
    assert len(parts) == 5                       # 48 rows in parts of at most 10
    parts[0].write_bytes(b"broken")
    assert len(read_results(out)) == N - 10      # the other parts still read


@pytest.mark.parametrize("content", [b"", os.urandom(300), b"\xff\xfe\x00garbage\n1,2\n"])
def test_report_on_an_empty_or_binary_summary_is_one_line(tmp_path, capsys, content):
    (tmp_path / "summary.csv").write_bytes(content)
    assert main(["report", str(tmp_path)]) == 2
    assert "summary.csv" in _one_error_line(capsys)


@pytest.mark.parametrize("manifest", ['{"format": "imcsim-sweep", "version": "x"}', "[1, 2]",
                                      '{"format": "imcsim-sweep", "version": 1, "fields": 3}'])
def test_report_on_a_malformed_manifest_is_one_line(tmp_path, capsys, manifest):
    (tmp_path / "sweep.json").write_text(manifest)
    assert main(["report", str(tmp_path)]) == 2
    assert "sweep.json" in _one_error_line(capsys)


# --------------------------------------------------------------------------------------------- file systems


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_file_system_errors_are_one_line(tmp_path, capsys, monkeypatch, code):
    out = tmp_path / "o"
    assert main([*RUN, "-o", str(out)]) == 0
    before = _snapshot(out)
    real = os.replace

    def failing(src, dst, *a, **kw):
        if str(dst).endswith("summary.csv"):
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", failing)
    capsys.readouterr()
    assert main([*RUN, "-o", str(out), "--force"]) == 2
    line = _one_error_line(capsys)
    assert "summary.csv" in line and os.strerror(code) in line
    assert _snapshot(out)["summary.csv"] == before["summary.csv"]


def test_a_file_where_a_folder_is_expected(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main([*RUN, "-o", str(tmp_path / "f")]) == 2
    assert "output path exists and is not a folder" in _one_error_line(capsys)
    assert main([*RUN, "-o", str(tmp_path / "f" / "sub")]) == 2
    assert "is a file, not a folder" in _one_error_line(capsys)
    assert main([*RUN, "-o", str(tmp_path / ("n" * 400))]) == 2
    assert "File name too long" in _one_error_line(capsys)
    assert main([*RUN, "--device", "d" * 5000, "-o", str(tmp_path / "x")]) == 2
    assert "unknown device" in _one_error_line(capsys)


def test_closed_stdout_is_not_a_crash(tmp_path):
    proc = subprocess.run(f"{sys.executable} -m imcsim devices >&-", shell=True, capture_output=True, text=True)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "imcsim", "devices"], stdout=open("/dev/full", "w"),  # noqa: SIM115
                          stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "No space left" in proc.stderr


# --------------------------------------------------------------------------------------------- kill -9, determinism


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_kill_9_of_a_parallel_sweep_leaves_no_worker_and_resume_completes(tmp_path, monkeypatch):
    count = tmp_path / "calls.txt"
    monkeypatch.setenv(COUNT_FILE_ENV, str(count))
    out = tmp_path / "out"
    env = dict(os.environ, **{helpers.SLEEP_ENV: "0.1"})
    proc = subprocess.Popen([sys.executable, str(Path(helpers.__file__)), str(out), "--jobs", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 180     # a safety net for a hung child, not a speed check
        while len(list((out / "results").glob("part-*.parquet"))) < 4:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sweep subprocess stored nothing"
            time.sleep(0.05)
        workers = [p for p in _children(proc.pid) if _alive(p)]
        assert len(workers) >= 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    stored = set(read_results(out)["point_id"])
    assert 4 <= len(stored) < N
    summary = run_sweep(demo_spec(), helpers.logged, out, resume=True, progress="none")
    assert summary.skipped == len(stored) and summary.complete
    assert read_results(out)["point"].tolist() == list(range(N))


def test_identical_runs_with_different_hash_seeds_are_byte_identical(tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"o{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-m", "imcsim", "run", "--workload", "resnet18", "--method", "full",
                               "--no-report", "--format", "csv", "-o", str(out)], env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    for name in ("summary.csv", "layers.csv", "ledger.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


@pytest.mark.slow
def test_a_sweep_gives_the_same_bytes_with_one_or_two_workers(tmp_path, monkeypatch):
    """Results independent of --jobs: the same engine points, serial and on two worker processes (the
    command runs in the test process; --jobs 2 starts its own worker processes)."""
    import imcsim.sweep.runner as runner

    monkeypatch.setattr(runner, "SERIAL_FIRST_S", 0)   # the workers from the first point (not after 2 s)
    tables = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        proc = run_imcsim("sweep", "--workload", "tiny-cnn", "--device", "sas-mram,reram", "--rows", "32,64",
                          "--method", "inference,last", "--jobs", str(jobs), "-o", str(out), "--no-report",
                          "--progress", "none")
        assert proc.returncode == 0, proc.stderr
        tables.append(read_results(out).to_csv(index=False).encode())
    assert tables[0] == tables[1] and tables[0].count(b"\n") == 1 + 8
