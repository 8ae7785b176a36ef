"""Small helpers shared by the benchmarks: repeat-and-take-best timing, peak RSS, JSON output.

The machine is shared and noisy, so every timing is repeated; benchmarks report the best (the
least disturbed run) and the median.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeat: int = 5) -> dict[str, float]:
    """Call ``fn`` ``repeat`` times; best and median wall time in ms, and the same in CPU time of this process
    (``*_cpu_ms``: steadier on a shared machine, where wall time swings with the other sessions' load)."""
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return {"best_ms": min(times), "median_ms": statistics.median(times),
            "best_cpu_ms": min(cpu), "median_cpu_ms": statistics.median(cpu)}


def status_mib(key: str) -> float | None:
    """A memory field of this process's /proc/self/status (``VmHWM``: its peak; ``VmRSS``: now), MiB; None
    where there is no such file (not Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0   # kB
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB: VmHWM, the peak of this process's own memory.
    Not ru_maxrss where VmHWM can be read: Linux carries ru_maxrss over exec from the process that started
    this one, so a child of a benchmark that had peaked at 200 MiB reported at least 200 MiB."""
    hwm = status_mib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB


def print_json(obj: dict[str, Any]) -> None:
    json.dump(obj, sys.stdout, indent=1)
    sys.stdout.write("\n")
