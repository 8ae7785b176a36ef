"""Evaluate functions for the sweep tests: module-level, so worker processes and Dask can import them.

They stand in for ``imcsim.engine.evaluate_point``: deterministic metrics from the point's fields,
one that fails for some points, one that logs every call to a side file (to count evaluations across
runs and processes), and one that stops after k calls the way Ctrl-C would.

Run as a script (``python tests/sweep_helpers.py OUT_DIR [--resume] [--jobs N]``) it runs a slow logged sweep;
the kill test starts it in a subprocess and kills it halfway.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import Any, Literal

FIELD_TYPES: dict[str, Any] = {
    "device": str, "workload": str, "method": str, "rows": int, "cols": int, "rows_parallel": int,
    "clock_mhz": float, "engine": Literal["analytic", "event"], "flip_only": bool,
}

# Made-up per-bit read energies (fJ), only so each device gives different numbers.
_READ_FJ = {"sas-mram": 2.0, "sot-mram": 2.5, "reram": 1.5}

COUNT_FILE_ENV = "IMCSIM_TEST_COUNT_FILE"
STOP_AFTER_ENV = "IMCSIM_TEST_STOP_AFTER"
SLEEP_ENV = "IMCSIM_TEST_SLEEP_S"


def analytic(params: dict[str, Any]) -> dict[str, Any]:
    """A tiny closed-form 'engine': energy grows with the array, latency with the row tiles."""
    rows, cols = params["rows"], params["cols"]
    read_fj = _READ_FJ.get(params.get("device", "sas-mram"), 3.0)
    energy_pj = rows * cols * read_fj / 1000.0 / 3.0
    latency_ns = 8 * (1024 / rows) * 1.7
    return {"energy_pj": energy_pj, "latency_ns": latency_ns, "macro_cells": rows * cols,
            "area_mm2": rows * cols * 1e-7}


def failing(params: dict[str, Any]) -> dict[str, Any]:
    """Like :func:`analytic`, but ReRAM arrays above 128 rows raise a two-line error."""
    if params.get("device") == "reram" and params["rows"] > 128:
        raise ValueError(f"rows {params['rows']} too tall for reram\nsecond line of detail")
    return analytic(params)


def logged(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`analytic`, appending the point to the file named by $IMCSIM_TEST_COUNT_FILE first."""
    _log(params)
    delay = float(os.environ.get(SLEEP_ENV, "0") or 0)
    if delay:
        time.sleep(delay)
    return analytic(params)


def with_pid(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`analytic` plus the ``pid`` of the process that evaluated the point."""
    return {**analytic(params), "pid": os.getpid()}


def with_pid_batch(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`with_pid`, with a ``batch`` form (chunks go to it in one call, as to the engine's)."""
    return with_pid(params)


with_pid_batch.batch = lambda chunk: [with_pid(p) for p in chunk]  # type: ignore[attr-defined]


def with_frozen(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`with_pid` plus how many objects the cyclic collector holds frozen while the point is evaluated."""
    return {**with_pid(params), "frozen_objects": gc.get_freeze_count()}


_calls = 0


def stop_after(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`logged`, but the call after $IMCSIM_TEST_STOP_AFTER calls raises KeyboardInterrupt (Ctrl-C)."""
    global _calls
    if _calls >= int(os.environ[STOP_AFTER_ENV]):
        raise KeyboardInterrupt
    _calls += 1
    return logged(params)


def warm() -> None:
    """A warm-up hook: records which process ran it in $IMCSIM_TEST_WARM_FILE."""
    fd = os.open(os.environ["IMCSIM_TEST_WARM_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)


def reset_calls() -> None:
    global _calls
    _calls = 0


def logged_calls(path: str | Path) -> list[str]:
    """The points logged so far, one canonical 'device/rows/cols/...' key per call."""
    p = Path(path)
    return p.read_text().split() if p.exists() else []


def key(params: dict[str, Any]) -> str:
    return "/".join(f"{k}={params[k]}" for k in sorted(params))


def _log(params: dict[str, Any]) -> None:
    path = os.environ.get(COUNT_FILE_ENV)
    if path:
        # One short O_APPEND write per call: atomic between processes, so no line is torn.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (key(params) + "\n").encode())
        finally:
            os.close(fd)


def demo_spec():
    """3 devices x 4 rows x 4 cols, fixed workload: 48 points."""
    from imcsim.sweep.spec import spec_from_flags

    return spec_from_flags({"device": "sas-mram,sot-mram,reram", "rows": "64:512*2", "cols": "32,64,128,256",
                            "workload": "resnet18"}, FIELD_TYPES)


def main(argv: list[str]) -> int:
    """Run the demo sweep with :func:`logged` (slow when $IMCSIM_TEST_SLEEP_S is set), flushing every point."""
    from imcsim.sweep.runner import run_sweep

    out = argv[0]
    jobs = int(argv[argv.index("--jobs") + 1]) if "--jobs" in argv else 1
    evaluate = logged
    if jobs > 1:
        import sweep_helpers  # workers import it by this name, not as __main__

        evaluate = sweep_helpers.logged
    summary = run_sweep(demo_spec(), evaluate, out, jobs=jobs, resume="--resume" in argv, progress="lines",
                        flush_every=1, compact_when_done=False, serial_first_s=0)   # workers from the start
    print(f"evaluated={summary.evaluated} skipped={summary.skipped}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
