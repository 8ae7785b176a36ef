"""A plain cycle-stepped simulator of a row plan, for the tests: one clock cycle at a time, no events.

It implements the rules of :mod:`imcsim.engine.events` from their text, independently of SimPy: at
every cycle ``t`` it first settles everything that happens at ``t`` (stages that end, hop delays that
end, rows that become ready, heads that reach a router, links released, barriers, segments), repeating
until nothing changes, then lets each contended resource grant its free units to the waiting requests
with the smallest keys, then moves to ``t + 1``. It returns the cycle at which the last thing ends.

An edge over NoC links (rule 4, cut-through) is a set of packets, one per row in flight, each walking the
links of the route: waiting at router ``i`` for link ``i``, granted, its head at router ``i + 1`` ``delay``
later while the link stays held ``hold`` cycles; delivered ``hold + delay`` after taking the last link.
An uncontended link is a resource of the edge alone (its rows take it in order).

A double-buffered port task (rule 7: double buffering, stages (tile-buffer port, unit)) is two agents: a port
agent (rule 1's input waits, plus row ``g - 2`` computed) walking the port stage, and a compute agent walking the
unit stage of each row once the port agent has passed it and a row is free on every bounded output edge (it
reserves them); a row is done when the compute agent ends it.
"""

from __future__ import annotations

from imcsim.engine.plan import Plan


class _Agent:
    """A task (rows), an edge transfer (rows of its producer), or a port task's port or compute half (rule 7),
    walking its stages row by row."""

    def __init__(self, kind: str, index: int, total: int, stages: list, key_base: int) -> None:
        self.kind, self.index, self.total = kind, index, total
        self.stages = stages          # task: [(res, cycles)], edge: [(res, cycles, delay)]
        self.key_base = key_base
        self.row = 0
        self.state = "wait"           # wait | queued | hold | delay | done
        self.stage = 0
        self.end = -1
        self.res = -1


class _Packet:
    """One row of a link edge on its way: waiting at router ``link`` from cycle ``at`` (state ``wait``), queued
    for that link (``queued``), or past the last link, delivered at ``at`` (``tail``)."""

    def __init__(self, row: int, at: int) -> None:
        self.row, self.link, self.at, self.state = row, 0, at, "wait"


class _Route:
    """A link edge's transfers: rows launched once produced, packets in flight, link releases pending."""

    def __init__(self, index: int, total: int, stages: list, local: list[int]) -> None:
        self.kind, self.index, self.total, self.stages = "route", index, total, stages
        self.local = local            # per link: its resource (a contended one, or one of the edge alone)
        self.launched = 0
        self.delivered = 0
        self.packets: list[_Packet] = []
        self.releases: list[tuple[int, int]] = []   # (cycle, resource)

    @property
    def state(self) -> str:
        return "done" if self.delivered >= self.total and not self.releases else "busy"


def run_reference(plan: Plan, max_cycles: int = 10_000_000) -> int:
    tasks, edges, res = plan.tasks, plan.edges, plan.resources
    # contended resources, then one per uncontended link of each link edge (the edge's alone)
    contended = [r.contended for r in res]
    capacity = [r.capacity for r in res]
    local_of: dict[tuple[int, int], int] = {}
    for ei, e in enumerate(edges):
        if e.links:
            for i, (r, _, _) in enumerate(e.stages):
                if not res[r].contended:
                    local_of[ei, i] = len(contended)
                    contended.append(True)
                    capacity.append(1)
    free = list(capacity)
    queue: list[list[tuple]] = [[] for _ in capacity]
    delivered = [0] * len(edges)
    freed = [0] * len(edges)
    produced = [0] * len(edges)
    reserved = [0] * len(edges)
    ported = [0] * len(tasks)     # port tasks: rows whose port stage has ended
    computed = [0] * len(tasks)   # port tasks: rows whose unit stage has ended
    totals = [t.total_rows for t in tasks]
    agents: list[_Agent] = []
    segment = -1
    barrier_left: list = []
    barrier_end = -1
    last = 0

    def start_segment(k: int) -> None:
        agents.clear()
        for i, t in enumerate(tasks):
            if t.segment != k:
                continue
            if (plan.double_buffering and len(t.stages) == 2
                    and res[t.stages[0][0]].kind == "tile_buffer"):   # rule 7: two agents
                agents.append(_Agent("port", i, totals[i], [t.stages[0]], 0))
                agents.append(_Agent("compute", i, totals[i], [t.stages[1]], 0))
            else:
                agents.append(_Agent("task", i, totals[i], list(t.stages), 0))
        for i, e in enumerate(edges):
            if e.stages and tasks[e.src].segment == k:
                if e.links:
                    agents.append(_Route(i, totals[e.src], list(e.stages),
                                         [local_of.get((i, j), r) for j, (r, _, _) in enumerate(e.stages)]))
                else:
                    agents.append(_Agent("edge", i, totals[e.src], list(e.stages), 1))

    def cycles_of(a: _Agent) -> int:
        c = a.stages[a.stage][1]
        if a.kind in ("task", "compute"):
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
        if a.kind == "compute" and ported[a.index] < g + 1:
            return False
        if a.kind == "port" and computed[a.index] < g - 1:
            return False
        for ei in t.in_edges if a.kind != "compute" else ():
            if delivered[ei] < edges[ei].need(g):
                return False
        for ei in t.out_edges if a.kind != "port" else ():
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
        if a.kind == "port":
            ported[a.index] = g + 1
        elif a.kind in ("task", "compute"):
            t = tasks[a.index]
            computed[a.index] = g + 1
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

    def settle_route(a: _Route, now: int) -> bool:
        """Everything of a link edge at cycle ``now``: links released, rows launched, heads at routers, rows
        delivered. True if anything happened."""
        nonlocal last
        moved = False
        for c, r in [x for x in a.releases if x[0] == now]:
            a.releases.remove((c, r))
            free[r] += 1
            last = max(last, now)
            moved = True
        while a.launched < a.total and produced[a.index] > a.launched:
            a.packets.append(_Packet(a.launched, now))
            a.launched += 1
            moved = True
        for p in list(a.packets):
            if p.at != now:
                continue
            if p.state == "wait":
                r = a.local[p.link]
                queue[r].append(((1, a.index, p.row), ("link", a, p)))
                p.state = "queued"
                moved = True
            elif p.state == "tail":
                assert p.row == a.delivered, "rows delivered out of order"
                delivered[a.index] = a.delivered = p.row + 1
                a.packets.remove(p)
                last = max(last, now)
                moved = True
        return moved

    def grant_link(a: _Route, p: _Packet, now: int) -> None:
        """Packet ``p`` takes its link at ``now``: held ``hold`` cycles; its head at the next router ``delay``
        later, or, past the last link, delivered ``hold + delay`` later."""
        _, hold, delay = a.stages[p.link]
        a.releases.append((now + hold, a.local[p.link]))
        if p.link == len(a.stages) - 1:
            p.state, p.at = "tail", now + hold + delay
        else:
            assert delay >= 1, "a head advances at most one router per cycle (noc.link_stages)"
            p.link, p.state, p.at = p.link + 1, "wait", now + delay

    t = 0
    start_segment(0)
    segment = 0
    while t <= max_cycles:
        changed = True
        while changed:
            changed = False
            for a in agents:
                if a.kind == "route":
                    changed |= settle_route(a, t)
                    continue
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
                    if a.kind in ("task", "compute"):
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
        for r in range(len(capacity)):
            if queue[r] and free[r] > 0:
                queue[r].sort(key=lambda q: q[0])
                while queue[r] and free[r] > 0:
                    _, a = queue[r].pop(0)
                    free[r] -= 1
                    if type(a) is tuple:   # a packet taking a link
                        grant_link(a[1], a[2], t)
                        continue
                    a.state = "hold"
                    a.end = t + cycles_of(a)
        t += 1
    raise RuntimeError("reference did not finish (deadlock or max_cycles)")
