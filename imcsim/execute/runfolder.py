"""The run folder ``imcsim infer`` / ``imcsim train`` write, and the engine reads (``options.measured``).

- ``measured.json``: ``workload``, ``source`` (weights and data), ``command``, and ``activity``: one
  record per (conv/linear node, phase) with the kernels' counts (:meth:`Activity.to_dict`) plus
  ``node``, ``phase``, ``in_bits``, ``w_bits``;
- ``updates.npz`` (training): ``old:<node>`` and ``new:<node>``, INT8 weights (steps, *weight shape)
  before and after every executed update;
- ``weights.npz`` (training): the trained INT8 network (see :mod:`imcsim.execute.train`).

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

MEASURED_FILE = "measured.json"
UPDATES_FILE = "updates.npz"
WEIGHTS_FILE = "weights.npz"


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def activity_records(activity: dict[tuple[str, str], Activity]) -> list[dict[str, Any]]:
    return [{"node": node, "phase": phase, "in_bits": act.in_bits, "w_bits": act.w_bits, **act.to_dict()}
            for (node, phase), act in activity.items()]


def write_measured(folder: str | Path, *, workload: str, source: str, command: str,
                   activity: dict[tuple[str, str], Activity], extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"workload": workload, "source": source, "command": command, **(extra or {}),
           "activity": activity_records(activity)}
    path = folder / MEASURED_FILE
    _atomic(path, lambda p: p.write_text(json.dumps(doc, indent=1) + "\n"))
    return path


def write_updates(folder: str | Path, updates: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Per node (old, new) stacks of shape (steps, *weights), stored as int8."""
    arrays = {}
    for node, (old, new) in updates.items():
        arrays[f"old:{node}"] = np.asarray(old, np.int8)
        arrays[f"new:{node}"] = np.asarray(new, np.int8)
    path = Path(folder) / UPDATES_FILE

    def save(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)

    _atomic(path, save)
    return path
