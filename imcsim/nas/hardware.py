"""Hardware cost of a (network, array) candidate from the analytic engine, memoised.

Each candidate is an ordinary study: the skipnet workload with the candidate's options, the space's
training method, on the accelerator preset of the device (``acc-<device>``, else ``acc-sas-mram``
with the device swapped in) with rows, cols and rows_parallel overridden. Nothing is re-derived here:
latency, energy, area and writes are the engine's summary record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from imcsim.errors import SpecError
from imcsim.nas.space import Array, Network, Space

#: summary fields kept per candidate (the engine's names and units)
KEEP = ("latency_ns", "energy_pj", "area_mm2", "write_energy_pj", "weights_written", "map_fits", "map_macros_used")


@dataclass
class HardwareModel:
    """Prices candidates with the analytic engine; ``calls`` counts distinct candidates priced."""

    space: Space
    cache: dict[tuple[Network, Array], dict | None] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return len(self.cache)

    def price(self, net: Network, arr: Array) -> dict | None:
        """The candidate's cost record, or None if the geometry is invalid or the chip cannot hold it."""
        key = (net, arr)
        if key not in self.cache:
            self.cache[key] = self._price(net, arr)
        return self.cache[key]

    def _price(self, net: Network, arr: Array) -> dict | None:
        from imcsim.config.study import Study
        from imcsim.engine.evaluation import evaluate

        if arr.rows_parallel > arr.rows:
            return None
        study = Study(device=arr.device, workload={"name": "skipnet", "options": self.space.workload_options(net)},
                      method=self.space.card.method,
                      macro={"rows": arr.rows, "cols": arr.cols, "rows_parallel": arr.rows_parallel})
        try:
            summary = evaluate(study, engine="analytic").summary()
        except SpecError as exc:
            if exc.field in ("chip.reloads",) or "macro" in str(exc.field or ""):
                return None      # the chip cannot hold the network with this geometry: infeasible
            raise
        rec = {k: summary.get(k) for k in KEEP}
        rec["edp"] = rec["energy_pj"] * rec["latency_ns"]
        return rec

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
