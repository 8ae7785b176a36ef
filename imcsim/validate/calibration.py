"""Calibration of an assumption-tagged card parameter against one silicon anchor.

Why: the per-bit MRAM read (sense) energy is the most important single knob of the macro energy
(docs/devices.md#bit-serial-sanity-checks) and it is an assumption (A); the FP-SMR macro [P4] is the only
SAS-MRAM silicon figure that constrains it. The fit is deliberately small:

- one parameter, one anchor: solve ``metric(param) = published`` for the case's macro, every other
  parameter at its card value. The macro energy is affine in the read energy, so TOPS/W is the
  reciprocal of an affine function and a secant iteration on ``1 / metric`` converges in one step;
  the residual is then re-measured by running the model at the fitted (and at the stored, rounded)
  value, never assumed to be zero.
- the fitted case is marked ``fitted`` in the suite and is not evidence of agreement; the held-out
  cases do not use the calibrated card.
- a fitted value below zero means the anchor cannot be reached by this parameter alone (the rest of
  the macro already costs more than the published total): reported as infeasible, not clipped.

The card that ships the calibrated value records the fit in its ``calibration:`` block (fitted_to,
method, residual, date); :func:`recorded` reads it back so a test can check it is reproduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from imcsim.config.device_card import resolve_card_path
from imcsim.config.loader import load_yaml
from imcsim.errors import SpecError
from imcsim.validate.cases import Case
from imcsim.validate.simulate import simulate

#: digits the stored (card) value is rounded to: 0.01 fJ is far below the fit's real uncertainty
STORED_DECIMALS = 2


@dataclass(frozen=True)
class Fit:
    """Result of fitting ``param`` so that ``case`` reproduces its published figure."""

    case: str
    device: str
    param: str
    metric: str
    published: float
    fitted_value: float          # exact solution (may be < 0: infeasible)
    feasible: bool
    residual_pct: float          # model at the fitted value vs published (nan if infeasible)
    zero_param_metric: float     # the metric with the parameter at 0: what the rest of the macro allows

    def record(self) -> dict[str, Any]:
        return {"case": self.case, "device": self.device, "param": self.param, "metric": self.metric,
                "published": self.published, "fitted_value": self.fitted_value, "feasible": self.feasible,
                "residual_pct": self.residual_pct, "metric_at_param_0": self.zero_param_metric}


def _transform(metric: str) -> Any:
    """Quantity affine in an energy parameter: energies directly, efficiencies (per W) inverted."""
    if "per_w" in metric:
        return lambda v: 1.0 / v
    return lambda v: v


def fit(case: Case, param: str, device: str | None = None) -> Fit:
    """Solve ``metric(param) = published`` on ``case`` by secant iteration on the affine quantity."""
    if case.kind != "macro":
        raise SpecError(case.file, f"{case.name}.kind", case.kind, "macro", problem="cannot calibrate on a case of kind")
    g = _transform(case.metric)
    target = g(case.published.value)

    def h(x: float) -> float:
        return g(simulate(case, {param: x})[0]) - target

    x0, x1 = 0.0, 1.0
    h0, h1 = h(x0), h(x1)
    for _ in range(20):
        if h1 == h0:
            break
        x2 = x1 - h1 * (x1 - x0) / (h1 - h0)
        x0, h0 = x1, h1
        x1 = x2
        # a negative energy cannot be priced by the device model: stop, the fit is infeasible
        if x1 < 0:
            break
        h1 = h(x1)
        if abs(h1) <= 1e-12 * abs(target):
            break
    zero_metric = simulate(case, {param: 0.0})[0]
    feasible = x1 >= 0
    residual = (100.0 * (simulate(case, {param: x1})[0] - case.published.value) / case.published.value
                if feasible else math.nan)
    return Fit(case.name, device or case.macro.device, param, case.metric, case.published.value, x1, feasible,
               residual, zero_metric)


def stored_residual_pct(case: Case, param: str, value: float) -> float:
    """Residual of the case with ``param`` at ``value`` (the rounded value a card stores)."""
    return 100.0 * (simulate(case, {param: value})[0] - case.published.value) / case.published.value


def recorded(device: str, param: str) -> dict[str, Any]:
    """The ``calibration:`` record of ``param`` in the card file ``device`` (a SpecError if absent)."""
    path = resolve_card_path(device)
    raw = load_yaml(path)
    rec = (raw.get("calibration") or {}).get(param)
    if not isinstance(rec, dict):
        raise SpecError(str(path), f"calibration.{param}", problem="no calibration record for",
                        value=param, allowed="a mapping with fitted_to, method, residual_pct, date")
    return rec


def calibration_report(case: Case, cases_by_name: dict[str, Case]) -> list[dict[str, Any]]:
    """Re-run the fit of a ``fitted`` case and its alternative conventions; compare with the card.

    Rows: the fit on the case itself (with the card's stored value, its residual and the recorded
    residual), then one row per alternative convention (same fit, another comparison).
    """
    from imcsim.device import load_device

    cal = case.calibrates
    if cal is None:
        raise SpecError(case.file, f"{case.name}.calibrates", problem="case calibrates nothing")
    f = fit(case, cal.param, cal.device)
    stored = float(getattr(load_device(cal.device), cal.param))
    uncal = float(getattr(load_device(cal.uncalibrated_device), cal.param))
    rec = recorded(cal.device, cal.param)
    rows = [{**f.record(), "convention": "this case (the calibration)",
             "stored_value": stored, "stored_residual_pct": stored_residual_pct(case, cal.param, stored),
             "recorded_residual_pct": rec.get("residual_pct"), "uncalibrated_value": uncal,
             "uncalibrated_residual_pct": stored_residual_pct(case, cal.param, uncal)}]
    for name in cal.alternatives:
        alt = cases_by_name.get(name)
        if alt is None:
            raise SpecError(case.file, f"{case.name}.calibrates.alternatives", name,
                            ", ".join(sorted(cases_by_name)), problem="unknown case")
        fa = fit(alt, cal.param, cal.device)
        rows.append({**fa.record(), "convention": alt.title})
    return rows
