"""Stacked bars of energy per step by component, one bar per design point (absolute and share)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from imcsim.report.plots.base import Plot, PlotInputs, register
from imcsim.report.plots.style import ENERGY_UNITS, component_colour, save, si_scale, style
from imcsim.report.tables import component_columns, ok_rows, point_labels

MAX_BARS = 48          # more design points than this: the breakdown shows one point per device/method


def plot_energy_breakdown(df: pd.DataFrame, out_dir: str | Path, params: Sequence[str] = ()) -> Plot:
    """Stacked horizontal bars of energy per step by component, one bar per design point.

    With more than ``MAX_BARS`` points, one bar per device and method: the point with the lowest
    energy-delay product.
    """
    name, title = "energy_breakdown", "Energy per step by component"
    data = ok_rows(df)
    comps = [c for c in component_columns(data) if data[c].fillna(0).abs().sum() > 0]
    if data.empty or not comps:
        return Plot(name, title, skipped="no energy_<component>_pj columns with non-zero values")
    caption = "Energy of one step (one training step, or one inference batch) split by component; " \
              "left in absolute terms, right as a share of the total."
    if len(data) > MAX_BARS:
        key = "edp_pj_ns" if "edp_pj_ns" in data.columns else "energy_pj" if "energy_pj" in data.columns else comps[0]
        groups = [c for c in ("device", "method") if c in data.columns]
        if groups:
            data = data.loc[data.groupby(groups, sort=False)[key].idxmin()]
            caption += f" {len(df)} points are too many for one bar each: each bar is the point with the " \
                       f"lowest {key} of its {' and '.join(groups)}."
        else:
            data = data.nsmallest(MAX_BARS, key)
            caption += f" Only the {MAX_BARS} points with the lowest {key} are shown."
    labels = point_labels(data, list(params))
    values = data[comps].fillna(0.0).to_numpy(dtype=float)
    totals = values.sum(axis=1)
    if (values < 0).any():
        caption += " Some component energies are negative, which no cost model should produce: check those points."
    factor, unit = si_scale(float(totals.max()), ENERGY_UNITS)
    n = len(data)
    with style():
        fig = Figure(figsize=(11, 1.9 + 0.26 * n), layout="constrained")
        ax_abs, ax_share = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
        y = np.arange(n)
        left_abs = np.zeros(n)
        left_share = np.zeros(n)
        shares = np.divide(values, totals[:, None], out=np.zeros_like(values), where=totals[:, None] > 0)
        for k, comp in enumerate(comps):
            label = comp.removeprefix("energy_").removesuffix("_pj").replace("_", " ")
            colour = component_colour(comp.removeprefix("energy_").removesuffix("_pj"))
            ax_abs.barh(y, values[:, k] / factor, left=left_abs, color=colour, label=label, height=0.75)
            ax_share.barh(y, shares[:, k] * 100, left=left_share, color=colour, height=0.75)
            left_abs += values[:, k] / factor
            left_share += shares[:, k] * 100
        ax_abs.set_yticks(y, labels.tolist())
        ax_abs.invert_yaxis()
        ax_abs.set_xlabel(f"energy per step ({unit})")
        ax_share.set_xlabel("share of step energy (%)")
        ax_share.set_xlim(0, 100)
        for ax in (ax_abs, ax_share):
            ax.grid(axis="y", visible=False)
        ax_abs.set_title("absolute")
        ax_share.set_title("share")
        fig.suptitle(title + " and design point")
        fig.legend(loc="outside lower center", ncols=min(len(comps), 6), title="component", frameon=False)
        files = save(fig, Path(out_dir), name)
    return Plot(name, title + " and design point", caption, files)


@register("energy breakdown", 10)
def _draw(df: pd.DataFrame, out: Path, inputs: PlotInputs) -> Plot:
    return plot_energy_breakdown(df, out, inputs.params)
