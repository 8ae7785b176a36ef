"""The integer IF/LIF neuron: the one definition the functional run uses (membrane in the tile buffer).

Per timestep, for every neuron (u the membrane, I the input current in accumulator units, theta the
layer's threshold, b the membrane bits):

    u <- (u >> leak_shift) + I      (LIF; tau = 2^-leak_shift, arithmetic shift = floor)  or  u + I (IF)
    u <- clip(u, -2^(b-1), 2^(b-1) - 1)                          (saturating membrane, A)
    s <- u > theta                                               (strictly greater, as [SEENN-CODE])
    u <- 0 where s (hard reset)   or   u - theta where s (soft reset)

The membrane starts at 0 ([P]) or at theta // 2 (``initial_membrane: half-threshold``, the QCFS conversion
convention). This is the discrete-time LIF of the DT-SNN/SEENN code with tau = 0.5 and V_th = 1 scaled to integers.
"""

from __future__ import annotations

import numpy as np

from imcsim.snn.spec import NeuronSpec


def membrane_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def neuron_step(u: np.ndarray, current: np.ndarray, neuron: NeuronSpec, threshold: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """One timestep: returns the new membrane (int64) and the spikes (uint8 0/1)."""
    u = np.asarray(u, dtype=np.int64)
    if neuron.kind == "lif":
        u = u >> neuron.leak_shift
    lo, hi = membrane_range(neuron.membrane_bits)
    u = np.clip(u + np.asarray(current, dtype=np.int64), lo, hi)
    spikes = u > threshold
    if neuron.reset == "hard":
        u = np.where(spikes, 0, u)
    else:
        u = u - threshold * spikes
    return u, spikes.astype(np.uint8)
