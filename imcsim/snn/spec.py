"""Validated settings of a spiking network run: timesteps, the neuron, the default spike rate, the exit.

Every default is a number with a source: [P] the authors' code of DT-SNN/SEENN ([SEENN-CODE]),
A an assumption of this project (``docs/snn.md`` lists them).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from imcsim.config.loader import StrictModel, validate

#: Default spike rate (fraction of neurons that fire per timestep) when no table or run is given (A).
DEFAULT_SPIKE_RATE = 0.15


class NeuronSpec(StrictModel):
    """The integrate-and-fire neuron every spiking layer uses (integer membrane on the digital unit)."""

    kind: Literal["if", "lif"] = Field("lif", description="'if': no leak; 'lif': leak by a power of two "
                                       "([P] SEENN/DT-SNN use LIF)")
    threshold: int = Field(1, ge=1, description="firing threshold in integer current units (the layer's "
                           "accumulator LSB); the neuron fires when the membrane is strictly above it [P]")
    leak_shift: int = Field(1, ge=1, le=16, description="LIF leak: u <- u >> leak_shift before integrating, "
                            "i.e. tau = 2^-leak_shift (1: tau 0.5 as [P]); read only for kind 'lif'")
    reset: Literal["hard", "soft"] = Field("hard", description="after a spike: 'hard' sets u to 0 [P], "
                                           "'soft' subtracts the threshold (ANN-to-SNN conversion)")
    membrane_bits: int = Field(16, ge=2, le=32, description="membrane precision in the tile buffer, "
                               "saturating (A)")
    initial_membrane: Literal["zero", "half-threshold"] = Field(
        "zero", description="membrane at t = 0: 'zero' [P], or half the threshold (the QCFS conversion "
        "convention, which removes the conversion's first-spike delay)")

    @property
    def ops_per_update(self) -> int:
        """Digital-unit operations per neuron and timestep: integrate, compare, reset (+ leak shift)."""
        return 4 if self.kind == "lif" else 3

    @property
    def membrane_bytes(self) -> float:
        return self.membrane_bits / 8


class ExitSpec(StrictModel):
    """When a sample stops: never (static T), on entropy (DT-SNN), on confidence (SEENN-I), or a given
    histogram of exit timesteps (SEENN-II's learned policy, which is not released)."""

    rule: Literal["none", "entropy", "confidence", "histogram"] = Field(
        "none", description="'entropy': exit when 1 - H(softmax(z_t))/log K > threshold [P DT-SNN code]; "
        "'confidence': exit when max softmax(z_t) > threshold [P SEENN-I code]; 'histogram': the fraction "
        "of samples exiting at each timestep is given")
    threshold: float | None = Field(None, ge=0.0, lt=1.0, description="the exit threshold, in [0, 1)")
    histogram: list[float] | None = Field(None, description="fraction of samples exiting at t = 1..T "
                                          "(sums to 1)")
    accumulate: Literal["sum", "mean"] = Field("sum", description="z_t is the sum of the outputs up to t "
                                               "[P] or their mean")
    transcendental_ops: int = Field(4, ge=1, le=64, description="vector-op equivalents of one exp, log or "
                                    "divide in the exit unit (A: a short polynomial/table evaluation)")

    @model_validator(mode="after")
    def _consistent(self) -> ExitSpec:
        if self.rule in ("entropy", "confidence") and self.threshold is None:
            raise ValueError(f"rule {self.rule!r} needs a threshold in [0, 1)")
        if self.rule == "histogram":
            if not self.histogram:
                raise ValueError("rule 'histogram' needs a histogram (fractions exiting at t = 1..T)")
            if any((not math.isfinite(h)) or h < 0 for h in self.histogram):
                raise ValueError(f"histogram {self.histogram} has a negative or non-finite fraction")
            if abs(sum(self.histogram) - 1.0) > 1e-6:
                raise ValueError(f"histogram sums to {sum(self.histogram):.6g}, not 1")
        return self


class SNNSpec(StrictModel):
    """A spiking-network run: the network is given apart (a graph); these are the SNN settings."""

    timesteps: int = Field(4, ge=1, le=64, description="maximum timesteps T (4: DT-SNN's static baseline [A])")
    neuron: NeuronSpec = Field(default_factory=NeuronSpec, description="the neuron of every spiking layer")
    spike_rate: float = Field(DEFAULT_SPIKE_RATE, ge=0.0, le=1.0, description="fraction of neurons firing "
                              "per timestep where no rate table or functional run is given (A)")
    exit: ExitSpec = Field(default_factory=ExitSpec, description="the dynamic-timestep exit")

    @model_validator(mode="after")
    def _histogram_length(self) -> SNNSpec:
        h = self.exit.histogram
        if self.exit.rule == "histogram" and h is not None and len(h) != self.timesteps:
            raise ValueError(f"exit.histogram has {len(h)} entries; it needs one per timestep "
                             f"({self.timesteps})")
        return self


def load_snn_spec(data: dict, file: str = "<flags>") -> SNNSpec:
    """Validate a plain mapping (flags or a YAML section); bad input is one SpecError line."""
    return validate(SNNSpec, data, file)
