"""Lifetime of the most-written cell per device and method, with the endurance and steps/day it rests on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

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
from imcsim.report.plots.style import device_colour, save, style
from imcsim.report.tables import ok_rows


def _fmt_number(v: float) -> str:
    return f"{v:.0e}".replace("e+0", "e").replace("e+", "e") if v >= 1e4 else f"{v:g}"


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}" if 1 <= v < 1e7 else f"{v:.3g}"


def lifetime_notes(df: pd.DataFrame, endurance: Mapping[str, float] | None = None) -> dict[str, str]:
    """Per device, the endurance and steps/day a lifetime rests on, as one line of text.

    Endurance comes from an ``endurance_cycles`` column, else from ``endurance`` (the device card).
    Steps/day from the ``steps_per_day`` column every result row stores (never inverted from the
    lifetime: one lifetime formula, :func:`imcsim.device.base.lifetime_years`); "not recorded" without it.
    """
    notes = {}
    for device, g in df.groupby(column_or_all(df, "device"), sort=False):
        end = None
        if "endurance_cycles" in g.columns and g["endurance_cycles"].notna().any():
            end, end_src = float(g["endurance_cycles"].dropna().iloc[0]), "run"
        elif endurance and str(device) in endurance:
            end, end_src = float(endurance[str(device)]), "card"
        spd_text = "steps/day not recorded"
        if "steps_per_day" in g.columns and g["steps_per_day"].notna().any():
            vals = sorted(set(g["steps_per_day"].dropna().astype(float)))
            spd_text = "steps/day " + "/".join(_fmt_rate(v) for v in vals)
        if end is None:
            end_text = "endurance unknown"
        elif math.isinf(end):
            end_text = f"unlimited endurance ({end_src})"
        else:
            end_text = f"endurance {_fmt_number(end)} cycles ({end_src})"
        notes[str(device)] = f"{end_text}, {spd_text}"
    return notes


def plot_lifetime(df: pd.DataFrame, out_dir: str | Path, endurance: Mapping[str, float] | None = None) -> Plot:
    """Lifetime in years per device and method on a log axis; infinite lifetimes drawn as arrows at the top."""
    name, title = "lifetime", "Array lifetime under continuous training"
    data = ok_rows(df)
    data, skip = rows_with(data, ["lifetime_years"])
    if skip:
        return Plot(name, title, skipped=skip)
    methods = distinct_values(data, "method")
    devices = distinct_values(data, "device")
    colours = {d: device_colour(str(d), [str(x) for x in devices]) for d in devices}
    life = data["lifetime_years"].astype(float)
    finite = life[np.isfinite(life) & (life > 0)]
    lo = float(finite.min()) if len(finite) else 1.0
    hi = float(finite.max()) if len(finite) else 10.0
    y_min = 10 ** math.floor(math.log10(min(lo, 1.0)) - 0.3)
    y_max = 10 ** math.ceil(math.log10(max(hi, 10.0)) + 1.0)
    notes = lifetime_notes(data, endurance)
    width = 0.8 / max(1, len(devices))
    with style():
        fig = Figure(figsize=(max(6.0, 1.2 + 1.3 * len(methods) * max(1, len(devices)) / 2) + 1.6,
                              4.6 + 0.2 * len(devices)), layout="constrained")
        ax = fig.subplots()
        ax.set_yscale("log")
        ax.set_ylim(y_min, y_max)
        ax.axhline(10, color="grey", ls="--", lw=0.8)
        ax.text(len(methods) - 0.5, 10, " 10 years", va="bottom", ha="right", fontsize=7, color="grey")
        for k, device in enumerate(devices):
            for g_i, method in enumerate(methods):
                sel = (column_or_all(data, "device") == device) & (column_or_all(data, "method") == method)
                v = data.loc[sel, "lifetime_years"].astype(float).to_numpy()
                if not len(v):
                    continue
                x = g_i + (k - (len(devices) - 1) / 2) * width
                if np.isinf(v).all():
                    top = y_max / 3
                    wear = data.loc[sel, "max_cell_wear_per_step"] if "max_cell_wear_per_step" in data else None
                    why = "no writes" if wear is not None and (wear.fillna(0) == 0).all() else "no wear-out"
                    ax.annotate("", xy=(x, y_max * 0.95), xytext=(x, top / 4),
                                arrowprops={"arrowstyle": "-|>", "color": colours[device], "lw": 1.5})
                    ax.text(x, top / 5, "\u221e", ha="center", va="top", fontsize=14, color=colours[device])
                    ax.text(x, top / 40, why, ha="center", va="top", fontsize=7, color=colours[device])
                    continue
                fin = v[np.isfinite(v)]
                worst = float(fin.min())
                ax.plot([x], [worst], marker="o", color=colours[device], markersize=7)
                if len(fin) > 1 and fin.max() > worst:
                    ax.vlines(x, worst, fin.max(), color=colours[device], lw=1.5)
                if np.isinf(v).any():
                    ax.text(x, worst, " \u2191\u221e", fontsize=7, color=colours[device], va="bottom")
        ax.set_xticks(range(len(methods)), [str(m) for m in methods])
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("training method")
        ax.set_ylabel("lifetime of the most-written cell (years, log)")
        handles = [Line2D([], [], ls="", marker="o", color=colours[d], label=f"{d}: {notes.get(str(d), '')}")
                   for d in devices]
        fig.legend(handles=handles, loc="outside lower center", frameon=False, ncols=1,
                   title="device: lifetime assumptions")
        fig.suptitle(title)
        files = save(fig, Path(out_dir), name)
    caption = ("Years until the most-written cell reaches its endurance at the stated steps per day; dots are "
               "the worst point of each device and method, a line spans to the best; an arrow with \u221e "
               "is an unlimited lifetime: no array cell is written (no writes), or the device does not wear "
               "out (no wear-out). Endurance is in write cycles "
               "(ReRAM: program pulses).")
    return Plot(name, title, caption, files)


@register("lifetime", 50)
def _draw(df: pd.DataFrame, out: Path, inputs: PlotInputs) -> Plot:
    return plot_lifetime(df, out, inputs.endurance)
