"""Reading an output folder into what a report needs: the results table and what sits beside it.

Two kinds of folder are understood:

- a **sweep folder**: ``sweep.json`` plus Parquet parts, read with the sweep store's
  :func:`imcsim.sweep.store.read_results` (one row per design point, plan order);
- a **run folder**: ``summary.csv``, ``layers.csv`` and ``ledger.json`` written by
  :meth:`imcsim.engine.ledger.Result.write`, possibly several runs side by side with a name prefix
  (``sas-mram_summary.csv``). Each run is one design point; its layers and ledger are kept too.

A folder holding only ``*.parquet`` tables (an exported results table) is read as rows as well. This
module only reads: it never writes or deletes anything in the folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from imcsim.engine.ledger import RELOAD_METRICS
from imcsim.errors import SpecError

#: Study parameters the reports know by name (others found in a table are treated as parameters too).
PARAMETERS: tuple[str, ...] = (
    "device", "workload", "method", "accelerator", "rows", "cols", "rows_parallel", "column_mux",
    "bits_per_cell", "batch", "engine",
)
#: Metric names of ``Result.summary()`` that have no prefix marking them as metrics.
METRICS: tuple[str, ...] = (
    "latency_cycles", "latency_ns", "energy_pj", "edp_pj_ns", "area_mm2", "write_energy_pj",
    "write_energy_share", "write_latency_ns", "weights_written", "reload_weights",
    "max_cell_wear_per_step", "mean_cell_wear_per_step", "lifetime_years", "macs",
    "endurance_cycles", "steps_per_day", "macro_wakeups", "tops_per_w", "bottleneck_op", "busiest_resource",
    "busiest_utilisation", *RELOAD_METRICS,
)
#: (the event engine's stall cycles by cause and its bottleneck op are results, not design parameters:
#: as parameters they made every point name a list of cycle counts)
METRIC_PREFIXES: tuple[str, ...] = ("energy_", "map_", "area_", "leakage_", "stall_cycles_")
#: The ``map_`` metrics the reports read (tables.py, reloads.py); the other mapping figures and the area
#: components (``area_*_um2``) stay in the store: a sweep report does not read them (``reads_column``).
MAP_METRICS_READ: tuple[str, ...] = ("map_utilisation", "map_macros_used", "map_fits", "map_reloaded_layers")
#: Bookkeeping columns: neither a parameter nor a metric.
RESERVED: tuple[str, ...] = ("point", "point_id", "status", "error", "run")


@dataclass
class ReportInput:
    """Everything read from one folder.

    ``results``: one row per design point (the column contract of ``docs/reports.md``), always with
    ``status`` and ``error`` columns. ``layers``: per-op records of run folders with a ``run`` column
    (None for sweeps). ``ledgers``: the parsed ``ledger.json`` of each run, by run name.
    ``description``: what the folder holds, for the report's header.
    """

    folder: Path
    kind: str                                  # "sweep" | "runs" | "tables"
    results: pd.DataFrame
    layers: pd.DataFrame | None = None
    ledgers: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: dict[str, Any] = field(default_factory=dict)
    swept: list[str] = field(default_factory=list)

    @property
    def assumptions(self) -> list[tuple[str, str]]:
        """(run, text) of every assumption string recorded in the ledgers, duplicates once per run."""
        out: list[tuple[str, str]] = []
        for run, ledger in self.ledgers.items():
            for text in ledger.get("assumptions") or []:
                if (run, str(text)) not in out:
                    out.append((run, str(text)))
        return out


def card_name(device: Any) -> Any:
    """How a device is shown in tables, legends and headings: a card given by path shows as its file
    name without the folder and suffix (``/home/me/cards/my-mram.yaml`` -> ``my-mram``)."""
    if isinstance(device, str) and ("/" in device or "\\" in device or device.endswith((".yaml", ".yml"))):
        return Path(device).stem
    return device


def for_display(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a results table with card paths in ``device`` shown as card names (see :func:`card_name`)."""
    if "device" not in df.columns:
        return df
    out = df.copy()
    out["device"] = out["device"].map(card_name)
    return out


def is_metric(column: str) -> bool:
    return column in METRICS or column.startswith(METRIC_PREFIXES)


def reads_column(column: str) -> bool:
    """Whether a sweep report reads this stored column: parameters, bookkeeping and metrics, except the
    mapping figures and area components no table or plot shows (a 100,000-point store is read once)."""
    if column.startswith("map_"):
        return column in MAP_METRICS_READ
    return not (column.startswith("area_") and column != "area_mm2")


def parameter_columns(df: pd.DataFrame, swept: list[str] | None = None) -> list[str]:
    """Columns that describe a design point (not metrics, not bookkeeping): swept fields first, in
    sweep order, then the known study parameters, then any other."""
    first = [c for c in (swept or []) if c in df.columns and c not in RESERVED]
    known = [c for c in PARAMETERS if c in df.columns and c not in first]
    other = [c for c in df.columns if c not in first and c not in known and c not in RESERVED
             and not is_metric(c)]
    return first + known + other


def read_folder(folder: str | Path) -> ReportInput:
    """Read a sweep or run folder; a folder with no result rows is a :class:`SpecError`."""
    path = Path(folder)
    if not path.exists():
        raise SpecError(str(path), None, problem="no such folder", allowed="a sweep or run output folder")
    if not path.is_dir():
        raise SpecError(str(path), None, problem="is not a folder", allowed="a sweep or run output folder")
    if (path / "sweep.json").is_file():
        data = _read_sweep(path)
    elif _summary_files(path):
        data = _read_runs(path)
    elif sorted(path.glob("*.parquet")):
        data = ReportInput(path, "tables", pd.concat([pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))],
                                                      ignore_index=True),
                           description={"kind": "results tables",
                                        "tables": ", ".join(p.name for p in sorted(path.glob("*.parquet")))})
    else:
        raise SpecError(str(path), None, problem="holds no results (no sweep.json, *summary.csv or *.parquet)",
                        allowed="a folder written by imcsim run or imcsim sweep")
    data.results = _normalise(data.results)
    if data.results.empty:
        raise SpecError(str(path), None, problem="holds no result rows yet",
                        allowed="a folder with at least one finished design point")
    return data


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Make sure ``status``/``error`` exist (run folders only hold successes) and numbers are numbers."""
    df = df.reset_index(drop=True).copy()
    if "status" not in df.columns:
        df["status"] = "ok"
    df["status"] = df["status"].fillna("ok").astype(str)
    if "error" not in df.columns:
        df["error"] = None
    for c in df.columns:
        if is_metric(c) and df[c].dtype == object:
            converted = pd.to_numeric(df[c], errors="coerce")
            # keep text metrics (map_ values may be strings) when nothing converts
            if converted.notna().sum() >= df[c].notna().sum():
                df[c] = converted
    return df


# --------------------------------------------------------------------------------------------------
# Sweep folders


def _read_sweep(path: Path) -> ReportInput:
    manifest = _json(path / "sweep.json")
    try:
        from imcsim.sweep.store import read_results
    except ImportError:  # the store is optional for reading: parts are plain Parquet
        read_results = None
    if read_results is not None:
        df = read_results(path, columns=reads_column)
    else:
        parts = sorted((path / "results").glob("*.parquet"))
        df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
        if "point_id" in df.columns:
            df = df.drop_duplicates("point_id", keep="last")
    description = {
        "kind": "sweep",
        "planned points": manifest.get("n_points"),
        "swept fields": ", ".join(manifest.get("fields") or []),
        "started": manifest.get("started"),
        "finished": manifest.get("finished") or "not finished",
        "runs": len(manifest.get("runs") or []),
        "imcsim version": manifest.get("imcsim_version"),
        "spec": manifest.get("spec"),
    }
    return ReportInput(path, "sweep", df, description=description, swept=list(manifest.get("fields") or []))


# --------------------------------------------------------------------------------------------------
# Run folders


def _summary_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*summary.csv") if p.is_file())


def run_name(prefix: str, folder: Path) -> str:
    """``sas-mram_`` -> ``sas-mram``; the unprefixed run is named after its folder."""
    return prefix.rstrip("_-.") or folder.name


def _read_runs(path: Path) -> ReportInput:
    rows: list[pd.DataFrame] = []
    layers: list[pd.DataFrame] = []
    ledgers: dict[str, dict[str, Any]] = {}
    for summary in _summary_files(path):
        prefix = summary.name[: -len("summary.csv")]
        run = run_name(prefix, path)
        df = _read_csv(summary)
        if df.empty:
            raise SpecError(str(summary), None, problem="holds no result row",
                            allowed="a summary.csv written by imcsim run")
        df.insert(0, "run", run)
        rows.append(df)
        layer_file = path / f"{prefix}layers.csv"
        if layer_file.is_file() and layer_file.stat().st_size > 0:
            try:
                ldf = _read_csv(layer_file)
            except SpecError:
                ldf = pd.DataFrame()  # the layers are extra detail; the summary row still reports
            if not ldf.empty:
                ldf.insert(0, "run", run)
                layers.append(ldf)
        ledger_file = path / f"{prefix}ledger.json"
        if ledger_file.is_file():
            ledgers[run] = _json(ledger_file)
    results = pd.concat(rows, ignore_index=True)
    results = _add_ledger_columns(results, ledgers)
    description = {"kind": "run folder", "runs": ", ".join(results["run"].astype(str))}
    return ReportInput(path, "runs", results, pd.concat(layers, ignore_index=True) if layers else None,
                       ledgers, description)


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV written by imcsim; an empty, binary or malformed file is a one-line SpecError."""
    try:
        # copy(): a one-row CSV comes back one block per column; consolidated, adding a column stays cheap
        return pd.read_csv(path).copy()
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise SpecError(str(path), None, problem=f"cannot be read as a results table ({reason})",
                        allowed="a CSV written by imcsim run") from None


def _add_ledger_columns(results: pd.DataFrame, ledgers: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Bring the lifetime assumptions (endurance, steps per day) from each ledger into its row."""
    for key in ("endurance_cycles", "steps_per_day"):
        if key in results.columns:
            continue
        values = [_number((ledgers.get(run) or {}).get("writes", {}).get(key)) for run in results["run"]]
        if any(v is not None for v in values):
            results[key] = [math.nan if v is None else v for v in values]
    return results


def _number(value: Any) -> float | None:
    """Ledger JSON writes inf/nan as strings; read them back as floats."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(str(path), None, problem=f"cannot be read as JSON ({exc})",
                        allowed="a file written by imcsim") from None
    if not isinstance(data, dict):
        raise SpecError(str(path), None, problem="is not a JSON object", allowed="a file written by imcsim")
    return data
