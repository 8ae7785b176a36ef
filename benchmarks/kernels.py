"""Bit-serial kernel speed against a float32 BLAS GEMM of the same layers, and the functional ResNet-18.

Prints one JSON object:
- ``layers``: per ResNet-18 conv layer at batch 1, the bit-serial ``conv2d`` call and ``np.matmul`` of
  a float32 im2col matrix with the weights (OpenBLAS, same 2 cores), measured in the same run.
  Both sides get their weights prepared beforehand, as they sit in the array / in memory before a
  layer runs: BLAS its float32 (K, N) matrix, the bit-serial kernel a ``PackedWeights`` (bit-plane
  words and weight column sums). The inputs are NOT prepared for the bit-serial side: its timed
  call does the range check, bit-pattern conversion, input bit-plane packing, the popcount GEMM and
  the activity counts. The BLAS timing EXCLUDES building the im2col matrix (built once beforehand),
  which favours the reference; ``blas_im2col_ms`` gives the time to build it, for information. MAC/s
  use the best of ``repeat`` runs; ``ratio`` = bit-serial MAC/s / BLAS MAC/s.
  ``bitserial_full_call_*`` / ``ratio_full_call``: the same call given the raw int weights, so it
  also packs them (``bitserial_pack_weights_ms``: packing alone).
- ``total``: the same summed over the conv layers (``ratio`` is the headline).
- ``functional``: a fresh process runs every conv/linear layer of ResNet-18 on one 224x224 image
  (``imcsim.circuit.functional.run_graph``, raw weights, reference check off) after a warm-up
  (compilation excluded); its wall time (best and median of ``repeat``) and its peak RSS.

Usage: ``python benchmarks/kernels.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

# Numba's threading layer here is GNU OpenMP. The machine is shared: with libgomp's default waiting
# (about 300k spins, then sleep) a parallel region whose second thread is descheduled burns time
# spinning; fully passive waiting (OMP_WAIT_POLICY=passive) instead pays a futex wake-up of
# 30-130 us at every parallel region (two per conv2d call). A short bounded spin (set before libgomp
# loads) keeps the quick hand-over between back-to-back regions and sleeps soon after; measured
# 58-60 ms vs 62-69 ms passive over the 20 layers. workqueue was slower still (380 us per tiny call).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, print_json, timed  # noqa: E402

_FUNCTIONAL = """
import json, sys
sys.path.insert(0, {here!r})
from _common import peak_rss_mib, timed
from imcsim.circuit import bitserial, functional
from imcsim.workload import zoo
graph = zoo.build("resnet18", resolution=224)
bitserial.warm_up()
functional.run_graph(graph, check=False)   # first run: also pages everything in
t = timed(lambda: functional.run_graph(graph, check=False), {repeat})
json.dump({{"whole_network_best_ms": t["best_ms"], "whole_network_median_ms": t["median_ms"],
           "peak_rss_mib": peak_rss_mib()}}, sys.stdout)
"""


def _functional(repeat: int) -> dict:
    code = _FUNCTIONAL.format(here=str(Path(__file__).resolve().parent), repeat=repeat)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ))   # same OpenMP settings
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from imcsim.circuit import bitserial
    from imcsim.circuit.functional import input_is_signed, layer_data
    from imcsim.circuit.reference import im2col
    from imcsim.workload import zoo

    graph = zoo.build("resnet18", resolution=224)
    bitserial.warm_up()
    # Two passes, bit-serial first and BLAS second: OpenBLAS worker threads spin for a while after
    # each call and would steal the cores from Numba's threads if the two were interleaved.
    cases = []
    for idx, node in enumerate(graph.nodes):
        if node.op == "conv":
            signed = input_is_signed(graph, node)
            x, w = layer_data(node, 1, np.random.default_rng([0, idx]), in_signed=signed)
            cases.append((node, signed, x, w))
    bs_times = []
    for node, signed, x, w in cases:
        a = node.attrs
        pack = partial(bitserial.PackedWeights, w, a["groups"])
        packed = pack()
        run_bs = partial(bitserial.conv2d, x, packed, a["stride"], a["padding"], a["dilation"], in_signed=signed)
        run_full = partial(bitserial.conv2d, x, w, a["stride"], a["padding"], a["dilation"], a["groups"],
                           in_signed=signed)
        run_bs()
        run_full()
        bs_times.append((timed(run_bs, args.repeat), timed(run_full, args.repeat), timed(pack, args.repeat)))
    layers = []
    tot_macs = tot_bs = tot_full = tot_blas = 0.0
    for (node, _signed, x, w), (bs_t, full_t, pack_t) in zip(cases, bs_times):
        a = node.attrs
        macs = node.macs
        kh, kw = a["kernel"]
        make_cols = partial(im2col, x.astype(np.float32), kh, kw, a["stride"], a["padding"], a["dilation"])
        im2col_t = timed(make_cols, 1)
        cols = np.ascontiguousarray(make_cols()[0][0])
        wt = np.ascontiguousarray(w.reshape(w.shape[0], -1).T.astype(np.float32))
        out = np.empty((cols.shape[0], wt.shape[1]), np.float32)
        run_blas = partial(np.matmul, cols, wt, out=out)
        run_blas()
        blas_t = timed(run_blas, args.repeat)
        bs_macs = macs / (bs_t["best_ms"] * 1e-3)
        blas_macs = macs / (blas_t["best_ms"] * 1e-3)
        tot_macs += macs
        tot_bs += bs_t["best_ms"]
        tot_full += full_t["best_ms"]
        tot_blas += blas_t["best_ms"]
        layers.append({
            "layer": node.name, "gemm_m_k_n": list(node.gemm_shape()[1:]), "macs": macs,
            "bitserial_best_ms": round(bs_t["best_ms"], 3), "bitserial_median_ms": round(bs_t["median_ms"], 3),
            "blas_best_ms": round(blas_t["best_ms"], 3), "blas_median_ms": round(blas_t["median_ms"], 3),
            "blas_im2col_ms": round(im2col_t["best_ms"], 3),
            "bitserial_gmac_per_s": round(bs_macs / 1e9, 2), "blas_gmac_per_s": round(blas_macs / 1e9, 2),
            "ratio": round(bs_macs / blas_macs, 3),
            "bitserial_full_call_best_ms": round(full_t["best_ms"], 3),
            "bitserial_full_call_median_ms": round(full_t["median_ms"], 3),
            "bitserial_pack_weights_ms": round(pack_t["best_ms"], 3),
            "ratio_full_call": round(blas_t["best_ms"] / full_t["best_ms"], 3),
        })
    total = {
        "macs": int(tot_macs), "bitserial_ms": round(tot_bs, 2), "blas_ms": round(tot_blas, 2),
        "bitserial_gmac_per_s": round(tot_macs / tot_bs / 1e6, 2), "blas_gmac_per_s": round(tot_macs / tot_blas / 1e6, 2),
        "ratio": round(tot_blas / tot_bs, 3),
        "bitserial_full_call_ms": round(tot_full, 2),
        "bitserial_full_call_gmac_per_s": round(tot_macs / tot_full / 1e6, 2),
        "ratio_full_call": round(tot_blas / tot_full, 3),
    }
    import numba

    print_json({
        "benchmark": "kernels", "network": "resnet18", "resolution": 224, "batch": 1, "repeat": args.repeat,
        "threads": numba.get_num_threads(), "threading_layer": numba.threading_layer(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "unset"),
        "blas_timing": "np.matmul(float32 im2col, float32 weights, out=...), im2col built beforehand (excluded)",
        "bitserial_timing": ("bitserial.conv2d(x, PackedWeights) with the weights packed beforehand (like BLAS's "
                             "float32 weights); the call includes the range check, conversion, input bit-plane "
                             "packing, popcount GEMM and activity counts"),
        "bitserial_full_call_timing": "bitserial.conv2d(x, raw int weights): the same plus weight packing",
        "total": total, "layers": layers, "functional": _functional(args.repeat),
        "benchmark_process_peak_rss_mib": round(peak_rss_mib(), 1),
    })


if __name__ == "__main__":
    main()
