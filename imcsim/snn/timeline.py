"""A stream of samples that stop at different timesteps, on a SimPy timeline (event engine).

Why: one sample at a time, the dynamic SNN's latency is just the mean of ``once + t x step``. When the
layers of the chip work on different samples at once (layer pipelining across samples), samples that
exit early free the pipeline sooner, and throughput depends on the busiest layer's load, not on a sum.

Model (A where marked):

- Each weight layer's macros (with the neuron updates of the layer that follows it) are one FIFO
  resource; the pooled digital units (pools, residual adds, z_t += o_t) one more; the exit unit one more.
  Streamed layers (a network that does not fit) and their reload stages share one resource, the pool.
- **NoC links.** After a layer's stage its crossings (``SNNCost.placed.routes``: the engines' placement, XY
  routes) go one after the other; each directed link is a FIFO resource. A crossing is one packet (of the
  bits the encoder sends that timestep, ``SNNCost.noc_bits``) moved exactly as the CNNs' row engine moves a
  row (``engine/noc.link_stages``, one definition): virtual cut-through (A; docs/engine.md, "NoC links"), its
  head taking each link of the route once it is free and going on a hop latency later, each link held
  ``ceil(bits / noc_width_bits)`` cycles. A blocked head waits in its router's buffer and holds no link, so
  crossings cannot deadlock. Alone, a crossing lasts ``noc.link_cycles`` (``hops x latency + ceil(bits /
  width)``), where the cost model charges the analytic ``noc.noc_cycles`` (``bits / width + hops x
  latency``): one sample in flight takes ``at_exit(t)`` plus :func:`link_excess_cycles` of each of its
  timesteps, the rounding of each crossing to whole cycles.
- A sample runs its direct-encoded layer once, then timestep by timestep: the layers in order, then the
  exit evaluation (dynamic only); timestep t + 1 starts after the exit decision of t (no speculation).
- At most ``in_flight`` samples are in the chip at once: the tile buffers must hold every in-flight
  sample's membranes (``membrane_bits`` per neuron), so ``in_flight = floor(tile buffer bytes /
  membrane bytes per sample)`` by default (at least 1).
- Samples are all waiting at time 0 (a batch); the result is the makespan, the throughput and the
  per-sample latency from start to exit, every resource's busy cycles and longest queue, the cycles spent
  waiting by cause (compute, NoC), and the energy: every sample's work plus the leakage over the makespan
  (energy follows this engine's latency, as the CNN engines charge it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from imcsim.engine.noc import link_cycles, link_stages, noc_cycles
from imcsim.errors import SpecError
from imcsim.snn.cost import NOC_STAGE, RELOAD_STAGE, SNNCost


@dataclass(frozen=True)
class Timeline:
    """What the event run measured (cycles; ``cycle_ns`` converts)."""

    makespan_cycles: float
    latencies_cycles: np.ndarray     # per sample: start of its first stage to its exit
    in_flight: int
    cycle_ns: float
    #: resource (``macros:<layer>``, ``macros:pool``, ``digital``, ``exit``, ``link:a->b``) -> cycles held
    busy: dict[str, float] = field(default_factory=dict)
    #: cycles spent waiting for a busy resource, by cause: ``compute`` (macros, digital units, exit unit,
    #: the pool) and ``noc`` (a link); the slots of in-flight samples are not a stall (admission)
    stalls: dict[str, float] = field(default_factory=dict)
    longest_queue: dict[str, int] = field(default_factory=dict)   # resource -> most requests waiting at once
    #: every sample's work (``SNNCost.work_at_exit``) plus the leakage over this run's makespan (pJ, all samples)
    energy_pj: float = 0.0
    leakage_pj: float = 0.0

    @property
    def bottleneck(self) -> str:
        """The resource held longest (ties: the first in name order)."""
        return min(self.busy, key=lambda r: (-self.busy[r], r)) if self.busy else ""

    @property
    def throughput_per_s(self) -> float:
        n = self.latencies_cycles.size
        return n / (self.makespan_cycles * self.cycle_ns * 1e-9) if self.makespan_cycles else 0.0

    def record(self) -> dict[str, float | str]:
        lat = self.latencies_cycles * self.cycle_ns
        n, ns = int(lat.size), self.cycle_ns
        top = self.bottleneck
        return {"samples": n, "in_flight": self.in_flight,
                "makespan_ns": self.makespan_cycles * ns, "throughput_per_s": self.throughput_per_s,
                "latency_mean_ns": float(lat.mean()), "latency_p95_ns": float(np.percentile(lat, 95)),
                "energy_per_sample_pj": self.energy_pj / n, "leakage_per_sample_pj": self.leakage_pj / n,
                "bottleneck": top, "bottleneck_util": self.busy.get(top, 0.0) / self.makespan_cycles
                if self.makespan_cycles else 0.0,
                "stall_compute_ns": self.stalls.get("compute", 0.0) * ns, "stall_noc_ns": self.stalls.get("noc", 0.0) * ns}


def link_excess_cycles(sc: SNNCost, t: int = 1) -> float:
    """Cycles timestep t's crossings take on the timeline (cut-through, ``noc.link_cycles``) beyond what the cost
    model charges (``noc.noc_cycles``): per crossing ``ceil(bits / width) - bits / width`` and the hop latency's
    rounding to whole cycles (at least one per hop before the last)."""
    chip = sc.hw.accel.chip
    routes = sc.placed.routes if sc.placed else {}
    crossings = tuple((bits, len(route)) for layer, cr in routes.items()
                      for bits, (_, route) in zip(sc.noc_bits[t - 1][layer], cr))
    return (link_cycles(crossings, chip.noc_width_bits, chip.noc_hop_latency_cycles)
            - noc_cycles(crossings, chip.noc_width_bits, chip.noc_hop_latency_cycles))


def max_in_flight(sc: SNNCost, neurons: int, membrane_bits: int) -> int:
    """Samples whose membranes fit the tile buffers together (at least 1)."""
    per_sample = neurons * membrane_bits / 8
    return max(1, int(sc.hw.tile_buffer_bytes // per_sample)) if per_sample else 1


def exits_from_histogram(histogram: list[float], samples: int, seed: int = 0) -> np.ndarray:
    """``samples`` exit timesteps in the given proportions (largest remainder), in a seeded random order."""
    if samples < 1:
        raise SpecError("<flags>", "--timeline", samples, "an integer >= 1 (samples)")
    h = np.asarray(histogram, dtype=float)
    raw = h * samples
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: samples - counts.sum()]:
        counts[i] += 1
    t = np.repeat(np.arange(1, h.size + 1), counts)
    return np.random.default_rng(seed).permutation(t)


def simulate(sc: SNNCost, exit_timesteps: list[int] | np.ndarray, in_flight: int, evaluated: bool = True,
             trace: list[tuple[tuple[int, int], str, float, float]] | None = None) -> Timeline:
    """Run the samples (one exit timestep each, 1..T) through the layer pipeline on SimPy. ``trace``, when
    given, receives every link hold: (link, the layer whose crossing it carries, start, end)."""
    t_max = sc.timesteps
    exits_t = [int(t) for t in exit_timesteps]
    if not exits_t or any(not 1 <= t <= t_max for t in exits_t):
        raise SpecError("<run>", "exit timesteps", sorted(set(exits_t))[:5], f"integers 1..{t_max}")
    if in_flight < 1:
        raise SpecError("<run>", "in_flight", in_flight, "an integer >= 1")
    env = simpy.Environment()
    names = {r for st in sc.stages for r, _ in st if not r.startswith(NOC_STAGE)} | {"exit"}
    res = {r: simpy.Resource(env, capacity=1) for r in names}
    # streamed layers and their reloads share the pool's macros: one resource
    pool = simpy.Resource(env, capacity=1)
    for r in names:
        if r.startswith(RELOAD_STAGE) or r in sc.streamed:
            res[r] = pool
    routes = sc.placed.routes if sc.placed is not None else {}
    links = {link: simpy.Resource(env, capacity=1) for cr in routes.values() for _, r in cr for link in r}
    chip = sc.hw.accel.chip
    slots = simpy.Resource(env, capacity=in_flight)
    once_stage = (sc.once_layer or "once", sc.once.cycles)
    res.setdefault(once_stage[0], pool if once_stage[0] in sc.streamed else simpy.Resource(env, capacity=1))
    latencies = np.zeros(len(exits_t))
    label = {id(pool): "macros:pool"}
    for r, unit in res.items():
        label.setdefault(id(unit), r if r in ("digital", "exit") else f"macros:{r}")
    for link, unit in links.items():
        label[id(unit)] = f"link:{link[0]}->{link[1]}"
    busy: dict[str, float] = {}
    stalls: dict[str, float] = {}
    longest: dict[str, int] = {}

    def take(unit: simpy.Resource, cause: str):
        """Ask for one unit and wait for it, counting the queue and the wait; the granted request."""
        name = label[id(unit)]
        longest[name] = max(longest.get(name, 0), len(unit.queue) + (unit.count >= unit.capacity))
        req = unit.request()
        asked = env.now
        yield req
        if env.now > asked:
            stalls[cause] = stalls.get(cause, 0.0) + env.now - asked
        return req

    def hold(unit: simpy.Resource, cycles: float, cause: str):
        """Take one unit, hold it ``cycles``, count the wait, the queue and the busy time."""
        req = yield from take(unit, cause)
        start = env.now
        yield env.timeout(cycles)
        busy[label[id(unit)]] = busy.get(label[id(unit)], 0.0) + cycles
        unit.release(req)
        return start

    def release(unit: simpy.Resource, req: simpy.resources.resource.Request, cycles: float):
        """A link taken by a crossing's head, released once its flits have streamed through."""
        busy[label[id(unit)]] = busy.get(label[id(unit)], 0.0) + cycles
        yield env.timeout(cycles)
        unit.release(req)

    def stage(resource: str, cycles: float, t: int = 0):
        if resource.startswith(NOC_STAGE):
            yield from crossings(resource[len(NOC_STAGE):], t)
            return
        yield from hold(res[resource], cycles, "compute")

    def crossings(layer: str, t: int):
        """Each crossing by virtual cut-through (``noc.link_stages``): the head takes a link once it is free, the
        link stays held ``hold`` cycles while the head goes on ``delay`` later; delivered ``hold + delay`` after
        the last link was taken."""
        for bits, (_, route) in zip(sc.noc_bits[t][layer], routes[layer]):
            stages = link_stages(route, bits, chip.noc_width_bits, chip.noc_hop_latency_cycles)
            for i, (link, held, delay) in enumerate(stages):
                req = yield from take(links[link], "noc")
                env.process(release(links[link], req, held))
                if trace is not None:
                    trace.append((link, layer, env.now, env.now + held))
                yield env.timeout(held + delay if i == len(stages) - 1 else delay)

    def sample(i: int, t_exit: int):
        with slots.request() as slot:
            yield slot
            start = env.now
            yield from stage(*once_stage)
            for t in range(t_exit):
                for resource, cycles in sc.stages[t]:
                    yield from stage(resource, cycles, t)
                if evaluated and t + 1 < t_max:
                    yield from stage("exit", sc.exit_eval.cycles)
            latencies[i] = env.now - start

    for i, t in enumerate(exits_t):
        env.process(sample(i, t))
    env.run()
    # energy follows this run's latency: every sample's work, and the leakage over the makespan (engine/leakage
    # sources through Hardware.leakage, as the priced results charge it over a sample's own latency)
    work = sum(sc.work_at_exit(t, evaluated).total_pj for t in exits_t)
    use = [sc.macro_use_at_exit(t) for t in exits_t]
    leak = sc.hw.leakage(float(env.now), sum(b for b, _ in use), sum(w for _, w in use), sc.macros_used).total_pj
    return Timeline(float(env.now), latencies, in_flight, sc.hw.cycle_ns, busy, stalls, longest, work + leak, leak)
