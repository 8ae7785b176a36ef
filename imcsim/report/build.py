"""``build_report``: read a results folder, write its tables, plots and ``report.html``.

Written, and only these (other files in the output folder are never touched)::

    OUT/tables/<name>.csv, OUT/tables/<name>.parquet     summary, components, phases, layers, pareto, failed
    OUT/plots/<name>.png, OUT/plots/<name>.svg           one pair per drawn plot
    OUT/report.html                                      self-contained page

``OUT`` defaults to the results folder itself.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from imcsim.errors import SpecError
from imcsim.paths import devices_dir
from imcsim.report.assumptions import DeviceAssumptions, device_assumptions
from imcsim.report.basis import COLUMNS as BASIS_COLUMNS
from imcsim.report.basis import basis_sentence
from imcsim.report.html import Page, render
from imcsim.report.load import ReportInput, card_name, for_display, parameter_columns, read_folder
from imcsim.report.plots import Plot, all_plots
from imcsim.report.reloads import reload_sentence
from imcsim.report.resources import resource_tables
from imcsim.report.tables import (
    build_tables,
    headline_table,
    ok_rows,
    point_labels,
    varying,
    with_derived,
    write_tables,
)
from imcsim.report.timeline import timeline_plots

HTML_NAME = "report.html"
MAX_LISTED_VALUES = 12
MAX_RELOAD_LINES = 12


@dataclass
class ReportFiles:
    """What :func:`make_report` wrote."""

    html: Path
    tables: list[Path] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    devices: list[DeviceAssumptions] = field(default_factory=list)

    @property
    def written(self) -> list[Path]:
        return self.tables + [f for p in self.plots for f in p.files] + [self.html]


def _out_dir(data: ReportInput, out: str | Path | None) -> Path:
    target = Path(out) if out is not None else data.folder
    if target.exists() and not target.is_dir():
        raise SpecError(str(target), "--out", problem="exists and is not a folder", allowed="a folder")
    for sub in ("tables", "plots"):
        if (target / sub).exists() and not (target / sub).is_dir():
            raise SpecError(str(target / sub), "--out", problem="exists and is not a folder; not replacing it",
                            allowed="an output folder whose tables/ and plots/ are folders or absent")
    if (target / HTML_NAME).is_dir():
        raise SpecError(str(target / HTML_NAME), "--out", problem="is a folder; not replacing it",
                        allowed=f"an output folder without a folder named {HTML_NAME}")
    return target


def _swept_values(data: ReportInput) -> dict[str, list[Any]]:
    """The values each varying parameter takes (for the header), at most a dozen listed each."""
    df = data.results
    out = {}
    for c in varying(df, parameter_columns(df, data.swept)):
        values = list(dict.fromkeys(df[c].tolist()))
        out[c] = values if len(values) <= MAX_LISTED_VALUES else values[:MAX_LISTED_VALUES] + ["..."]
    return out


def _id_last(df: pd.DataFrame) -> pd.DataFrame:
    """The page shows the point id (a hash, for finding a row in the store) after the readable columns."""
    if "point_id" not in df.columns:
        return df
    return df[[c for c in df.columns if c != "point_id"] + ["point_id"]]


def _reload_lines(data: ReportInput, reloads: pd.DataFrame | None) -> list[tuple[str, str]]:
    """(point label, sentence) for the first points that stream layers (all of them are in the table)."""
    if reloads is None:
        return []
    labels = point_labels(reloads, parameter_columns(data.results, data.swept))
    out = []
    for label, row in zip(labels, reloads.head(MAX_RELOAD_LINES).to_dict("records")):
        line = reload_sentence(row)
        if line:
            out.append((str(label), line))
    return out


def _basis(data: ReportInput) -> tuple[pd.DataFrame | None, list[tuple[str, str]]]:
    """Per evaluated point: the activity model, measured or assumed per group, measured next to assumed;
    and a sentence for the first points. None for results written before the basis fields existed."""
    df = ok_rows(data.results)
    cols = [c for c in BASIS_COLUMNS if c in df.columns]
    if df.empty or not any(c.startswith("basis_") for c in cols):
        return None, []
    labels = point_labels(df, parameter_columns(data.results, data.swept))
    table = pd.DataFrame({"point": labels.to_numpy()}, index=df.index)
    for c in cols:
        table[c] = df[c]
    lines = [(str(label), line) for label, row in zip(labels, df.head(MAX_RELOAD_LINES).to_dict("records"))
             if (line := basis_sentence(row))]
    return table.reset_index(drop=True), lines


def make_report(folder: str | Path, out: str | Path | None = None, *,
                card_loader: Callable[[str], Any] | None = None,
                progress: Callable[[str], None] | None = None) -> ReportFiles:
    """Write the tables, plots and HTML of ``folder`` into ``out`` (default: ``folder``).

    ``card_loader`` maps a device name to its card (default: the device library); a device without a
    card is reported in the Assumptions section, not an error. A folder with no results is a SpecError.
    ``progress`` is called with a short line before each stage (the CLI prints them on stderr).
    """
    say = progress or (lambda _line: None)
    data = read_folder(folder)
    out_dir = _out_dir(data, out)
    out_dir.mkdir(parents=True, exist_ok=True)
    good = ok_rows(data.results)
    # cards are loaded by what the results name (a path for a user card) ...
    devices = device_assumptions(good["device"].tolist() if "device" in good.columns else [], card_loader)
    endurance = {card_name(d.device): d.endurance.value for d in devices if d.endurance is not None}
    # ... and shown by card name in every table, legend and heading
    shown = dataclasses.replace(data, results=for_display(data.results))
    say(f"tables ({len(shown.results)} points)")
    tables = build_tables(shown)
    table_paths = write_tables(tables, out_dir / "tables")
    params = parameter_columns(shown.results, shown.swept)
    plots = all_plots(with_derived(shown.results), out_dir / "plots", params, endurance, progress=say)
    plots += timeline_plots(data.folder, out_dir / "plots")
    notes = []
    if "layers" not in tables:
        notes.append("No per-layer records in this folder (sweep stores keep one summary row per point), "
                     "so there are no per-layer or per-phase tables.")
    headline, headline_note = headline_table(shown)
    headline_note = " ".join(n for n in (headline_note, _chip_note(ok_rows(data.results))) if n)
    basis, basis_lines = _basis(shown)
    say("report.html")
    page = Page(
        title=f"imcsim report: {data.folder.resolve().name}",
        folder=data.folder, out_dir=out_dir, description=data.description,
        summary=_id_last(tables["summary"]), failed=_id_last(tables["failed"]), plots=plots, devices=devices, run_assumptions=data.assumptions,
        files=table_paths + [f for p in plots for f in p.files], swept_values=_swept_values(shown), notes=notes,
        reloads=_id_last(tables["reloads"]) if "reloads" in tables else None,
        reload_lines=_reload_lines(shown, tables.get("reloads")),
        leakage=_id_last(tables["leakage"]) if "leakage" in tables else None,
        stalls=_id_last(tables["stalls"]) if "stalls" in tables else None,
        resources=resource_tables(data.folder),
        headline=headline, headline_note=headline_note, energy_note=_energy_note(shown),
        basis=basis, basis_lines=basis_lines,
    )
    html_path = out_dir / HTML_NAME
    tmp = html_path.with_name("." + HTML_NAME + ".tmp")
    tmp.write_text(render(page), encoding="utf-8")
    os.replace(tmp, html_path)
    return ReportFiles(html_path, table_paths, plots, devices)


def _chip_note(df: pd.DataFrame) -> str:
    """Which devices ran on a chip that is not their own (no ``acc-<device>`` preset): the answer names it."""
    if not {"device", "accelerator"} <= set(df.columns):
        return ""
    pairs = sorted({(str(card_name(d)), str(a)) for d, a in zip(df["device"], df["accelerator"])
                    if isinstance(a, str) and a and a != f"acc-{card_name(d)}"
                    and not (devices_dir() / f"acc-{card_name(d)}.yaml").is_file()})
    if not pairs:
        return ""
    return ("Devices without an accelerator preset of their own ran on another preset's chip (tiles, buffers, "
            "periphery) with their own macros: " + "; ".join(f"{d} on {a}" for d, a in pairs) + ".")


def _energy_note(data: ReportInput) -> str:
    """Where the energy goes, leakage included, over the evaluated points (one sentence)."""
    df = with_derived(ok_rows(data.results))
    comps = [c for c in df.columns if c.startswith("energy_") and c.endswith("_pj") and c != "energy_pj"]
    if df.empty or "energy_pj" not in df.columns or not comps:
        return ""
    total = pd.to_numeric(df["energy_pj"], errors="coerce").sum()
    if not total:
        return ""
    shares = {c.removeprefix("energy_").removesuffix("_pj"): pd.to_numeric(df[c], errors="coerce").sum() / total
              for c in comps}
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:3]
    text = "Energy by source, over all evaluated points: " + ", ".join(f"{k} {v:.0%}" for k, v in top) + "."
    sources = {c.removeprefix("leakage_").removesuffix("_pj"): pd.to_numeric(df[c], errors="coerce").sum()
               for c in df.columns if c.startswith("leakage_") and c.endswith("_pj") and not c.startswith("leakage_if_")}
    leak = sum(sources.values())
    if "leakage_share" in df.columns and shares.get("leakage", 0) > 0 and leak > 0:
        lo, hi = df["leakage_share"].min(), df["leakage_share"].max()
        span = f"{lo:.0%}" if abs(hi - lo) < 0.005 else f"{lo:.0%}-{hi:.0%}"
        parts = ", ".join(f"{k.replace('_', ' ')} {v / leak:.0%}" for k, v in sorted(sources.items(), key=lambda kv: -kv[1])
                          if v / leak >= 0.005)
        text += (f" Leakage ({span} of a point's energy) by source: {parts} (the Leakage section has the "
                 "details and what power gating would save).")
    elif "leakage_share" in df.columns and shares.get("leakage", 0) > 0:
        lo, hi = df["leakage_share"].min(), df["leakage_share"].max()
        span = f"{lo:.0%}" if abs(hi - lo) < 0.005 else f"{lo:.0%}-{hi:.0%}"
        text += (f" Leakage ({span} of a point's energy) is the standby power of the SRAM buffers (global and "
                 "tile buffers, chip.sram_leakage_uw_per_kib) and of volatile cells (SRAM arrays), charged over "
                 "the whole step's latency, plus the macros' periphery leakage while they compute; "
                 "non-volatile cells leak nothing.")
    return text


def build_report(folder: str | Path, out: str | Path | None = None,
                 progress: Callable[[str], None] | None = None) -> Path:
    """Write tables, plots and report.html for a sweep or run folder; returns the path of report.html."""
    return make_report(folder, out, progress=progress).html
