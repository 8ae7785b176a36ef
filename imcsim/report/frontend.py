"""``report.html`` of a front-end study (``imcsim sensor``): tables, a stacked-bar energy plot by part
and the ROI-fraction break-even curve, from the files :func:`imcsim.frontend.pipeline.write_results`
wrote (``frontend.json``). Lays out what it reads; computes nothing but unit scaling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from imcsim.report.page import CSS, esc, figure_html, table_html
from imcsim.report.plots import Plot, save, style

#: Energy parts in stacking order and their colours (the same in every front-end plot).
PART_COLOURS = {"sensor": "#8c564b", "adc": "#ff7f0e", "link": "#d62728", "compute": "#1f77b4",
                "memory": "#7f7f7f"}


def plot_energy_by_part(schemes: list[dict[str, Any]], out_dir: Path) -> Plot:
    """Two panels of stacked bars per scheme: the whole pipeline, and the front end alone."""

    with style():
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        names = [s["scheme"] for s in schemes]
        for ax, parts, title, scale, unit in (
                (fig.add_subplot(1, 2, 1), list(PART_COLOURS), "whole pipeline", 1e9, "mJ"),
                (fig.add_subplot(1, 2, 2), ["sensor", "adc", "link"], "front end (sensor, ADC, link)", 1e6, "\u00b5J")):
            bottom = [0.0] * len(schemes)
            for p in parts:
                vals = [s[f"energy_{p}_pj"] / scale for s in schemes]
                ax.bar(names, vals, bottom=bottom, color=PART_COLOURS[p], label=p)
                bottom = [b + v for b, v in zip(bottom, vals)]
            ax.set_title(title)
            ax.set_ylabel(f"energy per frame ({unit})")
            ax.legend(loc="upper right")
        files = save(fig, out_dir, "frontend_energy")
    return Plot("frontend_energy", "Energy per frame by part",
                "Stacked by part: sensor (pixel reads and analog gray/pooling), ADC conversions, readout and "
                "link, accelerator compute (macros and digital units) and memory (buffers, NoC, DRAM, writes "
                "and the SRAM buffers' standby power).", files)


def plot_breakeven(points: list[dict[str, Any]], fractions: list[dict[str, Any]], out_dir: Path) -> Plot:
    """Two-stage and baseline energy against the ROI fraction of the frame."""

    with style():
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        for i, (metric, label, scale) in enumerate((("energy_pj", "whole pipeline energy (mJ)", 1e9),
                                                    ("frontend_energy_pj", "front-end energy (\u00b5J)", 1e6))):
            ax = fig.add_subplot(1, 2, i + 1)
            x = [p["roi_fraction"] * 100 for p in points]
            ax.plot(x, [p[f"hirise_{metric}"] / scale for p in points], "o-", label="two-stage (HiRISE)")
            ax.plot(x, [p[f"baseline_{metric}"] / scale for p in points], "--", label="baseline")
            be = next((f["breakeven_fraction"] for f in fractions if f["metric"] == metric), None)
            if be:
                ax.axvline(be * 100, color="#444", lw=0.8)
                ax.annotate(f"break-even {be * 100:.1f} %", (be * 100, 0.03), xycoords=("data", "axes fraction"),
                            xytext=(-4, 0), textcoords="offset points", ha="right", fontsize=8)
            ax.set_xlabel("ROI area (% of the frame)")
            ax.set_ylabel(label)
            ax.legend(loc="upper left")
        files = save(fig, out_dir, "frontend_breakeven")
    return Plot("frontend_breakeven", "Where the two-stage scheme stops paying",
                "One ROI with the frame's aspect ratio covering x % of the frame; the baseline does not depend "
                "on it. The vertical line is the bisected break-even fraction.", files)


def is_frontend_folder(folder: str | Path) -> bool:
    """True for a folder ``imcsim sensor`` wrote (it holds ``frontend.json``)."""
    return (Path(folder) / "frontend.json").is_file()


def build_frontend_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` and the plots into ``out`` (default ``folder``) from ``folder/frontend.json``."""
    folder = Path(folder)
    out_dir = Path(out) if out is not None else folder
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        doc = json.loads((folder / "frontend.json").read_text())
        schemes, ratios, stages = doc["schemes"], doc["ratios"], doc["stages"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        from imcsim.errors import SpecError

        raise SpecError(str(folder / "frontend.json"), None, problem=f"cannot be read as front-end results "
                        f"({exc.__class__.__name__})", allowed="a folder written by imcsim sensor") from None
    plots = [plot_energy_by_part(schemes, out_dir)]
    if doc.get("breakeven"):
        plots.append(plot_breakeven(doc["breakeven"], doc["breakeven_fraction"], out_dir))
    study = doc["study"]
    title = f"imcsim sensor: {study.get('name') or folder.name}"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{esc(title)}</title><style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>",
             f"<p>{esc(study.get('description') or '')}</p>",
             '<h2 id="ratios">Baseline / two-stage</h2>', table_html(pd.DataFrame(ratios)),
             '<h2 id="schemes">Schemes (per frame; pJ, bits, ns, bytes)</h2>', table_html(pd.DataFrame(schemes)),
             '<h2 id="stages">Stages</h2>', table_html(pd.DataFrame(stages))]
    if doc.get("breakeven_fraction"):
        parts += ['<h2 id="breakeven">Break-even ROI fraction</h2>',
                  '<p class="note">Empty: the two-stage scheme pays even with the ROI covering the frame.</p>',
                  table_html(pd.DataFrame(doc["breakeven_fraction"])), table_html(pd.DataFrame(doc["breakeven"]))]
    parts.append('<h2 id="plots">Plots</h2>')
    parts += [figure_html(p, out_dir) for p in plots]
    parts += ['<h2 id="assumptions">Assumptions</h2><ul>']
    parts += [f"<li>{esc(a)}</li>" for a in doc["assumptions"]]
    parts += ["</ul>", f"<h3>Sensor card {esc(doc['sensor'])}</h3>", table_html(pd.DataFrame(doc["sensor_params"])),
              "<details><summary>study</summary><pre>" + esc(json.dumps(study, indent=1)) + "</pre></details>",
              "</body></html>"]
    html = out_dir / "report.html"
    html.write_text("\n".join(parts) + "\n")
    return html
