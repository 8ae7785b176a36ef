"""Calibration of the SAS-MRAM read energy to the FP-SMR macro: the fit reproduces the card's value
and residual, recovers a known parameter, and reports an infeasible convention as infeasible."""

import math

import pytest

from imcsim.device import load_device
from imcsim.validate import load_cases
from imcsim.validate.calibration import STORED_DECIMALS, fit, recorded, stored_residual_pct

CASES = {c.name: c for c in load_cases()}
CAL = CASES["fp-smr-tops-per-w"]
PARAM = "read_energy_per_bit_fj"


def test_calibration_case_is_fitted_and_names_its_card():
    assert CAL.role == "fitted" and CAL.calibrates.param == PARAM
    assert CAL.calibrates.device == "sas-mram-calibrated" and CAL.macro.device == "sas-mram-calibrated"


def test_fit_reproduces_the_recorded_calibration():
    rec = recorded("sas-mram-calibrated", PARAM)
    assert {"fitted_to", "method", "residual_pct", "date", "uncalibrated_value"} <= set(rec)
    f = fit(CAL, PARAM)
    assert f.feasible and abs(f.residual_pct) < 1e-9          # exact solve, re-measured by the model
    assert f.fitted_value == pytest.approx(rec["fitted_value"], abs=5e-4)
    stored = load_device("sas-mram-calibrated").read_energy_per_bit_fj
    assert stored == round(f.fitted_value, STORED_DECIMALS)   # the card holds the rounded fit
    assert stored_residual_pct(CAL, PARAM, stored) == pytest.approx(rec["residual_pct"], abs=5e-4)


def test_uncalibrated_value_stays_reachable():
    rec = recorded("sas-mram-calibrated", PARAM)
    assert load_device("sas-mram").read_energy_per_bit_fj == rec["uncalibrated_value"]
    assert load_device("sas-mram-calibrated").card.chain[-1].endswith("sas-mram.yaml")


def test_fit_recovers_a_known_parameter():
    """Make the anchor the model's own value at 7 fJ: the fit must return 7 fJ."""
    from imcsim.validate.simulate import simulate

    synthetic = CAL.model_copy(update={"published": CAL.published.model_copy(
        update={"value": simulate(CAL, {PARAM: 7.0})[0]})})
    assert fit(synthetic, PARAM).fitted_value == pytest.approx(7.0, rel=1e-9)


def test_int8_convention_is_infeasible_and_says_why():
    f = fit(CASES["fp-smr-int8-equivalent"], PARAM)
    assert not f.feasible and f.fitted_value < 0 and math.isnan(f.residual_pct)
    # even with free reads, the INT8 macro's periphery is below the anchor's efficiency
    assert f.zero_param_metric < CASES["fp-smr-int8-equivalent"].published.value
