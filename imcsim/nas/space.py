"""The search-space card of ``imcsim nas``: network variables per cell, array variables, objective, budgets.

A card (``workloads/nas/*.yaml``) fixes the network family and input, gives the allowed values of the
per-cell variables (depth, width, long-range links) and of the array geometry (device, rows, cols,
rows_parallel), the objective and the budgets. :class:`Space` turns it into integer grids: a candidate
is one index per variable, which is what the searches move over.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from imcsim.config.device_card import builtin_card_names
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.paths import workloads_dir
from imcsim.workload.zoo.skipnet import KINDS

COSTS = ("energy_pj", "latency_ns", "area_mm2", "edp")


class Choice(StrictModel):
    """Allowed integer values: an explicit list, or ``min``/``max``/``step``."""

    values: list[int] | None = Field(None, description="the allowed values")
    min: int | None = Field(None, description="smallest value (with max)")
    max: int | None = Field(None, description="largest value (with min)")
    step: int = Field(1, gt=0, description="spacing between min and max")

    def grid(self, file: str, field: str) -> list[int]:
        if self.values is not None:
            if self.min is not None or self.max is not None:
                raise SpecError(file, field, self.model_dump(exclude_none=True), problem="give values or min/max, not both")
            vals = sorted(set(self.values))
        elif self.min is None or self.max is None:
            raise SpecError(file, field, self.model_dump(exclude_none=True), problem="needs values or both min and max")
        elif self.min > self.max:
            raise SpecError(file, field, f"min {self.min} > max {self.max}", problem="contradictory bounds:",
                            allowed="min <= max")
        else:
            vals = list(range(self.min, self.max + 1, self.step))
        if not vals:
            raise SpecError(file, field, [], problem="no allowed value", allowed="at least one value")
        return vals


def _choice(v: Any) -> Any:
    return {"values": v} if isinstance(v, list) else v


class NetworkSpace(StrictModel):
    family: Literal["densenet", "resnet", "mobilenet"] = Field(description="how layers combine: " + ", ".join(KINDS))
    resolution: int = Field(gt=0, description="input height and width")
    classes: int = Field(gt=1, description="classifier outputs")
    cells: int = Field(ge=1, le=6, description="number of cells (stride 2 between cells)")
    stem: int = Field(16, gt=0, description="stem conv channels")
    expand: int = Field(4, gt=0, description="inverted-residual expansion (mobilenet family)")
    kernel: Choice = Field(default_factory=lambda: Choice(values=[3]), description="conv kernel size (whole network)")
    depth: Choice = Field(description="layers per cell (each cell chooses its own)")
    width: Choice = Field(description="channels per layer (growth rate), per cell")
    skips: Choice = Field(description="long-range links per layer, per cell")

    _c = field_validator("kernel", "depth", "width", "skips", mode="before")(lambda cls, v: _choice(v))


class ArraySpace(StrictModel):
    devices: list[str] = Field(min_length=1, description="device cards; one accelerator preset each (acc-<device>)")
    rows: Choice = Field(description="array rows")
    cols: Choice = Field(description="array columns")
    rows_parallel: Choice = Field(description="rows read at once (must not exceed rows)")

    _c = field_validator("rows", "cols", "rows_parallel", mode="before")(lambda cls, v: _choice(v))


class Objective(StrictModel):
    cost: Literal["energy_pj", "latency_ns", "area_mm2", "edp"] = Field(
        "energy_pj", description="hardware cost traded against predicted accuracy (edp: energy x latency)")
    weight: float = Field(1.0, ge=0, description="accuracy points given up per decade of cost [A: user choice]")


class Budgets(StrictModel):
    area_mm2: float | None = Field(None, gt=0, description="chip area budget")
    latency_ns: float | None = Field(None, gt=0, description="latency budget per inference")
    energy_pj: float | None = Field(None, gt=0, description="energy budget per inference")


class SpaceCard(StrictModel):
    kind: Literal["nas-space"] = Field(description="card kind")
    name: str = Field(min_length=1, description="space name")
    description: str = Field("", description="what the space is for")
    network: NetworkSpace
    array: ArraySpace
    method: str = Field("inference", description="training method priced with each candidate")
    samples: str | None = Field(None, description="CSV of (architecture, measured accuracy), relative to the card")
    holdout: str | None = Field(None, description="CSV of further measured networks, never fitted on: the predictor's "
                                                  "held-out test (relative to the card)")
    predictor: str = Field("log-linear", description="accuracy predictor form (imcsim.nas.predictor.FORMS)")
    objective: Objective = Field(default_factory=Objective)
    budgets: Budgets = Field(default_factory=Budgets)


NET_VARS = ("depth", "width", "skips")
ARRAY_VARS = ("rows", "cols", "rows_parallel")


@dataclass(frozen=True)
class Network:
    """One network candidate: per-cell depth, width, long-range links, and the kernel."""

    depth: tuple[int, ...]
    width: tuple[int, ...]
    skips: tuple[int, ...]
    kernel: int

    def label(self) -> str:
        return f"d{'-'.join(map(str, self.depth))}_w{'-'.join(map(str, self.width))}" \
               f"_t{'-'.join(map(str, self.skips))}_k{self.kernel}"


@dataclass(frozen=True)
class Array:
    device: str
    rows: int
    cols: int
    rows_parallel: int


@dataclass
class Space:
    """Integer grids of a card. Network index vector: ``[depth_c..., width_c..., skips_c..., kernel]``."""

    card: SpaceCard
    path: Path
    grids: dict[str, list[int]]

    @property
    def cells(self) -> int:
        return self.card.network.cells

    def network_sizes(self) -> list[int]:
        c = self.cells
        return [len(self.grids[v]) for v in NET_VARS for _ in range(c)] + [len(self.grids["kernel"])]

    def array_sizes(self) -> list[int]:
        return [len(self.card.array.devices)] + [len(self.grids[v]) for v in ARRAY_VARS]

    @property
    def n_networks(self) -> int:
        return math.prod(self.network_sizes())

    @property
    def n_arrays(self) -> int:
        return math.prod(self.array_sizes())

    def network(self, idx: Any) -> Network:
        idx = [int(i) for i in idx]
        c = self.cells
        vals = {v: tuple(self.grids[v][i] for i in idx[k * c:(k + 1) * c]) for k, v in enumerate(NET_VARS)}
        return Network(vals["depth"], vals["width"], vals["skips"], self.grids["kernel"][idx[-1]])

    def array(self, idx: Any) -> Array:
        d, r, c, p = (int(i) for i in idx)
        return Array(self.card.array.devices[d], self.grids["rows"][r], self.grids["cols"][c],
                     self.grids["rows_parallel"][p])

    def workload_options(self, net: Network) -> dict[str, Any]:
        n = self.card.network
        return dict(kind=n.family, resolution=n.resolution, classes=n.classes, cells=n.cells, stem=n.stem,
                    expand=n.expand, kernel=net.kernel, depth=list(net.depth), channels=list(net.width),
                    skips=list(net.skips))

    def all_network_indices(self) -> np.ndarray:
        return np.array(list(itertools.product(*(range(s) for s in self.network_sizes()))), dtype=np.int64)

    def all_array_indices(self) -> np.ndarray:
        return np.array(list(itertools.product(*(range(s) for s in self.array_sizes()))), dtype=np.int64)

def builtin_spaces() -> list[str]:
    return sorted(p.stem for p in (workloads_dir() / "nas").glob("*.yaml"))


def load_space(name_or_path: str | Path) -> Space:
    """A space card by built-in name (``workloads/nas/NAME.yaml``) or path; bad content is a SpecError."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = workloads_dir() / "nas" / f"{name_or_path}.yaml"
        if not path.exists():
            raise SpecError(str(name_or_path), None, problem="unknown search space",
                            allowed="a card path or one of " + ", ".join(builtin_spaces()))
    card = validate(SpaceCard, load_yaml(path), path)
    file = str(path)
    net, arr = card.network, card.array
    grids = {v: getattr(net, v).grid(file, f"network.{v}") for v in ("kernel", *NET_VARS)}
    grids.update({v: getattr(arr, v).grid(file, f"array.{v}") for v in ARRAY_VARS})
    for v, lo in (("depth", 1), ("width", 1), ("skips", 0), ("kernel", 1), ("rows", 1), ("cols", 1),
                  ("rows_parallel", 1)):
        where = f"network.{v}" if v in ("kernel", *NET_VARS) else f"array.{v}"
        if min(grids[v]) < lo:
            raise SpecError(file, where, min(grids[v]), problem="value out of range:", allowed=f">= {lo}")
    if any(k % 2 == 0 for k in grids["kernel"]):
        raise SpecError(file, "network.kernel", grids["kernel"], allowed="odd kernel sizes")
    if min(grids["rows_parallel"]) > max(grids["rows"]):
        raise SpecError(file, "array.rows_parallel", grids["rows_parallel"], problem="contradictory bounds: every value "
                        f"exceeds the largest rows {max(grids['rows'])}:", allowed="rows_parallel <= rows")
    known = builtin_card_names()
    for d in arr.devices:
        if d not in known:
            raise SpecError(file, "array.devices", d, problem="unknown device", allowed=", ".join(known))
    return Space(card, path, grids)
