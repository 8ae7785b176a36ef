"""Spiking neural networks on the bit-serial IMC macro, with input-aware dynamic timesteps.

Modules (one responsibility each; see ``docs/snn.md``):

- :mod:`~imcsim.snn.spec`: the validated SNN settings (timesteps, neuron, default spike rate, exit rule).
- :mod:`~imcsim.snn.network`: the SNN form of a CNN graph (which layers take spikes, counts or the image;
  where the neurons are; what the digital unit does per timestep).
- :mod:`~imcsim.snn.neuron`: the integer IF/LIF neuron (one definition, used by the functional run).
- :mod:`~imcsim.snn.cost`: prices one timestep of every layer on the macro (1-bit input planes), the
  neurons on the digital unit, membranes in the tile buffer, and the exit unit.
- :mod:`~imcsim.snn.exits`: the exit rules (DT-SNN entropy, SEENN-I confidence, a given histogram) and
  the per-sample timestep distribution.
- :mod:`~imcsim.snn.functional`: runs an SNN on the bit-serial kernels (spike rates, accumulated outputs),
  bit-exact against the integer reference.
- :mod:`~imcsim.snn.digits`: the measured scenario: an ANN trained on scikit-learn's digits, converted
  to an SNN and run on the kernels.
- :mod:`~imcsim.snn.results`: static-T SNN vs dynamic timesteps vs the INT8 CNN on the same macro.
"""
