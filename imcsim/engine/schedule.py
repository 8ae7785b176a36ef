"""Timing of a priced training step: the analytic bound and the SimPy event simulation.

Both engines see the same thing: a **chain** of stages that every sample walks in order (forward ops,
then backward), followed by a chain of **step stages** that run once per step after all samples
(weight updates). A stage occupies one resource for a number of cycles. Resources are the pooled
macros of one layer (``macros:<layer>``), the digital unit, the NoC, the DRAM channel, the global
buffer port and the write drivers. A resource named in ``exclusive`` is a SimPy Resource of capacity
one (first come, first served); any other resource is uncontended (its stages just take their time).

Why the analytic latency is exact without contention, and a lower bound with it:
for a resource r used by stages of busy time ``busy_r`` per sample, the first sample cannot reach r
before ``head_r`` (the chain before r's first stage), r must serve all B samples (``B * busy_r``), and
the last sample still has ``tail_r`` to go after r's last stage, so
``latency >= max(sum(t), max_r(head_r + B * busy_r + tail_r)) + sum(step stages)``.
When every exclusive resource serves one contiguous run of the chain (inference with resident
weights: each layer's macros once), the FIFO event schedule is a permutation flow shop of identical
jobs whose makespan equals that bound exactly. When a resource serves separated parts of the chain
(training reuses a layer's macros for the backward error; one digital unit serves many layers), the
event schedule can only wait longer, so the analytic figure is a lower bound. Tests hold both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stage:
    """``cycles`` on ``resource``, on behalf of op ``op`` (for traces and per-op latency)."""

    op: str
    resource: str
    cycles: float


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


def analytic_cycles(chain: Sequence[Stage], step_stages: Sequence[Stage], batch: int,
                    exclusive: Iterable[str]) -> float:
    """Latency in cycles of ``batch`` samples through ``chain`` then the step stages (see module doc)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    total = float(sum(s.cycles for s in chain))
    bound = total
    exclusive = set(exclusive)
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
    return bound + float(sum(s.cycles for s in step_stages))


def simulate(chain: Sequence[Stage], step_stages: Sequence[Stage], batch: int, exclusive: Iterable[str],
             record: bool = True) -> Timeline:
    """Run the SimPy event simulation: ``batch`` sample processes walk the chain, then the step stages.

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

    chain_runs = _runs(chain)
    step_runs = _runs(step_stages)

    def walk(sample: int):
        for stages in chain_runs:
            yield from run(stages, sample)

    def step():
        yield env.all_of([env.process(walk(b)) for b in range(batch)])
        for stages in step_runs:
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
