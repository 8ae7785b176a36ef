"""Gantt plot of an event-engine run, drawn from its timeline CSV (``resource, op, sample, start_ns, end_ns``).

``imcsim run --engine event`` writes ``timeline.csv`` (``<run>_timeline.csv`` for multi-run studies) next
to the ledgers; the report draws one Gantt chart per file: one lane per resource (the busiest
``MAX_LANES``, ordered by first use), one bar per busy interval, coloured by the kind of resource.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imcsim.report.plots import Plot, save, style

MAX_LANES = 40
TIMELINE_SUFFIX = "timeline.csv"
_KIND_COLOURS = {"macros": "#1f77b4", "sram_macros": "#17becf", "digital": "#ff7f0e", "tile_buffer": "#2ca02c",
                 "global_buffer": "#98df8a", "link": "#9467bd", "noc": "#9467bd", "dram": "#d62728",
                 "write_drivers": "#8c564b"}


def _kind(resource: str) -> str:
    return resource.split(":")[0]


def plot_timeline(csv_path: str | Path, out_dir: str | Path, name: str | None = None) -> Plot:
    """One Gantt chart of the intervals in ``csv_path`` (see the module docstring)."""
    csv_path = Path(csv_path)
    stem = name or csv_path.stem
    title = f"Event timeline ({csv_path.name})"
    df = pd.read_csv(csv_path)
    if df.empty:
        return Plot(stem, title, skipped="the timeline has no busy intervals")
    from matplotlib.figure import Figure

    busy = (df["end_ns"] - df["start_ns"]).groupby(df["resource"]).sum()
    lanes = busy.sort_values(ascending=False).index[:MAX_LANES]
    first = df[df["resource"].isin(lanes)].groupby("resource")["start_ns"].min().sort_values()
    order = list(first.index)
    scale, unit = (1e3, "us") if df["end_ns"].max() >= 1e4 else (1.0, "ns")
    with style():
        fig = Figure(figsize=(10, 0.28 * len(order) + 1.6))
        ax = fig.subplots()
        for i, res in enumerate(order):
            rows = df[df["resource"] == res]
            spans = list(zip(rows["start_ns"] / scale, (rows["end_ns"] - rows["start_ns"]) / scale))
            ax.broken_barh(spans, (i - 0.4, 0.8), facecolors=_KIND_COLOURS.get(_kind(res), "#7f7f7f"))
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(order, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel(f"time ({unit})")
        hidden = len(busy) - len(order)
        ax.set_title(title + (f", {hidden} idler resources not shown" if hidden > 0 else ""), fontsize=9)
        fig.tight_layout()
        files = save(fig, Path(out_dir), stem)
    caption = ("One lane per resource (macros of a layer, pooled digital units, buffer ports, NoC links, DRAM "
               "channels, write drivers), one bar per busy interval of the event engine.")
    return Plot(stem, title, caption, files)


def timeline_plots(folder: str | Path, out_dir: str | Path) -> list[Plot]:
    """Gantt charts of every ``*timeline.csv`` in a run folder."""
    return [plot_timeline(p, Path(out_dir), p.stem) for p in sorted(Path(folder).glob(f"*{TIMELINE_SUFFIX}"))]
