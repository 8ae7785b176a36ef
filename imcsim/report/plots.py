"""Report plots: each function draws one figure from a results table and writes it as PNG and SVG.

Every plot function takes the results table (failed rows are dropped here, never drawn) and an output
folder, and returns a :class:`Plot`: the files written, a title and a caption for the HTML, or, when the
columns it needs are missing or constant, no files and the reason it was skipped. A plot never raises
on missing data: a sweep over devices only has no array-size axis, and that is a note, not an error.

Drawing uses matplotlib's object API on the Agg canvas (no pyplot state, no display), a fixed SVG hash
salt and no date metadata, so the same table gives the same files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, LogFormatter, NullLocator  # noqa: E402

from imcsim.device.base import DAYS_PER_YEAR  # noqa: E402
from imcsim.engine.ledger import COMPONENTS  # noqa: E402
from imcsim.report.pareto import grouped_pareto_mask  # noqa: E402
from imcsim.report.tables import component_columns, ok_rows, point_labels, varying  # noqa: E402

MAX_BARS = 48          # more design points than this: the breakdown shows one point per device/method
MAX_PANEL_METHODS = 4  # more methods than this: the heatmap averages over methods
MAX_PANEL_COLUMNS = 3  # heatmap panels per row when there is one panel per device
RASTER_POINTS = 500    # scatter layers with more points are embedded as bitmaps in the SVG (size, speed)
_RC = {
    "svg.hashsalt": "imcsim-report",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
#: Stable colours: the same device or component has the same colour in every plot.
_DEVICE_COLOURS = {"sas-mram": "#1f77b4", "sot-mram": "#2ca02c", "stt-mram": "#9467bd",
                   "reram": "#d62728", "sram": "#7f7f7f"}
_EXTRA_COLOURS = ["#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939"]
_DASHES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_ENERGY_UNITS = [(1.0, "pJ"), (1e3, "nJ"), (1e6, "\u00b5J"), (1e9, "mJ"), (1e12, "J")]
_TIME_UNITS = [(1.0, "ns"), (1e3, "\u00b5s"), (1e6, "ms"), (1e9, "s")]


@dataclass
class Plot:
    """One report figure: what it shows, and either its files or why it was not drawn."""

    name: str
    title: str
    caption: str = ""
    files: list[Path] = field(default_factory=list)
    skipped: str | None = None

    @property
    def png(self) -> Path | None:
        return next((p for p in self.files if p.suffix == ".png"), None)

    @property
    def svg(self) -> Path | None:
        return next((p for p in self.files if p.suffix == ".svg"), None)


# --------------------------------------------------------------------------------------------------
# helpers


def device_colour(device: str, order: Sequence[str]) -> str:
    if device in _DEVICE_COLOURS:
        return _DEVICE_COLOURS[device]
    extra = [d for d in order if d not in _DEVICE_COLOURS]
    return _EXTRA_COLOURS[extra.index(device) % len(_EXTRA_COLOURS)] if device in extra else "#000000"


def component_colour(component: str) -> Any:
    cmap = matplotlib.colormaps["tab20"]
    k = COMPONENTS.index(component) if component in COMPONENTS else len(COMPONENTS)
    return cmap((2 * k) % 20 + (k // 10))


def si_scale(max_value: float, units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The largest prefix that keeps ``max_value`` at or above 1 (``(1e6, "µJ")`` for 3e7 pJ)."""
    chosen = units[0]
    if not math.isfinite(max_value) or max_value <= 0:
        return chosen
    for factor, unit in units:
        if max_value / factor >= 1:
            chosen = (factor, unit)
    return chosen


def _missing(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in df.columns or df[c].isna().all()]


def _save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=110, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None})
    return [png, svg]


class _PlainLogFormatter(LogFormatter):
    """Label the ticks LogFormatter would label, but as plain numbers (0.2, 5, 300, 1e+06)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _plain_log(axis: Any) -> None:
    """Log-axis tick labels as plain numbers rather than 2x10^0: easier to read."""
    axis.set_major_formatter(_PlainLogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.5)))


def _values(df: pd.DataFrame, column: str) -> list[Any]:
    """Distinct values of ``column`` in first-seen order ("all" when the column is absent)."""
    if column not in df.columns:
        return ["all"]
    return list(dict.fromkeys(df[column].tolist()))


def _col(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column] if column in df.columns else pd.Series(["all"] * len(df), index=df.index)


def _fmt_count(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:g}"


# --------------------------------------------------------------------------------------------------
# energy breakdown


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
    factor, unit = si_scale(float(totals.max()), _ENERGY_UNITS)
    n = len(data)
    with matplotlib.rc_context(_RC):
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
        files = _save(fig, Path(out_dir), name)
    return Plot(name, title + " and design point", caption, files)


# --------------------------------------------------------------------------------------------------
# latency and energy versus array size


def plot_vs_array_size(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Latency and energy per step against rows x cols, one line per device, one column per method."""
    name, title = "array_size", "Latency and energy per step versus array size"
    data = ok_rows(df)
    missing = _missing(data, ["rows", "cols", "latency_ns", "energy_pj"])
    if missing:
        return Plot(name, title, skipped=f"needs column(s) {', '.join(missing)}")
    data = data.dropna(subset=["rows", "cols", "latency_ns", "energy_pj"]).copy()
    data["cells"] = data["rows"].astype(float) * data["cols"].astype(float)
    sizes = sorted(data["cells"].unique())
    if len(sizes) < 2:
        return Plot(name, title, skipped="the array size (rows x cols) takes a single value")
    devices = _values(data, "device")
    methods = _values(data, "method")
    several = data.groupby([_col(data, "device"), _col(data, "method"), data["cells"]]).size().max() > 1
    metrics = [("latency_ns", "latency per step", _TIME_UNITS), ("energy_pj", "energy per step", _ENERGY_UNITS)]
    same: set[tuple[str, str]] = set()
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(max(5.0, 3.6 * len(methods)) + 1.6, 6.2), layout="constrained")
        axes = fig.subplots(2, len(methods), sharex=True, sharey="row", squeeze=False)
        for row, (metric, what, units) in enumerate(metrics):
            factor, unit = si_scale(float(data[metric].median()), units)
            for col, method in enumerate(methods):
                ax = axes[row][col]
                sub = data[_col(data, "method") == method]
                drawn: list[tuple[Any, pd.Series]] = []
                for k, device in enumerate(devices):
                    d = sub[_col(sub, "device") == device]
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
                            marker=_MARKERS[k % len(_MARKERS)], ls=_DASHES[k % len(_DASHES)],
                            markersize=4 + 2 * (len(drawn) - 1 if twin is not None else 0), mfc="none"
                            if twin is not None else colour)
                    if several:
                        ax.scatter(d["cells"], d[metric] / factor, color=colour, alpha=0.3, s=12,
                                   rasterized=len(data) > RASTER_POINTS)
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                _plain_log(ax.yaxis)
                ax.xaxis.set_major_locator(FixedLocator(sizes))
                ax.xaxis.set_minor_locator(NullLocator())
                ax.set_xticks(sizes, [_fmt_count(s) for s in sizes], rotation=45 if len(sizes) > 4 else 0)
                if row == 0:
                    ax.set_title(f"method: {method}" if method != "all" else "all points")
                if row == 1:
                    ax.set_xlabel("array size (rows x cols, cells)")
                if col == 0:
                    ax.set_ylabel(f"{what} ({unit})")
        handles = [Line2D([], [], color=device_colour(str(d), [str(x) for x in devices]),
                          marker=_MARKERS[k % len(_MARKERS)], ls=_DASHES[k % len(_DASHES)], label=str(d))
                   for k, d in enumerate(devices)]
        fig.legend(handles=handles, loc="outside right upper", title="device", frameon=False)
        fig.suptitle(title)
        files = _save(fig, Path(out_dir), name)
    caption = "Latency and energy of one step against the number of cells per array, log axes. "
    if same:
        pairs = sorted({f"{a} = {b}" for a, b in same})
        caption += ("Identical curves (drawn with open, larger markers on top of each other): "
                    + "; ".join(pairs) + ". ")
    caption += ("Several points share an array size (other shapes or parameters): the line joins the best "
                "at each size, faint dots are every point." if several else "One point per device and size.")
    return Plot(name, title, caption, files)


# --------------------------------------------------------------------------------------------------
# Pareto front


def plot_pareto(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Energy against latency and against area; points on the 3-objective Pareto front are marked."""
    name, title = "pareto", "Energy-latency-area trade-off with the Pareto front"
    data = ok_rows(df)
    missing = _missing(data, ["energy_pj", "latency_ns", "area_mm2"])
    if missing:
        return Plot(name, title, skipped=f"needs column(s) {', '.join(missing)}")
    data = data.dropna(subset=["energy_pj", "latency_ns", "area_mm2"])
    if len(data) < 2:
        return Plot(name, title, skipped="fewer than two evaluated points")
    front = grouped_pareto_mask(data, ["energy_pj", "latency_ns", "area_mm2"])
    devices = _values(data, "device")
    methods = _values(data, "method")
    efactor, eunit = si_scale(float(data["energy_pj"].median()), _ENERGY_UNITS)
    tfactor, tunit = si_scale(float(data["latency_ns"].median()), _TIME_UNITS)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(11, 4.8), layout="constrained")
        ax_t, ax_a = fig.subplots(1, 2, sharey=True)
        dev = _col(data, "device").astype(str).to_numpy()
        met = _col(data, "method").to_numpy()
        for device in devices:
            colour = device_colour(str(device), [str(x) for x in devices])
            for j, method in enumerate(methods):
                sel = (dev == str(device)) & (met == method)
                marker = _MARKERS[j % len(_MARKERS)]
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
            _plain_log(ax.xaxis)
            _plain_log(ax.yaxis)
        ax_t.set_xlabel(f"latency per step ({tunit})")
        ax_a.set_xlabel("area (mm\u00b2)")
        ax_t.set_ylabel(f"energy per step ({eunit})")
        ax_t.set_title("energy versus latency")
        ax_a.set_title("energy versus area")
        handles = [Line2D([], [], ls="", marker="o", color=device_colour(str(d), [str(x) for x in devices]),
                          label=str(d)) for d in devices]
        if len(methods) > 1 or methods != ["all"]:
            handles += [Line2D([], [], ls="", marker=_MARKERS[j % len(_MARKERS)], color="grey", label=str(m))
                        for j, m in enumerate(methods)]
        handles.append(Line2D([], [], ls="", marker="o", markersize=8, markerfacecolor="white",
                              markeredgecolor="black", label="on the Pareto front"))
        handles.append(Line2D([], [], ls="", marker="o", markersize=4, color="grey", alpha=0.35,
                              label="dominated"))
        fig.legend(handles=handles, loc="outside right upper", frameon=False, title="device / method")
        fig.suptitle(f"{title} ({int(front.sum())} of {len(data)} points on the front)")
        files = _save(fig, Path(out_dir), name)
    caption = ("Every evaluated point; large black-edged markers are non-dominated in energy, latency and "
               "area together (all minimised) among the points of the same workload and method (a cheaper "
               "method or a smaller network is not a better design), so a marked point may look dominated "
               "in one 2-D panel. The list is in tables/pareto.csv (on_front).")
    return Plot(name, title, caption, files)


# --------------------------------------------------------------------------------------------------
# reprogramming cost per training step


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
        _plain_log(ax.yaxis)
        ax.set_ylim(bottom=floor)


def _stats(data: pd.DataFrame, metric: str) -> dict[tuple[Any, Any], tuple[float, float, float]]:
    out = {}
    for (m, d), g in data.groupby([_col(data, "method"), _col(data, "device")], sort=False):
        v = g[metric].dropna().to_numpy(dtype=float)
        if len(v):
            out[(m, d)] = (float(np.median(v)), float(v.min()), float(v.max()))
    return out


def plot_writes(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Array-write (reprogramming) energy and time per training step, bars per device within each method."""
    name, title = "writes", "Reprogramming cost per training step (array writes)"
    data = ok_rows(df)
    missing = _missing(data, ["write_energy_pj", "write_latency_ns"])
    if missing:
        return Plot(name, title, skipped=f"needs column(s) {', '.join(missing)}")
    data = data.dropna(subset=["write_energy_pj", "write_latency_ns"])
    writes = data.groupby(_col(data, "method"), sort=False)["write_energy_pj"].apply(lambda s: (s > 0).any())
    silent = [str(m) for m, has in writes.items() if not has]
    data = data[_col(data, "method").isin([m for m, has in writes.items() if has])]
    if data.empty:
        return Plot(name, title, skipped="no point writes into the arrays (write_energy_pj is 0 everywhere)")
    methods = _values(data, "method")
    devices = _values(data, "device")
    colours = {d: device_colour(str(d), [str(x) for x in devices]) for d in devices}
    several = data.groupby([_col(data, "method"), _col(data, "device")]).size().max() > 1
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(max(6.0, 1.0 + 1.4 * len(methods) * max(1, len(devices)) / 2) + 1.4, 6.4),
                     layout="constrained")
        axes = fig.subplots(2, 1, sharex=True)
        for ax, metric, what, units in ((axes[0], "write_energy_pj", "write energy per step", _ENERGY_UNITS),
                                        (axes[1], "write_latency_ns", "write time per step", _TIME_UNITS)):
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
        files = _save(fig, Path(out_dir), name)
    caption = "Energy and time spent writing weights into the arrays in one training step (updates and reloads)."
    if several:
        caption += " Bars are the median over the other swept parameters; whiskers span min to max."
    if silent:
        caption += f" Methods that write nothing left out: {', '.join(silent)}."
    return Plot(name, title, caption, files)


# --------------------------------------------------------------------------------------------------
# lifetime


def _fmt_number(v: float) -> str:
    return f"{v:.0e}".replace("e+0", "e").replace("e+", "e") if v >= 1e4 else f"{v:g}"


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}" if 1 <= v < 1e7 else f"{v:.3g}"


def lifetime_notes(df: pd.DataFrame, endurance: Mapping[str, float] | None = None) -> dict[str, str]:
    """Per device, the endurance and steps/day a lifetime rests on, as one line of text.

    Endurance comes from an ``endurance_cycles`` column, else from ``endurance`` (the device card).
    Steps/day from a ``steps_per_day`` column, else implied by lifetime = endurance / (wear per step
    x steps/day x 365.25) on rows with a finite lifetime, and said so.
    """
    notes = {}
    for device, g in df.groupby(_col(df, "device"), sort=False):
        end = None
        if "endurance_cycles" in g.columns and g["endurance_cycles"].notna().any():
            end, end_src = float(g["endurance_cycles"].dropna().iloc[0]), "run"
        elif endurance and str(device) in endurance:
            end, end_src = float(endurance[str(device)]), "card"
        spd_text = "steps/day not recorded"
        if "steps_per_day" in g.columns and g["steps_per_day"].notna().any():
            vals = sorted(set(g["steps_per_day"].dropna().astype(float)))
            spd_text = "steps/day " + "/".join(_fmt_rate(v) for v in vals)
        elif end is not None and "max_cell_wear_per_step" in g.columns:
            life = g["lifetime_years"].astype(float)
            wear = g["max_cell_wear_per_step"].astype(float)
            ok = np.isfinite(life) & (life > 0) & (wear > 0)
            if ok.any():
                implied = end / (life[ok] * DAYS_PER_YEAR * wear[ok])
                lo, hi = float(implied.min()), float(implied.max())
                same = math.isclose(lo, hi, rel_tol=1e-3)
                spd_text = f"steps/day {_fmt_rate(lo)}" + ("" if same else f"-{_fmt_rate(hi)}") + " (implied)"
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
    missing = _missing(data, ["lifetime_years"])
    if missing:
        return Plot(name, title, skipped="needs column lifetime_years")
    data = data.dropna(subset=["lifetime_years"])
    methods = _values(data, "method")
    devices = _values(data, "device")
    colours = {d: device_colour(str(d), [str(x) for x in devices]) for d in devices}
    life = data["lifetime_years"].astype(float)
    finite = life[np.isfinite(life) & (life > 0)]
    lo = float(finite.min()) if len(finite) else 1.0
    hi = float(finite.max()) if len(finite) else 10.0
    y_min = 10 ** math.floor(math.log10(min(lo, 1.0)) - 0.3)
    y_max = 10 ** math.ceil(math.log10(max(hi, 10.0)) + 1.0)
    notes = lifetime_notes(data, endurance)
    width = 0.8 / max(1, len(devices))
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(max(6.0, 1.2 + 1.3 * len(methods) * max(1, len(devices)) / 2) + 1.6,
                              4.6 + 0.2 * len(devices)), layout="constrained")
        ax = fig.subplots()
        ax.set_yscale("log")
        ax.set_ylim(y_min, y_max)
        ax.axhline(10, color="grey", ls="--", lw=0.8)
        ax.text(len(methods) - 0.5, 10, " 10 years", va="bottom", ha="right", fontsize=7, color="grey")
        for k, device in enumerate(devices):
            for g_i, method in enumerate(methods):
                sel = (_col(data, "device") == device) & (_col(data, "method") == method)
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
        files = _save(fig, Path(out_dir), name)
    caption = ("Years until the most-written cell reaches its endurance at the stated steps per day; dots are "
               "the worst point of each device and method, a line spans to the best; an arrow with \u221e "
               "is an unlimited lifetime: no array cell is written (no writes), or the device does not wear "
               "out (no wear-out). Endurance is in write cycles "
               "(ReRAM: program pulses).")
    return Plot(name, title, caption, files)


# --------------------------------------------------------------------------------------------------
# utilisation heatmap


def plot_utilisation(df: pd.DataFrame, out_dir: str | Path) -> Plot:
    """Heatmap of the fraction of array cells holding weights over rows x cols, one panel per device."""
    name, title = "utilisation", "Array utilisation over rows x cols"
    data = ok_rows(df)
    missing = _missing(data, ["rows", "cols", "map_utilisation"])
    if missing:
        return Plot(name, title, skipped=f"needs column(s) {', '.join(missing)}")
    data = data.dropna(subset=["rows", "cols", "map_utilisation"])
    rows = sorted(data["rows"].unique())
    cols = sorted(data["cols"].unique())
    if len(rows) * len(cols) < 2:
        return Plot(name, title, skipped="a single array shape (rows x cols): nothing to map")
    devices = _values(data, "device")
    methods = _values(data, "method")
    by_method = 1 < len(methods) <= MAX_PANEL_METHODS and len(varying(data, ["method"])) > 0
    # one panel per device (and method); utilisation rarely depends on the device (it is the mapping):
    # devices whose grids are identical share one panel, named after all of them
    def _grid(sel: pd.Series) -> pd.Series:
        return data[sel].groupby(["rows", "cols"])["map_utilisation"].mean().round(9)

    merged: dict[Any, list[Any]] = {}
    for d in devices:
        g = _grid(_col(data, "device") == d)
        key = next((k for k in merged if _grid(_col(data, "device") == k).equals(g)), d) if not by_method else d
        merged.setdefault(key, []).append(d)
    identical = [group for group in merged.values() if len(group) > 1]
    devices = list(merged)
    panels = [(m, d) for m in (methods if by_method else ["all"]) for d in devices]
    ncols = len(devices) if by_method else min(len(devices), MAX_PANEL_COLUMNS)
    nrows = math.ceil(len(panels) / ncols)
    keys = ["rows", "cols"]
    averaged = False
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(1.0 + (1.0 + 0.55 * len(cols)) * ncols + 1.0,
                              0.9 + (0.8 + 0.42 * len(rows)) * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        image = None
        for k, (method, device) in enumerate(panels):
            i, j = divmod(k, ncols)
            ax = axes[i][j]
            sel = _col(data, "device") == device
            if by_method:
                sel &= _col(data, "method") == method
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
            ax.set_xticks(range(len(cols)), [_fmt_count(c) for c in cols])
            ax.set_yticks(range(len(rows)), [_fmt_count(r) for r in rows])
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
        files = _save(fig, Path(out_dir), name)
    caption = "Percentage of the array cells that hold weights, per array shape; blank cells were not evaluated."
    if identical:
        caption += (" Devices with the same utilisation everywhere share a panel ("
                    + "; ".join(", ".join(str(x) for x in g) for g in identical) + ").")
    if averaged:
        caption += " Where several points share a shape (other swept parameters), the mean is shown."
    return Plot(name, title, caption, files)


def all_plots(df: pd.DataFrame, out_dir: str | Path, params: Sequence[str] = (),
              endurance: Mapping[str, float] | None = None,
              progress: Callable[[str], None] | None = None) -> list[Plot]:
    """Every report plot, in report order (skipped ones included, with their reason)."""
    out = Path(out_dir)
    makers: list[tuple[str, Callable[[], Plot]]] = [
        ("energy breakdown", lambda: plot_energy_breakdown(df, out, params)),
        ("array size", lambda: plot_vs_array_size(df, out)),
        ("pareto", lambda: plot_pareto(df, out)),
        ("writes", lambda: plot_writes(df, out)),
        ("lifetime", lambda: plot_lifetime(df, out, endurance)),
        ("utilisation", lambda: plot_utilisation(df, out)),
    ]
    plots = []
    for i, (label, make) in enumerate(makers, 1):
        if progress is not None:
            progress(f"plot {i}/{len(makers)}: {label}")
        plots.append(make())
    return plots
