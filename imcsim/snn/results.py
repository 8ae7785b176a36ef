"""Per-inference energy, latency and EDP of a static-T SNN, a dynamic-timestep SNN and the INT8 CNN.

A dynamic SNN's figures are averages over its exit distribution p_t (samples run one at a time):
E = sum_t p_t E(t), L = sum_t p_t L(t), and EDP = E x L (the product of the averages; with costs
linear in t it depends on the average timesteps only). ``edp_per_sample_pj_ns`` is the mean of the
per-sample products sum_t p_t E(t) L(t), which also depends on the spread of the distribution.
``exit_share`` is the exit unit's own energy over the total; ``exit_latency_share`` its cycles over the
latency (the standby power paid meanwhile is in ``standby_pj``).
"""

from __future__ import annotations

from typing import Any

from imcsim.snn.cost import COMPONENTS, Cost, SNNCost
from imcsim.snn.exits import average_timesteps


def _mix(sc: SNNCost, histogram: list[float], evaluated: bool) -> tuple[Cost, float, float]:
    """Mean cost over the distribution, mean per-sample EDP, mean exit-unit cycles."""
    e = Cost()
    edp = exit_cycles = 0.0
    for t, p in enumerate(histogram, start=1):
        if p <= 0:
            continue
        c = sc.at_exit(t, evaluated)
        e = e + c.scaled(p)
        edp += p * c.total_pj * c.cycles * sc.hw.cycle_ns
        if evaluated:
            exit_cycles += p * min(t, sc.timesteps - 1) * sc.exit_eval.cycles
    return e, edp, exit_cycles


def _record(mode: str, cost: Cost, cycle_ns: float, avg_t: float | None, edp_sample: float,
            accuracy: float | None, activity: str, exit_cycles: float = 0.0) -> dict[str, Any]:
    e = cost.total_pj
    lat = cost.cycles * cycle_ns
    rec: dict[str, Any] = {"mode": mode, "timesteps_avg": avg_t, "energy_pj": e, "latency_ns": lat,
                           "edp_pj_ns": e * lat, "edp_per_sample_pj_ns": edp_sample,
                           "exit_share": cost.component("exit") / e if e else 0.0,
                           "exit_latency_share": exit_cycles / cost.cycles if cost.cycles else 0.0,
                           "accuracy": accuracy, "activity_source": activity}
    rec.update({f"{c}_pj": cost.component(c) for c in COMPONENTS})
    return rec


def compare(sc: SNNCost, cnn: Cost | None, histogram: list[float] | None, *, evaluated: bool = True,
            dynamic_label: str = "snn-dynamic", activity: str = "", accuracy_static: float | None = None,
            accuracy_dynamic: float | None = None, accuracy_cnn: float | None = None) -> list[dict[str, Any]]:
    """Records for the INT8 CNN (if given), the static T-step SNN and (if a histogram is given) the
    dynamic SNN, with EDP and energy relative to the static SNN."""
    t_max = sc.timesteps
    recs = []
    if cnn is not None:
        recs.append(_record("int8-cnn", cnn, sc.hw.cycle_ns, None, cnn.total_pj * cnn.cycles * sc.hw.cycle_ns,
                            accuracy_cnn, "default (A)"))
    static_hist = [0.0] * (t_max - 1) + [1.0]
    st, st_edp, _ = _mix(sc, static_hist, evaluated=False)
    recs.append(_record(f"snn-static-T{t_max}", st, sc.hw.cycle_ns, float(t_max), st_edp, accuracy_static, activity))
    if histogram is not None:
        dy, dy_edp, dy_exit = _mix(sc, histogram, evaluated)
        recs.append(_record(dynamic_label, dy, sc.hw.cycle_ns, average_timesteps(histogram), dy_edp,
                            accuracy_dynamic, activity, dy_exit))
    base = recs[1 if cnn is not None else 0]
    for r in recs:
        r["energy_vs_static"] = r["energy_pj"] / base["energy_pj"]
        r["latency_vs_static"] = r["latency_ns"] / base["latency_ns"]
        r["edp_vs_static"] = r["edp_pj_ns"] / base["edp_pj_ns"]
        r["edp_reduction_vs_static"] = 1.0 - r["edp_vs_static"]
    return recs
