"""Engine speed: event-engine wall time and events/s, analytic design points per second, peak RSS.

Prints one JSON object. Each event case runs in both dataflows (``chip.pipeline: row``, the cycle-level
engine, and ``layer``, the flow shop) and is timed against the analytic engine on the same study in the
same run. Cases: ResNet-18 batch 1 (256x256 and 32x32 arrays), one Rep-Net step at batch 8 on
MobileNetV2 and ProxylessNAS-Mobile, and Flan-T5-large LoRA / LoRAFusion on ReRAM (cold, build included, each
pipeline in a fresh process with its own peak RSS; ``--flan-t5`` runs these alone). Analytic throughput is given
for two ResNet-18 sweeps: over non-geometric axes (write policy, flip probability, steps per day: the
mapping and layer costs are reused; 150 points, and the same axes at 1,500 points, where the sweep's one-off
costs of opening and closing its store weigh a tenth as much per point: both are reported) and over 1,000 array geometries (5 devices x rows x cols x
rows_parallel x column_mux: every point builds its macro, maps and prices the network anew; placements
are shared between points of equal geometry, as in a real sweep). Each analytic sweep runs through the public
sweep path, ``imcsim.sweep.run_sweep(points, evaluate_point, folder, jobs=1)`` as ``imcsim sweep`` runs it
(chunks of points handed to ``evaluate_point.batch``, the result store and its compaction included; the
baseline's runner evaluates one point at a time), in a fresh
process on one thread, timed in CPU time, the best of ``ANALYTIC_PASSES`` passes (each pass on a freshly
loaded copy of the package: empty caches, warm-up on one point outside the sweep; the two versions' order
alternating; the load printed per pass),
and in the same process the same points through the pricer of ``BASELINE_COMMIT`` (main before the vectorised pricer,
exported with ``git archive`` into a temporary folder and loaded as a second copy of the package, with its
own caches): ``speedup_over_baseline`` and ``max_rel_diff_vs_baseline`` (energy, latency, area, write
energy of every point, read back from each store; by field in ``max_rel_diff_vs_baseline_by_field``: the
models changed since, e.g. the analytic latency under the default ``chip.pipeline: row`` is the row estimate
since c193556, where the baseline timed layer order). ``python benchmarks/engine.py --analytic`` runs this part alone. The geometry
sweep runs once more on two worker processes (``run_sweep(jobs=2, serial_first_s=0)``: both workers from the first
point, wall time including starting and warming them; a user's ``--jobs 2`` evaluates the first 2 s in its own process
and would finish these 1,000 points before a worker starts). Beside each one-worker sweep rate, ``engine_alone_points_per_s`` times the engine without the runner and
store (chunks of 256 through ``evaluate_point.batch``; the baseline one point at a time): the store's fixed costs
(opening, parts, compaction) weigh on a short sweep of cheap points.
``row_loop`` times the row engine's own run on a built plan in CPU time, on ``engine/eventloop.py`` and, in
the same process, the engine of ``ROW_BASELINE_COMMIT`` on SimPy (the loop it replaced; with the rule changes
made on main since, ``ROW_BASELINE_PATCHES``), best of 7 with the load average before and after. The two
timelines are not compared: they were equal on every case until the row engine moved NoC rows by cut-through (268e3b6,
docs/engine.md, "NoC links") while the baseline holds links store-and-forward, so they now differ by design
(``rules_differ_from_baseline``); ``same_events_as_baseline`` says whether both ran as many events and recorded as
many busy intervals, ``cpu_ratio_simpy_over_eventloop`` is the speed figure, and tests/cycle_reference.py is the
timeline's check.
For context only (not measured here): SCALE-Sim, a cycle-accurate peer, needs about 130 s and 4 GB for
ResNet-18 on a 128x128 array on this class of machine (issue 5).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import peak_rss_mib, print_json, timed  # noqa: E402

from imcsim.config.study import study_from_params  # noqa: E402
from imcsim.engine import evaluate  # noqa: E402

#: the issue-12 cases, each run in both dataflows (``chip.pipeline: row`` is the cycle-level engine,
#: ``layer`` the flow shop it replaced as the default: "today's" engine for the events/s comparison)
EVENT_CASES = {
    "resnet18-b1": {"workload": "resnet18"},
    "resnet18-b1-32x32": {"workload": "resnet18", "rows": 32, "cols": 32},
    "mobilenetv2-repnet-b8": {"workload": "mobilenetv2", "method": "repnet", "batch": 8},
    "proxylessnas-repnet-b8": {"workload": "proxylessnas-mobile", "method": "repnet", "batch": 8},
}
BIG_CASES = {
    "flan-t5-large-lora-reram": {"workload": "flan-t5-large", "method": "lora", "device": "reram"},
    "flan-t5-large-lorafusion-reram": {"workload": "flan-t5-large", "method": "lorafusion", "device": "reram"},
}
PIPELINES = ("row", "layer")


def event_case(params: dict, repeat: int = 5) -> dict:
    """Event engine in both dataflows against the analytic engine on the same study, same process. The
    priced step is cached (the first call builds it), so the timed calls are the engine's own work: the
    row plan and its SimPy run, or the flow-shop run. ``events`` are busy intervals (a row of an op on a
    unit, a row over a link); ``events_per_s`` divides them by the best wall time, ``events_per_cpu_s`` by the best
    CPU time (the steadier figure on a shared machine)."""
    out: dict = {}
    an = None
    for pipeline in PIPELINES:
        study = study_from_params({**params, "chip.pipeline": pipeline})
        evaluate(study, engine="event")  # build and cache the workload, step, mapping and priced step
        holder: dict = {}

        def run_event(study=study, holder=holder) -> None:
            holder["r"] = evaluate(study, engine="event")

        ev = timed(run_event, repeat=repeat)
        if an is None:
            an = timed(lambda study=study: evaluate(study, engine="analytic"), repeat=repeat)
        r = holder["r"]
        events = r.mapping["events"]
        out[pipeline] = {"event_best_ms": ev["best_ms"], "event_median_ms": ev["median_ms"],
                         "event_best_cpu_ms": ev["best_cpu_ms"], "event_median_cpu_ms": ev["median_cpu_ms"],
                         "events": events, "events_per_s": events / (ev["best_ms"] / 1e3),
                         "events_per_cpu_s": events / (ev["best_cpu_ms"] / 1e3), "latency_ns": r.latency_ns,
                         "latency_over_analytic": r.latency_cycles / r.analytic_latency_cycles,
                         "bottleneck_op": r.bottleneck, "fits": r.mapping["fits"]}
    out["analytic_best_ms"] = an["best_ms"]
    out["row_loop"] = row_loop_rate(params)
    out["row_events_per_s_over_layer"] = out["row"]["events_per_s"] / out["layer"]["events_per_s"]
    out["row_speedup_over_layer_latency"] = out["layer"]["latency_ns"] / out["row"]["latency_ns"]
    return out


#: the row engine as it ran on SimPy ("today's" engine of issue 15 item 3): ``engine/events.py`` at this commit
#: (before the arbitration pass and the grant-scheduled holds), run on SimPy's ``Environment``
ROW_BASELINE_COMMIT = "a6372d4"


#: rule changes on main since ``ROW_BASELINE_COMMIT`` that change a reported figure, applied to the baseline's
#: source so that the two timelines can still be compared whole (each must apply exactly once):
#: a0744a6, a task that never waits in its segment follows the barrier before it on the critical path
ROW_BASELINE_PATCHES = (
    ("        pred = None\n        for g in range(total):", "        pred = segment_start[0]\n        for g in range(total):"),
    ("    def run():\n        for k in range(plan.segments):\n",
     "    segment_start = [None]\n\n    def run():\n        for k in range(plan.segments):\n"
     "            segment_start[0] = last_record[0]\n"),
)


def _simpy_row_engine() -> object | None:
    """``engine/events.py`` of ``ROW_BASELINE_COMMIT`` as a module running on SimPy, with
    ``ROW_BASELINE_PATCHES``; None when git cannot."""
    import subprocess
    import types

    import simpy

    root = Path(__file__).resolve().parent.parent
    try:
        src = subprocess.run(["git", "-C", str(root), "show", f"{ROW_BASELINE_COMMIT}:imcsim/engine/events.py"],
                             capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for before, after in ROW_BASELINE_PATCHES:
        if src.count(before) != 1:
            raise RuntimeError(f"{ROW_BASELINE_COMMIT}:imcsim/engine/events.py: patch does not apply: {before!r}")
        src = src.replace(before, after)
    module = types.ModuleType("imcsim_row_engine_baseline")
    sys.modules[module.__name__] = module   # dataclasses look their module up
    exec(compile(src, f"{ROW_BASELINE_COMMIT}:imcsim/engine/events.py", "exec"), module.__dict__)
    module.Environment = simpy.Environment
    return module


def row_loop_rate(params: dict, repeat: int = 7) -> dict:
    """The row engine's own run (``run_plan`` on a built plan), CPU time, best of ``repeat``, alternating: the
    current engine on its event loop (``engine/eventloop.py``) and, in the same process, the engine of
    ``ROW_BASELINE_COMMIT`` on SimPy (whose NoC links are store-and-forward: see the module docstring), both with the cyclic collector off (``plan.paused_gc``), so the ratio
    is the loop's alone. The load average is read before and after."""
    import os

    from imcsim.engine import events
    from imcsim.engine.context import build_context
    from imcsim.engine.evaluation import _priced
    from imcsim.engine.plan import build_plan, paused_gc

    study = study_from_params({**params, "chip.pipeline": "row"})
    ctx = build_context(study)
    priced = _priced(study, ctx).step
    engines = {"eventloop": events}
    baseline = _simpy_row_engine()
    if baseline is not None:
        engines["simpy"] = baseline
    best = dict.fromkeys(engines, float("inf"))
    timelines = {}
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for name, engine in engines.items():
            plan = build_plan(ctx, priced)
            with paused_gc():   # the collector off for both (main's run_plan turns it off itself)
                t0 = time.process_time()
                timelines[name] = engine.run_plan(plan)
                best[name] = min(best[name], time.process_time() - t0)
    out: dict = {name: {"cpu_ms": best[name] * 1e3, "events_per_s": timelines[name].events / best[name]}
                 for name in engines}
    out["repeat"] = repeat
    out["load_average_before_after"] = [load_before, os.getloadavg()[0]]
    if baseline is not None:
        a, b = timelines["eventloop"], timelines["simpy"]
        out["baseline_commit"] = ROW_BASELINE_COMMIT
        recorded = [engine.run_plan(build_plan(ctx, priced), record=True).intervals for engine in engines.values()]
        # the baseline moves NoC rows store-and-forward, this engine by cut-through (268e3b6): their timelines
        # differ by design wherever an edge crosses links, so they are not compared; the timeline's check is
        # tests/cycle_reference.py (tests/test_engine_events.py, random and real plans)
        out["rules_differ_from_baseline"] = "NoC links: cut-through here, store-and-forward in the baseline"
        out["same_events_as_baseline"] = a.events == b.events and len(recorded[0]) == len(recorded[1])
        out["cpu_ratio_simpy_over_eventloop"] = out["simpy"]["cpu_ms"] / out["eventloop"]["cpu_ms"]
        out["events_per_s_over_simpy"] = out["eventloop"]["events_per_s"] / out["simpy"]["events_per_s"]
    return out


_BIG_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[3])   # benchmarks/
from _common import peak_rss_mib
from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
study, engine = study_from_params(json.loads(sys.argv[1])), sys.argv[2]
load = os.getloadavg()[0]
t0, c0 = time.perf_counter(), time.process_time()
r = evaluate(study, engine=engine)
wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
json.dump({"wall_s_including_build": wall_s, "cpu_s_including_build": cpu_s, "load_average_at_start": load,
           "events": r.mapping.get("events"),
           "row_group": r.mapping.get("row_group"), "relaxed_edges": r.mapping.get("relaxed_edges"),
           "latency_ns": r.latency_ns, "bottleneck_op": r.bottleneck, "peak_rss_mib": peak_rss_mib()}, sys.stdout)
"""


def big_case(params: dict) -> dict:
    """Cold, each run in a fresh process (as a user's first run: workload graph, training step, mapping,
    pricing, then the plan and its run), wall and CPU time (the CPU time is less sensitive to the machine's
    load, given at each child's start) and the process's peak RSS: the event engine in both
    pipelines and, in the same run, the analytic engine on the same study (default pipeline: row)."""
    import json
    import subprocess

    def child(p: dict, engine: str) -> dict:
        done = subprocess.run([sys.executable, "-c", _BIG_CHILD, json.dumps(p), engine, str(Path(__file__).parent)],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    out: dict = {pipeline: child({**params, "chip.pipeline": pipeline}, "event") for pipeline in PIPELINES}
    for pipeline in PIPELINES:
        out[pipeline]["events_per_s_including_build"] = (out[pipeline]["events"]
                                                         / out[pipeline]["wall_s_including_build"])
    out["analytic"] = child(params, "analytic")
    out["row_over_layer_latency"] = out["row"]["latency_ns"] / out["layer"]["latency_ns"]
    return out


NON_GEOMETRIC = [{"workload": "resnet18", "write_policy": w, "flip_prob": f / 100, "steps_per_day": s}
                 for w in ("all", "diff") for f in range(0, 100, 4) for s in (100, 1000, 10000)]
#: the same axes, 1,500 points (flip probability in steps of 0.004): the sweep's one-off costs (opening the
#: store, its plan and manifest, the first part, closing) spread over 10x the points; reported beside the 150
NON_GEOMETRIC_1500 = [{"workload": "resnet18", "write_policy": w, "flip_prob": f / 1000, "steps_per_day": s}
                      for w in ("all", "diff") for f in range(0, 1000, 4) for s in (100, 1000, 10000)]
#: 5 x 5 x 5 x 4 x 2 = 1,000 points, the grid of benchmarks/sweep.py's 1k case
GEOMETRIES = [{"workload": "resnet18", "device": d, "rows": r, "cols": c, "rows_parallel": p, "column_mux": m}
              for d in ("sas-mram", "sot-mram", "stt-mram", "reram", "sram") for r in (32, 64, 128, 256, 512)
              for c in (32, 64, 128, 256, 512) for p in (8, 16, 32, 64) for m in (1, 2) if p <= r]

#: main before the vectorised pricer (issue 15 item 2): "today's path" the analytic rates are measured against
BASELINE_COMMIT = "84051eb"

_ANALYTIC_CHILD = r"""
import json, os, sys, time
points, workers, baseline = json.loads(sys.stdin.read()), int(sys.argv[2]), sys.argv[3]  # points: stdin (big)
PASSES = int(sys.argv[4])
WARM = {"workload": "resnet18", "rows": 48, "cols": 48}  # a point outside both sweeps


def imcsim_modules():
    return {k: v for k, v in sys.modules.items() if k == "imcsim" or k.startswith("imcsim.")}


def load(path):
    # one copy of the package per version: the other version's modules leave sys.modules while this one
    # loads and runs (imports inside functions then find this version's modules)
    for k in imcsim_modules():
        del sys.modules[k]
    if path:
        sys.path.insert(0, path)
    from imcsim.engine import evaluate_point
    if path:
        sys.path.remove(path)
    return evaluate_point, imcsim_modules()


def rate(evaluate_point, modules):
    # the public sweep path (imcsim.sweep.run_sweep, as `imcsim sweep` and the Python API run it: chunks, the
    # result store, compaction), one process; then each point read back from the store
    import shutil
    import tempfile
    for k in imcsim_modules():
        del sys.modules[k]
    sys.modules.update(modules)
    from imcsim.sweep.runner import run_sweep
    from imcsim.sweep.spec import Point
    from imcsim.sweep.store import read_results
    evaluate_point(WARM)
    plan = [Point(i, f"p{i}", p) for i, p in enumerate(points)]
    folder = tempfile.mkdtemp(prefix="imcsim-bench-sweep-")
    try:
        t0 = time.process_time()
        run_sweep(plan, evaluate_point, folder, jobs=1, progress=False)
        dt = time.process_time() - t0
        table = read_results(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = table.sort_values("point").to_dict("records")
    return len(points) / dt, dt, out


def engine_rate(evaluate_point, modules):
    # the engine alone, without the sweep runner and store: chunks of ENGINE_CHUNK points through the batch
    # (evaluate_point.batch) where the version has one, else one point at a time
    for k in imcsim_modules():
        del sys.modules[k]
    sys.modules.update(modules)
    evaluate_point(WARM)
    batch = getattr(evaluate_point, "batch", None)
    t0 = time.process_time()
    if batch is None:
        for p in points:
            evaluate_point(p)
    else:
        for k in range(0, len(points), ENGINE_CHUNK):
            batch(points[k:k + ENGINE_CHUNK])
    dt = time.process_time() - t0
    return len(points) / dt, dt


ENGINE_CHUNK = 256

if workers == 1:
    # best of PASSES passes; each pass loads a fresh copy of each version (empty caches: new geometries stay
    # new) and warms it on WARM first
    res, loads = {}, []
    for k in range(PASSES):
        loads.append(os.getloadavg()[0])
        versions = (("current", None), ("baseline", baseline or False))
        # the order alternates: the same code loaded twice in one process measured 0.94-1.17x of itself, so a
        # fixed order could favour one version
        for name, path in versions if k % 2 == 0 else versions[::-1]:
            if path is not False:
                got = rate(*load(path))
                if name not in res or got[1] < res[name][1]:
                    res[name] = got
                alone = engine_rate(*load(path))
                if name + ":engine" not in res or alone[1] < res[name + ":engine"][1]:
                    res[name + ":engine"] = alone
    pps, dt, rec = res["current"]
    out = {"points": len(points), "path": "imcsim.sweep.run_sweep(jobs=1) with evaluate_point (store included)",
           "cpu_s": dt, "points_per_s": pps, "workers": 1, "passes": PASSES, "load_average_per_pass": loads,
           "failed_points": sum(r["status"] != "ok" for r in rec),
           "engine_alone_points_per_s": res["current:engine"][0]}
    if "baseline" in res:
        bpps, bdt, brec = res["baseline"]
        diff = {k: max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-300) for a, b in zip(rec, brec))
                for k in ("energy_pj", "latency_ns", "area_mm2", "write_energy_pj")}
        out.update(baseline_cpu_s=bdt, baseline_points_per_s=bpps, speedup_over_baseline=pps / bpps,
                   baseline_failed_points=sum(r["status"] != "ok" for r in brec),
                   baseline_engine_alone_points_per_s=res["baseline:engine"][0],
                   engine_alone_speedup_over_baseline=res["current:engine"][0] / res["baseline:engine"][0],
                   max_rel_diff_vs_baseline=max(diff.values()), max_rel_diff_vs_baseline_by_field=diff)
else:
    # the public sweep path on worker processes (run_sweep with jobs=workers: each worker warms up, then takes
    # chunks through evaluate_point.batch), wall time from the call to its return (start and store included)
    import shutil
    import tempfile
    from imcsim.engine import evaluate_point
    from imcsim.sweep.runner import run_sweep
    from imcsim.sweep.spec import Point
    from imcsim.sweep.study import warm_engine
    folder = tempfile.mkdtemp(prefix="imcsim-bench-sweep-")
    try:
        t0 = time.perf_counter()
        # serial_first_s=0: both workers start at the first point (by default --jobs runs the first 2 s in the
        # calling process, which finishes a sweep this short before any worker starts: then nothing here would
        # measure two workers)
        summary = run_sweep([Point(i, f"p{i}", p) for i, p in enumerate(points)], evaluate_point, folder,
                            jobs=workers, progress=False, warmup=warm_engine, serial_first_s=0)
        t1 = time.perf_counter()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = {"points": len(points), "path": f"imcsim.sweep.run_sweep(jobs={workers}), wall time, start included",
           "seconds": t1 - t0, "points_per_s": len(points) / (t1 - t0), "failed_points": summary.failed,
           "workers": workers, "serial_first_s": 0}
json.dump(out, sys.stdout)
"""


_LORAFUSION_CHILD = r"""
import json, sys, time
from imcsim.config.study import study_from_params
from imcsim.engine import evaluate
from imcsim.engine.context import _freeze, _step
t0 = time.process_time()
_step("flan-t5-large", _freeze({}), "lorafusion", _freeze({}))
graph_s = time.process_time() - t0
study = study_from_params({"workload": "flan-t5-large", "method": "lorafusion", "device": "reram"})
t0 = time.process_time()
evaluate(study)
first_s = time.process_time() - t0
warm = []
for _ in range(5):
    t0 = time.process_time()
    evaluate(study)
    warm.append(time.process_time() - t0)
other = study_from_params({"workload": "flan-t5-large", "method": "lorafusion", "device": "sas-mram"})
t0 = time.process_time()
evaluate(other)
other_s = time.process_time() - t0
json.dump({"graph_and_step_build_ms": graph_s * 1e3, "first_analytic_ms": first_s * 1e3,
           "warm_analytic_best_ms": min(warm) * 1e3, "new_device_point_ms": other_s * 1e3}, sys.stdout)
"""


def lorafusion_case() -> dict:
    """Flan-T5-large LoRAFusion on ReRAM in a fresh process, CPU time: building its graph and step, the
    first analytic evaluation (mapping and pricing), the same point again (the priced-step cache), and a
    point on another device (mapping reused, pricing anew)."""
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", _LORAFUSION_CHILD], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def baseline_package(tmp: str) -> str:
    """``imcsim`` (with its cards) at ``BASELINE_COMMIT``, exported into ``tmp``; "" when git cannot."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        tar = subprocess.run(["git", "-C", str(root), "archive", BASELINE_COMMIT, "imcsim", "devices", "workloads",
                              "setup.cfg"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=tar, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return tmp


#: passes of each one-worker analytic sweep: the best is reported (on a shared machine one pass's rate swings
#: by 0.76-1.11 of another's)
ANALYTIC_PASSES = 4


def analytic_rate(points: list[dict], workers: int = 1, baseline: str = "") -> dict:
    """Points per second in a fresh process, one thread (see the module docstring). With one worker, CPU
    time (``time.process_time``) of the current pricer and, in the same process, of the baseline's, the best
    of ``ANALYTIC_PASSES`` passes (each on a freshly loaded copy of its version: empty caches; which version runs
    first alternates), with the machine's load at the start of each pass."""
    import json
    import os
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _ANALYTIC_CHILD, "-", str(workers), baseline, str(ANALYTIC_PASSES)],
                          input=json.dumps(points), capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)


def analytic_section() -> dict:
    """ResNet-18 analytic points per second, current against ``BASELINE_COMMIT`` in the same process."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="imcsim-baseline-") as tmp:
        base = baseline_package(tmp)
        out = {"baseline_commit": BASELINE_COMMIT if base else None, "load_average_before": os.getloadavg()[0],
               "non_geometric_axes": analytic_rate(NON_GEOMETRIC, baseline=base),
               "non_geometric_axes_1500": analytic_rate(NON_GEOMETRIC_1500, baseline=base),
               "array_geometries": analytic_rate(GEOMETRIES, baseline=base)}
    out["array_geometries_2_workers"] = analytic_rate(GEOMETRIES, workers=2)
    out["load_average_after"] = os.getloadavg()[0]
    return out


def main() -> None:
    if "--analytic" in sys.argv:  # the analytic rates alone
        print_json({"benchmark": "engine", "analytic_resnet18": analytic_section()})
        return
    if "--flan-t5" in sys.argv:  # the Flan-T5-large cases alone
        print_json({"benchmark": "engine", "load_average": list(__import__("os").getloadavg()),
                    "event": {name: big_case(params) for name, params in BIG_CASES.items()}})
        return
    if "--row-loop" in sys.argv:  # the row engine's loop alone
        print_json({"benchmark": "engine", "load_average": __import__("os").getloadavg()[0],
                    "row_loop": {name: row_loop_rate(params) for name, params in EVENT_CASES.items()}})
        return
    out: dict = {"benchmark": "engine", "event": {}}
    for name, params in EVENT_CASES.items():
        out["event"][name] = event_case(params)
    out["peak_rss_mib_after_resnet18_and_repnet"] = peak_rss_mib()
    out["load_average"] = list(__import__("os").getloadavg())
    for name, params in BIG_CASES.items():
        out["event"][name] = big_case(params)
    out["lorafusion_flan_t5_large_analytic"] = lorafusion_case()
    out["analytic_resnet18"] = analytic_section()
    out["targets"] = {"event_resnet18_b1_row_ms": 500, "event_mobilenetv2_repnet_b8_row_ms": 3000,
                      "flan_t5_lorafusion_event_s": 10, "rss_mib": 500, "row_events_per_s_over_layer": 2,
                      "analytic_new_geometry_points_per_s": 2000,
                      "analytic_non_geometric_points_per_s": 5000, "lorafusion_warm_analytic_ms": 50, "lorafusion_graph_ms": 300}
    print_json(out)


if __name__ == "__main__":
    main()
