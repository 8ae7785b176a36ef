"""The built-in model zoo: ``build(name, resolution=..., classes=..., **options) -> Graph``.

Each model module registers its builders with :func:`register`. Builders take keyword options only
(``resolution``, ``classes`` and model-specific ones such as ``width`` or ``seq_len``).
"""

from __future__ import annotations

from collections.abc import Callable

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


def build(name: str, **options) -> Graph:
    """Build a zoo model; an unknown name is a SpecError listing the known ones."""
    _load_all()
    if name not in _BUILDERS:
        raise SpecError(None, "workload", name, problem="unknown workload", allowed=", ".join(sorted(_BUILDERS)))
    return _BUILDERS[name][0](**options)


def _load_all() -> None:
    # Importing the modules registers their builders.
    from imcsim.workload.zoo import resnet  # noqa: F401
