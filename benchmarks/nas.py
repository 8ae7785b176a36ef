"""Architecture-search speed: hierarchical SHGO against exhaustive search, in the same run.

Prints one JSON object. ``tiny``: the skipnet-tiny space (64 networks x 8 arrays = 512 points), SHGO and
exhaustive search on it, and whether SHGO found the exhaustive optimum. ``digits``: the skipnet-digits
space (884,736 networks x 128 arrays = 113 million points), SHGO search time (CLI defaults 16/8, and
with 8/4 sampling points), networks visited and
candidates priced by the engine; its exhaustive time is not run but extrapolated from the exhaustive
per-point time measured on the tiny space in this run (labelled as such). Issue goal: a search over at
least 10^6 (network x array) points in under 10 s on one core. One warm-up search on the tiny space
runs first (SciPy's lazy imports, Numba/engine first calls), outside every timing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import peak_rss_mib, print_json  # noqa: E402

from imcsim.nas import predictor, samples, search  # noqa: E402
from imcsim.nas.flow import samples_path  # noqa: E402
from imcsim.nas.hardware import HardwareModel  # noqa: E402
from imcsim.nas.space import load_space  # noqa: E402


def problem(name: str) -> search.Problem:
    space = load_space(name)
    fitted = predictor.fit(samples.read(samples_path(space, None)), space.card.predictor)
    return search.Problem(space, fitted, HardwareModel(space))


def summary(r: search.SearchResult) -> dict:
    b = r.best
    return {"seconds": round(r.seconds, 3), "networks_visited": r.networks, "candidates_priced": r.priced,
            "space_points": r.space_points, "best_network": b.net.label(), "best_device": b.device,
            "best_array": [b.arr.rows, b.arr.cols, b.arr.rows_parallel], "best_objective": round(b.objective, 6),
            "settings": r.settings}


def main() -> None:
    search.shgo_search(problem("skipnet-tiny"), n_outer=16, n_inner=8)          # warm-up
    ex = search.exhaustive_search(problem("skipnet-tiny"))
    sh = search.shgo_search(problem("skipnet-tiny"), n_outer=16, n_inner=8)
    per_point_s = ex.seconds / ex.priced
    t0 = time.perf_counter()
    big = search.shgo_search(problem("skipnet-digits"), n_outer=16, n_inner=8)
    wall = time.perf_counter() - t0
    small = search.shgo_search(problem("skipnet-digits"), n_outer=8, n_inner=4)
    print_json({
        "tiny": {"shgo": summary(sh), "exhaustive": summary(ex),
                 "shgo_matches_exhaustive": (sh.best.net, sh.best.arr) == (ex.best.net, ex.best.arr),
                 "exhaustive_over_shgo_time": round(ex.seconds / sh.seconds, 3)},
        "digits": {"shgo": summary(big), "wall_s": round(wall, 3),
                   "engine_ms_per_candidate": round(1e3 * big.seconds / big.priced, 3),
                   "exhaustive_s_extrapolated": round(per_point_s * big.space_points, 0),
                   "exhaustive_extrapolation_basis": "exhaustive s per priced point on skipnet-tiny in this run x "
                                                     "points of skipnet-digits (not run)",
                   "goal": ">= 1e6 points searched in < 10 s on one core",
                   "goal_met": big.space_points >= 1e6 and big.seconds < 10,
                   "shgo_fewer_points": summary(small),
                   "fewer_points_same_objective": small.best.objective == big.best.objective},
        "peak_rss_mib": round(peak_rss_mib(), 1),
    })


if __name__ == "__main__":
    main()
