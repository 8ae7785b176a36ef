"""A small discrete-event core with SimPy's semantics, for the row engine (:mod:`imcsim.engine.events`).

Why not SimPy itself: the row engine spends most of its time in SimPy's bookkeeping (a few events per
busy interval, each an object with properties, checks and a ``step`` wrapped in exception handling).
This core keeps exactly SimPy's ordering rules, so every result is the one SimPy gives, with lighter
objects:

- the queue holds ``(time, priority, made, id, event)``: ``made`` is the time it was scheduled at and
  ``id`` counts up, so events of one time and priority are processed in the order they were scheduled
  (SimPy's ``Environment.schedule``, whose single counter gives the same order); priorities ``URGENT``
  (0, a process's start) and ``NORMAL`` (1, everything else), and any other number a caller schedules with;
- processing an event runs its callbacks in order and marks it processed (``callbacks = None``);
- a process is a generator: it starts at ``URGENT`` priority when created, resumes with the value of
  the event it yielded once that event is processed (at once if it already was), and when it returns
  it is itself an event, scheduled at ``NORMAL`` priority (processed at once when nothing waits on it: its
  event would run no callback);
- ``all_of(events)`` triggers (``NORMAL``) once every event in it has been processed.

Four shortcuts, each keeping the order SimPy would give (the row engine's waits, arbitration and holds
use them):

- a process may yield a delay (an ``int``) instead of ``env.timeout(delay)``: the queue entry is made at the
  same moment, and the process resumes with None, but no event object is built;
- a process may park instead of waiting on an event that only it waits on: it hands its wake
  (``process.parked``; ``yield CURRENT`` gives a process itself) to whoever will resume it and yields None;
  that one calls ``wake.wake(value, delay)`` where it would have called ``event.succeed(value)`` (or
  scheduled the event ``delay`` later): the queue entry is the one the event would have had, so the order is
  the same, without the event and its callbacks (a process waits on one thing at a time, so one wake for
  parks is enough);
- ``at_instant_end(callback)`` runs a callback once every event of the instant up to ``NORMAL`` priority
  is processed, as an event of a lower priority scheduled now would, without the event;
- ``late_id()`` gives a queue entry made now the place it would have if it were made at the end of this
  instant (after every entry made during the instant, before any made at a later one), so a decision SimPy
  would take in an event at the instant's end can be taken, and its entry pushed, as soon as its outcome is
  known; ``revoke(wake)`` cancels such an entry if a later event of the instant changes the decision (the
  entry stays in the queue and is skipped; the process gets a fresh wake).

A late id is ``LATE`` plus the counter shifted by ``LATE_SHIFT`` bits (room for the ids of revised decisions):
above every plain id, so after every entry made at its instant, and before every entry made later (their
``made`` is later).

Failing events, interrupts and ``until`` are not needed by the engine and not provided.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from heapq import heappop, heappush
from itertools import count
from typing import Any

URGENT = 0
NORMAL = 1
PENDING: Any = object()
CURRENT: Any = object()   # ``yield CURRENT`` resumes a process at once with itself
LATE = 1 << 62            # late ids are above every plain id (more than any run makes)
LATE_SHIFT = 20           # room for more revisions than any late decision has


class Event:
    """Pending until ``succeed(value)`` schedules it; processed when the loop pops it."""

    __slots__ = ("env", "callbacks", "_value", "_ok")

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.callbacks: list[Any] | None = []
        self._value: Any = PENDING
        self._ok = False

    @property
    def triggered(self) -> bool:
        return self._value is not PENDING

    @property
    def value(self) -> Any:
        return self._value

    def succeed(self, value: Any = None) -> Event:
        if self._value is not PENDING:
            raise RuntimeError(f"{self!r} has already been triggered")
        self._ok = True
        self._value = value
        self.env.schedule(self)
        return self


class _Wake:
    """What the queue holds to resume one process (no event object, no callbacks): after a delay it resumes
    with None; a parked process (see :class:`Process`) with the value its waker set."""

    __slots__ = ("process", "_value")

    def __init__(self, process: Process) -> None:
        self.process = process
        self._value: Any = None

    def wake(self, value: Any, delay: float = 0) -> None:
        """Resume the parked process ``delay`` from now with ``value``: the queue entry ``succeed(value)`` of
        the event it would have waited on makes (or ``env.schedule(event, NORMAL, delay)``), in the same place."""
        self._value = value
        env = self.process.env
        now = env.now
        heappush(env._queue, (now + delay, NORMAL, now, next(env._eid), self))


class _Revoked(_Wake):
    """A wake whose queue entry was revoked (``Environment.revoke``): skipped when popped."""

    __slots__ = ()


class Process(Event):
    """A generator driven by the events it yields (see the module docstring). It may also yield a delay (a
    whole number of cycles, an ``int``): it resumes that much later with None, in the place ``yield env.timeout(delay)`` would have
    (the queue entry is made at the same moment), without an event object; None once it has handed
    ``parked`` to its waker (a park); or ``CURRENT``, to get itself back at once."""

    __slots__ = ("_send", "_wake", "parked")

    def __init__(self, env: Environment, generator: Generator[Event, Any, Any]) -> None:
        Event.__init__(self, env)
        self._send = generator.send
        self._wake = _Wake(self)     # after a delay (its value stays None); also its start
        self.parked = _Wake(self)    # after a park
        now = env.now
        heappush(env._queue, (now, URGENT, now, next(env._eid), self._wake))   # the start event, as a wake

    def _resume(self, event: Event) -> None:
        """Send the event's value; ``Environment.run`` does the same for a wake, written out."""
        try:
            target = self._send(event._value)
        except StopIteration as stop:
            self._end(stop.value)
            return
        self._wait(target)

    def _wait(self, target: Any) -> None:
        """Arrange the resumption the yielded ``target`` asks for (module and class docstrings)."""
        while True:
            if type(target) is int:
                env = self.env
                now = env.now
                heappush(env._queue, (now + target, NORMAL, now, next(env._eid), self._wake))
                return
            if target is None:   # parked: its waker holds ``parked``
                return
            if target is CURRENT:
                value = self
            elif target.callbacks is not None:
                target.callbacks.append(self._resume)
                return
            else:
                value = target._value
            try:
                target = self._send(value)
            except StopIteration as stop:
                self._end(stop.value)
                return

    def _end(self, value: Any) -> None:
        """The process is an event once it returns; with nobody waiting on it, it is processed at once (its
        event would run no callback). Its wakes are dropped, so it is freed by reference counting."""
        self._ok = True
        self._value = value
        self._wake = self.parked = None
        if self.callbacks:
            self.env.schedule(self)
        else:
            self.callbacks = None


class AllOf(Event):
    """Triggers once every one of ``events`` has been processed."""

    __slots__ = ("_left",)

    def __init__(self, env: Environment, events: Iterable[Event]) -> None:
        Event.__init__(self, env)
        events = tuple(events)
        self._left = len(events)
        if not events:
            self.succeed()
            return
        for event in events:
            if event.callbacks is None:
                self._check(event)
            else:
                event.callbacks.append(self._check)

    def _check(self, _event: Event) -> None:
        if self._value is not PENDING:
            return
        self._left -= 1
        if not self._left:
            self.succeed()


class Environment:
    """The clock and the event queue."""

    __slots__ = ("now", "_queue", "_eid", "_late")

    def __init__(self) -> None:
        self.now: float = 0
        self._queue: list[tuple[float, int, float, int, Any]] = []
        self._eid = count()
        self._late: list[Any] = []

    def at_instant_end(self, callback: Any) -> None:
        """Call ``callback()`` once every event of this instant with a priority of NORMAL or lower has been
        processed: what an event of a priority above NORMAL scheduled now would do, without the event (the
        callbacks of an instant run in the order they were given, before any event of a priority above
        NORMAL at this instant; they must schedule nothing at this instant)."""
        self._late.append(callback)

    def late_id(self) -> int:
        """An id for a queue entry made now that sorts where the entry would if it were made at this instant's
        end (as by an ``at_instant_end`` callback), after the ids of earlier ``late_id()`` calls. The
        ``2**LATE_SHIFT - 1`` ids above it are free for revisions of the same decision (``revoke``)."""
        return LATE + (next(self._eid) << LATE_SHIFT)

    def revoke(self, wake: _Wake) -> _Wake:
        """Cancel the queue entry of ``wake`` (it is skipped when popped) and return the process's fresh wake."""
        process = wake.process
        wake.__class__ = _Revoked
        process.parked = fresh = _Wake(process)
        return fresh

    def schedule(self, event: Event, priority: int = NORMAL, delay: float = 0) -> None:
        heappush(self._queue, (self.now + delay, priority, self.now, next(self._eid), event))

    def event(self) -> Event:
        return Event(self)

    def timeout(self, delay: float, value: Any = None) -> Event:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        ev = Event(self)
        ev._ok = True
        ev._value = value
        heappush(self._queue, (self.now + delay, NORMAL, self.now, next(self._eid), ev))
        return ev

    def process(self, generator: Generator[Event, Any, Any]) -> Process:
        return Process(self, generator)

    def all_of(self, events: Iterable[Event]) -> AllOf:
        return AllOf(self, events)

    def run(self) -> None:
        """Process events until none is left."""
        queue, late = self._queue, self._late
        now = self.now
        while queue:
            at, _, _, _, event = heappop(queue)
            if type(event) is _Wake:   # Process._resume, written out (most entries are wakes)
                self.now = now = at
                process = event.process
                try:
                    target = process._send(event._value)
                except StopIteration as stop:
                    process._end(stop.value)
                else:
                    if type(target) is int:
                        heappush(queue, (now + target, NORMAL, now, next(self._eid), process._wake))
                    elif target is not None:
                        process._wait(target)
            elif type(event) is not _Revoked:   # a revoked entry does not move the clock
                self.now = now = at
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
            if late and (not queue or queue[0][0] > now or queue[0][1] > NORMAL):
                self._late = []
                for callback in late:
                    callback()
                late = self._late
