"""Architecture-search speed: hierarchical SHGO against exhaustive search on the same space, same run.

Prints one JSON object. Times are CPU seconds of this process (``time.process_time``; one process,
BLAS held to one thread), with the wall time beside them and the machine's load average before and
after (a shared machine: the wall time moves with the load, the CPU time much less).

- ``bench``: the skipnet-bench space (2,304 networks x 512 arrays = 1,179,648 points). Hierarchical
  SHGO (CLI defaults 16/8), then exhaustive search over every point, each with a fresh hardware model
  (SHGO runs first, so it is the one with cold engine caches); whether both find the same optimum.
  Issue goal: a search over at least 10^6 (network x array) points in under 10 s on one core.
- ``digits``: SHGO on skipnet-digits (884,736 networks x 128 arrays = 113 million points; its
  exhaustive search is not run).
- ``tiny``: SHGO and exhaustive search on skipnet-tiny (512 points), the exhaustive one also through
  ``evaluate`` one candidate at a time (``HardwareModel(fast=False)``, the reference path).
- ``per_candidate``: CPU ms per candidate of the reference path (``evaluate`` on random candidates of
  skipnet-bench) against the fast path's exhaustive search (imcsim/nas/fastcost.py), measured here.

One warm-up search on the tiny space runs first (SciPy's lazy imports, Numba/engine first calls),
outside every timing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import peak_rss_mib, print_json  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from imcsim.nas import predictor, samples, search  # noqa: E402
from imcsim.nas.flow import samples_path  # noqa: E402
from imcsim.nas.hardware import HardwareModel  # noqa: E402
from imcsim.nas.space import load_space  # noqa: E402

GOAL_POINTS, GOAL_S = 1_000_000, 10.0
REFERENCE_CANDIDATES = 200


def problem(name: str, fast: bool = True) -> search.Problem:
    space = load_space(name)
    fitted = predictor.fit(samples.read(samples_path(space, None)), space.card.predictor)
    return search.Problem(space, fitted, HardwareModel(space, fast=fast))


def timed(f, *args, **kw) -> tuple[search.SearchResult, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    r = f(*args, **kw)
    return r, time.process_time() - c0, time.perf_counter() - w0


def summary(r: search.SearchResult, cpu_s: float, wall_s: float) -> dict:
    b = r.best
    return {"cpu_s": round(cpu_s, 3), "wall_s": round(wall_s, 3), "space_points": r.space_points,
            "candidates_priced": r.priced, "networks_visited": r.networks, "best_network": b.net.label(),
            "best_device": b.device, "best_array": [b.arr.rows, b.arr.cols, b.arr.rows_parallel],
            "best_objective": round(b.objective, 6), "settings": r.settings}


def same(a: search.SearchResult, b: search.SearchResult) -> bool:
    return (a.best.net, a.best.arr) == (b.best.net, b.best.arr) and a.best.objective == b.best.objective


def reference_ms_per_candidate(name: str, n: int) -> float:
    """CPU ms per candidate priced through ``evaluate`` alone, on ``n`` random candidates of the space."""
    prob = problem(name, fast=False)
    space, rng = prob.space, np.random.default_rng(0)
    picks = [(space.network([rng.integers(s) for s in space.network_sizes()]),
              space.array([rng.integers(s) for s in space.array_sizes()])) for _ in range(n)]
    c0 = time.process_time()
    for net, arr in picks:
        prob.hw.price(net, arr)
    return 1e3 * (time.process_time() - c0) / prob.hw.calls


def main() -> None:
    load_before = os.getloadavg()
    with threadpool_limits(1):
        search.shgo_search(problem("skipnet-tiny"), n_outer=16, n_inner=8)          # warm-up
        sh, sh_cpu, sh_wall = timed(search.shgo_search, problem("skipnet-bench"), n_outer=16, n_inner=8)
        ex, ex_cpu, ex_wall = timed(search.exhaustive_search, problem("skipnet-bench"))
        dg, dg_cpu, dg_wall = timed(search.shgo_search, problem("skipnet-digits"), n_outer=16, n_inner=8)
        t_sh, t_sh_cpu, t_sh_wall = timed(search.shgo_search, problem("skipnet-tiny"), n_outer=16, n_inner=8)
        t_ex, t_ex_cpu, t_ex_wall = timed(search.exhaustive_search, problem("skipnet-tiny"))
        t_ref, t_ref_cpu, t_ref_wall = timed(search.exhaustive_search, problem("skipnet-tiny", fast=False))
        ref_ms = reference_ms_per_candidate("skipnet-bench", REFERENCE_CANDIDATES)
    fast_ms = 1e3 * ex_cpu / ex.priced
    print_json({
        "timer": "CPU seconds of this process (time.process_time), BLAS at 1 thread; wall beside it",
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "cpus_on_machine": os.cpu_count(),
        "bench": {"shgo": summary(sh, sh_cpu, sh_wall), "exhaustive": summary(ex, ex_cpu, ex_wall),
                  "shgo_matches_exhaustive": same(sh, ex),
                  "exhaustive_over_shgo_cpu": round(ex_cpu / sh_cpu, 2),
                  "goal": f">= {GOAL_POINTS:.0e} points searched in < {GOAL_S:g} s on one core",
                  "goal_met": sh.space_points >= GOAL_POINTS and sh_cpu < GOAL_S and sh_wall < GOAL_S},
        "digits": {"shgo": summary(dg, dg_cpu, dg_wall), "exhaustive": "not run (113 million points)"},
        "tiny": {"shgo": summary(t_sh, t_sh_cpu, t_sh_wall), "exhaustive": summary(t_ex, t_ex_cpu, t_ex_wall),
                 "exhaustive_through_evaluate": summary(t_ref, t_ref_cpu, t_ref_wall),
                 "shgo_matches_exhaustive": same(t_sh, t_ex), "fast_matches_evaluate": same(t_ex, t_ref)},
        "per_candidate": {"evaluate_cpu_ms": round(ref_ms, 3),
                          "evaluate_basis": f"{REFERENCE_CANDIDATES} random skipnet-bench candidates, "
                                            "HardwareModel(fast=False), this run",
                          "fast_path_cpu_ms": round(fast_ms, 5),
                          "fast_path_basis": "skipnet-bench exhaustive CPU time / candidates priced, this run",
                          "evaluate_over_fast": round(ref_ms / fast_ms, 1)},
        "peak_rss_mib": round(peak_rss_mib(), 1),
    })


if __name__ == "__main__":
    main()
