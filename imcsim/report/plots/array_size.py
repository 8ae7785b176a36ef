"""Latency and energy per step against the array size (rows x cols), one line per device, one column per method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from imcsim.report.plots.base import (
    Plot,
    PlotInputs,
    column_or_all,
    distinct_values,
    register,
    rows_with,
)
from imcsim.report.plots.style import (
    DASHES,
    ENERGY_UNITS,
    MARKERS,
    RASTER_POINTS,
    TIME_UNITS,
    device_colour,
    fmt_count,
    plain_log,
    save,
    si_scale,
    style,
)
from imcsim.report.tables import ok_rows


def plot_vs_array_size(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Latency and energy per step against rows x cols, one line per device, one column per method."""
    name, title = "array_size", "Latency and energy per step versus array size"
    data = ok_rows(df)
    data, skip = rows_with(data, ["rows", "cols", "latency_ns", "energy_pj"])
    if skip:
        return Plot(name, title, skipped=skip)
    data = data.copy()
    data["cells"] = data["rows"].astype(float) * data["cols"].astype(float)
    sizes = sorted(data["cells"].unique())
    if len(sizes) < 2:
        return Plot(name, title, skipped="the array size (rows x cols) takes a single value")
    devices = distinct_values(data, "device")
    methods = distinct_values(data, "method")
    several = data.groupby([column_or_all(data, "device"), column_or_all(data, "method"), data["cells"]]).size().max() > 1
    metrics = [("latency_ns", "latency per step", TIME_UNITS), ("energy_pj", "energy per step", ENERGY_UNITS)]
    same: set[tuple[str, str]] = set()
    with style():
        fig = Figure(figsize=(max(5.0, 3.6 * len(methods)) + 1.6, 6.2), layout="constrained")
        axes = fig.subplots(2, len(methods), sharex=True, sharey="row", squeeze=False)
        for row, (metric, what, units) in enumerate(metrics):
            factor, unit = si_scale(float(data[metric].median()), units)
            for col, method in enumerate(methods):
                ax = axes[row][col]
                sub = data[column_or_all(data, "method") == method]
                drawn: list[tuple[Any, pd.Series]] = []
                for k, device in enumerate(devices):
                    d = sub[column_or_all(sub, "device") == device]
                    if d.empty:
                        continue
                    colour = device_colour(str(device), [str(x) for x in devices])
                    best = d.groupby("cells")[metric].min().sort_index()
                    # a curve identical to one already drawn would hide it: own marker and dash, and named
                    twin = next((o for o, b in drawn if b.index.equals(best.index)
                                 and np.allclose(b.to_numpy(), best.to_numpy(), rtol=1e-9)), None)
                    if twin is not None:
                        same.add((str(device), str(twin)))
                    drawn.append((device, best))
                    ax.plot(best.index, best.to_numpy() / factor, color=colour, label=str(device),
                            marker=MARKERS[k % len(MARKERS)], ls=DASHES[k % len(DASHES)],
                            markersize=4 + 2 * (len(drawn) - 1 if twin is not None else 0), mfc="none"
                            if twin is not None else colour)
                    if several:
                        ax.scatter(d["cells"], d[metric] / factor, color=colour, alpha=0.3, s=12,
                                   rasterized=len(data) > RASTER_POINTS)
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                plain_log(ax.yaxis)
                ax.xaxis.set_major_locator(FixedLocator(sizes))
                ax.xaxis.set_minor_locator(NullLocator())
                ax.set_xticks(sizes, [fmt_count(s) for s in sizes], rotation=45 if len(sizes) > 4 else 0)
                if row == 0:
                    ax.set_title(f"method: {method}" if method != "all" else "all points")
                if row == 1:
                    ax.set_xlabel("array size (rows x cols, cells)")
                if col == 0:
                    ax.set_ylabel(f"{what} ({unit})")
        handles = [Line2D([], [], color=device_colour(str(d), [str(x) for x in devices]),
                          marker=MARKERS[k % len(MARKERS)], ls=DASHES[k % len(DASHES)], label=str(d))
                   for k, d in enumerate(devices)]
        fig.legend(handles=handles, loc="outside right upper", title="device", frameon=False)
        fig.suptitle(title)
        files = save(fig, Path(out_dir), name)
    caption = "Latency and energy of one step against the number of cells per array, log axes. "
    if same:
        pairs = sorted({f"{a} = {b}" for a, b in same})
        caption += ("Identical curves (drawn with open, larger markers on top of each other): "
                    + "; ".join(pairs) + ". ")
    caption += ("Several points share an array size (other shapes or parameters): the line joins the best "
                "at each size, faint dots are every point." if several else "One point per device and size.")
    return Plot(name, title, caption, files)


@register("array size", 20)
def _draw(df: pd.DataFrame, out: Path, inputs: PlotInputs) -> Plot:
    return plot_vs_array_size(df, out)
