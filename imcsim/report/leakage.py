"""Leakage of a design point said in numbers: by source, under its power-gating policy, and what the
other policies would give (``imcsim run`` prints it under the table).

Reads only the flat summary record (``Result.summary()``, a ``summary.csv`` row or a sweep store row):
``power_gating``, ``energy_leakage_pj``, ``leakage_<source>_pj`` and ``leakage_if_<policy>_pj`` (see
:mod:`imcsim.engine.leakage`). No pandas here, so the CLI can import it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imcsim.report.reloads import _ENERGY, _num, _pct, _scaled

_SOURCES = (("sram_buffers", "SRAM buffers"), ("volatile_cells", "volatile cells"),
            ("idle_macros", "idle macros"), ("busy_macros", "busy macros"), ("wakeup", "wake-ups"),
            ("master_copy", "master copy"))
_POLICIES = (("none", "none"), ("macros", "macros"), ("macros_buffers", "macros+buffers"))


def leakage_sentence(row: Mapping[str, Any]) -> str | None:
    """``Leakage 1.46 mJ = 65.4 % of energy under power gating macros+buffers (SRAM buffers 1.46 mJ,
    ...); none 1.83 mJ, macros 1.79 mJ, macros+buffers 1.46 mJ``; None when the record has no breakdown."""
    total, energy = _num(row, "energy_leakage_pj"), _num(row, "energy_pj")
    policy = row.get("power_gating")
    if total is None or not policy or _num(row, "leakage_sram_buffers_pj") is None:
        return None
    share = f" = {_pct(total / energy)} of energy" if energy else ""
    parts = [(name, _num(row, f"leakage_{key}_pj")) for key, name in _SOURCES]
    by_source = ", ".join(f"{name} {_scaled(v, _ENERGY)}" for name, v in parts if v)
    wakes = _num(row, "macro_wakeups")
    if wakes:
        by_source += f"; {wakes:.0f} macro wake-ups"
    others = [(name, _num(row, f"leakage_if_{key}_pj")) for key, name in _POLICIES]
    alt = ", ".join(f"{name} {_scaled(v, _ENERGY)}" for name, v in others if v is not None)
    return (f"Leakage {_scaled(total, _ENERGY)}{share} under power gating {policy} ({by_source}); "
            f"by policy: {alt}")
