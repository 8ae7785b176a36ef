"""The row engine's event loop (engine/eventloop.py): the ids that put a decision taken during an instant where
SimPy's end-of-instant event would have put it, and revoked entries; the per-row needs the engine reads."""

from __future__ import annotations

from heapq import heappush

from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.engine.eventloop import CURRENT, NORMAL, Environment
from imcsim.engine.events import _per_row
from imcsim.engine.plan import Edge


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


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 4), st.integers(1, 3), st.data())
def test_per_row_needs_equal_the_edge_rules(dst_rows, src_rows, samples, data):
    # the row engine reads Edge.need(g) and Edge.low(g + 1, ...) from lists built one sample at a time
    hi = data.draw(st.lists(st.integers(0, 9), min_size=dst_rows, max_size=dst_rows))
    lo = [data.draw(st.integers(0, h)) for h in hi]
    e = Edge(0, 1, hi, lo, src_rows, dst_rows, None, ())
    total = data.draw(st.integers(1, dst_rows * samples))   # a consumer's rows need not be whole samples of the edge
    src_total = max(src_rows * samples, max(hi))
    need, low = _per_row(e, total, src_total)
    assert need == [e.need(g) for g in range(total)]
    assert low == [e.low(g + 1, total, src_total) for g in range(total)]
