"""The building blocks of every self-contained HTML page imcsim writes (the sweep report, ``imcsim nas``,
``imcsim snn``, ``imcsim sensor``): the inline CSS and table sorter, escaping, number cells, tables and
embedded figures. No page layout here: each page module arranges these.
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from imcsim.numbers import column_style, format_number

if TYPE_CHECKING:   # the plots package imports matplotlib (~8 s of CPU per test worker): only pages that draw load it
    from imcsim.report.plots import Plot

MAX_HTML_ROWS = 2000  # larger tables are cut in the page (the CSV/Parquet files hold every row)

CSS = """
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
JS = """
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


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def sort_value(value: Any) -> str | None:
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
    styles = [column_style(shown[c].tolist()) for c in shown.columns]   # one number style per column
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False, name=None):
        cells = []
        for v, style in zip(row, styles):
            sv = sort_value(v)
            if sv is None:
                cells.append(f"<td>{esc(format_number(v, style))}</td>")
            else:
                cells.append(f'<td class="num" data-v="{esc(sv)}">{esc(format_number(v, style))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    attrs = ' class="sortable"' if sortable else ""
    if table_id:
        attrs += f' id="{esc(table_id)}"'
    out = f'<div class="scroll"><table{attrs}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    if len(df) > max_rows:
        out += f'<p class="note">First {max_rows:,} of {len(df):,} rows shown (and sorted); every row is in the CSV.</p>'
    return out


def rel_path(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def figure_html(plot: Plot, out_dir: Path) -> str:
    """A drawn plot as a ``<figure>``: its PNG embedded (base64), links to its files, title and caption."""
    png = plot.png
    assert png is not None
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    links = " ".join(f'<a href="{esc(rel_path(p, out_dir))}">{esc(p.suffix[1:].upper())}</a>' for p in plot.files)
    return (f'<figure id="plot-{esc(plot.name)}"><img alt="{esc(plot.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)} <span class=\"note\">Files: {links}</span>"
            "</figcaption></figure>")
