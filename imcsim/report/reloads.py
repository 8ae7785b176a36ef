"""Reloads of streamed layers, said in numbers: one sentence per design point.

Reads only the flat summary record (``Result.summary()``, a ``summary.csv`` row or a sweep store row):
``reload_weights``, ``map_reloaded_layers`` and the ``reload_*`` attribution metrics (see
:mod:`imcsim.engine.ledger`). Used by ``imcsim run`` (terminal) and ``report.html``. No pandas here, so
the CLI can import it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_TIME = ((1e9, "s"), (1e6, "ms"), (1e3, "us"), (1.0, "ns"))
_ENERGY = ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ"), (1.0, "pJ"))


def _num(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    if hasattr(v, "item") and callable(v.item):  # numpy scalar
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        return None
    return float(v)


def _scaled(value: float, units: tuple[tuple[float, str], ...]) -> str:
    for factor, unit in units:
        if abs(value) >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value:.3g} {units[-1][1]}" if value else f"0 {units[-1][1]}"


def _pct(share: float) -> str:
    return f"{100 * share:.3g} %"


def _count(n: float) -> str:
    return f"{n / 1e6:.3g} M" if n >= 1e6 else f"{n / 1e3:.3g} k" if n >= 1e3 else f"{n:.0f}"


def is_streamed(row: Mapping[str, Any]) -> bool:
    """Whether the point reloads any weights (some layer did not fit and is streamed)."""
    n = _num(row, "reload_weights")
    return bool(n and n > 0)


def reload_sentence(row: Mapping[str, Any]) -> str | None:
    """``Reloads: 7 layers streamed, 12 M weights per step; reload time 37.1 ms = 24.1 % of latency
    (writes 36.6 ms, DRAM fetch 0.47 ms); reload energy 11.3 mJ = 24.6 % of energy (writes 0.485 mJ,
    DRAM fetch 1.44 mJ, standby while reloading 9.38 mJ)``; None when nothing is streamed (or the record
    predates the reload metrics)."""
    if not is_streamed(row):
        return None
    weights = _num(row, "reload_weights") or 0.0
    layers = _num(row, "map_reloaded_layers")
    head = f"Reloads: {layers:.0f} layers streamed, " if layers is not None else "Reloads: "
    head += f"{_count(weights)} weights written per step"
    t, e = _num(row, "reload_latency_ns"), _num(row, "reload_energy_pj")
    if t is None or e is None:
        return head
    t_share, e_share = _num(row, "reload_latency_share") or 0.0, _num(row, "reload_energy_share") or 0.0
    t_write = _num(row, "reload_write_latency_ns")
    time = f"reload time {_scaled(t, _TIME)} = {_pct(t_share)} of latency"
    if t_write is not None:
        time += f" (writes {_scaled(t_write, _TIME)}, DRAM fetch {_scaled(t - t_write, _TIME)})"
    parts = [(k, _num(row, f"reload_{k}_energy_pj")) for k in ("write", "dram", "standby")]
    names = {"write": "writes", "dram": "DRAM fetch", "standby": "standby while reloading"}
    energy = f"reload energy {_scaled(e, _ENERGY)} = {_pct(e_share)} of energy"
    if all(v is not None for _, v in parts):
        energy += " (" + ", ".join(f"{names[k]} {_scaled(v, _ENERGY)}" for k, v in parts) + ")"
    return f"{head}; {time}; {energy}"
