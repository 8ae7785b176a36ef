"""Float weights for an IR graph: seeded random initialisation (zoo networks without trained weights).

Reports that run on these weights say so (``source = "seeded random (A)"``): the activity they
measure is that of a randomly initialised network on real inputs, not of a trained one.
"""

from __future__ import annotations

import numpy as np

from imcsim.execute.fp32 import Params
from imcsim.workload.graph import Graph

RANDOM_SOURCE = "seeded random (A): He-normal conv/linear weights, small random batch-norm statistics"


def random_params(graph: Graph, seed: int = 0) -> Params:
    """He-normal conv/linear weights, zero biases, batch norms near identity; deterministic per seed."""
    rng = np.random.default_rng([seed, 0x1A7])
    params: Params = {}
    for node in graph.nodes:
        a = node.attrs
        if node.op == "conv":
            kh, kw = a["kernel"]
            fan_in = a["in_ch"] // a["groups"] * kh * kw
            p = {"weight": rng.normal(0.0, np.sqrt(2.0 / fan_in), (a["out_ch"], a["in_ch"] // a["groups"], kh, kw))}
            if a.get("bias"):
                p["bias"] = np.zeros(a["out_ch"])
            params[node.name] = p
        elif node.op == "linear":
            fan_in = a["in_features"]
            p = {"weight": rng.normal(0.0, np.sqrt(2.0 / fan_in), (a["out_features"], fan_in))}
            if a.get("bias"):
                p["bias"] = np.zeros(a["out_features"])
            params[node.name] = p
        elif node.op == "norm":
            c = node.in_shape[0]
            params[node.name] = {"scale": rng.uniform(0.8, 1.2, c), "shift": rng.normal(0.0, 0.1, c),
                                 "mean": rng.normal(0.0, 0.1, c), "var": rng.uniform(0.8, 1.2, c)}
    return params
