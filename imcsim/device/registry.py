"""The registry of device technologies: one entry per technology, declared on its model class.

Why: a technology's name, its card parameters and its options belong next to the physics that reads
them. The card validation (``config/device_card.py``), the device library, ``imcsim schema`` and the
generated reference, and the property tests all read this registry, so a new technology is one model
module under ``imcsim/device/`` (with ``@register``) plus its card in ``devices/`` -- nothing else
(docs/ARCHITECTURE.md, "How to extend").
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: modules of this package that declare no technology
_NOT_MODELS = {"base", "library", "registry"}


@dataclass(frozen=True)
class Technology:
    """A device technology: its card name, model class, parameter and option models."""

    name: str
    model: type
    params: type
    options: type
    #: option/parameter overrides the property tests also exercise (name -> overrides)
    test_variants: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return (self.model.__doc__ or self.name).strip().splitlines()[0]


_REGISTRY: dict[str, Technology] = {}
_DISCOVERED = False


def register(cls: type) -> type:
    """Class decorator: declare a technology from its model class's ``TECHNOLOGY``, ``PARAMS``,
    ``OPTIONS`` (and optional ``TEST_VARIANTS``) attributes."""
    name = cls.TECHNOLOGY
    if name in _REGISTRY and _REGISTRY[name].model is not cls:
        raise ValueError(f"device technology {name!r} registered twice ({_REGISTRY[name].model.__name__}, "
                         f"{cls.__name__})")
    _REGISTRY[name] = Technology(name, cls, cls.PARAMS, cls.OPTIONS, dict(getattr(cls, "TEST_VARIANTS", {})))
    return cls


def _discover() -> None:
    """Import every model module of this package once (each registers its technologies)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _NOT_MODELS and not info.name.startswith("_"):
            importlib.import_module(f"imcsim.device.{info.name}")
    _DISCOVERED = True


def technologies() -> dict[str, Technology]:
    """Every registered technology, by card name (``sas_mram``, ``reram``, ...), in name order."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def technology(name: str) -> Technology:
    """One technology; a KeyError names the known ones."""
    techs = technologies()
    if name not in techs:
        raise KeyError(f"unknown device technology {name!r}; known: {', '.join(techs)}")
    return techs[name]
