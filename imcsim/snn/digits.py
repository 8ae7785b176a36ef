"""The measured scenario: an ANN trained on scikit-learn's bundled 8x8 digits, converted to an SNN and run
on the bit-serial kernels, so that spikes, accuracy and exit timesteps are measured, not assumed.

Steps (all deterministic for a seed; nothing is downloaded: the digits ship with scikit-learn):

1. Split the 1,797 digits (pixels 0..16) into train/test (stratified, ``test_fraction``).
2. Train a bias-free ReLU MLP 64 -> hidden... -> 10 in numpy (mini-batch SGD with momentum, softmax
   cross-entropy, inputs scaled by 1/16).
3. Convert (rate-coded ANN-to-SNN conversion with data-based threshold balancing, A): weights to INT8
   per layer (scale max|W| / 127); layer l's threshold is the ``percentile`` of its ANN activations on
   the training set, lambda_l, expressed in the layer's integer current units; IF neurons with soft
   reset (reset by subtraction) starting at half the threshold, the conversion convention of QCFS
   (the conversion path of [SEENN-CODE]). The image enters as 5-bit integers (direct
   encoding). The readout's output o_t times ``logit_scale`` = s_last x lambda_(L-1) approximates the ANN
   logits each timestep, so the exit rules see z_t in ANN units (summed over t, as [SEENN-CODE]).
4. Run the SNN for T timesteps on the test set with the bit-serial kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcsim.errors import SpecError
from imcsim.snn.functional import SNNRun, run_snn
from imcsim.snn.network import SNNNetwork, snn_form
from imcsim.snn.spec import NeuronSpec
from imcsim.workload.graph import Graph, GraphBuilder

IMAGE_BITS = 5  # pixels 0..16


def load_split(seed: int = 0, test_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): integer pixels 0..16 of shape (N, 64), labels 0..9."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data.astype(np.int64)
    y = data.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return xtr, ytr, xte, yte


def digits_graph(hidden: tuple[int, ...] = (64, 32), classes: int = 10) -> Graph:
    """The MLP as an imcsim graph: fc0 (direct-encoded), spiking ReLUs, the readout ``fc<L>``."""
    b = GraphBuilder("digits-mlp", (64,), classes=classes)
    x = b.input
    for i, h in enumerate(hidden):
        x = b.act(b.linear(x, h, bias=False, name=f"fc{i}"), "relu", name=f"spk{i}")
    b.linear(x, classes, bias=False, name=f"fc{len(hidden)}", tags=("classifier",))
    return b.build()


def train_mlp(x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...] = (64, 32), epochs: int = 60,
              lr: float = 0.05, batch: int = 32, seed: int = 0) -> list[np.ndarray]:
    """Bias-free ReLU MLP weights [(out, in), ...] by mini-batch SGD (momentum 0.9) on cross-entropy."""
    rng = np.random.default_rng(seed)
    sizes = (x.shape[1], *hidden, int(y.max()) + 1)
    ws = [rng.normal(0.0, np.sqrt(2.0 / i), (o, i)) for i, o in zip(sizes, sizes[1:])]
    vel = [np.zeros_like(w) for w in ws]
    a0 = x / 16.0
    for _ in range(epochs):
        order = rng.permutation(len(a0))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            acts = [a0[idx]]
            for w in ws[:-1]:
                acts.append(np.maximum(acts[-1] @ w.T, 0.0))
            logits = acts[-1] @ ws[-1].T
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1.0
            grad = p / len(idx)
            for li in range(len(ws) - 1, -1, -1):
                gw = grad.T @ acts[li]
                if li:
                    grad = (grad @ ws[li]) * (acts[li] > 0)
                vel[li] = 0.9 * vel[li] - lr * gw
                ws[li] += vel[li]
    return ws


def ann_logits(ws: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    a = x / 16.0
    for w in ws[:-1]:
        a = np.maximum(a @ w.T, 0.0)
    return a @ ws[-1].T


@dataclass(frozen=True)
class Converted:
    """An integer SNN from a trained ANN."""

    net: SNNNetwork
    weights: dict[str, np.ndarray]     # INT8 per weight layer
    thresholds: dict[str, int]         # per neuron layer, integer current units
    logit_scale: float                 # readout integer units -> ANN logit units
    neuron: NeuronSpec


def convert(ws: list[np.ndarray], x_train: np.ndarray, percentile: float = 99.9, membrane_bits: int = 24
            ) -> Converted:
    """Rate-coded conversion with data-based threshold balancing (module docstring, step 3)."""
    if not 50.0 <= percentile <= 100.0:
        raise SpecError("<flags>", "percentile", percentile, "a number in [50, 100]")
    hidden = tuple(w.shape[0] for w in ws[:-1])
    net = snn_form(digits_graph(hidden, ws[-1].shape[0]))
    scales = [float(np.abs(w).max()) / 127.0 for w in ws]
    q = {f"fc{i}": np.clip(np.rint(w / s), -128, 127).astype(np.int64) for i, (w, s) in enumerate(zip(ws, scales))}
    lam = []
    a = x_train / 16.0
    for w in ws[:-1]:
        a = np.maximum(a @ w.T, 0.0)
        lam.append(max(float(np.percentile(a, percentile)), 1e-6))
    thresholds = {}
    prev_unit = 1.0 / 16.0  # real value of one input LSB (pixel / 16)
    for i, lam_i in enumerate(lam):
        # current LSB of layer i = s_i x (real value of one input unit); threshold = lambda_i / LSB
        thresholds[f"spk{i}"] = max(1, int(round(lam_i / (scales[i] * prev_unit))))
        prev_unit = lam_i  # a spike carries lambda_i
    neuron = NeuronSpec(kind="if", reset="soft", threshold=1, membrane_bits=membrane_bits,
                        initial_membrane="half-threshold")
    return Converted(net, q, thresholds, scales[-1] * prev_unit, neuron)


@dataclass(frozen=True)
class DigitsRun:
    """The measured scenario: ANN accuracy, the converted SNN's run on the test set, the labels."""

    ann_accuracy: float
    converted: Converted
    run: SNNRun
    labels: np.ndarray

    @property
    def logits(self) -> np.ndarray:
        """Per-timestep outputs in ANN logit units (N, T, K)."""
        return self.run.outputs * self.converted.logit_scale


def run_digits(timesteps: int = 8, hidden: tuple[int, ...] = (64, 32), seed: int = 0, epochs: int = 60,
               kernel: str = "bitserial", samples: int | None = None) -> DigitsRun:
    """Train, convert and run (module docstring); ``samples`` limits the test images (None: all)."""
    xtr, ytr, xte, yte = load_split(seed)
    ws = train_mlp(xtr, ytr, hidden, epochs=epochs, seed=seed)
    if samples is not None:
        xte, yte = xte[:samples], yte[:samples]
    ann_acc = float((ann_logits(ws, xte).argmax(axis=1) == yte).mean())
    conv = convert(ws, xtr)
    run = run_snn(conv.net, conv.weights, xte, timesteps, conv.neuron, conv.thresholds, kernel=kernel,
                  image_bits=IMAGE_BITS)
    return DigitsRun(ann_acc, conv, run, yte)
