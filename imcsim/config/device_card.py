"""Device cards: YAML files in ``devices/`` that give every cell parameter with its unit, tag and source.

A card is validated in two stages so that every mistake is reported as one line naming the file and
the dotted field: first the file's shape (:class:`CardFile`), then, after ``inherits`` is resolved,
the parameters and options of its technology (one strict model per write physics below). Units are
fixed per parameter (the name carries the unit too); a card that states another unit is rejected
rather than silently converted.

Card lookup lives here (not in :mod:`imcsim.device`) so that other specs, e.g. a study, can check a
device name without importing the cost models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field

from imcsim.config.annotations import literal_values
from imcsim.config.inherit import deep_merge, walk_chain
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.paths import devices_dir

TAGS = ("S", "T", "D", "A")
PRESET_PREFIX = "acc-"  # accelerator presets share devices/ and are not device cards
OVERRIDES_FILE = "<overrides>"
Tag = Literal["S", "T", "D", "A"]
M = TypeVar("M", bound=StrictModel)


# --------------------------------------------------------------------------------------------------
# Stage 1: the file as written (a child card may leave out unit; it is taken from the parent).


class ParamEntry(StrictModel):
    """One parameter as written in a card. ``unit`` may be omitted only by an inheriting card."""

    # +inf passes here and is refused in stage 2 by every parameter but the unlimited ones
    unlimited_fields: ClassVar[frozenset[str]] = frozenset({"value"})

    value: float = Field(description="the number, in the parameter's unit")
    unit: str | None = Field(None, description="the parameter's one allowed unit (inheriting cards may omit it)")
    tag: Tag = Field(description="provenance: S silicon, T tool default, D derived, A assumption")
    source: str = Field(min_length=1, description="where the number comes from: [KEY] citations "
                                                  "(docs/references.md) and the arithmetic of a D value")


class CardFile(StrictModel):
    """The top level of a device card file."""

    kind: Literal["device"] = Field(description="marks a device card (devices/ also holds presets)")
    name: str | None = Field(None, description="card name (default: the file name)")
    technology: str | None = Field(
        None, description="device model (a registered technology); inherited if omitted (parameters per "
                          "technology below)")
    inherits: str | None = Field(None, description="a built-in card name or a path relative to this file")
    description: str = Field("", description="one line shown in tables")
    provenance: str | None = Field(None, description="what is measured and what is assumed (inherited if omitted)")
    options: dict[str, str] = Field(default_factory=dict, description="model options, checked per technology")
    params: dict[str, ParamEntry] = Field(default_factory=dict, description="parameter name -> {value, unit, tag, source}")
    # parameter -> record of its fit to silicon (fitted_to, method, residual, date); read by imcsim validate
    calibration: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="parameter -> record of its fit to silicon (read by imcsim validate)")


# --------------------------------------------------------------------------------------------------
# Stage 2: the resolved parameters, one model per technology, with per-parameter constraints.


class Param(StrictModel):
    """A resolved parameter: value, unit, provenance tag (S/T/D/A) and source."""

    value: float
    unit: str
    tag: Tag
    source: str = Field(min_length=1)


class PositiveParam(Param):
    value: float = Field(gt=0)


class NonNegParam(Param):
    value: float = Field(ge=0)


class FractionParam(Param):
    value: float = Field(ge=0, le=1)


class UnlimitedParam(PositiveParam):
    """A positive limit that may be ``.inf``: no limit (an SRAM cell does not wear out)."""

    unlimited_fields: ClassVar[frozenset[str]] = frozenset({"value"})


class CountParam(Param):
    value: int = Field(gt=0)


class BitsPerCellParam(Param):
    value: int = Field(ge=1, le=4)


def param_field(unit: str, description: str) -> Any:
    """Field metadata: the one unit a parameter may be given in, and what it means."""
    return Field(description=description, json_schema_extra={"unit": unit})


class CommonParams(StrictModel):
    """Parameters every device has: read/compute, area, leakage, reliability, write parallelism."""

    read_energy_per_bit_fj: NonNegParam = param_field("fJ", "one sensed bit: cell + bit line")
    read_latency_ns: PositiveParam = param_field("ns", "one read (sense) of a cell")
    sense_amp_energy_fj: NonNegParam = param_field("fJ", "sense-amplifier latch, per sense")
    and_energy_factor: PositiveParam = param_field("1", "x read energy for an in-memory AND (input-gated read)")
    cell_area_f2: PositiveParam = param_field("F2", "area of one cell in F^2 (F = node)")
    cell_leakage_nw: NonNegParam = param_field("nW", "leakage of one cell (one bit for 1 bit/cell) at 22 nm; "
                                                     "scaled to the node by imcsim.technology.sram_leakage_at")
    endurance_cycles: UnlimitedParam = param_field("cycles", "write cycles (ReRAM: program pulses) a cell "
                                                    "survives (.inf: no wear-out)")
    retention_years: NonNegParam = param_field("years", "data retention (0 = volatile)")
    write_drivers: CountParam = param_field("1", "write units driven at once (groups, bits or columns)")


class MramOptions(StrictModel):
    """Options every device model takes."""

    write_policy: Literal["all", "diff"] = Field("all", description="rewrite every bit of an updated weight, "
                                                                   "or read first and write only flipped bits")


#: the base of every technology's options model (its name is historical)
DeviceOptions = MramOptions


def _registry():
    """The device-technology registry (imcsim.device.registry), imported on first use: a technology
    declares its parameter and option models on its model class, so this module reads them from there."""
    from imcsim.device.registry import technologies

    return technologies()


def technology_names() -> list[str]:
    """Names a card's ``technology`` may take (every registered device model)."""
    return list(_registry())


def params_model(technology: str) -> type[CommonParams]:
    """The parameter model of a technology (units, ranges, meanings of its card's params)."""
    return _registry()[technology].params


def options_model(technology: str) -> type[MramOptions]:
    """The options model of a technology."""
    return _registry()[technology].options


def param_unit(technology: str, name: str) -> str | None:
    """The unit a parameter of ``technology`` must be given in (None if the name is unknown)."""
    info = params_model(technology).model_fields.get(name)
    return None if info is None else (info.json_schema_extra or {}).get("unit")


# --------------------------------------------------------------------------------------------------
# The resolved card.


class ParamLookup:
    """``param(name)`` / ``value(name)`` over a card's ``params`` model (device and sensor cards)."""

    params: StrictModel

    def param(self, name: str) -> Param:
        value = getattr(self.params, name, None)
        if not isinstance(value, Param):
            raise KeyError(name)
        return value

    def value(self, name: str) -> float:
        return self.param(name).value


class DeviceCard(ParamLookup, StrictModel):
    """A validated, inheritance-resolved device card.

    ``chain`` lists the card files from this one up to its root; ``defined_in`` says which card of the
    chain set each parameter (so ``imcsim devices show`` can say where a value comes from).
    """

    name: str
    technology: str
    description: str
    provenance: str
    file: str
    chain: list[str]
    options: MramOptions
    params: CommonParams
    defined_in: dict[str, str]

    def param_names(self) -> list[str]:
        return list(type(self.params).model_fields)


# --------------------------------------------------------------------------------------------------
# Lookup and loading.


def builtin_card_names() -> list[str]:
    """Names of the built-in device cards (``devices/*.yaml`` other than accelerator presets)."""
    return sorted(p.stem for p in devices_dir().glob("*.yaml") if not p.stem.startswith(PRESET_PREFIX))


def looks_like_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml"))


def resolve_card_path(ref: str, base_dir: Path | None = None, *, file: str = "<flags>",
                      field: str = "device") -> Path:
    """Turn a built-in name or a path (relative to ``base_dir``) into a card file path.

    An unknown name is a SpecError listing the known ones; a path that does not exist is reported
    by :func:`load_yaml` when the card is read.
    """
    if looks_like_path(ref):
        path = Path(ref).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path
    if ref.startswith(PRESET_PREFIX):
        raise SpecError(file, field, ref, ", ".join(builtin_card_names()),
                        problem="is an accelerator preset, not a device card:")
    path = devices_dir() / f"{ref}.yaml"
    if not _is_file(path):
        raise SpecError(file, field, ref, ", ".join(builtin_card_names()) + " or a path to a card",
                        problem="unknown device")
    return path


def _is_file(path: Path) -> bool:
    """``is_file`` that says False for a name the file system refuses (too long, NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_card(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> DeviceCard:
    """Load, resolve and validate a device card; ``overrides`` maps parameter or option names to values.

    An override value is either a number (it replaces the value; the tag becomes A and the source
    ``override``) or a full ``{value, unit, tag, source}`` mapping; option overrides are strings.
    """
    ref = str(name_or_path)
    path = resolve_card_path(ref) if not isinstance(name_or_path, Path) else name_or_path
    chain, merged = resolve_card_chain(path)
    root_tech = merged["technology"]
    if overrides:
        _apply_overrides(merged, overrides, root_tech)
    return _build(merged, chain)


def resolve_card_chain(path: Path, *, file_model: type[CardFile] = CardFile,
                       find_parent: Callable[..., Path] = resolve_card_path,
                       unit_of: Callable[[str, str], str | None] | None = None) -> tuple[list[str], dict[str, Any]]:
    """Read ``path`` and its ancestors (:func:`imcsim.config.inherit.walk_chain`); return the chain (card
    files, child first) and the merged raw content, with the card that set each parameter.

    Other sourced cards (sensor cards, :mod:`imcsim.frontend.card`) resolve through this same function
    with their own ``file_model`` (a :class:`CardFile` subclass fixing ``kind`` and ``technology``),
    parent lookup and unit table, so every card kind inherits and reports errors the same way.
    """
    unit_of = unit_of or param_unit

    def parent(card: CardFile, file: Path) -> tuple[str, Path] | None:
        if card.inherits is None:
            return None
        return card.inherits, find_parent(card.inherits, file.parent, file=str(file), field="inherits")

    links = walk_chain(path, lambda p: validate(file_model, load_yaml(p), p), parent)
    root, root_file = links[-1].card, str(links[-1].file)
    known = literal_values(file_model.model_fields["technology"].annotation) or technology_names()
    if root.technology is None:
        raise SpecError(root_file, "technology", problem="missing required field", allowed=", ".join(known))
    if root.technology not in known:  # device cards: any registered technology (imcsim.device.registry)
        raise SpecError(root_file, "technology", root.technology, problem="unknown device technology",
                        allowed=", ".join(known))
    if root.provenance is None:
        raise SpecError(root_file, "provenance", problem="missing required field",
                        allowed="a one-line summary of what is measured and what is assumed")
    merged: dict[str, Any] = {"technology": root.technology, "options": {}, "params": {}, "defined_in": {},
                              "option_files": {}, "files": {}}
    for link in reversed(links):  # root first: each card overrides what its parents set
        card, file, label = link.card, str(link.file), link.file.stem
        if card.technology is not None and card.technology != merged["technology"]:
            raise SpecError(file, "technology", card.technology, merged["technology"],
                            problem="differs from the inherited card's technology:")
        merged["name"] = card.name or label
        merged["description"] = card.description or merged.get("description", "")
        merged["provenance"] = card.provenance or merged.get("provenance", "")
        merged["file"] = file
        merged["options"] = deep_merge(merged["options"], card.options)
        merged["option_files"].update(dict.fromkeys(card.options, file))
        for name, entry in card.params.items():
            if entry.unit is None and "unit" not in merged["params"].get(name, {}):
                raise SpecError(file, f"params.{name}.unit", problem="missing required field",
                                allowed=f"{unit_of(merged['technology'], name) or 'the parameter unit'}"
                                        " (only an inheriting card may leave it out)")
        merged["params"] = deep_merge(merged["params"], {name: entry.model_dump(exclude_none=True)
                                                         for name, entry in card.params.items()})
        merged["defined_in"].update(dict.fromkeys(card.params, label))
        merged["files"].update(dict.fromkeys(card.params, file))
    return [str(link.file) for link in links], merged


def _apply_overrides(merged: dict[str, Any], overrides: dict[str, Any], technology: str) -> None:
    options_fields = options_model(technology).model_fields
    for name, value in overrides.items():
        if name in options_fields:
            merged["options"][name] = value
            merged.setdefault("option_files", {})[name] = OVERRIDES_FILE
            continue
        if isinstance(value, dict):
            entry = validate(ParamEntry, value, OVERRIDES_FILE, prefix=name)
            new = dict(merged["params"].get(name, {}))
            new.update(entry.model_dump(exclude_none=True))
        else:
            new = dict(merged["params"].get(name, {"unit": param_unit(technology, name)}))
            new.update(value=value, tag="A", source="override")
        merged["params"][name] = new
        merged["defined_in"][name] = "override"
        merged.setdefault("files", {})[name] = OVERRIDES_FILE


def _build(merged: dict[str, Any], chain: list[str]) -> DeviceCard:
    technology = merged["technology"]
    params = validate_params(merged, chain, params_model(technology))
    try:
        options = validate(options_model(technology), merged["options"], chain[0], prefix="options")
    except SpecError as exc:  # name the card (or overrides) that set the bad option
        key = (exc.field or "").split(".")[1] if "." in (exc.field or "") else ""
        file = merged.get("option_files", {}).get(key, chain[0])
        raise SpecError(file, exc.field, exc.value, exc.allowed, problem=exc.problem) from None
    return DeviceCard(name=merged["name"], technology=technology, description=merged["description"],
                      provenance=merged["provenance"], file=merged["file"], chain=chain,
                      options=options, params=params, defined_in=merged["defined_in"])


def validate_params(merged: dict[str, Any], chain: list[str], params_model: type[M]) -> M:
    """The merged parameters of a resolved card as ``params_model``, each checked for its one unit.

    Validated one by one first so that an error names the card file that set the bad value.
    """
    files: dict[str, str] = merged.get("files", {})
    for name, entry in merged["params"].items():
        if name not in params_model.model_fields:
            # Let the whole-model validation below produce the did-you-mean message.
            validate(params_model, merged["params"], files.get(name, chain[0]), prefix="params")
        info = params_model.model_fields[name]
        validate(info.annotation, entry, files.get(name, chain[0]), prefix=f"params.{name}")
        unit = (info.json_schema_extra or {}).get("unit")
        if entry.get("unit") != unit:
            raise SpecError(files.get(name, chain[0]), f"params.{name}.unit", entry.get("unit"), unit,
                            problem="wrong unit")
    return validate(params_model, merged["params"], chain[-1], prefix="params")
