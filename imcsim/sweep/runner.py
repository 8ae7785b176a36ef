"""Running a sweep: serially, on local worker processes, or on a Dask cluster, into a result store.

The runner is engine-agnostic: it takes ``evaluate(params) -> dict of metrics`` (the engine's
``imcsim.engine.evaluate_point`` in the CLI, small functions in tests). For worker processes and Dask
that function must be picklable by reference (a module-level function). When ``evaluate`` has a
``batch`` attribute (``batch(list of params) -> list of metrics dicts or exceptions``, in order), each
chunk of points goes to it in one call: the engine prices a chunk's array geometries together
(``imcsim.engine.evaluate_points``), each result equal to the point evaluated alone.

Why it is built this way:

- Points go out in chunks so per-point overhead is small. The chunk size adapts: the first chunks
  hold one point, then chunks are sized to take about ``CHUNK_TARGET_S`` seconds from the measured
  cost per point (a 1 ms analytic point gets chunks of a few hundred, a 10 s event-engine point
  gets chunks of one, so Ctrl-C never waits long).
- Only a few chunks are in flight per worker, and every finished point goes straight to the store,
  so memory stays flat however many points the sweep has.
- A point whose evaluation raises is recorded with ``status="error"`` and a one-line message; the
  sweep goes on. A dead worker process or a lost Dask worker stops the sweep (after storing what
  finished): ``--resume`` picks up from there.
- Ctrl-C (and SIGTERM) stop the sweep, store every finished point, record the run in the manifest
  and raise :class:`SweepInterrupted` (a KeyboardInterrupt carrying the summary).
- The result table is ordered by the plan, so it does not depend on ``jobs`` or ``scheduler``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import multiprocessing
import os
import pickle
import signal
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from imcsim.errors import SpecError
from imcsim.sweep.progress import make_progress
from imcsim.sweep.spec import PlanPoints, Point, SweepSpec
from imcsim.sweep.store import FLUSH_ROWS, RESERVED, ResultStore, compact, now_iso

Evaluate = Callable[[dict[str, Any]], Mapping[str, Any]]

CHUNK_TARGET_S = 0.25   # wall time one chunk should take once the cost per point is known
MAX_CHUNK = 512
INFLIGHT_PER_SLOT = 2   # chunks queued per worker slot: enough to keep workers busy, few to hold
ERROR_CHARS = 300
#: with ``jobs > 1`` the parent evaluates the first points itself, and starts the worker processes only for
#: what is left once it has spent this long on them: about what starting and warming two workers costs, so a
#: sweep that takes less serially never pays for workers (issue 15: --jobs 2 was slower than serial on small
#: sweeps), and a long one starts them at most this late
SERIAL_FIRST_S = 2.0
DASK_CONNECT_TIMEOUT_S = 20


@dataclass(frozen=True)
class SweepSummary:
    """What one call of :func:`run_sweep` did."""

    out_dir: Path
    total: int          # points in the plan
    skipped: int        # already stored by an earlier run (resume)
    evaluated: int      # evaluated and stored by this run
    failed: int         # of those, recorded with status "error"
    cleared: int        # stored results deleted by force
    complete: bool      # every planned point is now stored
    elapsed_s: float

    @property
    def points_per_s(self) -> float:
        return self.evaluated / self.elapsed_s if self.elapsed_s > 0 else 0.0


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep; everything finished is stored. ``summary`` says how much."""

    def __init__(self, summary: SweepSummary) -> None:
        super().__init__(f"sweep interrupted: {summary.skipped + summary.evaluated} of {summary.total} "
                         f"points stored in {summary.out_dir}; rerun with --resume to finish")
        self.summary = summary


def run_sweep(points: SweepSpec | Sequence[Point], evaluate: Evaluate, out_dir: str | Path, jobs: int = 1,
              scheduler: Any = None, resume: bool = False, force: bool = False, progress: str | bool = "auto",
              *, warmup: Callable[[], Any] | None = None, retry_failed: bool = False,
              chunk_size: int | None = None, flush_every: int = FLUSH_ROWS, flush_seconds: float = 2.0,
              compact_when_done: bool = True, progress_stream: TextIO | None = None,
              spec: Mapping[str, Any] | None = None, serial_first_s: float | None = None) -> SweepSummary:
    """Evaluate every point not yet stored in ``out_dir`` and stream the results there.

    ``points``: a :class:`SweepSpec` (expanded here) or points already expanded. ``jobs > 1``: local
    worker processes; ``scheduler``: a Dask scheduler address (or a ``distributed.Client``).
    ``resume``: skip points already stored (with ``retry_failed``, re-run those stored as errors).
    ``force``: delete the folder's stored results first. ``warmup()`` runs once per worker process
    before its first point (e.g. to compile kernels or load device cards). With ``jobs > 1`` the points
    evaluated in the first ``serial_first_s`` seconds (default :data:`SERIAL_FIRST_S`) are evaluated here,
    in this process, and workers start only for the rest (none for a sweep done by then).
    """
    plan: Sequence[Point]
    if isinstance(points, SweepSpec):
        spec = spec if spec is not None else points.to_dict()
        fields = points.fields
        plan = points.plan()
    elif isinstance(points, PlanPoints):   # held lazily: a big plan is not copied into a list
        plan, fields = points, points.fields
    else:
        plan = list(points)
        fields = list(dict.fromkeys(k for p in plan for k in p.params))
    if not plan:
        raise SpecError(None, "points", problem="the sweep has no points")
    _check_unique_ids(plan)
    if jobs < 1:
        raise SpecError("<flags>", "--jobs", jobs, problem="bad value", allowed="an integer >= 1")
    parallel = scheduler is not None or jobs > 1
    if parallel:
        _check_picklable(evaluate, "evaluate")
        if warmup is not None:
            _check_picklable(warmup, "warmup")

    client, own_client = _connect(scheduler) if scheduler is not None else (None, False)
    try:
        return _run(plan, fields, spec, evaluate, out_dir, jobs, client, resume, force, progress, warmup,
                    retry_failed, chunk_size, flush_every, flush_seconds, compact_when_done, progress_stream,
                    SERIAL_FIRST_S if serial_first_s is None else serial_first_s)
    finally:
        if own_client:
            client.close()


def _run(plan: Sequence[Point], fields: list[str], spec: Mapping[str, Any] | None, evaluate: Evaluate,
         out_dir: str | Path, jobs: int, client: Any, resume: bool, force: bool, progress: str | bool,
         warmup: Callable[[], Any] | None, retry_failed: bool, chunk_size: int | None, flush_every: int,
         flush_seconds: float, compact_when_done: bool, progress_stream: TextIO | None,
         serial_first_s: float) -> SweepSummary:
    store = ResultStore.open(out_dir, plan, fields=fields, spec=spec, resume=resume, force=force,
                             flush_every=flush_every, flush_seconds=flush_seconds, merge_on_close=compact_when_done)
    done = store.stored_status
    todo: Sequence[Point] = plan
    if done:
        keep = [i for i, p in enumerate(plan) if p.id not in done or (retry_failed and done[p.id] == "error")]
        todo = plan if len(keep) == len(plan) else _Subset(plan, keep)
    skipped = len(plan) - len(todo)
    bar = make_progress(progress, len(plan), skipped, progress_stream)
    counts = {"evaluated": 0, "failed": 0}
    started, t0 = now_iso(), time.monotonic()

    signals = _sigterm_as_interrupt()

    def on_results(results: Sequence[Result]) -> None:
        # a chunk's points are stored and counted, or none: a Ctrl-C in between would leave them stored but
        # not counted (the summary would say fewer points than the folder holds), so it waits for the end
        signals.busy = True
        try:
            store.add_many(results)
            failed = sum(r[1] != "ok" for r in results)
            counts["evaluated"] += len(results)
            counts["failed"] += failed
            bar.update(len(results), failed)
        finally:
            signals.done()

    interrupted = False
    try:
        with signals, _frozen_heap():
            if client is not None:
                _run_dask(todo, evaluate, warmup, client, chunk_size, on_results)
            elif jobs > 1:
                done_here = _run_serial(todo, evaluate, warmup, chunk_size, on_results, serial_first_s) \
                    if serial_first_s > 0 else 0
                rest = todo if not done_here else _Subset(todo, range(done_here, len(todo)))
                _run_processes(rest, evaluate, warmup, jobs, chunk_size, on_results)
            else:
                _run_serial(todo, evaluate, warmup, chunk_size, on_results)
    except KeyboardInterrupt:
        interrupted = True  # stored below; re-raised with the summary attached
    finally:
        bar.close()
        complete = all(p.id in store.stored_status for p in plan)
        run = {"started": started, "ended": now_iso(), "jobs": jobs,
               "scheduler": None if client is None else _address(client),
               "resumed": resume, "skipped": skipped, "evaluated": counts["evaluated"],
               "failed": counts["failed"], "interrupted": interrupted}
        store.close(run, complete=complete)
        summary = SweepSummary(out_dir=Path(out_dir), total=len(plan), skipped=skipped,
                               evaluated=counts["evaluated"], failed=counts["failed"], cleared=store.cleared,
                               complete=complete, elapsed_s=time.monotonic() - t0)
    if interrupted:
        raise SweepInterrupted(summary)
    if complete and compact_when_done and not store.single_part:   # (one part: nothing to compact)
        compact(out_dir)
    return summary


def use_system_allocator() -> None:
    """Give this process's Arrow buffers to the C allocator (for a process that runs a sweep).

    The store's Arrow work is many small, short-lived buffers (a part per flush, the plan, the
    compaction); Arrow's default mimalloc pool keeps their freed pages resident, which shows as ~30 MB
    of peak RSS on a 100,000-point sweep; the system allocator returns them. Speed is not at stake:
    the store's Arrow time is a small share of a sweep. Process-wide, so the CLI calls it, not
    :func:`run_sweep`.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


# ---------------------------------------------------------------------- evaluating one point


def evaluate_safely(evaluate: Evaluate, params: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    """(status, error, metrics) for one point; an exception (not Ctrl-C) becomes a one-line error."""
    try:
        result = evaluate(dict(params))
    except Exception as exc:  # a failing point is data, not a crash: record it and go on
        return "error", one_line_error(exc), {}
    try:
        return "ok", None, clean_metrics(result, params)
    except ValueError as exc:
        return "error", one_line_error(exc), {}


def batch_of(evaluate: Evaluate) -> Callable[[list[dict[str, Any]]], list[Any]] | None:
    """The batch form of ``evaluate`` (its ``batch`` attribute), if it has one."""
    return getattr(evaluate, "batch", None)


def evaluate_chunk_safely(evaluate: Evaluate, chunk: Sequence[Mapping[str, Any]]
                          ) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(status, error, metrics) for each point of a chunk, as :func:`evaluate_safely` gives them: through
    ``evaluate.batch`` in one call when ``evaluate`` has it (a failing point comes back as its exception),
    else one point at a time."""
    batch = batch_of(evaluate)
    if batch is None or len(chunk) < 2:
        return [evaluate_safely(evaluate, params) for params in chunk]
    try:
        results = batch([dict(p) for p in chunk])
    except Exception:   # the whole chunk failed: each point alone, so each gets its own error
        return [evaluate_safely(evaluate, params) for params in chunk]
    return clean_many(results, chunk)


def clean_many(results: Sequence[Any], chunk: Sequence[Mapping[str, Any]]
               ) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(status, error, metrics) of each result of a batch (metrics or the point's exception), each as
    :func:`clean_metrics` gives it. The names are checked once for the chunk: a result with the first one's
    metric names (and a point with the first one's fields) needs only its values' kinds checked, its echoes
    of fields compared and dropped; any other result takes :func:`clean_metrics`."""
    first = next((r for r in results if type(r) is dict), None)
    keys: list[Any] = list(first) if first is not None else []
    pkeys = list(chunk[0]) if chunk else []
    fast = first is not None and _TEXT.issuperset(map(type, keys)) and _RESERVED.isdisjoint(keys)
    shared = [k for k in pkeys if k in first] if fast else []   # type: ignore[operator]
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    for params, result in zip(chunk, results):
        if (fast and type(result) is dict and list(result) == keys and list(params) == pkeys
                and _PLAIN.issuperset(map(type, result.values()))
                and all(params[k] == result[k] for k in shared)):
            metrics = dict(result)
            for k in shared:
                del metrics[k]
            out.append(("ok", None, metrics))
        elif isinstance(result, BaseException):
            out.append(("error", one_line_error(result), {}))
        else:
            try:
                out.append(("ok", None, clean_metrics(result, params)))
            except ValueError as exc:
                out.append(("error", one_line_error(exc), {}))
    return out


_PLAIN = frozenset((float, int, str, bool, type(None)))   # metric types stored as they are
_TEXT = frozenset((str,))
_RESERVED = frozenset(RESERVED)


def clean_metrics(result: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check an evaluate result: a flat mapping of names to numbers, text or booleans.

    numpy scalars become Python values; a metric that echoes a study field with the same value is
    dropped (the field is already a column); any other clash with a field or a reserved column
    (``point``, ``point_id``, ``status``, ``error``) is an error, so a column never means two things.
    """
    if not isinstance(result, Mapping):
        raise ValueError(f"evaluate returned {type(result).__name__}, expected a dict of metrics")
    # the common case checked in bulk (the engine's ~100 metrics per point: text names, plain values, no
    # reserved name, no field but an echo of its own value); anything else takes the loop, which names it
    if (_PLAIN.issuperset(map(type, result.values())) and _TEXT.issuperset(map(type, result))
            and _RESERVED.isdisjoint(result)):
        out = dict(result)
        shared = [k for k in params if k in result]
        if not shared:
            return out
        if all(params[k] == result[k] for k in shared):
            for k in shared:   # (a copy then a few deletions: ~10x faster than a comprehension over ~100)
                del out[k]
            return out
    return _clean_each(result, params)


def _clean_each(result: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`clean_metrics` one metric at a time: converts numpy scalars, names the first bad metric."""
    out: dict[str, Any] = {}
    for key, value in result.items():
        if type(key) is not str and not isinstance(key, str):
            raise ValueError(f"metric name {key!r} is not text")
        if type(value) not in _PLAIN:   # (the engine's ~110 metrics per point are plain: checked by type first)
            if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
                value = value.item()
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise ValueError(f"metric {key!r} is a {type(value).__name__}; metrics must be numbers, text or "
                                 "booleans")
        if key in RESERVED:
            raise ValueError(f"metric name {key!r} is reserved for the result table")
        if key in params:
            if params[key] == value:
                continue
            raise ValueError(f"metric {key!r}={value!r} clashes with the study field {key}={params[key]!r}")
        out[key] = value
    return out


def one_line_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


# ---------------------------------------------------------------------- chunks (worker side)


_WARM: set[str] = set()
_WARM_LOCK = threading.Lock()
_WORKER_EVALUATE: Evaluate | None = None
_WORKER_WARMUP: Callable[[], Any] | None = None

ChunkResult = tuple[list[tuple[int, str, str | None, dict[str, Any]]], float]


def _ensure_warm(warmup: Callable[[], Any] | None) -> None:
    """Run ``warmup`` once per process (Dask worker threads share it, hence the lock)."""
    if warmup is None:
        return
    key = f"{getattr(warmup, '__module__', '')}.{getattr(warmup, '__qualname__', repr(warmup))}"
    with _WARM_LOCK:
        if key not in _WARM:
            warmup()
            _WARM.add(key)


def run_chunk(evaluate: Evaluate, warmup: Callable[[], Any] | None,
              chunk: Sequence[tuple[int, dict[str, Any]]]) -> ChunkResult:
    """Evaluate a chunk of (position, params); returns the results and the seconds it took."""
    _ensure_warm(warmup)
    t0 = time.perf_counter()
    results = evaluate_chunk_safely(evaluate, [params for _, params in chunk])
    out = [(i, *r) for (i, _), r in zip(chunk, results)]
    return out, time.perf_counter() - t0


def _init_worker(evaluate: Evaluate, warmup: Callable[[], Any] | None, parent_pid: int | None = None) -> None:
    """Worker process start: Ctrl-C is the parent's to handle (it stores results and stops us), and
    a worker whose parent is gone (kill -9) exits instead of computing for nobody."""
    global _WORKER_EVALUATE, _WORKER_WARMUP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True,
                         name="imcsim-parent-watch").start()
    _WORKER_EVALUATE, _WORKER_WARMUP = evaluate, warmup
    _ensure_warm(warmup)
    # what the worker holds now (modules, warmed caches) lives as long as it does: frozen, as in _frozen_heap
    gc.collect()
    gc.freeze()


PARENT_POLL_S = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """Poll the parent: once this process is re-parented (the parent died), exit at once."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(PARENT_POLL_S)


def _run_worker_chunk(chunk: Sequence[tuple[int, dict[str, Any]]]) -> ChunkResult:
    assert _WORKER_EVALUATE is not None, "worker not initialised"
    return run_chunk(_WORKER_EVALUATE, _WORKER_WARMUP, chunk)


# ---------------------------------------------------------------------- backends (driver side)


#: one evaluated point as the driver hands it to the store: (point, status, error, metrics)
Result = tuple[Point, str, str | None, Mapping[str, Any]]
OnResults = Callable[[Sequence[Result]], None]


def _run_serial(todo: Sequence[Point], evaluate: Evaluate, warmup: Callable[[], Any] | None,
                chunk_size: int | None, on_results: OnResults, budget_s: float = math.inf) -> int:
    """Evaluate ``todo`` in this process, in order, until done or until its evaluations took ``budget_s``
    seconds (checked between chunks); returns how many points it evaluated (the first ones)."""
    _ensure_warm(warmup)
    spent = 0.0
    if batch_of(evaluate) is None:
        for n, point in enumerate(todo):
            if spent >= budget_s:
                return n
            t0 = time.perf_counter()
            result = evaluate_safely(evaluate, point.params)
            spent += time.perf_counter() - t0
            on_results([(point, *result)])
        return len(todo)
    # chunks sized like the workers' (about CHUNK_TARGET_S each, the first one point), so a Ctrl-C waits
    # no longer than one chunk and every finished chunk is stored
    chunker = _Chunker(todo, 1, chunk_size)
    while chunker.remaining and spent < budget_s:
        results, seconds = run_chunk(evaluate, None, chunker.next())
        chunker.record(len(results), seconds)
        spent += seconds
        on_results([(todo[i], status, error, metrics) for i, status, error, metrics in results])
    return chunker.next_i


class _Subset(Sequence[Point]):
    """The points of a plan still to run (resume), by position in the plan: no copy of the points."""

    def __init__(self, plan: Sequence[Point], positions: Sequence[int]) -> None:
        self.plan, self.positions = plan, array("q", positions)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.plan[k] for k in self.positions[i]]
        return self.plan[self.positions[i]]


class _Chunker:
    """Hands out chunks of the remaining points (in order), sized from the measured cost per point."""

    def __init__(self, todo: Sequence[Point], slots: int, fixed: int | None) -> None:
        self.next_i = 0    # the points before it are handed out
        self.todo = todo
        self.slots = slots
        self.fixed = fixed
        self.points_timed = 0
        self.seconds = 0.0

    @property
    def remaining(self) -> int:
        return len(self.todo) - self.next_i

    def record(self, n: int, seconds: float) -> None:
        self.points_timed += n
        self.seconds += seconds

    def next(self) -> list[tuple[int, dict[str, Any]]]:
        if self.fixed:
            size = self.fixed
        elif self.points_timed == 0:
            size = 1
        else:
            per_point = max(self.seconds / self.points_timed, 1e-6)
            size = max(1, min(MAX_CHUNK, int(CHUNK_TARGET_S / per_point)))
            size = min(size, max(1, math.ceil(self.remaining / self.slots)))  # keep the tail balanced
        first, self.next_i = self.next_i, self.next_i + min(size, self.remaining)
        return [(i, self.todo[i].params) for i in range(first, self.next_i)]


def _drive(todo: Sequence[Point], slots: int, chunk_size: int | None, submit: Callable[[list], Any],
           wait_any: Callable[[set], tuple[set, set]], cancel: Callable[[set], None],
           on_results: OnResults) -> None:
    """The loop shared by processes and Dask: keep chunks in flight, store results as they land."""
    chunker = _Chunker(todo, slots, chunk_size)
    inflight: set = set()
    sizes: dict[Any, int] = {}

    def fill() -> None:
        while chunker.remaining and len(inflight) < slots * INFLIGHT_PER_SLOT:
            chunk = chunker.next()
            fut = submit(chunk)
            inflight.add(fut)
            sizes[fut] = len(chunk)

    def collect(fut: Any) -> None:
        inflight.discard(fut)
        sizes.pop(fut, None)
        results, seconds = fut.result()
        chunker.record(len(results), seconds)
        on_results([(todo[i], status, error, metrics) for i, status, error, metrics in results])

    try:
        fill()
        while inflight:
            done, _ = wait_any(inflight)
            for fut in done:
                collect(fut)
            fill()
    except KeyboardInterrupt:
        # Keep what already came back, then drop the rest.
        for fut in [f for f in inflight if _finished_ok(f)]:
            collect(fut)
        cancel(inflight)
        raise


def _finished_ok(fut: Any) -> bool:
    try:
        return fut.done() and not fut.cancelled() and fut.exception() is None
    except Exception:
        return False


def _run_processes(todo: Sequence[Point], evaluate: Evaluate, warmup: Callable[[], Any] | None, jobs: int,
                   chunk_size: int | None, on_results: OnResults) -> None:
    if not todo:
        return
    jobs = min(jobs, len(todo))
    # spawn, not fork: the parent may hold threads (tqdm, Dask, numba) that fork would copy half-locked.
    ctx = multiprocessing.get_context("spawn")
    ex = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(evaluate, warmup, os.getpid()))

    def cancel(inflight: set) -> None:
        for f in inflight:
            f.cancel()
        _stop_workers(ex)

    ok = False
    try:
        _drive(todo, jobs, chunk_size, lambda chunk: ex.submit(_run_worker_chunk, chunk),
               lambda fs: futures_wait(fs, return_when=FIRST_COMPLETED), cancel, on_results)
        ok = True
    finally:
        if ok:
            ex.shutdown(wait=True)
        else:
            _stop_workers(ex)
            ex.shutdown(wait=False, cancel_futures=True)


def _stop_workers(ex: ProcessPoolExecutor) -> None:
    """Stop the workers now (Ctrl-C must not wait for their current chunk)."""
    terminate = getattr(ex, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for proc in list((getattr(ex, "_processes", None) or {}).values()):  # older Pythons: no public API
        if proc.is_alive():
            proc.terminate()


def _connect(scheduler: Any) -> tuple[Any, bool]:
    """A Dask client for ``scheduler`` (an address, or a Client used as is); (client, we own it)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise SpecError("<flags>", "--scheduler", scheduler, problem="needs dask.distributed, which is not installed;",
                        allowed="pip install 'imcsim[cluster]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S), True
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise SpecError("<flags>", "--scheduler", scheduler,
                        problem=f"cannot reach the Dask scheduler ({one_line_error(exc)}):",
                        allowed="the address of a running scheduler, e.g. tcp://host:8786") from None


def _address(client: Any) -> str:
    scheduler = getattr(client, "scheduler", None)
    return str(getattr(scheduler, "address", None) or client)


def _run_dask(todo: Sequence[Point], evaluate: Evaluate, warmup: Callable[[], Any] | None, client: Any,
              chunk_size: int | None, on_results: OnResults) -> None:
    if not todo:
        return
    from dask.distributed import wait

    slots = max(1, sum(client.nthreads().values()))

    def submit(chunk: list) -> Any:
        return client.submit(run_chunk, evaluate, warmup, chunk, pure=False)

    def wait_any(fs: set) -> tuple[set, set]:
        res = wait(list(fs), return_when="FIRST_COMPLETED")
        return set(res.done), set(res.not_done)

    def cancel(fs: set) -> None:
        if fs:
            client.cancel(list(fs))

    _drive(todo, slots, chunk_size, submit, wait_any, cancel, on_results)


# ---------------------------------------------------------------------- helpers


def _check_unique_ids(plan: Sequence[Point]) -> None:
    if isinstance(plan, PlanPoints):   # ids held as integers: checked without building the points
        dup = plan.first_duplicate()
        if dup is not None:
            _duplicate(plan[dup[1]], dup[0])
        return
    seen: dict[str, int] = {}
    for p in plan:
        if p.id in seen:
            _duplicate(p, seen[p.id])
        seen[p.id] = p.index


def _duplicate(p: Point, other: int) -> None:
    raise SpecError(None, "points", p.params, problem=(
        f"design point {p.index} has the same id as point {other} (listed twice?):"))


def _check_picklable(fn: Any, name: str) -> None:
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(f"{name} must be a module-level function to run in worker processes or on Dask "
                        f"({one_line_error(exc)})") from None


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive when a sweep starts (modules, the plan, the engine's caches) live through it, so the
    cyclic collector's full collections during it need not rescan them: they are moved to its permanent
    generation (``gc.freeze``) and back at the end. A full collection over the loaded modules took 50-130 ms
    of CPU, a tenth to a third of a 1,000-point sweep of new geometries; objects made during the sweep are
    collected as before. A heap the caller froze stays as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _sigterm_as_interrupt:
    """SIGTERM (``kill``, a batch system's stop) takes the Ctrl-C path, so finished points are stored.

    SIGINT is handled here too: a sweep started in the background by a script inherits SIGINT
    *ignored*, and Ctrl-C (or ``kill -INT``) must still stop it cleanly."""

    def __init__(self) -> None:
        self.busy = False            # storing a result: a signal now is raised when it is done
        self.pending: int | None = None

    def __enter__(self) -> None:
        self._old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.busy:
            self.pending = signum
            return
        _raise_interrupt(signum)

    def done(self) -> None:
        self.busy = False
        if self.pending is not None:
            signum, self.pending = self.pending, None
            _raise_interrupt(signum)


def _raise_interrupt(signum: int, frame: Any = None) -> None:
    raise KeyboardInterrupt(f"signal {signum} (pid {os.getpid()})")
