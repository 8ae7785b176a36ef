"""The engines: price a mapped training step (costs.py) and time it analytically or with SimPy.

Public API: :func:`evaluate` (Study -> Result) and :func:`evaluate_point` (flat params -> summary),
imported lazily so that ``import imcsim.engine.schedule`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate", "evaluate_point"]


def evaluate(*args: Any, **kwargs: Any):
    from imcsim.engine.evaluate import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def evaluate_point(params: dict[str, Any]) -> dict[str, Any]:
    from imcsim.engine.evaluate import evaluate_point as _evaluate_point

    return _evaluate_point(params)
