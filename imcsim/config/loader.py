"""YAML in, validated pydantic models out, and every failure as one :class:`SpecError` line.

All spec files (device cards, accelerator presets, workload/method cards, studies, sweeps) go
through :func:`load_yaml` and :func:`validate`, so they all report errors the same way:
the file, the dotted field, the bad value and what is allowed (with a did-you-mean for unknown keys).
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from imcsim.errors import SpecError

M = TypeVar("M", bound=BaseModel)

# libyaml's C parser when PyYAML was built with it (same safe semantics, ~10x faster)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, a parse error (with its line) or a non-mapping is a SpecError."""
    path = Path(path)
    if not path.exists():
        raise SpecError(str(path), None, problem="file does not exist")
    if path.is_dir():
        raise SpecError(str(path), None, problem="is a folder, expected a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), None, problem=f"cannot be read ({exc.__class__.__name__})") from None
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown line"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(str(path), None, problem=f"YAML does not parse at {line}: {reason}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(str(path), None, value=type(data).__name__, problem="top level must be a mapping, got",
                        allowed="a YAML mapping of keys to values")
    return data


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
    value = err.get("input")
    msg = err.get("msg", "invalid value")
    msg = msg[0].lower() + msg[1:] if msg else msg
    if msg.startswith("value error, "):
        msg = msg[len("value error, "):]
    return SpecError(file, field, value=value, problem="bad value", allowed=msg)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (sub)model reached by following ``loc`` from ``model``; [] if unknown."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            current = _inner_type(current, list)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = _model_in(info.annotation)
        else:
            current = _inner_type(current, dict)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is None:
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
        if typing.get_origin(arg) in (list, dict):
            return arg
    return annotation


def _inner_type(annotation: Any, container: type) -> Any:
    args = typing.get_args(annotation)
    if not args:
        return None
    return _model_in(args[-1])
