"""Bit-serial kernel speed against a float32 BLAS GEMM of the same layers, and the functional ResNet-18.

Prints one JSON object. Fairness rules (why each exists):

- **One process, same inputs, same threads.** Both sides run in this process on the same tensors.
  The headline ratios are *single-thread CPU time* (``time.process_time``, both sides limited to one
  thread: Numba via ``numba.set_num_threads``, OpenBLAS via threadpoolctl), because the machine is
  shared and wall time moves by 2x within minutes. Two-thread wall-time ratios are reported beside
  them, for information only.
- **An unhandicapped BLAS.** This environment sets ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``, which
  pin OpenBLAS to an older kernel. The script re-executes itself with both removed (in its own
  process only, before NumPy loads OpenBLAS) and reports which OpenBLAS kernel ran (threadpoolctl's
  ``architecture``) and which variables it removed.
- **Two definitions, both reported** (ratio = bit-serial MAC/s over BLAS MAC/s):
  ``ratio_prepared``: both sides' weights prepared beforehand, as they sit in the array / in memory
  (BLAS: float32 (K, N); bit-serial: ``PackedWeights``); the bit-serial call still packs its input
  bit planes, BLAS gets its im2col matrix built outside the timing (favours BLAS).
  ``ratio_everything_inside``: nothing prepared: the bit-serial call packs weights and inputs; BLAS
  builds im2col and converts the weights to float32 inside its timing.
- **The physical limit**: ``ideal`` is the measured single-thread rate of the bare AND + vector
  popcount + add loop (``_popcount.py``), and ``fraction_of_ideal`` how close the kernel gets.
- The machine's 1-minute load average is printed at the start and the end of the run.
- ``functional``: a fresh process runs every conv/linear layer of ResNet-18 on one 224x224 image
  (functional ``run_graph``, reference check off) after a warm-up; its wall time and peak RSS.

Usage: ``python benchmarks/kernels.py [--repeat N]``.
"""

from __future__ import annotations

import os
import sys

_HANDICAP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _HANDICAP) and "IMCSIM_BENCH_UNSET" not in os.environ:
    env = {k: v for k, v in os.environ.items() if k not in _HANDICAP}
    env["IMCSIM_BENCH_UNSET"] = ",".join(f"{v}={os.environ[v]}" for v in _HANDICAP if v in os.environ)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

# Numba's threading layer here is GNU OpenMP. The machine is shared: a short bounded spin (set before
# libgomp loads) keeps the quick hand-over between back-to-back parallel regions and sleeps soon after
# (passive waiting pays a 30-130 us futex wake-up at every region).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, print_json, timed  # noqa: E402

FUNCTIONAL_MODULE = "imcsim.execute.functional"

_FUNCTIONAL = """
import json, sys, importlib
sys.path.insert(0, {here!r})
from _common import peak_rss_mib, timed
from imcsim.circuit import bitserial
from imcsim.workload import zoo
functional = importlib.import_module({module!r})
graph = zoo.build("resnet18", resolution=224)
bitserial.warm_up()
functional.run_graph(graph, check=False)   # first run: also pages everything in
t = timed(lambda: functional.run_graph(graph, check=False), {repeat})
json.dump({{"whole_network_best_ms": t["best_ms"], "whole_network_median_ms": t["median_ms"],
           "peak_rss_mib": peak_rss_mib()}}, sys.stdout)
"""


def _functional(repeat: int) -> dict:
    code = _FUNCTIONAL.format(here=str(Path(__file__).resolve().parent), repeat=repeat, module=FUNCTIONAL_MODULE)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ))   # same OpenMP and OpenBLAS settings
    return json.loads(out.stdout)


def cpu_timed(fn: Callable[[], object], repeat: int) -> float:
    """Best-of-``repeat`` process CPU time of ``fn``, ms (all threads of the process counted)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best * 1e3


def _openblas() -> dict:
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        if info.get("internal_api") == "openblas":
            return {"kernel": info.get("architecture"), "version": info.get("version"),
                    "threads_default": info.get("num_threads")}
    return {"kernel": None, "note": "NumPy is not linked against OpenBLAS here"}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    load_start = _load()

    import numba
    from _popcount import ideal_mac_per_s
    from threadpoolctl import threadpool_limits

    from imcsim.circuit import bitserial
    from imcsim.circuit.reference import im2col
    from imcsim.workload import zoo
    functional = __import__(FUNCTIONAL_MODULE, fromlist=["layer_data"])

    graph = zoo.build("resnet18", resolution=224)
    bitserial.warm_up()
    cases = []
    for idx, node in enumerate(graph.nodes):
        if node.op == "conv":
            signed = functional.input_is_signed(graph, node)
            x, w = functional.layer_data(node, 1, np.random.default_rng([0, idx]), in_signed=signed)
            cases.append((node, signed, x, w))

    def runners(node, signed, x, w):
        a = node.attrs
        kh, kw = a["kernel"]
        packed = bitserial.PackedWeights(w, a["groups"])
        xf = x.astype(np.float32)
        cols = np.ascontiguousarray(im2col(xf, kh, kw, a["stride"], a["padding"], a["dilation"])[0][0])
        wt = np.ascontiguousarray(w.reshape(w.shape[0], -1).T.astype(np.float32))
        out = np.empty((cols.shape[0], wt.shape[1]), np.float32)

        def blas_inside():
            c = np.ascontiguousarray(im2col(x.astype(np.float32), kh, kw, a["stride"], a["padding"], a["dilation"])[0][0])
            return np.matmul(c, np.ascontiguousarray(w.reshape(w.shape[0], -1).T.astype(np.float32)))
        return {
            "bs_prepared": partial(bitserial.conv2d, x, packed, a["stride"], a["padding"], a["dilation"], in_signed=signed),
            "bs_inside": partial(bitserial.conv2d, x, w, a["stride"], a["padding"], a["dilation"], a["groups"],
                                 in_signed=signed),
            "blas_prepared": partial(np.matmul, cols, wt, out=out),
            "blas_inside": blas_inside,
        }

    # Single-thread CPU time first (before any multi-threaded region has woken up helper threads).
    # Bit-serial for all layers, then BLAS for all layers: OpenBLAS threads spin for a while after each
    # call and would steal time from Numba if the two were interleaved.
    one: list[dict[str, float]] = [{} for _ in cases]
    numba.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        for side in (("bs_prepared", "bs_inside"), ("blas_prepared", "blas_inside")):
            for i, case in enumerate(cases):
                r = runners(*case)
                for key in side:
                    r[key]()
                    one[i][key] = cpu_timed(r[key], args.repeat)
    ideal = ideal_mac_per_s(args.repeat)

    # Two-thread wall time, for information.
    two: list[dict[str, float]] = [{} for _ in cases]
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    with threadpool_limits(limits=2, user_api="blas"):
        for key in ("bs_prepared", "blas_prepared"):
            for i, case in enumerate(cases):
                r = runners(*case)
                r[key]()
                two[i][key] = timed(r[key], args.repeat)["best_ms"]

    layers = []
    tot = dict.fromkeys(("bs_prepared", "bs_inside", "blas_prepared", "blas_inside"), 0.0)
    tot2 = dict.fromkeys(("bs_prepared", "blas_prepared"), 0.0)
    tot_macs = 0
    for (node, _s, _x, _w), t1, t2 in zip(cases, one, two):
        tot_macs += node.macs
        for k in tot:
            tot[k] += t1[k]
        for k in tot2:
            tot2[k] += t2[k]
        layers.append({
            "layer": node.name, "gemm_m_k_n": list(node.gemm_shape()[1:]), "macs": node.macs,
            **{f"{k}_cpu_ms_1thread": round(v, 3) for k, v in t1.items()},
            "bitserial_gmac_per_s_1thread": round(node.macs / t1["bs_prepared"] / 1e6, 2),
            "ratio_prepared": round(t1["blas_prepared"] / t1["bs_prepared"], 3),
            "ratio_everything_inside": round(t1["blas_inside"] / t1["bs_inside"], 3),
            "ratio_prepared_wall_2threads": round(t2["blas_prepared"] / t2["bs_prepared"], 3),
        })
    bs_rate = tot_macs / tot["bs_prepared"] / 1e6
    total = {
        "macs": int(tot_macs),
        **{f"{k}_cpu_ms_1thread": round(v, 2) for k, v in tot.items()},
        **{f"{k}_wall_ms_2threads": round(v, 2) for k, v in tot2.items()},
        "bitserial_gmac_per_s_1thread": round(bs_rate, 2),
        "blas_gmac_per_s_1thread": round(tot_macs / tot["blas_prepared"] / 1e6, 2),
        "ratio_prepared": round(tot["blas_prepared"] / tot["bs_prepared"], 3),
        "ratio_everything_inside": round(tot["blas_inside"] / tot["bs_inside"], 3),
        "ratio_prepared_wall_2threads": round(tot2["blas_prepared"] / tot2["bs_prepared"], 3),
        "ideal_gmac_per_s_1thread": round(ideal["ideal_gmac_per_s_1thread"], 2),
        "fraction_of_ideal": round(bs_rate / ideal["ideal_gmac_per_s_1thread"], 3),
    }
    print_json({
        "benchmark": "kernels", "network": "resnet18", "resolution": 224, "batch": 1, "repeat": args.repeat,
        "load_average_1min": {"start": load_start, "end": _load()},
        "openblas": {**_openblas(), "env_removed": os.environ.get("IMCSIM_BENCH_UNSET", "") or "none were set"},
        "threading_layer": numba.threading_layer(), "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "unset"),
        "timing": {
            "ratio_prepared": ("bitserial.conv2d(x, PackedWeights) (input range check, conversion, bit-plane "
                               "packing, popcount GEMM, activity counts) vs np.matmul(float32 im2col, float32 "
                               "weights, out=...) with im2col built beforehand"),
            "ratio_everything_inside": ("bitserial.conv2d(x, raw int8 weights) (also packs the weights) vs im2col + "
                                        "float32 conversion + np.matmul"),
            "headline": "single-thread process CPU time, best of repeat",
        },
        "ideal_probe": ideal["probe"],
        "total": total, "layers": layers, "functional": _functional(args.repeat),
        "benchmark_process_peak_rss_mib": round(peak_rss_mib(), 1),
    })


if __name__ == "__main__":
    main()
