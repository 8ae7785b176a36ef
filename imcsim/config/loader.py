"""YAML in, validated pydantic models out, and every failure as one :class:`SpecError` line.

All spec files (device cards, accelerator presets, workload/method cards, studies, sweeps) go
through :func:`load_yaml` and :func:`validate`, so they all report errors the same way:
the file, the dotted field, the bad value and what is allowed (with a did-you-mean for unknown keys).
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator

from imcsim.config.annotations import element, nested_model, scalar_type
from imcsim.errors import SpecError

M = TypeVar("M", bound=BaseModel)

# libyaml's C parser when PyYAML was built with it (same safe semantics, ~10x faster)
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Bounds on what a spec file may hold, so a small hostile file cannot make us hang or eat memory.
MAX_YAML_BYTES = 4 * 2**20      # a spec is a few KiB; the biggest built-in file is far below this
MAX_YAML_NODES = 200_000        # values after alias expansion (a 1 KB alias bomb expands to 10^9)
MAX_YAML_DEPTH = 64             # nesting levels (a self-referencing alias nests forever)
#: One bound for every number in every spec (cards, presets, studies, flags): finite, and small
#: enough that products of a few of them stay finite in float64. Individual fields add tighter ones.
MAX_MAGNITUDE = 1e30  # (spelled out in _NUMBER_RULE)
#: ... and a number that is not 0 is at least this large in magnitude: a port width, bandwidth or rate of
#: 1e-300 divides into an infinite latency or energy (nothing physical is that small in the spec's units)
MIN_MAGNITUDE = 1e-30


class _UniqueKeyLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, except that a key given twice in one mapping is an error (not "last wins")."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base" then overrides is allowed
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping)


class FieldRule(ValueError):
    """A cross-field rule broken inside a model validator: names the field (relative to the model that
    raises it), the value and what is allowed, so the one-line error points at that field."""

    def __init__(self, field: str, value: Any, allowed: str, problem: str = "bad value") -> None:
        self.field, self.value, self.allowed, self.problem = field, value, allowed, problem
        super().__init__(f"{field}={value!r}: {problem}; allowed: {allowed}")


_NUMBER_RULE = "a finite number of magnitude at most 1e30 (and, unless 0, at least 1e-30)"


def check_number(value: Any) -> Any:
    """A number is finite and within :data:`MAX_MAGNITUDE`; containers are checked element by element.

    Raised as ValueError so pydantic (and :func:`spec_error_from`) names the field that holds it; a
    number inside a dict or list is named by its key path too.
    """
    kind = type(value)
    if kind is str or value is None or kind is bool:   # most fields: nothing to walk (a sweep checks them per point)
        return value
    if (kind is int or kind is float) and (value == 0 or MIN_MAGNITUDE <= abs(value) <= MAX_MAGNITUDE):
        return value   # finite and in bounds (a NaN fails both comparisons, so it is checked below)
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        v, where = stack.pop()
        if isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        if isinstance(v, (int, float)):
            if (isinstance(v, float) and not math.isfinite(v)) or abs(v) > MAX_MAGNITUDE or 0 < abs(v) < MIN_MAGNITUDE:
                raise ValueError(_NUMBER_RULE + (f" (got {v!r} at {where.lstrip('.')})" if where else ""))
        elif isinstance(v, dict):
            stack.extend((item, f"{where}.{k}") for k, item in v.items())
        elif isinstance(v, (list, tuple)):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(v))
    return value


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are checked on assignment too, and
    every number (in any field, also inside free-form option dicts) is finite and bounded, so a
    subclass's new fields get that check without doing anything."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
    #: fields where +inf is a meaning, not an accident ("no limit": an SRAM cell's endurance)
    unlimited_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _finite_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if value == math.inf and info.field_name in cls.unlimited_fields:
            return value
        return check_number(value)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """``rows: true`` is a typo, not 1: pydantic's lax mode would read a boolean as 1 or 0 in an int or
        float field (and the error, if any, would then blame the wrong thing). One scan of the input per model
        (not a validator per field: sweeps validate many specs)."""
        if isinstance(data, dict):
            numeric = _numeric_fields(cls)
            for key, value in data.items():
                if value.__class__ is bool and key in numeric:
                    raise FieldRule(key, value, "a number (true/false is not one)")
        return data


_NUMERIC: dict[type, frozenset[str]] = {}


def _numeric_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names of ``model``'s int and float fields (optional ones too), once per model class."""
    names = _NUMERIC.get(model)
    if names is None:
        names = _NUMERIC[model] = frozenset(
            name for name, info in model.model_fields.items() if scalar_type(info.annotation) in (int, float))
    return names


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, a parse error (with its line) or a non-mapping is a SpecError."""
    path = Path(path)
    try:
        if not path.exists():
            raise SpecError(str(path), None, problem="file does not exist")
        if path.is_dir():
            raise SpecError(str(path), None, problem="is a folder, expected a YAML file")
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise SpecError(str(path), None, size, problem="is too big for a spec file:",
                            allowed=f"at most {MAX_YAML_BYTES} bytes")
        with path.open("rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)  # a device file or FIFO may not report its size
        if len(raw) > MAX_YAML_BYTES:
            raise SpecError(str(path), None, problem="is too big for a spec file",
                            allowed=f"at most {MAX_YAML_BYTES} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), None, problem=f"cannot be read ({exc.__class__.__name__})") from None
    data = parse_yaml(text, str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(str(path), None, value=type(data).__name__, problem="top level must be a mapping, got",
                        allowed="a YAML mapping of keys to values")
    return data


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text safely and within bounds (see :data:`MAX_YAML_NODES`); errors name ``source``."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown line"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(source, None, problem=f"YAML does not parse at {line}: {reason}") from None
    except RecursionError:
        raise SpecError(source, None, problem="YAML nests too deeply",
                        allowed=f"at most {MAX_YAML_DEPTH} levels") from None
    _check_size(data, source)
    return data


def _check_size(data: Any, source: str) -> None:
    """Count values as if aliases were expanded, stopping at the first bound crossed (so it is cheap)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES:
            raise SpecError(source, None, problem="YAML expands to too many values (aliases?)",
                            allowed=f"at most {MAX_YAML_NODES} values after expanding aliases")
        if depth > MAX_YAML_DEPTH:
            raise SpecError(source, None, problem="YAML nests too deeply (a self-referencing alias?)",
                            allowed=f"at most {MAX_YAML_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value if isinstance(k, (tuple, frozenset)))
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in value)


def validate(model: type[M], data: Any, file: str | Path | None, prefix: str = "") -> M:
    """Build ``model`` from ``data``; the first validation error becomes one SpecError line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from(exc, model, data, str(file) if file else None, prefix) from None


def spec_error_from(exc: ValidationError, model: type[BaseModel], data: Any, file: str | None,
                    prefix: str = "") -> SpecError:
    """Translate the first pydantic error into a SpecError with a readable field path."""
    errors = exc.errors(include_url=False)
    # A misspelt key also shows up as a missing field; report the misspelling, it explains both.
    err = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    loc = tuple(err.get("loc", ()))
    field = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc) or None
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        allowed_keys = sorted(_fields_at(model, loc[:-1]))
        key = str(loc[-1]) if loc else "?"
        guess = difflib.get_close_matches(key, allowed_keys, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        return SpecError(file, field, problem=f"unknown key{hint}",
                         allowed=", ".join(allowed_keys) if allowed_keys else None)
    if kind == "missing":
        return SpecError(file, field, problem="missing required field")
    rule = (err.get("ctx") or {}).get("error")
    if isinstance(rule, FieldRule):
        where = ".".join(p for p in (*((prefix,) if prefix else ()), *(str(x) for x in loc), rule.field) if p)
        return SpecError(file, where or None, value=rule.value, problem=rule.problem, allowed=rule.allowed)
    value = err.get("input")
    msg = err.get("msg", "invalid value")
    msg = msg[0].lower() + msg[1:] if msg else msg
    if msg.startswith("value error, "):
        msg = msg[len("value error, "):]
    return SpecError(file, field, value=value, problem="bad value", allowed=msg)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (sub)model reached by following ``loc`` from ``model``; [] if unknown. A list
    index or a dict key in ``loc`` stands for the container's items."""
    ann: Any = model
    for part in loc:
        item = element(ann)
        if item is not None:
            ann = item  # part is an index or a key of the container
            continue
        sub = nested_model(ann)
        info = sub.model_fields.get(str(part)) if sub is not None else None
        if info is None:
            return []
        ann = info.annotation
    sub = nested_model(ann)
    return list(sub.model_fields) if sub is not None else []
