"""Printing records as an aligned table, CSV or JSON (``--format``), shared by every command.

Records are dicts with unit-suffixed keys (``energy_pj``, ``latency_ns``); JSON output is a list of
those records, so scripts can rely on the names.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from imcsim.errors import SpecError
from imcsim.numbers import column_style, format_number

FORMATS = ("table", "csv", "json")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output as an aligned table (default), CSV or JSON records")


def emit(records: Sequence[Mapping[str, Any]], fmt: str = "table", *, title: str | None = None,
         columns: Sequence[str] | None = None, stream: TextIO | None = None) -> None:
    """Write ``records`` to ``stream`` (stdout) in ``fmt``; ``columns`` fixes the order."""
    stream = stream or sys.stdout
    cols = list(columns) if columns else _columns(records)
    if fmt == "json":
        json.dump([{c: _jsonable(r.get(c)) for c in cols} for r in records], stream, indent=1)
        stream.write("\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(cols)
        for r in records:
            writer.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    elif fmt == "table":
        if title:
            stream.write(title + "\n")
        stream.write(format_table(records, cols) + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")


def format_table(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """An aligned text table; every column of floats uses one number style (:mod:`imcsim.numbers`)."""
    styles = {c: column_style([r.get(c) for r in records]) for c in columns}
    cells = [[format_number(r.get(c), styles[c]) for c in columns] for r in records]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r.get(c)) or r.get(c) is None for r in records) for c in columns]

    def line(values: Iterable[str]) -> str:
        parts = []
        for v, w, num in zip(values, widths, numeric):
            parts.append(v.rjust(w) if num else v.ljust(w))
        return "  ".join(parts).rstrip()

    out = [line(columns), line("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def bounded_int(flag: str, value: int | None, lo: int, hi: int) -> None:
    """Every numeric option has an upper bound: out of ``lo .. hi`` is one SpecError line."""
    if value is not None and not lo <= value <= hi:
        raise SpecError("<flags>", flag, value, problem="out of range:", allowed=f"an integer {lo} .. {hi:,}")



def report_progress(stream: TextIO | None = None):
    """A progress callback for report building: one ``imcsim: report: ...`` line per stage on stderr,
    only when stderr is a terminal (None otherwise)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def say(line: str) -> None:
        print(f"imcsim: report: {line}", file=stream, flush=True)

    return say
