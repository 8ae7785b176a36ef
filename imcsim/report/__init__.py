"""Reports: tables (CSV/Parquet), plots (PNG/SVG) and a self-contained report.html from a results folder.

``build_report(folder, out=None) -> Path`` is the entry point; the heavy modules (pandas, matplotlib)
load only when it is called, so importing :mod:`imcsim.report` stays cheap.
"""

from __future__ import annotations

from pathlib import Path


def build_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write tables, plots and report.html for a sweep or run folder; returns the path of report.html."""
    from imcsim.report.build import build_report as _build

    return _build(folder, out)


__all__ = ["build_report"]
