"""The engines: price a mapped training step (costs.py) and time it analytically or with SimPy.

Public API: :func:`evaluate` (Study -> Result) and :func:`evaluate_point` (flat params -> summary).
"""

from imcsim.engine.evaluation import evaluate, evaluate_point

__all__ = ["evaluate", "evaluate_point"]
