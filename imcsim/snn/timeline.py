"""A stream of samples that stop at different timesteps, on a SimPy timeline (event engine).

Why: one sample at a time, the dynamic SNN's latency is just the mean of ``once + t x step``. When the
layers of the chip work on different samples at once (layer pipelining across samples), samples that
exit early free the pipeline sooner, and throughput depends on the busiest layer's load, not on a sum.

Model (A where marked):

- Each weight layer's macros (with the neuron updates of the layer that follows it) are one FIFO
  resource; the pooled digital units (pools, residual adds, z_t += o_t) one more; the exit unit one more.
  Streamed layers (a network that does not fit) and their reload stages share one resource, the pool.
- **NoC links.** After a layer's stage its crossings (``SNNCost.placed.routes``: the engines' placement, XY
  routes) go one after the other; each directed link is a FIFO resource. A crossing is one packet held
  (of the bits the encoder sends that timestep, ``SNNCost.noc_bits``) link by link exactly as the CNNs'
  row engine holds a row (``engine/noc.link_stages``, one definition):
  in route order, each link for ``ceil(bits / noc_width_bits)`` cycles, released, then the hop latency
  before the next (store-and-forward, A; docs/engine.md, "NoC links"). One link at a time, so crossings
  cannot deadlock. Alone, a crossing lasts ``noc.link_cycles``, where the cost model charges the analytic
  ``noc.noc_cycles`` (as the CNNs' row engine against their analytic engine): one sample in flight takes
  ``at_exit(t)`` plus :func:`link_excess_cycles` of each of its timesteps.
- A sample runs its direct-encoded layer once, then timestep by timestep: the layers in order, then the
  exit evaluation (dynamic only); timestep t + 1 starts after the exit decision of t (no speculation).
- At most ``in_flight`` samples are in the chip at once: the tile buffers must hold every in-flight
  sample's membranes (``membrane_bits`` per neuron), so ``in_flight = floor(tile buffer bytes /
  membrane bytes per sample)`` by default (at least 1).
- Samples are all waiting at time 0 (a batch); the result is the makespan, the throughput and the
  per-sample latency from start to exit.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def throughput_per_s(self) -> float:
        n = self.latencies_cycles.size
        return n / (self.makespan_cycles * self.cycle_ns * 1e-9) if self.makespan_cycles else 0.0

    def record(self) -> dict[str, float]:
        lat = self.latencies_cycles * self.cycle_ns
        return {"samples": int(lat.size), "in_flight": self.in_flight,
                "makespan_ns": self.makespan_cycles * self.cycle_ns, "throughput_per_s": self.throughput_per_s,
                "latency_mean_ns": float(lat.mean()), "latency_p95_ns": float(np.percentile(lat, 95))}


def link_excess_cycles(sc: SNNCost, t: int = 1) -> float:
    """Cycles timestep t's crossings take on the timeline (held link by link, ``noc.link_cycles``) beyond
    what the cost model charges (``noc.noc_cycles``): per crossing ``(hops - 1) x ceil(bits / width)`` plus
    the rounding to whole cycles."""
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

    def stage(resource: str, cycles: float, t: int = 0):
        if resource.startswith(NOC_STAGE):
            yield from crossings(resource[len(NOC_STAGE):], t)
            return
        with res[resource].request() as req:
            yield req
            yield env.timeout(cycles)

    def crossings(layer: str, t: int):
        for bits, (_, route) in zip(sc.noc_bits[t][layer], routes[layer]):
            for link, hold, delay in link_stages(route, bits, chip.noc_width_bits, chip.noc_hop_latency_cycles):
                with links[link].request() as req:
                    yield req
                    start = env.now
                    yield env.timeout(hold)
                if trace is not None:
                    trace.append((link, layer, start, env.now))
                if delay:
                    yield env.timeout(delay)

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
    return Timeline(float(env.now), latencies, in_flight, sc.hw.cycle_ns)
