"""Accuracy predictor fitted on a few trained samples, as FLASH does [FLASH].

FLASH fits its predictor on 25 trained architectures with NN-Degree as the input; its functional form
could not be read, so the form is a **choice**, named in every result. Forms (a registry, one entry
per form): accuracy as a polynomial in ``ln(NN-Degree)``, fitted by least squares (scikit-learn).
Fit quality is reported by leave-one-out cross-validation (R^2 of the held-out predictions and
their Spearman rank correlation with the measured accuracies), and on the training fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imcsim.errors import SpecError
from imcsim.nas.samples import Sample

#: form name -> (polynomial degree in ln(NN-Degree), description)
FORMS: dict[str, tuple[int, str]] = {
    "log-linear": (1, "accuracy = a + b ln(g)"),
    "log-quadratic": (2, "accuracy = a + b ln(g) + c ln(g)^2"),
}


@dataclass
class Predictor:
    """A fitted predictor: coefficients (constant first) and its cross-validated quality."""

    form: str
    coef: np.ndarray
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return FORMS[self.form][1] + " (g = NN-Degree; form is a choice, FLASH's is not readable)"

    def predict(self, degree: np.ndarray) -> np.ndarray:
        """Predicted accuracy (fraction, clipped to [0, 1]) for NN-Degree values (any array shape)."""
        x = np.log(np.asarray(degree, dtype=np.float64))
        y = np.zeros_like(x)
        for c in self.coef[::-1]:      # Horner
            y = y * x + c
        return np.clip(y, 0.0, 1.0)


def _design(degree: np.ndarray, order: int) -> np.ndarray:
    x = np.log(np.asarray(degree, dtype=np.float64))
    return np.stack([x ** k for k in range(1, order + 1)], axis=1)


def fit(samples: list[Sample], form: str = "log-quadratic", file: str | None = None) -> Predictor:
    """Least-squares fit of ``form`` on the samples; quality by leave-one-out cross-validation."""
    from scipy.stats import spearmanr
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    if form not in FORMS:
        raise SpecError(file, "predictor", form, problem="unknown predictor form", allowed=", ".join(FORMS))
    order = FORMS[form][0]
    g = np.array([s.nn_degree for s in samples])
    acc = np.array([s.accuracy for s in samples])
    if len(samples) < order + 2:
        raise SpecError(file, "samples", len(samples), problem=f"too few samples for form {form}:",
                        allowed=f">= {order + 2}")
    x = _design(g, order)
    model = LinearRegression().fit(x, acc)
    cv = cross_val_predict(LinearRegression(), x, acc, cv=LeaveOneOut())
    rho = spearmanr(cv, acc).statistic if np.ptp(acc) > 0 else float("nan")
    quality = {"n_samples": float(len(samples)), "r2_train": float(r2_score(acc, model.predict(x))),
               "r2_cv": float(r2_score(acc, cv)), "spearman_cv": float(rho),
               "mae_cv": float(np.mean(np.abs(cv - acc)))}
    return Predictor(form, np.concatenate([[model.intercept_], model.coef_]), quality)
