"""The sample table of (architecture, measured accuracy) that the accuracy predictor is fitted on.

A table is a CSV with one row per trained network: the network (family, input, per-cell depth, width
and long-range links as ``a-b-c``), its measured ``accuracy`` (fraction) and the ``source`` of that
number (a paper and table, or the training recipe that produced it by execution). ``nn_degree`` and
``params`` may be present (they are recomputed, never trusted). Any other column is an error.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imcsim.errors import SpecError
from imcsim.nas.degree import cell_degrees, nn_degree
from imcsim.nas.space import Network, Space
from imcsim.workload import zoo

REQUIRED = ("family", "resolution", "classes", "cells", "stem", "expand", "kernel", "depth", "width", "skips",
            "accuracy", "source")
OPTIONAL = ("nn_degree", "params")


def draw(space: Space, n: int, seed: int = 0) -> list[Network]:
    """``n`` distinct networks drawn uniformly from the space's grid (fixed seed)."""
    rng = np.random.default_rng(seed)
    sizes = space.network_sizes()
    seen: dict[Network, None] = {}
    while len(seen) < min(n, space.n_networks):
        seen.setdefault(space.network([rng.integers(s) for s in sizes]), None)
    return list(seen)


def measure(space: Space, nets: list[Network], train: Callable[[object], float], source: str,
            progress: Callable[[int, Network, float], None] | None = None) -> list[dict]:
    """Train every network with ``train(graph) -> accuracy`` and return sample rows."""
    rows = []
    for i, net in enumerate(nets):
        g = zoo.build("skipnet", **space.workload_options(net))
        acc = train(g)
        rows.append(_row(space, net, acc, source, g))
        if progress:
            progress(i, net, acc)
    return rows


def _row(space: Space, net: Network, acc: float, source: str, graph) -> dict:
    n = space.card.network
    return dict(family=n.family, resolution=n.resolution, classes=n.classes, cells=n.cells, stem=n.stem,
                expand=n.expand, kernel=net.kernel, depth=_join(net.depth), width=_join(net.width),
                skips=_join(net.skips), accuracy=round(acc, 6), source=source,
                nn_degree=round(nn_degree(graph), 6), params=graph.n_params)


def _join(v: tuple[int, ...]) -> str:
    return "-".join(map(str, v))


def write(rows: list[dict], path: str | Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*REQUIRED, *OPTIONAL])
        w.writeheader()
        w.writerows(rows)


@dataclass(frozen=True)
class Sample:
    """One measured network: its build options, accuracy (fraction), source, and recomputed features."""

    options: dict
    accuracy: float
    source: str
    nn_degree: float                    # the sum of cell_degrees
    params: int
    cell_degrees: tuple[float, ...]     # NN-Degree of each cell


def read(path: str | Path) -> list[Sample]:
    """Read and check a sample table; a missing file, unknown or missing column or bad value is a SpecError."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise SpecError(file, None, problem="sample table does not exist")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        unknown = [c for c in cols if c not in REQUIRED + OPTIONAL]
        if unknown:
            raise SpecError(file, "columns", unknown[0], problem="unknown column",
                            allowed=", ".join(REQUIRED + OPTIONAL))
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise SpecError(file, "columns", missing[0], problem="missing column", allowed=", ".join(REQUIRED))
        rows = list(reader)
    if len(rows) < 3:
        raise SpecError(file, None, len(rows), problem="too few samples to fit a predictor:", allowed=">= 3 rows")
    out = []
    for i, r in enumerate(rows, start=2):
        try:
            opts = dict(kind=r["family"], resolution=int(r["resolution"]), classes=int(r["classes"]),
                        cells=int(r["cells"]), stem=int(r["stem"]), expand=int(r["expand"]), kernel=int(r["kernel"]),
                        depth=_split(r["depth"]), channels=_split(r["width"]), skips=_split(r["skips"]))
            acc = float(r["accuracy"])
        except (TypeError, ValueError) as exc:
            raise SpecError(file, f"line {i}", None, problem=f"bad value ({exc})",
                            allowed="integers, per-cell lists as a-b-c, accuracy as a fraction") from None
        if not 0.0 <= acc <= 1.0:
            raise SpecError(file, f"line {i}: accuracy", acc, allowed="a fraction in [0, 1]")
        if not r["source"].strip():
            raise SpecError(file, f"line {i}: source", "", problem="every accuracy needs a source:",
                            allowed="a paper and table, or the training recipe that measured it")
        try:
            g = zoo.build("skipnet", **opts)
        except SpecError as exc:
            raise SpecError(file, f"line {i}", None, problem=f"network cannot be built: {exc.problem or ''}",
                            allowed="a skipnet the zoo can build") from None
        per_cell = tuple(c.average_degree for c in cell_degrees(g))
        out.append(Sample(opts, acc, r["source"].strip(), sum(per_cell), g.n_params, per_cell))
    return out


def _split(text: str) -> list[int]:
    return [int(v) for v in str(text).split("-")]
