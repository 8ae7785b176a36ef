"""Sweep throughput and memory: how many ResNet-18 design points per second ``imcsim sweep`` evaluates.

Prints one JSON object:

- ``demo``: the issue's demonstration sweep (ResNet-18; sas-mram, sot-mram, reram x rows 32..256 x
  cols 32..256 x methods inference, full, last, lora = 192 points, the 48 lora points fail as they
  must: no attention layers), run with ``run_sweep`` exactly as the CLI runs it (plan, pre-flight
  check, ``imcsim.engine.evaluate_point``, warm-up hook, store). ``serial_cold`` is the first run in a
  fresh process (workload graph and mapping caches empty); ``serial`` the best/median of ``repeat``
  warm runs; ``jobs2`` is ``--jobs 2`` as a user runs it (workers start only for the points left after
  ``runner.SERIAL_FIRST_S`` of evaluating in the calling process: this sweep finishes before, so none
  starts); ``jobs2_workers`` starts two fresh worker processes every run from the first point
  (``serial_first_s=0``: what every ``--jobs 2`` run paid before that rule). Points/s are points / wall
  time of ``run_sweep``.
- ``scaling``: a ResNet-18 analytic sweep of 1,000 and 10,000 points (method last, so write policy and
  flip probability matter: device x rows x cols x rows_parallel x column_mux [x flip_prob]), each in a
  fresh process, serial and ``--jobs 2``: wall time, points/s, the parent's peak RSS (the plan and the
  store live there) and the workers' (children's) peak RSS; once more with ``--jobs 2`` and without
  the final compaction of the store (which reads every row back at once), which isolates what the
  store holds while the sweep runs. ``parent_peak_rss_growth_1k_to_10k_mib`` sums it up.
- ``store``: the streaming store at scale: a 1,000- and a 100,000-point ResNet-18 sweep with
  ``--jobs 2``, each in a fresh process, run without compaction and then compacted separately, so
  ``compaction_share`` = compaction time / (sweep + compaction) is measured on its own;
  ``parent_peak_rss_growth_1k_to_100k_mib`` is the parent's peak RSS (plan, store, compaction
  included) at 100k minus at 1k. Targets (issue 15): growth under 50 MiB, compaction under 5 %.
- ``profile``: cProfile of ``evaluate_point`` over 300 warm points of the 10k sweep: ms per point and
  the functions with the most own time (for the engine owner).

Usage: ``python benchmarks/sweep.py [--repeat N] [--quick] [--store-only]`` (``--quick``: 1k points only,
no 10k or 100k; ``--store-only``: only the ``store`` section).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, print_json  # noqa: E402

DEMO_FLAGS = [("workload", "resnet18"), ("device", "sas-mram,sot-mram,reram"), ("rows", "32,64,128,256"),
              ("cols", "32,64,128,256"), ("method", "inference,full,last,lorafusion")]

#: 5 x 5 x 5 x 4 x 2 = 1,000 and 5 x 5 x 5 x 4 x 4 x 5 = 10,000 points
SCALING_FLAGS = {
    1000: [("workload", "resnet18"), ("method", "last"), ("device", "sas-mram,sot-mram,stt-mram,reram,sram"),
           ("rows", "64:1024*2"), ("cols", "32:512*2"), ("rows_parallel", "8:64*2"), ("column_mux", "1,2")],
    10000: [("workload", "resnet18"), ("method", "last"), ("device", "sas-mram,sot-mram,stt-mram,reram,sram"),
            ("rows", "64:1024*2"), ("cols", "32:512*2"), ("rows_parallel", "8:64*2"), ("column_mux", "1:8*2"),
            ("flip_prob", "0.1:0.5:0.1")],
}

#: 100,000 points: the 10k axes x 10 values of steps_per_day (cheap for the engine, real for the store)
SCALING_FLAGS[100000] = SCALING_FLAGS[10000] + [("steps_per_day", "1000:10000:1000")]

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[5])   # benchmarks/
from _common import status_mib
from imcsim.engine import evaluate_point
from imcsim.sweep.runner import run_sweep, use_system_allocator
from imcsim.sweep.study import check_plan, plan_from_flags, warm_engine
use_system_allocator()  # as imcsim sweep does
pairs = [tuple(p) for p in json.loads(sys.argv[1])]
jobs, out, compact = int(sys.argv[2]), sys.argv[3], sys.argv[4]
t1 = time.perf_counter()
plan = plan_from_flags(pairs)
t2 = time.perf_counter()
check_plan(plan)
t3 = time.perf_counter()
# the process's own peak so far: VmHWM, not ru_maxrss, which Linux carries over exec from the process that
# started this one (a benchmark that already peaked at 200 MiB would hide every child's peak below that)
rss_plan = status_mib("VmHWM")
try:  # reset the peak (VmHWM) so that the peak during the sweep alone can be read (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss_start = status_mib("VmRSS")
except OSError:
    rss_start = None
s = run_sweep(plan.points, evaluate_point, out, jobs=jobs, progress="none", warmup=warm_engine, spec=plan.spec,
              compact_when_done=compact == "1")
t4 = time.perf_counter()
compact_s = None
if compact == "separate":
    from imcsim.sweep.store import compact as compact_store
    c0 = time.perf_counter()
    compact_store(out)
    compact_s = time.perf_counter() - c0
during = status_mib("VmHWM") if rss_start is not None else None
peak = max(rss_plan, during) if during is not None else status_mib("VmHWM")
# the workers' ru_maxrss: an upper bound (each starts as a copy of this process, whose RSS it may carry over)
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
import pyarrow.parquet as pq
from pathlib import Path
stored = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(Path(out, "results").glob("part-*.parquet")))
parts = len(list(Path(out, "results").glob("part-*.parquet")))
print(json.dumps({"points": len(plan.points), "stored_rows": stored, "parts": parts, "compact_s": compact_s, "evaluated": s.evaluated, "failed": s.failed,
                  "import_s": t1 - t0, "plan_s": t2 - t1, "check_s": t3 - t2, "sweep_s": t4 - t3,
                  "points_per_s": len(plan.points) / (t4 - t3), "total_s": t4 - t0,
                  "parent_peak_rss_before_sweep_mib": rss_plan, "parent_peak_rss_mib": peak,
                  "parent_rss_at_sweep_start_mib": rss_start, "parent_peak_rss_during_sweep_mib": during,
                  "workers_peak_rss_mib": children if jobs > 1 else None}))
"""


def _child(pairs: list[tuple[str, str]], jobs: int, compact: bool | str = True) -> dict:
    """One sweep in a fresh process (so caches, RSS and worker start-up are those of a real run);
    ``compact``: True (when done, as the CLI), False (never) or "separate" (timed on its own)."""
    mode = compact if isinstance(compact, str) else ("1" if compact else "0")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(pairs), str(jobs), str(Path(tmp) / "s"),
                               mode, str(Path(__file__).parent)],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def _demo(repeat: int) -> dict:
    from imcsim.engine import evaluate_point
    from imcsim.sweep.runner import run_sweep
    from imcsim.sweep.study import check_plan, plan_from_flags, warm_engine

    plan = plan_from_flags(DEMO_FLAGS)
    check_plan(plan)
    n = len(plan.points)

    def once(jobs: int, serial_first_s: float | None = None) -> tuple[float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            s = run_sweep(plan.points, evaluate_point, Path(tmp) / "s", jobs=jobs, progress="none",
                          warmup=warm_engine, spec=plan.spec, serial_first_s=serial_first_s)
            return time.perf_counter() - t0, s.failed

    cold_s, failed = once(1)
    serial = sorted(once(1)[0] for _ in range(repeat))
    jobs2 = sorted(once(2)[0] for _ in range(repeat))
    jobs2_workers = sorted(once(2, serial_first_s=0)[0] for _ in range(repeat))

    def rates(times: list[float]) -> dict:
        return {"best_s": times[0], "median_s": times[len(times) // 2], "points_per_s_best": n / times[0],
                "points_per_s_median": n / times[len(times) // 2]}

    return {"points": n, "failed_points": failed, "serial_cold": {"s": cold_s, "points_per_s": n / cold_s},
            "serial": rates(serial), "jobs2": rates(jobs2), "jobs2_workers": rates(jobs2_workers),
            "peak_rss_mib": peak_rss_mib()}


def _profile(n_points: int = 300) -> dict:
    import cProfile
    import pstats

    from imcsim.engine import evaluate_point
    from imcsim.sweep.study import plan_from_flags

    points = plan_from_flags(SCALING_FLAGS[10000]).points
    step = max(1, len(points) // n_points)
    sample = [p.params for p in points[::step]][:n_points]
    for params in sample[:20]:  # warm the per-(workload, method) caches, as a worker is after its first chunk
        evaluate_point(params)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for params in sample:
        evaluate_point(params)
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(file).name}:{line}:{func}", "ours": "/imcsim/" in file,
                     "calls_per_point": calls / len(sample), "own_ms_per_point": tottime / len(sample) * 1e3,
                     "cum_ms_per_point": cumtime / len(sample) * 1e3})
    own = sorted(rows, key=lambda r: -r["own_ms_per_point"])[:12]
    ours = sorted((r for r in rows if r["ours"]), key=lambda r: -r["cum_ms_per_point"])[:15]
    for r in rows:
        del r["ours"]
    return {"points": len(sample), "ms_per_point": wall / len(sample) * 1e3,
            "top_own_time": own, "top_cumulative_imcsim": ours}


def _store() -> dict:
    """The streaming store: 1k and 100k points on two workers, compaction timed on its own."""
    runs = {n: _child(SCALING_FLAGS[n], 2, compact="separate") for n in (1000, 100000)}
    out: dict = {}
    for n, r in runs.items():
        total = r["sweep_s"] + r["compact_s"]
        out[f"{n}_jobs2"] = {**r, "compaction_share": r["compact_s"] / total}
    big, small = runs[100000], runs[1000]
    growth = big["parent_peak_rss_mib"] - small["parent_peak_rss_mib"]
    share = out["100000_jobs2"]["compaction_share"]
    out["parent_peak_rss_growth_1k_to_100k_mib"] = growth
    out["targets"] = {"rss_growth_under_50_mib": growth < 50.0, "compaction_under_5_percent": share < 0.05}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1k-point scaling only")
    ap.add_argument("--store-only", action="store_true", help="only the 1k/100k streaming-store section")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.store_only:
        print_json({"benchmark": "sweep", "store": _store(), "elapsed_s": time.perf_counter() - t0})
        return
    result: dict = {"benchmark": "sweep", "demo": _demo(args.repeat)}
    sizes = [1000] if args.quick else [1000, 10000]
    scaling = {}
    for n in sizes:
        for jobs in (1, 2):
            scaling[f"{n}_jobs{jobs}"] = _child(SCALING_FLAGS[n], jobs)
        # the same without the final compaction (which reads every stored row back at once)
        scaling[f"{n}_jobs2_no_compact"] = _child(SCALING_FLAGS[n], 2, compact=False)
    result["scaling"] = scaling
    big = scaling.get("10000_jobs2")
    if big:
        result["target_10k_under_60s"] = {"jobs2_sweep_s": big["sweep_s"], "jobs2_total_s": big["total_s"],
                                          "serial_total_s": scaling["10000_jobs1"]["total_s"],
                                          "met": big["total_s"] < 60.0}
        def growth(key: str) -> float | None:
            a, b = scaling[f"1000_{key}"], scaling[f"10000_{key}"]
            if a["parent_peak_rss_during_sweep_mib"] is None:
                return None
            return ((b["parent_peak_rss_during_sweep_mib"] - b["parent_rss_at_sweep_start_mib"])
                    - (a["parent_peak_rss_during_sweep_mib"] - a["parent_rss_at_sweep_start_mib"]))

        # how much more the parent's RSS rises during a 10k sweep than during a 1k one (plan excluded:
        # it is built before the sweep starts)
        result["parent_rss_rise_10k_minus_1k_mib"] = {"jobs2_with_compaction": growth("jobs2"),
                                                      "jobs2_without_compaction": growth("jobs2_no_compact"),
                                                      "serial_with_compaction": growth("jobs1")}
    if not args.quick:
        result["store"] = _store()
    result["profile"] = _profile()
    result["elapsed_s"] = time.perf_counter() - t0
    print_json(result)


if __name__ == "__main__":
    main()
