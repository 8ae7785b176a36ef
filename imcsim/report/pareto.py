"""The non-dominated (Pareto) set of design points, all objectives minimised.

Kept apart from plotting so it can be tested by hand: point ``a`` dominates ``b`` when ``a`` is no
worse in every objective and strictly better in at least one. Points with a missing (NaN) objective
are never on the front; identical points do not dominate each other, so both stay.
"""

from __future__ import annotations

import numpy as np


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (shape ``(n_points, n_objectives)``).

    O(n^2 k) with numpy; a sweep of 10,000 points takes well under a second, which is all a
    report needs.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-D (points x objectives), got shape {v.shape}")
    valid = ~np.isnan(v).any(axis=1)
    mask = valid.copy()
    candidates = v[valid]
    for i in np.flatnonzero(valid):
        p = v[i]
        no_worse = (candidates <= p).all(axis=1)
        better = (candidates < p).any(axis=1)
        if (no_worse & better).any():
            mask[i] = False
    return mask
