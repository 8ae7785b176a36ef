"""Report tables built from a results table (and, for run folders, the per-op layer records).

Every function here takes DataFrames and returns DataFrames: no numbers are computed beyond sums and
selections of what the engine already wrote, and nothing is drawn. :func:`write_tables` stores each
table as CSV and Parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imcsim.engine.ledger import COMPONENTS, STALL_CAUSES
from imcsim.report.load import ReportInput, parameter_columns
from imcsim.report.pareto import grouped_pareto_mask

#: Metrics of the summary table, in order (those present in the results are kept).
SUMMARY_METRICS: tuple[str, ...] = (
    "latency_cycles", "latency_ns", "energy_pj", "edp_pj_ns", "area_mm2", "write_energy_pj",
    "write_energy_share", "write_latency_ns", "weights_written", "reload_weights", "reload_latency_share",
    "reload_energy_share", "max_cell_wear_per_step", "lifetime_years", "macs", "map_utilisation",
    "map_macros_used", "map_fits",
)
#: Columns of the reloads table (points that stream layers), in order (those present are kept).
RELOAD_COLUMNS: tuple[str, ...] = (
    "map_reloaded_layers", "reload_weights", "latency_ns", "reload_latency_ns", "reload_latency_share",
    "reload_write_latency_ns", "energy_pj", "reload_energy_pj", "reload_energy_share", "reload_write_energy_pj",
    "reload_dram_energy_pj", "reload_standby_energy_pj",
)
#: The answer a reader looks for first, in order: (results column, shown name, scale to the shown unit).
HEADLINE: tuple[tuple[str, str, float], ...] = (
    ("latency_ns", "latency_us", 1e-3), ("energy_pj", "energy_uj", 1e-6), ("tops_per_w", "tops_per_w", 1.0),
    ("write_energy_pj", "write_energy_uj", 1e-6), ("write_latency_ns", "write_time_us", 1e-3),
    ("lifetime_years", "lifetime_years", 1.0), ("leakage_share", "leakage_pct", 100.0),
)
#: At most this many points in the headline table (more: the energy-latency Pareto front, cheapest first).
HEADLINE_ROWS = 12
#: The objectives of the Pareto front, all minimised.
PARETO_OBJECTIVES: tuple[str, ...] = ("energy_pj", "latency_ns", "area_mm2")


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of points that evaluated (failed points are listed, never plotted)."""
    return df[df["status"] == "ok"] if "status" in df.columns else df


def varying(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Those of ``columns`` that take more than one value in ``df``."""
    return [c for c in columns if c in df.columns and df[c].astype(str).nunique(dropna=False) > 1]


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def point_labels(df: pd.DataFrame, params: list[str]) -> pd.Series:
    """A short name per row from the parameters that vary (``sas-mram / repnet / 128x128 / batch=8``).

    ``rows`` and ``cols`` are joined as ``RxC``; other numbers carry their field name (its last dotted
    part; ``batch_size`` is left out next to ``batch``, the value it resolves to); with nothing varying the run name, device or
    row number is used so a label is never empty.
    """
    vary = varying(df, params)
    if "batch" in vary:      # batch is what the batch_size option resolves to: one of them is enough
        vary = [c for c in vary if c != "batch_size"]
    parts: list[pd.Series] = []
    size_done = False
    for c in vary:
        if c in ("rows", "cols"):
            if size_done:
                continue
            size_done = True
            if "rows" in df.columns and "cols" in df.columns:
                parts.append(df["rows"].map(_fmt) + "x" + df["cols"].map(_fmt))
                continue
        text = df[c].map(_fmt)
        if pd.api.types.is_numeric_dtype(df[c]) or c == "batch":   # a bare number says nothing: name it
            text = c.rsplit(".", 1)[-1] + "=" + text                   # (workload.classes -> classes)
        # a parameter a point does not have (a run without workload options, say) adds nothing to its label
        parts.append(text.where(df[c].notna(), ""))
    if not parts:
        for c in ("run", "device"):
            if c in df.columns:
                return df[c].map(_fmt)
        return pd.Series([f"point {i}" for i in range(len(df))], index=df.index)
    frame = pd.concat(parts, axis=1)
    return frame.apply(lambda row: " / ".join(v for v in row if v), axis=1)


def summary_table(data: ReportInput) -> pd.DataFrame:
    """One row per design point: its parameters, status, and the key metrics."""
    df = data.results
    params = parameter_columns(df, data.swept)
    lead = [c for c in ("run", "point_id") if c in df.columns]
    metrics = [c for c in SUMMARY_METRICS if c in df.columns]
    return df[lead + params + ["status"] + metrics].reset_index(drop=True)


def with_derived(df: pd.DataFrame) -> pd.DataFrame:
    """The results with the ratios a reader asks for: ``tops_per_w`` (2 ops per MAC; ops per pJ is
    TOPS/W) and ``leakage_share`` (leakage energy / energy)."""
    out = df.copy()
    energy = pd.to_numeric(out.get("energy_pj"), errors="coerce") if "energy_pj" in out.columns else None
    if energy is not None and "macs" in out.columns:
        out["tops_per_w"] = 2.0 * pd.to_numeric(out["macs"], errors="coerce") / energy.where(energy > 0)
    if energy is not None and "energy_leakage_pj" in out.columns:
        out["leakage_share"] = pd.to_numeric(out["energy_leakage_pj"], errors="coerce") / energy.where(energy > 0)
    return out


def headline_table(data: ReportInput) -> tuple[pd.DataFrame, str]:
    """The answer first: per evaluated point its label, then latency, energy, TOPS/W, write energy and
    time, lifetime and the leakage share, in readable units. With more than ``HEADLINE_ROWS`` points only
    the energy-latency Pareto front is shown (cheapest first); the note says so."""
    df = with_derived(ok_rows(data.results))
    if df.empty:
        return pd.DataFrame(), "No point evaluated."
    params = parameter_columns(data.results, data.swept)
    labels = point_labels(df, params)
    if not varying(data.results, params):  # one point, or nothing varies: say what it is
        named = [c for c in ("device", "workload", "method") if c in df.columns]
        if named:
            labels = df[named].astype(str).agg(" / ".join, axis=1)
    out = pd.DataFrame({"point": labels.to_numpy()}, index=df.index)
    for col, name, scale in HEADLINE:
        if col in df.columns:
            out[name] = pd.to_numeric(df[col], errors="coerce") * scale
    note = f"All {len(df)} evaluated point(s)."
    if len(df) > HEADLINE_ROWS and {"energy_pj", "latency_ns"} <= set(df.columns):
        front = grouped_pareto_mask(df, ["energy_pj", "latency_ns"])
        out = out[front]
        note = (f"{len(out)} of {len(df)} points: those no other point of the same workload and method beats "
                "on both energy and latency (the rest are in the summary table).")
        if len(out) > HEADLINE_ROWS:
            note += f" The {HEADLINE_ROWS} cheapest are shown."
    if "energy_uj" in out.columns:
        out = out.sort_values("energy_uj", kind="stable")
    return out.head(HEADLINE_ROWS).reset_index(drop=True), note


def component_columns(df: pd.DataFrame) -> list[str]:
    """``energy_<component>_pj`` columns present, in the ledger's component order."""
    return [f"energy_{c}_pj" for c in COMPONENTS if f"energy_{c}_pj" in df.columns]


def component_table(data: ReportInput) -> pd.DataFrame | None:
    """Energy by component per evaluated point (pJ per step), with the total beside them."""
    df = ok_rows(data.results)
    comps = component_columns(df)
    if not comps or df.empty:
        return None
    params = parameter_columns(df, data.swept)
    lead = [c for c in ("run", "point_id") if c in df.columns]
    total = ["energy_pj"] if "energy_pj" in df.columns else []
    return df[lead + params + total + comps].reset_index(drop=True)


def _layer_sums(layers: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum busy cycles, energy by component, MACs and writes of the ops under ``keys``."""
    df = layers.copy()
    agg: dict[str, Any] = {}
    if "cycles_per_execution" in df.columns and "executions" in df.columns:
        df["busy_cycles"] = df["cycles_per_execution"] * df["executions"]
        agg["busy_cycles"] = "sum"
    if "op" in df.columns:
        df["ops"] = 1
        agg["ops"] = "sum"
    for c in ["macs", "weights_written", "energy_pj"] + component_columns(df):
        if c in df.columns:
            agg[c] = "sum"
    return df.groupby(keys, sort=False, dropna=False).agg(agg).reset_index()


def phase_table(data: ReportInput) -> pd.DataFrame | None:
    """Per run and training phase: ops, busy cycles, energy by component (from layers.csv).

    Falls back to the ``phases`` records of ledger.json when a run has no layers file.
    """
    frames: list[pd.DataFrame] = []
    have_layers: set[str] = set()
    if data.layers is not None and "phase" in data.layers.columns:
        frames.append(_layer_sums(data.layers, ["run", "phase"]))
        have_layers = set(data.layers["run"].astype(str))
    for run, ledger in data.ledgers.items():
        if run in have_layers or not ledger.get("phases"):
            continue
        ph = pd.DataFrame(ledger["phases"])
        ph.insert(0, "run", run)
        frames.append(ph)
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)


def layer_table(data: ReportInput) -> pd.DataFrame | None:
    """Per run and layer (IR node), summed over its ops in every phase."""
    if data.layers is None or "node" not in data.layers.columns:
        return None
    return _layer_sums(data.layers, ["run", "node"])


def reload_table(data: ReportInput) -> pd.DataFrame | None:
    """Evaluated points that stream layers: what their reloads cost in time and energy (None if none do)."""
    df = ok_rows(data.results)
    if "reload_weights" not in df.columns or "reload_latency_ns" not in df.columns:
        return None
    df = df[pd.to_numeric(df["reload_weights"], errors="coerce").fillna(0) > 0]
    if df.empty:
        return None
    # the parameters that tell points apart, plus what names a point (the summary table lists every parameter)
    params = parameter_columns(data.results, data.swept)
    shown = set(varying(data.results, params)) | {"device", "workload", "method", "batch"}
    lead = [c for c in ("run", "point_id") if c in df.columns]
    return df[lead + [c for c in params if c in shown] + [c for c in RELOAD_COLUMNS if c in df.columns]
              ].reset_index(drop=True)


#: leakage by source under the point's power-gating policy, and the total under each policy
LEAKAGE_COLUMNS = ("power_gating", "energy_leakage_pj", "leakage_busy_macros_pj", "leakage_idle_macros_pj",
                   "leakage_volatile_cells_pj", "leakage_sram_buffers_pj", "leakage_wakeup_pj", "macro_wakeups",
                   "leakage_if_none_pj", "leakage_if_macros_pj", "leakage_if_macros_buffers_pj")


def leakage_table(data: ReportInput) -> pd.DataFrame | None:
    """Per evaluated point: where its leakage comes from and what each power-gating policy would make of it
    (None when the results predate the leakage breakdown)."""
    df = ok_rows(data.results)
    if "leakage_sram_buffers_pj" not in df.columns:
        return None
    params = parameter_columns(data.results, data.swept)
    shown = set(varying(data.results, params)) | {"device", "workload", "method", "batch"}
    lead = [c for c in ("run", "point_id") if c in df.columns]
    cols = list(dict.fromkeys(lead + [c for c in params if c in shown] + [c for c in LEAKAGE_COLUMNS
                                                                           if c in df.columns]))
    out = df[cols].reset_index(drop=True)
    if "leakage_if_macros_buffers_pj" in out.columns:
        cur = pd.to_numeric(out["energy_leakage_pj"], errors="coerce")
        best = pd.to_numeric(out["leakage_if_macros_buffers_pj"], errors="coerce")
        out["gating_would_save_pj"] = (cur - best).clip(lower=0.0)
    return out


#: what the row engine says about a point: its bottleneck, its busiest resource and its stalls by cause
STALL_COLUMNS = ("latency_ns", "bottleneck_op", "busiest_resource", "busiest_utilisation",
                 *(f"stall_cycles_{c}" for c in STALL_CAUSES))


def stall_table(data: ReportInput) -> pd.DataFrame | None:
    """Points the row-pipelined event engine timed: the op with the most time on the critical path, the
    busiest resource and the stall cycles by cause, summed over rows (None when no point has them)."""
    df = ok_rows(data.results)
    if "bottleneck_op" not in df.columns:
        return None
    df = df[df["bottleneck_op"].notna() & (df["bottleneck_op"].astype(str) != "")]
    if df.empty:
        return None
    params = parameter_columns(data.results, data.swept)
    shown = set(varying(data.results, params)) | {"device", "workload", "method", "batch", "engine"}
    lead = [c for c in ("run", "point_id") if c in df.columns]
    cols = list(dict.fromkeys(lead + [c for c in params if c in shown] + [c for c in STALL_COLUMNS
                                                                           if c in df.columns]))
    return df[cols].reset_index(drop=True)


def pareto_table(data: ReportInput) -> pd.DataFrame | None:
    """Evaluated points with all three objectives, and whether each is on the energy-latency-area front."""
    df = ok_rows(data.results)
    if any(c not in df.columns for c in PARETO_OBJECTIVES):
        return None
    df = df.dropna(subset=list(PARETO_OBJECTIVES))
    if df.empty:
        return None
    params = parameter_columns(df, data.swept)
    lead = [c for c in ("run", "point_id") if c in df.columns]
    out = df[lead + params + list(PARETO_OBJECTIVES)].reset_index(drop=True)
    # fronts per workload and method (see imcsim.report.pareto.GROUP_BY)
    out["on_front"] = grouped_pareto_mask(df.reset_index(drop=True), PARETO_OBJECTIVES)
    return out


def failed_table(data: ReportInput) -> pd.DataFrame:
    """Points that did not evaluate, with their parameters and error message."""
    df = data.results
    bad = df[df["status"] != "ok"]
    params = parameter_columns(df, data.swept)
    lead = [c for c in ("run", "point_id") if c in df.columns]
    return bad[lead + params + ["status", "error"]].reset_index(drop=True)


def build_tables(data: ReportInput) -> dict[str, pd.DataFrame]:
    """Every report table that the input supports, by file stem (missing inputs -> no table)."""
    tables: dict[str, pd.DataFrame | None] = {
        "summary": summary_table(data),
        "components": component_table(data),
        "phases": phase_table(data),
        "layers": layer_table(data),
        "reloads": reload_table(data),
        "leakage": leakage_table(data),
        "stalls": stall_table(data),
        "pareto": pareto_table(data),
        "failed": failed_table(data),
    }
    return {name: t for name, t in tables.items() if t is not None}


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Parquet needs one type per column: object columns mixing types are stored as text."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kinds = {type(v) for v in out[c] if v is not None and not (isinstance(v, float) and np.isnan(v))}
            if len(kinds) > 1:
                out[c] = out[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                    else str(v))
    return out


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write each table as ``<name>.csv`` and ``<name>.parquet`` in ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, df in tables.items():
        csv_path, pq_path = out / f"{name}.csv", out / f"{name}.parquet"
        df.to_csv(csv_path, index=False)
        _parquet_safe(df).to_parquet(pq_path, index=False)
        paths += [csv_path, pq_path]
    return paths
