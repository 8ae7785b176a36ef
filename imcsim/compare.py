"""Devices side by side for one workload and training methods: what reprogramming costs on each.

:func:`compare` evaluates every (method, device) pair of one workload and turns each result into one
record: energy and time of one training step, of one new task (``steps_per_task`` steps) and of one
epoch (``ceil(dataset_size / batch)`` steps; a partial last batch is still a step), the part of it
spent writing the arrays, the lifetime at ``steps_per_day``, the deploy cost (writing every resident
weight once, ``Result.mapping["deploy_energy_pj"]``), and ratios to the first device of the same
method. ``steps_per_task``, ``dataset_size`` and ``steps_per_day`` are study options ([A]ssumptions
the user sets with ``--set``); the per-task and per-epoch figures are the per-step ones times the
step count, nothing else.

``iso`` sizes each device's chip before the comparison (:func:`iso_capacities`): ``capacity`` gives
every chip the weight bits of the first device's chip; ``area`` gives every chip the cell-array area of
the first device's chip, so a denser cell holds more weights in the same mm^2 (fewer reloads, and the
leakage and latency that follow). ``None`` keeps each preset as it is.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imcsim.errors import SpecError

#: metrics compared with the first device of the same method (record key -> ratio key)
RATIOS = {
    "energy_per_step_pj": "energy_vs_first",
    "time_per_step_ns": "time_vs_first",
    "write_energy_per_step_pj": "write_energy_vs_first",
    "write_time_per_step_ns": "write_time_vs_first",
    "deploy_energy_pj": "deploy_energy_vs_first",
    "lifetime_years": "lifetime_vs_first",
}


ISO = ("capacity", "area")
_MIBIT = 2**20


def chip_cells(device: str, overrides: Mapping[str, Any], source: str = "<flags>") -> dict[str, float]:
    """The IMC cell array of ``device``'s chip (its preset with ``overrides``): cells, bits, cell area
    per bit at the chip's node (um^2) and the array area (mm^2)."""
    from imcsim.config.accelerator import load_accelerator
    from imcsim.config.study import study_from_params
    from imcsim.device import load_device
    from imcsim.engine.context import preset_for

    study = study_from_params({**dict(overrides), "device": device}, source)
    acc_over = {**study.accelerator_overrides, **study.macro.dotted()}
    if study.options.node_nm is not None:
        acc_over["chip.node_nm"] = study.options.node_nm
    accel = load_accelerator(preset_for(study), acc_over or None)
    cells = float(accel.n_macros * accel.macro.rows * accel.macro.cols)
    bpc = accel.macro.bits_per_cell
    cell_um2 = float(load_device(device).cell_area_um2(accel.chip.node_nm))
    return {"cells": cells, "bits": cells * bpc, "bits_per_cell": bpc, "cell_area_um2": cell_um2,
            "cell_area_um2_per_bit": cell_um2 / bpc, "array_area_mm2": cells * cell_um2 * 1e-6}


def iso_capacities(devices: Sequence[str], overrides: Mapping[str, Any], iso: str,
                   source: str = "<flags>") -> dict[str, float]:
    """``chip.cell_capacity_mibit`` per device so that every chip matches the first device's chip in
    weight bits (``capacity``) or in cell-array area (``area``): cells = reference bits / bits per
    cell, or reference area / cell area. Macros per tile then follow (the preset's rounding up)."""
    if iso not in ISO:
        raise SpecError(source, "--iso", iso, ", ".join(ISO))
    if "tile.macros" in overrides:
        raise SpecError(source, "--set tile.macros", overrides["tile.macros"], problem="--iso sizes the chip itself:",
                        allowed="no tile.macros override (set chip.cell_capacity_mibit for the first device's chip)")
    ref = chip_cells(devices[0], overrides, source)
    out = {}
    for d in devices:
        c = chip_cells(d, overrides, source)
        cells = (ref["bits"] / c["bits_per_cell"] if iso == "capacity"
                 else ref["array_area_mm2"] * 1e6 / c["cell_area_um2"])
        out[d] = cells / _MIBIT
    return out


def compare(devices: Sequence[str], workload: str, methods: Sequence[str], overrides: Mapping[str, Any] | None = None,
            engine: str = "analytic", source: str = "<flags>", iso: str | None = None) -> list[dict[str, Any]]:
    """One record per (method, device), methods outermost, devices in the order given; ``iso`` sizes
    the chips first (:func:`iso_capacities`)."""
    from imcsim.config.study import study_from_params
    from imcsim.engine.evaluation import evaluate

    if not devices:
        raise SpecError(source, "--device", None, problem="missing:", allowed="one or more devices, e.g. sas-mram,reram")
    if not methods:
        raise SpecError(source, "--method", None, problem="missing:", allowed="one or more methods, e.g. lora,lorafusion")
    for flag, values in (("--device", devices), ("--method", methods)):
        if len(set(values)) != len(values):
            raise SpecError(source, flag, ",".join(values), problem="a value is listed twice:", allowed="each once")
    from imcsim.config.device_card import load_card, resolve_card_path

    for device in devices:  # every name checked before the first (possibly long) evaluation
        load_card(resolve_card_path(device, file=source, field="--device"))
    sizes = iso_capacities(devices, dict(overrides or {}), iso, source) if iso else {}
    records: list[dict[str, Any]] = []
    for method in methods:
        first: dict[str, Any] | None = None
        for device in devices:
            params = {**dict(overrides or {}), "device": device, "workload": workload, "method": method,
                      "engine": engine}
            if iso:
                params["chip.cell_capacity_mibit"] = sizes[device]
            study = study_from_params(params, source)
            result = evaluate(study)
            rec = record(result.summary(), result.mapping, study.options)
            chip = chip_cells(device, {k: v for k, v in params.items() if k not in ("workload", "method", "engine")},
                              source)
            rec = {"method": method, "device": device, "workload": workload, "iso": iso or "preset",
                   "cell_capacity_mibit": chip["cells"] / _MIBIT, "weight_capacity_mbit": chip["bits"] / 1e6,
                   "cell_array_area_mm2": chip["array_area_mm2"], **rec}
            first = first or rec
            rec.update(ratios(rec, first))
            records.append(rec)
    return records


def record(summary: Mapping[str, Any], mapping: Mapping[str, Any], options: Any) -> dict[str, Any]:
    """Per-step figures from one result, scaled to a task and an epoch."""
    batch = int(mapping.get("batch") or 1)
    steps_per_task = int(options.steps_per_task)
    steps_per_epoch = math.ceil(options.dataset_size / batch)
    step_e = float(summary["energy_pj"])
    step_t = float(summary["latency_ns"])
    write_e = float(summary["write_energy_pj"])
    write_t = float(summary["write_latency_ns"])
    rec: dict[str, Any] = {
        "batch": batch,
        "energy_per_step_pj": step_e,
        "time_per_step_ns": step_t,
        "write_energy_per_step_pj": write_e,
        "write_time_per_step_ns": write_t,
        "weights_written_per_step": int(summary["weights_written"]),
        "reload_weights_per_step": int(summary["reload_weights"]),
        "write_energy_share": float(summary["write_energy_share"]),
        "steps_per_task": steps_per_task,
        "energy_per_task_pj": step_e * steps_per_task,
        "time_per_task_ns": step_t * steps_per_task,
        "write_energy_per_task_pj": write_e * steps_per_task,
        "write_time_per_task_ns": write_t * steps_per_task,
        "dataset_size": int(options.dataset_size),
        "steps_per_epoch": steps_per_epoch,
        "energy_per_epoch_pj": step_e * steps_per_epoch,
        "time_per_epoch_ns": step_t * steps_per_epoch,
        "write_energy_per_epoch_pj": write_e * steps_per_epoch,
        "write_time_per_epoch_ns": write_t * steps_per_epoch,
        "deploy_energy_pj": float(mapping.get("deploy_energy_pj", 0.0)),
        "deploy_time_ns": float(mapping.get("deploy_latency_ns", 0.0)),
        "steps_per_day": float(summary["steps_per_day"]),
        "lifetime_years": float(summary["lifetime_years"]),
        "endurance_cycles": float(summary["endurance_cycles"]),
        "fits": bool(mapping.get("fits", True)),
    }
    return rec


def ratio(value: float, reference: float) -> float | None:
    """value / reference; None when both are zero or both infinite (no meaningful ratio)."""
    if reference == 0:
        return None if value == 0 else math.inf
    if math.isinf(reference):
        return None if math.isinf(value) else 0.0
    return value / reference


def ratios(rec: Mapping[str, Any], first: Mapping[str, Any]) -> dict[str, float | None]:
    return {out: ratio(float(rec[key]), float(first[key])) for key, out in RATIOS.items()}


def write_files(records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``compare.csv`` and ``compare.json`` into ``out_dir`` (only those two files). JSON has no
    infinity, so an infinite lifetime (no writes) is the string ``"inf"`` there, and a ratio with no
    meaning (0/0) is ``null``; CSV writes ``inf`` and an empty cell."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SpecError(str(out), "--out", problem="exists and is not a folder", allowed="a folder")
    out.mkdir(parents=True, exist_ok=True)
    cols = list(dict.fromkeys(k for r in records for k in r))
    csv_path, json_path = out / "compare.csv", out / "compare.json"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(cols)
        for r in records:
            writer.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    json_path.write_text(json.dumps([{c: _json_value(r.get(c)) for c in cols} for r in records], indent=1) + "\n")
    return [csv_path, json_path]


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else None)
    return v


#: devices a training run is compared on by default (``imcsim compare --run DIR``)
RUN_DEVICES = ("sas-mram", "sot-mram", "stt-mram", "reram", "sram")


def compare_run(run_dir: str | Path, devices: Sequence[str] = RUN_DEVICES, overrides: Mapping[str, Any] | None = None,
                engine: str = "analytic", source: str = "<flags>") -> list[dict[str, Any]]:
    """Per device: a training run's write cost priced from its executed updates and under the defaults.

    The run folder (``imcsim train --out``) names the workload, the method and its options; each device is evaluated twice,
    with ``measured`` set to the folder (exact writes of the executed updates, measured activity) and
    without (flip probability 0.5, activity 0.5 / 0.25). ``*_assumed_over_measured`` says by what factor
    the assumptions overstate (> 1) or understate (< 1) the measured figure.
    """
    from imcsim.config.study import study_from_params
    from imcsim.engine.evaluation import evaluate
    from imcsim.engine.measured import load_measurement

    meas = load_measurement(str(run_dir))
    doc = json.loads((Path(run_dir) / "measured.json").read_text())
    method = doc.get("method")
    if doc.get("command") != "train" or not method:
        raise SpecError(str(run_dir), "--run", str(run_dir), "a folder written by imcsim train --out",
                        problem="not a training run:")
    flip_rate = meas.flip_rate()
    records: list[dict[str, Any]] = []
    for device in devices:
        base = {**dict(overrides or {}), "device": device, "workload": meas.workload, "method": method,
                "engine": engine, **{f"method.{k}": v for k, v in doc.get("method_options", {}).items()}}
        measured = evaluate(study_from_params({**base, "measured": str(run_dir)}, source)).summary()
        assumed = evaluate(study_from_params(base, source)).summary()
        rec: dict[str, Any] = {"device": device, "workload": meas.workload, "method": method,
                               "write_policy": (overrides or {}).get("write_policy", "all"),
                               "measured_flip_rate": flip_rate, "assumed_flip_prob": 0.5}
        for key in ("write_energy_pj", "write_latency_ns", "max_cell_wear_per_step", "lifetime_years",
                    "energy_pj"):
            rec[f"measured_{key}"] = float(measured[key])
            rec[f"assumed_{key}"] = float(assumed[key])
            rec[f"{key}_assumed_over_measured"] = ratio(float(assumed[key]), float(measured[key]))
        records.append(rec)
    return records


# ``imcsim.compare(...)`` (the API function returning a DataFrame, imcsim/api.py) is this module called
from imcsim._callable import make_callable  # noqa: E402

make_callable(__name__)
