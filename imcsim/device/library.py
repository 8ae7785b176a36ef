"""The device library: built-in cards in ``devices/`` (or any card file) turned into device models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imcsim.config.device_card import DeviceCard, builtin_card_names
from imcsim.config.device_card import load_card as _load_card
from imcsim.device.base import DeviceModel
from imcsim.device.registry import technologies


def list_devices() -> list[str]:
    """Names of the built-in device cards (accelerator presets ``acc-*`` are not listed)."""
    return builtin_card_names()


def load_card(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> DeviceCard:
    """The validated, inheritance-resolved card of a built-in name or a card path."""
    return _load_card(name_or_path, overrides)


def load_device(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> DeviceModel:
    """The device model of a built-in name or card path; ``overrides`` change parameters or options.

    ``overrides`` maps a parameter name to a number (tagged A, source ``override``) or to a full
    ``{value, unit, tag, source}`` mapping, or an option name (``write_scheme``...) to its value.
    """
    card = _load_card(name_or_path, overrides)
    return model_from_card(card)


def model_from_card(card: DeviceCard) -> DeviceModel:
    """The model of a resolved card: the class its technology registered (imcsim.device.registry)."""
    return technologies()[card.technology].model(card)
