"""What a result rests on: the device-card parameters tagged A (assumption), per device in the results.

A report must say which of the numbers behind it are measured and which are assumed. This module
loads each device's card and lists its A-tagged parameters with value, unit and source, plus the
endurance figure that the lifetime plot depends on. A device whose card cannot be loaded is
reported as such (with the reason) rather than silently left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from imcsim.errors import ImcsimError


@dataclass(frozen=True)
class CardParam:
    name: str
    value: float
    unit: str
    tag: str
    source: str


@dataclass
class DeviceAssumptions:
    """The provenance picture of one device card."""

    device: str
    card_file: str | None = None
    tag_counts: dict[str, int] = field(default_factory=dict)   # S/T/D/A -> number of parameters
    assumed: list[CardParam] = field(default_factory=list)     # the A-tagged parameters
    endurance: CardParam | None = None
    error: str | None = None                                   # why the card could not be read


def default_loader() -> Callable[[str], Any]:
    """The device library's card loader (``imcsim.device.library.load_card`` once it exists)."""
    try:
        from imcsim.device.library import load_card  # type: ignore[attr-defined]
    except ImportError:
        from imcsim.config.device_card import load_card
    return load_card


def _params(card: Any) -> list[CardParam]:
    out = []
    for name in card.param_names():
        try:
            p = card.param(name)
        except KeyError:
            continue
        out.append(CardParam(name, float(p.value), str(p.unit), str(p.tag), str(p.source)))
    return out


def device_assumptions(devices: Iterable[str], loader: Callable[[str], Any] | None = None
                       ) -> list[DeviceAssumptions]:
    """One :class:`DeviceAssumptions` per distinct device name, in first-seen order."""
    load = loader or default_loader()
    seen: list[str] = []
    for d in devices:
        if isinstance(d, str) and d and d not in seen:
            seen.append(d)
    out = []
    for name in seen:
        try:
            card = load(name)
        except (ImcsimError, OSError, ValueError) as exc:
            out.append(DeviceAssumptions(name, error=str(exc)))
            continue
        params = _params(card)
        counts: dict[str, int] = {}
        for p in params:
            counts[p.tag] = counts.get(p.tag, 0) + 1
        endurance = next((p for p in params if p.name == "endurance_cycles"), None)
        out.append(DeviceAssumptions(name, getattr(card, "file", None), counts,
                                     [p for p in params if p.tag == "A"], endurance))
    return out
