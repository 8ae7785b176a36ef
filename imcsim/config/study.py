"""The study spec: which device, accelerator, workload and training method, and the run options.

What it checks: the shape of the file, value ranges of the options, and that the device names a
built-in card or an existing card file (a path is resolved relative to the study file and the card
itself is validated). Workload, method and accelerator names are checked when the engine builds them.

A study also has a *flat* form, one key per sweepable field (``device``, ``rows``, ``method``,
``write_policy``, ``workload.resolution``, ``chip.tiles`` ...): :func:`study_from_params` builds a
Study from it and :func:`flat_field_types` lists its fields for the sweep spec, so that
``imcsim sweep --rows 64,128 --device sas-mram,reram`` and a study file speak the same names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from imcsim.circuit.gates import NODE_MAX_NM, NODE_MIN_NM
from imcsim.config.device_card import builtin_card_names, load_card, looks_like_path, resolve_card_path
from imcsim.config.inherit import deep_merge
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError


class NamedSpec(StrictModel):
    """A thing chosen by name with free-form options (validated by the package that owns it)."""

    name: str = Field(min_length=1, description="built-in name, card name or card path")
    options: dict[str, Any] = Field(default_factory=dict, description="options checked by the owner: workload options or the method's options (tables below)")


def _named(value: Any) -> Any:
    """``workload: resnet18`` is shorthand for ``workload: {name: resnet18}``."""
    return {"name": value} if isinstance(value, str) else value


class MacroOverrides(StrictModel):
    """Macro geometry that overrides the accelerator preset (the common sweep axes)."""

    rows: int | None = Field(None, gt=0, description="cell rows of one macro (default: the preset's)")
    cols: int | None = Field(None, gt=0, description="cell columns of one macro (default: the preset's)")
    rows_parallel: int | None = Field(None, gt=0, description="rows summed per cycle by one adder tree")
    column_mux: int | None = Field(None, gt=0, description="columns sharing one sense amplifier")
    bits_per_cell: int | None = Field(None, ge=1, le=4, description="bits stored per cell (multi-level cells)")
    in_bits: int | None = Field(None, ge=1, le=8, description="input (activation) bits, fed bit-serially")
    w_bits: int | None = Field(None, ge=1, le=8, description="weight bits")

    def dotted(self) -> dict[str, Any]:
        return {f"macro.{k}": v for k, v in self.__dict__.items() if v is not None}


class StudyOptions(StrictModel):
    """Run options shared by every engine."""

    write_policy: Literal["all", "diff"] = Field("all", description="rewrite every bit, or only flipped bits")
    activity: float = Field(0.5, ge=0, le=1, description="default input-bit activity when no functional run")
    flip_prob: float = Field(0.5, ge=0, le=1, description="probability a weight bit flips in an update")
    seed: int = Field(0, ge=0, description="seed of every random draw (results are deterministic)")
    steps_per_day: float = Field(1000.0, gt=0, description="training steps per day, for lifetime [A]")
    batch_size: int | None = Field(None, gt=0, description="samples per step (default: the workload card's batch)")
    node_nm: float | None = Field(None, ge=NODE_MIN_NM, le=NODE_MAX_NM,
                                  description="technology node, 3-180 nm; overrides the accelerator preset")
    backward: Literal["transposed-array", "digital", "transposed-copy"] = Field(
        "transposed-array", description="where the backward-error MVM runs: the same array read transposed, "
                                        "the tile's digital unit, or a second transposed copy of the weights")
    wgrad: Literal["array", "digital"] = Field("array", description=(
        "where the weight gradient (activation x error) of a trained conv/linear runs: on bit-serial SRAM scratch "
        "macros (the batch's INT8 errors written in as the stationary operand, the activation codes streamed; "
        "as imcsim train --wgrad array executes it), or as a GEMM on the tile digital units"))
    replicate: bool = Field(False, description="copy bottleneck layers into spare macros to balance the pipeline")
    steps_per_task: int = Field(1000, gt=0, description="training steps to learn one new task (compare) [A]")
    dataset_size: int = Field(10000, gt=0, description="samples per epoch (compare) [A]")
    measured: str | None = Field(None, min_length=1, description=(
        "run folder written by imcsim infer/train: its measured per-layer activity (and toggles), executed "
        "weight updates and final weights replace activity, flip_prob and the reload flips for what it ran"))
    error_bits: Literal[8, 16] = Field(8, description=(
        "width of the training errors driven into the arrays: 8, or 16 run as two 8-bit passes (signed high "
        "byte, unsigned low byte, shifted and added), as imcsim train --error-bits 16 executes them"))
    master_copy: Literal["none", "int16", "fp32"] = Field("none", description=(
        "higher-precision master weights kept digitally in SRAM during training (read and written at every "
        "update; the INT8 copy is written to the arrays): none, int16 or fp32"))


class Study(StrictModel):
    """One evaluation: device + accelerator + workload + method + options.

    ``device`` replaces the preset's macro device; without ``accelerator`` the preset ``acc-<device>``
    is used when it exists, else ``acc-sas-mram`` (every preset shares chip and periphery); a result
    on that fallback chip says so in its first assumption and its ``accelerator`` field
    (:func:`imcsim.engine.context.fallback_note`).
    """

    name: str | None = Field(None, description="run name (files are prefixed with it when a study has several runs)")
    device: str | None = Field(None, min_length=1, description="built-in device card name or a card path")
    accelerator: str | None = Field(None, description="accelerator preset name (devices/acc-*.yaml) or path")
    macro: MacroOverrides = Field(default_factory=MacroOverrides)
    accelerator_overrides: dict[str, Any] = Field(
        default_factory=dict, description="dotted accelerator fields, e.g. chip.tiles: 32")
    workload: NamedSpec = Field(description="network: `workload: resnet18` or `{name: resnet18, options: {...}}`")
    method: NamedSpec = Field(default_factory=lambda: NamedSpec(name="inference"),
                              description="training method: a name or `{name: repnet, options: {...}}`")
    engine: Literal["analytic", "event"] = Field(
        "analytic", description="timing engine: analytic bound, or the SimPy event engine (contention, trace)")
    options: StudyOptions = Field(default_factory=StudyOptions)

    _named_workload = field_validator("workload", mode="before")(lambda cls, v: _named(v))
    _named_method = field_validator("method", mode="before")(lambda cls, v: _named(v))

    def flat(self) -> dict[str, Any]:
        """The flat form (see module docstring): what a sweep row records about its study."""
        out: dict[str, Any] = {"device": self.device, "accelerator": self.accelerator,
                               "workload": self.workload.name, "method": self.method.name, "engine": self.engine}
        # the fields' values as they are (all scalars: what model_dump gives, without its copy per point)
        out.update({k: v for k, v in self.macro.__dict__.items() if v is not None})
        out.update(self.options.__dict__)
        out.update({f"workload.{k}": v for k, v in self.workload.options.items()})
        out.update({f"method.{k}": v for k, v in self.method.options.items()})
        out.update(self.accelerator_overrides)
        return out


#: Prefixes of flat keys that go into the accelerator overrides.
_ACCEL_PREFIXES = ("chip.", "tile.", "macro.")
#: the flat keys of the macro and the options sections (pydantic's ``model_fields`` costs ~2 us a look-up)
_MACRO_KEYS = frozenset(MacroOverrides.model_fields)
_OPTION_KEYS = frozenset(StudyOptions.model_fields)


def flat_field_types() -> dict[str, Any]:
    """Flat field name -> type, for the sweep spec (``workload.*``, ``method.*``, ``chip.*`` and
    ``tile.*`` keys are accepted too, typed by the package that reads them)."""
    types: dict[str, Any] = {"name": str, "device": str, "accelerator": str, "workload": str, "method": str,
                             "engine": Study.model_fields["engine"].annotation}
    for model in (MacroOverrides, StudyOptions):
        for key, info in model.model_fields.items():
            types[key] = info.annotation
    types["batch"] = StudyOptions.model_fields["batch_size"].annotation
    return types


def study_from_params(params: dict[str, Any], file: str = "<params>") -> Study:
    """Build a Study from its flat form (a sweep point); unknown keys are a SpecError."""
    top: dict[str, Any] = {"workload": {"name": "resnet18", "options": {}}, "method": {"name": "inference",
                                                                                        "options": {}},
                           "macro": {}, "options": {}, "accelerator_overrides": {}}
    for key, value in params.items():
        if key in ("name", "device", "accelerator", "engine"):
            top[key] = value
        elif key in ("workload", "method"):
            top[key]["name"] = value
        elif key.startswith("workload.") or key.startswith("method."):
            head, _, opt = key.partition(".")
            if opt.startswith("options."):  # the YAML nesting typed as a flat field
                short = f"{head}.{opt.removeprefix('options.')}"
                raise SpecError(file, key, problem=f"the flat form has no 'options' level (did you mean "
                                f"{short!r}?)", allowed=f"{head}.<option>, e.g. {short}")
            top[head]["options"][opt] = value
        elif key in _MACRO_KEYS:
            top["macro"][key] = value
        elif key == "batch":
            top["options"]["batch_size"] = value
        elif key in _OPTION_KEYS:
            top["options"][key] = value
        elif key.startswith(_ACCEL_PREFIXES):
            top["accelerator_overrides"][key] = value
        else:
            import difflib

            known = sorted(flat_field_types())
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise SpecError(file, key, problem=f"unknown study field{hint}",
                            allowed=", ".join(known) + ", workload.*, method.*, chip.*, tile.*")
    return validate(Study, top, file)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; the device is checked and a card path made absolute."""
    path = Path(path)
    data = load_yaml(path)
    data.pop("sweep", None)  # a study file may carry a sweep section (read by imcsim.sweep)
    data.pop("report", None)
    study = validate(Study, data, path)
    if study.device is None:
        return study
    card_path = resolve_card_path(study.device, path.parent, file=str(path), field="device")
    if looks_like_path(study.device):
        if not card_path.is_file():
            raise SpecError(str(path), "device", study.device, problem="card file does not exist:",
                            allowed=f"a built-in device ({', '.join(builtin_card_names())}) or a card path")
        study.device = str(card_path.resolve())
    load_card(card_path)
    return study


class StudyFile(StrictModel):
    """What a study YAML holds: one study, or several ``runs`` that override a shared base, plus an
    optional ``sweep`` section (axes and filters, read by :mod:`imcsim.sweep`)."""

    path: str
    description: str = ""
    runs: list[tuple[str, Study]]
    sweep: dict[str, Any] | None = None


def load_study_file(path: str | Path) -> StudyFile:
    """Read a study file: the base study, each of its ``runs`` merged over it, and its sweep section."""
    path = Path(path)
    data = load_yaml(path)
    if "frontend" in data:  # an in-sensor front-end study (imcsim.frontend.spec), not an accelerator study
        raise SpecError(str(path), "frontend", "...", problem="this is a front-end study; run it with",
                        allowed=f"imcsim sensor {path}")
    description = str(data.pop("description", "") or "")
    sweep = data.pop("sweep", None)
    data.pop("report", None)
    runs = data.pop("runs", None)
    if sweep is not None and not isinstance(sweep, dict):
        raise SpecError(str(path), "sweep", sweep, problem="must be a mapping", allowed="axes:, filters:")
    if runs is None:
        runs = [{}]
    if not isinstance(runs, list) or not runs:
        raise SpecError(str(path), "runs", runs, problem="must be a non-empty list of studies")
    out: list[tuple[str, Study]] = []
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise SpecError(str(path), f"runs[{i}]", run, problem="must be a mapping")
        merged = deep_merge(data, run)
        study = validate(Study, merged, path, prefix=f"runs[{i}]" if len(runs) > 1 else "")
        if study.device is not None:
            card_path = resolve_card_path(study.device, path.parent, file=str(path), field="device")
            if looks_like_path(study.device):
                study.device = str(card_path.resolve())
            load_card(card_path)
        name = study.name or (f"{study.workload.name}-{study.method.name}" if len(runs) > 1 else "")
        out.append((name, study))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise SpecError(str(path), "runs", names, problem="run names must differ")
    return StudyFile(path=str(path), description=description, runs=out, sweep=sweep)
