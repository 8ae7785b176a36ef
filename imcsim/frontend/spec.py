"""The front-end study file: sensor card, accelerator, the two networks and the ROIs of a frame.

``imcsim sensor STUDY.yaml`` reads it. Shape and ranges are checked here; what needs the sensor card
(an ROI larger than the frame, a pooling factor that does not divide it) is checked when the pipeline
prices the study (:mod:`imcsim.frontend.pipeline`), with the same one-line error naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.config.study import NamedSpec, _named
from imcsim.errors import SpecError


class RoiSpec(StrictModel):
    """ROIs of one size per frame: the given count and size distribution (``count`` may be an expected
    value, e.g. 0.6 faces per frame)."""

    height: int = Field(gt=0, description="ROI rows at full resolution (px)")
    width: int = Field(gt=0, description="ROI columns at full resolution (px)")
    count: float = Field(1, ge=0, description="ROIs of this size per frame (expected number)")


class RoiFileSpec(StrictModel):
    """A measured ROI distribution: a CSV of boxes, one row per box, columns ``frame,height,width``
    (full-resolution pixels), e.g. exported from a dataset's annotations or a detector's output."""

    path: str = Field(min_length=1, description="CSV file (relative to the study file)")
    frames: int | None = Field(None, gt=0, description="frames the file covers (default: distinct frame ids; "
                                                       "set it when some frames have no box)")
    bin_px: int = Field(1, ge=1, description="round box sides up to a multiple of this (fewer network sizes)")


class FrontendSpec(StrictModel):
    """The two-stage ROI scheme (HiRISE) and its baselines."""

    pool: int = Field(4, ge=1, description="stage 1: analog k x k pooling factor (must divide the frame)")
    grayscale: bool = Field(True, description="stage 1: analog grayscale conversion before pooling")
    detector: NamedSpec | None = Field(None, description="stage 1 network (ROI detector) on the pooled frame")
    task: NamedSpec | None = Field(None, description="stage 2 network, run on each ROI at the ROI size; "
                                                     "the baselines run it on the frame")
    rois: list[RoiSpec] = Field(default_factory=list, description="ROIs per frame (stage 2), given")
    rois_file: RoiFileSpec | None = Field(None, description="ROIs per frame measured from a CSV of boxes "
                                                            "(instead of rois)")
    downscale_resolution: int | None = Field(
        224, gt=0, description="digital-downscale baseline: the task network's input size after conversion "
                               "(null: no such baseline)")

    _named_detector = field_validator("detector", mode="before")(lambda cls, v: _named(v))
    _named_task = field_validator("task", mode="before")(lambda cls, v: _named(v))
    _path_rois_file = field_validator("rois_file", mode="before")(
        lambda cls, v: {"path": v} if isinstance(v, str) else v)


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
    accelerator_overrides: dict[str, Any] = Field(
        default_factory=dict, description="dotted accelerator fields, e.g. chip.power_gating: macros+buffers")
    device: str | None = Field(None, description="device card replacing the preset's macro device")
    engine: Literal["analytic", "event"] = "analytic"
    frontend: FrontendSpec
    breakeven: BreakevenSpec | None = None
    file: str = Field("<study>", exclude=True)

    def base_dir(self) -> Path | None:
        """Folder that relative paths in the study (sensor card, ROI file) are taken from."""
        return Path(self.file).parent if self.file and not self.file.startswith("<") else None

    def roi_table(self) -> list[tuple[int, int, float]]:
        """(height, width, ROIs per frame) of every ROI size: given (``rois``) or measured (``rois_file``)."""
        fe = self.frontend
        if fe.rois_file is None:
            return [(r.height, r.width, r.count) for r in fe.rois]
        return load_roi_boxes(fe.rois_file, self.base_dir())

    def check(self) -> None:
        """Cross-field rules the shape cannot say: rois or rois_file, and a stage-2 network needs a ROI."""
        fe = self.frontend
        if fe.rois and fe.rois_file is not None:
            raise SpecError(self.file, "frontend.rois_file", fe.rois_file.path,
                            "either frontend.rois (given) or frontend.rois_file (measured)",
                            problem="both rois and rois_file are set:")
        if fe.task is not None and sum(n for _, _, n in self.roi_table()) == 0:
            field = "frontend.rois_file" if fe.rois_file is not None else "frontend.rois"
            raise SpecError(self.file, field, fe.rois_file.path if fe.rois_file else fe.model_dump()["rois"],
                            "at least one ROI with count > 0 when frontend.task is set (or drop frontend.task)",
                            problem="no ROI for the stage-2 network:")


def load_roi_boxes(spec: RoiFileSpec, base_dir: Path | None = None) -> list[tuple[int, int, float]]:
    """The measured distribution: boxes grouped by (height, width) (sides rounded up to ``bin_px``),
    each size's count divided by the frames covered. Bad rows are one-line errors naming the row."""
    import csv

    path = Path(spec.path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise SpecError(str(path), None, problem="ROI file does not exist")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"frame", "height", "width"} - set(reader.fieldnames or ())
        if missing:
            raise SpecError(str(path), "header", ",".join(reader.fieldnames or ()), "columns frame,height,width",
                            problem=f"missing column(s) {', '.join(sorted(missing))}:")
        sizes: dict[tuple[int, int], int] = {}
        frames: set[str] = set()
        for i, row in enumerate(reader, start=2):
            frames.add(row["frame"])
            try:
                h, w = int(row["height"]), int(row["width"])
            except (TypeError, ValueError):
                raise SpecError(str(path), f"line {i}", f"{row['height']} x {row['width']}",
                                "whole pixel counts > 0", problem="bad box size:") from None
            if h < 1 or w < 1:
                raise SpecError(str(path), f"line {i}", f"{h} x {w}", "whole pixel counts > 0",
                                problem="bad box size:")
            b = spec.bin_px
            key = (-(-h // b) * b, -(-w // b) * b)
            sizes[key] = sizes.get(key, 0) + 1
    n_frames = spec.frames or len(frames)
    if n_frames == 0:
        return []
    if spec.frames is not None and spec.frames < len(frames):
        raise SpecError(str(path), "frames", spec.frames, f">= {len(frames)} (distinct frame ids in the file)",
                        problem="fewer frames than the file names:")
    return [(h, w, n / n_frames) for (h, w), n in sorted(sizes.items())]


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
