"""At which ROI fraction of the frame does the two-stage scheme stop paying?

One ROI with the frame's aspect ratio, sides sqrt(f) x the frame's (rounded to pixels), replaces the
study's ROIs; the two-stage scheme's cost grows with f (more samples read, converted and sent, a larger
task-network input) while the baseline's does not. The break-even fraction is where the two meet, found
by bisection on f for three metrics: data sent (``bits``), front-end energy (sensor + ADC + link) and
the whole pipeline's energy. A metric for which the scheme pays even with the ROI covering the frame has
no break-even (``None``); one for which it never pays has 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from imcsim.frontend.pipeline import FrontendResult, Scheme, hirise_scheme
from imcsim.frontend.spec import BreakevenSpec

METRICS: tuple[str, ...] = ("bits", "frontend_energy_pj", "energy_pj")


@dataclass
class Breakeven:
    """The sweep over ROI fractions and the break-even fraction per metric (against ``baseline``)."""

    baseline: str
    points: list[dict[str, Any]]
    fraction: dict[str, float | None] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        return [{"metric": m, "baseline": self.baseline, "breakeven_fraction": f} for m, f in self.fraction.items()]


def roi_for_fraction(result: FrontendResult, fraction: float) -> tuple[int, int]:
    """(height, width) of the ROI with the frame's aspect ratio covering ``fraction`` of its area."""
    s = result.sensor
    k = math.sqrt(fraction)
    return (min(s.height_px, max(1, round(k * s.height_px))), min(s.width_px, max(1, round(k * s.width_px))))


def _scheme_at(result: FrontendResult, fraction: float) -> Scheme:
    h, w = roi_for_fraction(result, fraction)
    return hirise_scheme(result.study, result.sensor, rois=[(h, w, 1)])


def breakeven(result: FrontendResult, spec: BreakevenSpec | None = None) -> Breakeven:
    """Tabulate ``spec.fractions`` and bisect each metric's break-even fraction."""
    spec = spec or result.study.breakeven or BreakevenSpec()
    if spec.baseline not in result.schemes:
        from imcsim.errors import SpecError

        raise SpecError(result.study.file, "breakeven.baseline", spec.baseline, ", ".join(result.schemes),
                        problem="this study has no such baseline:")
    base = result.schemes[spec.baseline].record()
    frame_px = result.sensor.height_px * result.sensor.width_px
    points = []
    for f in spec.fractions:
        rec = _scheme_at(result, f).record()
        h, w = roi_for_fraction(result, f)
        row: dict[str, Any] = {"fraction": f, "roi_height": h, "roi_width": w, "roi_fraction": h * w / frame_px}
        for m in METRICS:
            row[f"hirise_{m}"] = rec[m]
            row[f"baseline_{m}"] = base[m]
        points.append(row)
    out = Breakeven(baseline=spec.baseline, points=points)
    for m in METRICS:
        out.fraction[m] = _bisect(lambda f, m=m: _scheme_at(result, f).record()[m] - base[m], spec.tolerance)
    return out


def _bisect(excess, tolerance: float) -> float | None:
    """Smallest f in (0, 1] with excess(f) >= 0, to ``tolerance``; None if excess(1) < 0, 0 if excess(tol) >= 0."""
    if excess(1.0) < 0:
        return None
    lo, hi = tolerance, 1.0
    if excess(lo) >= 0:
        return 0.0
    while hi - lo > tolerance:
        mid = (lo + hi) / 2
        if excess(mid) >= 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2
