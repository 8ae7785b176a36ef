"""Sweep specs: a Cartesian product over study fields, from flags or a sweep YAML, with filters.

The spec knows nothing of the engine. The caller says which fields exist and their Python types
(``{"rows": int, "device": str, "engine": Literal["analytic", "event"], ...}``, for example from
:func:`field_types_from_model` on the Study model), and every value is checked against them, so a
typo or a wrong type is one :class:`SpecError` line before anything runs.

Values, on a flag or as a string in YAML:

- ``a,b,c``             a list (each item typed by the field)
- ``start:stop:step``   an arithmetic range, stop included when it is hit (``64:256:64``)
- ``start:stop*factor`` a geometric range, stop included when it is hit (``64:1024*2``)

Ranges are for ``int`` and ``float`` fields only; for text fields ``:`` is an ordinary character.

Each :class:`Point` gets a stable id, a hash of its canonical parameters, so the same design point
has the same id in every run and ``--resume`` can skip it.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import itertools
import json
import math
import operator
import re
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from imcsim.config.annotations import scalar_type, unwrap
from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.sweep.expr import Filter, compile_filter

FLAGS = "<flags>"
MAX_AXIS_VALUES = 100_000  # a range longer than this is almost surely a typo (0:1e9:1)
MAX_POINTS = 1_000_000     # default bound on a plan's combinations (--max-points raises it)
MAX_POINTS_LIMIT = 100_000_000  # what --max-points may be raised to (a point costs ~1 KiB in the plan)
ID_LENGTH = 16  # hex digits of sha256 kept in a point id (64 bits; collisions are checked)

FieldTypes = Mapping[str, Any]


class Point:
    """One design point: its position in the expansion, its stable id, and its study fields.

    Compact, because a sweep's parent process holds every planned point: the field names are one
    tuple shared by all points with the same fields and the values a tuple of the axis values
    themselves (shared too), so a point costs about 250 bytes instead of a dict's 500+.
    ``params`` builds the dict on each access (a fresh one: changing it changes nothing).
    """

    __slots__ = ("index", "id", "_names", "_values")
    _shared_names: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __init__(self, index: int, id: str, params: Mapping[str, Any]) -> None:
        names = tuple(params)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "_names", Point._shared_names.setdefault(names, names))
        object.__setattr__(self, "_values", tuple(params.values()))

    @property
    def params(self) -> dict[str, Any]:
        return dict(zip(self._names, self._values))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Point is immutable")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Point) and (self.index, self.id, self._names, self._values)
                == (other.index, other.id, other._names, other._values))

    def __hash__(self) -> int:
        return hash((self.index, self.id))

    def __repr__(self) -> str:
        return f"Point(index={self.index}, id={self.id!r}, params={self.params!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Point, (self.index, self.id, self.params))


@dataclass(frozen=True)
class SweepSpec:
    """Fixed fields (``base``), swept fields (``axes``, in order, first outermost) and filters."""

    base: dict[str, Any]
    axes: dict[str, tuple[Any, ...]]
    filters: tuple[Filter, ...] = ()
    source: str = FLAGS

    @property
    def fields(self) -> list[str]:
        """Every field a point carries: base fields, then axes."""
        return list(self.base) + [a for a in self.axes if a not in self.base]

    def product_size(self) -> int:
        """Number of combinations before filters."""
        return math.prod(len(v) for v in self.axes.values())

    def check_size(self, max_points: int = MAX_POINTS, already: int = 0) -> int:
        """The number of combinations, computed from the axis lengths before anything is expanded;
        more than ``max_points`` (counting ``already`` planned points) is a SpecError."""
        size = self.product_size()
        if size + already > max_points:
            axes = " x ".join(f"{len(v)} {k}" for k, v in self.axes.items())
            raise SpecError(self.source, "axes", axes, problem=f"the sweep has {size + already:,} combinations:",
                            allowed=f"at most {max_points:,} (fewer values, or raise --max-points up to "
                                    f"{MAX_POINTS_LIMIT:,})")
        return size

    def iter_points(self) -> Iterator[Point]:
        """Yield the points that pass every filter, lazily, numbered from 0 in expansion order."""
        names = list(self.axes)
        index = 0
        for combo in itertools.product(*self.axes.values()):
            params = dict(self.base)
            params.update(zip(names, combo))
            if all(f.keeps(params) for f in self.filters):
                yield Point(index=index, id=point_id(params), params=params)
                index += 1

    def expand(self, max_points: int = MAX_POINTS) -> list[Point]:
        """All points; too many combinations, or filters that drop every one, is a SpecError."""
        self.check_size(max_points)
        points = list(self.iter_points())
        if not points:
            texts = "; ".join(f.text for f in self.filters)
            raise SpecError(self.source, "filters", texts,
                            problem=f"the filters drop all {self.product_size()} combinations:",
                            allowed="filters that keep at least one point")
        return points

    def plan(self, max_points: int = MAX_POINTS) -> PlanPoints:
        """The points of :meth:`expand`, held lazily (:class:`PlanPoints`); the same checks."""
        return PlanPoints([self], max_points)

    def combo_params(self, combo: int) -> dict[str, Any]:
        """The parameters of combination number ``combo`` of the product (the order of :meth:`iter_points`:
        the last axis fastest), before filters."""
        params = dict(self.base)
        values = []
        for vals in reversed(self.axes.values()):
            combo, i = divmod(combo, len(vals))
            values.append(vals[i])
        params.update(zip(self.axes, reversed(values)))
        return params

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form, written to the manifest and compared on resume."""
        return {"base": dict(self.base), "axes": {k: list(v) for k, v in self.axes.items()},
                "filters": [f.text for f in self.filters]}

    def updated(self, other: SweepSpec) -> SweepSpec:
        """``other`` (e.g. flags) overrides this spec (e.g. a YAML file) field by field."""
        base = {k: v for k, v in self.base.items() if k not in other.axes}
        base.update(other.base)
        axes = {k: v for k, v in self.axes.items() if k not in other.base}
        axes.update(other.axes)
        return SweepSpec(base=base, axes=axes, filters=self.filters + other.filters,
                         source=f"{self.source} + {other.source}")


class PlanPoints(Sequence[Point]):
    """The points of one or more specs (run after run), as :meth:`SweepSpec.expand` numbers them, held
    lazily: a point is built from its spec when asked for. Why: a sweep's parent process holds its plan
    for the whole run, and 100,000 :class:`Point` objects take ~28 MiB; this keeps 8 bytes per point (its
    id as an integer) plus, for a spec with filters, the numbers of the combinations they keep."""

    def __init__(self, specs: Sequence[SweepSpec], max_points: int = MAX_POINTS) -> None:
        planned = 0
        for spec in specs:  # every spec's size is known before any is expanded
            planned += spec.check_size(max_points, already=planned)
        self._runs: list[tuple[int, SweepSpec, Any]] = []   # (first index, spec, kept combinations or None)
        ids: list[Any] = []
        start = 0
        for spec in specs:
            kept = None
            if spec.filters:
                kept = np.fromiter((c for c in range(spec.product_size())
                                    if all(f.keeps(spec.combo_params(c)) for f in spec.filters)), dtype=np.int64)
            n = spec.product_size() if kept is None else len(kept)
            if not n:
                spec.expand(max_points)   # raises the SpecError of filters that drop every combination
            self._runs.append((start, spec, kept))
            ids.append(np.fromiter((int(point_id(spec.combo_params(c if kept is None else int(kept[c]))), 16)
                                    for c in range(n)), dtype=np.uint64, count=n))
            start += n
        self._starts = [r[0] for r in self._runs]
        self._ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64)
        self.fields: list[str] = list(dict.fromkeys(f for spec in specs for f in spec.fields))

    def __len__(self) -> int:
        return len(self._ids)

    def _point(self, i: int) -> Point:
        run = bisect.bisect_right(self._starts, i) - 1
        start, spec, kept = self._runs[run]
        c = i - start
        params = spec.combo_params(c if kept is None else int(kept[c]))
        return Point(index=i, id=f"{int(self._ids[i]):0{ID_LENGTH}x}", params=params)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._point(k) for k in range(*i.indices(len(self)))]
        n = len(self)
        k = operator.index(i)
        if not -n <= k < n:
            raise IndexError("plan index out of range")
        return self._point(k % n)

    def __iter__(self) -> Iterator[Point]:
        return (self._point(i) for i in range(len(self)))

    def first_duplicate(self) -> tuple[int, int] | None:
        """(earlier, later) indices of the first later point whose id an earlier point has, else None."""
        order = np.argsort(self._ids, kind="stable")
        same = np.flatnonzero(self._ids[order][1:] == self._ids[order][:-1])
        if not len(same):
            return None
        pairs = [(int(order[k]), int(order[k + 1])) for k in same]
        return min(pairs, key=lambda p: p[1])


def point_id(params: Mapping[str, Any]) -> str:
    """Stable id of a point: sha256 of its parameters as canonical JSON (sorted keys)."""
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:ID_LENGTH]


# ---------------------------------------------------------------------------------------- flags


def split_flag_args(args: Sequence[str], source: str = FLAGS) -> list[tuple[str, str]]:
    """``["--rows", "64,128", "--rows-parallel=16"]`` -> ``[("rows", "64,128"), ("rows_parallel", "16")]``.

    The sweep CLI takes any study field as a flag, so the flags it does not know itself come here.
    """
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise SpecError(source, None, arg, problem="unexpected argument",
                            allowed="--FIELD VALUES pairs, e.g. --rows 64,128,256")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise SpecError(source, f"--{name}", problem="needs a value")
            value = args[i + 1]
            i += 1
        pairs.append((name.replace("-", "_"), value))
        i += 1
    return pairs


def spec_from_flags(flags: Mapping[str, str] | Iterable[tuple[str, str]], field_types: FieldTypes,
                    filters: Sequence[str] = (), source: str = FLAGS) -> SweepSpec:
    """A spec from ``field -> "values"`` text. One value is a fixed field; several make an axis."""
    items = list(flags.items()) if isinstance(flags, Mapping) else list(flags)
    base: dict[str, Any] = {}
    axes: dict[str, tuple[Any, ...]] = {}
    for name, text in items:
        _check_field(name, field_types, source, flag=True)
        flag = "--" + name.replace("_", "-")
        if name in base or name in axes:
            raise SpecError(source, flag, text, problem="given twice; second value",
                            allowed="each field once (list several values with commas)")
        values = parse_values(text, field_types[name], flag, source)
        if len(values) == 1 and not _is_range_text(text, field_types[name]):
            base[name] = values[0]
        else:
            axes[name] = values
    known = list(base) + list(axes)
    compiled = tuple(compile_filter(t, known, source) for t in filters)
    return SweepSpec(base=base, axes=axes, filters=compiled, source=source)


def parse_values(text: str, ftype: Any, where: str, source: str = FLAGS) -> tuple[Any, ...]:
    """Parse ``a,b,c`` / ``start:stop:step`` / ``start:stop*factor`` into typed values."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(source, where, text, problem="empty value", allowed=_describe(ftype))
    text = text.strip()
    if _is_range_text(text, ftype):
        values = _parse_range_text(text, ftype, where, source)
    else:
        values = tuple(_coerce_text(item.strip(), ftype, where, source) for item in text.split(","))
    _check_unique(values, where, source)
    return values


_RANGE = re.compile(r"^\s*([^:*]+):([^:*]+)(?::([^:*]+)|\*([^:*]+))\s*$")


def _is_range_text(text: str, ftype: Any) -> bool:
    return scalar_type(ftype) in (int, float) and ":" in text


def _parse_range_text(text: str, ftype: Any, where: str, source: str) -> tuple[Any, ...]:
    m = _RANGE.match(text)
    if not m:
        raise SpecError(source, where, text, problem="bad range",
                        allowed="start:stop:step or start:stop*factor, e.g. 64:256:64 or 64:1024*2")
    start, stop, step, factor = m.groups()
    num = scalar_type(ftype)
    return make_range(_coerce_text(start, num, where, source), _coerce_text(stop, num, where, source),
                      step=None if step is None else _coerce_text(step, num, where, source),
                      factor=None if factor is None else _coerce_text(factor, float, where, source),
                      ftype=ftype, where=where, source=source, text=text)


def make_range(start: float, stop: float, *, step: float | None = None, factor: float | None = None,
               ftype: Any = float, where: str = "", source: str = FLAGS, text: Any = None) -> tuple[Any, ...]:
    """Inclusive arithmetic (``step``) or geometric (``factor``) range, typed by ``ftype``."""
    shown = text if text is not None else {"start": start, "stop": stop, "step": step, "factor": factor}
    num = scalar_type(ftype)
    if num not in (int, float):
        raise SpecError(source, where, shown, problem="a range needs a number field; got range",
                        allowed=f"a list of {_describe(ftype)}")
    if (step is None) == (factor is None):
        raise SpecError(source, where, shown, problem="a range needs exactly one of step or factor; got",
                        allowed="{start, stop, step} or {start, stop, factor}")
    if stop < start:
        raise SpecError(source, where, shown, problem="empty range (stop below start)",
                        allowed="start <= stop")
    values: list[float] = []
    if step is not None:
        if step <= 0:
            raise SpecError(source, where, shown, problem="empty range (step must be positive)",
                            allowed="step > 0")
        count = math.floor((stop - start) / step * (1 + 1e-12) + 1e-9) + 1
        _check_length(count, where, source, shown)
        values = [start + i * step for i in range(count)]
    else:
        assert factor is not None
        if factor <= 1 or start <= 0:
            raise SpecError(source, where, shown, problem="empty range (needs factor > 1 and start > 0)",
                            allowed="start > 0, factor > 1")
        count = math.floor(math.log(stop / start) / math.log(factor) + 1e-9) + 1
        _check_length(count, where, source, shown)
        values = [start * factor ** i for i in range(count)]
    if num is int:
        if any(abs(v - round(v)) > 1e-9 for v in values):
            raise SpecError(source, where, shown, problem="range gives non-integer values for an integer field:",
                            allowed="integer start, step and factor")
        return tuple(int(round(v)) for v in values)
    return tuple(float(v) for v in values)


def _check_length(count: int, where: str, source: str, shown: Any) -> None:
    if count > MAX_AXIS_VALUES:
        raise SpecError(source, where, shown, problem=f"range has {count} values",
                        allowed=f"at most {MAX_AXIS_VALUES} values per axis")


def _check_unique(values: Sequence[Any], where: str, source: str) -> None:
    seen: set[str] = set()
    for v in values:
        key = json.dumps(v)
        if key in seen:
            raise SpecError(source, where, v, problem="value listed twice:", allowed="each value once")
        seen.add(key)


# ----------------------------------------------------------------------------------------- YAML


class RangeSpec(StrictModel):
    """``{start, stop, step}`` or ``{start, stop, factor}``; stop is included when it is hit."""

    start: float
    stop: float
    step: float | None = None
    factor: float | None = None


class SweepFile(StrictModel):
    """A sweep YAML: fixed ``base`` fields, ``axes`` to sweep, and ``filters`` that drop points."""

    base: dict[str, Any] = Field({}, description="fixed flat study fields")
    axes: dict[str, Any] = Field(description="flat field -> list of values, {start, stop, step|factor} or a "
                                             "flag-style string (a,b,c or start:stop*factor)")
    filters: list[str] = Field([], description="expressions over the fields; a point is kept when all hold, "
                                              "e.g. 'rows_parallel <= rows'")


def load_sweep(path: str | Path, field_types: FieldTypes) -> SweepSpec:
    """Read and check a sweep YAML (see :class:`SweepFile`)."""
    src = str(path)
    model = validate(SweepFile, load_yaml(path), src)
    return spec_from_mapping(model.base, model.axes, model.filters, field_types, source=src)


def spec_from_mapping(base: Mapping[str, Any], axes: Mapping[str, Any], filters: Sequence[str],
                      field_types: FieldTypes, source: str = "<sweep>") -> SweepSpec:
    """Build a spec from already-parsed YAML values (lists, range mappings, or flag-style strings)."""
    typed_base: dict[str, Any] = {}
    for name, value in base.items():
        where = f"base.{name}"
        _check_field(name, field_types, source, where=where)
        typed_base[name] = coerce(value, field_types[name], where, source)
    typed_axes: dict[str, tuple[Any, ...]] = {}
    if not axes:
        raise SpecError(source, "axes", problem="no axes to sweep",
                        allowed="a mapping of field -> list of values or {start, stop, step|factor}")
    for name, value in axes.items():
        where = f"axes.{name}"
        _check_field(name, field_types, source, where=where)
        if name in typed_base:
            raise SpecError(source, where, problem="field is both in base and in axes",
                            allowed="each field in one of them")
        typed_axes[name] = _axis_values(value, field_types[name], where, source)
    known = list(typed_base) + list(typed_axes)
    compiled = tuple(compile_filter(t, known, source) for t in filters)
    return SweepSpec(base=typed_base, axes=typed_axes, filters=compiled, source=source)


def _axis_values(value: Any, ftype: Any, where: str, source: str) -> tuple[Any, ...]:
    if isinstance(value, Mapping):
        validate(RangeSpec, dict(value), source, prefix=where)  # keys and number-ness, one line each
        num = scalar_type(ftype)
        if num not in (int, float):
            raise SpecError(source, where, dict(value), problem="a range needs a number field; got range",
                            allowed=f"a list of {_describe(ftype)}")
        raw = dict(value)
        start = coerce(raw["start"], num, f"{where}.start", source)
        stop = coerce(raw["stop"], num, f"{where}.stop", source)
        step = None if raw.get("step") is None else coerce(raw["step"], num, f"{where}.step", source)
        factor = None if raw.get("factor") is None else coerce(raw["factor"], float, f"{where}.factor", source)
        return make_range(start, stop, step=step, factor=factor, ftype=ftype, where=where,
                          source=source, text=raw)
    if isinstance(value, str):
        return parse_values(value, ftype, where, source)
    if isinstance(value, list):
        if not value:
            raise SpecError(source, where, value, problem="empty list", allowed=f"one or more {_describe(ftype)}")
        values = tuple(coerce(v, ftype, f"{where}[{i}]", source) for i, v in enumerate(value))
        _check_unique(values, where, source)
        return values
    return (coerce(value, ftype, where, source),)


# ---------------------------------------------------------------------------------------- types


def field_types_from_model(model: type[BaseModel]) -> dict[str, Any]:
    """Sweepable fields of a pydantic model: those typed int, float, str, bool, Literal, or Optional of them."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        ann = info.annotation
        if scalar_type(ann) is not None:
            out[name] = ann
    return out


def _describe(ftype: Any) -> str:
    inner, nullable = unwrap(ftype)
    if typing.get_origin(inner) is Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(inner))
    else:
        text = {int: "integers", float: "numbers", str: "text values", bool: "true/false"}.get(inner, str(inner))
    return text + (" or none" if nullable else "")


@lru_cache(maxsize=256)
def _adapter(ftype: Any, strict: bool) -> TypeAdapter:
    """pydantic's validator for a field type: strict for native values (YAML, Python), lax to parse flag
    text; never NaN or infinity."""
    return TypeAdapter(ftype, config=ConfigDict(strict=strict, allow_inf_nan=False))


def _validated(value: Any, ftype: Any, strict: bool, where: str, source: str) -> Any:
    try:
        return _adapter(ftype, strict).validate_python(value)
    except ValidationError as e:
        if e.errors()[0]["type"] == "literal_error":
            raise SpecError(source, where, value, problem="not an allowed value:", allowed=_describe(ftype)) from None
        raise SpecError(source, where, value, problem="wrong type of value", allowed=_describe(ftype)) from None


def _coerce_text(text: str, ftype: Any, where: str, source: str) -> Any:
    """A value from flag text, typed by the field: pydantic parses the text as the field's base type
    (``1e3`` for a float, ``yes``/``off`` for a bool), then :func:`coerce` checks it."""
    inner, nullable = unwrap(ftype)
    if nullable and text.lower() in ("none", "null"):
        return None
    base = scalar_type(inner)
    if base is None:   # coerce names the field as not sweepable
        return coerce(text, ftype, where, source)
    value = _validated(text, base, False, where, source)
    return coerce(value, ftype, where, source)


def coerce(value: Any, ftype: Any, where: str, source: str) -> Any:
    """Check a native value (from YAML or already parsed) against the field type with pydantic in strict
    mode (ints pass for floats and become floats; a bool is not an int), then the Literal's values."""
    inner, nullable = unwrap(ftype)
    if value is None:
        if nullable:
            return None
        raise SpecError(source, where, "null", problem="wrong type of value", allowed=_describe(ftype))
    base = scalar_type(inner)
    if base is None:
        raise SpecError(source, where, str(ftype), problem="field cannot be swept: its type is",
                        allowed="int, float, str, bool or a Literal of them")
    value = _validated(value, base, True, where, source)   # the base first: strict Literal[1, 2] takes True
    if base is str and value == "":
        raise SpecError(source, where, value, problem="wrong type of value", allowed=_describe(ftype))
    return _validated(value, inner, True, where, source) if typing.get_origin(inner) is Literal else value


def _check_field(name: str, field_types: FieldTypes, source: str, *, flag: bool = False,
                 where: str | None = None) -> None:
    if name in field_types:
        return
    known = sorted(field_types)
    guess = difflib.get_close_matches(name, known, n=1)
    shown = f"--{name.replace('_', '-')}" if flag else (where or name)
    hint = f" (did you mean {('--' + guess[0].replace('_', '-')) if flag else guess[0]!r}?)" if guess else ""
    raise SpecError(source, shown, problem=f"unknown field{hint}", allowed=", ".join(known))
