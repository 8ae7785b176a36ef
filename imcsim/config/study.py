"""The study spec: which device, accelerator, workload and training method, and the run options.

This is the skeleton later issues extend (each adds its own validated fields). What it checks now:
the shape of the file, value ranges of the options, and that the device names a built-in card or an
existing card file (a path is resolved relative to the study file and the card itself is validated).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from imcsim.config.device_card import builtin_card_names, load_card, looks_like_path, resolve_card_path
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError


class NamedSpec(StrictModel):
    """A thing chosen by name with free-form options (validated by the package that owns it)."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class StudyOptions(StrictModel):
    """Run options shared by every engine."""

    write_policy: Literal["all", "diff"] = Field("all", description="rewrite every bit, or only flipped bits")
    activity: float = Field(0.5, ge=0, le=1, description="default input-bit activity when no functional run")
    flip_prob: float = Field(0.5, ge=0, le=1, description="probability a weight bit flips in an update")
    seed: int = Field(0, ge=0, description="seed of every random draw (results are deterministic)")
    steps_per_day: float = Field(1000.0, gt=0, description="training steps per day, for lifetime [A]")
    batch_size: int = Field(1, gt=0)
    node_nm: float = Field(28.0, gt=0, description="technology node of the cells and periphery [A]")


class Study(StrictModel):
    """One evaluation: device + accelerator + workload + method + options."""

    name: str | None = None
    device: str = Field(min_length=1, description="built-in device card name or a card path")
    accelerator: str | None = Field(None, description="accelerator preset name (devices/acc-*.yaml)")
    workload: NamedSpec
    method: NamedSpec = Field(default_factory=lambda: NamedSpec(name="inference"))
    options: StudyOptions = Field(default_factory=StudyOptions)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; the device is checked and a card path made absolute."""
    path = Path(path)
    study = validate(Study, load_yaml(path), path)
    card_path = resolve_card_path(study.device, path.parent, file=str(path), field="device")
    if looks_like_path(study.device):
        if not card_path.is_file():
            raise SpecError(str(path), "device", study.device, problem="card file does not exist:",
                            allowed=f"a built-in device ({', '.join(builtin_card_names())}) or a card path")
        study.device = str(card_path.resolve())
    load_card(card_path)
    return study
