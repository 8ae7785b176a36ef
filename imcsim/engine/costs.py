"""Pricing a training step on an accelerator: the ONE place every op gets its cycles and energy.

Both engines call :func:`price_step`; they differ only in how they turn the resulting stages into a
latency (:mod:`imcsim.engine.schedule`). Macro costs come from :mod:`imcsim.circuit.macro`, writes
from the device model, everything else from the accelerator spec. Each assumption made here is
appended to ``PricedStep.assumptions`` so that reports can say what a result rests on.

Per op (``StepOp``):

- ``mvm`` on an array-resident layer: :func:`~imcsim.circuit.macro.layer_cost` over the layer's tiles
  (energy of M steps, latency of ceil(M / replicas) steps), row-tile partial sums added in the tile
  accumulator (acc_bits full adders each), input read from and output written to the tile buffer at
  the activation width, and the output sent over the NoC to its consumers' tiles by the placement's XY
  routes (engine/noc.py: each forward edge that crosses tiles, bits x hops; a backward output one hop, A).
  The backward-
  error MVM (``transposed``) runs, per ``backward``: on the same array read transposed (priced as a
  forward step with the op's own M: A), on the digital unit as a GEMM, or on a transposed copy (its own
  macros, written at every update as well). With ``options.error_bits: 16`` the error runs through the
  array as two 8-bit passes (high and low byte, as ``imcsim train --error-bits 16`` executes it): twice the
  cycles and macro energy, plus one add per output and step joining the passes in the tile accumulator
  (acc_bits full adders; pipelined behind the passes, no cycles: A).
- ``gemm`` of a conv/linear weight gradient under ``options.wgrad: array`` (the default, as ``imcsim train``
  runs it): on bit-serial SRAM scratch macros, the batch's errors written in as the stationary operand and the
  activation codes streamed (:meth:`_Pricer.wgrad_array`; docs/execution.md), once per batch.
- other ``gemm`` and ``vector``: on the digital units of all tiles pooled (chip throughput =
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property, lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from imcsim.circuit.macro import COMPONENTS as MACRO_COMPONENTS
from imcsim.circuit.macro import (
    DEFAULT_TOGGLE_DENSITY,
    AreaBreakdown,
    LayerCosts,
    MacroConfig,
    TileTable,
    activity_densities,
    layer_costs,
    layer_costs_many,
)
from imcsim.device.base import DeviceModel, WriteCost
from imcsim.engine.context import Context, _device
from imcsim.engine.leakage import MASTER_BYTES, master_copy_bytes, standby_sources
from imcsim.engine.ledger import COMPONENT_INDEX, COMPONENTS, OpTable, WriteSummary
from imcsim.engine.measured import Measurement, PricedReload, load_measurement, measured_write, reload_plan
from imcsim.engine.noc import Traffic, forward_traffic, noc_cycles, noc_energy_pj
from imcsim.engine.schedule import Barrier, Item, Stage, resource_kind
from imcsim.mapping.layer import LayerMapping, _map_gemm, map_layer, round_step_cycles, step_cycles
from imcsim.memo import IdentityMemo
from imcsim.workload.step import StepOp

POOL = "macros:pool"
DIGITAL = "digital"
NOC = "noc"
DRAM = "dram"
NOC_HOPS = 1  # A: a backward op's output travels to a neighbouring tile (forward: engine/noc.py)
#: A: without executed weights, a reload rewrites a pool that held another layer: half the bits flip
RELOAD_FLIP_PROB = 0.5
FP32_BYTES = 4
#: bytes per operand of the digital unit at its ``tile.digital_unit.precision``
PRECISION_BYTES = {"int8": 1, "fp16": 2, "fp32": 4}


class _WriteTerms(NamedTuple):
    """A write's cost as :class:`~imcsim.device.base.WriteCost` holds it (its fields, in its order), without
    the dataclass: what :meth:`_Pricer._array_write_terms` gives."""

    pulses: float
    energy_pj: float
    latency_ns: float
    cells_written: float
    verify_reads: float
    rmw_reads: float
    max_cell_wear: float


assert _WriteTerms._fields == tuple(f.name for f in fields(WriteCost))
_NO_WRITE = _WriteTerms(*(float(getattr(WriteCost(), n)) for n in _WriteTerms._fields))


@dataclass
class PricedStep:
    """The step as the engines see it: timed items, per-op records, its writes, and what it rests on."""

    items: list[Item]
    records: OpTable
    exclusive: set[str]
    writes: WriteSummary     # every array write of the step (engine/ledger.py); evaluation finishes it
    standby_power_w: float
    area_um2: dict[str, float]
    assumptions: list[str]
    mapping_summary: dict[str, Any]
    #: per op (per sample): (port, bytes) through a buffer port: "tile" (the layer's tile buffer),
    #: "global" (the global buffer) or "tiles" (all tile buffers, for work pooled on every digital unit);
    #: read-only (points that price alike share it, as they share their items)
    port_bytes: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: what execution measured and the stated defaults it replaces (``Result.measured`` / ``assumed``)
    measured: dict[str, float] = field(default_factory=dict)
    assumed: dict[str, float] = field(default_factory=dict)
    #: one-time write of every resident weight (deployment), reported apart from the step
    deploy: WriteCost = field(default_factory=WriteCost)
    #: what decides the items' ops and resources in order: the priced shape and the slots that gave no item
    #: (points of one shape differ only in cycles: the row estimate's skeleton is memoised on it)
    structure: tuple = ()
    #: the chip's standby sources (engine/leakage.py ``standby_sources``: what ``standby_power_w`` and the
    #: result's leakage by source read)
    standby: Any = None

    def macro_busy_cycles(self) -> float:
        """Macro-cycles of compute (MVM ops x their macros), the same for both engines."""
        return self.records.macro_busy_cycles()

    def op_energy_pj(self) -> dict[str, float]:
        """Energy of the priced ops by component (their busy leakage included, chip standby leakage not)."""
        return self.records.energy_by_component()


#: the component columns of an MVM op's record, in the order it lists them
_MVM_ORDER = tuple(COMPONENT_INDEX[c] for c in (*MACRO_COMPONENTS, "buffer", "noc"))
#: the macro components' columns, as an index array
_MACRO_COLUMNS = np.array(_MVM_ORDER[:len(MACRO_COMPONENTS)])
#: a weight gradient on scratch macros also writes its errors into them
_SCRATCH_ORDER = (*_MVM_ORDER, COMPONENT_INDEX["write"])
_DIGITAL_ORDER = (COMPONENT_INDEX["digital_unit"], COMPONENT_INDEX["buffer"], COMPONENT_INDEX["noc"])
_PENDING = "pending"  # an item whose cycles the vectorised pass fills in
_SLOT = "slot"        # an item priced per point (writes, reloads, spills: they depend on the write options)
_SPILL_NOTE = "<spill note>"  # where the spill's assumption goes among the walk's
_SRAM_NOTE = "re-trained weights in SRAM arrays of the same geometry (Hyb-Learn split)"
#: (AreaBreakdown field, area key) of each macro area component (:meth:`_Pricer._area`)
_AREA_KEYS = tuple((f.name, f"macro_{f.name.removesuffix('_um2')}") for f in fields(AreaBreakdown)
                   if not f.name.startswith("total"))


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
        self.activity = _activity(self.opts.activity, self.macro)
        self.measured = _measurement(ctx)
        self._measured_layers: set[str] = set()
        self._measured_toggles: set[str] = set()
        self._toggle_mismatch: set[int | None] = set()   # tree sizes a run counted toggles for, not this macro's
        self._measured_writes: list[float] = []  # exact / closed-form write energy, per measured layer
        self._reloads: list[PricedReload] | None = None   # reloads priced from the executed weights, in order
        self._measured_reloads = 0                # of them, priced so far
        self._reload_flips = (0, 0)               # bits flipped, bits written by the measured reloads
        self._reload_wear = 0.0                   # the hottest pool cell's wear per step (measured reloads)
        self._bases: list[str] = []               # per record: what its data-dependent figures rest on
        self.assumptions: list[str] = []
        self.writes = WriteSummary()
        # The step is priced in three layers, each memoised on what it reads (see _shape_of and _numbers_of):
        # its shape (records, items in chain order, what each MVM / vector / GEMM op is), the numbers of its
        # MVM, vector and GEMM ops (numpy over all of them at once) on this chip, and, per point, the writes,
        # reloads and spills (they depend on the write options a sweep changes alone).
        self._rec: list[tuple[str, str, str, str, str, int, int, int, int]] = []
        self._orders: list[tuple[int, ...]] = []
        # (record, layer, sram?, steps, replicas, rounds, activity, node, in bytes, out bytes, passes, scratch GEMM)
        self._mvm: list[tuple] = []
        self._vec: list[tuple[int, int, float]] = []          # (record, element ops, bytes per element)
        self._gemm: list[tuple[int, int, tuple[int, int, int, int]]] = []  # (record, MACs, GEMM shape)
        self._ports: list[tuple[str, str, int]] = []          # (op, port, record)
        self.items: list[Any] = []
        self._slots: list[tuple[str, Any, int]] = []
        self._notes: list[Any] = []      # assumptions met on the walk (_SPILL_NOTE: where the spill's goes)
        self._spill_note: str | None = None
        self._sram_macro: MacroConfig | None = None
        self._sram_layers: dict[str, LayerMapping] = {}
        self._loaded: str | None = None  # streamed layer currently in the pool
        self.du_bytes = PRECISION_BYTES[self.du.precision]
        self._noc_hops = 0               # forward crossing hops of the placement (numbers), for the assumptions
        self._shape: _Shape | None = None  # the priced shape, once looked up (prime_layer_costs, then price)
        self._side: tuple | None = None    # its MVM rows' mapping side (_mvm_side), when prime_layer_costs looked
        #: the plain MVM rows' macro energy per step and cycles, when prime_layer_costs priced them with its batch
        self._plain_rows: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def layers(self) -> dict[str, LayerMapping]:
        """The mapping's layers by name (built when a per-point price reads one: writes, reloads, rounds)."""
        return {lm.name: lm for lm in self.mapping.layers}

    @cached_property
    def streamed(self) -> set[str]:
        """The layers that do not fit and stream from DRAM."""
        return set(self.mapping.reloaded)

    # -------------------------------------------------------------- helpers
    def _act_bytes(self, phase: str) -> float:
        # INT8 activations through the arrays in forward; errors and gradients at the digital unit's precision
        # (tile.digital_unit.precision, fp32 in the presets) in backward (A), at least the error width
        return self.macro.in_bits / 8 if phase == "forward" else max(self.du_bytes, self.opts.error_bits // 8)

    def _record(self, name: str, node: str, phase: str, kind: str, resource: str, executions: int, *,
                macs: int = 0, weights_written: int = 0, order: tuple[int, ...] = (), basis: str = "") -> int:
        """Add one op record (its cycles, energy and macros come from the numbers or a slot); ``basis``: what
        its data-dependent figures rest on (``OpRecord.basis``; "" when they depend on no data)."""
        self._rec.append((name, node, phase, kind, resource, executions, macs, weights_written, 0))
        self._orders.append(order)
        self._bases.append(basis)
        return len(self._rec) - 1

    def _slot(self, method: str, arg: Any, rec: int) -> tuple:
        """An item priced per point by ``method(arg, rec) -> (cycles, energy per execution, macros, item)``."""
        self._slots.append((method, arg, rec))
        return (_SLOT, len(self._slots) - 1)

    def _write_waves(self, macros: int) -> int:
        per_wave = self.tile.write_drivers * max(1, min(self.chip.tiles, -(-macros // int(self.tile.macros or 1))))
        return -(-macros // per_wave)

    def _array_write(self, device: DeviceModel, weights: float, macros: int, flip_prob: float,
                     policy: str) -> tuple[WriteCost, float]:
        """Cost of writing ``weights`` spread over ``macros`` macros, and its latency in ns."""
        terms = self._array_write_terms(device, weights, macros, flip_prob, policy)
        return WriteCost(*terms), terms.latency_ns

    def _array_write_terms(self, device: DeviceModel, weights: float, macros: int, flip_prob: float,
                           policy: str) -> _WriteTerms:
        """:meth:`_array_write`'s cost as plain numbers (what ``WriteCost.sequence`` reads of a cost: the deploy
        adds up dozens per array geometry)."""
        if weights <= 0 or macros <= 0:
            return _NO_WRITE
        per_macro = _expected_write(device, weights / macros, self.macro.w_bits, policy, flip_prob)
        # the macros are written in parallel waves: counts and energy scale, wear does not
        return _WriteTerms(per_macro.pulses * macros, per_macro.energy_pj * macros,
                           per_macro.latency_ns * self._write_waves(macros), per_macro.cells_written * macros,
                           per_macro.verify_reads * macros, per_macro.rmw_reads * macros, per_macro.max_cell_wear)

    def _dram(self, nbytes: float, write: bool = False) -> tuple[float, float]:
        """(energy pJ, cycles) of reading (or writing) ``nbytes`` over the DRAM channels, all in parallel."""
        ns = nbytes / self.chip.dram_bandwidth_gb_per_s  # bytes / (GB/s) = ns
        per_bit = self.chip.dram_write_energy_pj_per_bit if write else self.chip.dram_read_energy_pj_per_bit
        return nbytes * 8 * per_bit, ns / self.cycle_ns

    # -------------------------------------------------------------- op kinds
    # mvm, digital_gemm and vector record what the op is; _price_tables prices all of them at once.
    def mvm(self, op: StepOp) -> list[Item]:
        layer = op.node
        backward = op.phase == "backward_error"
        mode = self.opts.backward if backward else "forward"
        if mode == "digital":
            return self.digital_gemm(op)
        items: list[Any] = []
        sram = op.location == "sram"
        if sram:
            self._sram_macro_cfg()
            resource, replicas = f"sram_macros:{layer}", 1
        else:
            replicas = self.mapping.replicas.get(layer, 1)
            if layer in self.streamed:
                items += self._reload(layer, op.phase)
                resource = POOL
            else:
                resource = f"macros_T:{layer}" if mode == "transposed-copy" else f"macros:{layer}"
        node = self.ctx.step.graph[layer]
        steps = op.gemm[1] if op.gemm else int(node.gemm_shape()[1])
        rounds = self.mapping.reload_rounds.get(layer, 1) if resource == POOL else 1
        passes = self.opts.error_bits // 8 if backward else 1   # 8-bit passes of the error operand
        activity, basis = self._activity_of(layer, op.phase)
        rec = self._record(op.name, layer, op.phase, "mvm", resource, self.batch, macs=op.macs, order=_MVM_ORDER,
                           basis=basis)
        self._record(op.name + ":noc", layer, op.phase, "noc", NOC, self.batch)
        act_b = self._act_bytes(op.phase)
        in_el, out_el = (node.out_elems, node.in_elems) if backward else (node.in_elems, node.out_elems)
        self._mvm.append((rec, layer, sram, steps, replicas, rounds, activity, node, in_el * act_b, out_el * act_b,
                          passes, None))
        self._ports.append((op.name, "tile", rec))
        return items + [(_PENDING, op.name, resource, rec), (_PENDING, op.name + ":noc", NOC, rec + 1)]

    def _wgrad_on_array(self, op: StepOp) -> bool:
        """A conv/linear weight gradient priced on bit-serial scratch macros (``options.wgrad: array``)."""
        return (self.opts.wgrad == "array" and op.phase == "weight_gradient" and op.name.endswith(":wgrad:weight")
                and self.ctx.step.graph[op.node].op in ("conv", "linear"))

    def wgrad_array(self, op: StepOp) -> list[Item]:
        """The weight gradient dW = X^T E of a conv/linear on bit-serial SRAM scratch macros, as ``imcsim train
        --wgrad array`` executes it: per group, the batch's INT8 errors (B x M rows, og columns) are written
        into scratch macros as the stationary operand, and the kg im2col rows of activation codes are streamed
        through them bit-serially (kg steps, each summing B x M products per output). Once per batch (a
        barrier: it needs every sample's error). Cycles and energy from the one macro cost formula
        (``layer_costs``) on the scratch macros' tiles; the errors' write from the SRAM device model; a 16-bit
        error is two 8-bit passes (two digits written, twice the cycles and macro energy). A: the scratch
        macros are SRAM of the array macro's geometry, as many as the error tensor needs, outside the layer
        count of the chip (their area and idle leakage are not priced)."""
        node = self.ctx.step.graph[op.node]
        g, kg, m, og = (int(v) for v in op.gemm)
        self._sram_macro_cfg(note=False)
        activity, basis = self._activity_of(op.node, op.phase)
        resource = f"sram_macros:{op.name}"
        passes = self.opts.error_bits // 8
        rec = self._record(op.name, op.node, op.phase, "mvm", resource, 1, macs=op.macs * self.batch,
                           order=_SCRATCH_ORDER, basis=basis)
        self._record(op.name + ":noc", op.node, op.phase, "noc", NOC, 1)
        # read once per batch: the input maps (activation codes) and the errors; written: the gradient
        in_bytes = self.batch * (node.in_elems * self.macro.in_bits / 8 + node.out_elems * self.opts.error_bits / 8)
        out_bytes = g * kg * og * self.du_bytes
        self._mvm.append((rec, op.node, True, kg, 1, 1, activity, node, in_bytes, out_bytes, passes,
                          (g, kg, m * self.batch, og)))
        self._ports.append((op.name, "tile", rec))
        return [(_PENDING, op.name, resource, rec, True), (_PENDING, op.name + ":noc", NOC, rec + 1, True)]

    def digital_gemm(self, op: StepOp) -> list[Item]:
        executions = 1 if op.batch_shared else self.batch
        rec = self._record(op.name, op.node, op.phase, "gemm", DIGITAL, executions, macs=op.macs, order=_DIGITAL_ORDER)
        self._gemm.append((rec, op.macs, op.gemm))
        self._ports.append((op.name, "global", rec))
        return [(_PENDING, op.name, DIGITAL, rec, op.batch_shared)]

    def vector(self, op: StepOp) -> list[Item]:
        width = self._act_bytes(op.phase) if not op.batch_shared else self.du_bytes
        executions = 1 if op.batch_shared else self.batch
        rec = self._record(op.name, op.node, op.phase, "vector", DIGITAL, executions, order=_DIGITAL_ORDER)
        self._vec.append((rec, op.macs, width))
        self._ports.append((op.name, "tiles", rec))
        return [(_PENDING, op.name, DIGITAL, rec, op.batch_shared)]

    def numbers(self, shape: _Shape) -> _Numbers:
        """Cycles, per-step energy, macros and buffer-port bytes of the shape's MVM, vector and GEMM ops on
        this chip (numpy over all of them: the same formulas, in the same order, as one op at a time); the
        deployment write, standby power, area and mapping summary."""
        chip, tile, du = self.chip, self.tile, self.du
        # the vector and GEMM ops do not depend on the arrays: their numbers, stages and port bytes are memoised
        # on the shape and the digital unit's, buffers' and chip's figures; the MVM rows are filled in per point
        base = _DIGITAL.get((shape,), (chip.tiles, du.vector_ops_per_cycle, du.energy_pj_per_vector_op,
                                       du.macs_per_cycle, du.energy_pj_per_mac, tile.buffer_read_pj_per_byte,
                                       tile.buffer_write_pj_per_byte, chip.global_buffer_read_pj_per_byte,
                                       chip.global_buffer_write_pj_per_byte, self.du_bytes),
                            lambda: self._digital(shape))
        energy = base.energy.copy()
        traffic = forward_traffic(self.ctx.step, self.mapping, chip.tiles, int(tile.macros or 1), self.macro.in_bits / 8)
        noc = _NOC.get((traffic, shape), (chip.noc_width_bits, chip.noc_hop_latency_cycles, chip.tile_pitch_mm,
                                          chip.noc_energy_pj_per_bit_per_mm), lambda: self._noc_terms(shape, traffic))
        side = self._side
        if shape.mvm and side is None:
            side = _MVM_SIDE.get((self.mapping.tile_table, shape), (), lambda: self._mvm_side(shape))
        if side is not None and side[5] is not None:
            # every MVM row plain: their port bytes depend on the shape alone (the digital part has them)
            cycles, macros = self._price_plain_mvms(shape.mvm, side, noc, base, energy)
            port_bytes = base.plain_port_bytes
        else:
            cycles = list(base.cycles)
            macros = [0] * len(cycles)
            port: dict[int, float] = dict(base.port)
            if side is not None:
                self._price_mvms(shape, side, noc, energy, cycles, macros, port)
            port_bytes = dict(base.port_bytes)
            for name, kind, r in base.pending_ports:
                port_bytes[name] = (kind, port[r])
        energy.put(noc.heads_at, noc.heads_pj)
        # the finished items (slot markers where the writes, reloads and spill go), then this point's MVM stages
        # and barriers, put in item order by the shape's permutation: C-level loops (a point has dozens)
        made = base.fixed + list(map(tuple.__new__, repeat(Stage), zip(
            base.pending_ops, base.pending_resources, base.pick_cycles(cycles))))
        if base.shared_noc:
            made += noc.stages
        made += [Barrier((Stage(name, resource, cycles[r]),)) for _, name, resource, r in base.pending_barriers]
        items = list(base.pick_items(made))
        mapping = self.mapping.summary()   # a new dict (utilisation and chip_fill come from the mapper)
        # volatile cells of every macro plus the SRAM buffers the power-gating policy leaves on (engine/leakage.py;
        # idle macro periphery and wake-ups are added there by policy, from the same sources)
        standby = standby_sources(self.ctx)
        return _Numbers(cycles, energy, macros, items, port_bytes,
                        _DEPLOY.get((self.ctx.device, self.mapping.layers),
                                    (self.mapping.resident, tuple(self.mapping.replicas.values()), self.macro.w_bits,
                                     self.tile.write_drivers, chip.tiles, int(tile.macros or 1)), self._deploy),
                        standby.standby_power_w(chip.power_gating), self._area(), mapping, noc.hops,
                        standby=standby)

    def _digital(self, shape: _Shape) -> _Digital:
        """The vector and GEMM ops of a shape on this chip's digital units (:meth:`numbers`): their energy rows,
        cycles and port bytes, their finished stages, and where the MVM rows' stages and port bytes go."""
        n = len(shape.columns[0])
        energy = np.zeros((n, len(COMPONENTS)))
        cycles: list[Any] = [0.0] * n
        port: dict[int, float] = {}
        chip, tile = self.chip, self.tile
        if shape.vec:
            rec, macs, width, executions = shape.vec
            cyc = macs / (self.du.vector_ops_per_cycle * chip.tiles)
            energy[rec, COMPONENT_INDEX["digital_unit"]] = macs * self.du.energy_pj_per_vector_op * executions
            energy[rec, COMPONENT_INDEX["buffer"]] = (macs * width * (tile.buffer_read_pj_per_byte
                                                                       + tile.buffer_write_pj_per_byte)) * executions
            for r, c, b in zip(rec.tolist(), cyc.tolist(), (macs * width * 2).tolist()):
                cycles[r] = c
                port[r] = b
        if shape.gemm:
            rec, macs, (g, m, k, nn), executions = shape.gemm
            cyc = macs / (self.du.macs_per_cycle * chip.tiles)
            nbytes_in = g * (m * k + k * nn) * self.du_bytes
            nbytes_out = g * m * nn * self.du_bytes
            energy[rec, COMPONENT_INDEX["digital_unit"]] = macs * self.du.energy_pj_per_mac * executions
            energy[rec, COMPONENT_INDEX["buffer"]] = (nbytes_in * chip.global_buffer_read_pj_per_byte
                                                      + nbytes_out * chip.global_buffer_write_pj_per_byte) * executions
            for r, c, b in zip(rec.tolist(), cyc.tolist(), (nbytes_in + nbytes_out).tolist()):
                cycles[r] = c
                port[r] = b
        mvm = set(shape.mvm.rec.tolist()) if shape.mvm is not None else set()
        mvm |= {r + 1 for r in mvm}   # each MVM's NoC op
        items: list[Any] = []
        pending = []      # (position, op, resource, record) of each MVM stage
        barriers = []     # the same of each MVM stage that is a barrier of its own
        for i, it in enumerate(shape.items):
            if it[0] == _PENDING and it[3] in mvm:
                (barriers if len(it) > 4 and it[4] else pending).append((i, it[1], it[2], it[3]))
                items.append(None)
            elif it[0] == _PENDING:
                stage = Stage(it[1], it[2], cycles[it[3]])
                items.append(Barrier((stage,)) if len(it) > 4 and it[4] else stage)
            else:
                items.append(it)
        port_bytes = {name: (kind, port.get(r)) for name, kind, r in shape.ports}
        pending_ports = tuple((name, kind, r) for name, kind, r in shape.ports if r in mvm)
        plain_port_bytes = None
        if shape.mvm is not None and _plain(shape.mvm):
            # their buffer energy too: the input map read and the output map written once (_mvm_buffer_pj)
            energy[shape.mvm.rec, COMPONENT_INDEX["buffer"]] = _mvm_buffer_pj(shape.mvm, tile) * shape.mvm.executions
            # plain MVM rows read their input and write their output once: bytes of the shape alone
            mvm_port = dict(zip(shape.mvm.rec.tolist(), (shape.mvm.in_bytes + shape.mvm.out_bytes).tolist()))
            plain_port_bytes = {**port_bytes, **{name: (kind, mvm_port[r]) for name, kind, r in pending_ports}}
        # the MVM rows' NoC stages: when they are the placement's (_NocTerms.stages: a plain shape's, in its MVM
        # rows' order) every point with that placement shares them; else each point makes them
        own, shared = pending, []
        if plain_port_bytes is not None and not barriers:
            noc_records = (shape.mvm.rec + 1).tolist()
            at = set(noc_records)
            nocs = [p for p in pending if p[3] in at]
            if [(p[1], p[2], p[3]) for p in nocs] == [(shape.columns[0][r], NOC, r) for r in noc_records]:
                own, shared = [p for p in pending if p[3] not in at], nocs
        columns = tuple(zip(*own)) or ((), (), (), ())
        fixed = [it for it in items if it is not None]
        made = {**{i: k for k, i in enumerate(columns[0], len(fixed))},
                **{p[0]: k for k, p in enumerate(shared, len(fixed) + len(own))},
                **{b[0]: k for k, b in enumerate(barriers, len(fixed) + len(own) + len(shared))}}
        order, k = [], 0
        for i, it in enumerate(items):
            if it is None:
                order.append(made[i])
            else:
                order.append(k)
                k += 1
        return _Digital(energy, cycles, port, fixed, _picker(tuple(order)), *columns[1:], _picker(columns[3]),
                        bool(shared), tuple(barriers), port_bytes, pending_ports, plain_port_bytes,
                        np.array(cycles, dtype=float))

    def _noc_terms(self, shape: _Shape, traffic: Traffic) -> _NocTerms:
        """The NoC terms of a shape under a placement's traffic (what :meth:`numbers` reads of it)."""
        chip = self.chip
        names, phases = shape.columns[0], shape.columns[2]
        mvm_pj, mvm_cycles = np.zeros(0), np.zeros(0)
        v = shape.mvm
        if v is not None:
            crossings = [self._crossings(traffic, names[r], phases[r], b * 8)
                         for r, b in zip(v.rec.tolist(), v.out_bytes.tolist())]
            mvm_pj = np.array([self._noc_energy_pj(c) for c in crossings])
            mvm_cycles = np.array([noc_cycles(c, chip.noc_width_bits, chip.noc_hop_latency_cycles)
                                   for c in crossings], dtype=float)
        # a forward vector or GEMM op that heads a group of its own (no producer with weights, engine/noc.py)
        # carries its group's crossings: their energy only (its time is the digital unit's stage)
        heads = []
        for part in (shape.vec, shape.gemm):
            for r in (part[0].tolist() if part else ()):
                name = names[r]
                if phases[r] == "forward" and name in traffic.crossings and traffic.group.get(name) == name:
                    heads.append((r, self._noc_energy_pj(traffic.crossings[name])))
        executions = shape.columns[5]
        # each MVM row's NoC stage (its crossings' cycles: the placement's), shared by the points that keep it
        stages = tuple(Stage(names[r + 1], NOC, c) for r, c in zip(v.rec.tolist(), mvm_cycles.tolist())) if v is not None else ()
        return _NocTerms(mvm_pj * v.executions if v is not None else mvm_pj, mvm_cycles,
                         np.array([r for r, _ in heads], dtype=np.int64) * len(COMPONENTS) + COMPONENT_INDEX["noc"],
                         np.array([pj * executions[r] for r, pj in heads], dtype=float),
                         sum(h for c in traffic.crossings.values() for _, h in c), stages)

    def _noc_energy_pj(self, crossings: tuple[tuple[float, int], ...]) -> float:
        """NoC energy of ``(bits, hops)`` crossings (engine/noc.py's formula) on this chip."""
        return noc_energy_pj(crossings, self.chip.tile_pitch_mm, self.chip.noc_energy_pj_per_bit_per_mm)

    def _crossings(self, traffic: Traffic, name: str, phase: str, out_bits: float) -> tuple[tuple[float, int], ...]:
        """The NoC crossings an MVM op pays for: in forward its group's (engine/noc.py; none when the op runs
        with another op's group), else its output over NOC_HOPS hops (A)."""
        if phase != "forward":
            return ((out_bits, NOC_HOPS),)
        return traffic.crossings.get(name, ()) if traffic.group.get(name) == name else ()

    def _price_mvms(self, shape: _Shape, side: tuple, noc_terms: _NocTerms, energy: np.ndarray, cycles: list[Any],
                    macros: list[int], port: dict[int, float]) -> None:
        """Every MVM op: the macro's layer cost over the layer's tiles (energy of M steps, latency of
        ceil(M / replicas) steps), row-tile partial sums added in the tile accumulator (acc_bits full adders
        each), the input feature map read once from the tile buffer and the output map written once (the
        im2col window reuse happens in the input registers; backward swaps the two), and the NoC crossings
        of :meth:`_crossings`, one after the other in time (A). A streamed layer with more tiles than the pool
        has macros runs in rounds."""
        tile = self.tile
        v = shape.mvm
        rows = len(v.rec)
        macro6 = np.zeros((rows, len(MACRO_COMPONENTS)))
        cyc = np.zeros(rows)
        acc_bits = np.zeros(rows, dtype=np.int64)
        fa_fj = np.zeros(rows)
        row_tiles = np.zeros(rows, dtype=np.int64)
        layer_macros = np.zeros(rows, dtype=np.int64)
        for is_sram in (False, True):
            sel = side[4] if is_sram else side[0]
            if not len(sel):
                continue
            if is_sram:
                macro = self._sram_macro_cfg(note=False)
                lms = [self._scratch_layer(v.scratch[i], v.layers[i], macro) if v.scratch[i] else
                       self._sram_layer(v.layers[i]) for i in sel.tolist()]
                tiles = TileTable.of([lm.tiles for lm in lms])
                row_tiles[sel] = [lm.row_tiles for lm in lms]
                layer_macros[sel] = [lm.macros for lm in lms]
            else:
                macro, tiles = self.macro, side[1]
                row_tiles[sel] = side[2]
                layer_macros[sel] = side[3]
            dens = v.densities_sram if is_sram else v.densities
            lc = layer_costs(macro, tiles, v.steps[sel], dens[0][sel], dens[1][sel], v.replicas[sel])
            macro6[sel] = lc.energy_pj
            cyc[sel] = lc.cycles
            acc_bits[sel] = macro.acc_bits
            fa_fj[sel] = macro.gates.fa_fj
        partial_adds = np.maximum(row_tiles - 1, 0) * v.steps * v.outs
        macro6[:, MACRO_COMPONENTS.index("shift_accumulate")] += partial_adds * acc_bits * fa_fj * 1e-3
        in_bytes, out_bytes = v.in_bytes, v.out_bytes
        buffer = _mvm_buffer_pj(v, tile)
        ports = (in_bytes + out_bytes).tolist()
        cyc_l, buffer_l = cyc.tolist(), buffer.tolist()
        mac_l = (layer_macros * v.replicas).tolist()
        for i in np.flatnonzero(v.rounds > 1).tolist():
            lm = self.layers[v.layers[i]]
            cyc_l[i], buffer_l[i], ports[i] = self._rounds(lm, int(v.steps[i]), int(v.replicas[i]), int(v.rounds[i]),
                                                           cyc_l[i], buffer_l[i], float(in_bytes[i]),
                                                           float(out_bytes[i]))
            mac_l[i] = min(lm.macros, self.mapping.pool_macros)
        if (v.passes > 1).any():
            # a 16-bit error: the MVM runs once per 8-bit pass; the passes' outputs are joined by one add per
            # output and step (the high pass shifted by 8: acc_bits full adders)
            extra = v.passes - 1
            macro6 *= v.passes[:, None]
            macro6[:, MACRO_COMPONENTS.index("shift_accumulate")] += extra * v.steps * v.outs * acc_bits * fa_fj * 1e-3
            cyc_l = [c * p for c, p in zip(cyc_l, v.passes.tolist())]
        scratch_write = np.zeros(rows)
        for i, gemm in enumerate(v.scratch):
            if gemm:
                # the batch's error digits written into the weight gradient's scratch macros before its passes
                # (the SRAM device's closed-form write, every bit rewritten: A), one after the other in time
                g, _, m_rows, og = gemm
                cost, latency_ns = self._array_write(_device("sram"), g * m_rows * og * int(v.passes[i]),
                                                     int(layer_macros[i]), 0.5, "all")
                scratch_write[i] = cost.energy_pj
                cyc_l[i] += latency_ns / self.cycle_ns
        noc_cycles = noc_terms.mvm_cycles
        rec, executions = v.rec, v.executions
        energy[rec[:, None], _MACRO_COLUMNS] = macro6 * executions[:, None]
        energy[rec, COMPONENT_INDEX["buffer"]] = np.array(buffer_l) * executions
        energy[rec, COMPONENT_INDEX["noc"]] = noc_terms.mvm_pj
        energy[rec, COMPONENT_INDEX["write"]] = scratch_write * executions   # MVM rows write nothing else
        for r, c, nc, b, mc in zip(rec.tolist(), cyc_l, noc_cycles.tolist(), ports, mac_l):
            cycles[r] = c
            cycles[r + 1] = nc
            port[r] = b
            macros[r] = mc

    def _mvm_side(self, shape: _Shape) -> tuple:
        """What the MVM rows read of the mapping's layers: the rows on the array, their tile table, row tiles
        and macros (one copy); the rows on SRAM macros; and, when every row is a plain one (on the array, one
        round, one pass, no scratch write), what :meth:`_price_plain_mvms` reuses: the row-tile partial sums
        per sample, the port bytes and the macros with replicas (else None). Memoised on the tile table
        (mappings of one array geometry share it, mapping/network.py) and the shape."""
        v = shape.mvm
        sel = np.flatnonzero(~v.sram)
        index = v.layer_index[sel]
        row_tiles, layer_macros = self.mapping.row_tiles[index], self.mapping.layer_macros[index]
        plain = None
        if _plain(v):
            macros = np.zeros(len(shape.columns[0]), dtype=np.int64)
            macros[v.rec] = layer_macros * v.replicas
            plain = (np.maximum(row_tiles - 1, 0) * v.steps * v.outs, macros.tolist(), v.rec + 1,
                     (v.rec[:, None] * len(COMPONENTS) + _MACRO_COLUMNS).ravel(),
                     v.rec * len(COMPONENTS) + COMPONENT_INDEX["noc"])
        return sel, self.mapping.tile_table.take(index), row_tiles, layer_macros, np.flatnonzero(v.sram), plain

    def _price_plain_mvms(self, v: _MvmRows, side: tuple, noc_terms: _NocTerms, base: _Digital,
                          energy: np.ndarray) -> tuple[list[float], list[int]]:
        """:meth:`_price_mvms` when every MVM row is plain (:meth:`_mvm_side`): the same formulas on the whole
        rows, without the selections, rounds, passes and scratch writes that do not apply. Fills ``energy``;
        gives the step's cycles and macros (the port bytes are the shape's: ``_Digital.plain_port_bytes``)."""
        macro = self.macro
        partial_adds, macros, noc_rec, macro_at, noc_at = side[5]
        if self._plain_rows is not None:   # priced with the batch's (prime_layer_costs)
            macro_pj, layer_cycles = self._plain_rows
        else:
            lc = _LAYER_COSTS.get((macro, side[1], v), (), lambda: layer_costs(*_plain_job(macro, side[1], v)))
            macro_pj = _plain_macro_energy(lc.energy_pj, partial_adds, macro.acc_bits, macro.gates.fa_fj, v.executions)
            layer_cycles = np.asarray(lc.cycles, dtype=float)
        # the buffer column of these rows is the shape's (_digital); the macro and NoC columns are this point's
        energy.put(macro_at, macro_pj)
        energy.put(noc_at, noc_terms.mvm_pj)
        cycles = base.cycles_array.copy()
        cycles.put(v.rec, layer_cycles)
        cycles.put(noc_rec, noc_terms.mvm_cycles)
        return cycles.tolist(), macros

    def _rounds(self, lm: LayerMapping, steps: int, replicas: int, rounds: int, cycles: float, buffer: float,
                in_bytes: float, out_bytes: float) -> tuple[float, float, float]:
        """More tiles than pool macros: the tiles run ``pool`` at a time, each round a stream of all M steps
        (and its pipeline fill) as slow as its slowest tile; the energy is that of the same steps. Every
        round reads the input map again; row tiles split over rounds leave partial sums (acc_bits per
        output) in the global buffer between rounds, written and read back."""
        macro = self.macro
        per_copy = -(-steps // replicas)
        fill = cycles - step_cycles(lm, macro) * per_copy
        cycles = sum(c * per_copy + fill for c in round_step_cycles(lm, macro, self.mapping.pool_macros))
        buffer += (rounds - 1) * in_bytes * self.tile.buffer_read_pj_per_byte
        if lm.row_tiles > 1:
            psum_bytes = (rounds - 1) * steps * lm.n * lm.groups * macro.acc_bits / 8
            buffer += psum_bytes * (self.chip.global_buffer_write_pj_per_byte
                                    + self.chip.global_buffer_read_pj_per_byte)
        return cycles, buffer, in_bytes * rounds + out_bytes

    def write(self, op: StepOp) -> list[Item]:
        """An update write: a record now, its cost per point (_write_cost)."""
        layer = op.node
        measured = op.location == "imc" and self.measured is not None and layer in self.measured.updates
        basis = "measured" if measured else "assumed"
        if op.location == "imc" and layer in self.streamed:
            # written back to DRAM: no cell flips to price
            rec = self._record(op.name, layer, "update", "write", DRAM, 1)
        elif op.location == "sram":
            self._sram_macro_cfg()
            rec = self._record(op.name, layer, "update", "write", f"sram_macros:{layer}", 1,
                               weights_written=op.weights, basis=basis)
        else:
            rec = self._record(op.name, layer, "update", "write", f"macros:{layer}", 1, weights_written=op.weights,
                               basis=basis)
        items = [self._slot("_write_cost", op, rec)]
        if MASTER_BYTES[self.opts.master_copy] and op.location == "imc" and op.weights > 0:
            master = self._record(f"{layer}:master", layer, "update", "buffer", DIGITAL, 1)
            items.append(self._slot("_master_cost", op, master))
        return items

    def _master_cost(self, op: StepOp, rec: int) -> tuple[float, dict[str, float], int, Item]:
        """The higher-precision master weights (``options.master_copy``), kept digitally in SRAM: every update
        reads them and writes them back once through the global buffer's port at its per-byte energies (A:
        the master copy is SRAM like the global buffer); the INT8 copy is then written to the arrays (the
        write op). Its capacity leaks (engine/leakage.py) and takes area (``_area``)."""
        nbytes = op.weights * MASTER_BYTES[self.opts.master_copy]
        energy = {"buffer": nbytes * (self.chip.global_buffer_read_pj_per_byte + self.chip.global_buffer_write_pj_per_byte)}
        cycles = 2 * nbytes / self.chip.global_buffer_bytes_per_cycle
        return cycles, energy, 0, Barrier((Stage(f"{op.node}:master", DIGITAL, cycles),))

    def _write_cost(self, op: StepOp, rec: int) -> tuple[float, dict[str, float], int, Item]:
        layer = op.node
        resource = self._rec[rec][4]
        energy: dict[str, float] = {}
        if resource == DRAM:
            # the streamed layer's home is DRAM: write the updated weights back there
            nbytes = op.weights * self.macro.w_bits / 8
            energy["dram"], cycles = self._dram(nbytes, write=True)
            self.writes.count(op.weights, self.macro.w_bits)
            return cycles, energy, 0, Barrier((Stage(op.name, DRAM, cycles),))
        if op.location == "sram":
            device, lm = _device("sram"), self._sram_layer(layer)
            macros = lm.macros
        else:
            device, lm = self.ctx.device, self.layers[layer]
            copies = self.mapping.replicas.get(layer, 1) * (2 if self.opts.backward == "transposed-copy" else 1)
            macros = lm.macros * copies
        weights = op.weights * macros / lm.macros
        if op.location == "imc" and self.measured is not None and layer in self.measured.updates:
            cost, latency_ns = self._measured_write(layer, device, op, lm.macros, macros)
        else:
            cost, latency_ns = self._array_write(device, weights, macros, self.opts.flip_prob, self.opts.write_policy)
        energy["write"] = cost.energy_pj
        cycles = latency_ns / self.cycle_ns
        if op.location == "imc":
            self.writes.add(cost, latency_ns, op.weights, self.macro.w_bits)
        return cycles, energy, macros, Barrier((Stage(op.name, resource, cycles),))

    def _activity_of(self, layer: str, phase: str) -> tuple[Any, str]:
        """The layer's activity measured by execution in this phase, else the study's default, and what
        the MVM's energy then rests on (``OpRecord.basis``). Under the ``toggle`` model the toggles count
        only when the run counted them for this macro's adder-tree size; otherwise the default toggle
        density stands in (the input density stays measured: partly measured)."""
        model = self.macro.activity_model
        if model == "data_independent":
            return self.activity, ""
        act = self.measured.activity_for(layer, phase) if self.measured is not None else None
        if act is None:
            return self.activity, "assumed"
        self._measured_layers.add(f"{layer}:{phase}")
        if model != "toggle":
            return act, "measured"
        if act.and_toggle_density is not None and act.toggle_rows_parallel == self.macro.rows_parallel:
            self._measured_toggles.add(f"{layer}:{phase}")
            return act, "measured"
        if act.and_toggle_density is not None:
            self._toggle_mismatch.add(act.toggle_rows_parallel)
        return replace(act, and_toggle_density=None), "partly measured"

    def _measured_write(self, layer: str, device: DeviceModel, op: StepOp, layer_macros: int,
                        macros: int) -> tuple[WriteCost, float]:
        """Mean per-step cost of the executed updates of ``layer`` (exact ``DeviceModel.write``), on each of
        its ``macros // layer_macros`` copies (replicas, transposed copy): counts scale, wear does not."""
        old, new = self.measured.updates[layer]
        if old[0].size != op.weights:
            from imcsim.errors import SpecError

            ran = ", ".join(f"method.{k}=" + (f"[{', '.join(map(str, v))}]" if isinstance(v, list) else f"{v:g}"
                                              if isinstance(v, float) else str(v))
                            for k, v in self.measured.method_options.items() if k in ("rank", "alpha", "targets"))
            hint = f"; the run trained with {ran}: --set those to match" if ran else ""
            raise SpecError(self.measured.folder, f"updates.npz:{layer}", old[0].size,
                            f"{op.weights} weights (what method {self.ctx.step.method} updates in {layer}{hint})",
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
        groups, _, k, n = (int(v) for v in self.ctx.step.graph[layer].gemm_shape())
        rec = self._record(f"{layer}:reload:{phase}", layer, "reload", "write", POOL, 1,
                           weights_written=groups * k * n * self._loads(layer), basis="assumed")  # "measured" set in shape()
        return [self._slot("_reload_cost", layer, rec)]

    def _loads(self, layer: str) -> int:
        """Times a streamed layer's weights are loaded per step. Once per batch when it fits the pool. When it
        runs in rounds the pool holds one round at a time, so a sample's outputs stay unfinished between its
        rounds: the samples whose partial outputs fit the global buffer together (``M x N x groups`` sums at
        ``acc_bits`` each) run every round as a group, and each group fetches and writes the weights again:
        ``ceil(batch / group)`` loads (A: at least one sample per group)."""
        if self.mapping.reload_rounds.get(layer, 1) <= 1 or self.batch <= 1:
            return 1
        lm = self.layers[layer]
        per_sample = lm.m * lm.n * lm.groups * self.macro.acc_bits / 8
        group = max(1, int(self.chip.global_buffer_kib * 1024 // per_sample)) if per_sample else self.batch
        return -(-self.batch // group)

    def _reload_cost(self, layer: str, rec: int) -> tuple[float, dict[str, float], int, Item]:
        lm = self.layers[layer]
        nbytes = lm.weights * self.macro.w_bits / 8
        energy: dict[str, float] = {}
        energy["dram"], dram_cycles = self._dram(nbytes)
        rounds = self.mapping.reload_rounds.get(layer, 1)
        if self._reloads is not None:
            # the exact writes of what the pool held and what is written (measured.reload_plan); the plan's
            # latency has the rounds already, its wear is the step's hottest pool cell (set once, in price)
            priced = self._reloads[self._measured_reloads]
            self._measured_reloads += 1
            cost, latency_ns = priced.cost, priced.latency_ns
            rounds = 1
        else:
            # the pool held another layer: on average half the bits flip (A)
            cost, latency_ns = self._array_write(self.ctx.device, lm.weights, lm.macros, RELOAD_FLIP_PROB,
                                                 self.opts.write_policy)
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
        loads = self._loads(layer)
        if loads > 1:
            # the pool holds one round at a time: each group of samples whose partial outputs fit the global
            # buffer runs every round, and the next group fetches and writes the weights again (_loads)
            energy["dram"], dram_cycles = energy["dram"] * loads, dram_cycles * loads
            latency_ns *= loads
            cost = cost.scaled(loads)
        energy["write"] = cost.energy_pj
        write_cycles = latency_ns / self.cycle_ns
        name = self._rec[rec][0]
        # a reload priced from executed weights: its wear is the step's hottest pool cell, set once in price()
        self.writes.add(cost, latency_ns, lm.weights * loads, self.macro.w_bits, reload=True,
                        wear=0.0 if self._reloads is not None else None)
        return (dram_cycles + write_cycles, energy, lm.macros,
                Barrier((Stage(name + ":dram", DRAM, dram_cycles), Stage(name + ":write", POOL, write_cycles))))

    def _sram_macro_cfg(self, note: bool = True) -> MacroConfig:
        """SRAM macros of the array macro's geometry: re-trained weights (Hyb-Learn, ``note``) or the weight
        gradient's scratch (:meth:`wgrad_array`)."""
        if self._sram_macro is None:
            m = self.macro
            self._sram_macro = MacroConfig(_device("sram"), m.rows, m.cols, m.rows_parallel, m.sense_amps,
                                           m.in_bits, m.w_bits, 1, m.node_nm, m.clock_mhz)
        if note and _SRAM_NOTE not in self._notes:
            self._notes.append(_SRAM_NOTE)
        return self._sram_macro

    def _sram_layer(self, layer: str) -> LayerMapping:
        if layer not in self._sram_layers:
            self._sram_layers[layer] = map_layer(self.ctx.step.graph[layer], self._sram_macro_cfg(note=False))
        return self._sram_layers[layer]

    @staticmethod
    def _scratch_layer(gemm: tuple[int, int, int, int], layer: str, macro: MacroConfig) -> LayerMapping:
        """The weight gradient's GEMM (groups, kg steps, B x M rows, og outputs) mapped onto scratch macros by
        the mapper's rules (the errors are its stationary operand)."""
        g, kg, rows, og = gemm
        return _map_gemm(f"{layer}:wgrad", "conv", g, kg, rows, og, macro.rows, macro.cols, macro.cols_per_weight,
                         macro.weights_per_row)

    # -------------------------------------------------------------- the whole step
    def shape(self) -> _Shape:
        """Walk the step's ops: the records, the items in chain order and what each MVM, vector and GEMM op
        is (as arrays for :meth:`numbers`); writes, reloads and the spill of stored tensors become slots."""
        phases_done: set[str] = set()
        for op in self.ctx.step.ops:
            if op.phase != "forward" and "forward" not in phases_done:
                phases_done.add("forward")
                self.items += self._spill_barrier()
                self._loaded = None  # backward walks the layers in reverse: reload streamed ones again
            if op.kind == "mvm":
                self.items += self.mvm(op)
            elif op.kind == "gemm" and self._wgrad_on_array(op):
                self.items += self.wgrad_array(op)
            elif op.kind == "gemm":
                self.items += self.digital_gemm(op)
            elif op.kind == "vector":
                self.items += self.vector(op)
            elif op.kind == "write":
                self.items += self.write(op)
        reloads = self._measured_reload_sequence()
        rec = self._rec
        mvm = None
        if self._mvm:
            rows = self._mvm
            index = self.mapping.layer_index
            acts: dict[int, tuple[Any, Any]] = {}
            sram_macro = self._sram_macro_cfg(note=False) if any(r[2] for r in rows) else None
            for r in rows:  # the densities each activity gives on each macro (what layer_cost would use)
                if id(r[6]) not in acts:
                    acts[id(r[6])] = tuple(
                        activity_densities(r[6], m.in_bits, m.w_bits, m.activity_model) if m is not None else None
                        for m in (self.macro, sram_macro))
            main = [acts[id(r[6])][0] for r in rows]
            side = [acts[id(r[6])][1] or acts[id(r[6])][0] for r in rows]
            shapes = [r[7].gemm_shape() for r in rows]
            mvm = _MvmRows(
                rec=np.array([r[0] for r in rows]), layers=[r[1] for r in rows], sram=np.array([r[2] for r in rows]),
                layer_index=np.array([index.get(r[1], -1) for r in rows]),
                steps=np.array([r[3] for r in rows], dtype=np.int64),
                replicas=np.array([r[4] for r in rows], dtype=np.int64),
                rounds=np.array([r[5] for r in rows], dtype=np.int64),
                outs=np.array([int(g[3]) * int(g[0]) for g in shapes], dtype=np.int64),
                in_bytes=np.array([r[8] for r in rows], dtype=float), out_bytes=np.array([r[9] for r in rows], dtype=float),
                executions=np.array([rec[r[0]][5] for r in rows]),
                densities=(np.array([a.input_density for a in main]), np.array([a.and_density for a in main])),
                densities_sram=(np.array([a.input_density for a in side]), np.array([a.and_density for a in side])),
                passes=np.array([r[10] for r in rows], dtype=np.int64), scratch=[r[11] for r in rows])
        vec = gemm = None
        if self._vec:
            vec = (np.array([r for r, _, _ in self._vec]), np.array([m for _, m, _ in self._vec]),
                   np.array([w for _, _, w in self._vec]), np.array([rec[r][5] for r, _, _ in self._vec]))
        if self._gemm:
            gemm = (np.array([r for r, _, _ in self._gemm]), np.array([m for _, m, _ in self._gemm]),
                    tuple(np.array([shape for _, _, shape in self._gemm]).T),
                    np.array([rec[r][5] for r, _, _ in self._gemm]))
        columns = ([r[0] for r in rec], [r[1] for r in rec], [r[2] for r in rec], [r[3] for r in rec],
                   [r[4] for r in rec], [r[5] for r in rec])
        exclusive = {it[2] for it in self.items if it[0] == _PENDING and resource_kind(it[2]) == "macros"}
        return _Shape(columns, [r[6] for r in rec], [r[7] for r in rec], self._orders,
                      self.items, self._slots, mvm, vec, gemm, self._ports, self._notes, set(self._measured_layers),
                      exclusive, list(self._bases), frozenset(self._measured_toggles),
                      frozenset(self._toggle_mismatch), reloads)

    def _measured_reload_sequence(self) -> tuple[str, ...] | None:
        """The layers the step reloads, in order, when the measured run holds the INT8 weights of every one
        (their reload records are then marked measured and priced by :meth:`_reload_plan`), else None (the
        closed form with half the bits flipping, A)."""
        slots = [(arg, rec) for method, arg, rec in self._slots if method == "_reload_cost"]
        meas = self.measured
        if meas is None or not slots or not meas.weights:
            return None
        missing = sorted({layer for layer, _ in slots} - set(meas.weights))
        if missing:
            self._notes.append(f"reloads priced with half the bits flipping (A): the measured run has no weights "
                               f"of {', '.join(missing[:3])}")
            return None
        for layer in dict.fromkeys(layer for layer, _ in slots):
            if meas.weights[layer].size != self.layers[layer].weights:
                from imcsim.errors import SpecError

                raise SpecError(meas.folder, f"weights.npz:{layer}", meas.weights[layer].size,
                                f"{self.layers[layer].weights} weights (the layer as mapped)",
                                problem="the executed weights do not match the workload:")
        for _, rec in slots:
            self._bases[rec] = "measured"
        return tuple(layer for layer, _ in slots)

    def _reload_plan(self, sequence: tuple[str, ...]) -> list[PricedReload]:
        """Every reload of the step priced from the executed weights (:func:`~imcsim.engine.measured.reload_plan`:
        what the pool macros held and what is written, in steady state)."""
        plan = reload_plan(self.ctx.device, list(sequence), self.measured.weights,
                           {n: self.layers[n].macros for n in sequence}, self.mapping.pool_macros,
                           self.opts.write_policy, self._write_waves, self.macro.w_bits)
        self._reload_flips = (plan.bits_flipped, plan.bits_written)
        self._reload_wear = plan.max_cell_wear
        return list(plan.reloads)

    def price(self) -> PricedStep:
        """The priced step: its shape and numbers (memoised) and, per point, the writes, reloads and spill."""
        shape = _shape_of(self)
        num = _numbers_of(self, shape)
        if shape.slots:  # the slots read their records
            self._rec = list(zip(*shape.columns, shape.macs, shape.weights_written, num.macros))
        self._measured_layers = set(shape.measured_layers)
        self._measured_toggles, self._toggle_mismatch = set(shape.measured_toggles), set(shape.toggle_mismatch)
        self.writes = WriteSummary()
        if shape.reloads is not None:
            self._reloads = self._reload_plan(shape.reloads)
        cycles, energy, orders, macros, items = num.cycles, num.energy, shape.orders, num.macros, num.items
        done: dict[int, Any] = {}
        if shape.slots:
            cycles, energy, orders, macros = list(cycles), energy.copy(), list(orders), list(macros)
            for k, (method, arg, rec) in enumerate(shape.slots):
                cyc, e, mac, item = getattr(self, method)(arg, rec)
                cycles[rec], macros[rec] = cyc, mac
                executions = self._rec[rec][5]
                for c, v in e.items():
                    energy[rec, COMPONENT_INDEX[c]] = v * executions
                orders[rec] = tuple(COMPONENT_INDEX[c] for c in e)
                done[k] = item
        if self._reloads is not None:
            self.writes.set_reload_wear(self._reload_wear)
        exclusive = set(shape.exclusive)
        empty = tuple(k for k, it in done.items() if it is None)
        if shape.slots:
            out: list[Item] = []
            for it in items:
                if type(it) is not tuple:
                    out.append(it)
                elif done[it[1]] is not None:  # a slot
                    out.append(done[it[1]])
                    exclusive |= _exclusive([done[it[1]]])
            records = OpTable(*shape.columns, cycles, energy, shape.macs, shape.weights_written, macros, orders,
                              bases=shape.bases)
        else:  # nothing per point: every point with these numbers shares the items and records (read-only)
            if "records" not in num.shared:
                num.shared["records"] = OpTable(*shape.columns, cycles, energy, shape.macs, shape.weights_written,
                                                macros, orders, bases=shape.bases)
            out, records = items, num.shared["records"]
        if self.chip.contention:
            exclusive |= {DIGITAL, NOC, DRAM}
        self._noc_hops = num.noc_hops
        if self.measured is None:
            # what the lines read beyond the shape (which fixes the step, batch, options and streamed layers)
            m = self.macro
            self.assumptions = list(_ASSUMPTIONS.get(
                (shape,), (self._spill_note, num.noc_hops, m.organisation, m.input_bits_per_cycle, m.tree_stages,
                           m.clock_mhz, m.max_clock_mhz, self.mapping.policy, self.chip.tile_pitch_mm,
                           self.chip.power_gating), lambda: self._assumptions(shape)))
        else:
            self.assumptions = self._assumptions(shape)
        mapping = dict(num.mapping)
        if self.measured is not None:   # which figures execution measured (flat, so sweeps keep them)
            mapping["measured_activity_phases"] = len(self._measured_layers)
            mapping["measured_write_layers"] = len(self._measured_writes)
            if self._measured_writes:
                mapping["measured_flip_rate"] = self.measured.flip_rate()
        return PricedStep(out, records, exclusive, self.writes, num.standby_power_w, dict(num.area_um2),
                          self.assumptions, mapping, num.port_bytes, *self._measured_vs_assumed(), num.deploy,
                          (shape, empty), num.standby)

    def _measured_vs_assumed(self) -> tuple[dict[str, float], dict[str, float]]:
        """What execution measured (only what priced this step) next to the stated defaults it replaces."""
        assumed = {"input_bit_density": self.opts.activity, "and_density": self.opts.activity * 0.5,
                   "toggle_density": DEFAULT_TOGGLE_DENSITY, "flip_rate": self.opts.flip_prob,
                   "reload_flip_rate": RELOAD_FLIP_PROB}
        measured: dict[str, float] = {}
        if self.measured is None:
            return measured, assumed
        if self._measured_layers:
            measured["input_bit_density"], measured["and_density"] = self.measured.mean_densities()
        toggles = self.measured.mean_toggle_density()
        if toggles is not None and (self._measured_toggles or self.macro.activity_model != "toggle"):
            measured["toggle_density"] = toggles
        if self._measured_writes:
            measured["flip_rate"] = self.measured.flip_rate()
        if self._measured_reloads and self._reload_flips[1]:
            measured["reload_flip_rate"] = self._reload_flips[0] / self._reload_flips[1]
        return measured, assumed

    def _note_text(self, note: str) -> list[str]:
        if note == _SPILL_NOTE:
            return [self._spill_note] if self._spill_note else []
        return [note]

    def _spill_barrier(self) -> list[Item]:
        if not self.ctx.step.stored:
            return []
        rec = self._record("stored:for-backward", "stored", "forward", "buffer", DRAM, 1)
        self._notes.append(_SPILL_NOTE)
        return [self._slot("_spill_cost", None, rec)]

    def _spill_cost(self, _: None, rec: int) -> tuple[float, dict[str, float], int, Item | None]:
        """Stored-for-backward tensors: the global buffer, and what exceeds it through DRAM (written in
        forward, read back in backward)."""
        stored = self.ctx.step.stored_bytes * self.batch
        capacity = self.chip.global_buffer_kib * 1024
        energy: dict[str, float] = {}
        energy["buffer"] = min(stored, capacity) * (self.chip.global_buffer_write_pj_per_byte
                                                    + self.chip.global_buffer_read_pj_per_byte)
        spill = max(0.0, stored - capacity)
        (write_pj, write_cycles), (read_pj, read_cycles) = self._dram(spill, write=True), self._dram(spill)
        energy["dram"], cycles = write_pj + read_pj, write_cycles + read_cycles
        if spill:
            self._spill_note = (f"{spill / 1e6:.3g} MB of stored activations spill to DRAM (global buffer "
                                f"{capacity / 1e6:.3g} MB)")
        return cycles, energy, 0, Barrier((Stage("stored:spill", DRAM, cycles),)) if cycles else None

    def _deploy(self) -> WriteCost:
        """One-time write of every resident weight (deployment), reported apart from the step. Memoised (in
        :meth:`numbers`) on what it reads: the device, the mapping's layers (by identity: one array geometry's
        mappings share them), the resident ones and their replicas, the weight width and the write waves."""
        costs = []
        layers, replicas, device = self.layers, self.mapping.replicas, self.ctx.device
        # mapping order, not the set's: float sums in hash order differ between runs (PYTHONHASHSEED)
        for name in dict.fromkeys(self.mapping.resident):
            lm = layers[name]
            copies = replicas.get(name, 1)
            costs.append(self._array_write_terms(device, lm.weights * copies, lm.macros * copies, 0.5, "all"))
        return WriteCost.sequence(costs)

    def _area(self) -> dict[str, float]:
        macro, n_macros = self.macro.area(), self.accel.n_macros
        area = {key: float(getattr(macro, name)) * n_macros for name, key in _AREA_KEYS}
        bits = (self.chip.global_buffer_kib + self.chip.tiles * self.tile.buffer_kib) * 8192
        area["sram_buffers"] = bits * self.chip.sram_bit_area_um2
        area["digital_units"] = self.chip.tiles * self.du.area_um2
        master = master_copy_bytes(self.ctx)
        if master:
            area["master_copy_sram"] = master * 8 * self.chip.sram_bit_area_um2
        return area

    def _step_ops(self) -> tuple[bool, int]:
        """(any backward-error MVM, weight gradients on scratch macros) of the step: per step and ``wgrad``."""
        ops = self.ctx.step.ops
        return (any(op.phase == "backward_error" and op.kind == "mvm" for op in ops),
                sum(1 for op in ops if op.kind == "gemm" and self._wgrad_on_array(op)))

    def _assumptions(self, shape: _Shape) -> list[str]:
        """The step's assumption lines: the walk's notes, then :meth:`_note_assumptions`'s."""
        self.assumptions = [note for n in shape.notes for note in self._note_text(n)]
        self._note_assumptions()
        return self.assumptions

    def _note_assumptions(self) -> None:
        a = self.assumptions
        if master_copy_bytes(self.ctx):
            a.append(f"{self.opts.master_copy} master copy of the {master_copy_bytes(self.ctx) / 1024:.4g} KiB of "
                     "trained weights kept in SRAM (global-buffer energies per byte, SRAM leakage and area per bit, "
                     "A): read and written at every update, the INT8 copy written to the arrays")
        a.append(f"activity: input-bit density {self.opts.activity}, AND density {self.opts.activity * 0.5} "
                 "(stated default, A)" + (" for the layers and phases not measured" if self._measured_layers else ""))
        if self.measured is not None:
            a.extend(_measured_notes(self.measured, self._measured_layers, len(self._measured_writes),
                                     self.opts.flip_prob))
            if self.measured.updates and self.measured.error_bits != self.opts.error_bits:
                a.append(f"the measured run trained with {self.measured.error_bits}-bit errors; this study prices "
                         f"error_bits {self.opts.error_bits}")
            if self.measured.updates and self.measured.wgrad != self.opts.wgrad:
                a.append(f"the measured run computed its weight gradients with --wgrad {self.measured.wgrad}; this "
                         f"study prices wgrad {self.opts.wgrad}")
            if self.measured.updates and self.measured.master_copy != self.opts.master_copy:
                a.append(f"the measured run kept master_copy {self.measured.master_copy} (its updates flip the INT8 "
                         f"copy accordingly); this study prices master_copy {self.opts.master_copy}")
            if self._measured_reloads:
                flipped, written = self._reload_flips
                a.append(f"measured by execution: {self._measured_reloads} reload writes from DeviceModel.write of "
                         f"what the pool held (the layer reloaded before) and the run's INT8 weights, "
                         f"{flipped / max(written, 1):.4f} of the bits flipped (replacing {RELOAD_FLIP_PROB}, A)")
            if self.macro.activity_model == "toggle":
                a.append(f"toggle model: measured toggles priced {len(self._measured_toggles)} layer phases"
                         + (f"; the run counted toggles for {sorted(self._toggle_mismatch)}-input adder trees, not "
                            f"this macro's {self.macro.rows_parallel}: default toggle density "
                            f"{DEFAULT_TOGGLE_DENSITY} (A)" if self._toggle_mismatch else ""))
        elif self.macro.activity_model == "toggle":
            a.append(f"toggle model without a functional run: default toggle density {DEFAULT_TOGGLE_DENSITY} (A)")
        m = self.macro
        a.append(f"macro: {m.organisation} organisation, {m.input_bits_per_cycle} input bit(s) per cycle, activity "
                 f"model {m.activity_model}, adder tree in {m.tree_stages} stage(s) at {m.clock_mhz:g} MHz "
                 f"(unpipelined limit {m.max_clock_mhz:.0f} MHz)")
        backward_mvms, scratch = _STEP_OPS.get((self.ctx.step,), (self.opts.wgrad,), self._step_ops)
        if backward_mvms:
            a.append({"transposed-array": "backward error read through the same array transposed, priced as a "
                                          "forward MVM step (A)",
                      "digital": "backward error computed on the tile digital units (fp32)",
                      "transposed-copy": "backward error on a transposed copy of the weights, which is written "
                                         "at every update too (A)"}[self.opts.backward])
        if scratch:
            a.append(f"weight gradients of {scratch} conv/linear layers on bit-serial SRAM scratch macros of the "
                     "array macro's geometry, as imcsim train --wgrad array runs them (A): per step the batch's "
                     "errors are written in (SRAM write model, every bit) as the stationary operand and the "
                     "activation codes streamed through them; as many scratch macros as the errors need, their "
                     "area and idle leakage not priced (A)")
        if self.streamed:
            a.append(f"{len(self.streamed)} layers do not fit and are streamed from DRAM "
                     f"({self.mapping.policy}); each reload rewrites the pool macros")
        refetched = {n: self._loads(n) for n in self.mapping.reloaded if self._loads(n) > 1}
        if refetched:
            a.append(f"{len(refetched)} streamed layers run in rounds: at batch {self.batch} the samples whose partial "
                     "outputs fit the global buffer run every round together, so their weights are fetched from DRAM "
                     f"and written into the pool again for every such group ({min(refetched.values())}-"
                     f"{max(refetched.values())} loads per step, A)")
        a.append(f"forward activations cross the NoC by the placement's XY routes (engine/noc.py: {self._noc_hops} "
                 f"hops of {self.chip.tile_pitch_mm} mm in all, one after the other in layer order, A); backward "
                 f"outputs travel {NOC_HOPS} hop (A)")
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
                     f"phases, forward input-bit density {dens_in:.3f} and AND density {dens_and:.3f} (MAC-weighted; "
                     "replacing the default 0.5 / 0.25, A)")
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


# A sweep revisits the same write on the same device for every non-geometric axis: memoised.
@lru_cache(maxsize=1 << 16)
def _expected_write(device: DeviceModel, weights: float, bits: int, policy: str, flip_prob: float) -> WriteCost:
    return device.expected_write(weights, bits=bits, policy=policy, flip_prob=flip_prob)


@dataclass(frozen=True)
class _MvmRows:
    """The MVM ops of a step as arrays (one row per op, in record order)."""

    rec: np.ndarray
    layers: list[str]
    sram: np.ndarray
    layer_index: np.ndarray      # position in the mapping's layers (-1: on the SRAM side)
    steps: np.ndarray
    replicas: np.ndarray
    rounds: np.ndarray
    outs: np.ndarray             # outputs per step (N x groups)
    in_bytes: np.ndarray
    out_bytes: np.ndarray
    executions: np.ndarray
    densities: tuple[np.ndarray, np.ndarray]        # (input, AND) on the macro
    densities_sram: tuple[np.ndarray, np.ndarray]   # on the SRAM macro (Hyb-Learn rows)
    passes: np.ndarray           # 8-bit passes of the error operand (2: a 16-bit error, options.error_bits)
    #: per row, the (groups, steps, rows, outputs) GEMM a weight gradient runs on SRAM scratch macros, else None
    scratch: list[tuple[int, int, int, int] | None] = field(default_factory=list)


@dataclass(frozen=True)
class _Shape:
    """What :meth:`_Pricer.shape` gives (read-only: shared by every point of the same shape)."""

    columns: tuple[list, ...]     # names, nodes, phases, kinds, resources, executions
    macs: list[int]
    weights_written: list[int]
    orders: list[tuple[int, ...]]
    items: list[Any]
    slots: list[tuple[str, Any, int]]
    mvm: _MvmRows | None
    vec: tuple | None
    gemm: tuple | None
    ports: list[tuple[str, str, int]]
    notes: list[str]
    measured_layers: set[str]
    exclusive: set[str]           # the exclusive resources of the table-priced items
    bases: list[str]              # per record: what its data-dependent figures rest on (OpRecord.basis)
    measured_toggles: frozenset[str]     # layer phases whose measured toggles priced the adder tree
    toggle_mismatch: frozenset           # tree sizes a run counted toggles for that this macro does not have
    reloads: tuple[str, ...] | None      # the step's reloads, in order, when priced from executed weights


@dataclass(frozen=True)
class _Numbers:
    """What :meth:`_Pricer.numbers` gives (read-only: shared by every point on the same chip)."""

    cycles: list[Any]
    energy: np.ndarray
    macros: list[int]
    items: list[Any]              # slot markers (tuples) where the per-point items go
    port_bytes: dict[str, tuple[str, float]]
    deploy: WriteCost
    standby_power_w: float
    area_um2: dict[str, float]
    mapping: dict[str, Any]
    noc_hops: int = 0             # hops of all forward crossings (engine/noc.py), for the assumption line
    standby: Any = None           # the chip's standby sources (engine/leakage.py)
    shared: dict[str, Any] = field(default_factory=dict)  # what points without slots share (their records)


def _picker(indices: tuple[int, ...]) -> Callable[[Sequence[Any]], tuple]:
    """``seq -> tuple(seq[i] for i in indices)`` as a C-level ``itemgetter`` (which gives a bare item for one index:
    wrapped then)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if indices:
        one = itemgetter(indices[0])
        return lambda seq: (one(seq),)
    return lambda seq: ()


def _plain_macro_energy(layer_pj: np.ndarray, partial_adds: np.ndarray, acc_bits: Any, fa_fj: Any,
                        executions: np.ndarray) -> np.ndarray:
    """Macro energy per step of plain MVM rows (:meth:`_Pricer._price_plain_mvms`): the layer cost's components
    plus the row-tile partial sums added in the tile accumulator (acc_bits full adders each), times the
    executions. ``acc_bits`` and ``fa_fj`` are the macro's, or one entry per row (a batch's rows on their
    macros, :func:`prime_layer_costs`): elementwise, so equal to the last bit."""
    macro6 = np.array(layer_pj, dtype=float)   # (a fresh array; object-typed only for absurd geometries)
    macro6[:, MACRO_COMPONENTS.index("shift_accumulate")] += partial_adds * acc_bits * fa_fj * 1e-3
    return macro6 * executions[:, None]


def _mvm_buffer_pj(v: _MvmRows, tile: Any) -> np.ndarray:
    """Tile-buffer energy per execution of the MVM rows: the input map read once and the output map written
    once (the im2col window reuse happens in the input registers; backward swaps the two)."""
    return v.in_bytes * tile.buffer_read_pj_per_byte + v.out_bytes * tile.buffer_write_pj_per_byte


def _plain(v: _MvmRows) -> bool:
    """Every MVM row plain: on the array, in one round and one pass, without scratch writes (a property of the
    shape: :meth:`_Pricer._price_plain_mvms` prices such rows)."""
    return not v.sram.any() and not (v.rounds > 1).any() and not (v.passes > 1).any() and not any(v.scratch)


def _exclusive(items: list[Item]) -> set[str]:
    """Resources of these items that serve one stage at a time: macros (the chip's contention flag adds the
    shared units)."""
    return {s.resource for it in items for s in (it.stages if isinstance(it, Barrier) else (it,))
            if resource_kind(s.resource) == "macros"}


def _owners(ctx: Context) -> tuple:
    """The context's pieces the numbers depend on (objects memoised by the context builders: the same
    object means the same piece)."""
    return (ctx.step, ctx.mapping, ctx.macro, ctx.accel, ctx.device)


@dataclass(frozen=True)
class _NocTerms:
    """The NoC terms of a shape under one placement's traffic (engine/noc.py), shared by the geometries that
    keep the placement: per MVM row its crossings' energy per step and cycles, the vector and GEMM rows
    heading a group of their own with their crossings' energy per step, and the hops of all crossings."""

    mvm_pj: np.ndarray            # per step (per execution x executions)
    mvm_cycles: np.ndarray
    heads_at: np.ndarray          # the heads' NoC cells in a flattened energy table
    heads_pj: np.ndarray          # their NoC energy per step
    hops: int
    stages: tuple = ()            # each MVM row's NoC stage, in the rows' order (read-only: shared by points)


@dataclass(frozen=True)
class _Digital:
    """What :meth:`_Pricer._digital` gives (read-only: shared by the geometries of one shape and chip)."""

    energy: np.ndarray            # the vector and GEMM rows (the MVM rows are zero)
    cycles: list[Any]
    port: dict[int, float]
    fixed: list[Any]              # finished vector and GEMM stages and slot markers, in item order
    #: the items in order from ``fixed`` + the point's MVM stages + its MVM barriers (:meth:`_Pricer.numbers`)
    pick_items: Callable[[Sequence[Any]], tuple]
    # each MVM stage (not a barrier): its op, resource and record, as columns
    pending_ops: tuple[str, ...]
    pending_resources: tuple[str, ...]
    pending_records: tuple[int, ...]
    pick_cycles: Callable[[Sequence[float]], tuple]   # those records' cycles from the point's cycles
    shared_noc: bool              # the MVM rows' NoC stages are the placement's (``_NocTerms.stages``), after these
    pending_barriers: tuple[tuple[int, str, str, int], ...]   # (position, op, resource, record) of the others
    port_bytes: dict[str, tuple[str, Any]]  # every op's port, the MVM ones' bytes filled in per point
    pending_ports: tuple[tuple[str, str, int], ...]
    plain_port_bytes: dict[str, tuple[str, Any]] | None   # every op's port when every MVM row is plain (read-only)
    cycles_array: np.ndarray      # ``cycles`` as floats (the plain MVM rows' are filled in per point)


#: entries of the memos below that hold a shape (a big model's is megabytes): bounded like the priced steps kept
SHAPE_HOLDERS = 64
#: shape by identity and the digital units', buffers' and chip's figures -> its vector and GEMM ops' numbers
_DIGITAL: IdentityMemo[_Digital] = IdentityMemo(SHAPE_HOLDERS)
#: (traffic, shape) by identity and the chip's NoC figures -> the shape's NoC terms
_NOC: IdentityMemo[_NocTerms] = IdentityMemo(SHAPE_HOLDERS)
#: (tile table, shape) by identity -> what the shape's MVM rows read of the mapping (:meth:`_Pricer._mvm_side`)
_MVM_SIDE: IdentityMemo[tuple] = IdentityMemo(SHAPE_HOLDERS)
#: the step's ops the assumptions count (:meth:`_Pricer._step_ops`), per step and wgrad option
_STEP_OPS: IdentityMemo[tuple[bool, int]] = IdentityMemo(64)
#: the deploy write by what it reads (:meth:`_Pricer._deploy`)
_DEPLOY: IdentityMemo[WriteCost] = IdentityMemo(256)
CACHE_SIZE = 16
#: a shape's assumption lines without measurements, per what they read beyond the shape (:meth:`_Pricer.price`)
_ASSUMPTIONS: IdentityMemo[list[str]] = IdentityMemo(256)
#: a priced shape per what :meth:`_Pricer.shape` reads (:func:`_shape_key`: the step by identity, then values)
_SHAPES: IdentityMemo[_Shape] = IdentityMemo(CACHE_SIZE)
#: a shape's numbers per context pieces and shape, by identity (:func:`_numbers_of`)
_NUMBERS: IdentityMemo[_Numbers] = IdentityMemo(CACHE_SIZE)


def _shape_key(p: _Pricer) -> tuple:
    """Everything :meth:`_Pricer.shape` reads: the step (by identity), batch, options, the macro's
    precisions and activity model, the digital unit's precision, which layers stream and their replicas
    and rounds, how often each streamed layer is loaded per step (``_loads``: it reads the global buffer and
    the accumulator width). Array geometries that keep these share the shape."""
    m, o, mp = p.macro, p.opts, p.mapping
    # measured toggles price only a macro with the adder-tree size they were counted for
    trees = m.rows_parallel if o.measured and m.activity_model == "toggle" else None
    loads = tuple(p._loads(n) for n in mp.reloaded) if p.batch > 1 and mp.reload_rounds else ()
    return (p.batch, o.activity, o.backward, o.wgrad, o.measured, o.master_copy, o.error_bits, m.in_bits,
            m.w_bits, m.activity_model, p.du_bytes, mp.reloaded, tuple(mp.replicas.values()), tuple(mp.reload_rounds.items()), trees,
            loads)


def _shape_of(p: _Pricer) -> _Shape:
    if p._shape is None:
        p._shape = _SHAPES.get((p.ctx.step,), _shape_key(p), p.shape)
    return p._shape


def _numbers_of(p: _Pricer, shape: _Shape) -> _Numbers:
    """The numbers of a shape on a chip, memoised on the context's pieces and the shape (by identity): a
    sweep over write policy, flip probability or steps per day (or the event engine after the analytic
    one) reuses them and prices only the writes."""
    return _NUMBERS.get((*_owners(p.ctx), shape), (), lambda: p.numbers(shape))


#: (macro, tile table, MVM rows) by identity -> the plain MVM rows' layer costs on that macro: what
#: :func:`prime_layer_costs` computes for a batch of points at once and each point's pricer then reads
_LAYER_COSTS: IdentityMemo[LayerCosts] = IdentityMemo(1024)


def _plain_job(macro: MacroConfig, tiles: TileTable, v: _MvmRows) -> tuple:
    return macro, tiles, v.steps, v.densities[0], v.densities[1], v.replicas


#: the pricers :func:`prime_layer_costs` made for its batch, by context (id -> (context, pricer)): the batch's
#: :func:`price_step` of each context takes its pricer (shape already looked up) instead of making a second one.
#: Replaced at every call: it holds one batch at most.
_PRIMED: dict[int, tuple[Context, _Pricer]] = {}


def prime_layer_costs(contexts: list[Context]) -> None:
    """Price the plain MVM rows (:meth:`_Pricer._mvm_side`) of many points with one stacked numpy pass
    (``circuit.macro.layer_costs_many``, then :func:`_plain_macro_energy` over all their rows) and give each
    point's pricer its rows' macro energy and cycles: a batch of design points that differ in their arrays
    (engine/evaluation.py ``evaluate_many``) pays the ~50 numpy calls of these formulas once instead of once
    per point. Equal to pricing each alone, to the last bit (the formulas are elementwise:
    tests/test_macro_batch.py, tests/test_engine_batch.py). Each point's pricer is kept for its
    :func:`price_step` (``_PRIMED``)."""
    jobs: dict[tuple[int, int, int], tuple] = {}
    pricers: dict[tuple[int, int, int], list[_Pricer]] = {}
    _PRIMED.clear()
    for ctx in contexts:
        p = _Pricer(ctx)
        _PRIMED[id(ctx)] = (ctx, p)
        shape = _shape_of(p)
        if shape.mvm is None:
            continue
        p._side = side = _MVM_SIDE.get((p.mapping.tile_table, shape), (), lambda p=p, shape=shape: p._mvm_side(shape))
        if side[5] is None:
            continue   # rows on SRAM macros, in rounds, in passes or with scratch writes: priced per point
        key = (id(p.macro), id(side[1]), id(shape.mvm))
        jobs.setdefault(key, (p.macro, side[1], shape.mvm, side))
        pricers.setdefault(key, []).append(p)
    if len(jobs) < 2:
        return
    owners = list(jobs.values())
    costs = layer_costs_many([_plain_job(*o[:3]) for o in owners])
    # the macro energy per step of every job's rows at once (_plain_macro_energy, each row with its macro's
    # figures), and their cycles; each point's pricer reads its job's rows
    rows = [len(v.rec) for _, _, v, _ in owners]
    energy = _plain_macro_energy(
        np.concatenate([np.asarray(lc.energy_pj, dtype=float) for lc in costs]),
        np.concatenate([side[5][0] for *_, side in owners]),
        np.repeat(np.array([m.acc_bits for m, *_ in owners], dtype=np.int64), rows),
        np.repeat(np.array([m.gates.fa_fj for m, *_ in owners], dtype=float), rows),
        np.concatenate([v.executions for _, _, v, _ in owners]))
    cycles = np.concatenate([np.asarray(lc.cycles, dtype=float) for lc in costs])
    ends = np.cumsum(rows).tolist()
    for key, start, end in zip(jobs, [0, *ends[:-1]], ends):
        for p in pricers[key]:
            p._plain_rows = (energy[start:end], cycles[start:end])


def price_step(ctx: Context) -> PricedStep:
    """The context's priced step: by the pricer :func:`prime_layer_costs` made for it, else a new one (a
    pricer prices once: it is taken out)."""
    primed = _PRIMED.pop(id(ctx), None)
    return (primed[1] if primed is not None and primed[0] is ctx else _Pricer(ctx)).price()
