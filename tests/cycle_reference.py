"""A plain cycle-stepped simulator of a row plan, for the tests: one clock cycle at a time, no events.

It implements the rules of :mod:`imcsim.engine.events` from their text, independently of SimPy: at
every cycle ``t`` it first settles everything that happens at ``t`` (stages that end, hop delays that
end, rows that become ready, barriers, segments), repeating until nothing changes, then lets each
contended resource grant its free units to the waiting requests with the smallest keys, then moves to
``t + 1``. It returns the cycle at which the last thing ends.
"""

from __future__ import annotations

from imcsim.engine.plan import Plan


class _Agent:
    """A task (rows) or an edge transfer (rows of its producer), walking its stages row by row."""

    def __init__(self, kind: str, index: int, total: int, stages: list, key_base: int) -> None:
        self.kind, self.index, self.total = kind, index, total
        self.stages = stages          # task: [(res, cycles)], edge: [(res, cycles, delay)]
        self.key_base = key_base
        self.row = 0
        self.state = "wait"           # wait | queued | hold | delay | done
        self.stage = 0
        self.end = -1
        self.res = -1


def run_reference(plan: Plan, max_cycles: int = 10_000_000) -> int:
    tasks, edges, res = plan.tasks, plan.edges, plan.resources
    free = [r.capacity for r in res]
    queue: list[list[tuple]] = [[] for _ in res]
    delivered = [0] * len(edges)
    freed = [0] * len(edges)
    produced = [0] * len(edges)
    reserved = [0] * len(edges)
    totals = [t.total_rows for t in tasks]
    agents: list[_Agent] = []
    segment = -1
    barrier_left: list = []
    barrier_end = -1
    last = 0

    def start_segment(k: int) -> None:
        agents.clear()
        for i, t in enumerate(tasks):
            if t.segment == k:
                agents.append(_Agent("task", i, totals[i], list(t.stages), 0))
        for i, e in enumerate(edges):
            if e.stages and tasks[e.src].segment == k:
                agents.append(_Agent("edge", i, totals[e.src], list(e.stages), 1))

    def cycles_of(a: _Agent) -> int:
        c = a.stages[a.stage][1]
        if a.kind == "task":
            t = tasks[a.index]
            if a.row % t.rows == 0 and a.stage == len(a.stages) - 1:
                c += t.fill
        return c

    def begin_stage(a: _Agent, now: int) -> None:
        r = a.stages[a.stage][0]
        a.res = r
        if res[r].contended:
            a.state = "queued"
            queue[r].append(((a.key_base, a.index, a.row), a))
        else:
            a.state = "hold"
            a.end = now + cycles_of(a)

    def ready(a: _Agent) -> bool:
        if a.kind == "edge":
            return produced[a.index] >= a.row + 1
        t = tasks[a.index]
        g = a.row
        for ei in t.in_edges:
            if delivered[ei] < edges[ei].need(g):
                return False
        for ei in t.out_edges:
            e = edges[ei]
            if e.cap is not None and reserved[ei] - freed[ei] >= e.cap:
                return False
        if not plan.double_buffering and g:
            for ei in t.out_edges:
                if delivered[ei] < g:
                    return False
        return True

    def row_done(a: _Agent) -> None:
        g = a.row
        if a.kind == "task":
            t = tasks[a.index]
            for ei in t.in_edges:
                e = edges[ei]
                freed[ei] = e.low(g + 1, totals[a.index], totals[e.src])
            for ei in t.out_edges:
                produced[ei] = g + 1
                if not edges[ei].stages:
                    delivered[ei] = g + 1
        else:
            delivered[a.index] = g + 1
        a.row += 1
        a.stage = 0
        a.state = "done" if a.row >= a.total else "wait"

    t = 0
    start_segment(0)
    segment = 0
    while t <= max_cycles:
        changed = True
        while changed:
            changed = False
            for a in agents:
                if a.state == "hold" and a.end == t:
                    last = max(last, t)
                    if res[a.res].contended:
                        free[a.res] += 1
                    delay = a.stages[a.stage][2] if a.kind == "edge" else 0
                    if delay:
                        a.state, a.end = "delay", t + delay
                    else:
                        a.stage += 1
                        if a.stage == len(a.stages):
                            row_done(a)
                        else:
                            begin_stage(a, t)
                    changed = True
                elif a.state == "delay" and a.end == t:
                    last = max(last, t)
                    a.stage += 1
                    if a.stage == len(a.stages):
                        row_done(a)
                    else:
                        begin_stage(a, t)
                    changed = True
            for a in agents:
                if a.state == "wait" and ready(a):
                    if a.kind == "task":
                        for ei in tasks[a.index].out_edges:
                            if edges[ei].cap is not None:
                                reserved[ei] += 1
                    begin_stage(a, t)
                    changed = True
            if barrier_left and barrier_end == t:
                last = max(last, t)
                barrier_left.pop(0)
                if barrier_left:
                    barrier_end = t + barrier_left[0][2]
                changed = True
                if not barrier_left:
                    segment += 1
                    start_segment(segment)
            elif not barrier_left and all(a.state == "done" for a in agents):
                if segment >= plan.segments - 1:
                    return last
                barrier_left = list(plan.barriers[segment])
                if barrier_left:
                    barrier_end = t + barrier_left[0][2]
                else:
                    segment += 1
                    start_segment(segment)
                changed = True
        for r in range(len(res)):
            if queue[r] and free[r] > 0:
                queue[r].sort(key=lambda q: q[0])
                while queue[r] and free[r] > 0:
                    _, a = queue[r].pop(0)
                    free[r] -= 1
                    a.state = "hold"
                    a.end = t + cycles_of(a)
        t += 1
    raise RuntimeError("reference did not finish (deadlock or max_cycles)")
