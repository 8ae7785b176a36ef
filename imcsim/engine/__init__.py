"""The engines: price a mapped training step (costs.py) and time it analytically or with SimPy.

Public API: :func:`evaluate` (Study -> Result), :func:`evaluate_point` (flat params -> summary) and, for many
points at once (what sweeps run), :func:`evaluate_many` and :func:`evaluate_points`.
"""

from imcsim.engine.evaluation import evaluate, evaluate_many, evaluate_point, evaluate_points

__all__ = ["evaluate", "evaluate_many", "evaluate_point", "evaluate_points"]
