"""Leakage by source and the power-gating policy of the chip (``chip.power_gating``).

Why a module: leakage is where a chip's design choices show at low utilisation (batch 1, small networks
on large chips): SRAM buffers and volatile cells leak whether or not anything runs, and an ungated
macro's periphery leaks while it waits. Both engines charge the same energy (over the contention-free
latency, as the rest of the standby power: engine/costs.py), and the result lists it by source.

Sources (W unless noted):

- ``busy_macros``: a macro's periphery and cells while it computes -- priced per op by the macro model
  (its ``leakage`` component), whatever the policy.
- ``idle_macros``: the periphery of macros that are not computing, over the rest of the latency
  (``n_macros x latency - busy macro-time``). Charged only under ``none``.
- ``volatile_cells``: cells of every macro of a volatile device (SRAM); gating them would lose the
  weights, so no policy gates them. Non-volatile cards leak ~0.
- ``sram_buffers``: the global and tile buffers. Under ``macros+buffers`` the capacity that holds
  nothing is gated: the buffers of tiles without a used macro, and the global buffer above the step's
  peak live bytes (the TinyTL profiler peak x batch, an upper bound for INT8 activations, A); gated
  SRAM keeps no data, so only empty capacity is gated (A).
- ``wakeup``: under ``macros`` and ``macros+buffers`` every macro of an MVM op is woken once per step
  (a layer's macros stay on across the batch, A) at :meth:`~imcsim.circuit.macro.MacroConfig.wakeup_energy_pj`
  each. Gated buffer capacity stays off for the whole step (no wake-ups). The wake-up time (charging
  the periphery supply, ~tens of ns) is overlapped with the previous layer (A) and not added to the
  latency.

Policies: ``none`` (nothing gated), ``macros`` (idle macros gated: the default), ``macros+buffers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from imcsim.memo import IdentityMemo

POLICIES = ("none", "macros", "macros+buffers")
SOURCES = ("busy_macros", "idle_macros", "volatile_cells", "sram_buffers", "wakeup", "master_copy")
#: bytes per master weight of ``options.master_copy`` (training keeps them in SRAM, always on)
MASTER_BYTES = {"none": 0, "int16": 2, "fp32": 4}


@dataclass(frozen=True)
class StandbySources:
    """Standby powers of one chip running one step, before a policy is applied."""

    volatile_cells_w: float
    macro_periphery_w: float     # one macro's periphery
    n_macros: int
    sram_buffers_w: float        # every buffer
    empty_buffers_w: float       # the part of it that holds nothing during the step
    wakeup_pj_per_macro: float
    master_copy_w: float = 0.0   # SRAM of the master weights (options.master_copy): holds state, never gated

    def standby_power_w(self, policy: str) -> float:
        """Power charged over the whole latency: volatile cells + the buffers the policy leaves on."""
        check_policy(policy)
        buffers = self.sram_buffers_w - (self.empty_buffers_w if policy == "macros+buffers" else 0.0)
        return self.volatile_cells_w + buffers + self.master_copy_w


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        from imcsim.errors import SpecError

        raise SpecError(None, "chip.power_gating", policy, ", ".join(POLICIES))


_PEAK: dict[int, tuple[Any, float]] = {}


def _peak_bytes(step: Any) -> float:
    """The profiler's peak activation bytes per sample, memoised per step object (sweeps reuse a step)."""
    hit = _PEAK.get(id(step))
    if hit is None or hit[0] is not step:
        from imcsim.workload.accounting import peak_activation_bytes

        if len(_PEAK) > 256:
            _PEAK.clear()
        hit = _PEAK[id(step)] = (step, float(peak_activation_bytes(step)))
    return hit[1]


def standby_sources(ctx: Any) -> StandbySources:
    """The standby sources of a study's chip (a :class:`~imcsim.engine.context.Context`), memoised on what they
    read: the accelerator, macro, mapping and step (by identity: the context's builders share them), the batch and
    the master copy (the pricer and the result record of a point both ask)."""
    study = getattr(ctx, "study", None)   # nas/fastcost passes a context without a study: no master copy
    master = study.options.master_copy if study is not None else None
    return _SOURCES.get((ctx.accel, ctx.macro, ctx.mapping, ctx.step), (ctx.batch, master),
                        lambda: _standby_sources(ctx))


_SOURCES: IdentityMemo[StandbySources] = IdentityMemo(64)


def _standby_sources(ctx: Any) -> StandbySources:
    accel, macro = ctx.accel, ctx.macro
    chip, tile = accel.chip, accel.tile
    per_kib_w = chip.sram_leakage_w_per_kib
    macros_per_tile = int(tile.macros or 1)
    tiles_used = min(chip.tiles, -(-int(ctx.mapping.macros_used) // macros_per_tile))
    live_kib = _peak_bytes(ctx.step) * ctx.batch / 1024
    empty_kib = ((chip.tiles - tiles_used) * tile.buffer_kib
                 + max(0.0, chip.global_buffer_kib - live_kib))
    return StandbySources(
        volatile_cells_w=accel.n_macros * macro.cell_leakage_w,
        macro_periphery_w=macro.periphery_leakage_w,
        n_macros=accel.n_macros,
        sram_buffers_w=(chip.global_buffer_kib + chip.tiles * tile.buffer_kib) * per_kib_w,
        empty_buffers_w=empty_kib * per_kib_w,
        wakeup_pj_per_macro=macro.wakeup_energy_pj,
        master_copy_w=master_copy_bytes(ctx) / 1024 * per_kib_w,
    )


def master_copy_bytes(ctx: Any) -> float:
    """SRAM holding the master weights of every trained array weight (``options.master_copy``): the
    weights the step writes into IMC arrays x the master's bytes per weight."""
    study = getattr(ctx, "study", None)   # nas/fastcost passes a context without a study: no master copy
    per = MASTER_BYTES[study.options.master_copy] if study is not None else 0
    if not per:
        return 0.0
    return float(sum(op.weights for op in ctx.step.ops if op.kind == "write" and op.location == "imc")) * per


def leakage_by_source_pj(policy: str, src: StandbySources, latency_ns: float, busy_macro_ns: float,
                         busy_leakage_pj: float, macro_wakeups: float) -> dict[str, float]:
    """Leakage energy by source (pJ) over ``latency_ns`` under ``policy``; ``busy_macro_ns`` is the
    macro-time spent computing (sum over macros), ``busy_leakage_pj`` what the ops already charged for
    it, ``macro_wakeups`` the macro wake-ups of the step. W x ns = nJ, x 1e3 -> pJ. The numbers may also be
    numpy arrays over design points (imcsim/nas/fastcost.py prices many array geometries at once)."""
    return leakage_by_policy_pj(src, latency_ns, busy_macro_ns, busy_leakage_pj, macro_wakeups, (policy,))[policy]


def leakage_by_policy_pj(src: StandbySources, latency_ns: float, busy_macro_ns: float, busy_leakage_pj: float,
                         macro_wakeups: float, policies: tuple[str, ...] = POLICIES) -> dict[str, dict[str, float]]:
    """:func:`leakage_by_source_pj` under each of ``policies`` (every policy by default: a result lists what
    gating would save), the terms they share made once."""
    for policy in policies:
        check_policy(policy)
    volatile = src.volatile_cells_w * latency_ns * 1e3
    wakeup = src.wakeup_pj_per_macro * macro_wakeups
    master = src.master_copy_w   # np.any on a float costs more than the rest of this function
    master_pj = src.master_copy_w * latency_ns * 1e3 if (master.any() if isinstance(master, np.ndarray) else master) \
        else None   # only with options.master_copy
    out: dict[str, dict[str, float]] = {}
    for policy in policies:
        if policy == "none":
            idle = src.n_macros * latency_ns - busy_macro_ns
            idle_ns = np.maximum(0.0, idle) if isinstance(idle, np.ndarray) else max(0.0, idle)
        buffers_w = src.sram_buffers_w - (src.empty_buffers_w if policy == "macros+buffers" else 0.0)
        by_source = out[policy] = {
            "busy_macros": busy_leakage_pj,
            "idle_macros": src.macro_periphery_w * idle_ns * 1e3 if policy == "none" else 0.0,
            "volatile_cells": volatile,
            "sram_buffers": buffers_w * latency_ns * 1e3,
            "wakeup": 0.0 if policy == "none" else wakeup,
        }
        if master_pj is not None:
            by_source["master_copy"] = master_pj
    return out
