"""The row-pipelined, cycle-level event engine over a :class:`~imcsim.engine.plan.Plan` (SimPy's event
semantics, run on the lighter core of :mod:`imcsim.engine.eventloop`).

Rules (the cycle-stepped reference in ``tests/cycle_reference.py`` implements the same ones, one clock
cycle at a time, and the tests hold the two equal cycle for cycle):

1. A task's rows run in order (sample by sample). Row ``g`` starts when (a) every input edge has
   delivered the producer rows it needs (``Edge.need``), (b) every bounded output edge has a free row in
   the consumer's line buffer (rows reserved - rows freed < ``cap``; the row is reserved then),
   (c) without double buffering, the previous row has been delivered on every output edge.
2. It then runs its stages in order; a stage on a contended resource waits for a unit of it.
3. When its last stage ends the row is done: the producer rows below the next row's ``lo`` are freed on
   every input edge, and the row is handed to every output edge (delivered at once inside a tile).
4. An edge through DRAM or the global buffer sends its rows in order: each stage (a write, a read back) is held
   for its cycles, then its delay passes; after the last one the row is delivered. An edge over NoC links
   (``Edge.links``) moves its rows by virtual cut-through (``noc.link_stages``, A): row ``j``'s head takes link
   ``i`` once it has reached router ``i`` (link 0: once the row is produced) and the link is free (rows of one
   edge take each link in order), holds it ``hold`` cycles, and reaches router ``i + 1`` ``delay`` cycles after
   taking it, whether or not the link is still held; the row is delivered ``hold + delay`` after it took the
   last link. So several rows of one edge can be on its route at once, one per link.
5. **Arbitration.** At each instant, after every completion of that instant has been processed and every
   request it caused has been made, each contended resource with a free unit grants the waiting requests
   with the smallest keys: (0, task, row) for task rows, (1, edge, row) for transfers. (SimPy: the
   grant is an event scheduled at the current time with a priority below SimPy's NORMAL, so it runs
   after all same-time events.)
6. Tasks of segment k start when barrier k - 1 ends; barrier k starts when every task and transfer of
   segment k is done, and runs its stages one after the other.
7. **Double-buffered port.** With double buffering (``Plan.double_buffering``: ``tile.double_buffering``), a task
   whose rows are a tile-buffer port stage then a unit stage (an MVM: its rows through the tile buffer port, then
   its macros) has two input buffers before its unit: row ``g``'s port stage starts once rule 1 (a) holds (its
   inputs are delivered) and row ``g - 2``'s unit stage has ended (a buffer is free); its unit stage starts once
   its port stage and row ``g - 1``'s unit stage have ended and rule 1 (b) holds (a free row on every bounded
   output edge, reserved then: the row's output needs it, its inputs do not); the row is done (rule 3) when its
   unit stage ends. So the port moves row ``g + 1`` while the macros compute row ``g``. Without double
   buffering the two stages run in turn (rule 2).

What it reports (:class:`RowTimeline`): latency, per-resource busy cycles, utilisation and longest queue,
stall cycles by cause (``input``: waiting for producer rows; ``buffer``: a consumer's line buffer is
full or, without double buffering, the last row not yet delivered; ``compute``: a busy macro, digital
unit or buffer port (not a port task's wait for its own free input buffer, nor its unit's wait for
its own port stage: rule 7); ``noc``: a link another transfer holds (not the edge's own previous row); ``dram``: a
busy DRAM channel; ``write``: write drivers),
summed over rows, and the critical path (the chain of rows and transfers that ended last, followed back
through whatever each one waited for last) with its bottleneck op.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from heapq import heappush
from typing import Any

from imcsim.engine.eventloop import CURRENT, LATE, LATE_SHIFT, NORMAL, Environment
from imcsim.engine.ledger import STALL_CAUSES
from imcsim.engine.plan import Plan, paused_gc
from imcsim.engine.schedule import Interval

_CAUSE_OF_KIND = {"macros": "compute", "digital": "compute", "tile_buffer": "compute", "global_buffer": "compute",
                  "link": "noc", "noc": "noc", "dram": "dram", "write": "write", "other": "compute"}


@dataclass
class RowTimeline:
    """What the row engine returns (cycles throughout)."""

    cycles: float
    intervals: list[Interval] = field(default_factory=list)
    events: int = 0
    busy: dict[str, float] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    longest_queue: dict[str, int] = field(default_factory=dict)
    stalls: dict[str, float] = field(default_factory=dict)
    critical_path: dict[str, float] = field(default_factory=dict)   # op -> cycles on the critical path
    finish: dict[str, float] = field(default_factory=dict)          # op -> time its last row ended

    def busy_cycles(self) -> dict[str, float]:
        return dict(self.busy)

    def utilisation(self) -> dict[str, float]:
        return {r: b / (self.cycles * self.capacity.get(r, 1)) if self.cycles else 0.0 for r, b in self.busy.items()}

    @property
    def bottleneck(self) -> str | None:
        return max(self.critical_path, key=self.critical_path.__getitem__) if self.critical_path else None


class _Counter:
    """A monotone count with waiters on thresholds (rows delivered, freed or produced). A process waits for the count
    to reach ``n`` by appending ``(n, its parked wake)`` to ``waiters`` and parking (``eventloop``). The record
    that set the value last is passed to ``notify`` (only a transfer reads it without waiting: ``by``, kept on the
    counts of produced rows alone, so a count does not hold a chain of records alive)."""

    __slots__ = ("value", "waiters", "by")

    def __init__(self) -> None:
        self.value = 0
        self.waiters: list[tuple[int, Any]] = []
        self.by: Any = None  # produced rows: the record of the last one (critical path)

    def notify(self, by: Any) -> None:
        """Wake the waiters the count has reached, with ``by``. The engine sets ``value`` itself and calls this only
        when someone waits (most counts change with nobody waiting)."""
        value = self.value
        waiters = self.waiters
        if len(waiters) == 1:   # the common case, written out
            n, wake = waiters[0]
            if n <= value:
                wake._value = by
                env = wake.process.env
                now = env.now
                heappush(env._queue, (now, NORMAL, now, next(env._eid), wake))
                self.waiters = []
            return
        keep = []
        for n, wake in waiters:
            if n <= value:   # wake.wake(by), inlined: where ev.succeed(by) would schedule the waiter's event
                wake._value = by
                env = wake.process.env
                now = env.now
                heappush(env._queue, (now, NORMAL, now, next(env._eid), wake))
            else:
                keep.append((n, wake))
        self.waiters = keep


class _Arbiter:
    """A contended resource of one unit (rule 5), decided as soon as the outcome is known instead of in a pass
    at the instant's end. SimPy's grant is an event at the current time with a priority below NORMAL: after
    every event of the instant, it gives the unit to the smallest key waiting, and the granted process
    schedules its hold's end at once. Here the unit goes at once to the first request of the instant that
    finds it free (or, when it is freed, to the smallest waiting key); a later request of the same instant with
    a smaller key takes it over (the earlier grant is revoked and waits again). So at the instant's end the
    unit is held by the request SimPy's grant would choose, and its hold's end is in the queue with the id that
    grant would have given it (``Environment.late_id``: after every entry of the instant, in the order the
    arbiters asked, which is the order SimPy's grant events were scheduled in): every event keeps its place in
    the order. A hold lasts at least one cycle, so no release can fall between a grant and the instant's end.
    A process holds a unit by calling ``hold`` with its parked wake and parking; it resumes when the hold
    ends, with the record of the release before the grant (it was granted its cycles before), and then calls
    ``release``."""

    __slots__ = ("env", "free", "queue", "longest", "last", "at", "grant")

    def __init__(self, env: Any) -> None:
        self.env = env
        self.free = 1
        self.queue: list[tuple[int, Any, int]] = []   # (key, wake, cycles): keys are unique (see _key)
        self.longest = 0
        self.last: Any = None   # record of the last release (critical path)
        self.at = -1.0          # the instant of the last grant
        self.grant: tuple[int, Any, int, int] = (-1, None, 0, 0)   # (key, wake, cycles, id) of the last grant

    def hold(self, wake: Any, key: int, cycles: int) -> None:
        env = self.env
        now = env.now
        if self.free:   # the first request of the instant to find the unit free: granted at once
            self.free = 0
            eid = LATE + (next(env._eid) << LATE_SHIFT)   # env.late_id(), written out
            if not self.longest:
                self.longest = 1
        elif self.at == now and key < self.grant[0]:   # takes this instant's grant over
            key0, wake0, cycles0, eid = self.grant
            heapq.heappush(self.queue, (key0, env.revoke(wake0), cycles0))
            eid += 1
            self._count(now)
        else:
            queue = self.queue
            heapq.heappush(queue, (key, wake, cycles))
            n = len(queue) + (self.at == now)   # SimPy's queue still holds this instant's grant
            if n > self.longest:
                self.longest = n
            return
        self.at = now
        self.grant = (key, wake, cycles, eid)
        wake._value = self.last
        heappush(env._queue, (now + cycles, NORMAL, now, eid, wake))

    def _count(self, now: float) -> None:
        n = len(self.queue) + (self.at == now)   # SimPy's queue still holds this instant's grant
        if n > self.longest:
            self.longest = n

    def release(self, record: Any) -> None:
        self.last = record
        queue = self.queue
        if queue:   # the smallest key waiting, granted at once
            key, wake, cycles = heapq.heappop(queue)
            env = self.env
            now = env.now
            eid = env.late_id()
            self.at = now
            self.grant = (key, wake, cycles, eid)
            wake._value = record
            heappush(env._queue, (now + cycles, NORMAL, now, eid, wake))
        else:
            self.free = 1

    def rehold(self, record: Any, wake: Any, key: int, cycles: int) -> None:
        """``release(record)`` then at once ``hold(wake, key, cycles)`` by the same process (a transfer's write and
        read back on one channel). When its key is below every waiting one, the unit would be granted to the
        smallest waiting key and taken straight back (a revoke): it is kept instead, with the id that takeover gives
        (the release's late id, revised once), and the same longest-queue count."""
        queue = self.queue
        if not queue or queue[0][0] > key:
            self.last = record
            env = self.env
            now = env.now
            eid = LATE + (next(env._eid) << LATE_SHIFT)   # the id release() or hold() would take
            if queue:   # the takeover's revision, counted as it counts
                eid += 1
                n = len(queue) + 1
                if n > self.longest:
                    self.longest = n
            elif not self.longest:
                self.longest = 1
            self.free = 0
            self.at = now
            self.grant = (key, wake, cycles, eid)
            wake._value = record
            heappush(env._queue, (now + cycles, NORMAL, now, eid, wake))
        else:
            self.release(record)
            self.hold(wake, key, cycles)


class _PoolArbiter:
    """A contended resource of several units (rule 5), as SimPy would grant it: after every event of the
    instant (``Environment.at_instant_end``) the free units go to the smallest keys, in key order, their holds'
    ends taking the ids reserved when the resource asked (``Environment.late_id``). Used as :class:`_Arbiter`."""

    __slots__ = ("env", "free", "queue", "longest", "last", "scheduled", "eid")

    def __init__(self, env: Any, capacity: int) -> None:
        self.env = env
        self.free = capacity
        self.queue: list[tuple[int, Any, int]] = []
        self.longest = 0
        self.last: Any = None
        self.scheduled = False
        self.eid = 0

    def hold(self, wake: Any, key: int, cycles: int) -> None:
        queue = self.queue
        heapq.heappush(queue, (key, wake, cycles))
        if len(queue) > self.longest:
            self.longest = len(queue)
        if not self.scheduled and self.free > 0:
            self._ask()

    def release(self, record: Any) -> None:
        self.free += 1
        self.last = record
        if not self.scheduled and self.queue:
            self._ask()

    def rehold(self, record: Any, wake: Any, key: int, cycles: int) -> None:
        self.release(record)
        self.hold(wake, key, cycles)

    def _ask(self) -> None:
        self.scheduled = True
        self.eid = self.env.late_id()
        self.env.at_instant_end(self._grant)

    def _grant(self) -> None:
        self.scheduled = False
        queue, env, eid = self.queue, self.env, self.eid
        now = env.now
        while self.free > 0 and queue:
            _, wake, cycles = heapq.heappop(queue)
            self.free -= 1
            wake._value = self.last
            heappush(env._queue, (now + cycles, NORMAL, now, eid, wake))
            eid += 1


def simulate_plan(plan: Plan, record: bool = False) -> RowTimeline:
    """Run the plan under the rules of the module docstring."""
    env = Environment()
    res = plan.resources
    arb: list[_Arbiter | _PoolArbiter | None] = [
        None if not r.contended else _Arbiter(env) if r.capacity == 1 else _PoolArbiter(env, r.capacity) for r in res]
    cause = [_CAUSE_OF_KIND.get(r.kind, "compute") for r in res]
    busy = [0.0] * len(res)
    stalls = dict.fromkeys(STALL_CAUSES, 0.0)
    intervals: list[Interval] = []
    n_events = [0]
    tasks, edges = plan.tasks, plan.edges
    # the counts a row waits on: rows delivered on every edge; rows freed on a bounded edge only (nothing else waits
    # for them); rows produced on an edge with transfer stages only (its transfer process waits for them)
    delivered = [_Counter() for _ in edges]
    freed = [_Counter() if e.cap is not None else None for e in edges]
    produced = [_Counter() if e.stages else None for e in edges]
    totals = [t.total_rows for t in tasks]
    finish: dict[str, float] = {}
    blocked = [-1] * len(tasks)   # the bounded edge a task waits on for a free row, if any
    last_record: list[Any] = [None]
    segment_start: list[Any] = [None]   # the record the current segment started after (its barrier)

    # a record is (name, start, end, predecessor record) for the critical path. Waits for a count (rows
    # delivered or freed) and stages on a contended resource (request, hold, release) are written out where
    # they happen: a generator less per wait and per stage. Busy cycles and the event count follow from the
    # plan (every row of every task and transfer runs once) and are summed after the run.
    def task_proc(ti: int):
        me = yield CURRENT
        t = tasks[ti]
        total, rows, name = totals[ti], t.rows, t.name
        # per input edge: (rows delivered, producer rows needed per row of a sample, producer rows per sample); row
        # g = b * rows + ri needs hi[ri] + b * src_rows (Edge.need: an edge's consumer rows are its task's rows)
        ins = tuple((delivered[ei], edges[ei].hi, edges[ei].src_rows) for ei in t.in_edges)
        pred = segment_start[0]   # a task that never waits waited for the barrier before its segment
        # row 0's inputs first, as the row loop below would wait for them, before the rest is built: most tasks of
        # a big segment wait here from its start, so they hold their inputs only (the loop's checks for row 0
        # then pass: counts only grow)
        for cnt, hi, _ in ins if total else ():
            n = hi[0]
            if cnt.value < n:
                t0 = env.now
                cnt.waiters.append((n, me.parked))
                by = yield None
                stalls["input"] += env.now - t0
                if by is not None:
                    pred = by
        key = _key(False, ti)
        for ei in t.in_edges:
            if edges[ei].dst_rows != rows:
                raise ValueError(f"edge {ei} into {name}: {edges[ei].dst_rows} consumer rows per sample, the task "
                                 f"has {rows}")
        # per bounded input edge: (rows freed, the first producer row still read once each row of a sample is done
        # (Edge.low(g + 1): the next row's lo; the whole stream after the last row), producer rows per sample and
        # in all)
        frees = tuple((freed[ei], e.lo[1:] + [e.lo[0] + e.src_rows], e.src_rows, totals[e.src])
                      for ei, e in ((ei, edges[ei]) for ei in t.in_edges) if e.cap is not None)
        bounded = tuple((ei, edges[ei].cap, freed[ei]) for ei in t.out_edges if edges[ei].cap is not None)
        # per output edge, in order: its count of rows produced (a transfer waits for them, and reads by) or, inside
        # a tile, of rows delivered
        outs = tuple((produced[ei], True) if edges[ei].stages else (delivered[ei], False) for ei in t.out_edges)
        out_delivered = tuple(delivered[ei] for ei in t.out_edges) if not plan.double_buffering else ()
        # per stage: (resource, cycles, arbiter or None, stall cause); the first row of a sample adds the fill
        # to its last stage
        later = tuple((r, c, arb[r], cause[r]) for r, c in t.stages)
        first_row = later[:-1] + tuple((r, c + t.fill, a, k) for r, c, a, k in later[-1:])
        # a row whose stages are all uncontended is one timeout (the stages follow each other without a gap)
        free_run = all(a is None for _, _, a, _ in later)
        row_cycles = sum(c for _, c, _, _ in later)
        port = is_port_task(ti)
        if port:   # rule 7: this process runs the port stage, a compute process the unit stage
            ported, computed = _Counter(), _Counter()
            env.process(compute_proc(ti, ported, computed, bounded, frees, outs, later[1:], first_row[1:]))
            later, first_row, free_run, bounded = later[:1], first_row[:1], False, ()
        b = ri = 0   # row g = b * rows + ri: sample b, row ri of it
        for g in range(total):
            if port and computed.value < g - 1:   # two input buffers: row g - 2's compute has freed one (not a stall)
                computed.waiters.append((g - 1, me.parked))
                by = yield None
                if by is not None:
                    pred = by
            for cnt, hi, src_rows in ins:
                n = hi[ri] + b * src_rows
                if cnt.value < n:
                    t0 = env.now
                    cnt.waiters.append((n, me.parked))
                    by = yield None
                    stalls["input"] += env.now - t0
                    if by is not None:
                        pred = by
            if bounded:
                pred = yield from reserve_rows(me, ti, bounded, g, pred)
            if g:
                for cnt in out_delivered:
                    if cnt.value < g:
                        t0 = env.now
                        cnt.waiters.append((g, me.parked))
                        by = yield None
                        stalls["buffer"] += env.now - t0
                        if by is not None:
                            pred = by
            first = ri == 0
            if free_run:
                start = env.now
                yield row_cycles + t.fill if first else row_cycles   # a delay: whole cycles (eventloop.Process)
                if record:
                    at = start
                    for r, cycles, _, _ in first_row if first else later:
                        intervals.append(Interval(res[r].name, name, g // rows, at, at + cycles))
                        at += cycles
                pred = (name, start, env.now, pred)
            else:
                pred = yield from run_stages(me, first_row if first else later, key, g, rows, name, pred)
            if port:   # the row's inputs are in the macros' input buffer: the compute process goes on
                ported.value = g + 1
                ported.by = pred
                if ported.waiters:
                    ported.notify(pred)
            else:
                row_done(g, b, ri, total, frees, outs, pred)
            ri += 1
            if ri == rows:
                b, ri = b + 1, 0
        if port:
            ended()
            return
        finish[name] = env.now
        last_record[0] = _later(last_record[0], pred)
        ended()

    def reserve_rows(me: Any, ti: int, bounded: tuple, g: int, pred: Any):
        """Rule 1 (b): row ``g`` of task ``ti`` waits for a free row on each bounded output edge (reserved then);
        returns the record of the last thing it waited for (``pred`` when it did not wait)."""
        for ei, cap, fr in bounded:
            n = g - cap + 1   # rows reserved before this one: g (one per row)
            if fr.value < n:
                blocked[ti] = ei
                t0 = env.now
                fr.waiters.append((n, me.parked))
                by = yield None
                stalls["buffer"] += env.now - t0
                if by is not None:
                    pred = by
                blocked[ti] = -1
        return pred

    def run_stages(me: Any, stages: tuple, key: int, g: int, rows: int, name: str, pred: Any):
        """Rule 2: row ``g``'s stages one after the other, a contended one held on its arbiter; returns the
        last stage's record."""
        for r, cycles, a, kind in stages:
            if a is None:
                start = env.now
                yield cycles
            else:
                t0 = env.now
                a.hold(me.parked, key + g, cycles)
                granted_after = yield None
                start = env.now - cycles   # the hold ends its cycles after the grant
                if start > t0:
                    stalls[kind] += start - t0
                    if granted_after is not None:
                        pred = granted_after
            pred = (name, start, env.now, pred)
            if record:
                intervals.append(Interval(res[r].name, name, g // rows, start, env.now))
            if a is not None:
                a.release(pred)
        return pred

    def row_done(g: int, b: int, ri: int, total: int, frees: tuple, outs: tuple, pred: Any) -> None:
        """Rule 3: row ``g`` (sample ``b``, row ``ri`` of it) of a task of ``total`` rows is done."""
        for fr, lo1, src_rows, src_total in frees:
            fr.value = lo1[ri] + b * src_rows if g + 1 < total else src_total
            if fr.waiters:
                fr.notify(pred)
        for cnt, transfer in outs:
            cnt.value = g + 1
            if transfer:
                cnt.by = pred
            if cnt.waiters:
                cnt.notify(pred)

    def is_port_task(ti: int) -> bool:
        """Rule 7: a task whose rows are a tile-buffer port stage then a unit stage, with double buffering."""
        stages = tasks[ti].stages
        return plan.double_buffering and len(stages) == 2 and res[stages[0][0]].kind == "tile_buffer"

    def compute_proc(ti: int, ported: _Counter, computed: _Counter, bounded: tuple, frees: tuple, outs: tuple,
                     later: tuple, first_row: tuple):
        """Rule 7: the unit stage of a port task's rows, row ``g`` once its port stage has ended (``ported``), row
        ``g - 1`` is computed and its output edges have a free row (reserved then); then the row is done (rule 3)
        and its input buffer free (``computed``)."""
        me = yield CURRENT
        t = tasks[ti]
        total, rows, name = totals[ti], t.rows, t.name
        key = _key(False, ti)
        pred = None
        b = ri = 0
        for g in range(total):
            if ported.value < g + 1:
                ported.waiters.append((g + 1, me.parked))
                pred = yield None
            elif g + 1 == ported.value:
                pred = ported.by
            if bounded:
                pred = yield from reserve_rows(me, ti, bounded, g, pred)
            pred = yield from run_stages(me, first_row if ri == 0 else later, key, g, rows, name, pred)
            row_done(g, b, ri, total, frees, outs, pred)
            computed.value = g + 1
            if computed.waiters:
                computed.notify(pred)
            ri += 1
            if ri == rows:
                b, ri = b + 1, 0
        finish[name] = env.now
        last_record[0] = _later(last_record[0], pred)
        ended()

    def edge_proc(ei: int):
        me = yield CURRENT
        e = edges[ei]
        name = f"{tasks[e.src].name}->{tasks[e.dst].name}"
        hop = name + ":hop"
        key = _key(True, ei)
        prod, deliv, src_rows = produced[ei], delivered[ei], tasks[e.src].rows
        # per stage: (resource, cycles, hop delay after, arbiter or None, stall cause, and the next stage's cycles
        # when it holds the same contended resource right after this one, else 0)
        stages = [(r, c, d, arb[r], cause[r],
                   e.stages[i + 1][1] if (arb[r] is not None and not d and i + 1 < len(e.stages)
                                          and e.stages[i + 1][0] == r) else 0)
                  for i, (r, c, d) in enumerate(e.stages)]
        # a transfer over uncontended links only is one timeout (holds and hop delays back to back)
        free_run = all(a is None for _, _, _, a, _, _ in stages)
        transfer = sum(c + d for _, c, d, _, _, _ in stages)
        pred = None
        for j in range(totals[e.src]):
            if prod.value < j + 1:
                prod.waiters.append((j + 1, me.parked))
                pred = yield None
            else:
                pred = prod.by if j + 1 == prod.value else pred
            if free_run:
                start = env.now
                yield transfer
                if record:
                    at = start
                    for r, cycles, delay, _, _, _ in stages:
                        intervals.append(Interval(res[r].name, name, j // src_rows, at, at + cycles))
                        at += cycles + delay
                pred = (name, start, env.now, pred)
            else:
                held = False   # this stage's hold already asked for (rehold)
                for r, cycles, delay, a, kind, same in stages:
                    if a is None:
                        start = env.now
                        yield cycles
                    else:
                        if not held:
                            t0 = env.now
                            a.hold(me.parked, key + j, cycles)
                        granted_after = yield None
                        start = env.now - cycles   # the hold ends its cycles after the grant
                        if start > t0:
                            stalls[kind] += start - t0
                            if granted_after is not None:
                                pred = granted_after
                    pred = (name, start, env.now, pred)
                    if record:
                        intervals.append(Interval(res[r].name, name, j // src_rows, start, env.now))
                    held = False
                    if same:   # the next stage holds this resource again at once: released and asked for in one
                        t0 = env.now
                        a.rehold(pred, me.parked, key + j, same)
                        held = True
                    elif a is not None:
                        a.release(pred)
                    if delay:
                        yield delay
                        pred = (hop, env.now - delay, env.now, pred)
            deliv.value = j + 1
            if deliv.waiters:
                deliv.notify(pred)
        last_record[0] = _later(last_record[0], pred)
        ended()

    # an edge over NoC links (rule 4, cut-through): its route cut into segments, each a contended link and the
    # uncontended links after it (the first segment may start with uncontended links), one process per segment and
    # one that delivers the rows. A segment's process takes its contended link as rule 5 says and times the
    # uncontended ones itself (each free once the edge's previous row has held it: only this edge's rows use it).
    # Rows pass from segment to segment through ``boxes[k]`` ((time the head reaches segment k + 1's first router,
    # record) of rows its process has not taken yet; the last box feeds the deliverer); a process waiting for its
    # next row parks in ``waiting[k + 1]`` and is woken at the head's arrival.
    def pass_on(boxes: list, waiting: list, k: int, at: int, rec: Any) -> None:
        """A row's head (after the last link: the row) at segment ``k + 1``'s first router at ``at`` (>= now)."""
        w = waiting[k + 1]
        if w is None:
            boxes[k].append((at, rec))
        else:
            waiting[k + 1] = None
            w._value = rec
            now = env.now
            heappush(env._queue, (at, NORMAL, now, next(env._eid), w))

    def segment_proc(ei: int, k: int, first: int, end: int, boxes: list, waiting: list):
        """Links ``first .. end - 1`` of edge ``ei``'s route: ``first`` contended (or, in the first segment, not),
        the rest uncontended."""
        me = yield CURRENT
        e = edges[ei]
        name = f"{tasks[e.src].name}->{tasks[e.dst].name}"
        key = _key(True, ei)
        prod, src_rows = produced[ei], tasks[e.src].rows
        last = len(e.stages) - 1
        # per link: (resource name, hold, cycles from taking it to the head at the next router, or to delivery)
        links = [(res[r].name, hold, hold + delay if i == last else delay)
                 for i, (r, hold, delay) in enumerate(e.stages[first:end], first)]
        if any(go < 1 for _, _, go in links):
            raise ValueError(f"edge {name}: a link before the last has no hop delay (noc.link_stages: >= 1)")
        res_name, hold, go = links[0]
        a = arb[e.stages[first][0]]
        kind = cause[e.stages[first][0]]
        wake = go if go < hold else hold   # a contended link's process resumes at the first of the two
        free = [0] * len(links)            # an uncontended link: free from this cycle on
        inbox = boxes[k - 1] if k else None
        pred = None
        for j in range(totals[e.src]):
            if inbox is None:
                if prod.value < j + 1:
                    prod.waiters.append((j + 1, me.parked))
                    pred = yield None
                else:
                    pred = prod.by if j + 1 == prod.value else pred
            elif inbox:   # the next row: its head arrived, or arrives at a known time
                at, pred = inbox.popleft()
                if at > env.now:
                    yield at - env.now
            else:
                waiting[k] = me.parked
                pred = yield None
            if a is None:
                start = t = env.now
                i0 = 0
            else:
                t0 = env.now
                a.hold(me.parked, key + j, wake)
                granted_after = yield None
                start = env.now - wake   # resumed ``wake`` after the grant
                if start > t0:
                    stalls[kind] += start - t0
                    if granted_after is not None:
                        pred = granted_after
                if record:
                    intervals.append(Interval(res_name, name, j // src_rows, start, start + hold))
                t = start + go
                i0 = 1
            for i in range(i0, len(links)):
                if free[i] > t:
                    t = free[i]
                link_name, link_hold, link_go = links[i]
                free[i] = t + link_hold
                if record:
                    intervals.append(Interval(link_name, name, j // src_rows, t, t + link_hold))
                t += link_go
            rec = (name, start, t, pred)
            if a is None:
                pass_on(boxes, waiting, k, t, rec)
            elif go < hold:   # the head goes on while the link still streams the row's flits
                pass_on(boxes, waiting, k, t, rec)
                yield hold - go
                a.release((name, start, start + hold, pred))
            else:
                a.release((name, start, start + hold, pred))
                pass_on(boxes, waiting, k, t, rec)
        ended()

    def deliver(ei: int, k: int, boxes: list, waiting: list):
        """Edge ``ei``'s rows delivered as they come out of its last segment (``boxes[k - 1]``)."""
        me = yield CURRENT
        deliv = delivered[ei]
        inbox = boxes[k - 1]
        pred = None
        for j in range(totals[edges[ei].src]):
            if inbox:
                at, pred = inbox.popleft()
                if at > env.now:
                    yield at - env.now
            else:
                waiting[k] = me.parked
                pred = yield None
            deliv.value = j + 1
            if deliv.waiters:
                deliv.notify(pred)
        last_record[0] = _later(last_record[0], pred)
        ended()

    def segments(ei: int) -> list[int]:
        """Where edge ``ei``'s route segments start: link 0 and every later contended link."""
        return [0] + [i for i, (r, _, _) in enumerate(edges[ei].stages) if i and arb[r] is not None]

    def route_procs(ei: int) -> None:
        starts = segments(ei)
        ends = starts[1:] + [len(edges[ei].stages)]
        boxes = [deque() for _ in starts]
        waiting: list[Any] = [None] * (len(starts) + 1)
        for k, (first, end) in enumerate(zip(starts, ends)):
            env.process(segment_proc(ei, k, first, end, boxes, waiting))
        env.process(deliver(ei, len(starts), boxes, waiting))

    def n_procs(ei: int) -> int:
        """Processes an edge's transfer runs on (each calls ``ended`` once)."""
        return len(segments(ei)) + 1 if edges[ei].links else 1

    def barrier_proc(k: int, pred: Any):
        for op, resource, cycles in plan.barriers[k]:
            start = env.now
            yield cycles
            pred = (op, start, env.now, pred)
            n_events[0] += 1
            if record:
                intervals.append(Interval(resource, op, -1, start, env.now))
        last_record[0] = _later(last_record[0], pred)

    # the tasks and the transfer edges of each segment, bucketed once (a scan per segment is quadratic on
    # plans with hundreds of barriers)
    seg_tasks: list[list[int]] = [[] for _ in range(plan.segments)]
    seg_edges: list[list[int]] = [[] for _ in range(plan.segments)]
    for i, t in enumerate(tasks):
        seg_tasks[t.segment].append(i)
    for i, e in enumerate(edges):
        if e.stages:
            seg_edges[tasks[e.src].segment].append(i)

    # a segment ends when its last task or transfer does (a count, not an event per process: the run is woken
    # where the all-of event of SimPy's processes would have resumed it, nothing else being left at that instant)
    left = [0]
    run_wake: list[Any] = [None]

    def ended() -> None:
        left[0] -= 1
        if not left[0]:
            run_wake[0].wake(None)

    def run():
        me = yield CURRENT
        for k in range(plan.segments):
            segment_start[0] = last_record[0]
            left[0] = sum(1 + is_port_task(i) for i in seg_tasks[k]) + sum(n_procs(i) for i in seg_edges[k])
            if left[0]:
                run_wake[0] = me.parked
                for i in seg_tasks[k]:
                    env.process(task_proc(i))
                for i in seg_edges[k]:
                    if edges[i].links:
                        route_procs(i)
                    else:
                        env.process(edge_proc(i))
                yield None
            if k < len(plan.barriers):
                yield from barrier_proc(k, last_record[0])

    env.process(run())
    env.run()
    unfinished = [i for i, t in enumerate(tasks) if t.name not in finish]
    if unfinished:
        raise Deadlock(sorted({blocked[i] for i in unfinished if blocked[i] >= 0}),
                       f"{len(unfinished)} ops never finished, first {tasks[unfinished[0]].name}")
    for t, total in zip(tasks, totals):   # every row ran once; the first of each sample with the fill
        for r, cycles in t.stages:
            busy[r] += total * cycles
            n_events[0] += total
        if t.stages and total:
            busy[t.stages[-1][0]] += t.samples * t.fill
    for e in edges:
        if e.stages:   # its transfer process ran
            for r, cycles, _ in e.stages:
                busy[r] += totals[e.src] * cycles
                n_events[0] += totals[e.src]
    critical: dict[str, float] = {}
    rec = last_record[0]
    while rec is not None:
        name, start, end, pred = rec
        base = name.removesuffix(":hop")
        critical[base] = critical.get(base, 0.0) + (end - start)
        rec = pred
    names = [r.name for r in res]
    return RowTimeline(
        cycles=float(env.now), intervals=intervals, events=n_events[0],
        busy={n: b for n, b in zip(names, busy) if b},
        capacity={r.name: r.capacity for r in res},
        longest_queue={n: a.longest for n, a in zip(names, arb) if a is not None},
        stalls=stalls, critical_path=critical, finish=finish)


class Deadlock(RuntimeError):
    """The plan's bounded line buffers deadlock; ``edges`` are those whose producers wait for a free row."""

    def __init__(self, edges: list[int], message: str) -> None:
        super().__init__(f"row engine deadlock: {message}")
        self.edges = edges


def run_plan(plan: Plan, record: bool = False) -> RowTimeline:
    """Simulate. The plan's line buffers are sized not to deadlock (``dataflow.deadlock_free_rows``); should
    they still (a plan built by hand, or a wait the rule does not know), the edges whose producers wait for
    a free row hold their producer's whole map, in the global buffer while its free room holds it, else in
    DRAM (``Plan.relax``), and the run starts again. Each retry unbounds at least one edge, so this ends; the
    plan keeps the relaxed edges (their traffic is priced, ``map_relaxed_edges`` counts them and the result
    notes them)."""
    while True:
        try:
            with paused_gc():
                return simulate_plan(plan, record)
        except Deadlock as exc:
            if not exc.edges:
                raise
            plan.relax(exc.edges)


def _key(transfer: bool, index: int) -> int:
    """The arbitration key (rule 5) of row 0 of a task or of a transfer edge; row ``g``'s is this plus ``g``. One
    int orders as the tuples (0, task, row) < (1, edge, row) would (rows and indices below 2**30). Every request
    waiting for a resource has its own key (a process asks for one unit at a time), so keys never tie."""
    return (int(transfer) << 62) | (index << 32)


def _later(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b[2] >= a[2] else a


RunFn = Callable[[Plan], RowTimeline]
