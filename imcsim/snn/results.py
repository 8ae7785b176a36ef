"""Per-inference energy, latency and EDP of a static-T SNN, a dynamic-timestep SNN and the INT8 CNN.

A dynamic SNN's figures are averages over its exit distribution p_t (samples run one at a time):
E = sum_t p_t E(t), L = sum_t p_t L(t), and EDP = E x L (the product of the averages; with costs
linear in t it depends on the average timesteps only). ``edp_per_sample_pj_ns`` is the mean of the
per-sample products sum_t p_t E(t) L(t), which also depends on the spread of the distribution.
``exit_share`` is the exit unit's own energy over the total; ``exit_latency_share`` its cycles over the
latency (the standby power paid meanwhile is in ``standby_pj``).

**Measured or assumed.** Every record says what its data-dependent figures rest on, as the CNN results do
(``basis_<figure>``, one of :data:`BASES`): ``basis_activity`` (the spike rates behind every layer's
densities), ``basis_exits`` (the exit distribution) and ``basis_accuracy``; :func:`basis_sentence` says it
in one line for the result's assumptions. Everything else is priced from the accelerator preset.
"""

from __future__ import annotations

from typing import Any

from imcsim.snn.cost import COMPONENTS, Cost, SNNCost
from imcsim.snn.exits import average_timesteps

#: what a figure rests on: measured by execution (the functional run on the kernels), given (a table or
#: histogram passed in), assumed (a stated default, A), or spec (not data-dependent: all T timesteps run)
BASES: tuple[str, ...] = ("measured", "given", "assumed", "spec")
#: (basis field, what it covers)
FIGURES: tuple[tuple[str, str], ...] = (
    ("activity", "spike activity (every layer's input-bit and AND densities)"),
    ("exits", "exit distribution"),
    ("accuracy", "accuracy"),
)


def activity_basis(source: str) -> str:
    """The basis of an :class:`~imcsim.snn.cost.ActivityTable` by its source."""
    return {"functional run": "measured", "given table": "given"}.get(source, "assumed")


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
            accuracy: float | None, activity: str, exit_cycles: float = 0.0, exits: str = "spec",
            activity_is: str | None = None) -> dict[str, Any]:
    e = cost.total_pj
    lat = cost.cycles * cycle_ns
    rec: dict[str, Any] = {"mode": mode, "timesteps_avg": avg_t, "energy_pj": e, "latency_ns": lat,
                           "edp_pj_ns": e * lat, "edp_per_sample_pj_ns": edp_sample,
                           "exit_share": cost.component("exit") / e if e else 0.0,
                           "exit_latency_share": exit_cycles / cost.cycles if cost.cycles else 0.0,
                           "accuracy": accuracy, "activity_source": activity,
                           "basis_activity": activity_is or activity_basis(activity), "basis_exits": exits,
                           "basis_accuracy": "measured" if accuracy is not None else "none"}
    rec.update({f"{c}_pj": cost.component(c) for c in COMPONENTS})
    return rec


def compare(sc: SNNCost, cnn: Cost | None, histogram: list[float] | None, *, evaluated: bool = True,
            dynamic_label: str = "snn-dynamic", activity: str = "", accuracy_static: float | None = None,
            accuracy_dynamic: float | None = None, accuracy_cnn: float | None = None,
            exits: str = "assumed") -> list[dict[str, Any]]:
    """Records for the INT8 CNN (if given), the static T-step SNN and (if a histogram is given) the
    dynamic SNN, with EDP and energy relative to the static SNN. ``exits``: the basis of the histogram
    (:data:`BASES`; the static SNN's is ``spec``)."""
    if exits not in BASES:
        raise ValueError(f"exits basis {exits!r}; allowed: {', '.join(BASES)}")
    t_max = sc.timesteps
    recs = []
    if cnn is not None:
        recs.append(_record("int8-cnn", cnn, sc.hw.cycle_ns, None, cnn.total_pj * cnn.cycles * sc.hw.cycle_ns,
                            accuracy_cnn, "default (A)", activity_is="assumed"))
    static_hist = [0.0] * (t_max - 1) + [1.0]
    st, st_edp, _ = _mix(sc, static_hist, evaluated=False)
    recs.append(_record(f"snn-static-T{t_max}", st, sc.hw.cycle_ns, float(t_max), st_edp, accuracy_static, activity))
    if histogram is not None:
        dy, dy_edp, dy_exit = _mix(sc, histogram, evaluated)
        recs.append(_record(dynamic_label, dy, sc.hw.cycle_ns, average_timesteps(histogram), dy_edp,
                            accuracy_dynamic, activity, dy_exit, exits))
    base = recs[1 if cnn is not None else 0]
    for r in recs:
        r["energy_vs_static"] = r["energy_pj"] / base["energy_pj"]
        r["latency_vs_static"] = r["latency_ns"] / base["latency_ns"]
        r["edp_vs_static"] = r["edp_pj_ns"] / base["edp_pj_ns"]
        r["edp_reduction_vs_static"] = 1.0 - r["edp_vs_static"]
    return recs


def basis_sentence(rows: list[dict[str, Any]]) -> str:
    """``Measured by execution: ...; given: ...; assumed: ...`` over the SNN records (the INT8 CNN's are
    named apart), for the result's assumptions."""
    by: dict[str, list[str]] = {b: [] for b in BASES}
    snn = [r for r in rows if r.get("mode") != "int8-cnn"]
    for key, what in FIGURES:
        seen = {r.get(f"basis_{key}") for r in snn} - {None, "none"}
        for b in BASES:
            if b in seen and b != "spec":
                by[b].append(what + (" (dynamic rows; static rows run all T)" if key == "exits" else ""))
    parts = [f"{label}: {', '.join(by[b])}" for b, label in (("measured", "measured by execution (the SNN run "
             "on the bit-serial kernels, its exits and accuracy)"), ("given", "given"), ("assumed", "assumed (A)"))
             if by[b]]
    cnn = [r for r in rows if r.get("mode") == "int8-cnn"]
    if cnn:
        parts.append("the INT8 CNN: activity assumed (A)" + ("; its accuracy measured (the float ANN run)"
                                                              if cnn[0].get("accuracy") is not None else ""))
    return "Measured or assumed: " + "; ".join(parts) + "; every price from the accelerator preset (its S/T/D/A tags)"
