"""Timing of a priced training step: the analytic bound and the SimPy event simulation.

Both engines see the same thing: a **chain** of stages that every sample walks in order (forward ops,
then backward), in which a :class:`Barrier` marks work done once per step for the whole batch (a
weight reload before a layer, the weight updates at the end): every sample must arrive, the barrier's
stages run once, then the samples go on. A stage occupies one resource for a number of cycles. Resources are the pooled
macros of one layer (``macros:<layer>``), the digital unit, the NoC, the DRAM channel, the global
buffer port and the write drivers. A resource named in ``exclusive`` is a SimPy Resource of capacity
one (first come, first served); any other resource is uncontended (its stages just take their time).

Why the analytic latency is exact without contention, and a lower bound with it:
for a resource r used by stages of busy time ``busy_r`` per sample, the first sample cannot reach r
before ``head_r`` (the chain before r's first stage), r must serve all B samples (``B * busy_r``), and
the last sample still has ``tail_r`` to go after r's last stage, so
``latency >= max(sum(t), max_r(head_r + B * busy_r + tail_r))`` for each segment between barriers;
the segments and the barriers then add up.
When every exclusive resource serves one contiguous run of the chain (inference with resident
weights: each layer's macros once), the FIFO event schedule is a permutation flow shop of identical
jobs whose makespan equals that bound exactly. When a resource serves separated parts of the chain
(training reuses a layer's macros for the backward error; one digital unit serves many layers), the
event schedule can only wait longer, so the analytic figure is a lower bound. Tests hold both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


# Named tuples rather than frozen dataclasses: a sweep creates about a hundred per design point, and a
# frozen dataclass pays object.__setattr__ for every field.
class Stage(NamedTuple):
    """``cycles`` on ``resource``, on behalf of op ``op`` (for traces and per-op latency)."""

    op: str
    resource: str
    cycles: float


class Barrier(NamedTuple):
    """Stages run once for the whole batch, after every sample has arrived (reloads, updates)."""

    stages: tuple[Stage, ...]


Item = Stage | Barrier

#: What each priced resource is, by the part of its name before ``:`` (``macros:<layer>``): the one table
#: the engines classify resources by (exclusive in the layer flow shop, stall cause in the row engine).
RESOURCE_KINDS: dict[str, str] = {"macros": "macros", "macros_T": "macros", "sram_macros": "macros",
                                  "digital": "digital", "dram": "dram", "noc": "noc"}


def resource_kind(resource: str) -> str:
    """The kind of a priced stage's resource: ``macros`` (a layer's macro group, the streaming pool, a
    transposed copy, SRAM macros), ``digital``, ``dram``, ``noc``, else ``other``."""
    return RESOURCE_KINDS.get(resource.split(":", 1)[0], "other")


@dataclass(frozen=True)
class Interval:
    """One busy interval of a resource in the event simulation (cycles)."""

    resource: str
    op: str
    sample: int  # -1 for step stages
    start: float
    end: float


@dataclass
class Timeline:
    """What the event simulation returns: total cycles, per-op finish times and busy intervals."""

    cycles: float
    intervals: list[Interval] = field(default_factory=list)
    events: int = 0

    def busy_cycles(self) -> dict[str, float]:
        busy: dict[str, float] = {}
        for iv in self.intervals:
            busy[iv.resource] = busy.get(iv.resource, 0.0) + (iv.end - iv.start)
        return busy


def analytic_cycles(items: Sequence[Item], batch: int, exclusive: Iterable[str]) -> float:
    """Latency in cycles of ``batch`` samples through ``items`` (see the module docstring)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    exclusive = set(exclusive)
    total = 0.0
    segment: list[Stage] = []
    for item in items:
        if isinstance(item, Barrier):
            total += _flow_shop_bound(segment, batch, exclusive) + sum(s.cycles for s in item.stages)
            segment = []
        else:
            segment.append(item)
    return total + _flow_shop_bound(segment, batch, exclusive)


def _flow_shop_bound(chain: Sequence[Stage], batch: int, exclusive: set[str]) -> float:
    total = float(sum(s.cycles for s in chain))
    bound = total
    if batch > 1 and chain:
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        busy: dict[str, float] = {}
        for i, s in enumerate(chain):
            if s.resource not in exclusive:
                continue
            first.setdefault(s.resource, i)
            last[s.resource] = i
            busy[s.resource] = busy.get(s.resource, 0.0) + s.cycles
        prefix = [0.0]
        for s in chain:
            prefix.append(prefix[-1] + s.cycles)
        for r, b in busy.items():
            head = prefix[first[r]]
            tail = total - prefix[last[r] + 1]
            bound = max(bound, head + batch * b + tail)
    return bound


def simulate(items: Sequence[Item], batch: int, exclusive: Iterable[str], record: bool = True) -> Timeline:
    """Run the SimPy event simulation: ``batch`` sample processes walk ``items``; barriers run once.

    Events are one per stage and sample (a batch of macro operations), never per clock cycle.
    """
    import simpy

    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    env = simpy.Environment()
    exclusive = set(exclusive)
    resources = {r: simpy.Resource(env, capacity=1) for r in exclusive}
    intervals: list[Interval] = []
    counter = [0]

    def hold(stages: Sequence[Stage], sample: int):
        for stage in stages:
            start = env.now
            yield env.timeout(stage.cycles)
            counter[0] += 1
            if record:
                intervals.append(Interval(stage.resource, stage.op, sample, start, env.now))

    def run(stages: Sequence[Stage], sample: int):
        # Consecutive stages on one resource are one hold: the resource is not released in between.
        res = resources.get(stages[0].resource)
        if res is None:
            yield from hold(stages, sample)
        else:
            with res.request() as req:
                yield req
                yield from hold(stages, sample)

    # Split into segments of per-sample stages separated by barriers.
    segments: list[list[list[Stage]]] = [[]]
    barriers: list[list[list[Stage]]] = []
    pending: list[Stage] = []
    for item in items:
        if isinstance(item, Barrier):
            segments[-1] = _runs(pending)
            barriers.append(_runs(list(item.stages)))
            segments.append([])
            pending = []
        else:
            pending.append(item)
    segments[-1] = _runs(pending)

    def walk(runs: list[list[Stage]], sample: int):
        for stages in runs:
            yield from run(stages, sample)

    def step():
        for k, runs in enumerate(segments):
            yield env.all_of([env.process(walk(runs, b)) for b in range(batch)])
            if k < len(barriers):
                for stages in barriers[k]:
                    yield from run(stages, -1)

    env.process(step())
    env.run()
    return Timeline(float(env.now), intervals, counter[0])


def _runs(stages: Sequence[Stage]) -> list[list[Stage]]:
    runs: list[list[Stage]] = []
    for s in stages:
        if runs and runs[-1][0].resource == s.resource:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs
