"""Exit thresholds against accuracy, average timesteps and EDP, on measured per-timestep outputs.

Why here: the threshold trades accuracy for timesteps; the measured outputs (a functional run) give
each threshold's exit distribution and accuracy, and the SNN cost (:mod:`imcsim.snn.cost`) prices
that distribution. Rows: the static SNN at every T' <= T (the accuracy a fixed budget reaches), then
the dynamic SNN at every threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imcsim.snn.cost import Cost, SNNCost
from imcsim.snn.exits import exits, static
from imcsim.snn.results import compare


def threshold_sweep(logits: np.ndarray, labels: np.ndarray, rule: str, thresholds: list[float], sc: SNNCost,
                    cnn: Cost | None = None, accumulate: str = "sum", activity: str = "functional run",
                    cnn_accuracy: float | None = None) -> list[dict[str, Any]]:
    """One record per static T' (1..T) and per threshold, with energy/latency/EDP relative to static T."""
    t_max = sc.timesteps
    if logits.shape[1] != t_max:
        raise ValueError(f"outputs have {logits.shape[1]} timesteps, the cost {t_max}")
    rows: list[dict[str, Any]] = []
    acc_static = static(logits).accuracy(labels)
    for t in range(1, t_max + 1):
        hist = [0.0] * t_max
        hist[t - 1] = 1.0
        rec = compare(sc, cnn if t == t_max else None, hist, evaluated=False, dynamic_label=f"snn-static-T{t}",
                      activity=activity, accuracy_static=acc_static, accuracy_dynamic=static(logits[:, :t]).accuracy(labels),
                      accuracy_cnn=cnn_accuracy, exits="spec")
        if t == t_max and cnn is not None:
            rows.append({**rec[0], "rule": "none", "threshold": None, "histogram": ""})
        rows.append({**rec[-1], "rule": "none", "threshold": None, "histogram": _hist_text(hist)})
    for th in thresholds:
        e = exits(logits, rule, th, accumulate)
        hist = e.histogram()
        rec = compare(sc, None, hist, evaluated=True, dynamic_label=f"snn-{rule}", activity=activity,
                      accuracy_static=acc_static, accuracy_dynamic=e.accuracy(labels), exits="measured")[-1]
        rows.append({**rec, "rule": rule, "threshold": th, "histogram": _hist_text(hist)})
    return rows


def _hist_text(hist: list[float]) -> str:
    return " ".join(f"{h:.3f}" for h in hist)
