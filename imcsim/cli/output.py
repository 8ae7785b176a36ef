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
    cells = [[format_value(r.get(c)) for c in columns] for r in records]
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


def format_value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e6 or a < 1e-3:
            return f"{v:.3e}"
        if a >= 100:
            return f"{v:,.1f}"
        return f"{v:.4g}"
    return str(v)


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

