"""``imcsim report DIR [--out DIR2]``: tables, plots and report.html for a sweep or run folder
(or, for a folder ``imcsim sensor`` wrote, the front-end page of :mod:`imcsim.report.frontend`).

Prints the files it wrote as a table (``--format table|csv|json``) and, on stderr, one line per plot
it could not draw and why. Writes only ``tables/``, ``plots/`` and ``report.html`` under the output
folder (default: DIR); nothing else there is touched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imcsim.cli.output import add_format_option, emit, report_progress

ORDER = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="tables, plots and report.html for a sweep or run folder",
        description="Write tables (CSV, Parquet), plots (PNG, SVG) and one self-contained report.html "
                    "for the results in DIR (a sweep folder or a run folder).")
    p.add_argument("folder", metavar="DIR", help="sweep folder (sweep.json) or run folder (summary.csv)")
    p.add_argument("--out", metavar="DIR2", default=None,
                   help="write the report here instead of into DIR")
    add_format_option(p)
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from imcsim.report.build import make_report
    from imcsim.report.frontend import build_frontend_report, is_frontend_folder

    if is_frontend_folder(args.folder):  # written by imcsim sensor: its own page
        html = build_frontend_report(args.folder, args.out)
        written = [html, *sorted(html.parent.glob("frontend_*.png")), *sorted(html.parent.glob("frontend_*.svg"))]
        emit([{"file": p.name, "kind": "page" if p.suffix == ".html" else "plot", "size_bytes": p.stat().st_size}
              for p in written], args.format, title=f"report written to {html.parent}",
             columns=["file", "kind", "size_bytes"])
        return 0
    files = make_report(args.folder, args.out, progress=report_progress())
    base = files.html.parent
    records = []
    for path in files.written:
        kind = {"csv": "table", "parquet": "table", "png": "plot", "svg": "plot"}.get(path.suffix[1:], "page")
        records.append({"file": Path(path).relative_to(base).as_posix() if path.is_relative_to(base) else str(path),
                        "kind": kind, "size_bytes": path.stat().st_size})
    emit(records, args.format, title=f"report written to {base}", columns=["file", "kind", "size_bytes"])
    for plot in files.plots:
        if plot.skipped:
            print(f"imcsim: note: plot {plot.name} not drawn: {plot.skipped}", file=sys.stderr)
    return 0
