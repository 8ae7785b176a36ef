"""Float weights for an IR graph: an ONNX file's initializers (real trained weights), or seeded random
initialisation (zoo networks without trained weights).

Reports say which (the ``source`` string): ``seeded random (A)`` means the activity measured is that of a
randomly initialised network on real inputs, not of a trained one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imcsim.execute.fp32 import Params
from imcsim.workload.graph import Graph

RANDOM_SOURCE = "seeded random (A): He-normal conv/linear weights, small random batch-norm statistics"


def onnx_params(path: str | Path, graph: Graph) -> tuple[Params, str]:
    """The float weights of an ONNX file's conv/linear and batch-norm nodes (its initializers), checked
    against ``graph`` (the workload the file was loaded as): every executed weight node must have them."""
    from imcsim.errors import SpecError
    from imcsim.workload.importers.onnx_import import import_onnx_params

    _, params = import_onnx_params(path, input_shape=tuple(graph.input_shape) or None)
    for node in graph.nodes:
        if node.op in ("conv", "linear", "norm") and node.name not in params:
            raise SpecError(str(path), f"node {node.name}", None, problem="no weights for this layer in the file:",
                            allowed="initializers for every conv/linear/batch-norm")
        for role, count in node.params.items():
            have = params.get(node.name, {}).get(role)
            if have is not None and have.size != count:
                raise SpecError(str(path), f"node {node.name} {role}", have.size, f"{count} values (the layer's shape)")
    return params, f"ONNX initializers of {Path(path).name} (real weights)"


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
