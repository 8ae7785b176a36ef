"""Heatmap of the fraction of array cells holding weights over rows x cols; devices with identical grids share a panel."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from imcsim.report.plots.base import (
    Plot,
    PlotInputs,
    column_or_all,
    distinct_values,
    register,
    rows_with,
)
from imcsim.report.plots.style import fmt_count, save, style
from imcsim.report.tables import ok_rows, varying

MAX_PANEL_METHODS = 4  # more methods than this: the heatmap averages over methods
MAX_PANEL_COLUMNS = 3  # heatmap panels per row when there is one panel per device


def plot_utilisation(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Heatmap of the fraction of array cells holding weights over rows x cols, one panel per device."""
    name, title = "utilisation", "Array utilisation over rows x cols"
    data = ok_rows(df)
    data, skip = rows_with(data, ["rows", "cols", "map_utilisation"])
    if skip:
        return Plot(name, title, skipped=skip)
    rows = sorted(data["rows"].unique())
    cols = sorted(data["cols"].unique())
    if len(rows) * len(cols) < 2:
        return Plot(name, title, skipped="a single array shape (rows x cols): nothing to map")
    devices = distinct_values(data, "device")
    methods = distinct_values(data, "method")
    by_method = 1 < len(methods) <= MAX_PANEL_METHODS and len(varying(data, ["method"])) > 0
    # one panel per device (and method); utilisation rarely depends on the device (it is the mapping):
    # devices whose grids are identical share one panel, named after all of them
    def _grid(sel: pd.Series) -> pd.Series:
        return data[sel].groupby(["rows", "cols"])["map_utilisation"].mean().round(9)

    merged: dict[Any, list[Any]] = {}
    for d in devices:
        g = _grid(column_or_all(data, "device") == d)
        key = next((k for k in merged if _grid(column_or_all(data, "device") == k).equals(g)), d) if not by_method else d
        merged.setdefault(key, []).append(d)
    identical = [group for group in merged.values() if len(group) > 1]
    devices = list(merged)
    panels = [(m, d) for m in (methods if by_method else ["all"]) for d in devices]
    ncols = len(devices) if by_method else min(len(devices), MAX_PANEL_COLUMNS)
    nrows = math.ceil(len(panels) / ncols)
    keys = ["rows", "cols"]
    averaged = False
    with style():
        fig = Figure(figsize=(1.0 + (1.0 + 0.55 * len(cols)) * ncols + 1.0,
                              0.9 + (0.8 + 0.42 * len(rows)) * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        image = None
        for k, (method, device) in enumerate(panels):
            i, j = divmod(k, ncols)
            ax = axes[i][j]
            sel = column_or_all(data, "device") == device
            if by_method:
                sel &= column_or_all(data, "method") == method
            sub = data[sel]
            counts = sub.groupby(keys).size()
            averaged |= bool((counts > 1).any())
            grid = sub.groupby(keys)["map_utilisation"].mean().unstack("cols")
            grid = grid.reindex(index=rows, columns=cols).to_numpy(dtype=float) * 100
            image = ax.imshow(grid, vmin=0, vmax=100, cmap="viridis", origin="lower", aspect="auto")
            for r in range(len(rows)):
                for c in range(len(cols)):
                    val = grid[r, c]
                    if np.isnan(val):
                        continue
                    ax.text(c, r, f"{val:.0f}%", ha="center", va="center", fontsize=7,
                            color="white" if val < 60 else "black")
            ax.set_xticks(range(len(cols)), [fmt_count(c) for c in cols])
            ax.set_yticks(range(len(rows)), [fmt_count(r) for r in rows])
            ax.grid(False)
            head = (", ".join(str(x) for x in merged.get(device, [device])) if device != "all"
                    else "all devices")
            ax.set_title(head + (f" / {method}" if by_method else ""))
            if k + ncols >= len(panels):
                ax.set_xlabel("array columns")
            if j == 0:
                ax.set_ylabel("array rows")
        if image is not None:
            fig.colorbar(image, ax=axes, label="utilisation (% of cells holding weights)", shrink=0.9)
        fig.suptitle(title + " per device" + (" and method" if by_method else ""))
        files = save(fig, Path(out_dir), name)
    caption = "Percentage of the array cells that hold weights, per array shape; blank cells were not evaluated."
    if identical:
        caption += (" Devices with the same utilisation everywhere share a panel ("
                    + "; ".join(", ".join(str(x) for x in g) for g in identical) + ").")
    if averaged:
        caption += " Where several points share a shape (other swept parameters), the mean is shown."
    return Plot(name, title, caption, files)


@register("utilisation", 60)
def _draw(df: pd.DataFrame, out: Path, inputs: PlotInputs) -> Plot:
    return plot_utilisation(df, out)
