"""Pricing a training step on an accelerator: the ONE place every op gets its cycles and energy.

Both engines call :func:`price_step`; they differ only in how they turn the resulting stages into a
latency (:mod:`imcsim.engine.schedule`). Macro costs come from :mod:`imcsim.circuit.macro`, writes
from the device model, everything else from the accelerator spec. Each assumption made here is
appended to ``PricedStep.assumptions`` so that reports can say what a result rests on.

Per op (``StepOp``):

- ``mvm`` on an array-resident layer: :func:`~imcsim.circuit.macro.layer_cost` over the layer's tiles
  (energy of M steps, latency of ceil(M / replicas) steps), row-tile partial sums added in the tile
  accumulator (acc_bits full adders each), input read from and output written to the tile buffer at
  the activation width, and the output sent one NoC hop (A) to the next layer's tile. The backward-
  error MVM (``transposed``) runs, per ``backward``: on the same array read transposed (priced as a
  forward step with the op's own M: A), on the digital unit as a GEMM, or on a transposed copy (its own
  macros, written at every update as well).
- ``gemm`` and ``vector``: on the digital units of all tiles pooled (chip throughput =
  tiles x per-tile rate), operands through the global buffer (gemm, fp32) or the tile buffer (vector).
- ``write``: the device's closed-form write cost for the weights per macro, times the layer's macros
  (every replica); macros are written ``tile.write_drivers`` per tile at a time.
- Layers that do not fit are streamed: before the layer runs (once per batch: a barrier), its weights
  are read from DRAM and written into the pool macros; the backward pass reloads them again when the
  error MVM runs on the array. Trained streamed weights go back to DRAM at the update.
- Stored-for-backward tensors are written to the global buffer in forward and read in backward;
  what exceeds the buffer spills to DRAM (written and read back, a barrier between the phases).
- Leakage: a macro's periphery (and cells) leak while it computes (the macro model's component). What
  leaks while idle follows ``chip.power_gating`` (imcsim/engine/leakage.py: idle macros gated or not,
  empty buffer capacity gated or not, wake-ups priced); volatile cells (SRAM) always keep leaking. The
  standby power is charged over the latency of the engine that ran (engine/evaluation.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from imcsim.circuit.macro import COMPONENTS as MACRO_COMPONENTS
from imcsim.circuit.macro import MacroConfig, layer_cost
from imcsim.device.base import DeviceModel, WriteCost
from imcsim.engine.context import Context, _device
from imcsim.engine.leakage import standby_sources
from imcsim.engine.ledger import COMPONENTS, OpRecord
from imcsim.engine.measured import Measurement, load_measurement, measured_write
from imcsim.engine.schedule import Barrier, Item, Stage
from imcsim.mapping.layer import LayerMapping, map_layer, round_step_cycles, step_cycles
from imcsim.workload.step import StepOp

POOL = "macros:pool"
DIGITAL = "digital"
NOC = "noc"
DRAM = "dram"
NOC_HOPS = 1  # A: consecutive layers sit on neighbouring tiles
FP32_BYTES = 4
#: bytes per operand of the digital unit at its ``tile.digital_unit.precision``
PRECISION_BYTES = {"int8": 1, "fp16": 2, "fp32": 4}


@dataclass
class Wear:
    """Worst-cell wear per step, accumulated by source (update writes, reloads)."""

    update: float = 0.0
    reload: float = 0.0
    cells_written: float = 0.0
    pulses: float = 0.0
    write_energy_pj: float = 0.0
    write_latency_ns: float = 0.0
    weights_written: int = 0
    reload_weights: int = 0
    deploy: WriteCost = field(default_factory=WriteCost)


@dataclass
class PricedStep:
    """The step as the engines see it: timed items, per-op records, wear, and what it rests on."""

    items: list[Item]
    records: list[OpRecord]
    exclusive: set[str]
    wear: Wear
    standby_power_w: float
    area_um2: dict[str, float]
    assumptions: list[str]
    mapping_summary: dict[str, Any]
    #: per op (per sample): (port, bytes) through a buffer port: "tile" (the layer's tile buffer),
    #: "global" (the global buffer) or "tiles" (all tile buffers, for work pooled on every digital unit)
    port_bytes: dict[str, tuple[str, float]] = field(default_factory=dict)

    def macro_busy_cycles(self) -> float:
        """Macro-cycles of compute (MVM ops x their macros), the same for both engines."""
        return sum(r.cycles_per_execution * r.executions * r.macros for r in self.records if r.kind == "mvm")

    def op_energy_pj(self) -> dict[str, float]:
        """Energy of the priced ops by component (their busy leakage included, chip standby leakage not)."""
        total = {c: 0.0 for c in COMPONENTS}
        for r in self.records:
            for c, v in r.energy_pj.items():
                total[c] += v
        return total


class _Pricer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.accel = ctx.accel
        self.chip = ctx.accel.chip
        self.tile = ctx.accel.tile
        self.du = ctx.accel.tile.digital_unit
        self.macro = ctx.macro
        self.opts = ctx.study.options
        self.batch = ctx.batch
        self.cycle_ns = ctx.cycle_ns
        self.mapping = ctx.mapping
        self.layers = {lm.name: lm for lm in ctx.mapping.layers}
        self.resident = set(ctx.mapping.resident)
        self.streamed = set(ctx.mapping.reloaded)
        self.activity = _activity(self.opts.activity, self.macro)
        self.measured = _measurement(ctx)
        self._measured_layers: set[str] = set()
        self._measured_writes: list[float] = []  # exact / closed-form write energy, per measured layer
        self.assumptions: list[str] = []
        self.wear = Wear()
        self.records: list[OpRecord] = []
        self.items: list[Item] = []
        self._sram_macro: MacroConfig | None = None
        self._sram_layers: dict[str, LayerMapping] = {}
        self._loaded: str | None = None  # streamed layer currently in the pool
        self.port_bytes: dict[str, tuple[str, float]] = {}
        self.du_bytes = PRECISION_BYTES[self.du.precision]

    # -------------------------------------------------------------- helpers
    def _act_bytes(self, phase: str) -> float:
        # INT8 activations through the arrays in forward; errors and gradients at the digital unit's precision
        # (tile.digital_unit.precision, fp32 in the presets) in backward (A)
        return self.macro.in_bits / 8 if phase == "forward" else self.du_bytes

    def _record(self, name: str, node: str, phase: str, kind: str, resource: str,
                executions: int, cycles: float, energy: dict[str, float], *, macs: int = 0,
                weights_written: int = 0, macros: int = 0) -> None:
        self.records.append(OpRecord(name, node, phase, kind, resource, executions, cycles,
                                     {c: v * executions for c, v in energy.items() if v}, macs=macs,
                                     weights_written=weights_written, macros=macros))

    def _write_waves(self, macros: int) -> int:
        per_wave = self.tile.write_drivers * max(1, min(self.chip.tiles, -(-macros // int(self.tile.macros or 1))))
        return -(-macros // per_wave)

    def _array_write(self, device: DeviceModel, weights: float, macros: int, flip_prob: float,
                     policy: str) -> tuple[WriteCost, float]:
        """Cost of writing ``weights`` spread over ``macros`` macros, and its latency in ns."""
        if weights <= 0 or macros <= 0:
            return WriteCost(), 0.0
        per_macro = _expected_write(device, weights / macros, self.macro.w_bits, policy, flip_prob)
        latency_ns = per_macro.latency_ns * self._write_waves(macros)
        # the macros are written in parallel waves: counts and energy scale, wear does not
        return WriteCost(pulses=per_macro.pulses * macros, energy_pj=per_macro.energy_pj * macros,
                         latency_ns=latency_ns, cells_written=per_macro.cells_written * macros,
                         verify_reads=per_macro.verify_reads * macros, rmw_reads=per_macro.rmw_reads * macros,
                         max_cell_wear=per_macro.max_cell_wear), latency_ns

    def _dram(self, nbytes: float, write: bool = False) -> tuple[float, float]:
        """(energy pJ, cycles) of reading (or writing) ``nbytes`` over the DRAM channels, all in parallel."""
        ns = nbytes / self.chip.dram_bandwidth_gb_per_s  # bytes / (GB/s) = ns
        per_bit = self.chip.dram_write_energy_pj_per_bit if write else self.chip.dram_read_energy_pj_per_bit
        return nbytes * 8 * per_bit, ns / self.cycle_ns

    # -------------------------------------------------------------- op kinds
    def mvm(self, op: StepOp) -> list[Item]:
        layer = op.node
        backward = op.phase == "backward_error"
        mode = self.opts.backward if backward else "forward"
        if mode == "digital":
            return self.digital_gemm(op)
        items: list[Item] = []
        if op.location == "sram":
            lm, macro = self._sram_layer(layer), self._sram_macro_cfg()
            resource, replicas = f"sram_macros:{layer}", 1
        else:
            lm, macro = self.layers[layer], self.macro
            replicas = self.mapping.replicas.get(layer, 1)
            if layer in self.streamed:
                items += self._reload(layer, op.phase)
                resource = POOL
            else:
                resource = f"macros_T:{layer}" if mode == "transposed-copy" else f"macros:{layer}"
        steps = op.gemm[1] if op.gemm else lm.m
        cost = _layer_cost(macro, lm.tiles, steps, self._activity_of(layer, op.phase), replicas)
        cycles = cost.cycles
        rounds = self.mapping.reload_rounds.get(layer, 1) if resource == POOL else 1
        if rounds > 1:
            # more tiles than pool macros: the tiles run ``pool`` at a time, each round a stream of all M steps
            # (and its pipeline fill) as slow as its slowest tile; the energy is that of the same steps
            fill = cost.cycles - step_cycles(lm, macro) * -(-steps // replicas)
            cycles = sum(c * -(-steps // replicas) + fill for c in round_step_cycles(lm, macro, self.mapping.pool_macros))
        # leakage here: the layer's macros while they are busy
        energy = dict(zip(MACRO_COMPONENTS, map(float, cost.energy.values())))
        # row tiles on different macros: (row_tiles - 1) partial-sum adds per output, acc_bits FAs each
        partial_adds = max(lm.row_tiles - 1, 0) * steps * lm.n * lm.groups
        energy["shift_accumulate"] += partial_adds * macro.acc_bits * macro.gates.fa_fj * 1e-3
        # the layer's input feature map is read once from the tile buffer (the im2col window reuse happens
        # in the input registers) and its output map written once; backward swaps the two
        act_b = self._act_bytes(op.phase)
        node = self.ctx.step.graph[layer]
        in_bytes = (node.in_elems if not backward else node.out_elems) * act_b
        out_bytes = (node.out_elems if not backward else node.in_elems) * act_b
        energy["buffer"] = in_bytes * self.tile.buffer_read_pj_per_byte + out_bytes * self.tile.buffer_write_pj_per_byte
        self.port_bytes[op.name] = ("tile", in_bytes * rounds + out_bytes)
        if rounds > 1:
            # every round reads the input map again; row tiles split over rounds leave partial sums
            # (acc_bits per output) in the global buffer between rounds, written and read back
            energy["buffer"] += (rounds - 1) * in_bytes * self.tile.buffer_read_pj_per_byte
            if lm.row_tiles > 1:
                psum_bytes = (rounds - 1) * steps * lm.n * lm.groups * macro.acc_bits / 8
                energy["buffer"] += psum_bytes * (self.chip.global_buffer_write_pj_per_byte
                                                  + self.chip.global_buffer_read_pj_per_byte)
        noc_bits = out_bytes * 8
        energy["noc"] = noc_bits * NOC_HOPS * self.chip.tile_pitch_mm * self.chip.noc_energy_pj_per_bit_per_mm
        noc_cycles = noc_bits / self.chip.noc_width_bits + NOC_HOPS * self.chip.noc_hop_latency_cycles
        self._record(op.name, layer, op.phase, "mvm", resource, self.batch, cycles, energy,
                     macs=op.macs, macros=min(lm.macros, self.mapping.pool_macros) if rounds > 1 else lm.macros * replicas)
        self._record(op.name + ":noc", layer, op.phase, "noc", NOC, self.batch, noc_cycles, {})
        return items + [Stage(op.name, resource, cycles), Stage(op.name + ":noc", NOC, noc_cycles)]

    def digital_gemm(self, op: StepOp) -> list[Item]:
        g, m, k, n = op.gemm
        rate = self.du.macs_per_cycle * self.chip.tiles
        cycles = op.macs / rate
        energy = {"digital_unit": op.macs * self.du.energy_pj_per_mac}
        nbytes_in = g * (m * k + k * n) * self.du_bytes
        nbytes_out = g * m * n * self.du_bytes
        self.port_bytes[op.name] = ("global", nbytes_in + nbytes_out)
        energy["buffer"] = (nbytes_in * self.chip.global_buffer_read_pj_per_byte
                            + nbytes_out * self.chip.global_buffer_write_pj_per_byte)
        executions = 1 if op.batch_shared else self.batch
        self._record(op.name, op.node, op.phase, "gemm", DIGITAL, executions, cycles, energy, macs=op.macs)
        stage = Stage(op.name, DIGITAL, cycles)
        return [Barrier((stage,))] if op.batch_shared else [stage]

    def vector(self, op: StepOp) -> list[Item]:
        rate = self.du.vector_ops_per_cycle * self.chip.tiles
        cycles = op.macs / rate
        energy = {"digital_unit": op.macs * self.du.energy_pj_per_vector_op}
        width = self._act_bytes(op.phase) if not op.batch_shared else self.du_bytes
        self.port_bytes[op.name] = ("tiles", op.macs * width * 2)
        energy["buffer"] = op.macs * width * (self.tile.buffer_read_pj_per_byte + self.tile.buffer_write_pj_per_byte)
        executions = 1 if op.batch_shared else self.batch
        self._record(op.name, op.node, op.phase, "vector", DIGITAL, executions, cycles, energy)
        stage = Stage(op.name, DIGITAL, cycles)
        return [Barrier((stage,))] if op.batch_shared else [stage]

    def write(self, op: StepOp) -> list[Item]:
        layer = op.node
        energy: dict[str, float] = {}
        if op.location == "imc" and layer in self.streamed:
            # the streamed layer's home is DRAM: write the updated weights back there
            nbytes = op.weights * self.macro.w_bits / 8
            energy["dram"], cycles = self._dram(nbytes, write=True)
            self._record(op.name, layer, "update", "write", DRAM, 1, cycles, energy)
            self.wear.weights_written += op.weights
            return [Barrier((Stage(op.name, DRAM, cycles),))]
        if op.location == "sram":
            device, lm = _device("sram"), self._sram_layer(layer)
            macros, resource = lm.macros, f"sram_macros:{layer}"
        else:
            device, lm = self.ctx.device, self.layers[layer]
            copies = self.mapping.replicas.get(layer, 1) * (2 if self.opts.backward == "transposed-copy" else 1)
            macros, resource = lm.macros * copies, f"macros:{layer}"
        weights = op.weights * macros / lm.macros
        if op.location == "imc" and self.measured is not None and layer in self.measured.updates:
            cost, latency_ns = self._measured_write(layer, device, op, lm.macros, macros)
        else:
            cost, latency_ns = self._array_write(device, weights, macros, self.opts.flip_prob, self.opts.write_policy)
        energy["write"] = cost.energy_pj
        cycles = latency_ns / self.cycle_ns
        self._record(op.name, layer, "update", "write", resource, 1, cycles, energy,
                     weights_written=op.weights, macros=macros)
        if op.location == "imc":
            self.wear.update = max(self.wear.update, cost.max_cell_wear)
            self.wear.cells_written += cost.cells_written
            self.wear.pulses += cost.pulses
            self.wear.write_energy_pj += cost.energy_pj
            self.wear.write_latency_ns += latency_ns
            self.wear.weights_written += op.weights
        return [Barrier((Stage(op.name, resource, cycles),))]

    def _activity_of(self, layer: str, phase: str) -> Any:
        """The layer's activity measured by execution in this phase, else the study's default."""
        if self.measured is not None:
            act = self.measured.activity_for(layer, phase)
            if act is not None:
                self._measured_layers.add(f"{layer}:{phase}")
                return act
        return self.activity

    def _measured_write(self, layer: str, device: DeviceModel, op: StepOp, layer_macros: int,
                        macros: int) -> tuple[WriteCost, float]:
        """Mean per-step cost of the executed updates of ``layer`` (exact ``DeviceModel.write``), on each of
        its ``macros // layer_macros`` copies (replicas, transposed copy): counts scale, wear does not."""
        old, new = self.measured.updates[layer]
        if old[0].size != op.weights:
            from imcsim.errors import SpecError

            raise SpecError(self.measured.folder, f"updates.npz:{layer}", old[0].size,
                            f"{op.weights} weights (what method {self.ctx.step.method} updates in {layer})",
                            problem="the executed update does not match the priced step:")
        one, latency_ns = measured_write(device, old, new, self.opts.write_policy, layer_macros,
                                         self._write_waves(macros))
        copies = macros // layer_macros
        cost = WriteCost(**{**one.scaled(copies).as_dict(), "latency_ns": one.latency_ns,
                            "max_cell_wear": one.max_cell_wear})
        self._measured_writes.append(cost.energy_pj)
        return cost, latency_ns

    def _reload(self, layer: str, phase: str) -> list[Item]:
        """Stream a layer's weights from DRAM into the pool (once per batch), unless it is already there."""
        if self._loaded == layer:
            return []
        self._loaded = layer
        lm = self.layers[layer]
        nbytes = lm.weights * self.macro.w_bits / 8
        energy: dict[str, float] = {}
        energy["dram"], dram_cycles = self._dram(nbytes)
        # the pool held another layer: on average half the bits flip (A)
        cost, latency_ns = self._array_write(self.ctx.device, lm.weights, lm.macros, 0.5, self.opts.write_policy)
        rounds = self.mapping.reload_rounds.get(layer, 1)
        if rounds > 1:
            # the pool takes ``pool`` macros' worth per round: write waves of each round, one after the other;
            # every pool cell is rewritten once per round
            pool = self.mapping.pool_macros
            per_macro_ns = latency_ns / self._write_waves(lm.macros)
            sizes = [min(pool, lm.macros - k * pool) for k in range(rounds)]
            latency_ns = per_macro_ns * sum(self._write_waves(m) for m in sizes)
            cost = WriteCost(pulses=cost.pulses, energy_pj=cost.energy_pj, latency_ns=latency_ns,
                             cells_written=cost.cells_written, verify_reads=cost.verify_reads,
                             rmw_reads=cost.rmw_reads, max_cell_wear=cost.max_cell_wear * rounds)
        energy["write"] = cost.energy_pj
        write_cycles = latency_ns / self.cycle_ns
        name = f"{layer}:reload:{phase}"
        self._record(name, layer, "reload", "write", POOL, 1, dram_cycles + write_cycles, energy,
                     weights_written=lm.weights, macros=lm.macros)
        self.wear.reload += cost.max_cell_wear
        self.wear.cells_written += cost.cells_written
        self.wear.pulses += cost.pulses
        self.wear.write_energy_pj += cost.energy_pj
        self.wear.write_latency_ns += latency_ns
        self.wear.reload_weights += lm.weights
        return [Barrier((Stage(name + ":dram", DRAM, dram_cycles), Stage(name + ":write", POOL, write_cycles)))]

    def _sram_macro_cfg(self) -> MacroConfig:
        if self._sram_macro is None:
            m = self.macro
            self._sram_macro = MacroConfig(_device("sram"), m.rows, m.cols, m.rows_parallel, m.sense_amps,
                                           m.in_bits, m.w_bits, 1, m.node_nm, m.clock_mhz)
            self.assumptions.append("re-trained weights in SRAM arrays of the same geometry (Hyb-Learn split)")
        return self._sram_macro

    def _sram_layer(self, layer: str) -> LayerMapping:
        if layer not in self._sram_layers:
            self._sram_layers[layer] = map_layer(self.ctx.step.graph[layer], self._sram_macro_cfg())
        return self._sram_layers[layer]

    # -------------------------------------------------------------- the whole step
    def price(self) -> PricedStep:
        step = self.ctx.step
        ops = list(step.ops)
        phases_done: set[str] = set()
        for op in ops:
            if op.phase != "forward" and "forward" not in phases_done:
                phases_done.add("forward")
                self.items += self._spill_barrier()
                self._loaded = None  # backward walks the layers in reverse: reload streamed ones again
            if op.kind == "mvm":
                self.items += self.mvm(op)
            elif op.kind == "gemm":
                self.items += self.digital_gemm(op)
            elif op.kind == "vector":
                self.items += self.vector(op)
            elif op.kind == "write":
                self.items += self.write(op)
        self._deploy()
        exclusive = {s.resource for it in self.items for s in (it.stages if isinstance(it, Barrier) else (it,))
                     if s.resource.startswith(("macros", "sram_macros"))}
        if self.chip.contention:
            exclusive |= {DIGITAL, NOC, DRAM}
        self._note_assumptions()
        mapping = dict(self.mapping.summary())
        cells_used = sum(lm.cells_used for lm in self.mapping.layers)
        cells_avail = sum(lm.cells_available for lm in self.mapping.layers)
        mapping["utilisation"] = cells_used / cells_avail if cells_avail else 0.0
        total_cells = self.accel.n_macros * self.macro.rows * self.macro.cols
        mapping["chip_fill"] = sum(self.layers[n].cells_used for n in dict.fromkeys(self.mapping.resident)) / total_cells
        if self.measured is not None:   # which figures execution measured (flat, so sweeps keep them)
            mapping["measured_activity_phases"] = len(self._measured_layers)
            mapping["measured_write_layers"] = len(self._measured_writes)
            if self._measured_writes:
                mapping["measured_flip_rate"] = self.measured.flip_rate()
        return PricedStep(self.items, self.records, exclusive, self.wear, self._standby_power_w(), self._area(),
                          self.assumptions, mapping, self.port_bytes)

    def _spill_barrier(self) -> list[Item]:
        step = self.ctx.step
        if not step.stored:
            return []
        stored = step.stored_bytes * self.batch
        capacity = self.chip.global_buffer_kib * 1024
        energy: dict[str, float] = {}
        energy["buffer"] = min(stored, capacity) * (self.chip.global_buffer_write_pj_per_byte
                                                    + self.chip.global_buffer_read_pj_per_byte)
        spill = max(0.0, stored - capacity)
        # written in forward, read back in backward
        (write_pj, write_cycles), (read_pj, read_cycles) = self._dram(spill, write=True), self._dram(spill)
        energy["dram"], cycles = write_pj + read_pj, write_cycles + read_cycles
        self._record("stored:for-backward", "stored", "forward", "buffer", DRAM, 1, cycles, energy)
        if spill:
            self.assumptions.append(f"{spill / 1e6:.3g} MB of stored activations spill to DRAM (global buffer "
                                    f"{capacity / 1e6:.3g} MB)")
        return [Barrier((Stage("stored:spill", DRAM, cycles),))] if cycles else []

    def _deploy(self) -> None:
        """One-time write of every resident weight (deployment), reported apart from the step."""
        costs = []
        # mapping order, not the set's: float sums in hash order differ between runs (PYTHONHASHSEED)
        for name in dict.fromkeys(self.mapping.resident):
            lm = self.layers[name]
            copies = self.mapping.replicas.get(name, 1)
            costs.append(self._array_write(self.ctx.device, lm.weights * copies, lm.macros * copies, 0.5, "all")[0])
        self.wear.deploy = WriteCost.sequence(costs)

    def _standby_power_w(self) -> float:
        """Volatile cells of every macro plus the SRAM buffers the power-gating policy leaves on
        (imcsim/engine/leakage.py; idle macro periphery and wake-ups are added there by policy)."""
        return standby_sources(self.ctx).standby_power_w(self.chip.power_gating)

    def _area(self) -> dict[str, float]:
        area = {f"macro_{k.removesuffix('_um2')}": float(v) * self.accel.n_macros
                for k, v in self.macro.area().as_dict().items() if not k.startswith("total")}
        bits = (self.chip.global_buffer_kib + self.chip.tiles * self.tile.buffer_kib) * 8192
        area["sram_buffers"] = bits * self.chip.sram_area_um2_per_bit
        area["digital_units"] = self.chip.tiles * self.du.area_um2
        return area

    def _note_assumptions(self) -> None:
        a = self.assumptions
        a.append(f"activity: input-bit density {self.opts.activity}, AND density {self.opts.activity * 0.5} "
                 "(stated default, A)" + (" for the layers and phases not measured" if self._measured_layers else ""))
        if self.measured is not None:
            a.extend(_measured_notes(self.measured, self._measured_layers, len(self._measured_writes),
                                     self.opts.flip_prob))
        m = self.macro
        a.append(f"macro: {m.organisation} organisation, {m.input_bits_per_cycle} input bit(s) per cycle, activity "
                 f"model {m.activity_model}, adder tree in {m.tree_stages} stage(s) at {m.clock_mhz:g} MHz "
                 f"(unpipelined limit {m.max_clock_mhz:.0f} MHz)")
        if any(op.phase == "backward_error" and op.kind == "mvm" for op in self.ctx.step.ops):
            a.append({"transposed-array": "backward error read through the same array transposed, priced as a "
                                          "forward MVM step (A)",
                      "digital": "backward error computed on the tile digital units (fp32)",
                      "transposed-copy": "backward error on a transposed copy of the weights, which is written "
                                         "at every update too (A)"}[self.opts.backward])
        if self.streamed:
            a.append(f"{len(self.streamed)} layers do not fit and are streamed from DRAM "
                     f"({self.mapping.policy}); each reload rewrites the pool macros")
        a.append(f"layer outputs travel {NOC_HOPS} NoC hop of {self.chip.tile_pitch_mm} mm (A)")
        a.append({"none": "nothing power-gated: idle macros' periphery, volatile cells and SRAM buffers leak over "
                          "the latency",
                  "macros": "idle macros power-gated (woken once per layer per step at a priced wake-up energy, A); "
                            "volatile cells and SRAM buffers leak over the latency",
                  "macros+buffers": "idle macros and empty SRAM buffer capacity power-gated (A); volatile cells and "
                                    "the buffers in use leak over the latency"}[self.chip.power_gating])
        a.extend(self.ctx.step.notes)


def _measurement(ctx: Context) -> Measurement | None:
    """The study's execution measurements (``options.measured``), checked against its workload."""
    folder = ctx.study.options.measured
    if not folder:
        return None
    meas = load_measurement(folder)
    graph = ctx.step.graph
    unknown = sorted({node for node, _ in meas.activity} - {n.name for n in graph.nodes})
    if unknown:
        from imcsim.errors import SpecError

        raise SpecError(None, "options.measured", folder, f"a run of workload {ctx.study.workload.name}",
                        problem=f"it measured layers the workload does not have ({', '.join(unknown[:4])}):")
    return meas


def _measured_notes(meas: Measurement, layers: set[str], written: int, flip_prob: float) -> list[str]:
    """The assumption lines saying what was measured by execution (and what it replaced)."""
    notes = []
    if layers:
        dens_in, dens_and = meas.mean_densities()
        notes.append(f"measured by execution ({meas.folder}; {meas.source}): activity of {len(layers)} layer "
                     f"phases, forward mean input-bit density {dens_in:.3f} and AND density {dens_and:.3f} "
                     "(replacing the default 0.5 / 0.25, A)")
    if written:
        notes.append(f"measured by execution: write cost of {written} layers from DeviceModel.write on "
                     f"{meas.steps} executed updates, flip rate {meas.flip_rate():.4f} of the bits (replacing "
                     f"flip_prob {flip_prob}, A); hottest-cell wear summed per weight over the run")
    return notes


@dataclass(frozen=True)
class _Assumed:
    """An activity given as densities (duck-types :class:`~imcsim.circuit.activity.Activity`)."""

    in_bits: int
    w_bits: int
    mean_input_density: float
    mean_and_density: float


def _activity(activity: float, macro: MacroConfig) -> Any:
    """None means the macro model's stated default (0.5 / 0.25); another value sets the input density,
    with weight bits 1 half the time (A)."""
    if math.isclose(activity, 0.5):
        return None
    return _Assumed(macro.in_bits, macro.w_bits, activity, activity * 0.5)


# Pure functions of hashable inputs, memoised: a training step prices a layer in forward and backward,
# and a sweep revisits the same layer on the same macro for every non-geometric axis.
@lru_cache(maxsize=1 << 16)
def _layer_cost(macro: MacroConfig, tiles: tuple, steps: int, activity: Any, replicas: int):
    return layer_cost(macro, tiles, steps, activity, replicas=replicas)


@lru_cache(maxsize=1 << 16)
def _expected_write(device: DeviceModel, weights: float, bits: int, policy: str, flip_prob: float) -> WriteCost:
    return device.expected_write(weights, bits=bits, policy=policy, flip_prob=flip_prob)


def price_step(ctx: Context) -> PricedStep:
    return _Pricer(ctx).price()
