"""Searches over (network, array) candidates: hierarchical SHGO, exhaustive, random.

Objective (a **choice**; FLASH's could not be read): minimise
``J = -100 * predicted_accuracy + weight * log10(cost)`` over networks and arrays, where ``cost`` is
the card's hardware cost (energy, latency, area or EDP) and any candidate outside a budget is
infeasible. Because the accuracy depends only on the network and ``log10`` is monotone,
``min_{n,a} J = min_n [-100 acc(n) + weight * log10(min_a cost(n, a))]``: the search splits exactly
into two levels, as FLASH's hierarchical SHGO does. The outer level moves over the network variables,
the inner level, for one network, over the array geometry of each device (devices are categorical,
so they are enumerated; rows, cols and rows_parallel are ordinal, so they are searched).

Each level runs ``scipy.optimize.shgo`` [SHGO] on the continuous relaxation of the integer grid (a
point rounds to the nearest grid index; Sobol sampling), then polishes its best point by coordinate
steps of +-1 until no neighbour improves. SHGO's triangulation grows steeply with the dimension (a
9-variable problem with 64 Sobol points took ~50 s of SHGO time alone here), so the network level,
which has ``3 x cells + 1`` variables, is searched block by block: depth of every cell, then width,
then links, then kernel, each a low-dimensional SHGO, cycling while a round improves (**choice**).
Every distinct grid point is evaluated once (memoised), and the counts are reported.

When the hardware model prices a network on all geometries of a device at once (the fast path of
:mod:`imcsim.nas.fastcost`), the inner level takes the exact minimum of that table instead of an SHGO
over it: every point is already priced, and SHGO with a +-1 polish can stop short of it (on
``skipnet-digits-wide`` it stopped at 16 rows read 16 at a time where 32 rows read 32 at a time is
cheaper: rows and rows_parallel must move together). The inner SHGO runs when candidates are priced one
at a time (``evaluate``: training methods, ``HardwareModel(fast=False)``).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from imcsim.nas.degree import cell_degrees_closed
from imcsim.nas.hardware import HardwareModel
from imcsim.nas.predictor import Predictor
from imcsim.nas.space import Array, Network, Space

PENALTY = 1e9        # stands for +inf inside SHGO (infeasible points)


@dataclass(frozen=True)
class Point:
    """A network on one device with the best array found for it, and what it costs."""

    net: Network
    device: str
    arr: Array | None
    nn_degree: float
    accuracy: float
    record: dict | None
    objective: float


@dataclass
class SearchResult:
    method: str
    best: Point | None
    points: list[Point]
    priced: int                     # distinct (network, array) candidates priced by the engine
    networks: int                   # distinct networks visited
    seconds: float
    space_points: int               # networks x arrays in the space
    settings: dict = field(default_factory=dict)


@dataclass
class Problem:
    """A space, a fitted predictor and a hardware model: the objective of every search."""

    space: Space
    predictor: Predictor
    hw: HardwareModel

    def accuracy(self, net: Network) -> tuple[float, float]:
        """(NN-Degree, predicted accuracy) of a network."""
        cells = cell_degrees_closed(np.array([net.depth]), np.array([net.width]), np.array([net.skips]))
        return float(cells.sum()), float(self.predictor.predict(cells)[0])

    def objective(self, acc: float, cost: float) -> float:
        if not math.isfinite(cost):
            return math.inf
        return -100.0 * acc + self.space.card.objective.weight * math.log10(cost)

    def point(self, net: Network, device: str, arr: Array | None, whole_device: bool = True) -> Point:
        g, acc = self.accuracy(net)
        rec = self.hw.price(net, arr, whole_device) if arr is not None else None
        return Point(net, device, arr, g, acc, rec, self.objective(acc, self.hw.cost(rec)))


# ---------------------------------------------------------------------------------- integer SHGO
class GridMemo:
    """Values of ``f`` on grid points, each computed once."""

    def __init__(self, f: Callable[[tuple[int, ...]], float]) -> None:
        self.f = f
        self.values: dict[tuple[int, ...], float] = {}

    def __call__(self, idx: tuple[int, ...]) -> float:
        if idx not in self.values:
            self.values[idx] = self.f(idx)
        return self.values[idx]


def shgo_grid(f: Callable[[tuple[int, ...]], float], sizes: list[int], n: int, iters: int = 1,
              start: tuple[int, ...] | None = None, dims: list[int] | None = None,
              memo: GridMemo | None = None) -> tuple[tuple[int, ...], float]:
    """Minimise ``f`` over the grid ``prod(range(s))`` along ``dims`` (others held at ``start``).

    SHGO runs on the continuous relaxation of those dims (a point rounds to the nearest index) with
    Sobol sampling; the objective is piecewise constant, so SHGO's local steps (L-BFGS-B) stop at once
    and the local refinement is a coordinate polish on the grid (+-1 steps until nothing improves).
    """
    from scipy.optimize import shgo

    memo = memo or GridMemo(f)
    base = list(start) if start is not None else [s // 2 for s in sizes]
    live = [d for d in (dims if dims is not None else range(len(sizes))) if sizes[d] > 1]

    def at(x: np.ndarray) -> tuple[int, ...]:
        idx = list(base)
        for d, v in zip(live, x):
            idx[d] = int(min(max(round(float(v)), 0), sizes[d] - 1))
        return tuple(idx)

    def fx(x: np.ndarray) -> float:
        v = memo(at(x))
        return v if math.isfinite(v) else PENALTY

    memo(tuple(base))
    if live:
        # Sobol needs at least 2^ceil(log2(dims + 1)) points to build its first complex
        n_eff = max(n, 2 ** math.ceil(math.log2(len(live) + 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # SHGO warns on flat (piecewise-constant) regions
            shgo(fx, [(-0.49, sizes[d] - 0.51) for d in live], n=n_eff, iters=iters, sampling_method="sobol",
                 minimizer_kwargs={"method": "L-BFGS-B"})
    best = min((k for k in memo.values if all(k[d] == base[d] for d in range(len(sizes)) if d not in live)),
               key=memo.values.__getitem__)
    best, _ = _polish(memo, sizes, best, live)
    return best, memo(best)


def shgo_blocks(f: Callable[[tuple[int, ...]], float], sizes: list[int], blocks: list[list[int]], n: int,
                rounds: int = 3) -> tuple[tuple[int, ...], float, GridMemo]:
    """SHGO over one block of dims at a time (the others fixed), cycling until a round improves nothing.

    High-dimensional SHGO is slow (its triangulation grows fast with the dimension), so a level with
    many variables is searched block by block: each block is a low-dimensional SHGO problem.
    """
    memo = GridMemo(f)
    best = tuple(s // 2 for s in sizes)
    val = memo(best)
    for _ in range(rounds):
        before = val
        for blk in blocks:
            best, val = shgo_grid(f, sizes, n, start=best, dims=blk, memo=memo)
        if not val < before:
            break
    best, val = _polish(memo, sizes, best)
    return best, val, memo


def _polish(memo: GridMemo, sizes: list[int], best: tuple[int, ...],
            dims: list[int] | None = None) -> tuple[tuple[int, ...], float]:
    """Coordinate steps of +-1 along ``dims`` (default all) until no neighbour improves."""
    improved = True
    while improved:
        improved = False
        for d in dims if dims is not None else range(len(sizes)):
            for step in (-1, 1):
                nb = list(best)
                nb[d] += step
                if 0 <= nb[d] < sizes[d] and memo(tuple(nb)) < memo(best):
                    best, improved = tuple(nb), True
    return best, memo(best)


# ---------------------------------------------------------------------------------- searches
def shgo_search(prob: Problem, n_outer: int = 16, n_inner: int = 8, iters: int = 1, rounds: int = 3) -> SearchResult:
    """Hierarchical SHGO: networks outside, each device's array geometry inside."""
    space = prob.space
    t0 = time.perf_counter()
    inner_best: dict[Network, list[Point]] = {}
    arr_sizes = space.array_sizes()[1:]

    def inner(net: Network) -> list[Point]:
        if net not in inner_best:
            pts = []
            for di, dev in enumerate(space.card.array.devices):
                if prob.hw.fast and prob.hw.table(net, dev) is not None:
                    # every geometry of the device is already priced (one table): its exact minimum
                    pts.append(_best_array(prob, net, dev))
                    continue

                def f_arr(idx: tuple[int, ...], di: int = di) -> float:
                    rec = prob.hw.price(net, space.array((di, *idx)))
                    c = prob.hw.cost(rec)
                    return math.log10(c) if math.isfinite(c) else math.inf
                idx, val = shgo_grid(f_arr, arr_sizes, n_inner, iters)
                pts.append(prob.point(net, dev, space.array((di, *idx)) if math.isfinite(val) else None))
            inner_best[net] = pts
        return inner_best[net]

    def f_net(idx: tuple[int, ...]) -> float:
        return min(p.objective for p in inner(space.network(idx)))

    c = space.cells
    blocks = [list(range(k * c, (k + 1) * c)) for k in range(3)] + [[3 * c]]
    shgo_blocks(f_net, space.network_sizes(), blocks, n_outer, rounds)
    return _result("shgo", prob, [p for pts in inner_best.values() for p in pts], t0,
                   dict(n_outer=n_outer, n_inner=n_inner, iters=iters, rounds=rounds))


def exhaustive_search(prob: Problem) -> SearchResult:
    """Price every (network, array) pair of the space; the reference the other searches are checked against."""
    space = prob.space
    t0 = time.perf_counter()
    points = [p for idx in space.all_network_indices() for p in best_arrays(prob, space.network(idx))]
    return _result("exhaustive", prob, points, t0, {})


def best_arrays(prob: Problem, net: Network) -> list[Point]:
    """For one network, the best array of every device by pricing every geometry (the inner level,
    exhaustively). The accuracy is the network's, so the best array is the cheapest feasible one
    (the first of equal costs, in the space's order); a device's geometries are priced together
    (:meth:`HardwareModel.table`) where the fast path applies."""
    return [_best_array(prob, net, dev) for dev in prob.space.card.array.devices]


def _best_array(prob: Problem, net: Network, dev: str) -> Point:
    arrays = prob.hw.arrays(dev)
    costs = prob.hw.costs(net, dev)
    i = int(np.argmin(costs))
    return prob.point(net, dev, arrays[i] if math.isfinite(costs[i]) else None)


def random_search(prob: Problem, budget: int, seed: int = 0) -> SearchResult:
    """``budget`` (network, array) pairs drawn uniformly (fixed seed): the baseline of equal pricing effort."""
    space = prob.space
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    points = []
    nsz, asz = space.network_sizes(), space.array_sizes()
    for _ in range(budget):
        arr = space.array([rng.integers(s) for s in asz])
        # one candidate at a time (no whole-device tables): the budget is the pricing effort
        points.append(prob.point(space.network([rng.integers(s) for s in nsz]), arr.device, arr, whole_device=False))
    return _result("random", prob, points, t0, dict(budget=budget, seed=seed))


def _result(method: str, prob: Problem, points: list[Point], t0: float, settings: dict) -> SearchResult:
    feasible = [p for p in points if math.isfinite(p.objective)]
    best = min(feasible, key=lambda p: p.objective) if feasible else None
    return SearchResult(method, best, points, prob.hw.calls, len({p.net for p in points}),
                        time.perf_counter() - t0, prob.space.n_networks * prob.space.n_arrays, settings)
