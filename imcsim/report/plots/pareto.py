"""Energy against latency and against area; points on the Pareto front of their workload and method marked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from imcsim.report.pareto import grouped_pareto_mask
from imcsim.report.plots.base import (
    Plot,
    PlotInputs,
    column_or_all,
    distinct_values,
    register,
    rows_with,
)
from imcsim.report.plots.style import (
    ENERGY_UNITS,
    MARKERS,
    RASTER_POINTS,
    TIME_UNITS,
    device_colour,
    plain_log,
    save,
    si_scale,
    style,
)
from imcsim.report.tables import ok_rows


def plot_pareto(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Energy against latency and against area; points on the 3-objective Pareto front are marked."""
    name, title = "pareto", "Energy-latency-area trade-off with the Pareto front"
    data = ok_rows(df)
    data, skip = rows_with(data, ["energy_pj", "latency_ns", "area_mm2"])
    if skip:
        return Plot(name, title, skipped=skip)
    if len(data) < 2:
        return Plot(name, title, skipped="fewer than two evaluated points")
    front = grouped_pareto_mask(data, ["energy_pj", "latency_ns", "area_mm2"])
    devices = distinct_values(data, "device")
    methods = distinct_values(data, "method")
    efactor, eunit = si_scale(float(data["energy_pj"].median()), ENERGY_UNITS)
    tfactor, tunit = si_scale(float(data["latency_ns"].median()), TIME_UNITS)
    with style():
        fig = Figure(figsize=(11, 4.8), layout="constrained")
        ax_t, ax_a = fig.subplots(1, 2, sharey=True)
        dev = column_or_all(data, "device").astype(str).to_numpy()
        met = column_or_all(data, "method").to_numpy()
        for device in devices:
            colour = device_colour(str(device), [str(x) for x in devices])
            for j, method in enumerate(methods):
                sel = (dev == str(device)) & (met == method)
                marker = MARKERS[j % len(MARKERS)]
                for on, kw in ((False, {"s": 16, "alpha": 0.35, "edgecolors": "none"}),
                               (True, {"s": 60, "alpha": 1.0, "edgecolors": "black", "linewidths": 1.0})):
                    m = sel & (front == on)
                    if not m.any():
                        continue
                    kw = {**kw, "rasterized": len(data) > RASTER_POINTS}
                    e = data["energy_pj"].to_numpy()[m] / efactor
                    ax_t.scatter(data["latency_ns"].to_numpy()[m] / tfactor, e, color=colour, marker=marker, **kw)
                    ax_a.scatter(data["area_mm2"].to_numpy()[m], e, color=colour, marker=marker, **kw)
        for ax in (ax_t, ax_a):
            ax.set_xscale("log")
            ax.set_yscale("log")
            plain_log(ax.xaxis)
            plain_log(ax.yaxis)
        ax_t.set_xlabel(f"latency per step ({tunit})")
        ax_a.set_xlabel("area (mm\u00b2)")
        ax_t.set_ylabel(f"energy per step ({eunit})")
        ax_t.set_title("energy versus latency")
        ax_a.set_title("energy versus area")
        handles = [Line2D([], [], ls="", marker="o", color=device_colour(str(d), [str(x) for x in devices]),
                          label=str(d)) for d in devices]
        if len(methods) > 1 or methods != ["all"]:
            handles += [Line2D([], [], ls="", marker=MARKERS[j % len(MARKERS)], color="grey", label=str(m))
                        for j, m in enumerate(methods)]
        handles.append(Line2D([], [], ls="", marker="o", markersize=8, markerfacecolor="white",
                              markeredgecolor="black", label="on the Pareto front"))
        handles.append(Line2D([], [], ls="", marker="o", markersize=4, color="grey", alpha=0.35,
                              label="dominated"))
        fig.legend(handles=handles, loc="outside right upper", frameon=False, title="device / method")
        fig.suptitle(f"{title} ({int(front.sum())} of {len(data)} points on the front)")
        files = save(fig, Path(out_dir), name)
    caption = ("Every evaluated point; large black-edged markers are non-dominated in energy, latency and "
               "area together (all minimised) among the points of the same workload and method (a cheaper "
               "method or a smaller network is not a better design), so a marked point may look dominated "
               "in one 2-D panel. The list is in tables/pareto.csv (on_front).")
    return Plot(name, title, caption, files)


@register("pareto", 30)
def _draw(df: pd.DataFrame, out: Path, inputs: PlotInputs) -> Plot:
    return plot_pareto(df, out)
