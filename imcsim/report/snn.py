"""The SNN report: EDP and accuracy against the exit threshold, the exit-timestep histogram, and a
self-contained report.html with the tables and what the numbers rest on (``imcsim snn``).

Inputs are the records of :func:`imcsim.snn.sweep.threshold_sweep` / :func:`imcsim.snn.results.compare`
(plain dicts, unit-suffixed keys), so the page can be rebuilt from ``snn.csv``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from imcsim.report.page import esc, table_html  # noqa: E402
from imcsim.report.plots import Plot, save, style  # noqa: E402

TABLE_COLUMNS = ("mode", "rule", "threshold", "timesteps_avg", "accuracy", "energy_pj", "latency_ns", "edp_pj_ns",
                 "energy_vs_static", "latency_vs_static", "edp_vs_static", "exit_share", "exit_latency_share",
                 "histogram")


def plot_edp_vs_threshold(rows: Sequence[dict[str, Any]], out_dir: Path) -> Plot:
    """EDP relative to the static T-step SNN, and accuracy, against the exit threshold."""
    dyn = [r for r in rows if r.get("threshold") is not None]
    plot = Plot("snn_edp_vs_threshold", "EDP and accuracy against the exit threshold",
                "Dynamic-timestep SNN: EDP relative to the static SNN at the maximum T (left axis) and accuracy "
                "(right axis, where measured) at each exit threshold; dashed: the static SNN's accuracy.")
    if not dyn:
        plot.skipped = "no dynamic rows (no exit thresholds were given)"
        return plot
    with style():
        fig = Figure(figsize=(6.0, 3.6))
        ax = fig.add_subplot(1, 1, 1)
        th = [r["threshold"] for r in dyn]
        ax.plot(th, [r["edp_vs_static"] for r in dyn], "o-", color="#1f77b4", label="EDP / static EDP")
        ax.set_xlabel(f"exit threshold ({dyn[0].get('rule', '')})")
        ax.set_ylabel("EDP relative to static", color="#1f77b4")
        ax.set_ylim(bottom=0)
        accs = [r.get("accuracy") for r in dyn]
        if all(a is not None for a in accs):
            ax2 = ax.twinx()
            ax2.plot(th, [100 * a for a in accs], "s-", color="#d62728", label="accuracy")
            st = next((r for r in rows if r.get("threshold") is None and str(r.get("mode", "")).startswith(
                "snn-static") and r.get("edp_vs_static") == 1.0 and r.get("accuracy") is not None), None)
            if st is not None:
                ax2.axhline(100 * st["accuracy"], color="#d62728", ls="--", lw=0.8)
            ax2.set_ylabel("accuracy (%)", color="#d62728")
            ax2.grid(False)
        for r in dyn:
            ax.annotate(f"{r['timesteps_avg']:.2f}", (r["threshold"], r["edp_vs_static"]), fontsize=7,
                        textcoords="offset points", xytext=(0, 5), ha="center")
        ax.set_title("labels: average timesteps")
        fig.tight_layout()
        plot.files = save(fig, out_dir, plot.name)
    return plot


def plot_timestep_histogram(rows: Sequence[dict[str, Any]], out_dir: Path) -> Plot:
    """Fraction of samples exiting at each timestep, one group of bars per threshold."""
    dyn = [r for r in rows if r.get("threshold") is not None and r.get("histogram")]
    plot = Plot("snn_timestep_histogram", "Exit timesteps", "Fraction of samples that exit after each timestep, "
                "per exit threshold.")
    if not dyn:
        plot.skipped = "no exit histogram to draw"
        return plot
    with style():
        fig = Figure(figsize=(6.0, 3.4))
        ax = fig.add_subplot(1, 1, 1)
        width = 0.8 / len(dyn)
        for i, r in enumerate(dyn):
            h = [float(v) for v in str(r["histogram"]).split()]
            xs = [t + 1 - 0.4 + width * (i + 0.5) for t in range(len(h))]
            ax.bar(xs, h, width, label=f"{r['threshold']:g} (avg {r['timesteps_avg']:.2f})")
        ax.set_xlabel("exit timestep")
        ax.set_ylabel("fraction of samples")
        ax.legend(title="threshold", ncols=2)
        fig.tight_layout()
        plot.files = save(fig, out_dir, plot.name)
    return plot


def _img(path: Path | None) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(path.stem)}" src="data:image/png;base64,{data}">'


def write_report(rows: Sequence[dict[str, Any]], out_dir: str | Path, title: str,
                 notes: Sequence[str] = ()) -> list[Path]:
    """snn.csv, the two plots (PNG + SVG) and a self-contained report.html in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(list(rows))
    csv = out / "snn.csv"
    df.to_csv(csv, index=False)
    plots = [plot_edp_vs_threshold(rows, out), plot_timestep_histogram(rows, out)]
    cols = [c for c in TABLE_COLUMNS if c in df.columns]
    parts = [f"<h1>{esc(title)}</h1>", "<h2>Results</h2>", table_html(df[cols], sortable=False)]
    for p in plots:
        parts.append(f"<h2>{esc(p.title)}</h2>")
        parts.append(f'<p class="note">{esc(p.skipped)}</p>' if p.skipped else f"{_img(p.png)}<p>{esc(p.caption)}</p>")
    parts.append("<h2>What these numbers rest on</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>" + esc(title) + "</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:1em auto}table{border-collapse:collapse;"
            "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}td.num{text-align:right}"
            "img{max-width:100%}.note{color:#666}</style></head><body>" + "".join(parts) + "</body></html>")
    page = out / "report.html"
    page.write_text(html, encoding="utf-8")
    return [csv, *(f for p in plots for f in p.files), page]
