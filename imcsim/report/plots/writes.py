"""Array-write (reprogramming) energy and time per training step: bars per device within each method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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
    TIME_UNITS,
    device_colour,
    plain_log,
    save,
    si_scale,
    style,
)
from imcsim.report.tables import ok_rows


def _grouped(ax: Any, groups: Sequence[Any], series: Sequence[Any], stats: Mapping[tuple[Any, Any], tuple],
             colours: Mapping[Any, str], log: bool, factor: float) -> None:
    """Grouped bars: x = groups, one bar per series; stats maps (group, series) -> (mid, lo, hi)."""
    width = 0.8 / max(1, len(series))
    positives = [v[0] / factor for v in stats.values() if v[0] > 0]
    floor = (min(positives) / 3) if positives else 1.0
    for k, s in enumerate(series):
        xs, mids, lo, hi = [], [], [], []
        for g_i, g in enumerate(groups):
            if (g, s) not in stats:
                continue
            mid, low, high = (v / factor for v in stats[(g, s)])
            x = g_i + (k - (len(series) - 1) / 2) * width
            if mid <= 0:
                ax.text(x, floor if log else 0, "0", ha="center", va="bottom", fontsize=7)
                continue
            xs.append(x)
            mids.append(mid)
            lo.append(mid - low)
            hi.append(high - mid)
        if xs:
            bottom = floor if log else 0
            ax.bar(xs, np.array(mids) - bottom, bottom=bottom, width=width * 0.95, color=colours[s],
                   label=str(s))
            if any(v > 0 for v in lo + hi):
                ax.errorbar(xs, mids, yerr=[lo, hi], fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    if log:
        ax.set_yscale("log")
        plain_log(ax.yaxis)
        ax.set_ylim(bottom=floor)


def _stats(data: pd.DataFrame, metric: str) -> dict[tuple[Any, Any], tuple[float, float, float]]:
    out = {}
    for (m, d), g in data.groupby([column_or_all(data, "method"), column_or_all(data, "device")], sort=False):
        v = g[metric].dropna().to_numpy(dtype=float)
        if len(v):
            out[(m, d)] = (float(np.median(v)), float(v.min()), float(v.max()))
    return out


def plot_writes(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Array-write (reprogramming) energy and time per training step, bars per device within each method."""
    name, title = "writes", "Reprogramming cost per training step (array writes)"
    data = ok_rows(df)
    data, skip = rows_with(data, ["write_energy_pj", "write_latency_ns"])
    if skip:
        return Plot(name, title, skipped=skip)
    writes = data.groupby(column_or_all(data, "method"), sort=False)["write_energy_pj"].apply(lambda s: (s > 0).any())
    silent = [str(m) for m, has in writes.items() if not has]
    data = data[column_or_all(data, "method").isin([m for m, has in writes.items() if has])]
    if data.empty:
        return Plot(name, title, skipped="no point writes into the arrays (write_energy_pj is 0 everywhere)")
    methods = distinct_values(data, "method")
    devices = distinct_values(data, "device")
    colours = {d: device_colour(str(d), [str(x) for x in devices]) for d in devices}
    several = data.groupby([column_or_all(data, "method"), column_or_all(data, "device")]).size().max() > 1
    with style():
        fig = Figure(figsize=(max(6.0, 1.0 + 1.4 * len(methods) * max(1, len(devices)) / 2) + 1.4, 6.4),
                     layout="constrained")
        axes = fig.subplots(2, 1, sharex=True)
        for ax, metric, what, units in ((axes[0], "write_energy_pj", "write energy per step", ENERGY_UNITS),
                                        (axes[1], "write_latency_ns", "write time per step", TIME_UNITS)):
            stats = _stats(data, metric)
            pos = [v[0] for v in stats.values() if v[0] > 0]
            factor, unit = si_scale(float(np.median(pos)) if pos else 0.0, units)
            log = bool(pos) and max(pos) / min(pos) > 50
            _grouped(ax, methods, devices, stats, colours, log, factor)
            ax.set_ylabel(f"{what} ({unit})" + (", log" if log else ""))
            ax.grid(axis="x", visible=False)
        axes[1].set_xlabel("training method")
        handles = [Line2D([], [], ls="", marker="s", markersize=9, color=colours[d], label=str(d)) for d in devices]
        fig.legend(handles=handles, loc="outside right upper", title="device", frameon=False)
        fig.suptitle(title)
        files = save(fig, Path(out_dir), name)
    caption = "Energy and time spent writing weights into the arrays in one training step (updates and reloads)."
    if several:
        caption += " Bars are the median over the other swept parameters; whiskers span min to max."
    if silent:
        caption += f" Methods that write nothing left out: {', '.join(silent)}."
    return Plot(name, title, caption, files)


@register("writes", 40)
def _draw(df: pd.DataFrame, out: Path, inputs: PlotInputs) -> Plot:
    return plot_writes(df, out)
