"""The run folder ``imcsim infer`` / ``imcsim train`` write, and the engine reads (``options.measured``).

- ``measured.json``: ``workload``, ``source`` (weights and data), ``command``, and ``activity``: one
  record per (conv/linear node, phase) with the kernels' counts (:meth:`Activity.to_dict`) plus
  ``node``, ``phase``, ``in_bits``, ``w_bits``; where toggles were counted, also ``and_toggles`` (tree-input
  transitions between consecutive cycles over every plane pair, :mod:`imcsim.circuit.toggle`) and
  ``toggle_rows_parallel`` (the adder-tree size they were counted for);
- ``updates.npz`` (training): ``old:<node>`` and ``new:<node>``, INT8 weights (steps, *weight shape)
  before and after every executed update;
- ``weights.npz``: ``w:<node>``, the INT8 weights of every conv/linear the run ended with (inference: the
  quantised network; training: after the last update); the engine prices reloads with them.

Files are written to a temporary name and renamed, so an interrupted run never leaves half a file and
never replaces a good one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from imcsim.circuit.activity import Activity
from imcsim.circuit.toggle import ToggleActivity

MEASURED_FILE = "measured.json"
UPDATES_FILE = "updates.npz"
WEIGHTS_FILE = "weights.npz"


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def activity_records(activity: dict[tuple[str, str], Activity],
                     toggles: dict[tuple[str, str], ToggleActivity] | None = None,
                     rows_parallel: int | None = None) -> list[dict[str, Any]]:
    out = []
    for (node, phase), act in activity.items():
        rec = {"node": node, "phase": phase, "in_bits": act.in_bits, "w_bits": act.w_bits, **act.to_dict()}
        tog = (toggles or {}).get((node, phase))
        if tog is not None:
            if tog.and_slots != act.and_slots * act.in_bits * act.w_bits:
                raise ValueError(f"{node} {phase}: toggles counted over {tog.and_slots} products, the activity "
                                 f"over {act.and_slots} x {act.in_bits * act.w_bits}")
            rec.update(and_toggles=tog.and_toggles, toggle_rows_parallel=rows_parallel)
        out.append(rec)
    return out


def write_measured(folder: str | Path, *, workload: str, source: str, command: str,
                   activity: dict[tuple[str, str], Activity], extra: dict[str, Any] | None = None,
                   toggles: dict[tuple[str, str], ToggleActivity] | None = None,
                   rows_parallel: int | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"workload": workload, "source": source, "command": command, **(extra or {}),
           "activity": activity_records(activity, toggles, rows_parallel)}
    path = folder / MEASURED_FILE
    _atomic(path, lambda p: p.write_text(json.dumps(doc, indent=1) + "\n"))
    return path


def write_updates(folder: str | Path, updates: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Per node (old, new) stacks of shape (steps, *weights), stored as int8."""
    arrays = {}
    for node, (old, new) in updates.items():
        arrays[f"old:{node}"] = np.asarray(old, np.int8)
        arrays[f"new:{node}"] = np.asarray(new, np.int8)
    return _write_npz(Path(folder) / UPDATES_FILE, arrays)


def write_weights(folder: str | Path, weights: dict[str, np.ndarray]) -> Path:
    """Per conv/linear node its INT8 weights (the layer's weight tensor), stored as int8."""
    arrays = {f"w:{node}": np.asarray(w, np.int8) for node, w in weights.items()}
    return _write_npz(Path(folder) / WEIGHTS_FILE, arrays)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Compressed .npz written atomically (a crash leaves the previous file, never half of one)."""

    def save(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)

    _atomic(path, save)
    return path
