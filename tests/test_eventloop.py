"""The row engine's event loop (engine/eventloop.py): the ids that put a decision taken during an instant where
SimPy's end-of-instant event would have put it, revoked entries, processes freed when they return; the row
streams the engine walks."""

from __future__ import annotations

import gc
import weakref
from heapq import heappush

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imcsim.engine.eventloop import CURRENT, NORMAL, Environment
from imcsim.engine.events import _Arbiter, simulate_plan
from imcsim.engine.plan import Edge, Plan, Resource, Task


def _mark(env: Environment, order: list[str], name: str, delay: int, eid: int | None = None) -> None:
    ev = env.event()
    ev.callbacks.append(lambda _ev: order.append(f"{name}@{env.now}"))
    ev._ok, ev._value = True, None
    if eid is None:
        env.schedule(ev, NORMAL, delay)
    else:
        heappush(env._queue, (env.now + delay, NORMAL, env.now, eid, ev))


def test_late_ids_sort_after_the_instant_and_before_the_next():
    # all six entries are due at 5. At 0: "late-a" with a late id, then "n0" (a plain entry made later in
    # the same instant), then "late-b" (a second late id). At 1: "n1". SimPy would make the late entries at
    # instant 0's end, in the order asked: n0, late-a, late-b, then n1 (made at 1), then at 1 "late-c" after n1
    env = Environment()
    order: list[str] = []

    def at_zero():
        yield CURRENT
        _mark(env, order, "late-a", 5, env.late_id())
        _mark(env, order, "n0", 5)
        _mark(env, order, "late-b", 5, env.late_id())
        yield 1
        _mark(env, order, "late-c", 4, env.late_id())
        _mark(env, order, "n1", 4)

    env.process(at_zero())
    env.run()
    assert order == ["n0@5", "late-a@5", "late-b@5", "n1@5", "late-c@5"]


def test_revoked_entry_is_skipped_and_the_fresh_wake_resumes():
    # p parks; its wake is pushed for 9 with a late id, then revoked and pushed again for 7 with its fresh
    # wake: p resumes once, at 7, with the second value, and the revoked entry does not move the clock to 9
    env = Environment()
    seen = []

    def p():
        me = yield CURRENT
        first = me.parked
        first._value = "early"
        heappush(env._queue, (9, NORMAL, env.now, env.late_id(), first))
        fresh = env.revoke(first)
        fresh._value = "late"
        heappush(env._queue, (7, NORMAL, env.now, env.late_id(), fresh))
        seen.append((fresh is me.parked, first is not fresh))
        value = yield None
        seen.append((value, env.now))

    env.process(p())
    env.run()
    assert seen == [(True, True), ("late", 7)] and env.now == 7


def test_a_process_nobody_waits_on_is_freed_when_it_returns():
    # its wakes point back at it (a cycle): dropped when it returns, so reference counting frees it at once,
    # and with no callback its end is not an event in the queue; a process waited on still resumes its waiter
    env = Environment()
    seen = []

    def child():
        yield 3
        return "done"

    def parent():
        yield CURRENT
        gen = child()
        env.process(gen)
        seen.append(weakref.ref(gen))   # held by its process only
        del gen
        waited = env.process(child())
        seen.append((yield waited))
        seen.append(env.now)

    env.process(parent())
    gc.disable()   # freed by reference counting, not by a collection
    try:
        env.run()
        assert seen[0]() is None and seen[1:] == ["done", 3] and not env._queue
    finally:
        gc.enable()


def test_a_row_stream_must_match_its_edges():
    # Edge.need counts consumer rows per sample as dst_rows; the engine walks a task's rows per sample, so the
    # two must agree (the plan builder makes them equal)
    tasks = [Task("a", "a", "forward", 0, 2, 1, ((0, 1),)), Task("b", "b", "forward", 0, 2, 1, ((1, 1),))]
    e = Edge(0, 1, [1, 2], [0, 1], 2, 3, None, ())
    tasks[0].out_edges.append(0)
    tasks[1].in_edges.append(0)
    plan = Plan(tasks, [e], [Resource("m0", 1, "macros"), Resource("m1", 1, "macros")], [])
    with pytest.raises(ValueError, match="3 consumer rows per sample, the task has 2"):
        simulate_plan(plan)


def _parked():
    yield None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), unique=True, max_size=4), st.integers(0, 50), st.integers(1, 5))
def test_rehold_equals_release_then_hold(waiting, key, cycles):
    # a transfer's write then read back on one DRAM channel: rehold(record, ...) must leave the arbiter and the
    # queue as release(record) followed at once by hold(...) do (when the key is below every waiting one, that
    # pair grants the unit to the smallest waiting key and takes it straight back: a revoke), entry for entry
    assume(key not in waiting)
    outcomes = []
    for fused in (False, True):
        env = Environment()
        arb = _Arbiter(env)
        wakes = [env.process(_parked()).parked for _ in range(1 + len(waiting))]
        env._queue.clear()   # their starts: only the arbiter's entries are compared
        arb.free, arb.last = 0, "before"
        for k, w in zip(waiting, wakes[1:]):
            arb.hold(w, k, 3)
        env.now = 1   # the holder's release, at a later instant
        if fused:
            arb.rehold("mine", wakes[0], key, cycles)
        else:
            arb.release("mine")
            arb.hold(wakes[0], key, cycles)
        live = sorted((at, prio, made, eid, w.process is wakes[0].process, w._value)
                      for at, prio, made, eid, w in env._queue if type(w).__name__ != "_Revoked")
        outcomes.append((live, sorted(k for k, _, _ in arb.queue), arb.grant[0], arb.longest, arb.free, arb.last))
    assert outcomes[0] == outcomes[1]
