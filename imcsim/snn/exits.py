"""The dynamic-timestep exit: when does a sample stop, and what does the distribution of stops cost?

Rules, as the authors' code implements them ([SEENN-CODE] ``test_snn.py``):

- accumulated output z_t = sum of the outputs o_1..o_t (``accumulate: sum``, [P]) or their mean;
- DT-SNN ([DTSNN]): score s_t = 1 - H(softmax(z_t)) / log K, H the natural-log entropy; exit at the first
  t with s_t > threshold (equivalently normalised entropy < 1 - threshold), else at T;
- SEENN-I ([SEENN]): score s_t = max_k softmax(z_t)_k; exit at the first t with s_t > threshold, else T;
- the prediction is argmax z_t at the exit;
- SEENN-II's learned policy is not released: its effect enters as a given histogram of exit timesteps.

The average timesteps of a distribution p_t (fraction of samples exiting at t) is sum t p_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcsim.errors import SpecError


def accumulated(outputs: np.ndarray, accumulate: str = "sum") -> np.ndarray:
    """z_t for every sample and timestep: outputs (N, T, K) -> (N, T, K) cumulative sum (or mean)."""
    z = np.cumsum(np.asarray(outputs, dtype=np.float64), axis=1)
    if accumulate == "mean":
        z = z / np.arange(1, z.shape[1] + 1)[None, :, None]
    return z


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def scores(outputs: np.ndarray, rule: str, accumulate: str = "sum") -> np.ndarray:
    """Exit scores (N, T): 1 - normalised entropy ('entropy') or max softmax probability ('confidence')."""
    z = accumulated(outputs, accumulate)
    p = _softmax(z)
    if rule == "entropy":
        k = p.shape[-1]
        if k < 2:
            raise SpecError(None, "classes", k, "at least 2 (entropy is normalised by log K)")
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(p > 0, p * np.log(p), 0.0)
        return 1.0 + plogp.sum(axis=-1) / np.log(k)
    if rule == "confidence":
        return p.max(axis=-1)
    raise SpecError(None, "exit.rule", rule, "entropy, confidence")


@dataclass(frozen=True)
class Exits:
    """Per-sample exit timesteps (1-based) and predictions of one rule and threshold."""

    timesteps: np.ndarray     # (N,) int, 1..T
    predictions: np.ndarray   # (N,) int, argmax z at the exit
    max_timesteps: int

    @property
    def average(self) -> float:
        return float(self.timesteps.mean()) if self.timesteps.size else 0.0

    def histogram(self) -> list[float]:
        """Fraction of samples exiting at t = 1..T."""
        counts = np.bincount(self.timesteps, minlength=self.max_timesteps + 1)[1:]
        return (counts / max(1, self.timesteps.size)).tolist()

    def accuracy(self, labels: np.ndarray) -> float:
        return float((self.predictions == np.asarray(labels)).mean())


def exits(outputs: np.ndarray, rule: str, threshold: float, accumulate: str = "sum") -> Exits:
    """Apply an exit rule to per-timestep outputs (N, T, K): first t with score > threshold, else T."""
    if not 0.0 <= threshold < 1.0:
        raise SpecError(None, "exit.threshold", threshold, "a number in [0, 1)")
    out = np.asarray(outputs)
    n, t_max, _ = out.shape
    s = scores(out, rule, accumulate)
    passed = s > threshold
    passed[:, -1] = True
    t_exit = passed.argmax(axis=1) + 1
    z = accumulated(out, accumulate)
    preds = z[np.arange(n), t_exit - 1].argmax(axis=-1)
    return Exits(t_exit.astype(np.int64), preds, t_max)


def static(outputs: np.ndarray) -> Exits:
    """Every sample runs all T timesteps (the static SNN)."""
    out = np.asarray(outputs)
    n, t_max, _ = out.shape
    return Exits(np.full(n, t_max, dtype=np.int64), accumulated(out)[:, -1].argmax(axis=-1), t_max)


def check_histogram(histogram: list[float], timesteps: int, where: str = "<flags>",
                    field: str = "histogram") -> list[float]:
    """A given exit distribution: one non-negative fraction per timestep, summing to 1."""
    h = [float(v) for v in histogram]
    if len(h) != timesteps:
        raise SpecError(where, field, histogram, f"{timesteps} fractions (one per timestep)")
    if any(not np.isfinite(v) or v < 0 for v in h) or abs(sum(h) - 1.0) > 1e-6:
        raise SpecError(where, field, histogram, "non-negative fractions that sum to 1",
                        problem=f"does not sum to 1 (sum {sum(h):.6g}):" if all(v >= 0 for v in h) else None)
    return h


def average_timesteps(histogram: list[float]) -> float:
    return float(sum((t + 1) * p for t, p in enumerate(histogram)))


def two_point_histogram(average: float, timesteps: int) -> list[float]:
    """The distribution over two neighbouring timesteps with a given mean (the least-spread one)."""
    if not 1.0 <= average <= timesteps:
        raise SpecError("<flags>", "average timesteps", average, f"a number in [1, {timesteps}]")
    lo = int(np.floor(average))
    h = [0.0] * timesteps
    if lo >= timesteps:
        h[-1] = 1.0
        return h
    frac = average - lo
    h[lo - 1] = 1.0 - frac
    h[lo] += frac
    return h
