"""Running sweeps: failures recorded, Ctrl-C / kill keep finished points, resume, jobs and Dask equal serial."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sweep_helpers as helpers
from sweep_helpers import COUNT_FILE_ENV, FIELD_TYPES, demo_spec, key, logged_calls

from imcsim.errors import SpecError
from imcsim.sweep.runner import SweepInterrupted, clean_metrics, evaluate_safely, run_sweep
from imcsim.sweep.spec import spec_from_flags
from imcsim.sweep.store import read_manifest, read_results

HELPERS = Path(helpers.__file__)
N = 48  # demo_spec: 3 devices x 4 rows (64..512) x 4 cols


@pytest.fixture
def count_file(tmp_path, monkeypatch):
    path = tmp_path / "calls.log"
    monkeypatch.setenv(COUNT_FILE_ENV, str(path))
    return path


def test_serial_sweep_stores_every_point(tmp_path):
    summary = run_sweep(demo_spec(), helpers.analytic, tmp_path / "out", progress="none")
    assert (summary.total, summary.skipped, summary.evaluated, summary.failed, summary.complete) == (N, 0, N, 0, True)
    df = read_results(tmp_path / "out")
    assert len(df) == N and (df["status"] == "ok").all() and df["error"].isna().all()
    first = df.iloc[0]
    assert (first["device"], first["rows"], first["cols"], first["workload"]) == ("sas-mram", 64, 32, "resnet18")
    assert first["energy_pj"] == pytest.approx(64 * 32 * 2.0 / 1000 / 3)     # 1.3653 pJ
    assert first["latency_ns"] == pytest.approx(8 * 1024 / 64 * 1.7)          # 217.6 ns
    manifest = read_manifest(tmp_path / "out")
    assert manifest["finished"] is not None and manifest["runs"][0]["evaluated"] == N
    assert len(list((tmp_path / "out" / "results").glob("part-*.parquet"))) == 1   # compacted when done


def test_failing_points_are_recorded_and_the_sweep_goes_on(tmp_path):
    summary = run_sweep(demo_spec(), helpers.failing, tmp_path, progress="none")
    # reram with 256 and 512 rows fail: 2 rows x 4 cols = 8 points
    assert (summary.evaluated, summary.failed, summary.complete) == (N, 8, True)
    df = read_results(tmp_path)
    bad = df[df["status"] == "error"]
    assert set(zip(bad["device"], bad["rows"])) == {("reram", 256), ("reram", 512)}
    assert bad["error"].iloc[0] == "ValueError: rows 256 too tall for reram second line of detail"
    assert bad["energy_pj"].isna().all()
    good = df[df["status"] == "ok"]
    assert len(good) == 40 and good["energy_pj"].notna().all()


def test_metrics_are_checked(tmp_path):
    params = {"rows": 64, "device": "reram"}
    assert clean_metrics({"energy_pj": np.float64(2.5), "n": np.int64(3), "rows": 64}, params) == {
        "energy_pj": 2.5, "n": 3}                   # numpy scalars unwrapped; an echoed field dropped
    assert type(clean_metrics({"n": np.int64(3)}, params)["n"]) is int
    assert evaluate_safely(lambda p: [1, 2], params) == ("error", "ValueError: evaluate returned list, expected a dict of metrics", {})
    assert evaluate_safely(lambda p: {"rows": 128}, params)[1] == (
        "ValueError: metric 'rows'=128 clashes with the study field rows=64")
    assert evaluate_safely(lambda p: {"status": "x"}, params)[1] == "ValueError: metric name 'status' is reserved for the result table"
    assert evaluate_safely(lambda p: {"v": [1]}, params)[1].startswith("ValueError: metric 'v' is a list")
    assert evaluate_safely(lambda p: 1 / 0, params) == ("error", "ZeroDivisionError: division by zero", {})
    long = evaluate_safely(lambda p: (_ for _ in ()).throw(RuntimeError("x" * 1000)), params)[1]
    assert len(long) == 300 and long.endswith("...")


def test_ctrl_c_keeps_finished_points_and_resume_does_not_recompute_them(tmp_path, count_file, monkeypatch):
    k = 17
    monkeypatch.setenv(helpers.STOP_AFTER_ENV, str(k))
    helpers.reset_calls()
    out = tmp_path / "out"
    # a batch far larger than k: the finished points reach the disk because Ctrl-C flushes them
    with pytest.raises(SweepInterrupted) as err:
        run_sweep(demo_spec(), helpers.stop_after, out, progress="none", flush_every=1000, flush_seconds=1e9)
    summary = err.value.summary
    assert (summary.evaluated, summary.complete) == (k, False)
    assert isinstance(err.value, KeyboardInterrupt)
    stored = read_results(out)
    assert stored["point"].tolist() == list(range(k))
    first_run = logged_calls(count_file)
    assert first_run == [key(p.params) for p in demo_spec().expand()[:k]]
    manifest = read_manifest(out)
    assert manifest["finished"] is None and manifest["runs"][0]["interrupted"] is True

    summary = run_sweep(demo_spec(), helpers.logged, out, resume=True, progress="none")
    assert (summary.skipped, summary.evaluated, summary.complete) == (k, N - k, True)
    second_run = logged_calls(count_file)[k:]
    assert len(second_run) == N - k and not set(second_run) & set(first_run)
    assert len(read_results(out)) == N
    # and once more: nothing left to do
    summary = run_sweep(demo_spec(), helpers.logged, out, resume=True, progress="none")
    assert (summary.skipped, summary.evaluated) == (N, 0) and len(logged_calls(count_file)) == N


@pytest.mark.slow
@pytest.mark.parametrize("sig, jobs", [(signal.SIGKILL, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2)],
                         ids=["kill-serial", "term-serial", "ctrl-c-jobs2"])
def test_killed_sweep_keeps_finished_points_and_resume_finishes_it(tmp_path, count_file, sig, jobs):
    out = tmp_path / "out"
    env = dict(os.environ, **{helpers.SLEEP_ENV: "0.1"})   # slow enough to be stopped halfway
    proc = subprocess.Popen([sys.executable, str(HELPERS), str(out), "--jobs", str(jobs)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120     # a safety net for a hung child, not a speed check
        while len(list((out / "results").glob("part-*.parquet"))) < 10:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sweep subprocess stored nothing"
            time.sleep(0.02)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stored = set(read_results(out)["point_id"])
    calls = logged_calls(count_file)
    assert 10 <= len(stored) < N
    if sig == signal.SIGTERM:
        # SIGTERM takes the Ctrl-C path: every evaluation that returned was stored; at most the one
        # in progress when the signal came is lost
        assert len(calls) - len(stored) in (0, 1)
    if sig != signal.SIGKILL:
        assert proc.returncode != 0 and b"SweepInterrupted: sweep interrupted" in stderr
        assert read_manifest(out)["runs"][-1]["interrupted"] is True

    summary = run_sweep(demo_spec(), helpers.logged, out, resume=True, progress="none")
    assert summary.skipped == len(stored) and summary.evaluated == N - len(stored)
    rerun = logged_calls(count_file)[len(calls):]
    ids = {key(p.params): p.id for p in demo_spec().expand()}
    assert {ids[c] for c in rerun} == set(ids.values()) - stored     # exactly the missing points, once each
    assert len(rerun) == len(set(rerun))
    assert read_results(out)["point"].tolist() == list(range(N))


def test_retry_failed_reruns_only_the_errors(tmp_path, count_file):
    run_sweep(demo_spec(), helpers.failing, tmp_path, progress="none")
    summary = run_sweep(demo_spec(), helpers.logged, tmp_path, resume=True, retry_failed=True, progress="none")
    assert (summary.skipped, summary.evaluated) == (40, 8)
    assert {c.split("/")[1] for c in logged_calls(count_file)} == {"device=reram"}
    assert (read_results(tmp_path)["status"] == "ok").all()


def test_different_sweep_in_the_folder_is_refused_before_anything_runs(tmp_path, count_file):
    run_sweep(demo_spec(), helpers.analytic, tmp_path, progress="none")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    other = spec_from_flags({"device": "reram", "rows": "64,128", "cols": "64"}, FIELD_TYPES)
    with pytest.raises(SpecError, match="holds a different sweep"):
        run_sweep(other, helpers.logged, tmp_path, progress="none")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert logged_calls(count_file) == []


def test_force_starts_over(tmp_path, count_file):
    run_sweep(demo_spec(), helpers.failing, tmp_path, progress="none")
    summary = run_sweep(demo_spec(), helpers.logged, tmp_path, force=True, progress="none")
    assert (summary.cleared, summary.evaluated) == (N, N) and len(logged_calls(count_file)) == N
    assert (read_results(tmp_path)["status"] == "ok").all()


@pytest.mark.slow
def test_two_worker_processes_give_the_serial_table(tmp_path, count_file):
    serial = run_sweep(demo_spec(), helpers.failing, tmp_path / "serial", progress="none")
    parallel = run_sweep(demo_spec(), helpers.failing, tmp_path / "jobs2", jobs=2, progress="none",
                         chunk_size=5, flush_every=3, serial_first_s=0)
    assert (parallel.evaluated, parallel.failed) == (serial.evaluated, serial.failed)
    pd.testing.assert_frame_equal(read_results(tmp_path / "jobs2"), read_results(tmp_path / "serial"))
    # each point evaluated exactly once across the worker processes
    run_sweep(demo_spec(), helpers.logged, tmp_path / "logged", jobs=2, progress="none", serial_first_s=0)
    calls = logged_calls(count_file)
    assert sorted(calls) == sorted(key(p.params) for p in demo_spec().expand())


def test_warmup_runs_once_per_worker_process(tmp_path, monkeypatch):
    log = tmp_path / "warm.log"
    monkeypatch.setenv("IMCSIM_TEST_WARM_FILE", str(log))
    run_sweep(demo_spec(), helpers.analytic, tmp_path / "a", jobs=2, progress="none", warmup=helpers.warm,
              serial_first_s=0)
    pids = log.read_text().split()
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids) and str(os.getpid()) not in pids
    log.unlink()
    run_sweep(demo_spec(), helpers.analytic, tmp_path / "b", progress="none", warmup=helpers.warm)
    assert log.read_text().split() == [str(os.getpid())]


@pytest.mark.parametrize("evaluate", [helpers.with_pid, helpers.with_pid_batch], ids=["one-by-one", "batch"])
def test_jobs_start_workers_only_for_the_points_left_after_serial_first_s(tmp_path, evaluate):
    # --jobs 2 was slower than serial on small sweeps (starting and warming the workers): a short sweep is now
    # evaluated in this process, no worker started
    run_sweep(demo_spec(), evaluate, tmp_path / "short", jobs=2, progress="none")
    assert set(read_results(tmp_path / "short")["pid"]) == {os.getpid()}
    # past serial_first_s (here: after the first point) the points left go to the workers
    run_sweep(demo_spec(), evaluate, tmp_path / "split", jobs=2, progress="none", serial_first_s=1e-9)
    pids = read_results(tmp_path / "split")["pid"].tolist()
    assert pids[0] == os.getpid() and os.getpid() not in pids[1:] and 1 <= len(set(pids[1:])) <= 2
    run_sweep(demo_spec(), evaluate, tmp_path / "serial", progress="none")
    serial = read_results(tmp_path / "serial").drop(columns="pid")
    for name in ("short", "split"):
        pd.testing.assert_frame_equal(read_results(tmp_path / name).drop(columns="pid"), serial)


def test_the_heap_alive_at_the_start_is_frozen_during_the_sweep_and_thawed_after(tmp_path):
    # the collector's full collections during a sweep skip what was alive when it started (runner._frozen_heap)
    import gc

    assert gc.get_freeze_count() == 0
    run_sweep(demo_spec(), helpers.with_frozen, tmp_path / "serial", progress="none")
    assert (read_results(tmp_path / "serial")["frozen_objects"] > 1000).all()   # modules and all: thousands
    assert gc.get_freeze_count() == 0                                           # thawed: as the caller had it
    # worker processes (spawned: nothing inherited) freeze theirs once warm
    run_sweep(demo_spec(), helpers.with_frozen, tmp_path / "jobs2", jobs=2, progress="none", serial_first_s=0)
    workers = read_results(tmp_path / "jobs2")
    assert os.getpid() not in set(workers["pid"]) and (workers["frozen_objects"] > 1000).all()
    assert gc.get_freeze_count() == 0
    # a heap the caller froze stays frozen
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        run_sweep(demo_spec(), helpers.with_frozen, tmp_path / "caller", progress="none")
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_unpicklable_evaluate_is_refused_for_workers(tmp_path):
    with pytest.raises(TypeError, match="module-level function"):
        run_sweep(demo_spec(), lambda p: {}, tmp_path, jobs=2, progress="none")
    assert not tmp_path.joinpath("sweep.json").exists()


def test_progress_lines_when_not_a_terminal(tmp_path):
    stream = io.StringIO()
    run_sweep(demo_spec(), helpers.failing, tmp_path, progress="auto", progress_stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines, "no progress line"
    assert all(re.fullmatch(r"\[\d+/48\] [\d.]+ points/s, (eta|elapsed) \d+ (s|min \d\d s)(, \d+ failed)?", ln)
               for ln in lines), lines
    assert lines[-1].startswith("[48/48]") and lines[-1].endswith(", 8 failed")


def test_progress_line_counts_resumed_points(tmp_path):
    from imcsim.sweep.progress import LineProgress

    clock = iter([0.0, 2.0, 4.0]).__next__      # start, then one reading per update
    stream = io.StringIO()
    bar = LineProgress(total=10, initial=4, stream=stream, interval=1.0, clock=clock)
    bar.update(2)          # t=2: 2 points in 2 s
    bar.update(2, failed=1)  # t=4: 4 points in 4 s
    assert stream.getvalue().splitlines() == [
        "[4/10] already stored, resuming",
        "[6/10] 1.0 points/s, eta 4 s",
        "[8/10] 1.0 points/s, eta 2 s, 1 failed"]


def test_progress_bar_and_none(tmp_path):
    stream = io.StringIO()
    run_sweep(demo_spec(), helpers.analytic, tmp_path / "bar", progress="bar", progress_stream=stream)
    text = stream.getvalue()
    assert "48/48" in text and "points/s" in text and "sweep" in text
    quiet = io.StringIO()
    run_sweep(demo_spec(), helpers.analytic, tmp_path / "none", progress="none", progress_stream=quiet)
    assert quiet.getvalue() == ""


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_table(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    serial = run_sweep(demo_spec(), helpers.failing, tmp_path / "serial", progress="none")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = run_sweep(demo_spec(), helpers.failing, tmp_path / "dask", scheduler=cluster.scheduler_address,
                            progress="none", flush_every=4)
    assert (summary.evaluated, summary.failed) == (serial.evaluated, serial.failed)
    pd.testing.assert_frame_equal(read_results(tmp_path / "dask"), read_results(tmp_path / "serial"))
    assert read_manifest(tmp_path / "dask")["runs"][0]["scheduler"] == cluster.scheduler_address


def test_unreachable_scheduler_is_a_spec_error_and_writes_nothing(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    import imcsim.sweep.runner as runner

    monkeypatch.setattr(runner, "DASK_CONNECT_TIMEOUT_S", 1)
    with pytest.raises(SpecError, match=r"^<flags>: --scheduler: cannot reach the Dask scheduler"):
        run_sweep(demo_spec(), helpers.analytic, tmp_path / "out", scheduler="tcp://127.0.0.1:9", progress="none")
    assert not (tmp_path / "out").exists()


def test_a_signal_while_a_result_is_stored_waits_for_its_end():
    # Ctrl-C between storing a point and counting it would leave the summary one point short of the folder
    from imcsim.sweep.runner import _sigterm_as_interrupt

    signals = _sigterm_as_interrupt()
    with signals:
        signals.busy = True
        os.kill(os.getpid(), signal.SIGINT)   # the handler runs now and defers it
        reached = True
        with pytest.raises(KeyboardInterrupt, match="signal 2"):
            signals.done()
        signals.done()                         # raised once
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)   # not storing: raised at once
            for _ in range(1000):
                pass
    assert reached
