"""Run an SNN on the bit-serial kernels, timestep by timestep: real spikes, per-layer spike rates and
activity, and the per-timestep readout for the exit rules.

Each timestep walks the graph in order (the rules of :mod:`imcsim.snn.network`):

- conv/linear: spikes (1 bit, unsigned) or spike counts (``in_bits`` planes, unsigned) through
  :func:`imcsim.circuit.bitserial.conv2d` / ``linear`` (or the numpy integer reference, ``kernel=
  "reference"``); the direct-encoded first layer runs once on the image and its current is reused;
  biases are not applied (A: integer weights only);
- norm, dropout: identity (a norm is folded into the weights and thresholds); flatten: reshape;
- act: the integer neuron (:func:`imcsim.snn.neuron.neuron_step`) with the layer's threshold;
- max pool: OR of spikes; average pool / global average pool: the spike count of the window;
- add: currents add; a spike input adds one threshold of its neuron layer (A).

``kernel="bitserial"`` and ``kernel="reference"`` give the same spikes and outputs bit for bit
(``tests/test_snn_functional.py`` holds them to it under hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from imcsim.circuit import bitserial
from imcsim.circuit.activity import Activity
from imcsim.circuit.reference import conv2d_ref, linear_ref
from imcsim.errors import SpecError
from imcsim.snn.cost import ActivityTable
from imcsim.snn.network import SNNNetwork, sends_events
from imcsim.snn.neuron import neuron_step
from imcsim.snn.spec import NeuronSpec

KERNELS = ("bitserial", "reference")


@dataclass(frozen=True)
class SNNRun:
    """What a functional run measured (counts summed over the batch)."""

    outputs: np.ndarray                     # (N, T, K) int64: the readout's output o_t per timestep
    spikes: dict[str, np.ndarray]           # neuron layer -> (T,) spikes fired over the batch
    neurons: dict[str, int]                 # neuron layer -> neurons per sample
    activity: dict[str, list[Activity]]     # weight layer -> per timestep (one entry when run once)
    batch: int
    #: spike/count producer -> (T, N) non-zero elements of each sample's output per timestep (the events
    #: the NoC encoder sends, snn/encoding.py)
    nonzero: dict[str, np.ndarray] = field(default_factory=dict)

    def spike_rates(self) -> dict[str, list[float]]:
        return {k: (v / (self.neurons[k] * self.batch)).tolist() for k, v in self.spikes.items()}

    def activity_table(self) -> ActivityTable:
        dens = {name: [(a.mean_input_density, a.mean_and_density) for a in acts]
                for name, acts in self.activity.items()}
        events = {k: [tuple(int(x) for x in row) for row in v] for k, v in self.nonzero.items()}
        return ActivityTable(dens, self.spike_rates(), "functional run", events)


def _pool(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
          kind: str) -> np.ndarray:
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(xp, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return win.max(axis=(-2, -1)) if kind == "max" else win.sum(axis=(-2, -1), dtype=np.int64)


def _through(net: SNNNetwork, name: str) -> str:
    while name != "input" and net.graph[name].op in ("flatten", "dropout"):
        name = net.graph[name].inputs[0]
    return name


def run_snn(net: SNNNetwork, weights: dict[str, np.ndarray], image: np.ndarray, timesteps: int,
            neuron: NeuronSpec, thresholds: dict[str, int] | None = None, *, kernel: str = "bitserial",
            image_bits: int = 8, image_signed: bool = False, w_bits: int = 8) -> SNNRun:
    """Run ``timesteps`` steps of the SNN on a batch ``image`` (N, *input_shape) of integers.

    ``weights`` maps every weight layer to its integer weights (conv: (C_out, C_in/g, kh, kw); linear:
    (out, in)); ``thresholds`` maps neuron layers to integer thresholds (default ``neuron.threshold``).
    """
    if kernel not in KERNELS:
        raise SpecError("<flags>", "kernel", kernel, ", ".join(KERNELS))
    if timesteps < 1:
        raise SpecError("<flags>", "timesteps", timesteps, "an integer >= 1")
    missing = [x.name for x in net.layers if x.name not in weights]
    if missing:
        raise SpecError("<weights>", "layers", missing, "integer weights for every conv/linear layer")
    theta = {n: int((thresholds or {}).get(n, neuron.threshold)) for n in net.neurons}
    image = np.asarray(image)
    n_batch = image.shape[0]
    membranes: dict[str, np.ndarray] = {}
    spikes = {n: np.zeros(timesteps, dtype=np.int64) for n in net.neurons}
    activity: dict[str, list[Activity]] = {x.name: [] for x in net.layers}
    once: dict[str, np.ndarray] = {}
    outputs = np.zeros((n_batch, timesteps, net.classes), dtype=np.int64)
    layers = {x.name: x for x in net.layers}
    events = sends_events(net.graph)
    nonzero = {name: np.zeros((timesteps, n_batch), dtype=np.int64) for name in events}
    for t in range(timesteps):
        val: dict[str, np.ndarray] = {"input": image}
        for node in net.graph.nodes:
            if node.op == "input":
                continue
            x = val[node.inputs[0]] if node.inputs else None
            if node.op in ("conv", "linear"):
                layer = layers[node.name]
                if layer.once and node.name in once:
                    val[node.name] = once[node.name]
                    continue
                bits = image_bits if layer.once else layer.in_bits
                signed = image_signed if layer.once else False
                y, act = _weight_op(node, x, weights[node.name], bits, signed, w_bits, kernel)
                if act is not None:
                    activity[node.name].append(act)
                if layer.once:
                    once[node.name] = y
                val[node.name] = y
            elif node.op in ("norm", "dropout"):
                val[node.name] = x
            elif node.op == "flatten":
                val[node.name] = x.reshape(n_batch, -1)
            elif node.op == "act":
                u0 = membranes.get(node.name)
                if u0 is None:
                    half = neuron.initial_membrane == "half-threshold"
                    u0 = np.full(x.shape, theta[node.name] // 2 if half else 0, dtype=np.int64)
                u, s = neuron_step(u0, x, neuron, theta[node.name])
                membranes[node.name] = u
                spikes[node.name][t] += int(s.sum())
                val[node.name] = s
            elif node.op == "pool":
                val[node.name] = _pool(x, node.attrs["kernel"], node.attrs["stride"], node.attrs["padding"],
                                       node.attrs["kind"])
            elif node.op == "global_pool":
                red = x.max(axis=(2, 3)) if node.attrs["kind"] == "max" else x.sum(axis=(2, 3), dtype=np.int64)
                val[node.name] = red
            elif node.op == "add":
                total = np.zeros(node.out_shape, dtype=np.int64)[None]
                for src in node.inputs:
                    v = val[src].astype(np.int64)
                    origin = _through(net, src)
                    if origin != "input" and net.graph[origin].op == "act":
                        v = v * theta[origin]
                    total = total + v
                val[node.name] = total
        for name in events:
            nonzero[name][t] = np.count_nonzero(val[name].reshape(n_batch, -1), axis=1)
        outputs[:, t, :] = val[net.readout].reshape(n_batch, -1)
    return SNNRun(outputs, spikes, dict(net.neurons), activity, n_batch, nonzero)


def _weight_op(node, x: np.ndarray, w: np.ndarray, bits: int, signed: bool, w_bits: int, kernel: str
               ) -> tuple[np.ndarray, Activity | None]:
    a = node.attrs
    x = np.ascontiguousarray(x)
    if kernel == "bitserial":
        if node.op == "conv":
            y, act = bitserial.conv2d(x.astype(np.int16), w, a["stride"], a["padding"], a["dilation"],
                                      a["groups"], in_bits=bits, w_bits=w_bits, in_signed=signed)
        else:
            y, act = bitserial.linear(x.astype(np.int16), w, in_bits=bits, w_bits=w_bits, in_signed=signed)
        return np.ascontiguousarray(y), act
    lo, hi = bitserial.value_range(bits, signed)
    if x.min(initial=0) < lo or x.max(initial=0) > hi:
        raise SpecError("<run>", f"layer {node.name}", (int(x.min()), int(x.max())), f"inputs within {bits} "
                        f"{'signed' if signed else 'unsigned'} bits")
    if node.op == "conv":
        return conv2d_ref(x.astype(np.int64), w, a["stride"], a["padding"], a["dilation"], a["groups"]), None
    return linear_ref(x.astype(np.int64), w), None
