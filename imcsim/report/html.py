"""``report.html``: one self-contained page (no network, no server) built from tables and drawn plots.

Images are embedded as base64 PNG (the SVG files sit beside the page for print quality), the CSS and a
small table sorter are inline, and every piece of text from the results, cards or ledgers goes through
:func:`html.escape`. This module only lays out what it is given; it reads nothing but the PNG files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from imcsim.numbers import format_number
from imcsim.report.assumptions import DeviceAssumptions
from imcsim.report.load import card_name
from imcsim.report.page import CSS, JS, esc, figure_html, rel_path, table_html
from imcsim.report.plots import Plot


@dataclass
class Page:
    """What the page shows; built by :func:`imcsim.report.build.make_report`."""

    title: str
    folder: Path
    out_dir: Path
    description: Mapping[str, Any]
    summary: pd.DataFrame
    failed: pd.DataFrame
    plots: Sequence[Plot]
    devices: Sequence[DeviceAssumptions]
    run_assumptions: Sequence[tuple[str, str]]
    files: Sequence[Path] = field(default_factory=list)
    swept_values: Mapping[str, list[Any]] = field(default_factory=dict)
    notes: Sequence[str] = field(default_factory=list)
    reloads: pd.DataFrame | None = None                     # points that stream layers (None: no point does)
    reload_lines: Sequence[tuple[str, str]] = field(default_factory=list)   # (point label, sentence)
    leakage: pd.DataFrame | None = None                     # leakage by source and by gating policy
    headline: pd.DataFrame | None = None     # the answer: latency, energy, TOPS/W, writes, lifetime per point
    headline_note: str = ""
    energy_note: str = ""                    # where the energy goes, leakage's source included
    stalls: pd.DataFrame | None = None       # row-engine points: bottleneck, busiest resource, stalls by cause
    resources: Sequence[tuple[str, pd.DataFrame, int]] = field(default_factory=list)  # per run: busiest resources
    basis: pd.DataFrame | None = None        # per point: measured or assumed, measured next to the defaults
    basis_lines: Sequence[tuple[str, str]] = field(default_factory=list)   # (point label, sentence)


def _describe(page: Page) -> str:
    n = len(page.summary)
    ok = int((page.summary["status"] == "ok").sum()) if "status" in page.summary.columns else n
    items: list[tuple[str, Any]] = [("results folder", page.folder), ("design points", n),
                                    ("evaluated", ok), ("failed", n - ok)]
    spec = None
    for k, v in page.description.items():
        if k == "spec":
            spec = v
        elif v not in (None, ""):
            items.append((k, v))
    for k, values in page.swept_values.items():
        items.append((f"values of {k}", ", ".join(format_number(v) for v in values)))
    out = ['<dl class="meta">'] + [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items] + ["</dl>"]
    if spec:
        out.append("<details><summary>sweep spec</summary><pre>"
                   + esc(json.dumps(spec, indent=1, sort_keys=True, default=str)) + "</pre></details>")
    return "\n".join(out)


def _assumptions(page: Page) -> str:
    out = ['<p>Device-card parameters tagged <b>A</b> (assumption: neither measured on silicon (S), '
           'a tool default (T) nor derived (D)). Results for a device rest on these values.</p>']
    if not page.devices:
        out.append('<p class="note">The results name no device.</p>')
    for d in page.devices:
        out.append(f"<h3>{esc(card_name(d.device))}</h3>")
        if d.error:
            out.append(f'<p class="error">Device card not read: {esc(d.error)}</p>')
            continue
        counts = ", ".join(f"{d.tag_counts.get(t, 0)} {t}" for t in ("S", "T", "D", "A"))
        out.append(f'<p class="note">Card {esc(d.card_file or "?")}; parameters by tag: {esc(counts)}.</p>')
        if d.endurance is not None:
            e = d.endurance
            out.append(f"<p>Endurance (used for lifetime): {esc(format_number(e.value))} {esc(e.unit)}, "
                       f"tag {esc(e.tag)}, source: {esc(e.source)}.</p>")
        if d.assumed:
            rows = pd.DataFrame([{"parameter": p.name, "value": p.value, "unit": p.unit, "source": p.source}
                                 for p in d.assumed])
            out.append(table_html(rows, sortable=False))
        else:
            out.append("<p>No parameter of this card is tagged A.</p>")
    out.append("<h3>Recorded by the runs</h3>")
    if page.run_assumptions:
        by_text: dict[str, list[str]] = {}
        for run, text in page.run_assumptions:
            by_text.setdefault(text, []).append(run)
        out.append("<ul>" + "".join(f"<li>{esc(t)} <span class=\"note\">({esc(', '.join(runs))})</span></li>"
                                    for t, runs in by_text.items()) + "</ul>")
    else:
        out.append('<p class="note">No assumption strings found in ledger.json files '
                   "(a sweep store keeps metrics only; run one point with <code>imcsim run</code> to see "
                   "the engine's list).</p>")
    return "\n".join(out)


def _reloads(page: Page) -> str:
    assert page.reloads is not None
    n = len(page.reloads)
    out = [f"<p>{n} evaluated point(s) do not fit on the chip: the layers that do not fit are streamed, "
           "i.e. read from DRAM and written into a pool of macros once per step (a barrier that nothing "
           "overlaps). Reload time is that barrier time; reload energy is the pool writes, the DRAM fetch, "
           "and the chip's standby power (volatile cells, SRAM buffers) over the reload time.</p>"]
    if page.reload_lines:
        out.append("<ul>" + "".join(f"<li><b>{esc(label)}</b>: {esc(line)}</li>"
                                    for label, line in page.reload_lines) + "</ul>")
        if n > len(page.reload_lines):
            out.append(f'<p class="note">First {len(page.reload_lines)} of {n} points described; the table '
                       "lists all of them.</p>")
    out.append('<p class="note">Times in ns, energies in pJ, shares of the point\'s latency and energy.</p>')
    out.append(table_html(page.reloads, table_id="reloads-table"))
    return "\n".join(out)


def _engine(page: Page) -> str:
    out = []
    if page.stalls is not None:
        out += ["<p>Per point timed by the row-pipelined event engine: the op with the most time on the critical "
                "path (<code>bottleneck_op</code>), the busiest resource and its utilisation, and the stall "
                "cycles by cause, summed over every row: <code>input</code> waiting for producer rows, "
                "<code>buffer</code> a consumer's line buffer full (or, without double buffering, the last row "
                "not yet delivered), <code>compute</code> a busy macro group, digital unit or buffer port, "
                "<code>noc</code> a busy link, <code>dram</code> a busy channel, <code>write</code> busy write "
                "drivers. Latency in ns, stalls in cycles.</p>", table_html(page.stalls, table_id="stalls-table")]
    for run, table, total in page.resources:
        more = f" (the {len(table)} busiest of {total})" if total > len(table) else ""
        out += [f"<h3>Resources of {esc(run)}{esc(more)}</h3>",
                '<p class="note">Busy time over the latency and the resource\'s units is its utilisation; the '
                "longest queue counts requests waiting at once (0 for a resource only one op stream uses).</p>",
                table_html(table, table_id=f"resources-{esc(run)}")]
    return "\n".join(out)


def _basis(page: Page) -> str:
    assert page.basis is not None
    out = ["<p>What each point's data-dependent figures rest on: <b>measured</b> by execution (a study's "
           "<code>options.measured</code> names a run folder of <code>imcsim infer</code> or <code>imcsim "
           "train</code>: the kernels' activity and toggle counts, the executed weight updates, the INT8 weights "
           "that price reloads), <b>assumed</b> (a stated default, tagged A, stands in for the data), "
           "<b>partly measured</b> (some layers or phases each), or <b>spec</b> (the group has no data-dependent "
           "figure in this step). The compute energy components follow the activity; write energy, write time, "
           "wear and lifetime follow the update and reload writes; latency and leakage follow the writes; the "
           "totals follow all three. Each measured figure stands next to the default it replaces "
           "(ledger.json's <code>basis</code> marks every figure, layers.csv every op).</p>"]
    if page.basis_lines:
        out.append("<ul>" + "".join(f"<li><b>{esc(label)}</b>: {esc(line)}</li>"
                                    for label, line in page.basis_lines) + "</ul>")
    out.append(table_html(page.basis, table_id="basis-table"))
    return "\n".join(out)


def _answer(page: Page) -> list[str]:
    """The first screen: per point latency, energy, TOPS/W, write energy and time, lifetime; then where
    the energy goes."""
    if page.headline is None or page.headline.empty:
        return []
    out = ['<h2 id="answer">Answer</h2>',
           f'<p class="note">{esc(page.headline_note)} Per step (one training step or one inference batch): '
           "latency in \u00b5s, energy in \u00b5J, write energy in \u00b5J and time in \u00b5s, lifetime in "
           "years at the study's steps per day, leakage in % of the energy.</p>",
           table_html(page.headline, table_id="answer-table")]
    if page.energy_note:
        out.append(f"<p>{esc(page.energy_note)}</p>")
    if page.basis_lines:
        out.append('<p class="note">Measured by execution or assumed: '
                   + "; ".join(f"<b>{esc(label)}</b>: {esc(line.removeprefix('Measured or assumed: '))}"
                               for label, line in page.basis_lines[:3])
                   + ' (all points: <a href="#basis">Measured or assumed</a>).</p>')
    return out


def render(page: Page) -> str:
    """The whole page as one string."""
    drawn = [p for p in page.plots if not p.skipped and p.png is not None]
    skipped = [p for p in page.plots if p.skipped]
    nav = ['<a href="#answer">Answer</a>', '<a href="#study">Study</a>', '<a href="#summary">Summary</a>']
    nav += ['<a href="#reloads">Reloads</a>'] if page.reloads is not None else []
    nav += ['<a href="#leakage">Leakage</a>'] if page.leakage is not None else []
    nav += ['<a href="#engine">Event engine</a>'] if page.stalls is not None or page.resources else []
    nav += ['<a href="#basis">Measured or assumed</a>'] if page.basis is not None else []
    nav += ['<a href="#plots">Plots</a>', '<a href="#failed">Failed points</a>',
            '<a href="#assumptions">Assumptions</a>', '<a href="#files">Files</a>']
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(page.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(page.title)}</h1>", "<nav>" + " | ".join(nav) + "</nav>",
    ]
    parts += _answer(page)
    parts += ['<h2 id="study">Study</h2>', _describe(page)]
    parts += [f'<p class="note">{esc(n)}</p>' for n in page.notes]
    parts += ['<h2 id="summary">Summary</h2>',
              '<p class="note">One row per design point; click a column header to sort. Energies in pJ, '
              "times in ns, area in mm\u00b2, per step (one training step or one inference batch).</p>",
              table_html(page.summary, table_id="summary-table")]
    if page.reloads is not None:
        parts += ['<h2 id="reloads">Reloads</h2>', _reloads(page)]
    if page.leakage is not None:
        parts += ['<h2 id="leakage">Leakage</h2>',
                  "<p>Leakage energy per step by source under the point's power-gating policy "
                  "(<code>chip.power_gating</code>): macros while computing, idle macros' periphery (only when "
                  "nothing is gated), volatile cells, SRAM buffers, and the wake-ups of gated macros; then the "
                  "total each policy would give and what gating idle macros and empty buffers would save. "
                  "Energies in pJ.</p>", table_html(page.leakage, table_id="leakage-table")]
    if page.stalls is not None or page.resources:
        parts += ['<h2 id="engine">Event engine: bottleneck, stalls, resources</h2>', _engine(page)]
    if page.basis is not None:
        parts += ['<h2 id="basis">Measured or assumed</h2>', _basis(page)]
    parts.append('<h2 id="plots">Plots</h2>')
    parts += [figure_html(p, page.out_dir) for p in drawn]
    if skipped:
        parts.append("<p>Not drawn:</p><ul>" + "".join(
            f"<li><b>{esc(p.title)}</b>: {esc(p.skipped)}</li>" for p in skipped) + "</ul>")
    parts.append('<h2 id="failed">Failed points</h2>')
    if len(page.failed):
        parts.append(f"<p>{len(page.failed)} point(s) did not evaluate; they are not in the plots.</p>")
        parts.append(table_html(page.failed, table_id="failed-table"))
    else:
        parts.append("<p>None: every point evaluated.</p>")
    parts += ['<h2 id="assumptions">Assumptions</h2>', _assumptions(page)]
    parts.append('<h2 id="files">Files</h2><ul>' + "".join(
        f'<li><a href="{esc(rel_path(f, page.out_dir))}">{esc(rel_path(f, page.out_dir))}</a></li>' for f in page.files)
        + "</ul>")
    parts.append(f"<script>{JS}</script></body></html>")
    return "\n".join(parts) + "\n"
