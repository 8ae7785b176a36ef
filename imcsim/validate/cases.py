"""Validation cases as data: a configuration, a published figure with its citation, a pass band.

Why data: the published figure, its source key and the configuration that reproduces it belong
together and must be reviewable without reading code. The cases live in
``workloads/validation/*.yaml`` (``kind: validation-suite``, a list of ``cases``); the simulated value
of every case is computed by :mod:`imcsim.validate.simulate`, never written in the file.

Roles (``role``):

- ``validation``: held out -- nothing in imcsim was fitted to it. Verdict pass / fail / known deviation.
- ``fitted``: a default (or a configuration choice) was fitted to this figure (calibration), so it is
  NOT evidence of agreement; verdict "fitted".
- ``informative``: shown for context (a comparison whose convention is not the published one).

Bands (``band``):

- ``factor``: silicon macros, ``1/f <= simulated / published <= f`` (f = 2 by default): macro
  models that are not fitted to a chip agree with silicon within ~2x at best (published 28 nm
  digital IMC macros, docs/references.md, spread 17-36 TOPS/W over 28 nm chips of one class).
  Front-end cases (``frontend``: a ratio from :mod:`imcsim.frontend`, sensor card all assumptions)
  use the same factor band.
- ``rounding``: accounting claims, ``|simulated - published| <= step / 2``: the claim is exact
  arithmetic rounded to ``step`` in its own unit (148K: step 1 in K).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.paths import workloads_dir

ROLES = ("validation", "fitted", "informative")
VERDICTS = ("pass", "fail", "known deviation", "fitted", "informative")


class Published(StrictModel):
    """The figure as published, in the unit the comparison is made in."""

    value: float
    unit: str
    tag: Literal["S", "T", "D", "P", "U"]  # S/T/D for numbers; P (paper/code), U (unverified): docs/references.md
    note: str = ""


class Band(StrictModel):
    """Pass band: a factor band for silicon, a rounding band for accounting claims."""

    type: Literal["factor", "rounding"]
    factor: float = Field(2.0, gt=1.0)
    step: float | None = Field(None, gt=0)
    why: str = Field(min_length=1)

    @model_validator(mode="after")
    def _step_for_rounding(self) -> Band:
        if self.type == "rounding" and self.step is None:
            raise ValueError("a rounding band needs step (the rounding unit of the claim)")
        return self

    def contains(self, simulated: float, published: float) -> bool:
        if self.type == "factor":
            if published <= 0 or simulated <= 0:
                return False
            r = simulated / published
            return 1.0 / self.factor <= r <= self.factor
        return abs(simulated - published) <= self.step / 2 * (1 + 1e-12)

    def text(self) -> str:
        if self.type == "factor":
            return f"x{1 / self.factor:g}..x{self.factor:g}"
        return f"+/-{self.step / 2:g} (rounding)"


class MacroSpec(StrictModel):
    """A bit-serial macro configuration (:class:`imcsim.circuit.macro.MacroConfig`) plus activity and
    device overrides. ``sense_amps`` defaults to ``cols`` (no column mux)."""

    device: str
    device_overrides: dict[str, Any] = Field(default_factory=dict)
    rows: int
    cols: int
    rows_parallel: int
    sense_amps: int | None = None
    in_bits: int = 8
    w_bits: int = 8
    bits_per_cell: int | None = None
    node_nm: float = 28.0
    clock_mhz: float = 500.0
    input_density: float | None = None
    and_density: float | None = None
    organisation: Literal["bit_column", "weight_column"] = "bit_column"
    input_bits_per_cycle: Literal[1, 2] = 1
    activity_model: Literal["activity", "data_independent", "toggle"] = "activity"
    pipeline: Literal["auto", "none"] = "auto"
    column_select: Literal["word_line", "local_mux"] = "word_line"


class Calibrates(StrictModel):
    """What a ``fitted`` case calibrates: ``param`` of the card ``device`` (which records the fit in its
    ``calibration:`` block); ``uncalibrated_device`` keeps the value from before the fit.
    ``alternatives``: other cases (other comparison conventions) on which ``--calibrate`` repeats the
    fit, to show how much the fitted value depends on the convention."""

    device: str
    param: str
    uncalibrated_device: str
    alternatives: list[str] = Field(default_factory=list)


class Case(StrictModel):
    """One validation case. ``kind`` picks the simulation (:data:`imcsim.validate.simulate.KINDS`)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.+-]*$")
    title: str
    source: str = Field(min_length=1)        # citation with the reference's source key
    kind: Literal["macro", "macro_ratio", "accounting", "frontend"]
    metric: str
    published: Published
    band: Band
    role: Literal["validation", "fitted", "informative"] = "validation"
    configuration: str = Field(min_length=1)  # the configuration in words: what was set and why
    normalisation: str = ""                   # how the published figure and the model are made comparable
    known_deviation: str | None = None        # cause, when the model is known to fall outside the band
    fast: bool = True                         # runs in the CI test of the suite (all cases are fast today)
    macro: MacroSpec | None = None            # kind macro; numerator of macro_ratio
    baseline: MacroSpec | None = None         # denominator of macro_ratio
    accounting: dict[str, Any] = Field(default_factory=dict)  # kind accounting: the function's arguments
    frontend: dict[str, Any] = Field(default_factory=dict)    # kind frontend: claim + study (imcsim.frontend.claims)
    calibrates: Calibrates | None = None      # role fitted: the card parameter fitted to this case
    file: str = ""

    @model_validator(mode="after")
    def _kind_fields(self) -> Case:
        if self.kind in ("macro", "macro_ratio") and self.macro is None:
            raise ValueError(f"kind {self.kind} needs a macro configuration")
        if self.kind == "macro_ratio" and self.baseline is None:
            raise ValueError("kind macro_ratio needs a baseline macro configuration")
        if self.calibrates is not None and (self.role != "fitted" or self.kind != "macro"):
            raise ValueError("calibrates is allowed only on a macro case with role fitted")
        if self.kind == "accounting" and "claim" not in self.accounting:
            raise ValueError("kind accounting needs accounting.claim (which accounting function)")
        if self.kind == "frontend" and not {"claim", "study"} <= set(self.frontend):
            raise ValueError("kind frontend needs frontend.claim and frontend.study (a front-end study file)")
        return self


class SuiteFile(StrictModel):
    kind: Literal["validation-suite"]
    description: str = ""
    cases: list[Case]


def suite_dir() -> Path:
    """Folder of the built-in validation cases."""
    return workloads_dir() / "validation"


def load_cases(paths: list[Path] | None = None) -> list[Case]:
    """All cases of the suite files (built-in by default), in file then list order; names are unique."""
    files = sorted(suite_dir().glob("*.yaml")) if paths is None else list(paths)
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in files:
        suite = validate(SuiteFile, load_yaml(path), path)
        for i, case in enumerate(suite.cases):
            if case.name in seen:
                raise SpecError(str(path), f"cases.{i}.name", case.name, "a name not used by another case",
                                problem=f"duplicate case (also in {seen[case.name]}):")
            seen[case.name] = str(path)
            case.file = str(path)
            cases.append(case)
    return cases


def select(cases: list[Case], names: list[str] | None) -> list[Case]:
    """The named cases (all when ``names`` is empty); an unknown name is a one-line SpecError."""
    if not names:
        return cases
    by_name = {c.name: c for c in cases}
    out = []
    for n in names:
        if n not in by_name:
            import difflib

            near = [c for c in by_name if n in c][:3] or difflib.get_close_matches(n, list(by_name), n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise SpecError("<flags>", "--case", n, f"a case of `imcsim validate --list`{hint}",
                            problem="unknown validation case")
        out.append(by_name[n])
    return out
