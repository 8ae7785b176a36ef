"""The analytic engine's price of one network on every array geometry of a device at once (exact).

Why: a search prices thousands of (network, array) candidates, and ``evaluate`` rebuilds a study, a
context, a mapping and a ledger for each (2-7 ms a point). For an **inference step that fits the
chip** (every layer resident, one sample, the study's default options) the analytic result is:

- latency = the sum, in op order, of each op's stage cycles (an MVM stage and its NoC crossings, or a vector
  stage; batch 1 has no pipelining bound; layer order, ``chip.pipeline: layer``, which the search prices
  in), x the clock period;
- NoC: the placement's crossings (imcsim/engine/noc.py) on every geometry at once: layers take consecutive
  macros in forward order, so home tiles, XY hops and the crossings charged to each layer follow from the
  layers' macro counts by a cumulative sum;
- activations staged as layer order stages them (imcsim/engine/staging.py: each whole map in the tile
  buffer, else the global buffer, else DRAM), added to the ``buffer`` and ``dram`` components;
- energy = per component, the sum in op order of each op's energy, with the ops' busy-macro leakage
  replaced by the chip's leakage by source under its power-gating policy
  (:func:`imcsim.engine.leakage.leakage_by_source_pj` over that latency);
- area = the macros, SRAM buffers and digital units of the chip (network-independent).

An MVM op's terms depend only on the layer's GEMM shape, its input/output sizes and the geometry, so
they are computed once per (layer shape, geometry) with the engine's own functions
(:func:`~imcsim.mapping.layer.map_layer`, :func:`~imcsim.circuit.macro.layer_cost`) and reused by
every network that has such a layer; the sums over ops then run with numpy over all geometries of a
device, in the engine's order, so the numbers are the engine's (the test compares them with
``evaluate`` on sampled points). Anything outside that scope -- a training method, batch > 1,
a geometry on which the network does not fit (streamed layers), non-default options -- is priced by
``evaluate`` unchanged: :meth:`FastCoster.supports` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import Any

import numpy as np

from imcsim.circuit.macro import COMPONENTS as MACRO_COMPONENTS
from imcsim.circuit.macro import layer_cost
from imcsim.engine.context import Context
from imcsim.engine.leakage import StandbySources, leakage_by_source_pj, standby_sources
from imcsim.engine.ledger import COMPONENTS
from imcsim.engine.noc import forward_flow
from imcsim.engine.staging import analytic_staging
from imcsim.mapping.layer import map_layer
from imcsim.workload.step import TrainingStep

#: fields of one MVM op per geometry: stage cycles, NoC stage cycles, macros, energy by COMPONENTS
_MVM_FIELDS = ("cycles", "noc_cycles", "macros", *COMPONENTS)


@dataclass(frozen=True)
class Geometry:
    """One array geometry on one device: the engine's context pieces that do not depend on the network."""

    rows: int
    cols: int
    rows_parallel: int
    ctx: Context                 # a context built by the engine for this geometry (any network)

    @property
    def key(self) -> tuple[int, int, int]:
        return self.rows, self.cols, self.rows_parallel


class FastCoster:
    """Prices networks on a fixed list of geometries of one device; per-layer terms memoised."""

    def __init__(self, geometries: list[Geometry]) -> None:
        self.geoms = geometries
        g = [x.ctx for x in geometries]
        self.n_macros = np.array([c.accel.n_macros for c in g], dtype=np.int64)
        self.cycle_ns = np.array([c.cycle_ns for c in g])
        self.tiles = np.array([c.accel.chip.tiles for c in g], dtype=np.float64)
        self.area_mm2 = np.array([_area_mm2(c) for c in g])
        self.index = {x.key: i for i, x in enumerate(geometries)}   # (rows, cols, rows_parallel) -> column
        self._mvm: dict[tuple, np.ndarray] = {}      # layer shape -> [len(_MVM_FIELDS), G]
        self._src: StandbySources | None = None     # per geometry, when the network cannot change it
        self.layers_priced = 0

    # ------------------------------------------------------------------ scope
    @staticmethod
    def supports(step: TrainingStep, study_options: Any) -> bool:
        """True when the step is what this module prices exactly (module docstring)."""
        o = study_options
        if o.measured or o.batch_size not in (None, 1) or o.replicate or not np.isclose(o.activity, 0.5):
            return False
        if int(step.graph.meta.get("batch", 1) or 1) != 1:
            return False
        return all(op.phase == "forward" and op.kind in ("mvm", "vector") and op.location == "imc"
                   and not op.batch_shared for op in step.ops)

    # ------------------------------------------------------------------ per layer
    def _mvm_terms(self, step: TrainingStep, op: Any) -> np.ndarray:
        node = step.graph[op.node]
        key = (tuple(int(v) for v in node.gemm_shape()), int(op.gemm[1]), node.op, node.in_elems, node.out_elems)
        hit = self._mvm.get(key)
        if hit is None:
            hit = np.array([self._mvm_one(node, int(op.gemm[1]), g.ctx) for g in self.geoms]).T.copy()
            self._mvm[key] = hit
            self.layers_priced += 1
        return hit

    @staticmethod
    def _mvm_one(node: Any, steps: int, ctx: Context) -> list[float]:
        """One resident forward MVM op at batch 1, as ``engine.costs._Pricer.mvm`` prices it."""
        macro, tile = ctx.macro, ctx.accel.tile
        lm = map_layer(node, macro)
        cost = layer_cost(macro, lm.tiles, steps, None, replicas=1)
        energy = dict(zip(MACRO_COMPONENTS, map(float, cost.energy.values())))
        partial_adds = max(lm.row_tiles - 1, 0) * steps * lm.n * lm.groups
        energy["shift_accumulate"] += partial_adds * macro.acc_bits * macro.gates.fa_fj * 1e-3
        act_b = macro.in_bits / 8
        in_bytes, out_bytes = node.in_elems * act_b, node.out_elems * act_b
        energy["buffer"] = in_bytes * tile.buffer_read_pj_per_byte + out_bytes * tile.buffer_write_pj_per_byte
        # the NoC crossings depend on the whole network's placement: priced per network (_noc)
        return [cost.cycles, 0.0, lm.macros, *(energy.get(c, 0.0) for c in COMPONENTS)]

    # ------------------------------------------------------------------ a whole network
    def price(self, step: TrainingStep) -> dict[str, np.ndarray]:
        """Summary fields of ``step`` on every geometry (arrays of ``len(geometries)``); ``map_fits``
        False marks geometries this module did not price (the caller prices them with ``evaluate``).

        One row per timed stage (an MVM op's macro stage, its NoC stage, a vector op), columns
        ``_MVM_FIELDS``; the rows are added one after the other, every quantity in the engine's order,
        so the sums round as the engine's do."""
        g0 = self.geoms[0].ctx
        du, tile = g0.accel.tile.digital_unit, g0.accel.tile
        width = g0.macro.in_bits / 8
        vec_rate = du.vector_ops_per_cycle * self.tiles
        buf_pj = tile.buffer_read_pj_per_byte + tile.buffer_write_pj_per_byte
        i_du, i_buf = 3 + COMPONENTS.index("digital_unit"), 3 + COMPONENTS.index("buffer")
        rows: list[np.ndarray] = []
        busy: list[np.ndarray] = []
        terms = {op.name: self._mvm_terms(step, op) for op in step.ops if op.kind == "mvm"}
        noc_cycles, noc_pj = self._noc(step, terms)
        i_noc = 3 + COMPONENTS.index("noc")
        for op in step.ops:
            if op.kind == "mvm":
                t = terms[op.name].copy()
                t[i_noc] = noc_pj.get(op.name, 0.0)
                rows.append(t)
                noc = np.zeros_like(t)
                noc[0] = noc_cycles.get(op.name, 0.0)
                rows.append(noc)
                busy.append(t[0] * t[2])
            else:   # vector, as engine.costs._Pricer.vector prices it (forward, per sample)
                v = np.zeros((len(_MVM_FIELDS), len(self.geoms)))
                v[0] = op.macs / vec_rate
                v[i_du] = op.macs * du.energy_pj_per_vector_op
                v[i_buf] = op.macs * width * buf_pj
                if op.name in noc_pj:   # a group without weights carries its crossings' energy
                    v[i_noc] = noc_pj[op.name]
                rows.append(v)
        tot = _in_order(rows)
        busy_cycles = _in_order(busy) if busy else np.zeros(len(self.geoms))
        required = tot[2].astype(np.int64)
        fits = required <= self.n_macros
        latency_ns = tot[0] * self.cycle_ns
        leak = self._leakage(step, required, latency_ns, busy_cycles * self.cycle_ns, tot[3 + _LEAK], tot[2])
        parts = [tot[3 + k] for k in range(len(COMPONENTS))]
        parts[_LEAK] = sum(leak.values())
        for k, v in self._staging(step).items():   # added after the ops, as engine/evaluation.py does
            parts[COMPONENTS.index(k)] = parts[COMPONENTS.index(k)] + v
        energy_pj = sum(parts)          # left to right, in COMPONENTS order: the ledger's total
        return {"latency_ns": latency_ns, "energy_pj": energy_pj, "area_mm2": self.area_mm2,
                "write_energy_pj": np.zeros(len(self.geoms)),
                "weights_written": np.zeros(len(self.geoms), dtype=np.int64),
                "map_fits": fits, "map_macros_used": required}

    def _noc(self, step: TrainingStep, terms: dict[str, np.ndarray]
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per op heading a group (engine/noc.py), its NoC stage cycles and energy on every geometry: the
        placement of engine/noc.py and mapping/placement.py with the layers' macro counts per geometry."""
        g0 = self.geoms[0].ctx
        chip = g0.accel.chip
        per_tile = np.array([max(1, int(g.ctx.accel.tile.macros or 1)) for g in self.geoms], dtype=np.int64)
        tiles = self.tiles.astype(np.int64)
        cols = np.maximum(1, np.ceil(np.sqrt(tiles))).astype(np.int64)
        ops = {op.name: op for op in step.ops if op.phase == "forward"}
        home: dict[str, np.ndarray] = {}
        nxt = np.zeros(len(self.geoms), dtype=np.int64)
        for name, t in terms.items():      # every layer resident, one copy, in forward order
            node = ops[name].node
            if node not in home:
                home[node] = np.minimum(nxt // per_tile, tiles - 1)
                nxt = nxt + t[2].astype(np.int64)
        flow = forward_flow(step)
        first_src: dict[str, str] = {}
        for e in flow.edges:
            first_src.setdefault(e.dst, e.src)
        tile: dict[str, np.ndarray] = {}
        group: dict[str, str] = {}
        for name, op in ops.items():
            if op.node in home:
                tile[name], group[name] = home[op.node], name
            elif name in first_src and first_src[name] in tile:
                tile[name], group[name] = tile[first_src[name]], group[first_src[name]]
            else:
                tile[name], group[name] = np.zeros(len(self.geoms), dtype=np.int64), name
        act = g0.macro.in_bits / 8
        cycles: dict[str, np.ndarray] = {}
        bit_hops: dict[str, np.ndarray] = {}
        for e in flow.edges:
            a, b = tile[e.src], tile[e.dst]
            hops = np.abs(a % cols - b % cols) + np.abs(a // cols - b // cols)
            if not hops.any():
                continue
            bits = step.graph[ops[e.src].node].out_elems * act * 8
            g = group[e.src]
            cross = hops > 0
            cycles[g] = cycles.get(g, 0.0) + np.where(cross, bits / chip.noc_width_bits
                                                      + hops * chip.noc_hop_latency_cycles, 0.0)
            bit_hops[g] = bit_hops.get(g, 0.0) + np.where(cross, bits * hops, 0.0)
        energy = {g: v * chip.tile_pitch_mm * chip.noc_energy_pj_per_bit_per_mm for g, v in bit_hops.items()}
        return cycles, energy

    def _staging(self, step: TrainingStep) -> dict[str, np.ndarray]:
        """Layer order's activation staging energy (engine/staging.py, whole maps), per geometry."""
        out = {"dram": np.zeros(len(self.geoms)), "buffer": np.zeros(len(self.geoms))}
        memo: dict[tuple, tuple[float, float]] = {}
        for i, g in enumerate(self.geoms):
            chip, tile = g.ctx.accel.chip, g.ctx.accel.tile
            key = (tile.buffer_kib, chip.global_buffer_kib, g.ctx.macro.in_bits)
            if key not in memo:   # the geometries of one preset share their buffers: once per network
                memo[key] = analytic_staging(_shim(g.ctx, step, 0), [], {}, whole_maps=True)
            spill, staged = memo[key]
            out["dram"][i] = spill * 8 * (chip.dram_write_energy_pj_per_bit + chip.dram_read_energy_pj_per_bit)
            out["buffer"][i] = staged * (chip.global_buffer_write_pj_per_byte + chip.global_buffer_read_pj_per_byte)
        return out

    def _leakage(self, step: TrainingStep, macros_used: np.ndarray, latency_ns: np.ndarray,
                 busy_macro_ns: np.ndarray, busy_leakage_pj: np.ndarray, wakeups: np.ndarray) -> dict[str, Any]:
        """The engine's leakage by source on every geometry (:func:`leakage_by_source_pj` on arrays).

        The standby sources depend on the network only through the empty buffer capacity (macros used,
        peak activation bytes), which only the ``macros+buffers`` policy reads: under the other policies
        they are built once per geometry."""
        policies = {g.ctx.accel.chip.power_gating for g in self.geoms}
        if len(policies) == 1 and "macros+buffers" not in policies:
            if self._src is None:
                self._src = _stack([standby_sources(_shim(g.ctx, step, 1)) for g in self.geoms])
            src = self._src
        else:
            src = _stack([standby_sources(_shim(g.ctx, step, int(m))) for g, m in zip(self.geoms, macros_used)])
        if len(policies) == 1:
            return leakage_by_source_pj(policies.pop(), src, latency_ns, busy_macro_ns, busy_leakage_pj, wakeups)
        rows = [leakage_by_source_pj(g.ctx.accel.chip.power_gating, _index(src, i), float(latency_ns[i]),
                                     float(busy_macro_ns[i]), float(busy_leakage_pj[i]), float(wakeups[i]))
                for i, g in enumerate(self.geoms)]
        return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def _shim(ctx: Context, step: TrainingStep, macros_used: int) -> SimpleNamespace:
    """What :func:`standby_sources` reads of a context, for ``step`` on ``ctx``'s chip."""
    return SimpleNamespace(accel=ctx.accel, macro=ctx.macro, device=ctx.device, step=step, batch=1,
                           mapping=SimpleNamespace(macros_used=macros_used))


def _stack(sources: list[StandbySources]) -> StandbySources:
    """Per-geometry standby sources as one with array fields."""
    return StandbySources(**{f.name: np.array([getattr(s, f.name) for s in sources]) for f in fields(StandbySources)})


def _index(src: StandbySources, i: int) -> StandbySources:
    return StandbySources(**{f.name: getattr(src, f.name)[i].item() for f in fields(StandbySources)})


_LEAK = COMPONENTS.index("leakage")


def _in_order(rows: list[np.ndarray]) -> np.ndarray:
    """``rows[0] + rows[1] + ...`` added left to right (the order of the engine's Python sums)."""
    acc = rows[0].copy()
    for r in rows[1:]:
        acc += r
    return acc


def _peak(step: TrainingStep) -> float:
    from imcsim.workload.accounting import peak_activation_bytes

    return float(peak_activation_bytes(step))


def _area_mm2(ctx: Context) -> float:
    """Chip area as ``engine.costs._Pricer._area`` sums it: macros, SRAM buffers, digital units."""
    accel, macro, chip, tile = ctx.accel, ctx.macro, ctx.accel.chip, ctx.accel.tile
    area = {f"macro_{k.removesuffix('_um2')}": float(v) * accel.n_macros
            for k, v in macro.area().as_dict().items() if not k.startswith("total")}
    bits = (chip.global_buffer_kib + chip.tiles * tile.buffer_kib) * 8192
    area["sram_buffers"] = bits * chip.sram_bit_area_um2
    area["digital_units"] = chip.tiles * tile.digital_unit.area_um2
    return sum(area.values()) / 1e6
