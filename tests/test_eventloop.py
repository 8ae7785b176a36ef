"""The row engine's event loop (engine/eventloop.py): the ids that put a decision taken during an instant where
SimPy's end-of-instant event would have put it, and revoked entries."""

from __future__ import annotations

from heapq import heappush

from imcsim.engine.eventloop import CURRENT, NORMAL, Environment


def _mark(env: Environment, order: list[str], name: str, delay: int, eid: int | None = None) -> None:
    ev = env.event()
    ev.callbacks.append(lambda _ev: order.append(f"{name}@{env.now}"))
    ev._ok, ev._value = True, None
    if eid is None:
        env.schedule(ev, NORMAL, delay)
    else:
        heappush(env._queue, (env.now + delay, NORMAL, eid, ev))


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
    # p parks; its wake is pushed for 3 with a late id, then revoked and pushed again for 7 with its fresh
    # wake: p resumes once, at 7, with the second value
    env = Environment()
    seen = []

    def p():
        me = yield CURRENT
        first = me.parked
        first._value = "early"
        heappush(env._queue, (3, NORMAL, env.late_id(), first))
        fresh = env.revoke(first)
        fresh._value = "late"
        heappush(env._queue, (7, NORMAL, env.late_id(), fresh))
        seen.append((fresh is me.parked, first is not fresh))
        value = yield None
        seen.append((value, env.now))

    env.process(p())
    env.run()
    assert seen == [(True, True), ("late", 7)]
