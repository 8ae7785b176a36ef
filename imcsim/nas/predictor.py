"""Accuracy predictor fitted on a few trained samples, as FLASH does [FLASH].

What FLASH fixes (abstract): the predictor takes the training-free NN-Degree of a network as its input
and is fitted on about 25 trained samples of a huge space. Its functional form could not be read, so
the form is a **choice**, named in every result. Forms (a registry, one entry per form), each a linear
least-squares model (scikit-learn) on features of NN-Degree only:

- ``log-linear``: ``a + b ln g`` (g = NN-Degree of the network, the sum over cells);
- ``log-quadratic``: ``a + b ln g + c (ln g)^2``;
- ``cell-log-linear``: ``a + sum_c b_c ln g_c``, one term per cell's NN-Degree ``g_c`` (the summands of
  ``g``): the sum alone cannot tell a narrow last cell from a narrow first one, which the digits
  samples separate clearly.

Fit quality is reported by leave-one-out cross-validation on the fit samples (R^2 of the held-out
predictions, Spearman and Kendall rank correlations with the measured accuracies, mean absolute error),
on the training fit, and -- when the card names one -- on a separate held-out table that neither the fit
nor the choice of form has seen. With ~25 noisy samples these numbers are small-sample estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from imcsim.errors import SpecError
from imcsim.nas.samples import Sample


def _log_poly(order: int) -> Callable[[np.ndarray], np.ndarray]:
    def features(cell_degrees: np.ndarray) -> np.ndarray:
        x = np.log(cell_degrees.sum(axis=-1))
        return np.stack([x ** k for k in range(1, order + 1)], axis=-1)
    return features


def _cell_log(cell_degrees: np.ndarray) -> np.ndarray:
    return np.log(cell_degrees)


@dataclass(frozen=True)
class Form:
    features: Callable[[np.ndarray], np.ndarray]    # per-cell NN-Degrees [n, cells] -> design [n, k]
    description: str
    per_cell: bool      # True: the samples must have the space's number of cells


FORMS: dict[str, Form] = {
    "log-linear": Form(_log_poly(1), "accuracy = a + b ln(g)", False),
    "log-quadratic": Form(_log_poly(2), "accuracy = a + b ln(g) + c ln(g)^2", False),
    "cell-log-linear": Form(_cell_log, "accuracy = a + sum over cells of b_c ln(g_c)", True),
}


@dataclass
class Predictor:
    """A fitted predictor: coefficients (constant first) and its measured quality."""

    form: str
    coef: np.ndarray
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return FORMS[self.form].description + " (g = NN-Degree, g_c that of cell c; the form is a choice, FLASH's is not readable)"

    def predict(self, cell_degrees: np.ndarray) -> np.ndarray:
        """Predicted accuracy (fraction, clipped to [0, 1]) from per-cell NN-Degrees ``[..., cells]``."""
        x = FORMS[self.form].features(np.asarray(cell_degrees, dtype=np.float64))
        return np.clip(self.coef[0] + x @ self.coef[1:], 0.0, 1.0)


def _check_form(form: str, file: str | None) -> None:
    if form not in FORMS:
        raise SpecError(file, "predictor", form, problem="unknown predictor form", allowed=", ".join(FORMS))


def _rank(pred: np.ndarray, acc: np.ndarray) -> tuple[float, float]:
    """Spearman and Kendall rank correlations (nan when either side is constant)."""
    from scipy.stats import kendalltau, spearmanr

    if np.ptp(acc) == 0 or np.ptp(pred) == 0:
        return float("nan"), float("nan")
    return float(spearmanr(pred, acc).statistic), float(kendalltau(pred, acc).statistic)


def fit(samples: list[Sample], form: str = "log-linear", file: str | None = None,
        holdout: list[Sample] | None = None, cells: int | None = None) -> Predictor:
    """Least-squares fit of ``form`` on the samples; quality by leave-one-out cross-validation, and on
    ``holdout`` (never fitted on) when given. ``cells``: the space's cell count, which a per-cell form's
    samples must have."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    _check_form(form, file)
    counts = {len(s.cell_degrees) for s in samples + (holdout or [])}
    if len(counts) > 1 or (FORMS[form].per_cell and cells is not None and counts != {cells}):
        raise SpecError(file, "samples", sorted(counts), problem=f"samples with these cell counts cannot fit the "
                        f"per-cell form {form} of a {cells}-cell space:" if cells else "samples with different "
                        "numbers of cells:", allowed=f"samples of {cells}-cell networks" if cells else "one cell count")
    features = FORMS[form].features
    x = features(np.array([s.cell_degrees for s in samples]))
    acc = np.array([s.accuracy for s in samples])
    if len(samples) < x.shape[1] + 2:
        raise SpecError(file, "samples", len(samples), problem=f"too few samples for form {form}:",
                        allowed=f">= {x.shape[1] + 2}")
    model = LinearRegression().fit(x, acc)
    cv = cross_val_predict(LinearRegression(), x, acc, cv=LeaveOneOut())
    rho, tau = _rank(cv, acc)
    quality = {"n_samples": float(len(samples)), "r2_train": float(r2_score(acc, model.predict(x))),
               "r2_cv": float(r2_score(acc, cv)), "spearman_cv": rho, "kendall_cv": tau,
               "mae_cv": float(np.mean(np.abs(cv - acc)))}
    pred = Predictor(form, np.concatenate([[model.intercept_], model.coef_]), quality)
    if holdout:
        h_acc = np.array([s.accuracy for s in holdout])
        h_pred = pred.predict(np.array([s.cell_degrees for s in holdout]))
        h_rho, h_tau = _rank(h_pred, h_acc)
        quality.update(n_holdout=float(len(holdout)), r2_holdout=float(r2_score(h_acc, h_pred)) if len(holdout) > 1
                       else float("nan"), spearman_holdout=h_rho, kendall_holdout=h_tau,
                       mae_holdout=float(np.mean(np.abs(h_pred - h_acc))))
    return pred
