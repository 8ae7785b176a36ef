"""Method cards: ``workloads/methods/<name>.yaml`` -- what a method is, its source, default options.

A card either describes a built-in method (``name`` is the method) or defines a variant that
``inherits`` a method or another card and overrides options (e.g. ``repnet-k3``). Cards are the
user's way to add a method variant without code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from imcsim.config.inherit import deep_merge, parent_path, walk_chain
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.paths import workloads_dir


class MethodCard(StrictModel):
    """What a method is, its source and default options; or a variant of another method."""

    name: str = Field(description="method name (a built-in method, or the new variant's name)")
    description: str = Field(description="one line shown in tables")
    source: str = Field(description="paper and code the method follows, with [KEY] citations")
    inherits: str | None = Field(None, description="a built-in method, a card name or a path relative to this file; this variant overrides its options")
    options: dict[str, Any] = Field({}, description="method options (the method's table below)")
    trains: str = Field("", description="what is trainable")
    stores: str = Field("", description="what is stored for the backward pass, and in which form")
    propagates: str = Field("", description="how far the error propagates")
    writes: str = Field("", description="which array weights each update writes")
    notes: list[str] = Field([], description="notes carried into every result of the method")
    file: str | None = Field(None, description="set by the loader: the card's path")

    def resolved(self) -> tuple[str, dict[str, Any], list[str]]:
        """(built-in method, merged options, notes of every card root first), following ``inherits``
        through :func:`imcsim.config.inherit.walk_chain`, as for every card kind."""
        from imcsim.workload.methods import ALIASES

        links = walk_chain(Path(self.file or f"{self.name}.yaml"), load_card, _parent, first=self)
        root = links[-1].card
        options: dict[str, Any] = {}
        notes: list[str] = []
        for link in reversed(links):
            options = deep_merge(options, link.card.options)
            notes += link.card.notes
        base = root.inherits or root.name
        return ALIASES.get(base, base), options, notes


def _parent(card: MethodCard, file: Path) -> tuple[str, Path] | None:
    """None when ``card`` is a built-in method's own card or inherits a built-in method; else the
    parent card (a name in the built-in folder or a path relative to ``file``)."""
    from imcsim.workload.methods import _METHODS, ALIASES, _load_all

    _load_all()
    base = card.inherits or card.name
    if ALIASES.get(base, base) in _METHODS and (card.inherits is not None or base == card.name):
        return None
    candidate = parent_path(base, file) if Path(base).suffix in (".yaml", ".yml") else cards_dir() / f"{base}.yaml"
    if base == card.name or not candidate.is_file():
        raise SpecError(card.file, "inherits", base, problem="unknown method or card",
                        allowed=", ".join(sorted(_METHODS)) + " or a path relative to this file")
    return base, candidate


def cards_dir() -> Path:
    return workloads_dir() / "methods"


def load_card(path: str | Path) -> MethodCard:
    data = load_yaml(path)
    card = validate(MethodCard, data, path)
    card.file = str(path)
    return card


def find_card(name: str) -> MethodCard | None:
    """A card by path (``*.yaml``) or by name in the built-in folder; None when there is none."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        return load_card(p)
    candidate = cards_dir() / f"{name}.yaml"
    return load_card(candidate) if candidate.is_file() else None
