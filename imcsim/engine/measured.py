"""What execution measured, as the engine prices it: per-layer activity and executed weight updates.

``imcsim infer`` and ``imcsim train`` write a run folder (:mod:`imcsim.execute.runfolder`) with
``measured.json`` (per conv/linear node and phase, the :class:`~imcsim.circuit.activity.Activity` the
bit-serial kernels counted) and, for training, ``updates.npz`` (per node the INT8 weights before and
after every executed update). A study's ``options.measured`` names that
folder; the pricer (:mod:`imcsim.engine.costs`) then takes

- a layer's input-bit and AND-product densities from what its kernels counted (per phase; a phase the
  run did not execute falls back to the default), instead of the stated 0.5 / 0.25 (A);
- a layer's update write cost from :meth:`DeviceModel.write(old, new) <imcsim.device.base.DeviceModel.write>`
  on the executed updates (the mean per step) instead of the closed form with a flip probability of
  0.5 (A), and the wear of the hottest cell accumulated over the run.

Every figure taken from here is named in the result's assumptions as "measured by execution".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from imcsim.device.base import DeviceModel, WriteCost, weight_bits
from imcsim.errors import SpecError
from imcsim.execute.runfolder import MEASURED_FILE, UPDATES_FILE


@dataclass(frozen=True)
class MeasuredActivity:
    """A layer's measured mean densities (duck-types :class:`~imcsim.circuit.activity.Activity`)."""

    in_bits: int
    w_bits: int
    mean_input_density: float
    mean_and_density: float


@dataclass(frozen=True)
class Measurement:
    """One run folder's measurements."""

    folder: str
    workload: str
    source: str                                       # what the weights and data were
    activity: dict[tuple[str, str], MeasuredActivity]  # (node, phase) -> densities
    updates: dict[str, tuple[np.ndarray, np.ndarray]]  # node -> (old, new), each (steps, *weights)

    def activity_for(self, node: str, phase: str) -> MeasuredActivity | None:
        return self.activity.get((node, phase))

    @property
    def steps(self) -> int:
        return max((old.shape[0] for old, _ in self.updates.values()), default=0)

    def flip_rate(self) -> float:
        """Fraction of the updated weights' bits that changed, over every executed update."""
        flipped = total = 0
        for old, new in self.updates.values():
            ob, nb = weight_bits(old, 8, True, "old"), weight_bits(new, 8, True, "new")
            flipped += int((ob != nb).sum())
            total += ob.size
        return flipped / total if total else 0.0

    def mean_densities(self, phase: str = "forward") -> tuple[float, float]:
        """The unweighted mean over the phase's layers of their (input-bit, AND-product) densities."""
        acts = [a for (_, p), a in self.activity.items() if p == phase]
        if not acts:
            return 0.0, 0.0
        return (float(np.mean([a.mean_input_density for a in acts])), float(np.mean([a.mean_and_density for a in acts])))


def load_measurement(folder: str) -> Measurement:
    """Read a run folder (cached on the folder and its files' modification times)."""
    path = Path(folder)
    meas = path / MEASURED_FILE
    if not meas.is_file():
        raise SpecError(None, "options.measured", folder, f"a folder written by imcsim infer/train (with {MEASURED_FILE})",
                        problem="no measurements there:")
    upd = path / UPDATES_FILE
    return _load(str(path.resolve()), meas.stat().st_mtime_ns, upd.stat().st_mtime_ns if upd.is_file() else 0)


@lru_cache(maxsize=8)
def _load(folder: str, _mtime: int, _umtime: int) -> Measurement:
    path = Path(folder)
    try:
        doc = json.loads((path / MEASURED_FILE).read_text())
        activity = {(rec["node"], rec["phase"]): MeasuredActivity(int(rec["in_bits"]), int(rec["w_bits"]),
                                                                  float(rec["mean_input_density"]),
                                                                  float(rec["mean_and_density"]))
                    for rec in doc["activity"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpecError(str(path / MEASURED_FILE), "activity", None, "the file imcsim infer/train writes",
                        problem=f"unreadable ({exc}):") from None
    updates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if (path / UPDATES_FILE).is_file():
        with np.load(path / UPDATES_FILE, allow_pickle=False) as f:
            for key in f.files:
                if key.startswith("old:"):
                    node = key.removeprefix("old:")
                    updates[node] = (f[key].astype(np.int64), f["new:" + node].astype(np.int64))
    return Measurement(folder, doc.get("workload", ""), doc.get("source", ""), activity, updates)


def measured_write(device: DeviceModel, old: np.ndarray, new: np.ndarray, policy: str, macros: int,
                   waves: int) -> tuple[WriteCost, float]:
    """Mean per-step cost of the executed updates of one layer spread over ``macros`` macros.

    The flattened weights are split into ``macros`` consecutive chunks (one per macro); each step's
    cost is the sum of exact :meth:`DeviceModel.write` costs of the chunks, its latency the slowest
    chunk's times the write waves. Returns (mean cost per step with the run's hottest-cell wear per
    step, mean latency per step in ns). The hottest cell: per weight, the wear of its own write summed
    over the steps (each weight written alone: line sharing with neighbours is left out, A), the largest
    total divided by the steps.
    """
    steps = old.shape[0]
    flat_old, flat_new = old.reshape(steps, -1), new.reshape(steps, -1)
    chunks = np.array_split(np.arange(flat_old.shape[1]), max(1, macros))
    total, latency = WriteCost(), 0.0
    for t in range(steps):
        step_costs = [device.write(flat_old[t, c], flat_new[t, c], 8, policy) for c in chunks if c.size]
        total = total + WriteCost.sequence(step_costs)
        latency += max(c.latency_ns for c in step_costs) * waves
    wear = _hottest_wear(device, flat_old, flat_new, policy)
    mean = total.scaled(1.0 / steps)
    return WriteCost(pulses=mean.pulses, energy_pj=mean.energy_pj, latency_ns=latency / steps,
                     cells_written=mean.cells_written, verify_reads=mean.verify_reads, rmw_reads=mean.rmw_reads,
                     max_cell_wear=wear / steps), latency / steps


def _hottest_wear(device: DeviceModel, old: np.ndarray, new: np.ndarray, policy: str) -> float:
    """Largest per-weight wear summed over the steps (one write of a lone weight per (old, new) pair)."""
    pairs = np.stack([old.ravel(), new.ravel()], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    per_pair = np.array([device.write(np.array([o]), np.array([n]), 8, policy).max_cell_wear for o, n in uniq])
    per_weight = per_pair[inverse.ravel()].reshape(old.shape).sum(axis=0)
    return float(per_weight.max(initial=0.0))
