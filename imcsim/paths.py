"""Where the built-in device, accelerator, workload and method cards are.

In a checkout they are the top-level ``devices/`` and ``workloads/`` folders next to the package;
in an installed wheel setup.cfg maps those folders into ``imcsim/_builtin/``. The checkout wins when
both exist, so editing a card in a checkout takes effect without reinstalling.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache  # the folders stay where they are while a process runs (sweeps ask per point)
def _builtin_dir(name: str) -> Path:
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir() and (_PACKAGE_DIR.parent / "setup.cfg").is_file():
        return checkout
    installed = _PACKAGE_DIR / "_builtin" / name
    if installed.is_dir():
        return installed
    raise FileNotFoundError(f"built-in folder {name!r} not found in {checkout} or {installed}")


def devices_dir() -> Path:
    """Folder of the built-in device cards and accelerator presets."""
    return _builtin_dir("devices")


def workloads_dir() -> Path:
    """Folder of the built-in workload and method cards and example studies."""
    return _builtin_dir("workloads")


def references_file() -> Path | None:
    """docs/references.md of a checkout (the bibliography every ``[KEY]`` resolves in), or None when
    imcsim runs from an installed wheel, which does not carry the docs."""
    path = _PACKAGE_DIR.parent / "docs" / "references.md"
    return path if path.is_file() else None
