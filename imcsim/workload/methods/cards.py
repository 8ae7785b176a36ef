"""Method cards: ``workloads/methods/<name>.yaml`` -- what a method is, its source, default options.

A card either describes a built-in method (``name`` is the method) or defines a variant that
``inherits`` a method or another card and overrides options (e.g. ``repnet-k3``). Cards are the
user's way to add a method variant without code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from imcsim.config.inherit import check_link
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.paths import workloads_dir


class MethodCard(StrictModel):
    """What a method is, its source and default options; or a variant of another method."""

    name: str = Field(description="method name (a built-in method, or the new variant's name)")
    description: str = Field(description="one line shown in tables")
    source: str = Field(description="paper and code the method follows, with [KEY] citations")
    inherits: str | None = Field(None, description="built-in method or card this variant overrides")
    options: dict[str, Any] = Field({}, description="method options (the method's table below)")
    trains: str = Field("", description="what is trainable")
    stores: str = Field("", description="what is stored for the backward pass, and in which form")
    propagates: str = Field("", description="how far the error propagates")
    writes: str = Field("", description="which array weights each update writes")
    notes: list[str] = Field([], description="notes carried into every result of the method")
    file: str | None = Field(None, description="set by the loader: the card's path")

    def resolved(self, _seen: tuple[str, ...] = ()) -> tuple[str, dict[str, Any], list[str]]:
        """(built-in method, merged options, notes) following ``inherits``; a loop or an over-long
        chain is one SpecError (:func:`imcsim.config.inherit.check_link`, as for every card kind)."""
        from imcsim.workload.methods import _METHODS, ALIASES, _load_all

        _load_all()
        base = self.inherits or self.name
        base = ALIASES.get(base, base)
        if base in _METHODS and (self.inherits is not None or base == self.name):
            return base, dict(self.options), list(self.notes)
        parent = find_card(base) if base != self.name else None
        if parent is None:
            raise SpecError(self.file, "inherits", base, problem="unknown method or card",
                            allowed=", ".join(sorted(_METHODS)))
        seen = (*_seen, str(Path(self.file or self.name).resolve()))
        check_link(seen, parent.file or base)
        pbase, popts, pnotes = parent.resolved(seen)
        return pbase, {**popts, **self.options}, pnotes + list(self.notes)


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
