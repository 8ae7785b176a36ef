"""How an SNN's outputs travel over the NoC: per transfer, the cheaper of a bitmap and address events.

Why: a spike is an event; sending every neuron's bit every timestep makes the NoC's energy and link time
follow the timesteps only. A router's encoder that sends the addresses of the neurons that fired (the
address-event representation, [BOAHEN-AER]) makes them follow the spike count; when most neurons fire, the
bitmap is shorter, so the encoder picks, per transfer, the shorter of the two (D: the choice is arithmetic).

**Packet format** of one transfer (one crossing of one sample's output in one timestep), for a producer of
``n`` elements ``w`` bits wide of which ``e`` are non-zero:

- format flag: 1 bit, which of the two follows (A);
- bitmap: ``n x w`` bits, every element in order (the dense map the NoC carried before);
- address events: ``e x (a + v)`` bits: each non-zero element's index in the producer's output,
  ``a = ceil(log2 n)`` bits (D, from the layer size: the address names one neuron of that layer), then its
  value, ``v = w`` bits for a spike count and none for a spike (``w = 1``: the event is the spike) (D).

So a transfer is ``1 + min(n x w, e x (a + v))`` bits; no spike at all costs the flag alone. Currents (the
membrane-wide outputs of weight layers, norms and residual adds) have no encoder: ``n x w`` bits, no flag
(A: a current is rarely zero). Routing header and flit framing are not counted, as for the CNN's
activations (A).

**Events counted.** From a functional run (:mod:`imcsim.snn.functional`): every sample's non-zero count of
every spike or count producer at every timestep (measured); the encoder chooses per sample, and a timestep
costs the mean over the batch. From spike rates (a table or the default, A): ``e = n x p`` with ``p`` the
rate of the neuron layer, and for a pool of spikes over ``k`` positions ``p = 1 - (1 - r)^k`` (independent
spikes, A); the choice is made at that mean count (A: it can only over-state the mean of per-sample
choices, since min is concave).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from imcsim.workload.graph import Graph

#: Bits of the format flag that says which of the two formats a transfer uses (A).
FLAG_BITS = 1


def address_bits(n: int) -> int:
    """Bits that name one of ``n`` elements (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def transfer_bits(n: int, width: int, events: float) -> float:
    """Bits of one spike or count transfer: the flag and the shorter of the bitmap and the address events."""
    value = width if width > 1 else 0
    return FLAG_BITS + min(n * width, events * (address_bits(n) + value))


def mean_transfer_bits(n: int, width: int, events: Iterable[float]) -> float:
    """The mean over samples of :func:`transfer_bits`, each sample's transfer encoded on its own count."""
    ev = list(events)
    return sum(transfer_bits(n, width, e) for e in ev) / len(ev) if ev else float(transfer_bits(n, width, 0))


def nonzero_probability(graph: Graph, node: str, rate: float) -> float:
    """Probability that an element of a spike/count producer is non-zero when its neuron layer fires at
    ``rate`` (module docstring: pools of k positions ``1 - (1 - r)^k``, independent spikes, A)."""
    nd = graph[node]
    if nd.op == "act":
        return rate
    if nd.op in ("flatten", "dropout"):
        return nonzero_probability(graph, nd.inputs[0], rate)
    if nd.op == "pool":
        kh, kw = nd.attrs["kernel"]
        return 1 - (1 - nonzero_probability(graph, nd.inputs[0], rate)) ** (kh * kw)
    if nd.op == "global_pool":
        _, h, w = graph.shape_of(nd.inputs[0])
        return 1 - (1 - nonzero_probability(graph, nd.inputs[0], rate)) ** (h * w)
    raise ValueError(f"{node} ({nd.op}) sends no spikes or counts")


def source_neuron(graph: Graph, node: str) -> str:
    """The neuron layer whose spikes a spike/count producer carries (through pools, flatten, dropout)."""
    while graph[node].op != "act":
        node = graph[node].inputs[0]
    return node
