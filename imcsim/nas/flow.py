"""One ``imcsim nas`` run: load the space, read (or measure) samples, fit the predictor, search.

The result carries everything a report needs and the list of choices and interpretations it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imcsim.errors import SpecError
from imcsim.nas import predictor as pred
from imcsim.nas import samples as smp
from imcsim.nas import search as srch
from imcsim.nas.degree import INTERPRETATION
from imcsim.nas.hardware import HardwareModel
from imcsim.nas.space import Space

SEARCHES = ("shgo", "exhaustive", "random")
#: (network, array) pairs above which exhaustive search is refused: priced one at a time through
#: ``evaluate`` (2-7 ms each), or, for inference (imcsim/nas/fastcost.py, ~10 us each), in tables
EXHAUSTIVE_LIMIT = 20_000
EXHAUSTIVE_LIMIT_FAST = 2_000_000


@dataclass
class NasRun:
    space: Space
    samples_path: Path
    samples: list[smp.Sample]
    predictor: pred.Predictor
    result: srch.SearchResult
    assumptions: list[str] = field(default_factory=list)


def samples_path(space: Space, override: str | Path | None) -> Path:
    if override is not None:
        return Path(override)
    if space.card.samples is None:
        raise SpecError(str(space.path), "samples", None, problem="no sample table: set samples in the card",
                        allowed="a CSV path (or --samples, or --train N to measure samples by training)")
    return space.path.parent / space.card.samples


def run(space: Space, samples_file: Path, search: str = "shgo", n_outer: int = 16, n_inner: int = 8,
        budget: int = 1000, seed: int = 0) -> NasRun:
    if search not in SEARCHES:
        raise SpecError("<flags>", "--search", search, allowed=", ".join(SEARCHES))
    limit = EXHAUSTIVE_LIMIT_FAST if space.card.method == "inference" else EXHAUSTIVE_LIMIT
    if search == "exhaustive" and space.n_networks * space.n_arrays > limit:
        raise SpecError("<flags>", "--search", "exhaustive", problem=f"the space has "
                        f"{space.n_networks * space.n_arrays:,} points, too many to enumerate:",
                        allowed=f"shgo or random, or a space of <= {limit:,} points (method {space.card.method})")
    samples = smp.read(samples_file)
    holdout = smp.read(space.path.parent / space.card.holdout) if space.card.holdout else None
    predictor = pred.fit(samples, space.card.predictor, str(space.path), holdout, space.cells)
    prob = srch.Problem(space, predictor, HardwareModel(space))
    if search == "shgo":
        result = srch.shgo_search(prob, n_outer, n_inner)
    elif search == "exhaustive":
        result = srch.exhaustive_search(prob)
    else:
        result = srch.random_search(prob, budget, seed)
    if result.best is None:
        b = space.card.budgets.model_dump(exclude_none=True)
        raise SpecError(str(space.path), "budgets", b, problem="no candidate the search priced meets the budgets",
                        allowed="looser budgets or a larger space")
    sources = sorted({s.source for s in samples})
    assumptions = [
        INTERPRETATION,
        f"accuracy predictor (choice): {predictor.description}; fitted on {len(samples)} samples from "
        f"{samples_file.name} (sources: {'; '.join(sources)})" + (
            f"; tested on {len(holdout)} held-out networks ({space.card.holdout})" if holdout else ""),
        "objective (choice): J = -100 x predicted accuracy + weight x log10(cost); "
        f"cost = {space.card.objective.cost}, weight = {space.card.objective.weight} accuracy points per decade [A]",
        "hierarchy (choice): networks searched outside, array geometry per device inside; exact split of the "
        "objective (accuracy depends on the network only)",
        "hardware cost: imcsim analytic engine per candidate (acc-<device> preset, rows/cols/rows_parallel "
        f"overridden, method {space.card.method})",
    ]
    return NasRun(space, samples_file, samples, predictor, result, assumptions)


def winner_study(nas: NasRun) -> dict[str, Any]:
    """The best candidate as a study ``imcsim run`` takes."""
    best = nas.result.best
    assert best is not None and best.arr is not None
    return {"name": f"nas-{nas.space.card.name}-best", "device": best.device,
            "workload": {"name": "skipnet", "options": nas.space.workload_options(best.net)},
            "method": nas.space.card.method,
            "macro": {"rows": best.arr.rows, "cols": best.arr.cols, "rows_parallel": best.arr.rows_parallel},
            "engine": "analytic"}


def records(points: list[srch.Point]) -> list[dict[str, Any]]:
    """Flat rows (unit-suffixed keys) of searched points, for tables and CSV."""
    out = []
    for p in points:
        rec = p.record or {}
        out.append({"network": p.net.label(), "device": p.device,
                    "rows": p.arr.rows if p.arr else None, "cols": p.arr.cols if p.arr else None,
                    "rows_parallel": p.arr.rows_parallel if p.arr else None,
                    "nn_degree": round(p.nn_degree, 3), "accuracy_pred": round(p.accuracy, 4),
                    "energy_pj": rec.get("energy_pj"), "latency_ns": rec.get("latency_ns"),
                    "area_mm2": rec.get("area_mm2"), "write_energy_pj": rec.get("write_energy_pj"),
                    "weights_written": rec.get("weights_written"), "objective": p.objective})
    return out
