"""Training-method transforms: ``apply(graph, method, **options) -> TrainingStep``.

Each method is registered with a pydantic options model (unknown or bad options are one-line
SpecErrors). ``method`` may also name a method card in ``workloads/methods/`` (a variant such as
``repnet-k3`` that inherits a method and overrides options) or be a path to a card file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from imcsim.config.loader import StrictModel, validate
from imcsim.errors import SpecError
from imcsim.workload.graph import Graph
from imcsim.workload.step import TrainingStep


class MethodOptions(StrictModel):
    """Options every method takes."""

    trained_weights_in: Literal["imc", "sram"] = Field(
        "imc", description="where re-trained conv/linear weights live: the IMC arrays (written each update) or "
                           "SRAM (the Hyb-Learn split: frozen weights in the arrays, re-trained ones in SRAM)")


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    options: type[MethodOptions]
    fn: Callable[[Graph, Any], TrainingStep]


_METHODS: dict[str, Method] = {}
ALIASES = {"bn+last": "norm+last", "tinytl-b": "bias", "tinytl-l": "lite-residual",
           "tinytl-l+b": "lite-residual+bias", "ft-full": "full", "ft-last": "last"}


def register(name: str, description: str, options: type[MethodOptions] = MethodOptions):
    def deco(fn: Callable[[Graph, Any], TrainingStep]) -> Callable[[Graph, Any], TrainingStep]:
        _METHODS[name] = Method(name, description, options, fn)
        return fn

    return deco


def _load_all() -> None:
    """Import every module of this package once, so each registers its methods: adding a method is
    one new module with ``@register`` and nothing else (no import list to keep in step)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_METHODS:
            importlib.import_module(f"{__name__}.{info.name}")


#: modules of this package that register no method
_NOT_METHODS = {"cards"}


def names() -> list[str]:
    """Built-in method names (aliases and cards not included)."""
    _load_all()
    return sorted(_METHODS)


def get(name: str) -> Method:
    _load_all()
    key = ALIASES.get(name, name)
    if key not in _METHODS:
        raise SpecError(None, "method", name, problem="unknown method",
                        allowed=", ".join(sorted(_METHODS)) + " (or a card in workloads/methods/)")
    return _METHODS[key]


def resolve(method: str, options: dict[str, Any] | None = None) -> tuple[Method, dict[str, Any], list[str]]:
    """Built-in name, alias, card name or card path -> (method, merged options, card notes)."""
    _load_all()
    options = dict(options or {})
    key = ALIASES.get(method, method)
    if key in _METHODS:
        return _METHODS[key], options, []
    from imcsim.workload.methods.cards import find_card

    card = find_card(method)
    if card is None:
        get(method)  # raises the unknown-method error
    base, card_opts, notes = card.resolved()
    return get(base), {**card_opts, **options}, notes


def apply(graph: Graph, method: str, **options: Any) -> TrainingStep:
    """Apply ``method`` (name, alias, card) with ``options`` to ``graph``."""
    m, opts, card_notes = resolve(method, options)
    parsed = validate(m.options, opts, "<options>", prefix=f"method {m.name}")
    step = m.fn(graph, parsed)
    if card_notes or method != m.name:
        from dataclasses import replace

        step = replace(step, method=method if method not in ALIASES else m.name,
                       notes=step.notes + tuple(card_notes))
    return step
