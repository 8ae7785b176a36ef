"""Shared styling of every report plot: matplotlib settings, stable colours per device and component,
markers and dashes, unit prefixes, plain log-axis labels and the PNG+SVG writer.

Drawing uses matplotlib's object API on the Agg canvas (no pyplot state, no display), a fixed SVG hash
salt and no date metadata, so the same table gives the same files. Every figure of imcsim (the sweep
report, ``imcsim nas``, ``imcsim snn``, ``imcsim sensor``, the timeline) draws inside :data:`RC` and
writes through :func:`save`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogFormatter  # noqa: E402

from imcsim.engine.ledger import COMPONENTS  # noqa: E402

RASTER_POINTS = 500    # scatter layers with more points are embedded as bitmaps in the SVG (size, speed)
#: matplotlib settings of every report figure
RC = {
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
DEVICE_COLOURS = {"sas-mram": "#1f77b4", "sot-mram": "#2ca02c", "stt-mram": "#9467bd",
                  "reram": "#d62728", "sram": "#7f7f7f"}
EXTRA_COLOURS = ["#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939"]
DASHES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
ENERGY_UNITS = [(1.0, "pJ"), (1e3, "nJ"), (1e6, "\u00b5J"), (1e9, "mJ"), (1e12, "J")]
TIME_UNITS = [(1.0, "ns"), (1e3, "\u00b5s"), (1e6, "ms"), (1e9, "s")]


def style() -> Any:
    """The context every report figure is drawn in: ``with style(): fig = Figure(...)``."""
    return matplotlib.rc_context(RC)


def device_colour(device: str, order: Sequence[str]) -> str:
    if device in DEVICE_COLOURS:
        return DEVICE_COLOURS[device]
    extra = [d for d in order if d not in DEVICE_COLOURS]
    return EXTRA_COLOURS[extra.index(device) % len(EXTRA_COLOURS)] if device in extra else "#000000"


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


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=110, metadata={"Software": None})
    # The SVG keeps the layout the PNG's draw just computed (within a point: it was computed at 110 dpi)
    # instead of running constrained layout again: a fifth less CPU per report.
    fig.set_layout_engine("none")
    fig.savefig(svg, metadata={"Date": None})
    return [png, svg]


class PlainLogFormatter(LogFormatter):
    """Label the ticks LogFormatter would label, but as plain numbers (0.2, 5, 300, 1e+06)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log(axis: Any) -> None:
    """Log-axis tick labels as plain numbers rather than 2x10^0: easier to read."""
    axis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.5)))


def fmt_count(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:g}"
