"""A made-up results table that follows the report's column contract.

Why it exists: the report must be testable and previewable without running the engine (and before
a sweep has finished). The numbers are invented with simple scaling rules (bigger arrays: fewer
cycles, more area; training methods write weights; each device has its own write cost and
endurance) so that the plots have something to show. They are NOT simulation results; never quote
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from imcsim.device.base import lifetime_years
from imcsim.engine.ledger import COMPONENTS

#: Invented per-device write energy per weight (pJ), write time per weight (ns) and endurance (cycles).
_DEVICES: dict[str, tuple[float, float, float]] = {
    "sas-mram": (0.6, 2.0, 1e12),
    "sot-mram": (1.2, 1.0, 1e12),
    "reram": (40.0, 100.0, 1e6),
    "stt-mram": (2.0, 10.0, 1e6),
    "sram": (0.05, 0.5, math.inf),
}


def synthetic_results(devices: Sequence[str] = ("sas-mram", "sot-mram", "reram"),
                      rows: Sequence[int] = (64, 128), cols: Sequence[int] = (64, 128),
                      methods: Sequence[str] = ("inference", "repnet"), *, workload: str = "resnet18",
                      failed: int = 0, seed: int = 0, steps_per_day: float = 1000.0) -> pd.DataFrame:
    """One row per (device, rows, cols, method), plus ``failed`` error rows at the end."""
    rng = np.random.default_rng(seed)
    records = []
    for device in devices:
        w_e, w_t, endurance = _DEVICES.get(device, (1.0, 5.0, 1e10))
        for r in rows:
            for c in cols:
                for method in methods:
                    cells = r * c
                    training = method != "inference"
                    macs = 1.8e9
                    cycles = macs / cells * 8 * (1.0 + 0.05 * rng.random())
                    energy = {comp: macs * 1e-3 * (k + 1) / len(COMPONENTS) * (1 + 0.3 * rng.random())
                              for k, comp in enumerate(COMPONENTS)}
                    energy["leakage"] = cycles * cells * 1e-6
                    written = int(2e5 * math.sqrt(cells / 4096)) if training else 0
                    energy["write"] = written * 8 * w_e
                    write_ns = written / 64 * w_t
                    total = sum(energy.values())
                    latency_ns = cycles * 1.0 + write_ns
                    wear = 1.0 if training else 0.0
                    lifetime = lifetime_years(endurance, wear * steps_per_day)
                    rec = {
                        "device": device, "workload": workload, "method": method, "rows": r, "cols": c,
                        "engine": "analytic", "status": "ok", "error": None,
                        "latency_cycles": cycles, "latency_ns": latency_ns, "energy_pj": total,
                        "edp_pj_ns": total * latency_ns, "area_mm2": cells * 64 * 2e-7 + 0.5 * rng.random(),
                        "write_energy_pj": energy["write"], "write_energy_share": energy["write"] / total,
                        "write_latency_ns": write_ns, "weights_written": written, "reload_weights": 0,
                        "max_cell_wear_per_step": wear, "mean_cell_wear_per_step": wear / 2,
                        "lifetime_years": lifetime, "macs": macs, "steps_per_day": steps_per_day,
                    }
                    rec.update({f"energy_{k}_pj": v for k, v in energy.items()})
                    rec["map_utilisation"] = min(1.0, 0.95 * 4096 / cells + 0.1 * rng.random())
                    rec["map_macros_used"] = int(64 * 4096 / cells)
                    rec["map_fits"] = True
                    records.append(rec)
    for k in range(failed):
        records.append({"device": devices[k % len(devices)], "workload": workload, "method": methods[0],
                        "rows": rows[0], "cols": cols[0], "engine": "analytic", "status": "error",
                        "error": f"mapping: layer conv{k} needs {k + 2} macros, accelerator has 1"})
    return pd.DataFrame.from_records(records)
