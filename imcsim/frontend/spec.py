"""The front-end study file: sensor card, accelerator, the two networks and the ROIs of a frame.

``imcsim sensor STUDY.yaml`` reads it. Shape and ranges are checked here; what needs the sensor card
(an ROI larger than the frame, a pooling factor that does not divide it) is checked when the pipeline
prices the study (:mod:`imcsim.frontend.pipeline`), with the same one-line error naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.config.study import NamedSpec, _named
from imcsim.errors import SpecError


class RoiSpec(StrictModel):
    """ROIs of one size in a frame (the per-frame ROI count and size distribution, given)."""

    height: int = Field(gt=0, description="ROI rows at full resolution (px)")
    width: int = Field(gt=0, description="ROI columns at full resolution (px)")
    count: int = Field(1, ge=0, description="ROIs of this size per frame")


class FrontendSpec(StrictModel):
    """The two-stage ROI scheme (HiRISE) and its baselines."""

    pool: int = Field(4, ge=1, description="stage 1: analog k x k pooling factor (must divide the frame)")
    grayscale: bool = Field(True, description="stage 1: analog grayscale conversion before pooling")
    detector: NamedSpec | None = Field(None, description="stage 1 network (ROI detector) on the pooled frame")
    task: NamedSpec | None = Field(None, description="stage 2 network, run on each ROI at the ROI size; "
                                                     "the baselines run it on the frame")
    rois: list[RoiSpec] = Field(default_factory=list, description="ROIs per frame (stage 2)")
    downscale_resolution: int | None = Field(
        224, gt=0, description="digital-downscale baseline: the task network's input size after conversion "
                               "(null: no such baseline)")

    _named_detector = field_validator("detector", mode="before")(lambda cls, v: _named(v))
    _named_task = field_validator("task", mode="before")(lambda cls, v: _named(v))

    @property
    def roi_count(self) -> int:
        return sum(r.count for r in self.rois)


class BreakevenSpec(StrictModel):
    """The ROI-fraction sweep: one ROI with the frame's aspect ratio covering each fraction."""

    baseline: Literal["full-frame", "downscaled"] = Field("full-frame", description="scheme to break even against")
    fractions: list[float] = Field(default_factory=lambda: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0],
                                   description="ROI fractions of the frame area to tabulate")
    tolerance: float = Field(0.002, gt=0, lt=0.1, description="bisection tolerance on the fraction")

    @field_validator("fractions")
    @classmethod
    def _fractions_in_range(cls, v: list[float]) -> list[float]:
        bad = [f for f in v if not 0 < f <= 1]
        if bad:
            raise ValueError(f"fractions must be in (0, 1], got {bad[0]}")
        return sorted(v)


class SensorStudy(StrictModel):
    """One front-end study: a sensor card priced with an accelerator preset."""

    name: str | None = None
    description: str = ""
    sensor: str = Field("hirise-vga", min_length=1, description="sensor card name or path")
    sensor_overrides: dict[str, float] = Field(default_factory=dict, description="sensor parameter -> value [A]")
    accelerator: str = Field("acc-sas-mram", description="accelerator preset the networks run on")
    device: str | None = Field(None, description="device card replacing the preset's macro device")
    engine: Literal["analytic", "event"] = "analytic"
    frontend: FrontendSpec
    breakeven: BreakevenSpec | None = None
    file: str = Field("<study>", exclude=True)

    def check(self) -> None:
        """Cross-field rules the shape cannot say: a stage-2 network needs at least one ROI."""
        if self.frontend.task is not None and self.frontend.roi_count == 0:
            raise SpecError(self.file, "frontend.rois", self.frontend.model_dump()["rois"],
                            "at least one ROI with count >= 1 when frontend.task is set (or drop frontend.task)",
                            problem="no ROI for the stage-2 network:")


def load_sensor_study(path: str | Path) -> SensorStudy:
    """Read and validate a front-end study file (one error line on bad input)."""
    path = Path(path)
    data = load_yaml(path)
    if "frontend" not in data:
        raise SpecError(str(path), "frontend", problem="missing required section",
                        allowed="a frontend: mapping (pool, grayscale, detector, task, rois)")
    study = validate(SensorStudy, data, path)
    study.file = str(path)
    study.check()
    return study
