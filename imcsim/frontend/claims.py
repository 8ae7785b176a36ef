"""HiRISE's published figures recomputed from a front-end study (the ``frontend`` validation cases).

HiRISE [HIRISE] reports "up to 17.7x" less data transfer and energy. What the paper fixes and what this
project chose is in docs/frontend.md; the study ``workloads/studies/hirise-paper.yaml`` is the chosen
configuration. Each claim returns ``(value, details)`` like :mod:`imcsim.validate.simulate`'s; the
details are the numbers a reader needs to redo the ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from imcsim.frontend.pipeline import FrontendResult, run_frontend
from imcsim.frontend.spec import load_sensor_study
from imcsim.paths import workloads_dir

Details = dict[str, Any]


@lru_cache(maxsize=8)
def _result(study: str) -> FrontendResult:
    path = Path(study)
    if not path.is_absolute() and not path.exists():
        path = workloads_dir() / "studies" / path.name
    return run_frontend(load_sensor_study(path))


def _ratio(args: dict[str, Any], metric: str) -> tuple[float, Details]:
    res = _result(args["study"])
    baseline = args.get("baseline", "full-frame")
    h, b = res.schemes["hirise"].record(), res.schemes[baseline].record()
    details: Details = {f"hirise_{metric}": h[metric], f"{baseline}_{metric}": b[metric]}
    for name, scheme in res.schemes.items():
        if name == "hirise":
            details.update({f"hirise_stage{i + 1}_{metric}": s.record()[metric] for i, s in enumerate(scheme.stages)})
    return b[metric] / h[metric], details


def data_reduction(args: dict[str, Any]) -> tuple[float, Details]:
    """Bits sent by the baseline / bits sent by the two-stage scheme (one frame)."""
    return _ratio(args, "bits")


def frontend_energy_reduction(args: dict[str, Any]) -> tuple[float, Details]:
    """Sensor + ADC + link energy of the baseline / of the two-stage scheme (one frame)."""
    return _ratio(args, "frontend_energy_pj")


def pipeline_energy_reduction(args: dict[str, Any]) -> tuple[float, Details]:
    """Whole-pipeline energy (front end + accelerator) of the baseline / of the two-stage scheme."""
    return _ratio(args, "energy_pj")


CLAIMS: dict[str, Callable[[dict[str, Any]], tuple[float, Details]]] = {
    "data_reduction": data_reduction,
    "frontend_energy_reduction": frontend_energy_reduction,
    "pipeline_energy_reduction": pipeline_energy_reduction,
}
