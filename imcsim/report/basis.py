"""Measured or assumed, said in numbers: what a design point's data-dependent figures rest on.

Reads only the flat summary record (``Result.summary()``, a ``summary.csv`` row or a sweep store row):
``basis_<group>`` (``activity``, ``update_writes``, ``reload_writes``: measured, assumed, partly measured
or spec, see :data:`imcsim.engine.ledger.BASES`), ``activity_model``, and ``measured_<figure>`` next to
``assumed_<figure>`` (the stated default it replaces). Used by ``imcsim run`` (terminal) and
``report.html``. No pandas here, so the CLI can import it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imcsim.report.reloads import _num

#: (group, what it prices, the figures measured for it)
GROUPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("activity", "activity", (("input_bit_density", "input-bit density"), ("and_density", "AND density"),
                              ("toggle_density", "toggle density"))),
    ("update_writes", "update writes", (("flip_rate", "flip rate"),)),
    ("reload_writes", "reload writes", (("reload_flip_rate", "bits flipped per reload"),)),
)
#: summary columns report.html shows, per point
COLUMNS: tuple[str, ...] = (("activity_model",) + tuple(f"basis_{g}" for g, _, _ in GROUPS)
                            + tuple(f"{side}_{k}" for _, _, figs in GROUPS for k, _ in figs
                                    for side in ("measured", "assumed")))


def _pair(row: Mapping[str, Any], key: str, name: str) -> str | None:
    measured, assumed = _num(row, f"measured_{key}"), _num(row, f"assumed_{key}")
    if measured is None:
        return None if assumed is None else f"{name} {assumed:.3g} assumed"
    return f"{name} {measured:.4g} measured (default {assumed:.3g})" if assumed is not None else \
        f"{name} {measured:.4g} measured"


def basis_sentence(row: Mapping[str, Any]) -> str | None:
    """``Measured by execution: activity (measured: input-bit density 0.212 measured (default 0.5), ...);
    update writes assumed (flip rate 0.5 assumed); activity model activity``; None for a record without
    the basis fields (written before they existed)."""
    if not any(f"basis_{g}" in row for g, _, _ in GROUPS):
        return None
    parts = []
    for group, name, figs in GROUPS:
        basis = row.get(f"basis_{group}")
        if not isinstance(basis, str) or basis == "spec":
            continue
        if group == "activity" and row.get("activity_model") != "toggle":
            figs = tuple(f for f in figs if f[0] != "toggle_density")
        if group == "activity" and row.get("activity_model") == "toggle":
            figs = tuple(f for f in figs if f[0] != "and_density")
        values = [p for p in (_pair(row, k, n) for k, n in figs) if p]
        parts.append(f"{name} {basis}" + (f" ({', '.join(values)})" if values else ""))
    if not parts:
        return None
    model = row.get("activity_model")
    tail = f"; activity model {model}" if isinstance(model, str) and model else ""
    return "Measured or assumed: " + "; ".join(parts) + tail
