"""The tally ledger: what one evaluated study costs, and how it is written out.

A :class:`Result` holds energy by component, latency, per-op records (per layer and per phase),
writes and wear, area by component, the mapping summary and the assumptions the numbers rest on.
``summary()`` flattens it into one record of unit-suffixed metrics (what sweeps store); ``write()``
produces ``summary.csv``, ``layers.csv`` and ``ledger.json`` in an output folder.

Reload attribution (``reload_*`` in the summary): a streamed layer's reload is one ``reload``-phase op
run once per step as a barrier (DRAM fetch, then the pool write). A barrier runs alone on the critical
path in both engines, so the reload ops' cycles add to the latency exactly: ``reload_latency_ns`` is
their sum, ``reload_write_latency_ns`` its pool-write part (the rest is the DRAM fetch). Their energy is
what they were priced (``write`` and ``dram``) plus the chip's standby power over that time
(``standby_power_w`` x ``reload_latency_ns``): the part of the ``leakage`` component the chip spends
waiting on reloads. That holds in layer order (``chip.pipeline: layer``); in row order (the row engine and
the analytic row estimate) reloads overlap other layers and fetches overlap writes, so the reload figures
are the reloads' own time and energy, and ``reload_latency_share`` can exceed 1.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imcsim.device.base import WriteCost
from imcsim.engine.schedule import Timeline
from imcsim.memo import IdentityMemo

#: Energy components, in report order. Macro components come from the circuit model, ``write`` from the
#: device model, the rest from the chip-level costs of the accelerator spec.
COMPONENTS: tuple[str, ...] = (
    "cell_read", "sense_amp", "adder_tree", "shift_accumulate", "control",
    "buffer", "noc", "dram", "digital_unit", "write", "leakage",
)
#: stall causes of the row engine (summary fields ``stall_cycles_<cause>``)
STALL_CAUSES: tuple[str, ...] = ("input", "buffer", "compute", "noc", "dram", "write")
#: per-resource table of an event-engine run (``Result.resource_records``), next to summary.csv
RESOURCES_CSV = "resources.csv"
PHASES: tuple[str, ...] = ("forward", "backward_error", "weight_gradient", "update", "reload")
#: Reload attribution metrics of ``Result.summary()``, in report order (see the module docstring).
RELOAD_METRICS: tuple[str, ...] = (
    "reload_latency_ns", "reload_latency_share", "reload_write_latency_ns", "reload_energy_pj",
    "reload_energy_share", "reload_write_energy_pj", "reload_dram_energy_pj", "reload_standby_energy_pj",
)

#: What a figure rests on (``Result.basis()``): ``measured`` -- by execution (``options.measured``, the
#: kernels' counts and the executed weights); ``assumed`` -- a stated default (A) stands in for the data
#: (activity 0.5 / 0.25, toggles 0.25, flip probability 0.5); ``partly measured`` -- parts of each;
#: ``spec`` -- not data-dependent: from the accelerator spec, the device card and the workload's shapes.
BASES: tuple[str, ...] = ("measured", "assumed", "partly measured", "spec")
#: The data-dependent groups of figures: which op records decide a group (``OpRecord.basis``), and the
#: summary figures that follow only that group. Totals follow every group (``_MIXED``).
BASIS_GROUPS: dict[str, tuple[str, ...]] = {
    "activity": tuple(f"energy_{c}_pj" for c in ("cell_read", "sense_amp", "adder_tree", "shift_accumulate",
                                                   "control")),
    "update_writes": (),
    "reload_writes": ("reload_write_energy_pj", "reload_write_latency_ns"),
}
#: summary figures that follow the update and the reload writes (and, for the totals, the activity too)
_WRITE_FIGURES = ("write_energy_pj", "write_energy_share", "write_latency_ns", "max_cell_wear_per_step",
                  "mean_cell_wear_per_step", "lifetime_years", "energy_write_pj")
_MIXED: dict[str, tuple[str, ...]] = {
    **{k: ("update_writes", "reload_writes") for k in _WRITE_FIGURES},
    # write barriers are on the critical path: the latency follows the writes (never the activity)
    **{k: ("update_writes", "reload_writes") for k in ("latency_ns", "latency_cycles", "reload_latency_share",
                                                       "energy_leakage_pj")},
    **{k: ("reload_writes",) for k in ("reload_latency_ns", "reload_energy_pj", "reload_standby_energy_pj")},
    **{k: ("activity", "update_writes", "reload_writes") for k in ("energy_pj", "edp_pj_ns", "reload_energy_share")},
}


#: what execution can measure, each next to the stated default it replaces (summary ``measured_<k>`` and
#: ``assumed_<k>``): densities of the forward MVMs (MAC-weighted), the adder-tree toggle density, the
#: fraction of bits an executed update flipped, and of bits a reload flipped in the pool
MEASURED_FIGURES: tuple[str, ...] = ("input_bit_density", "and_density", "toggle_density", "flip_rate",
                                     "reload_flip_rate")


def combine_bases(bases: set[str]) -> str:
    """One basis for a figure made of parts: measured or assumed if every data-dependent part is; spec
    if none is data-dependent; partly measured otherwise."""
    data = bases - {"spec", ""}
    if not data:
        return "spec"
    return next(iter(data)) if len(data) == 1 else "partly measured"


def basis_group(basis: str, phase: str, kind: str) -> str | None:
    """The data-dependent group an op's figures belong to (None: the op depends on no data)."""
    if not basis:
        return None
    if phase == "reload":
        return "reload_writes"
    return "update_writes" if kind == "write" else "activity"


@dataclass
class OpRecord:
    """One priced op of the step: per-execution cycles, executions per step, energy per step."""

    name: str
    node: str
    phase: str
    kind: str
    resource: str
    executions: int
    cycles_per_execution: float
    energy_pj: dict[str, float]
    macs: int = 0
    weights_written: int = 0
    macros: int = 0
    #: what the op's data-dependent figures rest on: "measured" | "assumed" | "partly measured", or ""
    #: when they depend on no data (DRAM, NoC, digital units, ...); see ``BASES``
    basis: str = ""

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_pj.values()))


#: column of each energy component in :attr:`OpTable.energy_pj`
COMPONENT_INDEX: dict[str, int] = {c: i for i, c in enumerate(COMPONENTS)}


def _energy_dict(row: list[float], order: tuple[int, ...]) -> dict[str, float]:
    """An op's non-zero energy by component: the components its pricer listed (``order``) first, in that
    order, then any other non-zero column in ``COMPONENTS`` order (none is dropped: the table's sums count
    every column, so its records must too)."""
    out = {COMPONENTS[c]: row[c] for c in order if row[c]}
    for c, v in enumerate(row):
        if v and COMPONENTS[c] not in out:
            out[COMPONENTS[c]] = v
    return out


class OpTable(Sequence):
    """The per-op records of a priced step held as columns: a sweep prices thousands of points and reads
    only sums over their ops, so :class:`OpRecord` objects are built on first access only.

    ``energy_pj`` is (ops x ``COMPONENTS``), per step (per-execution energy x executions); ``orders[i]``
    lists the component columns op i reports, in the order its record lists them (zeros are left out, as
    the pricer leaves them out). ``cycles`` keeps the pricer's numbers as they are (a list)."""

    def __init__(self, names: list[str], nodes: list[str], phases: list[str], kinds: list[str],
                 resources: list[str], executions: list[int], cycles: list[float], energy_pj: np.ndarray,
                 macs: list[int], weights_written: list[int], macros: list[int],
                 orders: list[tuple[int, ...]], records: list[OpRecord] | None = None,
                 bases: list[str] | None = None) -> None:
        self.names, self.nodes, self.phases, self.kinds, self.resources = names, nodes, phases, kinds, resources
        self.executions, self.cycles, self.energy_pj = executions, cycles, energy_pj
        self.macs, self.weights_written, self.macros, self.orders = macs, weights_written, macros, orders
        #: per op what its data-dependent figures rest on (``OpRecord.basis``)
        self.bases = bases if bases is not None else [""] * len(names)
        self._records = records
        self._sums: dict[str, Any] = {}  # the sums below, once each (a table is not changed once built)
        #: the table this one extends by ops that change none of the sums in ``_CARRIED`` (see ``__add__``)
        self._head: OpTable | None = None

    @classmethod
    def from_records(cls, records: Sequence[OpRecord]) -> OpTable:
        records = list(records)
        energy = np.zeros((len(records), len(COMPONENTS)))
        orders = []
        for i, r in enumerate(records):
            orders.append(tuple(COMPONENT_INDEX[c] for c in r.energy_pj))
            for c, v in r.energy_pj.items():
                energy[i, COMPONENT_INDEX[c]] = v
        return cls([r.name for r in records], [r.node for r in records], [r.phase for r in records],
                   [r.kind for r in records], [r.resource for r in records], [r.executions for r in records],
                   [r.cycles_per_execution for r in records], energy, [r.macs for r in records],
                   [r.weights_written for r in records], [r.macros for r in records], orders, records,
                   [r.basis for r in records])

    def records(self) -> list[OpRecord]:
        if self._records is None:
            rows = self.energy_pj.tolist()
            self._records = [
                OpRecord(self.names[i], self.nodes[i], self.phases[i], self.kinds[i], self.resources[i],
                         self.executions[i], self.cycles[i], _energy_dict(rows[i], self.orders[i]),
                         macs=self.macs[i], weights_written=self.weights_written[i], macros=self.macros[i],
                         basis=self.bases[i])
                for i in range(len(self.names))]
        return self._records

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: Any) -> Any:
        return self.records()[i]

    def __iter__(self) -> Iterator[OpRecord]:
        return iter(self.records())

    def __add__(self, other: Sequence[OpRecord]) -> OpTable:
        """The ops of both, as ``from_records(list(self) + list(other))`` gives them. Its columns are built on
        first use (:class:`_AppendedTable`): a sweep appends the staged-activations op at every point and reads
        only sums, which come from this table's (carried, or continued over the new ops)."""
        return _AppendedTable(self, list(other))

    def _appended(self, tail: list[OpRecord]) -> tuple:
        """The columns (``__init__``'s first twelve arguments and the bases) of this table's ops then ``tail``'s,
        column by column: no records built for this table's ops. A record lists every non-zero component (its
        order's first), so the energy matrix and the orders carry over as they are."""
        energy = np.zeros((len(self.names) + len(tail), len(COMPONENTS)))
        energy[:len(self.names)] = self.energy_pj
        orders = []
        for i, r in enumerate(tail, len(self.names)):
            orders.append(tuple(COMPONENT_INDEX[c] for c in r.energy_pj))
            for c, v in r.energy_pj.items():
                energy[i, COMPONENT_INDEX[c]] = v
        return (self.names + [r.name for r in tail], self.nodes + [r.node for r in tail],
                self.phases + [r.phase for r in tail], self.kinds + [r.kind for r in tail],
                self.resources + [r.resource for r in tail], self.executions + [r.executions for r in tail],
                self.cycles + [r.cycles_per_execution for r in tail], energy, self.macs + [r.macs for r in tail],
                self.weights_written + [r.weights_written for r in tail], self.macros + [r.macros for r in tail],
                self.orders + orders, self.bases + [r.basis for r in tail])

    # sums in op order, one op after the other (as a loop over the records adds them, to the last bit)
    def _memo(self, name: str, fn: Any) -> Any:
        if name not in self._sums:
            carried = _CARRIED.get(name) if self._head is not None else None
            self._sums[name] = carried(self._head) if carried else fn()
        return self._sums[name]

    def energy_by_component(self) -> dict[str, float]:
        """Energy of all ops by component (pJ per step)."""
        return dict(self._memo("energy", self._energy_by_component))

    def _energy_by_component(self) -> dict[str, float]:
        if not len(self.names):
            return dict.fromkeys(COMPONENTS, 0.0)
        # np.add.accumulate adds down each column one op after the other (no pairwise summation), so its last
        # row is sum(column, 0.0) to the last bit; + 0.0 turns a column of -0.0 into the 0.0 that sum gives
        with np.errstate(invalid="ignore", over="ignore"):   # inf - inf and overflow: as sum() gives them, silently
            last = (np.add.accumulate(self.energy_pj, axis=0)[-1] + 0.0).tolist()
        return dict(zip(COMPONENTS, last))

    def _where(self, column: list[str], value: str) -> list[int]:
        """The ops whose ``column`` holds ``value``, memoised on the column (pricers share a step's name, phase
        and kind columns between every point of its shape; columns are never changed once in a table)."""
        return _WHERE.get((column,), (value,), lambda: [i for i, v in enumerate(column) if v == value])

    def group_bases(self) -> dict[str, str]:
        """Per data-dependent group (``BASIS_GROUPS``), what its ops rest on; ``spec`` for a group no op of
        the step has (e.g. no reloads), or that depends on no data (``data_independent`` activity)."""
        return dict(self._memo("bases", self._group_bases))

    def _group_bases(self) -> dict[str, str]:
        return _BASES.get((self.bases, self.phases, self.kinds), (), self._group_bases_of_columns)

    def _group_bases_of_columns(self) -> dict[str, str]:
        seen: dict[str, set[str]] = {g: set() for g in BASIS_GROUPS}
        for b, p, k in zip(self.bases, self.phases, self.kinds):
            g = basis_group(b, p, k)
            if g is not None:
                seen[g].add(b)
        return {g: combine_bases(b) for g, b in seen.items()}

    def macro_busy_cycles(self) -> float:
        """Macro-cycles of compute (MVM ops x their macros)."""
        return self._memo("busy", lambda: sum((self.cycles[i] * self.executions[i] * self.macros[i]
                                                for i in self._where(self.kinds, "mvm")), 0))

    def macro_wakeups(self) -> float:
        """Macro wake-ups of a step (engine/leakage.py): every MVM op wakes its macros once (the layer's
        macros stay on across the batch, A)."""
        return self._memo("wakeups", lambda: float(sum(self.macros[i] for i in self._where(self.kinds, "mvm"))))

    def totals(self) -> tuple[int, float, float, float]:
        """(MACs, reload cycles, reload write pJ, reload DRAM pJ) per step."""
        return self._memo("totals", self._totals)

    def _totals(self) -> tuple[int, float, float, float]:
        macs = _MACS.get((self.macs, self.executions), (),
                         lambda: sum(m * e for m, e in zip(self.macs, self.executions)))
        reload = self._where(self.phases, "reload")
        write, dram = COMPONENT_INDEX["write"], COMPONENT_INDEX["dram"]
        e = self.energy_pj
        return (macs, sum((self.cycles[i] * self.executions[i] for i in reload), 0.0),
                sum((float(e[i, write]) for i in reload), 0.0), sum((float(e[i, dram]) for i in reload), 0.0))


#: what depends only on columns a step's shape shares between points (names, phases, kinds, bases, MACs,
#: executions): computed once per shape, keyed on the columns by identity
_WHERE: IdentityMemo[list[int]] = IdentityMemo(256)
_BASES: IdentityMemo[dict[str, str]] = IdentityMemo(64)
_MACS: IdentityMemo[int] = IdentityMemo(64)

#: the columns of a table (what :class:`_AppendedTable` builds on first use)
_COLUMNS = frozenset(("names", "nodes", "phases", "kinds", "resources", "executions", "cycles", "energy_pj", "macs",
                      "weights_written", "macros", "orders", "bases"))


class _AppendedTable(OpTable):
    """``head + tail``: the ops of a table then a few records, its columns built on first use (the row engine's
    plan, layers.csv). Until then its length and sums need no columns: ops without MACs, not MVMs, not reloads
    and depending on no data (the staged-activations op) leave the MACs, reload figures, busy cycles, wake-ups and
    group bases as the head has them, and the energy by component continues the head's sums over the tail (the
    same additions, in the same order, as summing the built column)."""

    def __init__(self, head: OpTable, tail: list[OpRecord]) -> None:   # noqa: D107 (no OpTable.__init__: lazy)
        self._pending: tuple[OpTable, list[OpRecord]] | None = (head, tail)
        self._records = None
        self._sums = {}
        self._head = head if all(not r.macs and r.kind != "mvm" and r.phase != "reload"
                                 and basis_group(r.basis, r.phase, r.kind) is None for r in tail) else None
        self._length = len(head) + len(tail)

    def __getattr__(self, name: str) -> Any:
        # only for attributes not yet set: the columns, built here once
        pending = self.__dict__.get("_pending")
        if name not in _COLUMNS or pending is None:
            raise AttributeError(name)
        head, tail = pending
        (self.names, self.nodes, self.phases, self.kinds, self.resources, self.executions, self.cycles,
         self.energy_pj, self.macs, self.weights_written, self.macros, self.orders, self.bases) = head._appended(tail)
        self._pending = None
        return self.__dict__[name]

    def __len__(self) -> int:
        return self._length

    def _energy_by_component(self) -> dict[str, float]:
        pending = self._pending
        if pending is None:
            return super()._energy_by_component()
        head, tail = pending
        out = dict(head._memo("energy", head._energy_by_component))
        for r in tail:   # the tail's rows, every column (a zero too: 0.0 + -0.0 is 0.0, as in the built column)
            energy = r.energy_pj
            for c in COMPONENTS:
                out[c] += float(energy.get(c, 0.0))
        return out


#: the sums an appended op without MACs, MVM work, reloads or data dependence leaves as they are (``__add__``)
_CARRIED: dict[str, Any] = {
    "bases": lambda t: t._memo("bases", t._group_bases), "busy": lambda t: t.macro_busy_cycles(),
    "wakeups": lambda t: t.macro_wakeups(), "totals": lambda t: t.totals()}


@dataclass
class WriteSummary:
    """Array writes of one training step (updates and reloads) and the wear they cause: the one
    write-accounting object. The cost model adds every write to it (:meth:`add`, :meth:`count`), the
    evaluation finishes it with the chip's cells and the device's endurance (:meth:`finished`).

    ``weights_written`` counts both; ``reload_weights`` is the part written by reloads."""

    weights_written: int = 0
    bits_written: float = 0.0
    cells_written: float = 0.0
    pulses: float = 0.0
    energy_pj: float = 0.0
    latency_ns: float = 0.0
    max_cell_wear_per_step: float = 0.0
    mean_cell_wear_per_step: float = 0.0
    reload_weights: int = 0
    endurance_cycles: float = math.inf
    steps_per_day: float = 0.0
    lifetime_years: float = math.inf
    #: worst-cell wear per step by source: updates (the most-written layer) and reloads (every reload
    #: rewrites the same pool cells, so they add); ``max_cell_wear_per_step`` is their sum
    update_wear: float = 0.0
    reload_wear: float = 0.0

    def add(self, cost: WriteCost, latency_ns: float, weights: int, bits_per_weight: int, *,
            reload: bool = False, wear: float | None = None) -> None:
        """One array write of ``weights`` weights (its priced ``cost`` and chip time); ``wear``: the hottest
        cell's wear it adds, when not the cost's own (a reload priced from executed weights, whose step wear
        is set once with :meth:`set_reload_wear`)."""
        wear = cost.max_cell_wear if wear is None else wear
        if reload:
            self.reload_wear += wear
            self.reload_weights += weights
        else:
            self.update_wear = max(self.update_wear, wear)
        self.max_cell_wear_per_step = self.update_wear + self.reload_wear
        self.cells_written += cost.cells_written
        self.pulses += cost.pulses
        self.energy_pj += cost.energy_pj
        self.latency_ns += latency_ns
        self.count(weights, bits_per_weight)

    def count(self, weights: int, bits_per_weight: int) -> None:
        """Weights written somewhere (an array, or DRAM for a streamed layer's update)."""
        self.weights_written += weights
        self.bits_written += weights * bits_per_weight

    def set_reload_wear(self, wear: float) -> None:
        """The reloads' hottest-cell wear per step as a whole (measured reloads: engine/measured.py)."""
        self.reload_wear = wear
        self.max_cell_wear_per_step = self.update_wear + self.reload_wear

    def finished(self, n_cells: int, device: Any, steps_per_day: float) -> WriteSummary:
        """A copy with the chip-level figures: mean wear over ``n_cells`` cells and the lifetime."""
        out = WriteSummary.__new__(WriteSummary)   # a copy without copy.copy's protocol (a sweep makes one a point)
        out.__dict__.update(self.__dict__)
        out.mean_cell_wear_per_step = self.cells_written / n_cells if n_cells else 0.0
        out.endurance_cycles = device.endurance_cycles
        out.steps_per_day = steps_per_day
        out.lifetime_years = device.lifetime_years(self.max_cell_wear_per_step * steps_per_day)
        return out


#: summary keys made once (a sweep makes a summary a point)
_ENERGY_KEYS = tuple((c, f"energy_{c}_pj") for c in COMPONENTS)
_STALL_KEYS = tuple((c, f"stall_cycles_{c}") for c in STALL_CAUSES)
_MEASURED_KEYS = tuple((k, f"measured_{k}", f"assumed_{k}") for k in MEASURED_FIGURES)
_MAP_KEYS: dict[str, str] = {}
_AREA_KEYS: dict[str, str] = {}
_LEAKAGE_KEYS: dict[str, str] = {}
_LEAKAGE_IF_KEYS: dict[str, str] = {}
_BASIS_KEYS = {g: f"basis_{g}" for g in BASIS_GROUPS}
#: the stall fields of an engine that times no stalls (all of them 0.0)
_NO_STALLS = {key: 0.0 for _, key in _STALL_KEYS}


@dataclass
class Result:
    study: dict[str, Any]
    engine: str
    cycle_ns: float
    latency_cycles: float
    energy_pj: dict[str, float]
    ops: OpTable  # a list of OpRecord is turned into one
    writes: WriteSummary
    area_um2: dict[str, float]
    mapping: dict[str, Any]
    assumptions: list[str] = field(default_factory=list)
    timeline: Timeline | None = None
    analytic_latency_cycles: float | None = None
    #: chip standby power (volatile cells, SRAM buffers) charged as ``leakage`` over the latency
    standby_power_w: float = 0.0
    #: cycles of the reloads' pool writes (the rest of the reload ops' cycles is the DRAM fetch)
    reload_write_cycles: float = 0.0
    #: row engine: stall cycles by cause, summed over rows (events.STALL_CAUSES); empty otherwise
    stall_cycles: dict[str, float] = field(default_factory=dict)
    #: row engine: the op with the most time on the critical path
    bottleneck: str | None = None
    #: the ``leakage`` component by source (imcsim/engine/leakage.py SOURCES), under ``power_gating``
    leakage_by_source_pj: dict[str, float] = field(default_factory=dict)
    #: total leakage the same step would have under each power-gating policy (what gating saves)
    leakage_by_policy_pj: dict[str, float] = field(default_factory=dict)
    power_gating: str = ""
    macro_wakeups: float = 0.0
    #: the macro's activity model (circuit.macro.ACTIVITY_MODELS) that priced the MVMs
    activity_model: str = ""
    #: what execution measured (options.measured): ``input_bit_density``, ``and_density`` (MAC-weighted over
    #: the measured forward layers), ``toggle_density``, ``flip_rate``; absent when not measured
    measured: dict[str, float] = field(default_factory=dict)
    #: the stated defaults the measurements replace (the same keys; ``flip_rate`` is ``flip_prob``)
    assumed: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.ops, OpTable):
            self.ops = OpTable.from_records(self.ops)

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.cycle_ns

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def group_bases(self) -> dict[str, str]:
        """Per data-dependent group (``BASIS_GROUPS``), what its ops rest on; ``spec`` for a group no op of
        the step has (e.g. no reloads), or that depends on no data (``data_independent`` activity)."""
        return self.ops.group_bases()

    def basis(self) -> dict[str, str]:
        """Every summary figure -> ``measured`` | ``assumed`` | ``partly measured`` | ``spec`` (``BASES``)."""
        groups = self.group_bases()
        out = {}
        for key in self.summary():
            if key.startswith(("basis_", "measured_", "assumed_")):
                continue
            if key.startswith("map_measured_"):   # what the run folder measured (counts, flip rate)
                out[key] = "measured"
                continue
            mixed = _MIXED.get(key)
            if mixed is None and key.startswith("leakage_"):   # leakage over the latency
                mixed = ("update_writes", "reload_writes")
            if mixed is None:
                mixed = tuple(g for g, keys in BASIS_GROUPS.items() if key in keys)
            out[key] = combine_bases({groups[g] for g in mixed})
        return out

    def _basis_fields(self, rec: dict[str, Any] | None = None) -> dict[str, Any]:
        """``basis_<group>`` and the measured values next to the defaults they replace (NaN: not measured),
        added to ``rec`` (a new record when None)."""
        if rec is None:
            rec = {}
        keys = _BASIS_KEYS
        for g, b in self.ops._memo("bases", self.ops._group_bases).items():   # read-only here: no copy
            rec[keys[g]] = b
        rec["activity_model"] = self.activity_model
        measured, assumed = self.measured, self.assumed
        for k, m_key, a_key in _MEASURED_KEYS:
            rec[m_key] = measured.get(k, math.nan)
            rec[a_key] = assumed.get(k, math.nan)
        return rec

    def summary(self) -> dict[str, Any]:
        """One flat record of unit-suffixed metrics (the row a sweep stores)."""
        total = self.total_energy_pj
        area_mm2 = sum(self.area_um2.values()) / 1e6
        macs, reload_cycles, reload_write, reload_dram = self.ops.totals()
        latency_ns = self.latency_ns
        reload_ns = reload_cycles * self.cycle_ns
        reload_standby = self.standby_power_w * reload_ns * 1e3  # W x ns = nJ; x 1e3 -> pJ
        reload_energy = reload_write + reload_dram + reload_standby
        writes = self.writes
        rec: dict[str, Any] = {
            "engine": self.engine,
            "latency_cycles": self.latency_cycles,
            "latency_ns": latency_ns,
            "energy_pj": total,
            "edp_pj_ns": total * latency_ns,
            "area_mm2": area_mm2,
            "write_energy_pj": writes.energy_pj,
            "write_energy_share": (writes.energy_pj / total) if total else 0.0,
            "write_latency_ns": writes.latency_ns,
            "weights_written": writes.weights_written,
            "reload_weights": writes.reload_weights,
            "max_cell_wear_per_step": writes.max_cell_wear_per_step,
            "mean_cell_wear_per_step": writes.mean_cell_wear_per_step,
            "lifetime_years": writes.lifetime_years,
            "endurance_cycles": writes.endurance_cycles,
            "steps_per_day": writes.steps_per_day,
            "macs": macs,
            "reload_latency_ns": reload_ns,
            "reload_latency_share": reload_ns / latency_ns if latency_ns else 0.0,
            "reload_write_latency_ns": self.reload_write_cycles * self.cycle_ns,
            "reload_energy_pj": reload_energy,
            "reload_energy_share": reload_energy / total if total else 0.0,
            "reload_write_energy_pj": reload_write,
            "reload_dram_energy_pj": reload_dram,
            "reload_standby_energy_pj": reload_standby,
        }
        energy, stalls = self.energy_pj, self.stall_cycles
        for c, key in _ENERGY_KEYS:
            rec[key] = energy.get(c, 0.0)
        # stalls are timed by the row engine only; other engines leave them at 0
        if stalls:
            for c, key in _STALL_KEYS:
                rec[key] = stalls.get(c, 0.0)
        else:
            rec.update(_NO_STALLS)
        rec["bottleneck_op"] = self.bottleneck or ""
        busiest = self.resource_records()[:1] if self.timeline is not None else None
        rec["busiest_resource"] = busiest[0]["resource"] if busiest else ""
        rec["busiest_utilisation"] = busiest[0]["utilisation"] if busiest else 0.0
        self._basis_fields(rec)
        if self.power_gating:
            rec["power_gating"] = self.power_gating
            rec["macro_wakeups"] = self.macro_wakeups
            for k, v in self.leakage_by_source_pj.items():
                rec[_LEAKAGE_KEYS.get(k) or _LEAKAGE_KEYS.setdefault(k, f"leakage_{k}_pj")] = v
            for k, v in self.leakage_by_policy_pj.items():
                rec[_LEAKAGE_IF_KEYS.get(k) or _LEAKAGE_IF_KEYS.setdefault(k, f"leakage_if_{k.replace('+', '_')}_pj")] = v
        for key, value in self.mapping.items():
            if isinstance(value, (int, float, bool, str)):
                rec[_MAP_KEYS.get(key) or _MAP_KEYS.setdefault(key, f"map_{key}")] = value
        for c, v in self.area_um2.items():
            rec[_AREA_KEYS.get(c) or _AREA_KEYS.setdefault(c, f"area_{c}_um2")] = v
        return rec

    def resource_records(self) -> list[dict[str, Any]]:
        """Per resource the event engine timed: busy time, utilisation (busy / (latency x units)) and the
        longest queue of waiting requests (row engine; 0 for a resource only one op stream uses, which never
        queues), busiest first. Empty for the analytic engine, and for the layer-order event engine unless
        its timeline was recorded (it keeps busy intervals only)."""
        tl = self.timeline
        if tl is None:
            return []
        busy = tl.busy_cycles()
        capacity = getattr(tl, "capacity", {})
        queue = getattr(tl, "longest_queue", {})
        out = []
        for name, cycles in busy.items():
            units = capacity.get(name, 1)
            out.append({"resource": name, "kind": name.split(":")[0], "units": units, "busy_cycles": cycles,
                        "busy_ns": cycles * self.cycle_ns,
                        "utilisation": cycles / (self.latency_cycles * units) if self.latency_cycles else 0.0,
                        "longest_queue": queue.get(name, 0)})
        out.sort(key=lambda r: (-r["utilisation"], r["resource"]))
        return out

    def layer_records(self) -> list[dict[str, Any]]:
        """Per op (layer x phase): cycles, executions, energy by component."""
        rows = []
        for o in self.ops:
            row: dict[str, Any] = {
                "op": o.name, "node": o.node, "phase": o.phase, "kind": o.kind, "resource": o.resource,
                "executions": o.executions, "cycles_per_execution": o.cycles_per_execution,
                "macs": o.macs, "macros": o.macros, "weights_written": o.weights_written,
                "energy_pj": o.total_energy_pj, "basis": o.basis or "spec",
            }
            for c in COMPONENTS:
                row[f"energy_{c}_pj"] = o.energy_pj.get(c, 0.0)
            rows.append(row)
        return rows

    def phase_records(self) -> list[dict[str, Any]]:
        """Energy and busy cycles summed per training phase."""
        out = []
        for phase in PHASES:
            ops = [o for o in self.ops if o.phase == phase]
            if not ops:
                continue
            out.append({
                "phase": phase,
                "ops": len(ops),
                "busy_cycles": sum(o.cycles_per_execution * o.executions for o in ops),
                "energy_pj": sum(o.total_energy_pj for o in ops),
            })
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "engine": self.engine,
            "summary": _clean(self.summary()),
            "energy_pj": self.energy_pj,
            "area_um2": self.area_um2,
            "writes": _clean(asdict(self.writes)),
            "mapping": _clean(self.mapping),
            "phases": self.phase_records(),
            "assumptions": self.assumptions,
            "basis": self.basis(),
            "measured": _clean(self.measured),
            "assumed": _clean(self.assumed),
            "analytic_latency_cycles": self.analytic_latency_cycles,
            "standby_power_w": self.standby_power_w,
            "leakage_by_source_pj": self.leakage_by_source_pj,
            "leakage_by_policy_pj": self.leakage_by_policy_pj,
            "stall_cycles": self.stall_cycles,
            "bottleneck": self.bottleneck,
            "resources": self.resource_records(),
        }

    def write(self, out_dir: str | Path, prefix: str = "") -> list[Path]:
        """Write summary.csv, layers.csv and ledger.json, and resources.csv when the event engine timed
        resources (names prefixed for multi-run studies)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{prefix}summary.csv", out / f"{prefix}layers.csv", out / f"{prefix}ledger.json"]
        summary = {**_flat_study(self.study), **self.summary()}
        _write_csv(paths[0], [summary])
        _write_csv(paths[1], self.layer_records())
        paths[2].write_text(json.dumps(self.to_json(), indent=1))
        resources = self.resource_records()
        if resources:
            paths.append(out / f"{prefix}{RESOURCES_CSV}")
            _write_csv(paths[-1], resources)
        return paths


def _flat_study(study: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in study.items() if isinstance(v, (int, float, str, bool)) or v is None}


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def _clean(obj: Any) -> Any:
    """JSON has no inf/nan: write them as strings so the file stays valid and readable."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and (math.isinf(obj) or math.isnan(obj)):
        return str(obj)
    return obj
