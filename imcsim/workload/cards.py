"""Workload cards: ``workloads/<name>.yaml`` names a network and its options, so users can add their own.

A card names either a zoo model (``model:``) or a file to import (``file:``, relative to the card:
a SCALE-Sim topology CSV or an ONNX model), plus default options, a description and a source::

    name: mobilenetv2
    description: MobileNetV2 1.0, torchvision layout
    source: Sandler et al., CVPR 2018; torchvision mobilenetv2.py; [MOBILENETV2]
    model: mobilenetv2
    options: {resolution: 224, classes: 1000, batch: 1, width: 1.0}

:func:`load_workload` builds the graph from a card name, a card path, a zoo model name, or a
``.csv``/``.onnx`` path, with keyword overrides of the options (``None`` means "keep the card's").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.paths import workloads_dir
from imcsim.workload import zoo
from imcsim.workload.graph import Graph

#: Options only the importers take (the zoo builders take the others).
_IMPORT_OPTIONS = {"scalesim": ("batch", "depthwise"), "onnx": ("batch", "input_shape")}


class WorkloadOptions(StrictModel):
    """Build options; which ones a model accepts depends on the model (``zoo.options(name)``)."""

    resolution: PositiveInt | None = Field(None, description="input height = width, pixels")
    classes: PositiveInt | None = Field(None, description="classifier outputs")
    batch: PositiveInt | None = Field(None, description="samples per step (recorded in graph.meta)")
    width: PositiveFloat | None = Field(None, description="width multiplier (MobileNets)")
    seq_len: PositiveInt | None = Field(None, description="encoder tokens (T5)")
    dec_len: PositiveInt | None = Field(None, description="decoder tokens (T5)")
    layers: PositiveInt | None = Field(None, description="transformer layers (T5, ViT)")
    bn: bool | None = Field(None, description="batch norm after every conv (VGG)")
    depthwise: Literal["dense", "lumped"] | None = Field(None, description="SCALE-Sim depthwise reading")
    input_shape: list[PositiveInt] | None = Field(None, description="ONNX per-sample input shape")
    kind: str | None = Field(None, description="skipnet cell kind: densenet, resnet or mobilenet")
    cells: PositiveInt | None = Field(None, description="skipnet cells")
    depth: PositiveInt | list[PositiveInt] | None = Field(None, description="skipnet layers per cell")
    channels: PositiveInt | list[PositiveInt] | None = Field(None, description="skipnet channels per layer, per cell")
    skips: NonNegativeInt | list[NonNegativeInt] | None = Field(None, description="skipnet long-range links per layer")
    kernel: PositiveInt | None = Field(None, description="skipnet conv kernel size")
    stem: PositiveInt | None = Field(None, description="skipnet stem channels")
    expand: PositiveInt | None = Field(None, description="skipnet inverted-residual expansion")

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class WorkloadCard(StrictModel):
    """A workload card: a zoo model or an imported file, with its source and default options."""

    name: str = Field(min_length=1, description="card name (equals the file name for built-in cards)")
    description: str = Field(min_length=1, description="one line shown in tables")
    source: str = Field(min_length=1, description="where the architecture and its numbers come from")
    model: str | None = Field(None, description="a zoo model name")
    file: str | None = Field(None, description="a SCALE-Sim CSV or ONNX file, relative to the card")
    format: Literal["scalesim", "onnx"] | None = Field(None, description="file format (default: from the suffix)")
    options: WorkloadOptions = Field(default_factory=WorkloadOptions, description="default build options")

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadCard:
        if (self.model is None) == (self.file is None):
            raise ValueError("give exactly one of 'model' (a zoo name) or 'file' (a .csv/.onnx path)")
        return self


def list_workloads() -> list[str]:
    """Names of the built-in workload cards (``workloads/*.yaml``)."""
    return sorted(p.stem for p in workloads_dir().glob("*.yaml"))


def card_path(name: str) -> Path:
    return workloads_dir() / f"{name}.yaml"


def load_card(name_or_path: str | Path) -> tuple[WorkloadCard, Path]:
    """The validated card and its path, from a built-in name or a YAML path."""
    path = _card_file(str(name_or_path))
    if path is None:
        raise _unknown(str(name_or_path))
    card = validate(WorkloadCard, load_yaml(path), path)
    if path.parent == workloads_dir() and card.name != path.stem:
        raise SpecError(str(path), "name", card.name, problem="does not match the file name",
                        allowed=path.stem)
    if card.model is not None and card.model not in zoo.names():
        raise SpecError(str(path), "model", card.model, problem="unknown zoo model", allowed=", ".join(zoo.names()))
    return card, path


def load_workload(name_or_path: str | Path, **overrides: Any) -> Graph:
    """Build a workload: a card name or path, a zoo model name, or a ``.csv``/``.onnx`` file.

    ``overrides`` (``resolution``, ``classes``, ``batch``, ``seq_len``, ...) replace the card's options;
    ``None`` values are ignored. An unknown name is a SpecError listing the known ones.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    flags = validate(WorkloadOptions, given, "<flags>").given() if given else {}
    text = str(name_or_path)
    suffix = Path(text).suffix.lower()
    if suffix in (".csv", ".onnx") and _card_file(text) is None:
        return _import(Path(text), None, flags, "<flags>")
    card_file = _card_file(text)
    if card_file is None:
        if text in zoo.names():
            graph = zoo.build(text, **flags)
            graph.meta.setdefault("workload", text)
            return graph
        raise _unknown(text)
    card, path = load_card(card_file)
    options = {**card.options.given(), **flags}
    if card.file is not None:
        graph = _import(path.parent / card.file, card.format, options, str(path), set(flags))
    else:
        try:
            graph = zoo.build(card.model, **options)
        except SpecError as exc:
            where = "<flags>" if exc.field in flags else str(path)
            field = exc.field if where == "<flags>" or exc.field == "workload" else f"options.{exc.field}"
            raise SpecError(where, field, exc.value, exc.allowed, exc.problem) from None
    graph.meta.update(workload=card.name, card=str(path), description=card.description, card_source=card.source)
    return graph


# ---------------------------------------------------------------------------- internals
def _card_file(text: str) -> Path | None:
    p = Path(text)
    if p.suffix.lower() in (".yaml", ".yml"):
        return p if p.exists() else None
    if "/" not in text and "\\" not in text:
        builtin = card_path(text)
        if builtin.is_file():
            return builtin
    return None


def _unknown(text: str) -> SpecError:
    if Path(text).suffix.lower() in (".yaml", ".yml"):
        return SpecError(text, None, problem="file does not exist")
    known = sorted(set(list_workloads()) | set(zoo.names()))
    return SpecError(None, "workload", text, problem="unknown workload",
                     allowed=", ".join(known) + ", a card .yaml, or a .csv/.onnx file")


def _import(path: Path, fmt: str | None, options: dict[str, Any], where: str,
            flag_keys: set[str] | None = None) -> Graph:
    from imcsim.workload.importers import FORMATS, import_file

    kind = fmt or FORMATS.get(path.suffix.lower())
    allowed = _IMPORT_OPTIONS.get(kind or "", ("batch",))
    for key, value in options.items():
        if key not in allowed:
            from_flags = flag_keys is None or key in flag_keys
            raise SpecError("<flags>" if from_flags else where, key if from_flags else f"options.{key}", value,
                            problem=f"option does not apply to a {kind or 'file'} workload:",
                            allowed=", ".join(allowed))
    batch = options.pop("batch", 1)
    if "input_shape" in options:
        options["input_shape"] = tuple(options["input_shape"])
    graph = import_file(path, fmt, **options)
    graph.meta["batch"] = batch
    graph.meta.setdefault("workload", path.stem)
    return graph
