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
  0.5 (A), and the wear of the hottest cell accumulated over the run;
- when ``weights.npz`` holds the INT8 weights of every streamed layer, each reload's write cost from
  ``DeviceModel.write(old, new)`` of what the pool macros held (the layer reloaded before) and what is
  written (:func:`reload_plan`, the rule below), instead of half the bits flipping (A).

The reload rule (docs/execution.md): a layer's weights, flattened in the order of its weight tensor
(C_out, C_in/groups, kh, kw), are split into as many consecutive chunks as the layer has macros (the rule
the measured update writes use too); chunk i goes to pool macro i mod P in round i div P (P pool macros)
and fills that macro's weight slots from the first. A reload writes only those slots; each slot held what
the last reload wrote there. The step is priced in steady state: before its first reload the pool holds
what the previous step's last reloads left (the sequence is run once to fill the pool, then priced).

Every figure taken from here is named in the result's assumptions as "measured by execution".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from imcsim.device.base import DeviceModel, WriteCost, weight_bits
from imcsim.errors import SpecError
from imcsim.execute.runfolder import MEASURED_FILE, UPDATES_FILE, WEIGHTS_FILE


@dataclass(frozen=True)
class MeasuredActivity:
    """A layer's measured mean densities (duck-types :class:`~imcsim.circuit.activity.Activity`, and
    :class:`~imcsim.circuit.toggle.ToggleActivity` when the run counted toggles)."""

    in_bits: int
    w_bits: int
    mean_input_density: float
    mean_and_density: float
    input_slots: int = 0                      # bits presented per plane (weights the network mean)
    and_slots: int = 0                        # products per plane pair = MACs
    #: tree-input toggles per product (None: not counted) and the adder-tree size they were counted for
    and_toggle_density: float | None = None
    toggle_rows_parallel: int | None = None


@dataclass(frozen=True)
class Measurement:
    """One run folder's measurements."""

    folder: str
    workload: str
    source: str                                       # what the weights and data were
    activity: dict[tuple[str, str], MeasuredActivity]  # (node, phase) -> densities
    updates: dict[str, tuple[np.ndarray, np.ndarray]]  # node -> (old, new), each (steps, *weights)
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # node -> INT8 weights the run ended with
    master_copy: str = "none"   # the master weights the training run kept (imcsim train --master-copy)
    error_bits: int = 8         # the error width the training run executed (imcsim train --error-bits)
    method_options: dict = field(default_factory=dict)   # the options of the method the run trained
    wgrad: str = "array"        # where the training run computed its weight gradients (imcsim train --wgrad)

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
        """The phase's (input-bit, AND-product) densities over all its measured layers, each weighted by its
        slots (bits presented, MACs): the densities the network's MACs saw. Unweighted if no slots."""
        acts = [a for (_, p), a in self.activity.items() if p == phase]
        if not acts:
            return 0.0, 0.0
        w_in = [a.input_slots for a in acts] if all(a.input_slots for a in acts) else None
        w_and = [a.and_slots for a in acts] if all(a.and_slots for a in acts) else None
        return (float(np.average([a.mean_input_density for a in acts], weights=w_in)),
                float(np.average([a.mean_and_density for a in acts], weights=w_and)))

    def mean_toggle_density(self, phase: str = "forward") -> float | None:
        """The phase's tree-input toggle density over the layers that counted toggles (MAC-weighted)."""
        acts = [a for (_, p), a in self.activity.items() if p == phase and a.and_toggle_density is not None]
        if not acts:
            return None
        w = [a.and_slots for a in acts] if all(a.and_slots for a in acts) else None
        return float(np.average([a.and_toggle_density for a in acts], weights=w))


def load_measurement(folder: str) -> Measurement:
    """Read a run folder (cached on the folder and its files' modification times)."""
    path = Path(folder)
    meas = path / MEASURED_FILE
    if not meas.is_file():
        raise SpecError(None, "options.measured", folder, f"a folder written by imcsim infer/train (with {MEASURED_FILE})",
                        problem="no measurements there:")
    stamps = tuple((path / f).stat().st_mtime_ns if (path / f).is_file() else 0 for f in (UPDATES_FILE, WEIGHTS_FILE))
    return _load(str(path.resolve()), meas.stat().st_mtime_ns, stamps)


@lru_cache(maxsize=8)
def _load(folder: str, _mtime: int, _stamps: tuple[int, int]) -> Measurement:
    path = Path(folder)
    try:
        doc = json.loads((path / MEASURED_FILE).read_text())
        activity = {(rec["node"], rec["phase"]): _activity(rec) for rec in doc["activity"]}
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
    weights: dict[str, np.ndarray] = {}
    if (path / WEIGHTS_FILE).is_file():
        try:
            with np.load(path / WEIGHTS_FILE, allow_pickle=False) as f:
                weights = {k.removeprefix("w:"): f[k].astype(np.int64) for k in f.files if k.startswith("w:")}
        except (OSError, ValueError) as exc:
            raise SpecError(str(path / WEIGHTS_FILE), "weights", None, "the file imcsim infer/train writes",
                            problem=f"unreadable ({exc}):") from None
    options = doc.get("options") if isinstance(doc.get("options"), dict) else {}
    return Measurement(folder, doc.get("workload", ""), doc.get("source", ""), activity, updates, weights,
                       str(options.get("master_copy", "none")), int(options.get("error_bits", 8)),
                       dict(doc.get("method_options") or {}), wgrad=str(options.get("wgrad", "array")))


def _activity(rec: dict) -> MeasuredActivity:
    toggles = rec.get("and_toggles")
    slots = int(rec.get("and_slots", 0))
    in_bits, w_bits = int(rec["in_bits"]), int(rec["w_bits"])
    return MeasuredActivity(in_bits, w_bits, float(rec["mean_input_density"]), float(rec["mean_and_density"]),
                            int(rec.get("input_slots", 0)), slots,
                            # toggles counted over every plane pair: per product = toggles / (MACs x Bi x Bw)
                            int(toggles) / (slots * in_bits * w_bits) if toggles is not None and slots else None,
                            int(rec["toggle_rows_parallel"]) if toggles is not None else None)


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


@dataclass(frozen=True)
class PricedReload:
    """One reload priced from executed weights: its cost (wear: this reload's hottest cell), write time."""

    cost: WriteCost
    latency_ns: float


@dataclass(frozen=True)
class ReloadPlan:
    """Every reload of a step in order, the hottest pool cell's wear per step, and the bits they flipped."""

    reloads: tuple[PricedReload, ...]
    max_cell_wear: float
    bits_flipped: int
    bits_written: int


def reload_plan(device: DeviceModel, sequence: list[str], weights: dict[str, np.ndarray], macros: dict[str, int],
                pool: int, policy: str, waves: Callable[[int], int], bits: int = 8) -> ReloadPlan:
    """Exact write cost of each reload in ``sequence`` (layer names, in step order) under the module's
    reload rule: per chunk ``DeviceModel.write(held, written)``; a round's time is its slowest chunk's
    times its write waves (``waves(macros in the round)``), the rounds one after the other."""
    chunks = {layer: np.array_split(weights[layer].ravel(), max(1, macros[layer])) for layer in dict.fromkeys(sequence)}
    slots = max((c.size for cs in chunks.values() for c in cs), default=0)
    held = np.zeros((max(1, pool), slots), np.int64)       # what each pool macro's weight slots hold
    wear = np.zeros((max(1, pool), slots))                 # per slot, summed over the priced pass
    lone: dict[tuple[int, int], float] = {}
    priced: list[PricedReload] = []
    flipped = written = 0
    for priced_pass in (False, True):
        for layer in sequence:
            total, latency = WriteCost(), 0.0
            layer_chunks = chunks[layer]
            for start in range(0, len(layer_chunks), max(1, pool)):
                round_chunks = layer_chunks[start:start + max(1, pool)]
                slowest = 0.0
                for j, new in enumerate(round_chunks):
                    old = held[j, :new.size].copy()
                    held[j, :new.size] = new
                    if not priced_pass or not new.size:
                        continue
                    cost = device.write(old, new, bits, policy)
                    total, slowest = total + cost, max(slowest, cost.latency_ns)
                    wear[j, :new.size] += _lone_wear(device, old, new, policy, bits, lone)
                    ob, nb = weight_bits(old, bits, True, "old"), weight_bits(new, bits, True, "new")
                    flipped += int((ob != nb).sum())
                    written += ob.size
                latency += slowest * waves(len(round_chunks))
            if priced_pass:
                priced.append(PricedReload(total, latency))
    return ReloadPlan(tuple(priced), float(wear.max(initial=0.0)), flipped, written)


def _lone_wear(device: DeviceModel, old: np.ndarray, new: np.ndarray, policy: str, bits: int,
               cache: dict[tuple[int, int], float]) -> np.ndarray:
    """Per weight, the wear of writing it alone (as :func:`_hottest_wear`), memoised per (old, new) pair."""
    pairs = np.stack([old, new], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    for o, n in uniq:
        if (o, n) not in cache:
            cache[(int(o), int(n))] = device.write(np.array([o]), np.array([n]), bits, policy).max_cell_wear
    return np.array([cache[(int(o), int(n))] for o, n in uniq])[inverse.ravel()]
