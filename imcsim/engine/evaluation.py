"""Evaluate a study with the analytic or the event engine; both price with :func:`price_step`.

``evaluate(study)`` returns a :class:`~imcsim.engine.ledger.Result`; ``evaluate_point(params)`` takes
the flat form of a study (a sweep point) and returns the flat summary record, which is what sweeps store.
``evaluate_many(studies)`` / ``evaluate_points(points)`` do the same for many points at once (what a sweep
runs), each result equal to the point evaluated alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from imcsim.config.study import Study, study_from_params
from imcsim.engine.context import Context, build_context, fallback_note, preset_for
from imcsim.engine.costs import POOL, PricedStep, price_step, prime_layer_costs
from imcsim.engine.estimate import _estimate_key, activation_staging, row_estimate_cycles, row_estimates_many
from imcsim.engine.leakage import leakage_by_policy_pj
from imcsim.engine.ledger import Result
from imcsim.engine.plan import paused_gc
from imcsim.engine.schedule import Barrier, analytic_cycles, simulate
from imcsim.memo import IdentityMemo

ENGINES = ("analytic", "event")
PRICED_CACHE_SIZE = 64   # whole priced steps kept; one Flan-T5-large step holds ~12k records (~10 MiB)


@dataclass(frozen=True)
class _Priced:
    """A priced step and what both engines derive from it without the timeline (read-only, shared)."""

    step: PricedStep
    batch: int
    op_energy_pj: dict[str, float]
    macro_busy_cycles: float
    reload_write_cycles: float
    #: the analytic engine's latency with ``chip.pipeline: row`` (engine/estimate.py), else None
    row_estimate_cycles: float | None = None
    #: forward activations staged outside the tile buffers without the row plan (engine/staging.py):
    #: (DRAM bytes, global-buffer bytes) by the row estimate's line-buffer needs or by layer order's whole maps
    staging: tuple[float, float] = (0.0, 0.0)

    @cached_property
    def bound_cycles(self) -> float:
        """The layer flow-shop bound of the step's items (engine/schedule.py), made on first use: under
        ``chip.pipeline: row`` nothing reads it (the row estimate is the analytic latency), and it walks
        every item of the step (~45 us of a new geometry's point)."""
        return _flow_shop_cycles(self.step, self.batch)

    @property
    def analytic_cycles(self) -> float:
        """The analytic engine's latency: the row estimate under ``chip.pipeline: row``, else the layer
        flow-shop bound (exact against the event engine without contention)."""
        return self.bound_cycles if self.row_estimate_cycles is None else self.row_estimate_cycles


_PRICED: IdentityMemo[_Priced] = IdentityMemo(PRICED_CACHE_SIZE)


def _priced(study: Study, ctx: Context) -> _Priced:
    """Price a study's step once per distinct (chip, step, options): a repeated point (a re-run, a sweep
    revisiting a point, the event engine after the analytic one) costs a dictionary lookup. The key is what
    pricing reads: the context's pieces by identity (the context builders memoise them per spec, so equal
    specs give the same objects), the batch and every study option by value (all scalars); building it costs
    no serialisation, so a sweep over write options, which never revisits a key, pays nothing for it.
    Results never mutate what is cached."""
    return _PRICED.get(*_priced_key(study, ctx), lambda: _price(ctx))


def _priced_key(study: Study, ctx: Context) -> tuple[tuple, tuple]:
    """(owners, values) of a study's priced step in ``_PRICED`` (:func:`_priced`)."""
    return (ctx.step, ctx.mapping, ctx.macro, ctx.accel, ctx.device), (ctx.batch, *study.options.__dict__.values())


def _priced_many(points: list[tuple[Study, Context]]) -> list[_Priced | None]:
    """:func:`_priced` of many points: those not priced yet are priced one by one; what their items and the
    context's pieces decide (the row estimate, the activation staging, the reloads' pool writes) is made once
    per distinct item list and pieces (a sweep over write options or steps per day prices alike: its points
    share their items, engine/costs.py), the row estimates together (``estimate.row_estimates_many``: numpy
    over the points that share a skeleton), each equal to its own. None where pricing failed: that point
    raises its error when evaluated alone."""
    out: list[_Priced | None] = [None] * len(points)
    new: dict[tuple, list[int]] = {}
    keys: list[tuple[tuple, tuple]] = []   # (owners, values) of each new entry, in order
    for k, (study, ctx) in enumerate(points):
        owners, extra = _priced_key(study, ctx)
        hit = _PRICED.peek(owners, extra)
        if hit is not None:
            out[k] = hit
            continue
        members = new.setdefault(_PRICED.key(owners, extra), [])
        if not members:
            keys.append((owners, extra))
        members.append(k)
    steps: list[tuple[list[int], PricedStep, tuple[tuple, tuple]]] = []
    for members, key in zip(new.values(), keys):
        try:
            steps.append((members, price_step(points[members[0]][1]), key))
        except Exception:
            continue
    alike: dict[tuple, list[int]] = {}   # steps by what the estimate and the staging read (estimate._estimate_key)
    for j, (members, pr, _) in enumerate(steps):
        alike.setdefault(IdentityMemo.key(*_estimate_key(points[members[0]][1], pr)), []).append(j)
    firsts = [(points[steps[js[0]][0][0]][1], steps[js[0]][1], js) for js in alike.values()]
    rows = [(ctx, pr, js) for ctx, pr, js in firsts if ctx.accel.chip.pipeline == "row"]
    derived: dict[int, tuple] = {}
    if rows:
        try:
            estimates = row_estimates_many([ctx for ctx, _, _ in rows], [pr for _, pr, _ in rows])
        except Exception:
            estimates = [None] * len(rows)   # each point's own estimate then raises its error
        for (_, _, js), row in zip(rows, estimates):
            derived[js[0]] = (row,)
    for ctx, pr, js in firsts:
        try:
            staging, pool_writes = activation_staging(ctx, pr), _reload_write_cycles(pr)
        except Exception:
            staging = pool_writes = None   # each point's own then raises its error (in _price)
        shared = (*derived.get(js[0], (None,)), staging, pool_writes)
        for j in js:
            derived[j] = shared
    for j, (members, pr, key) in enumerate(steps):
        ctx = points[members[0]][1]
        row, staging, pool_writes = derived[j]
        try:
            cached = _PRICED.get(*key, lambda ctx=ctx, pr=pr, row=row, staging=staging,
                                 pool_writes=pool_writes: _price(ctx, pr, row, staging, pool_writes))
        except Exception:
            continue
        for k in members:
            out[k] = cached
    return out


def _price(ctx: Context, priced: PricedStep | None = None, row: float | None = None,
           staging: tuple[float, float] | None = None, reload_write_cycles: float | None = None) -> _Priced:
    """A priced step and what both engines derive from it; ``priced``, the row estimate ``row``, the
    activation ``staging`` and the reloads' pool-write cycles when already made (:func:`_priced_many`)."""
    priced = priced if priced is not None else price_step(ctx)
    if ctx.accel.chip.pipeline != "row":
        row = None
    elif row is None:
        row = row_estimate_cycles(ctx, priced)
    return _Priced(priced, ctx.batch, priced.op_energy_pj(), priced.macro_busy_cycles(),
                   _reload_write_cycles(priced) if reload_write_cycles is None else reload_write_cycles, row,
                   activation_staging(ctx, priced) if staging is None else staging)


_TIMING: IdentityMemo[float] = IdentityMemo(PRICED_CACHE_SIZE)


def _flow_shop_cycles(priced: PricedStep, batch: int) -> float:
    """The analytic bound of a priced step's items, memoised on the item list (points that price the same
    share it: engine/costs.py)."""
    return _TIMING.get((priced.items,), (batch, frozenset(priced.exclusive)),
                       lambda: analytic_cycles(priced.items, batch, priced.exclusive))


_POOL_STAGES: IdentityMemo[tuple[tuple[int, int], ...]] = IdentityMemo(PRICED_CACHE_SIZE)


def _reload_write_cycles(priced: PricedStep) -> float:
    """Cycles of the reloads' pool writes: a reload is a barrier (DRAM stage, then a write stage on the
    streaming pool); no other barrier uses the pool. Where those stages are among the items is memoised on
    what decides the items' ops and resources (``PricedStep.structure``: points that price alike, e.g. array
    geometries that keep the residency, differ only in cycles), so a point adds up only them, in item order
    (as a walk over every item adds them)."""
    items = priced.items
    if not priced.structure:
        return sum(s.cycles for it in items if type(it) is Barrier for s in it.stages if s.resource == POOL)
    shape, empty = priced.structure
    where = _POOL_STAGES.get((shape,), (empty,), lambda: tuple(
        (i, k) for i, it in enumerate(items) if type(it) is Barrier
        for k, s in enumerate(it.stages) if s.resource == POOL))
    return sum(items[i].stages[k].cycles for i, k in where)


_STAGED: IdentityMemo[Any] = IdentityMemo(PRICED_CACHE_SIZE)


def _staged_table(records: Any, extra: dict[str, float]) -> Any:
    """The step's ops plus the staged-activations record, memoised on the step's table (by identity) and the
    record's energies: points that share a priced table (a sweep over write policy, flip probability or
    steps per day) share this one too, with the sums it has already made (tables are read-only once built)."""
    from imcsim.engine.ledger import OpRecord

    return _STAGED.get((records,), tuple(extra.items()), lambda: records + [OpRecord(
        "activations:staged", "activations", "forward", "buffer", "dram", 1, 0.0,
        {k: v for k, v in extra.items() if v})])


def clear_caches() -> None:
    """Forget everything the engine reuses between evaluations (every identity memo, the mappings and their
    layers, the macro models, shapes and numbers), so the next point prices as in a fresh process: what tests
    compare a sweep's reuse against."""
    from imcsim.memo import clear_all

    clear_all()


def evaluate(study: Study, engine: str | None = None, record_trace: bool = False) -> Result:
    """Price one study. ``engine`` overrides ``study.engine``; the event engine can keep its timeline."""
    return _evaluated(study, engine, record_trace)


def _evaluated(study: Study, engine: str | None, record_trace: bool = False, described: bool = True) -> Result:
    engine = _engine(study, engine)
    if engine == "event":
        # an event evaluation only adds objects (context, pricing, plan, run) until it returns, so the collector's
        # rescans of that growing heap are wasted: one collection after it instead of ~1,000 (Flan-T5-large
        # LoRAFusion, row: 0.47-0.54 s of collections -> 0.08-0.09 s, peak RSS unchanged)
        with paused_gc():
            return _evaluate(study, build_context(study), engine, record_trace, described=described)
    return _evaluate(study, build_context(study), engine, record_trace, described=described)


def _engine(study: Study, engine: str | None) -> str:
    engine = engine or study.engine
    if engine not in ENGINES:
        from imcsim.errors import SpecError

        raise SpecError(None, "engine", engine, allowed=", ".join(ENGINES))
    return engine


def _evaluate(study: Study, ctx: Context, engine: str, record_trace: bool = False,
              cached: _Priced | None = None, described: bool = True) -> Result:
    cached = cached if cached is not None else _priced(study, ctx)
    priced, bound = cached.step, cached.analytic_cycles
    timeline = None
    plan = None
    if engine == "event" and ctx.accel.chip.pipeline == "row":
        from imcsim.engine.events import run_plan
        from imcsim.engine.plan import build_plan

        with paused_gc():   # one pause over both (already paused by evaluate; not by every caller)
            plan = build_plan(ctx, priced)
            timeline = run_plan(plan, record=record_trace)
        cycles = timeline.cycles
    elif engine == "event":
        timeline = simulate(priced.items, ctx.batch, priced.exclusive, record=record_trace)
        cycles = timeline.cycles
    else:
        cycles = bound
    return _result(study, ctx, cached, engine, cycles, timeline, plan, described)


def _result(study: Study, ctx: Context, cached: _Priced, engine: str, cycles: float, timeline,
            plan=None, described: bool = True) -> Result:
    """The result of a priced and timed study. ``described=False``: what a sweep record is made from
    (:func:`_record`), never handed out: without its description (``study`` and ``assumptions`` left empty,
    :func:`_description`), its ops without the staged-activations op (which changes none of the sums a summary
    reads: ``ledger._AppendedTable``), its measured and assumed figures the priced step's own (not copies)."""
    priced, bound = cached.step, cached.analytic_cycles
    energy = dict(cached.op_energy_pj)
    # The ops' own leakage (macros while they compute) stays; the chip's standby power (volatile cells, SRAM
    # buffers) is added over the latency of the engine that ran. W x ns = nJ; x 1e3 -> pJ.
    # By power-gating policy (chip.power_gating, imcsim/engine/leakage.py): idle macros' periphery (none) and
    # macro wake-ups (macros, macros+buffers) are added too; the sum equals busy + standby + idle + wake-ups.
    latency_ns = cycles * ctx.cycle_ns
    src = priced.standby
    wakes = priced.records.macro_wakeups()
    by_policy = leakage_by_policy_pj(src, latency_ns, cached.macro_busy_cycles * ctx.cycle_ns, energy["leakage"], wakes)
    leak_by_source = by_policy[ctx.accel.chip.power_gating]
    energy["leakage"] = sum(leak_by_source.values())
    records = priced.records
    # forward activations that do not fit the tile buffers wait in the global buffer or in DRAM (written once,
    # read once): the row engine's plan, else the same rule without it (engine/staging.py: the row estimate's
    # line-buffer needs, or layer order's whole maps), so every engine prices the spills of inference
    spill_bytes, global_bytes = (plan.spill_bytes, plan.global_bytes) if plan is not None else cached.staging
    if spill_bytes or global_bytes:
        chip = ctx.accel.chip
        extra = {"dram": spill_bytes * 8 * (chip.dram_write_energy_pj_per_bit + chip.dram_read_energy_pj_per_bit),
                 "buffer": global_bytes * (chip.global_buffer_write_pj_per_byte
                                           + chip.global_buffer_read_pj_per_byte)}
        if described:
            records = _staged_table(records, extra)
        for k, v in extra.items():
            energy[k] += v
    # the step's write account, finished with the chip's cells and the device's endurance
    n_cells = ctx.accel.n_macros * ctx.macro.rows * ctx.macro.cols
    writes = priced.writes.finished(n_cells, ctx.device, study.options.steps_per_day)
    mapping = dict(priced.mapping_summary)
    mapping["deploy_energy_pj"] = priced.deploy.energy_pj
    mapping["deploy_latency_ns"] = priced.deploy.latency_ns
    mapping["batch"] = ctx.batch
    mapping["trainable_params"] = ctx.step.trainable_params
    if timeline is not None:
        mapping["events"] = timeline.events
    mapping["pipeline"] = ctx.accel.chip.pipeline
    stalls: dict[str, float] = {}
    bottleneck = None
    if plan is not None:
        stalls = dict(timeline.stalls)
        tasks = {t.name for t in plan.tasks}
        path = {k: v for k, v in timeline.critical_path.items() if k in tasks}
        bottleneck = max(path, key=path.__getitem__) if path else None
        mapping["relaxed_edges"] = plan.relaxed
        mapping["row_group"] = plan.row_group
    mapping["activation_spill_bytes"] = spill_bytes
    mapping["activation_global_buffer_bytes"] = global_bytes
    # fraction of the occupied macros' time spent computing, over this engine's latency
    used = ctx.mapping.macros_used
    mapping["temporal_utilisation"] = cached.macro_busy_cycles / (used * cycles) if cycles and used else 0.0
    flat, assumptions = _description(study, ctx, cached, engine, writes, plan, spill_bytes) if described else ({}, [])
    return Result(flat, engine, ctx.cycle_ns, cycles, energy, records, writes, priced.area_um2, mapping,
                  assumptions, timeline, analytic_latency_cycles=bound,
                  standby_power_w=priced.standby_power_w, reload_write_cycles=cached.reload_write_cycles,
                  stall_cycles=stalls, bottleneck=bottleneck, leakage_by_source_pj=leak_by_source,
                  leakage_by_policy_pj={p: sum(v.values()) for p, v in by_policy.items()},
                  power_gating=ctx.accel.chip.power_gating, macro_wakeups=wakes,
                  activity_model=ctx.macro.activity_model,
                  measured=dict(priced.measured) if described else priced.measured,
                  assumed=dict(priced.assumed) if described else priced.assumed)


def _description(study: Study, ctx: Context, cached: _Priced, engine: str, writes: Any, plan: Any,
                 spill_bytes: float) -> tuple[dict[str, Any], list[str]]:
    """What a result says about its study (``Result.study``: the flat study with the chip the engine chose)
    and the assumptions its numbers rest on: read by reports and ledgers, not by the summary a sweep stores."""
    priced = cached.step
    flat = study.flat()
    flat["accelerator"] = flat.get("accelerator") or preset_for(study)
    flat["device"] = flat.get("device") or ctx.device.name
    flat.update({"rows": ctx.macro.rows, "cols": ctx.macro.cols, "rows_parallel": ctx.macro.rows_parallel,
                 "column_mux": ctx.accel.macro.column_mux, "bits_per_cell": ctx.macro.bits_per_cell,
                 "batch": ctx.batch})
    assumptions = list(priced.assumptions)
    note = fallback_note(study)
    if note:
        assumptions.insert(0, note)
    if writes.reload_weights and plan is not None:
        assumptions.append("reloads are tasks of the row engine: each fetched from DRAM (prefetched after the previous "
                           "reload) and written by the pool tile's write drivers once the pool's previous layer is "
                           "done; other layers compute meanwhile")
    elif writes.reload_weights and cached.row_estimate_cycles is not None:
        assumptions.append("reloads as in the row engine: the estimate takes the streaming pool in turn (first fetch, "
                           "then each layer's pool write and its rows)")
    elif writes.reload_weights:
        assumptions.append("reloads run once per step as barriers that nothing overlaps: their time adds to the "
                           "latency, and reload energy counts the chip standby power "
                           f"({priced.standby_power_w:.3g} W: volatile cells, SRAM buffers) over that time")
    if plan is not None:
        assumptions.append("row-pipelined event engine (chip.pipeline: row): each layer streams its output rows; a "
                           "consumer row starts when the producer rows it needs are in its line buffer")
        assumptions.extend(plan.notes)
    if spill_bytes:
        assumptions.append(f"{spill_bytes / 1e6:.3g} MB of forward activation traffic through DRAM: "
                           + ("line buffers too small for an edge's rows" if ctx.accel.chip.pipeline == "row"
                              else "whole maps (layer order) larger than the tile and global buffers")
                           + " (written and read back, engine/staging.py)")
    if engine == "analytic" and cached.row_estimate_cycles is not None:
        assumptions.append("analytic estimate of row pipelining (chip.pipeline: row, engine/estimate.py): a lower "
                           "bound of the row event engine (fill + slowest stream, shared resources, the backward "
                           "chain) that leaves out line-buffer, NoC, DRAM-channel and write-driver waits")
    assumptions.append(f"chip standby leakage charged over the {engine} engine's latency")
    return flat, assumptions


def evaluate_many(studies: Sequence[Study], engine: str | None = None) -> list[Result | Exception]:
    """Price many studies, each result equal to :func:`evaluate` of its study alone (to the last bit), and
    a failing study's exception in its place. Points that differ in their arrays (geometry, device,
    macro options) share the work that does not depend on them; what does is priced for all of them at
    once: their contexts are built first, then their MVM layers' macro costs in one stacked numpy pass
    (``costs.prime_layer_costs``), then each point is finished as :func:`evaluate` would. This is what a
    sweep runs (:func:`evaluate_points`, the sweep runner's chunks). The cyclic garbage collector is paused
    over the chunk (``plan.paused_gc``): its points only add objects until they are done, and its full
    rescans of the growing heap took ~13 % of a chunk of new geometries."""
    with paused_gc():   # a chunk's points only add objects until they are done: no collector rescans meanwhile
        return _evaluate_many(studies, engine)


def _evaluate_many(studies: Sequence[Study], engine: str | None, finish: Any = None) -> list[Any]:
    """:func:`evaluate_many`; with ``finish``, each point's ``finish(study, result)`` in place of its result, made
    as soon as the result is (while its objects are in the cache), the result undescribed (:func:`_result`)."""
    out: list[Any] = [None] * len(studies)
    todo: list[tuple[int, Study, Context, str]] = []
    for i, study in enumerate(studies):
        try:
            engine_i = _engine(study, engine)
            todo.append((i, study, build_context(study), engine_i))
        except Exception as exc:  # a failing point is its own answer; the others go on
            out[i] = exc
    prime_layer_costs([ctx for _, _, ctx, _ in todo])
    priced = _priced_many([(study, ctx) for _, study, ctx, _ in todo])
    for (i, study, ctx, engine_i), cached in zip(todo, priced):
        try:
            if finish is None:
                out[i] = _evaluate(study, ctx, engine_i, cached=cached)
            else:
                out[i] = finish(study, _evaluate(study, ctx, engine_i, cached=cached, described=False))
        except Exception as exc:
            out[i] = exc
    return out


def evaluate_point(params: dict[str, Any]) -> dict[str, Any]:
    """A sweep point (flat study fields) -> the flat summary record of its result."""
    study = study_from_params(params)
    return _record(study, _evaluated(study, None, described=False))


def evaluate_points(points: Sequence[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
    """Sweep points (flat study fields) -> the flat summary record of each, as :func:`evaluate_point` gives
    it, or the exception it raised: priced together as :func:`evaluate_many` prices them, each record made as
    soon as its result is. The sweep runner hands its chunks here (``evaluate_point.batch``)."""
    with paused_gc():
        return _evaluate_points(points)


def _evaluate_points(points: Sequence[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
    out: list[Any] = [None] * len(points)
    studies: list[tuple[int, Study]] = []
    for i, params in enumerate(points):
        try:
            studies.append((i, study_from_params(params)))
        except Exception as exc:
            out[i] = exc
    for (i, _), record in zip(studies, _evaluate_many([s for _, s in studies], None, finish=_record)):
        out[i] = record
    return out


def _record(study: Study, result: Result) -> dict[str, Any]:
    """The one way a sweep record is made: the summary of a study's result (described or not: the summary reads
    neither its study nor its assumptions) and the chip the engine chose."""
    record = result.summary()
    if study.accelerator is None:   # the chip the engine chose is part of the answer (acc-<device> or the fallback)
        record["accelerator"] = preset_for(study)
    return record


#: the sweep runner evaluates a chunk of points with one call of this (imcsim/sweep/runner.py)
evaluate_point.batch = evaluate_points   # type: ignore[attr-defined]
