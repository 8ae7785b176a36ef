"""Sweep one assumption and show how much a macro-level headline result moves.

Why: most device numbers are assumptions (tag A); a user must see which of them matter before
trusting a comparison. One parameter is swept over a range with everything else fixed, on a macro
configuration (a study YAML of ``kind: macro``, a validation case with a macro, or the default
preset-like macro), and every headline metric is recorded per point.

Sweepable: any parameter of the device card (through ``load_device(name, overrides=...)``) and the
float fields of the macro configuration in :data:`MACRO_PARAMS`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field

from imcsim.config.loader import load_yaml, validate
from imcsim.errors import SpecError
from imcsim.validate.cases import MacroSpec, load_cases
from imcsim.validate.simulate import macro_record

FLAGS = "<flags>"
#: float fields of the macro configuration that can be swept (activity densities are assumptions too)
MACRO_PARAMS = ("node_nm", "clock_mhz", "input_density", "and_density")
#: headline results recorded at every point (keys of ``macro_summary``)
METRICS = ("tops_per_w", "tops_per_w_int8", "energy_fj_per_mac", "tops", "tops_per_mm2", "area_mm2")
#: the default macro when no study is given: the acc-sas-mram preset macro at its node and clock
DEFAULT_MACRO = {"rows": 128, "cols": 128, "rows_parallel": 64, "node_nm": 28.0, "clock_mhz": 500.0}


class MacroStudy(MacroSpec):
    """A macro configuration file: ``kind: macro`` + the fields of :class:`MacroSpec`."""

    kind: str = Field(pattern="^macro$")
    description: str = ""


def load_study(ref: str | None, device: str | None) -> tuple[MacroSpec, str]:
    """The macro to sweep and a label: a ``kind: macro`` YAML, a validation case name, or the default."""
    if ref is None:
        return MacroSpec(device=device or "sas-mram", **DEFAULT_MACRO), "default macro (acc-sas-mram preset macro)"
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        raw = load_yaml(ref)
        study = validate(MacroStudy, raw, ref)
        spec = MacroSpec(**study.model_dump(exclude={"kind", "description"}))
        label = Path(ref).stem
    else:
        cases = {c.name: c for c in load_cases() if c.macro is not None}
        if ref not in cases:
            raise SpecError(FLAGS, "--study", ref, "a kind: macro YAML file or a macro validation case: "
                            + ", ".join(sorted(cases)), problem="unknown study")
        spec, label = cases[ref].macro, ref
    if device is not None:
        spec = spec.model_copy(update={"device": device})
    return spec, label


def parse_range(text: str, points: int) -> list[float]:
    """``a:b`` -> ``points`` evenly spaced values from a to b (a != b, both finite)."""
    parts = text.split(":") if isinstance(text, str) else []
    try:
        a, b = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        a = b = math.nan
    if not (math.isfinite(a) and math.isfinite(b)) or a == b:
        raise SpecError(FLAGS, "--range", text, "a:b with two different numbers, e.g. 3:30",
                        problem="empty or invalid range")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise SpecError(FLAGS, "--points", points, "an integer >= 2")
    return [a + (b - a) * i / (points - 1) for i in range(points)]


def sweepable(spec: MacroSpec) -> list[str]:
    from imcsim.device import load_card

    return sorted(load_card(spec.device).param_names()) + list(MACRO_PARAMS)


def base_value(spec: MacroSpec, param: str) -> float | None:
    """The value the study uses when not swept (card value, override, or macro field)."""
    from imcsim.circuit.macro import DEFAULT_AND_DENSITY, DEFAULT_INPUT_DENSITY
    from imcsim.device import load_card

    if param in MACRO_PARAMS:
        v = getattr(spec, param)
        if v is None:
            v = DEFAULT_INPUT_DENSITY if param == "input_density" else DEFAULT_AND_DENSITY
        return float(v)
    if param in spec.device_overrides:
        ov = spec.device_overrides[param]
        return float(ov["value"] if isinstance(ov, dict) else ov)
    return float(load_card(spec.device).value(param))


def sweep(spec: MacroSpec, param: str, values: list[float]) -> list[dict[str, Any]]:
    """One record per value: the parameter and every metric of :data:`METRICS`."""
    allowed = sweepable(spec)
    if param not in allowed:
        import difflib

        near = difflib.get_close_matches(param, allowed, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise SpecError(FLAGS, "--param", param, ", ".join(allowed) + hint,
                        problem=f"not a parameter of {spec.device} or the macro:")
    records = []
    for v in values:
        if param in MACRO_PARAMS:
            rec = macro_record(spec.model_copy(update={param: v}))
        else:
            rec = macro_record(spec, {param: v})
        records.append({param: v, **{m: float(rec[m]) for m in METRICS}})
    return records


def swing(records: list[dict[str, Any]], metric: str, base: float | None) -> dict[str, Any]:
    """How much ``metric`` moves over the range: min, max, and (max - min) relative to the base point."""
    ys = [r[metric] for r in records]
    lo, hi = min(ys), max(ys)
    ref = base if base else (ys[0] if ys[0] else 1.0)
    return {"metric": metric, "min": lo, "max": hi, "base": base, "swing_pct": 100.0 * (hi - lo) / abs(ref),
            "max_over_min": hi / lo if lo else math.inf}


def plot(records: list[dict[str, Any]], param: str, metric: str, base_x: float | None, base_y: float | None,
         title: str, out_dir: Path) -> list[Path]:
    """``sensitivity.png`` and ``sensitivity.svg``: the metric against the swept parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r[param] for r in records], [r[metric] for r in records], marker="o", lw=1.5)
    if base_x is not None and base_y is not None:
        ax.plot([base_x], [base_y], marker="*", ms=14, color="C3", ls="none", label=f"study value {base_x:g}")
        ax.legend()
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths = [out_dir / "sensitivity.png", out_dir / "sensitivity.svg"]
    for p in paths:
        fig.savefig(p, dpi=120 if p.suffix == ".png" else None)
    plt.close(fig)
    return paths


def run(spec: MacroSpec, label: str, param: str, values: list[float], metric: str, out_dir: Path
        ) -> tuple[list[dict[str, Any]], dict[str, Any], list[Path]]:
    """Sweep, summarise, and write ``sensitivity.csv`` + PNG + SVG in ``out_dir``."""
    import csv

    if metric not in METRICS:
        raise SpecError(FLAGS, "--metric", metric, ", ".join(METRICS), problem="unknown metric")
    records = sweep(spec, param, values)
    bx = base_value(spec, param)
    by = None
    if bx is not None:
        by = sweep(spec, param, [bx])[0][metric]
    summary = swing(records, metric, by)
    summary.update(param=param, range_from=values[0], range_to=values[-1], study=label, device=spec.device,
                   study_value=bx)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "sensitivity.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(records[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(records)
    title = (f"{label} ({spec.device})\n{metric} moves {summary['swing_pct']:.0f} % of its study value "
             f"over {param} {values[0]:g}..{values[-1]:g}")
    paths = [csv_path] + plot(records, param, metric, bx, by, title, out_dir)
    return records, summary, paths
