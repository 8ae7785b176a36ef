"""The built-in model zoo: ``build(name, resolution=..., classes=..., **options) -> Graph``.

Each model module registers its builders with :func:`register`. Builders take keyword options only
(``resolution``, ``classes`` and model-specific ones such as ``width`` or ``seq_len``). ``batch`` is
accepted for every model and only recorded in ``graph.meta["batch"]``: shapes, parameters and MACs
are per sample, and the consumer (memory accounting, engine) multiplies by the batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from imcsim.errors import SpecError
from imcsim.workload.graph import Graph

_BUILDERS: dict[str, tuple[Callable[..., Graph], str]] = {}


def register(name: str, description: str) -> Callable[[Callable[..., Graph]], Callable[..., Graph]]:
    def deco(fn: Callable[..., Graph]) -> Callable[..., Graph]:
        _BUILDERS[name] = (fn, description)
        return fn

    return deco


def names() -> list[str]:
    _load_all()
    return sorted(_BUILDERS)


def describe(name: str) -> str:
    _load_all()
    return _BUILDERS[name][1]


def options(name: str) -> dict[str, Any]:
    """The options a model accepts and their defaults (``batch`` included)."""
    _load_all()
    fn = _BUILDERS[name][0]
    opts = {p.name: p.default for p in inspect.signature(fn).parameters.values()}
    return {**opts, "batch": 1}


def build(name: str, **options_: Any) -> Graph:
    """Build a zoo model; an unknown name or option, or a size the network cannot take, is a SpecError."""
    _load_all()
    if name not in _BUILDERS:
        raise SpecError(None, "workload", name, problem="unknown workload", allowed=", ".join(sorted(_BUILDERS)))
    batch = options_.pop("batch", 1)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SpecError(None, "batch", batch, problem="bad value", allowed="an integer >= 1")
    known = options(name)
    for key in options_:
        if key not in known:
            raise SpecError(None, key, options_[key], problem=f"option not accepted by workload {name!r}:",
                            allowed=", ".join(sorted(known)))
    try:
        graph = _BUILDERS[name][0](**options_)
    except ValueError as exc:
        # The builders and the IR raise ValueError for impossible sizes (a feature map shrunk to 0,
        # channels not divisible by groups); to the user that is a bad option value.
        raise SpecError(None, "workload", None, problem=f"{name} cannot be built with options {options_}: {exc}",
                        allowed="sizes the network can take") from None
    graph.meta["batch"] = batch
    return graph


def _load_all() -> None:
    # Importing the modules registers their builders.
    from imcsim.workload.zoo import (  # noqa: F401
        digits,
        mobilenetv2,
        mobilenetv3,
        proxylessnas,
        resnet,
        skipnet,
        snn_cifar,
        t5,
        tiny,
        vgg,
        vit,
    )
