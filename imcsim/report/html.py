"""``report.html``: one self-contained page (no network, no server) built from tables and drawn plots.

Images are embedded as base64 PNG (the SVG files sit beside the page for print quality), the CSS and a
small table sorter are inline, and every piece of text from the results, cards or ledgers goes through
:func:`html.escape`. This module only lays out what it is given; it reads nothing but the PNG files.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from imcsim.report.assumptions import DeviceAssumptions
from imcsim.report.load import card_name
from imcsim.report.plots import Plot

MAX_HTML_ROWS = 2000  # larger tables are cut in the page (the CSV/Parquet files hold every row)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:1250px;
 padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.82em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.2em .5em;text-align:left;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
.scroll{max-height:32em;overflow:auto;border:1px solid #eee}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444;max-width:60em}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15em 1em}dl.meta dt{font-weight:600}
dl.meta dd{margin:0}.note{color:#666;font-size:.9em}.error{color:#a00}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.8em}
"""

# A table sorter: click a header to sort by that column, again to reverse. Cells with a data-v
# attribute sort by its number; others by their text. Numbers sort before text.
_JS = """
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v !== null && v !== "" && !isNaN(Number(v))) { return Number(v); }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(x, y) {
    if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var r = compare(key(a.cells[col]), key(b.cells[col]));
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""


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


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def format_cell(value: Any) -> str:
    """A short, readable number (4 significant digits, thousands separators), or the text itself."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "\u221e" if value > 0 else "-\u221e"
        if value == 0:
            return "0"
        a = abs(value)
        if a >= 1e6 or a < 1e-3:
            return f"{value:.3e}"
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.4g}" if a < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _sort_value(value: Any) -> str | None:
    """The ``data-v`` of a numeric cell (full precision; inf as Infinity so JS Number() reads it)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def table_html(df: pd.DataFrame, *, sortable: bool = True, max_rows: int = MAX_HTML_ROWS,
               table_id: str | None = None) -> str:
    """An HTML table of ``df`` (escaped); numeric cells carry their exact value for sorting."""
    shown = df.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False, name=None):
        cells = []
        for v in row:
            sv = _sort_value(v)
            if sv is None:
                cells.append(f"<td>{esc(format_cell(v))}</td>")
            else:
                cells.append(f'<td class="num" data-v="{esc(sv)}">{esc(format_cell(v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    attrs = ' class="sortable"' if sortable else ""
    if table_id:
        attrs += f' id="{esc(table_id)}"'
    out = f'<div class="scroll"><table{attrs}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    if len(df) > max_rows:
        out += f'<p class="note">First {max_rows:,} of {len(df):,} rows shown (and sorted); every row is in the CSV.</p>'
    return out


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


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
        items.append((f"values of {k}", ", ".join(format_cell(v) for v in values)))
    out = ['<dl class="meta">'] + [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items] + ["</dl>"]
    if spec:
        out.append("<details><summary>sweep spec</summary><pre>"
                   + esc(json.dumps(spec, indent=1, sort_keys=True, default=str)) + "</pre></details>")
    return "\n".join(out)


def _figure(plot: Plot, out_dir: Path) -> str:
    png = plot.png
    assert png is not None
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    links = " ".join(f'<a href="{esc(_rel(p, out_dir))}">{esc(p.suffix[1:].upper())}</a>' for p in plot.files)
    return (f'<figure id="plot-{esc(plot.name)}"><img alt="{esc(plot.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)} <span class=\"note\">Files: {links}</span>"
            "</figcaption></figure>")


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
            out.append(f"<p>Endurance (used for lifetime): {esc(format_cell(e.value))} {esc(e.unit)}, "
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
    return out


def render(page: Page) -> str:
    """The whole page as one string."""
    drawn = [p for p in page.plots if not p.skipped and p.png is not None]
    skipped = [p for p in page.plots if p.skipped]
    nav = ['<a href="#answer">Answer</a>', '<a href="#study">Study</a>', '<a href="#summary">Summary</a>']
    nav += ['<a href="#reloads">Reloads</a>'] if page.reloads is not None else []
    nav += ['<a href="#leakage">Leakage</a>'] if page.leakage is not None else []
    nav += ['<a href="#plots">Plots</a>', '<a href="#failed">Failed points</a>',
            '<a href="#assumptions">Assumptions</a>', '<a href="#files">Files</a>']
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(page.title)}</title><style>{_CSS}</style></head><body>",
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
    parts.append('<h2 id="plots">Plots</h2>')
    parts += [_figure(p, page.out_dir) for p in drawn]
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
        f'<li><a href="{esc(_rel(f, page.out_dir))}">{esc(_rel(f, page.out_dir))}</a></li>' for f in page.files)
        + "</ul>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"
