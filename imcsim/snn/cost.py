"""Cycles and energy of an SNN on the IMC accelerator, one timestep of one layer at a time.

Why per timestep: energy and latency of an SNN on IMC grow linearly with the timesteps ([DTSNN]); the
dynamic-timestep exit stops a sample after t of T steps, so a sample's cost is "once + t steps".

Per timestep (``docs/snn.md`` has the equations and what each rests on):

- **Macro**: each weight layer fed by spikes runs its M MVM steps with ``in_bits = 1`` (one input plane:
  no input bit-serial loop); spike counts (average pools of spikes) run ceil(log2(k + 1)) planes.
  Priced by :func:`imcsim.circuit.macro.layer_cost` on the preset's macro with that input width, at the
  layer's input-bit density (the spike rate) and AND density (spike rate x weight-bit density);
  row-tile partial sums are added in the tile accumulator (acc_bits full adders each), as the engine does.
- **Neurons** on the tile digital unit: every neuron is updated every timestep (integrate, compare,
  reset; LIF adds the leak shift), at the preset's vector-op energy; the membrane is read from and
  written back to the tile buffer at ``membrane_bits``; output spikes are written (1 bit each); the next
  layer reads its input planes from the buffer.
- **NoC** (:func:`snn_traffic`): the SNN graph is mapped and placed by the engines' mapper
  (``mapping/network.map_network``, ``mapping/placement.place``: layers on consecutive macros of a 2-D mesh
  of tiles in forward order); each forward edge between tiles carries, every timestep, the producer's
  output at its SNN width (spikes 1 bit, counts their planes, currents ``membrane_bits``:
  ``snn/network.output_bits``) over its XY route; energy and time by ``engine/noc.py``'s formulas.
- **Reloads** (a network that does not fit): each streamed layer's reload as the CNN engines price it
  (:func:`reload_costs`), when :func:`reload_schedule` says the pool must take it again.
- **Other digital work**: pools and residual adds (one vector op per element and extra input), the
  readout accumulation z_t += o_t (one op per class).
- **Direct encoding**: the first layer runs once per sample at the macro's input precision (input from
  the buffer, output current written at ``membrane_bits``); its neurons re-read that current every step.
- **Exit unit** (dynamic timesteps only): softmax + entropy or max-confidence of z_t on one digital
  unit after every timestep before the last; exp, log and divide are ``transcendental_ops`` vector ops.
- **Leakage by the preset's ``chip.power_gating``** (the engine's sources, ``engine/leakage.py``):
  volatile cells and the SRAM buffers leak over the latency (``standby``; under ``macros+buffers`` the
  buffers of tiles without a used macro and the global buffer are gated: the SNN keeps its state in the
  tile buffers, A); idle macros' periphery leaks only under ``none`` (``idle_macros``); otherwise every
  macro of a layer is woken once per pass, i.e. once per timestep (``wakeup``: layers idle between
  timesteps are gated, A).

Layers run one after another within a timestep and timesteps one after another (A: no layer
pipelining across timesteps), so latency is linear in t. The INT8 CNN of the same graph is priced here
by the same conventions (:func:`cnn_cost`) so that the comparison differs only in the SNN's choices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from imcsim.circuit.macro import COMPONENTS as MACRO_COMPONENTS
from imcsim.circuit.macro import DEFAULT_AND_DENSITY, DEFAULT_INPUT_DENSITY, MacroConfig, layer_cost
from imcsim.config.accelerator import AcceleratorSpec, load_accelerator
from imcsim.engine.noc import Traffic, forward_flow, forward_traffic, noc_cycles, noc_energy_pj
from imcsim.mapping.layer import map_layer
from imcsim.mapping.network import NetworkMapping, map_network
from imcsim.snn.encoding import mean_transfer_bits, nonzero_probability, source_neuron, transfer_bits
from imcsim.snn.network import SNNNetwork, SpikeLayer, output_bits, sends_events
from imcsim.snn.spec import ExitSpec, NeuronSpec

#: Energy components of an SNN cost (pJ): the macro's six, then the digital unit, buffers, NoC, exit, standby.
COMPONENTS: tuple[str, ...] = (*MACRO_COMPONENTS, "neuron", "digital", "buffer", "noc", "exit", "standby",
                                "idle_macros", "wakeup", "dram", "write")

#: Weight bits that are 1 (A: as the macro model's default, 0.25 / 0.5).
WEIGHT_BIT_DENSITY = DEFAULT_AND_DENSITY / DEFAULT_INPUT_DENSITY
#: prefix of a timestep stage that moves a layer's NoC crossings over their links (snn/timeline.py)
NOC_STAGE = "noc:"
#: prefix of a stage that reloads a streamed layer into the pool (snn/timeline.py runs it on the pool)
RELOAD_STAGE = "reload:"


@dataclass(frozen=True)
class Cost:
    """Energy by component (pJ) and cycles of some work; costs add, and scale by a count."""

    energy_pj: dict[str, float] = field(default_factory=dict)
    cycles: float = 0.0

    @property
    def total_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def __add__(self, other: Cost) -> Cost:
        e = dict(self.energy_pj)
        for k, v in other.energy_pj.items():
            e[k] = e.get(k, 0.0) + v
        return Cost(e, self.cycles + other.cycles)

    def scaled(self, k: float) -> Cost:
        return Cost({c: v * k for c, v in self.energy_pj.items()}, self.cycles * k)

    def component(self, name: str) -> float:
        return float(self.energy_pj.get(name, 0.0))


def total(costs: Iterable[Cost]) -> Cost:
    out = Cost()
    for c in costs:
        out = out + c
    return out


@dataclass(frozen=True)
class Densities:
    """Input-bit and AND densities of one layer (duck-types :class:`imcsim.circuit.activity.Activity`)."""

    in_bits: int
    w_bits: int
    mean_input_density: float
    mean_and_density: float


@dataclass(frozen=True)
class Hardware:
    """The accelerator an SNN runs on: a preset (chip, tile, digital unit) and its macro."""

    accel: AcceleratorSpec
    macro: MacroConfig

    @cached_property
    def _by_bits(self) -> dict[int, MacroConfig]:
        return {self.macro.in_bits: self.macro}

    def macro_for(self, in_bits: int) -> MacroConfig:
        """The same macro presented ``in_bits`` input planes per MVM step (1 for spikes)."""
        m = self._by_bits.get(in_bits)
        if m is None:
            m = self._by_bits[in_bits] = dataclasses.replace(self.macro, in_bits=in_bits)
        return m

    @property
    def cycle_ns(self) -> float:
        return self.macro.cycle_ns

    @property
    def vector_op_pj(self) -> float:
        return float(self.accel.tile.digital_unit.energy_pj_per_vector_op)

    @property
    def vector_ops_per_cycle_chip(self) -> float:
        """Neuron updates spread over every tile's digital unit (as the engine pools them)."""
        return float(self.accel.tile.digital_unit.vector_ops_per_cycle * self.accel.chip.tiles)

    @property
    def vector_ops_per_cycle_tile(self) -> float:
        return float(self.accel.tile.digital_unit.vector_ops_per_cycle)

    @property
    def buffer_read_pj_per_byte(self) -> float:
        return float(self.accel.tile.buffer_read_pj_per_byte)

    @property
    def buffer_write_pj_per_byte(self) -> float:
        return float(self.accel.tile.buffer_write_pj_per_byte)

    @property
    def tile_buffer_bytes(self) -> float:
        return float(self.accel.tile.buffer_kib * 1024 * self.accel.chip.tiles)

    def noc(self, crossings: tuple[tuple[float, int], ...]) -> Cost:
        """``(bits, hops)`` crossings of the mesh (engine/noc.py): link energy and their cycles by the analytic
        engines' formula (``noc.noc_cycles``: serialisation + hops x hop latency), the crossings one after the
        other (A, as the engine's layer order). The timeline holds the links as the event engines do
        (``noc.link_stages``), which takes ``noc.link_cycles`` alone (docs/snn.md)."""
        c = self.accel.chip
        if not crossings:
            return Cost()
        return Cost({"noc": noc_energy_pj(crossings, c.tile_pitch_mm, c.noc_energy_pj_per_bit_per_mm)},
                    noc_cycles(crossings, c.noc_width_bits, c.noc_hop_latency_cycles))

    @property
    def power_gating(self) -> str:
        return str(self.accel.chip.power_gating)

    def standby_power_w(self, macros_used: int) -> float:
        """Volatile cells of every macro plus the SRAM buffers the power-gating policy leaves on."""
        a, m = self.accel, self.macro
        per_kib_w = a.chip.sram_leakage_w_per_kib
        buffers_kib = a.chip.global_buffer_kib + a.chip.tiles * a.tile.buffer_kib
        if self.power_gating == "macros+buffers":
            tiles_used = min(a.chip.tiles, -(-int(macros_used) // int(a.tile.macros or 1)))
            buffers_kib = tiles_used * a.tile.buffer_kib
        return a.n_macros * m.cell_leakage_w + buffers_kib * per_kib_w

    def leakage(self, cycles: float, busy_macro_cycles: float, wakeups: float, macros_used: int) -> Cost:
        """Leakage over ``cycles`` of latency (W x ns = nJ, x 1e3 -> pJ): standby (cells + buffers left on),
        idle macro periphery (policy ``none``: all macros, minus their busy time) or macro wake-ups."""
        ns = self.cycle_ns * 1e3
        e = {"standby": self.standby_power_w(macros_used) * cycles * ns}
        if self.power_gating == "none":
            idle = max(0.0, self.accel.n_macros * cycles - busy_macro_cycles)
            e["idle_macros"] = self.macro.periphery_leakage_w * idle * ns
        else:
            e["wakeup"] = self.macro.wakeup_energy_pj * wakeups
        return Cost(e, 0.0)


def load_hardware(preset: str = "acc-sas-mram", device: str | None = None,
                  overrides: dict[str, Any] | None = None) -> Hardware:
    """An accelerator preset (name or path) with optional device and dotted overrides."""
    from imcsim.device.library import load_device

    accel = load_accelerator(preset, overrides)
    dev = load_device(device or accel.macro.device)
    return Hardware(accel, MacroConfig.from_spec(accel.macro, accel.chip.node_nm, accel.chip.clock_mhz, device=dev))


# ---------------------------------------------------------------------------------------------- pieces
def mvm_cost(hw: Hardware, layer: SpikeLayer, in_bits: int, input_density: float, and_density: float) -> Cost:
    """One pass of a weight layer (its M MVM steps) at ``in_bits`` planes and the given densities:
    macro energy by component and cycles, row-tile partial sums, and the input planes read from the
    tile buffer (in_elems x in_bits / 8 bytes)."""
    macro = hw.macro_for(in_bits)
    lm = map_layer(layer.node, macro)
    lc = layer_cost(macro, lm.tiles, lm.m, Densities(in_bits, macro.w_bits, input_density, and_density))
    energy = dict(zip(MACRO_COMPONENTS, map(float, lc.energy.values())))
    partial_adds = max(lm.row_tiles - 1, 0) * lm.m * lm.n * lm.groups
    energy["shift_accumulate"] += partial_adds * macro.acc_bits * macro.gates.fa_fj * 1e-3
    energy["buffer"] = layer.node.in_elems * in_bits / 8 * hw.buffer_read_pj_per_byte
    return Cost(energy, float(lc.cycles))


def neuron_cost(hw: Hardware, neurons: int, neuron: NeuronSpec, reads_stored_current: bool = False) -> Cost:
    """One timestep of a neuron layer: ``ops_per_update`` vector ops per neuron on the digital units of all
    tiles, membrane read + write at ``membrane_bits``, spikes written (1 bit each; their NoC traffic is
    :func:`snn_traffic`'s); a direct-encoded layer also re-reads its stored input current (``membrane_bits``)."""
    ops = neurons * neuron.ops_per_update
    mb = neuron.membrane_bytes
    buf = neurons * mb * (hw.buffer_read_pj_per_byte + hw.buffer_write_pj_per_byte)
    buf += neurons / 8 * hw.buffer_write_pj_per_byte
    if reads_stored_current:
        buf += neurons * mb * hw.buffer_read_pj_per_byte
    return Cost({"neuron": ops * hw.vector_op_pj, "buffer": buf}, ops / hw.vector_ops_per_cycle_chip)


# ---------------------------------------------------------------------------------------------- NoC
@dataclass(frozen=True)
class Placed:
    """The network on the mesh: the engines' mapping and its traffic at the SNN's widths (or the CNN's)."""

    mapping: NetworkMapping
    traffic: Traffic
    layer_of: dict[str, str]     # step op -> graph node (a group's op -> its weight layer)
    #: weight layer -> (bits, directed links of the XY route) of each of its crossings, as ``by_layer``
    #: (bits: the producer's whole output at its width, the bitmap)
    routes: dict[str, tuple[tuple[float, tuple[tuple[int, int], ...]], ...]] = field(default_factory=dict)
    #: weight layer -> the graph node whose output each of its crossings carries, as ``routes``
    producers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def hops(self) -> int:
        """Hops of all crossings of one pass (one timestep)."""
        return sum(h for c in self.traffic.crossings.values() for _, h in c)

    @property
    def bits(self) -> float:
        """Bits of one pass's (one timestep's) crossings as bitmaps, each crossing counted once."""
        return float(sum(b for c in self.traffic.crossings.values() for b, _ in c))

    def by_layer(self) -> dict[str, tuple[tuple[float, int], ...]]:
        """Crossings per group, named by the group's graph node (its weight layer)."""
        return {self.layer_of[g]: c for g, c in self.traffic.crossings.items()}

    def note(self, what: str, sent_bits: float | None = None) -> str:
        """The assumption line of a result: where the layers sit and what the NoC figures rest on
        (``sent_bits``: the mean bits a timestep actually sends, when the encoder shortens the bitmaps)."""
        s, m = self.summary(), self.mapping
        fit = "" if m.fits else (f"; the network needs {m.macros_required} macros of {m.n_macros}: streamed layers "
                                 f"({', '.join(m.reloaded)}) sit on the pool's tile and are reloaded as the CNN "
                                 "engines price a reload (engine/costs.py: DRAM read + pool write), in steady state "
                                 "whenever another streamed layer used the pool since (A: one layer at a time, "
                                 "timesteps in order, samples one after another)")
        where = (f"NoC: layers placed by the engines' mapper on a {s['mesh']} mesh (mapping/placement.py: consecutive "
                 "macros in forward order; neurons, pools and adds on their producer's tile), ")
        if not s["noc_crossings"]:
            return where + f"all on one tile: no NoC traffic{fit}"
        sent = "" if sent_bits is None else f" as bitmaps, {sent_bits:,.0f} sent on average"
        return (where + f"{s['noc_crossings']} crossings over {s['noc_hops']} hops (XY routes) and {s['noc_bits']:,.0f} "
                f"bits per timestep{sent}, {what}; energy per bit sent whatever its value, crossings one after the other "
                f"and links not contended in the priced cycles (A; the --timeline run moves them over contended links "
                f"by cut-through, as the CNNs' row engine){fit}")

    def summary(self) -> dict[str, Any]:
        p = self.traffic.placement
        return {"mesh": f"{p.cols} x {-(-p.tiles // p.cols)}", "noc_crossings": sum(len(c) for c in self.traffic.crossings.values()), "noc_hops": self.hops,
                "noc_bits": self.bits, "fits": self.mapping.fits}


def snn_traffic(hw: Hardware, net: SNNNetwork, membrane_bits: int | None = None) -> Placed:
    """The network placed by the engines' mapper (``map_network`` of its inference step, no replication:
    one copy of each layer, as the SNN is priced) and its forward crossings: each at the producer's SNN
    width (``output_bits``) when ``membrane_bits`` is given, else at the macro's input precision (the INT8
    CNN of the same graph, as engine/costs.py prices activations)."""
    from imcsim.workload import methods

    step = methods.apply(net.graph, "inference")
    mapping = map_network(step, hw.macro, hw.accel.n_macros)
    widths = () if membrane_bits is None else tuple(sorted(
        (k, float(v)) for k, v in output_bits(net.graph, membrane_bits).items()))
    chip = hw.accel.chip
    traffic = forward_traffic(step, mapping, chip.tiles, int(hw.accel.tile.macros or 1), hw.macro.in_bits / 8,
                              widths)
    layer_of = {op.name: op.node for op in step.ops}
    return Placed(mapping, traffic, layer_of, *_routes(step, traffic, layer_of))


def _routes(step: Any, traffic: Traffic, layer_of: dict[str, str]
            ) -> tuple[dict[str, tuple[tuple[float, tuple[tuple[int, int], ...]], ...]], dict[str, tuple[str, ...]]]:
    """The links and the producer node of every crossing: the edges between tiles, in the order engine/noc.py
    lists them (the row engine routes its transfers the same way, from ``traffic.tile``), with noc.py's bits."""
    found: dict[str, list[tuple[tuple[tuple[int, int], ...], str]]] = {}
    for e in forward_flow(step).edges:
        a, b = traffic.tile[e.src], traffic.tile[e.dst]
        if a != b:
            found.setdefault(traffic.group[e.src], []).append((traffic.placement.route(a, b), layer_of[e.src]))
    routes, producers = {}, {}
    for group, crossings in traffic.crossings.items():
        links = found.get(group, [])
        if len(links) != len(crossings) or any(len(r) != h for (r, _), (_, h) in zip(links, crossings)):
            raise RuntimeError(f"NoC routes of {group} disagree with engine/noc.py's crossings")
        routes[layer_of[group]] = tuple((bits, r) for (bits, _), (r, _) in zip(crossings, links))
        producers[layer_of[group]] = tuple(node for _, node in links)
    return routes, producers


def digital_cost(hw: Hardware, ops: float, component: str = "digital", per_tile: bool = False) -> Cost:
    """``ops`` vector operations on the digital units (all tiles pooled, or one tile's)."""
    rate = hw.vector_ops_per_cycle_tile if per_tile else hw.vector_ops_per_cycle_chip
    return Cost({component: ops * hw.vector_op_pj}, ops / rate)


def exit_ops(classes: int, spec: ExitSpec) -> int:
    """Vector ops of one exit evaluation on z_t (K classes, X = ``transcendental_ops``):

    - both: max of z (K compares) and z - max (K subtracts), for a stable softmax; 'mean' adds K scalings;
    - entropy: per class exp, divide by the sum, log (3X), sum of exps, p x log p, sum (3 ops); then the
      normalisation by log K and the compare (2 ops);
    - confidence: per class exp (X) and the sum (1); then 1 / sum (X) and the compare (1).
    """
    k, x = classes, spec.transcendental_ops
    base = 2 * k + (k if spec.accumulate == "mean" else 0)
    if spec.rule == "entropy":
        return base + k * (3 * x + 3) + 2
    if spec.rule == "confidence":
        return base + k * (x + 1) + x + 1
    return 0


# ---------------------------------------------------------------------------------------------- activity
@dataclass(frozen=True)
class ActivityTable:
    """Densities every weight layer sees at every timestep, and where they come from.

    ``layer_densities[name][t]`` is (input-bit density, AND density) of layer ``name`` at timestep t
    (0-based; the direct-encoded layer has one entry); ``spike_rates[neuron][t]`` the firing rates.
    """

    layer_densities: dict[str, list[tuple[float, float]]]
    spike_rates: dict[str, list[float]]
    source: str   # "functional run" | "given table" | "default (A)"
    #: spike/count producer -> per timestep, every sample's non-zero elements (measured by a functional run;
    #: empty: counted from the rates, snn/encoding.py)
    events: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)


def activity_from_rates(net: SNNNetwork, timesteps: int, rates: dict[str, list[float]] | None = None,
                        default_rate: float = 0.15, source: str | None = None) -> ActivityTable:
    """Densities from spike rates per neuron layer and timestep (missing layers: ``default_rate``).

    A layer fed by spikes sees its source's rate as input-bit density; a layer fed by spike counts the
    same (A: each count plane about as dense as the spikes); AND density = input density x weight-bit
    density 0.5 (A). The direct-encoded layer takes the macro's default 0.5 / 0.25 (A).
    """
    rates = dict(rates or {})
    full: dict[str, list[float]] = {}
    for neuron in net.neurons:
        r = rates.get(neuron, [default_rate] * timesteps)
        if len(r) == 1:
            r = list(r) * timesteps
        full[neuron] = [float(v) for v in r[:timesteps]]
    dens: dict[str, list[tuple[float, float]]] = {}
    for layer in net.layers:
        if layer.once:
            dens[layer.name] = [(DEFAULT_INPUT_DENSITY, DEFAULT_AND_DENSITY)]
        else:
            dens[layer.name] = [(r, r * WEIGHT_BIT_DENSITY) for r in full[layer.source]]
    src = source or ("given table" if rates else "default (A)")
    return ActivityTable(dens, full, src)


# ---------------------------------------------------------------------------------------------- network
@dataclass(frozen=True)
class SNNCost:
    """An SNN's cost split the way the exit needs it: once per sample, each timestep, one exit evaluation."""

    once: Cost                    # direct-encoded layers + the final argmax
    steps: tuple[Cost, ...]       # timestep t = 1..T (index t - 1)
    exit_eval: Cost               # one exit-unit evaluation (zero when the rule is 'none'/'histogram')
    hw: Hardware
    layers: tuple[dict[str, Any], ...]   # per-layer, per-timestep records (for tables)
    macros_used: int = 0                 # macros holding the network's weights
    busy_once: float = 0.0               # macro-cycles of the once-per-sample layers
    busy_steps: tuple[float, ...] = ()   # macro-cycles of each timestep's layers
    wakeups_once: int = 0                # macro wake-ups of the once-per-sample layers
    wakeups_step: int = 0                # macro wake-ups per timestep (every spiking layer's macros)
    stages: tuple[tuple[tuple[str, float], ...], ...] = ()   # per timestep: (resource, cycles) in order
    once_layer: str | None = None        # the direct-encoded layer (its macros run the once stage)
    placed: Placed | None = None         # mapping, placement and NoC crossings of one timestep
    #: per timestep, weight layer -> bits each of its crossings sends (``sent_bits``; as ``placed.routes``)
    noc_bits: tuple[dict[str, tuple[float, ...]], ...] = ()
    #: layers streamed through the pool when the network does not fit (their macros are the pool's)
    streamed: tuple[str, ...] = ()

    @property
    def timesteps(self) -> int:
        return len(self.steps)

    def noc_sent_bits(self) -> list[float]:
        """Bits the crossings send in each timestep (after the encoder)."""
        return [float(sum(sum(b) for b in per.values())) for per in self.noc_bits]

    def at_exit(self, t: int, evaluated: bool = True) -> Cost:
        """Cost of a sample that stops after timestep t (1..T): once + steps 1..t + min(t, T - 1) exit
        evaluations (none at T: the last step needs no decision) + standby over its latency."""
        c = self.work_at_exit(t, evaluated)
        busy, wakeups = self.macro_use_at_exit(t)
        return c + self.hw.leakage(c.cycles, busy, wakeups, self.macros_used)

    def work_at_exit(self, t: int, evaluated: bool = True) -> Cost:
        """:meth:`at_exit` without the leakage: the work a sample that stops after t does, whatever the
        schedule (the timeline charges the leakage over its own makespan)."""
        if not 1 <= t <= self.timesteps:
            raise ValueError(f"exit timestep {t} outside 1..{self.timesteps}")
        c = self.once + total(self.steps[:t])
        if evaluated:
            c = c + self.exit_eval.scaled(min(t, self.timesteps - 1))
        return c

    def macro_use_at_exit(self, t: int) -> tuple[float, int]:
        """Busy macro-cycles and macro wake-ups of a sample that stops after t."""
        return self.busy_once + sum(self.busy_steps[:t]), self.wakeups_once + t * self.wakeups_step


def snn_cost(hw: Hardware, net: SNNNetwork, neuron: NeuronSpec, activity: ActivityTable, timesteps: int,
             exit_spec: ExitSpec | None = None, image_bits: int | None = None) -> SNNCost:
    """Price the SNN form of a network: the once-per-sample part, every timestep, one exit evaluation.
    ``image_bits``: input planes of the direct-encoded layer (default: the macro's input precision)."""
    if image_bits is not None and not 1 <= image_bits <= 8:
        from imcsim.errors import SpecError

        raise SpecError("<run>", "image_bits", image_bits, "an integer 1..8")
    once = Cost()
    steps = [Cost() for _ in range(timesteps)]
    records: list[dict[str, Any]] = []
    direct_neurons: set[str] = set()
    busy_once, busy_steps = 0.0, [0.0] * timesteps
    wake_once = wake_step = macros_used = 0
    for layer in net.layers:
        feeds = _neuron_fed_by(net, layer.name)
        macros = map_layer(layer.node, hw.macro).macros
        macros_used += macros
        if layer.once:
            bits = image_bits or hw.macro.in_bits
            d_in, d_and = activity.layer_densities[layer.name][0]
            c = mvm_cost(hw, layer, bits, d_in, d_and)
            busy_once += c.cycles * macros
            wake_once += macros
            c = c + Cost({"buffer": layer.node.out_elems * neuron.membrane_bytes * hw.buffer_write_pj_per_byte})
            once = once + c
            if feeds:
                direct_neurons.add(feeds)
            records.append(_record(layer.name, "once", bits, d_in, d_and, c))
            continue
        wake_step += macros
        for t in range(timesteps):
            d_in, d_and = activity.layer_densities[layer.name][t]
            c = mvm_cost(hw, layer, layer.in_bits, d_in, d_and)
            busy_steps[t] += c.cycles * macros
            steps[t] = steps[t] + c
            records.append(_record(layer.name, t + 1, layer.in_bits, d_in, d_and, c))
    # timeline stages: each neuron layer is updated on the tile of the last weight layer before it
    stage_of: dict[str, str] = {}
    last = None
    for node in net.graph.nodes:
        if node.op in ("conv", "linear"):
            last = node.name
        elif node.op == "act" and last is not None:
            stage_of[node.name] = last
    mvm_by = {(r["layer"], r["timestep"]): r["cycles"] for r in records}
    stage_cycles = [{x.name: (0.0 if x.once else mvm_by[(x.name, t + 1)]) for x in net.layers}
                    for t in range(timesteps)]
    for name, n in net.neurons.items():
        c = neuron_cost(hw, n, neuron, reads_stored_current=name in direct_neurons)
        for t in range(timesteps):
            steps[t] = steps[t] + c
            stage_cycles[t][stage_of[name]] += c.cycles
    # every timestep the spikes, counts and currents cross the mesh as placed, spikes and counts through the
    # encoder (snn/encoding.py: the bits follow that timestep's events); each group's crossings in the stage
    # of its weight layer (the outputs of the ops it runs)
    placed = snn_traffic(hw, net, neuron.membrane_bits)
    noc_bits = sent_bits(net, placed, activity, neuron.membrane_bits, timesteps)
    reload_cost = reload_costs(hw, net, placed)
    once_reloads, step_reloads = reload_schedule(net, placed.mapping.reloaded, timesteps)
    for name in once_reloads:
        once = once + reload_cost[name]
    extra = sum(w.ops for w in net.work) + net.classes  # pools, residual adds, z_t += o_t
    stages: list[tuple[tuple[str, float], ...]] = []
    for t, sc in enumerate(stage_cycles):
        steps[t] = steps[t] + digital_cost(hw, extra)
        extra_cycles = digital_cost(hw, extra).cycles
        noc_stage: dict[str, float] = {}   # weight layer -> cycles of its crossings (a stage after its own)
        for layer, crossings in placed.by_layer().items():
            c = hw.noc(tuple((b, h) for b, (_, h) in zip(noc_bits[t][layer], crossings)))
            steps[t] = steps[t] + c
            if layer in sc:
                noc_stage[layer] = c.cycles
            else:   # a group with no weight layer (nothing upstream has weights): timed with the digital work
                extra_cycles += c.cycles
        order: list[tuple[str, float]] = []
        for k, v in sc.items():
            if k in step_reloads[t]:
                steps[t] = steps[t] + reload_cost[k]
                order.append((RELOAD_STAGE + k, reload_cost[k].cycles))
            order += [(k, v)] if v > 0 else []
            order += [(NOC_STAGE + k, noc_stage[k])] if k in noc_stage else []
        stages.append((*order, ("digital", extra_cycles)))
    once = once + digital_cost(hw, net.classes, per_tile=True)  # the final argmax
    spec = exit_spec or ExitSpec()
    ev = digital_cost(hw, exit_ops(net.classes, spec), component="exit", per_tile=True)
    return SNNCost(once, tuple(steps), ev, hw, tuple(records), macros_used, busy_once, tuple(busy_steps),
                   wake_once, wake_step, tuple(stages), next((x.name for x in net.layers if x.once), None), placed,
                   tuple(noc_bits), tuple(placed.mapping.reloaded))


def reload_costs(hw: Hardware, net: SNNNetwork, placed: Placed) -> dict[str, Cost]:
    """One reload of each streamed layer (a network that does not fit), priced by the CNN engines' own
    pricer (``engine/costs.price_step`` on the SNN graph's inference step with this mapping, batch 1): the
    weights read from DRAM and written into the pool's macros, write waves, rounds and all. Energy as
    ``dram`` and ``write``; cycles the reload's DRAM and write stages one after the other."""
    if placed.mapping.fits:
        return {}
    from imcsim.config.study import Study
    from imcsim.engine.context import Context
    from imcsim.engine.costs import price_step
    from imcsim.workload import methods

    study = Study.model_validate({"workload": {"name": net.graph.name}})
    ctx = Context(study, hw.accel, hw.macro.device, hw.macro, methods.apply(net.graph, "inference"),
                  placed.mapping, 1)
    return {r.node: Cost(dict(r.energy_pj), r.cycles_per_execution * r.executions)
            for r in price_step(ctx).records if r.phase == "reload"}


def reload_schedule(net: SNNNetwork, streamed: Iterable[str], timesteps: int
                    ) -> tuple[list[str], list[set[str]]]:
    """Which streamed layers are reloaded once per sample and at each timestep, in steady state (as the CNN
    pricer prices a step: the pool holds what the previous sample left) (A: the pool holds one layer at a
    time; a sample runs timestep by timestep, layers in order; samples one after another). A layer is
    reloaded whenever another streamed layer ran in the pool since its last pass: the direct-encoded ones
    once per sample, the others at every timestep when two or more share the pool, else at the first."""
    s_once = [x.name for x in net.layers if x.once and x.name in set(streamed)]
    s_step = [x.name for x in net.layers if not x.once and x.name in set(streamed)]
    once = s_once if len(s_once) >= 2 or s_step else []
    first = set(s_step) if len(s_step) >= 2 or s_once else set()
    later = set(s_step) if len(s_step) >= 2 else set()
    return once, [first] + [later] * (timesteps - 1)


def sent_bits(net: SNNNetwork, placed: Placed, activity: ActivityTable, membrane_bits: int, timesteps: int
              ) -> list[dict[str, tuple[float, ...]]]:
    """Per timestep, per weight layer, the bits each of its crossings sends (as ``placed.routes``): a spike or
    count producer through the encoder of snn/encoding.py on that timestep's events (measured per sample, or
    counted from the rates), a current as its bitmap."""
    graph = net.graph
    width = output_bits(graph, membrane_bits)
    events = sends_events(graph)
    out: list[dict[str, tuple[float, ...]]] = []
    for t in range(timesteps):
        per: dict[str, tuple[float, ...]] = {}
        for layer, nodes in placed.producers.items():
            bits = []
            for node, (dense, _) in zip(nodes, placed.routes[layer]):
                n, w = graph[node].out_elems, width[node]
                if node not in events:
                    bits.append(float(dense))
                elif node in activity.events:
                    bits.append(mean_transfer_bits(n, w, activity.events[node][t]))
                else:
                    rate = activity.spike_rates[source_neuron(graph, node)][t]
                    bits.append(float(transfer_bits(n, w, n * nonzero_probability(graph, node, rate))))
            per[layer] = tuple(bits)
        out.append(per)
    return out


def _neuron_fed_by(net: SNNNetwork, weight_layer: str) -> str | None:
    """The neuron layer a weight layer's current drives (through norms and adds), if any."""
    frontier = [weight_layer]
    while frontier:
        name = frontier.pop()
        for node in net.graph.consumers(name):
            if node.op == "act":
                return node.name
            if node.op in ("norm", "add"):
                frontier.append(node.name)
    return None


def _record(name: str, t: int | str, bits: int, d_in: float, d_and: float, c: Cost) -> dict[str, Any]:
    return {"layer": name, "timestep": t, "in_bits": bits, "input_density": d_in, "and_density": d_and,
            "cycles": c.cycles, "energy_pj": c.total_pj}


def cnn_cost(hw: Hardware, net: SNNNetwork) -> Cost:
    """The INT8 CNN of the same graph on the same accelerator, by the same conventions: every weight
    layer at the macro's input precision and default activity (A: 0.5 / 0.25), activations (1 byte) read
    and written through the tile buffer and sent over the mesh as placed (:func:`snn_traffic` at the
    macro's input precision), ReLU / pools / adds one vector op per element, streamed layers reloaded once
    per sample (:func:`reload_costs`)."""
    c = Cost()
    bits = hw.macro.in_bits
    busy = 0.0
    macros_used = 0
    for layer in net.layers:
        m = mvm_cost(hw, layer, bits, DEFAULT_INPUT_DENSITY, DEFAULT_AND_DENSITY)
        macros = map_layer(layer.node, hw.macro).macros
        busy += m.cycles * macros
        macros_used += macros
        m = m + Cost({"buffer": layer.node.out_elems * bits / 8 * hw.buffer_write_pj_per_byte})
        c = c + m
    placed = snn_traffic(hw, net)
    c = c + hw.noc(tuple(x for cr in placed.traffic.crossings.values() for x in cr))
    # a network that does not fit reloads its streamed layers once per sample, each layer running once (the
    # SNN's rule with every layer run once: none when one streamed layer has the pool to itself)
    streamed = placed.mapping.reloaded
    if len(streamed) >= 2:
        c = c + total(reload_costs(hw, net, placed).values())
    relu = sum(net.neurons.values())
    c = c + digital_cost(hw, relu + sum(w.ops for w in net.work)) + digital_cost(hw, net.classes, per_tile=True)
    return c + hw.leakage(c.cycles, busy, macros_used, macros_used)
