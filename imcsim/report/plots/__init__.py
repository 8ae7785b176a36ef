"""Report plots: one figure per module of this package, a registry (:mod:`.base`) and shared styling
(:mod:`.style`). :func:`all_plots` draws every registered figure in report order.

Add a figure: a module here with a ``plot_<name>(df, out_dir, ...) -> Plot`` and a ``draw`` registered
with ``@register(label, order)`` (docs/ARCHITECTURE.md, "How to extend").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from imcsim.report.plots.array_size import plot_vs_array_size
from imcsim.report.plots.base import Plot, PlotInputs, PlotSpec, register, registered
from imcsim.report.plots.energy_breakdown import MAX_BARS, plot_energy_breakdown
from imcsim.report.plots.lifetime import lifetime_notes, plot_lifetime
from imcsim.report.plots.pareto import plot_pareto
from imcsim.report.plots.style import (
    ENERGY_UNITS,
    RC,
    TIME_UNITS,
    component_colour,
    device_colour,
    save,
    si_scale,
    style,
)
from imcsim.report.plots.utilisation import plot_utilisation
from imcsim.report.plots.writes import plot_writes


def all_plots(df: pd.DataFrame, out_dir: str | Path, params: Sequence[str] = (),
              endurance: Mapping[str, float] | None = None,
              progress: Callable[[str], None] | None = None) -> list[Plot]:
    """Every registered report plot, in report order (skipped ones included, with their reason)."""
    out = Path(out_dir)
    inputs = PlotInputs(tuple(params), endurance)
    specs = registered()
    plots = []
    for i, spec in enumerate(specs, 1):
        if progress is not None:
            progress(f"plot {i}/{len(specs)}: {spec.label}")
        plots.append(spec.draw(df, out, inputs))
    return plots


__all__ = ["ENERGY_UNITS", "MAX_BARS", "RC", "TIME_UNITS", "Plot", "PlotInputs", "PlotSpec", "all_plots",
           "component_colour", "device_colour", "lifetime_notes", "plot_energy_breakdown", "plot_lifetime",
           "plot_pareto", "plot_utilisation", "plot_vs_array_size", "plot_writes", "register", "registered",
           "save", "si_scale", "style"]
