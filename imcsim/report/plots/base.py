"""What a report plot is (:class:`Plot`), the registry of the sweep report's plots, and the table
helpers they share.

A plot module (one figure each, in this package) draws from the results table and returns a
:class:`Plot`: the files written, a title and a caption, or, when the columns it needs are missing or
constant, no files and the reason it was skipped. A plot never raises on missing data: a sweep over
devices only has no array-size axis, and that is a note, not an error. Failed rows are dropped by the
plot (``ok_rows``), never drawn. A module registers its figure with :func:`register`; modules of this
package are discovered, not listed (docs/ARCHITECTURE.md, "How to extend").
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


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


@dataclass(frozen=True)
class PlotInputs:
    """What a plot may need besides the results table."""

    params: Sequence[str] = ()                       # swept parameter columns (bar labels)
    endurance: Mapping[str, float] | None = None     # device name -> endurance cycles (from the cards)


@dataclass(frozen=True)
class PlotSpec:
    """One figure of the sweep report: its label (progress lines), its place in the report and how to draw it."""

    label: str
    order: int
    draw: Callable[[pd.DataFrame, Path, PlotInputs], Plot]


_REGISTRY: dict[str, PlotSpec] = {}
_DISCOVERED = False
#: modules of this package that draw no report figure
_NOT_PLOTS = {"base", "style"}


def register(label: str, order: int) -> Callable[[Callable[[pd.DataFrame, Path, PlotInputs], Plot]],
                                                 Callable[[pd.DataFrame, Path, PlotInputs], Plot]]:
    """Decorator: add a ``draw(df, out_dir, inputs) -> Plot`` to the report at position ``order``."""
    def add(draw: Callable[[pd.DataFrame, Path, PlotInputs], Plot]) -> Callable[[pd.DataFrame, Path, PlotInputs], Plot]:
        if label in _REGISTRY and _REGISTRY[label].draw is not draw:
            raise ValueError(f"report plot {label!r} registered twice")
        _REGISTRY[label] = PlotSpec(label, order, draw)
        return draw
    return add


def registered() -> list[PlotSpec]:
    """Every report plot, in report order (modules of this package imported once)."""
    global _DISCOVERED
    if not _DISCOVERED:
        for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
            if info.name not in _NOT_PLOTS and not info.name.startswith("_"):
                importlib.import_module(f"{__package__}.{info.name}")
        _DISCOVERED = True
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.label))


def missing_columns(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in df.columns or df[c].isna().all()]


def rows_with(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, str | None]:
    """The rows of ``df`` with a value in every one of ``columns``, or why a plot needing them is skipped
    (the one prelude every figure shares)."""
    missing = missing_columns(df, columns)
    if missing:
        return df, f"needs column(s) {', '.join(missing)}"
    return df.dropna(subset=list(columns)), None


def distinct_values(df: pd.DataFrame, column: str) -> list[Any]:
    """Distinct values of ``column`` in first-seen order ("all" when the column is absent)."""
    if column not in df.columns:
        return ["all"]
    return list(dict.fromkeys(df[column].tolist()))


def column_or_all(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column] if column in df.columns else pd.Series(["all"] * len(df), index=df.index)
