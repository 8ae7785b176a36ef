"""The report of an ``imcsim nas`` run: candidate and Pareto tables, accuracy-cost plots, report.html.

Takes the flat candidate records of :func:`imcsim.nas.flow.records` (one row per network and device,
with the best array found for it) and marks, per device, the Pareto front of predicted accuracy
(maximised) against energy and against latency (minimised).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from imcsim.report.page import CSS, JS, esc, figure_html, table_html  # noqa: E402
from imcsim.report.pareto import pareto_mask  # noqa: E402
from imcsim.report.plots import Plot, device_colour, save, style  # noqa: E402


def frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Candidate records as a table; array sizes stay integers where a network had no feasible array."""
    return pd.DataFrame(list(records)).astype({"rows": "Int64", "cols": "Int64", "rows_parallel": "Int64"})


def mark_fronts(df: pd.DataFrame, cost: str) -> pd.Series:
    """True for the rows on their device's Pareto front of (cost, -accuracy)."""
    front = pd.Series(False, index=df.index)
    for _, part in df.groupby("device"):
        ok = part.dropna(subset=[cost])
        if len(ok):
            mask = pareto_mask(ok[[cost, "accuracy_pred"]].assign(accuracy_pred=-ok["accuracy_pred"]).to_numpy())
            front.loc[ok.index[mask]] = True
    return front


def plot_front(df: pd.DataFrame, cost: str, out_dir: Path, best: Mapping[str, Any] | None) -> Plot:
    """Predicted accuracy against ``cost`` per device (log x), each device's front as a line."""
    unit = {"energy_pj": "energy per inference (pJ)", "latency_ns": "latency per inference (ns)"}[cost]
    name = f"nas_accuracy_vs_{cost.split('_')[0]}"
    ok = df.dropna(subset=[cost])
    if ok.empty:
        return Plot(name, f"Accuracy vs {cost}", skipped="no feasible candidate")
    devices = sorted(ok["device"].unique())
    with style():
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        for dev in devices:
            part = ok[ok["device"] == dev]
            col = device_colour(dev, devices)
            ax.scatter(part[cost], 100 * part["accuracy_pred"], s=10, alpha=0.35, color=col, label=f"{dev} candidates")
            front = part[mark_fronts(part, cost)].sort_values(cost)
            ax.plot(front[cost], 100 * front["accuracy_pred"], "-o", ms=4, color=col, label=f"{dev} Pareto front")
        if best is not None and best.get(cost) is not None:
            ax.scatter([best[cost]], [100 * best["accuracy_pred"]], marker="*", s=160, color="k", zorder=5,
                       label="best (objective)")
        ax.set_xscale("log")
        ax.set_xlabel(unit)
        ax.set_ylabel("predicted accuracy (%)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        files = save(fig, out_dir, name)
    caption = (f"Every network the search visited, with the best array found for it on each device; lines join each "
               f"device's Pareto front (higher accuracy, lower {cost.split('_')[0]}). Accuracy is predicted, "
               "not measured.")
    return Plot(name, f"Predicted accuracy against {cost.split('_')[0]}", caption, files)


def write_report(records: Sequence[Mapping[str, Any]], out_dir: str | Path, *, title: str,
                 meta: Mapping[str, Any], assumptions: Sequence[str], best: Mapping[str, Any] | None,
                 samples: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write candidates.csv, pareto.csv, the plots and report.html into ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = frame(records)
    df["front_energy"] = mark_fronts(df, "energy_pj")
    df["front_latency"] = mark_fronts(df, "latency_ns")
    df = df.sort_values("objective")
    paths = {"candidates": out / "candidates.csv", "pareto": out / "pareto.csv"}
    df.to_csv(paths["candidates"], index=False)
    front = df[df["front_energy"]].sort_values(["device", "energy_pj"])
    front.to_csv(paths["pareto"], index=False)
    plots = [plot_front(df, "energy_pj", out, best), plot_front(df, "latency_ns", out, best)]
    for p in plots:
        for f in p.files:
            paths[f.name] = f
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{esc(title)}</title><style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>",
             '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta.items()) + "</dl>",
             "<h2>Pareto front (predicted accuracy vs energy, per device)</h2>", table_html(front),
             "<h2>Plots</h2>", *[figure_html(p, out) for p in plots if p.png is not None],
             "<h2>Every candidate visited</h2>", table_html(df)]
    if samples is not None:
        parts += ["<h2>Accuracy samples the predictor was fitted on</h2>", table_html(samples)]
    parts += ["<h2>What this rests on</h2><ul>" + "".join(f"<li>{esc(a)}</li>" for a in assumptions) + "</ul>",
              f"<script>{JS}</script></body></html>"]
    paths["report"] = out / "report.html"
    paths["report"].write_text("\n".join(parts) + "\n", encoding="utf-8")
    return paths
