"""Putting a network, its weights and a dataset together for execution (what the CLI commands call).

Weights come from an ONNX file's initializers when the workload is an ``.onnx`` file, else they are
seeded random (the source string says which and reports repeat it). The network is quantised
post-training on a calibration batch of training images (min/max or percentile ranges).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imcsim.circuit.activity import Activity
from imcsim.circuit.toggle import ToggleActivity
from imcsim.errors import SpecError
from imcsim.execute import infer, reference
from imcsim.execute import qnet as Q
from imcsim.execute.data import Dataset
from imcsim.execute.weights import RANDOM_SOURCE, onnx_params, random_params
from imcsim.workload.graph import Graph

CALIBRATION_IMAGES = 64


def fit_images(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Images (N, C, H, W) brought to the network's input ``shape``: channels repeated, nearest resize."""
    if len(shape) != 3:
        raise SpecError(None, "workload", shape, "an image network with input (C, H, W)",
                        problem="the dataset holds images but the network input is not a feature map:")
    c, h, w = shape
    n, ci, hi, wi = images.shape
    if ci not in (1, c):
        raise SpecError(None, "dataset", f"{ci} channels", f"1 or {c} channels (the network's input)")
    rows = (np.arange(h) * hi) // h
    cols = (np.arange(w) * wi) // w
    out = images[:, :, rows][:, :, :, cols]
    return np.repeat(out, c, axis=1) if ci != c else out


@dataclass
class Network:
    graph: Graph
    qnet: Q.QNet
    source: str


def build_network(graph: Graph, train: Dataset, *, seed: int = 0, calibration: str = "minmax",
                  onnx: str | None = None) -> Network:
    """Quantise ``graph`` with the weights of the ONNX file ``onnx`` (else seeded random weights),
    calibrated on a batch of training images."""
    calib = fit_images(train.images[:CALIBRATION_IMAGES], graph.input_shape)
    if onnx is not None:
        params, source = onnx_params(onnx, graph)
    else:
        params, source = random_params(graph, seed), f"{RANDOM_SOURCE}, seed {seed}"
    source += f"; quantised post-training, {calibration} ranges on {len(calib)} training images"
    return Network(graph, Q.quantize(graph, params, calib, calibration=calibration, weight_source=source), source)


@dataclass
class Measured:
    """Outputs (codes of the last node), per-layer activity (and tree toggles, when counted) summed over
    the batches, reference mismatches."""

    output: np.ndarray
    activity: dict[str, Activity]
    mismatched: list[str]
    toggles: dict[str, ToggleActivity] = field(default_factory=dict)


def measure_inference(qnet: Q.QNet, images: np.ndarray, *, batch: int = 256, check: bool = False,
                      toggle_rows: int | None = None) -> Measured:
    """Run ``images`` (float, already fitted) through the INT8 network on the kernels, in batches;
    ``toggle_rows``: also count the tree toggles on adder trees of that many inputs."""
    outs, acts, toggles, bad = [], {}, {}, set()
    last = qnet.graph.nodes[-1].name
    for i in range(0, len(images), batch):
        codes = infer.quantize_input(qnet, images[i:i + batch])
        run = infer.run(qnet, codes, toggle_rows=toggle_rows)
        outs.append(run.output)
        for k, a in run.activity.items():
            acts[k] = acts[k] + a if k in acts else a
        for k, t in (run.toggles or {}).items():
            toggles[k] = toggles[k] + t if k in toggles else t
        if check:
            ref = reference.run_reference(qnet, codes)[last]
            if not np.array_equal(ref, run.output):
                bad.add(last)
    return Measured(np.concatenate(outs), acts, sorted(bad), toggles)


