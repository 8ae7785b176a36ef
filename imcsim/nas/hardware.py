"""Hardware cost of a (network, array) candidate from the analytic engine, memoised.

Each candidate is an ordinary study: the skipnet workload with the candidate's options, the space's
training method, on the accelerator preset of the device (``acc-<device>``, else ``acc-sas-mram``
with the device swapped in) with rows, cols and rows_parallel overridden. Nothing is re-derived here:
latency, energy, area and writes are the engine's summary record.

Speed: the first time a network is priced on a device, every array geometry of the space on that
device is priced at once by :mod:`imcsim.nas.fastcost` (the engine's numbers, summed with numpy over
geometries) when the step is in its scope; the other candidates go through ``evaluate``. ``calls``
counts every distinct candidate priced either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imcsim.errors import SpecError
from imcsim.nas.fastcost import FastCoster, Geometry
from imcsim.nas.space import Array, Network, Space

#: summary fields kept per candidate (the engine's names and units)
KEEP = ("latency_ns", "energy_pj", "area_mm2", "write_energy_pj", "weights_written", "map_fits", "map_macros_used")


@dataclass
class Table:
    """One network on every valid geometry of one device, priced together (arrays over geometries)."""

    index: dict[tuple[int, int, int], int]     # (rows, cols, rows_parallel) -> column
    values: dict[str, np.ndarray]              # KEEP fields
    _lists: dict[str, list] | None = None      # the same as Python numbers, made on first use

    def record(self, arr: Array) -> dict | None:
        """The candidate's record, or None when the table did not price it (it goes through evaluate)."""
        i = self.index.get((arr.rows, arr.cols, arr.rows_parallel))
        if i is None or not self.values["map_fits"][i]:
            return None
        if self._lists is None:
            self._lists = {k: self.values[k].tolist() for k in KEEP}
        rec = {k: self._lists[k][i] for k in KEEP}
        rec["edp"] = rec["energy_pj"] * rec["latency_ns"]
        return rec


@dataclass
class HardwareModel:
    """Prices candidates with the analytic engine; ``calls`` counts distinct candidates priced."""

    space: Space
    fast: bool = True                 # False: every candidate through ``evaluate`` (the reference path)
    cache: dict[tuple[Network, Array], dict | None] = field(default_factory=dict)
    tables: dict[tuple[Network, str], Table | None] = field(default_factory=dict)
    _costers: dict[str, FastCoster | None] = field(default_factory=dict)
    _priced: int = 0
    _step: tuple | None = None
    _arrays: dict[str, list[Array]] = field(default_factory=dict)
    _cols: dict[str, tuple] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        """Distinct candidates priced (by ``evaluate`` or in a table)."""
        return self._priced

    def price(self, net: Network, arr: Array, whole_device: bool = True) -> dict | None:
        """The candidate's cost record, or None if the geometry is invalid or the chip cannot hold it.
        ``whole_device`` False prices this candidate alone (``evaluate``) unless its table exists."""
        key = (net, arr)
        hit = self.cache.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        if self.fast and whole_device:
            table = self.table(net, arr.device)
        else:
            table = self.tables.get((net, arr.device))
        rec = table.record(arr) if table is not None else None
        if rec is None:
            rec = self._price(net, arr)
            self._priced += 1
        self.cache[key] = rec
        return rec

    def arrays(self, device: str) -> list[Array]:
        """Every array geometry of the space on ``device`` (invalid ones included: they price as None)."""
        if device not in self._arrays:
            d = self.space.card.array.devices.index(device)
            self._arrays[device] = [self.space.array((d, *i[1:])) for i in self.space.all_array_indices() if i[0] == 0]
        return self._arrays[device]

    def table(self, net: Network, device: str) -> Table | None:
        """``net`` on every geometry of ``device`` at once (:mod:`imcsim.nas.fastcost`), or None when the
        step is outside the fast path's scope."""
        key = (net, device)
        if key not in self.tables:
            self.tables[key] = self._fast_table(net, device)
            if self.tables[key] is not None:
                self._priced += int(np.count_nonzero(self.tables[key].values["map_fits"]))
        return self.tables[key]

    def _fast_table(self, net: Network, device: str) -> Table | None:
        from imcsim.config.study import StudyOptions
        from imcsim.workload import methods
        from imcsim.workload.cards import load_workload

        if self._step is None or self._step[0] != net:    # the devices of one network share its step
            graph = load_workload("skipnet", **self.space.workload_options(net))
            self._step = (net, methods.apply(graph, self.space.card.method))
        step = self._step[1]
        if not FastCoster.supports(step, StudyOptions()):
            return None
        coster = self._coster(net, device)
        if coster is None:
            return None
        return Table(coster.index, coster.price(step))

    def _coster(self, net: Network, device: str) -> FastCoster | None:
        """The device's fast coster over its valid geometries (contexts built once, by the engine)."""
        from imcsim.engine.context import build_context

        if device not in self._costers:
            geoms = []
            for a in self.arrays(device):
                if a.rows_parallel > a.rows:
                    continue
                try:
                    geoms.append(Geometry(a.rows, a.cols, a.rows_parallel, build_context(self._study(net, a))))
                except SpecError:
                    continue      # priced (and refused) by evaluate
            self._costers[device] = FastCoster(geoms) if geoms else None
        return self._costers[device]

    def _study(self, net: Network, arr: Array):
        from imcsim.config.study import Study

        # layer order (chip.pipeline: layer): what the fast path sums exactly, and what the search compares
        return Study(device=arr.device, workload={"name": "skipnet", "options": self.space.workload_options(net)},
                     method=self.space.card.method, accelerator_overrides={"chip.pipeline": "layer"},
                     macro={"rows": arr.rows, "cols": arr.cols, "rows_parallel": arr.rows_parallel})

    def _price(self, net: Network, arr: Array) -> dict | None:
        from imcsim.engine.evaluation import evaluate

        if arr.rows_parallel > arr.rows:
            return None
        try:
            summary = evaluate(self._study(net, arr), engine="analytic").summary()
        except SpecError as exc:
            if exc.field in ("chip.reloads",) or "macro" in str(exc.field or ""):
                return None      # the chip cannot hold the network with this geometry: infeasible
            raise
        rec = {k: summary.get(k) for k in KEEP}
        rec["edp"] = rec["energy_pj"] * rec["latency_ns"]
        return rec

    def costs(self, net: Network, device: str) -> np.ndarray:
        """:meth:`cost` of ``net`` on every array of :meth:`arrays` (+inf where infeasible), vectorised
        over the table where the fast path priced it."""
        arrays = self.arrays(device)
        table = self.table(net, device) if self.fast else None
        out = np.full(len(arrays), math.inf)
        col = np.full(len(arrays), -1)
        if table is not None:
            v = table.values
            col = self._columns(device, table)
            priced = col >= 0
            priced[priced] = v["map_fits"][col[priced]]
            ok = np.ones(len(v["map_fits"]), dtype=bool)
            b = self.space.card.budgets
            for k, limit in (("area_mm2", b.area_mm2), ("latency_ns", b.latency_ns), ("energy_pj", b.energy_pj)):
                if limit is not None:
                    ok &= v[k] <= limit
            c = self.space.card.objective.cost
            cost = np.where(ok, v["energy_pj"] * v["latency_ns"] if c == "edp" else v[c], math.inf)
            out[priced] = cost[col[priced]]
            col[~priced] = -1
        for j in np.flatnonzero(col < 0):
            out[j] = self.cost(self.price(net, arrays[j]))
        return out

    def _columns(self, device: str, table: Table) -> np.ndarray:
        """Table column of every array of :meth:`arrays` (-1: not in the table); one index per device."""
        hit = self._cols.get(device)
        if hit is None or hit[0] is not table.index:
            cols = np.array([table.index.get((a.rows, a.cols, a.rows_parallel), -1) for a in self.arrays(device)])
            hit = self._cols[device] = (table.index, cols)
        return hit[1].copy()

    def feasible(self, rec: dict | None) -> bool:
        """Within every budget of the card (a missing record is infeasible)."""
        if rec is None:
            return False
        b = self.space.card.budgets
        return all(limit is None or rec[k] <= limit
                   for k, limit in (("area_mm2", b.area_mm2), ("latency_ns", b.latency_ns),
                                    ("energy_pj", b.energy_pj)))

    def cost(self, rec: dict | None) -> float:
        """The objective's cost of a record; +inf when infeasible."""
        if not self.feasible(rec):
            return math.inf
        return float(rec[self.space.card.objective.cost])


_MISSING = object()
