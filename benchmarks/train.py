"""INT8 training step on the bit-serial kernels against the fp32 numpy step of the same method.

Prints one JSON object, everything measured in this process on the same batch:

- ``int8_step``: one INT8 SGD step of ``digits-cnn`` at batch 32 (method ``full``: every conv/linear
  trained, so forward, transposed-array backward error and weight-gradient GEMMs all run on the kernels,
  plus the stochastic-rounding updates); ``fp32_step``: the fp32 numpy step of the same method on the same
  batch (float im2col + BLAS); ``ratio_int8_over_fp32`` (goal: within 3x).
- ``inference_per_image``: whole-network INT8 inference of 256 held-out images on the kernels, per image.
- ``peak_rss_mib`` of the process (goal: under 1 GiB).

Times are single-thread CPU time (``time.process_time``; Numba limited to one thread, OpenBLAS through
threadpoolctl), best and median of ``repeat`` runs, because the machine is shared and wall time moves
by 2x within minutes; the wall times are printed beside them for information.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, print_json  # noqa: E402


def _cpu(fn, repeat: int) -> dict[str, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append((time.process_time() - c) * 1e3)
        wall.append((time.perf_counter() - w) * 1e3)
    return {"cpu_best_ms": min(cpu), "cpu_median_ms": statistics.median(cpu), "wall_median_ms": statistics.median(wall)}


def main(repeat: int = 5) -> None:
    from threadpoolctl import threadpool_limits

    from imcsim.circuit import bitserial
    from imcsim.execute import infer, train
    from imcsim.execute import qnet as Q
    from imcsim.execute.data import load_dataset
    from imcsim.execute.weights import random_params
    from imcsim.workload import zoo

    graph = zoo.build("digits-cnn")
    data = load_dataset("digits")
    train_set, test_set = data.split(0.3, seed=0)
    params = random_params(graph, 0)
    qnet = Q.quantize(graph, params, train_set.images[:64])
    x, y = train_set.images[:32], train_set.labels[:32]
    with threadpool_limits(1), train.single_thread():
        bitserial.warm_up()
        int8 = train.Int8Trainer(qnet, train.TrainOptions(method="full"), 0)
        fp32 = train.Fp32Trainer(graph, train.identity_norms(graph, Q.fold_params(graph, params)), "full", 2 ** -4)
        int8.step(x, y)
        fp32.step(x, y)
        t_int8 = _cpu(lambda: int8.step(x, y), repeat)
        t_fp32 = _cpu(lambda: fp32.step(x, y), repeat)
        images = test_set.images[:256]
        codes = infer.quantize_input(qnet, images)
        t_inf = _cpu(lambda: infer.run(qnet, codes), repeat)
    print_json({
        "workload": "digits-cnn", "batch": 32, "method": "full", "threads": 1,
        "int8_step": t_int8, "fp32_step": t_fp32,
        "ratio_int8_over_fp32": t_int8["cpu_best_ms"] / t_fp32["cpu_best_ms"],
        "inference_per_image_us": t_inf["cpu_best_ms"] * 1e3 / len(images),
        "inference_images": len(images),
        "peak_rss_mib": peak_rss_mib(),
        "goals": {"ratio_int8_over_fp32": "<= 3", "peak_rss_mib": "< 1024"},
    })


if __name__ == "__main__":
    main()
