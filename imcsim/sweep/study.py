"""Study sweeps: the glue between the generic sweep machinery and the study spec (``imcsim sweep``).

:mod:`imcsim.sweep.spec` knows only ``field -> type``. This module supplies those types for the flat
study form, including dotted fields (``workload.seq_len``, ``method.rank``, ``chip.tiles``), builds
the plan from flags, a sweep YAML or a study file with a ``sweep:`` section, and checks every
value up front, so a typo is one line before any point runs and before the output folder is touched.

A study file with several ``runs`` sweeps every run over the same axes: the plan is run 1 x axes,
then run 2 x axes, ..., and each point carries the run's name in the flat field ``name``.

Base fields are the study's flat form minus the values every study has by default, so the same
design point has the same id (and ``--resume`` reuses it) whether it came from flags or a file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from imcsim.errors import SpecError
from imcsim.sweep.spec import (
    FLAGS,
    MAX_POINTS,
    PlanPoints,
    Point,
    SweepSpec,
    coerce,
    spec_from_flags,
    spec_from_mapping,
)

#: prefixes of dotted flat fields and what types them
ACCEL_PREFIXES = ("chip.", "tile.", "macro.")
OPTION_PREFIXES = ("workload.", "method.")
DEFAULT_ENGINE = "analytic"
#: flat fields always kept in a point, even at their default value (they say what the point is)
ALWAYS_KEPT = ("workload", "method", "engine")


@dataclass
class SweepPlan:
    """What ``imcsim sweep`` will run: the points (held lazily, :class:`~imcsim.sweep.spec.PlanPoints`), the
    fields they carry, the manifest spec and a title."""

    points: Sequence[Point]
    fields: list[str]
    spec: dict[str, Any]
    title: str                     # default output folder name
    description: str = ""
    #: field -> (file or "<flags>", how the user wrote it: "--rows", "axes.rows", "sweep.axes.rows"),
    #: so a bad value found by :func:`check_plan` is reported where it was given
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)

    def spec_hash(self) -> str:
        """Short hash of the planned point ids: the default folder of a flag sweep."""
        text = ",".join(p.id for p in self.points)
        return hashlib.sha256(text.encode("ascii")).hexdigest()[:8]


# ------------------------------------------------------------------------------------ field types


def _plain(ftype: Any) -> Any:
    """Strip ``Annotated`` (pydantic's PositiveInt, ...) so the spec sees int/float/str/bool/Literal."""
    origin = typing.get_origin(ftype)
    if origin is Annotated:
        return _plain(typing.get_args(ftype)[0])
    if origin in (typing.Union, types.UnionType):
        args = tuple(_plain(a) for a in typing.get_args(ftype))
        return typing.Union[args]  # noqa: UP007 - built from a runtime tuple
    return ftype


def _model_fields(model: Any) -> dict[str, Any]:
    return dict(getattr(model, "model_fields", {}))


def _shown(name: str, flag: bool) -> str:
    """A field as the user would type it: ``--chip.cell-capacity-mibit`` on flags, the name in files."""
    return "--" + name.replace("_", "-") if flag else name


def _accel_type(name: str, source: str, where: str, flag: bool) -> Any:
    """Type of a dotted accelerator field (``chip.tiles``), walking the AcceleratorSpec models."""
    from imcsim.config.accelerator import AcceleratorSpec

    model: Any = AcceleratorSpec
    parts = name.split(".")
    for i, part in enumerate(parts):
        fields = _model_fields(model)
        if part not in fields:
            guess = difflib.get_close_matches(part, list(fields), n=1)
            hint = f" (did you mean {_shown('.'.join(parts[:i] + [guess[0]]), flag)!r}?)" if guess else ""
            raise SpecError(source, where, problem=f"unknown accelerator field{hint}",
                            allowed=", ".join(".".join(parts[:i] + [f]) for f in sorted(fields)))
        ann = fields[part].annotation
        if i < len(parts) - 1:
            model = ann
    return _plain(ann)


def _workload_option_types() -> dict[str, Any]:
    from imcsim.workload.cards import WorkloadOptions

    return {k: _plain(v.annotation) for k, v in WorkloadOptions.model_fields.items()}


def _method_option_types() -> dict[str, Any]:
    """Options of every registered method, typed by the first method that declares each (a method
    validates its own options again when a point runs)."""
    from imcsim.workload import methods

    out: dict[str, Any] = {}
    for name in methods.names():
        for key, info in methods.get(name).options.model_fields.items():
            out.setdefault(key, _plain(info.annotation))
    return out


def study_field_types(names: Iterable[str], source: str = FLAGS, *, flag: bool = False) -> dict[str, Any]:
    """``flat_field_types()`` plus a type for each dotted field among ``names``.

    Dotted fields are typed by the model that reads them (AcceleratorSpec, WorkloadOptions, the
    method option models); an unknown dotted name is a SpecError with a did-you-mean. Undotted unknown
    names are left out, so the spec reports them (with its own did-you-mean over the flat fields).
    """
    from imcsim.config.study import flat_field_types

    types_: dict[str, Any] = {k: _plain(v) for k, v in flat_field_types().items()}
    wl: dict[str, Any] | None = None
    mt: dict[str, Any] | None = None
    for name in names:
        if name in types_ or "." not in name:
            continue
        where = f"--{name.replace('_', '-')}" if flag else name
        if name.startswith(ACCEL_PREFIXES):
            types_[name] = _accel_type(name, source, where, flag)
            continue
        head, _, opt = name.partition(".")
        if head in ("workload", "method"):
            if head == "workload":
                wl = wl if wl is not None else _workload_option_types()
                known = wl
            else:
                mt = mt if mt is not None else _method_option_types()
                known = mt
            if opt not in known:
                guess = difflib.get_close_matches(opt, list(known), n=1)
                hint = f" (did you mean {_shown(f'{head}.{guess[0]}', flag)!r}?)" if guess else ""
                raise SpecError(source, where, problem=f"unknown {head} option{hint}",
                                allowed=", ".join(f"{head}.{k}" for k in sorted(known)))
            types_[name] = known[opt]
            continue
        guess = difflib.get_close_matches(name, list(types_), n=1)
        hint = f" (did you mean {_shown(guess[0], flag)!r}?)" if guess else ""
        raise SpecError(source, where, problem=f"unknown field{hint}",
                        allowed=", ".join(sorted(types_)) + ", " + ", ".join(p + "*" for p in
                                                                              OPTION_PREFIXES + ACCEL_PREFIXES))
    return types_


# ------------------------------------------------------------------------------------------- plans


def plan_from_flags(pairs: Sequence[tuple[str, str]], filters: Sequence[str] = (),
                    max_points: int = MAX_POINTS) -> SweepPlan:
    """Plan of a flag-only sweep (``--device a,b --rows 64,128 ...``); engine analytic unless given."""
    spec = _merge_flags(_flag_spec(pairs), (), filters)
    if "workload" not in spec.fields:
        raise SpecError(FLAGS, "--workload", None, problem="missing: give a study or sweep file, or",
                        allowed="--workload NAME (one or several, e.g. --workload resnet18)")
    spec = _with_engine(spec)
    plan = SweepPlan(points=spec.plan(max_points), fields=spec.fields, spec=spec.to_dict(), title="",
                     origins=_origins(spec, pairs, FLAGS, ""))
    plan.title = f"sweep-{plan.spec_hash()}"
    return plan


def plan_from_file(path: str | Path, pairs: Sequence[tuple[str, str]] = (),
                   filters: Sequence[str] = (), max_points: int = MAX_POINTS) -> SweepPlan:
    """Plan from a sweep YAML (``base/axes/filters``) or a study file (with or without ``sweep:``).

    Flags override the file field by field; ``--filter`` adds to the file's filters.
    """
    from imcsim.config.loader import load_yaml

    src = str(path)
    data = load_yaml(path)
    if isinstance(data, dict) and "axes" in data and "workload" not in data:
        file_spec = _mapping_spec(data, src, allowed_keys=("base", "axes", "filters", "description"))
        spec = _with_engine(_merge_flags(file_spec, pairs, filters))
        if "workload" not in spec.fields:
            raise SpecError(src, "base.workload", None, problem="missing:",
                            allowed="a workload in base or axes (or --workload)")
        points = spec.plan(max_points)
        return SweepPlan(points=points, fields=spec.fields, spec={"file": src, **spec.to_dict()},
                         title=Path(src).stem, description=str(data.get("description") or ""),
                         origins=_origins(file_spec, pairs, src, "", base_prefix="base."))
    return _plan_from_study_file(src, pairs, filters, max_points)


def _plan_from_study_file(src: str, pairs: Sequence[tuple[str, str]], filters: Sequence[str],
                          max_points: int = MAX_POINTS) -> SweepPlan:
    from imcsim.config.study import load_study_file

    sf = load_study_file(src)
    section = dict(sf.sweep or {})
    several = len(sf.runs) > 1
    specs: list[SweepSpec] = []
    for name, study in sf.runs:
        base = _minimal_flat(study)
        if several:
            base["name"] = name
        if section:
            unknown = sorted(set(section) - {"axes", "filters"})
            if unknown:
                raise SpecError(src, f"sweep.{unknown[0]}", problem="unknown key in the sweep section",
                                allowed="axes, filters (the study itself is the base)")
            axes = section.get("axes")
            if isinstance(axes, Mapping):  # an axis replaces the study's own value of that field
                base = {k: v for k, v in base.items() if k not in axes}
            run_spec = _mapping_spec({"base": base, **section}, f"{src}: sweep",
                                     allowed_keys=("base", "axes", "filters"))
        else:
            types_ = study_field_types(base, src)
            typed = {k: coerce(v, types_[k], k, src) for k, v in base.items()}
            run_spec = SweepSpec(base=typed, axes={}, filters=(), source=src)
        specs.append(_merge_flags(run_spec, pairs, filters))
    points = PlanPoints(specs, max_points)   # run after run, numbered on; every run's size checked first
    fields = points.fields
    manifest = {"file": src, "runs": [n for n, _ in sf.runs] if several else None,
                "base": specs[0].base if not several else {n: s.base for (n, _), s in zip(sf.runs, specs)},
                "axes": {k: list(v) for k, v in specs[0].axes.items()},
                "filters": [f.text for f in specs[0].filters]}
    return SweepPlan(points=points, fields=fields, spec=manifest, title=Path(src).stem,
                     description=sf.description, origins=_origins(specs[0], pairs, src, "sweep."))


def _origins(file_spec: SweepSpec, pairs: Sequence[tuple[str, str]], src: str, axes_prefix: str,
             base_prefix: str = "") -> dict[str, tuple[str, str]]:
    """Where each field was given: a flag wins over the file (it overrides it)."""
    out = {k: (src, f"{base_prefix}{k}") for k in file_spec.base}
    out.update({k: (src, f"{axes_prefix}axes.{k}") for k in file_spec.axes})
    out.update({k: (FLAGS, _shown(k, True)) for k, _ in pairs})
    return out


def _minimal_flat(study: Any) -> dict[str, Any]:
    """The study's flat form without None values and without fields at the default every study has."""
    from imcsim.config.study import Study

    defaults = Study(workload={"name": "x"}).flat()
    flat = study.flat()
    out = {}
    for k, v in flat.items():
        if v is None:
            continue
        if k not in ALWAYS_KEPT and k in defaults and defaults[k] == v and type(defaults[k]) is type(v):
            continue
        out[k] = v
    return out


def _mapping_spec(data: Mapping[str, Any], src: str, allowed_keys: Sequence[str]) -> SweepSpec:
    from imcsim.config.loader import validate
    from imcsim.sweep.spec import SweepFile

    unknown = sorted(set(data) - set(allowed_keys))
    if unknown:
        raise SpecError(src, unknown[0], problem="unknown key", allowed=", ".join(allowed_keys))
    model = validate(SweepFile, {k: v for k, v in data.items() if k in ("base", "axes", "filters")}, src)
    types_ = study_field_types(list(model.base) + list(model.axes), src)
    return spec_from_mapping(model.base, model.axes, model.filters, types_, source=src)


def _flag_spec(pairs: Sequence[tuple[str, str]]) -> SweepSpec:
    """The flags' own spec; filters are compiled later, over the merged fields."""
    types_ = study_field_types([n for n, _ in pairs], FLAGS, flag=True)
    return spec_from_flags(pairs, types_, source=FLAGS)


def _merge_flags(file_spec: SweepSpec, pairs: Sequence[tuple[str, str]], filters: Sequence[str]) -> SweepSpec:
    """Flags override the file spec field by field; extra filters are compiled over the merged fields."""
    from imcsim.sweep.expr import compile_filter

    spec = file_spec
    if pairs:
        spec = spec.updated(_flag_spec(pairs))
    if filters:
        compiled = tuple(compile_filter(t, spec.fields, FLAGS) for t in filters)
        spec = SweepSpec(base=spec.base, axes=spec.axes, filters=spec.filters + compiled, source=spec.source)
    return spec


def _with_engine(spec: SweepSpec) -> SweepSpec:
    if "engine" in spec.fields:
        return spec
    return SweepSpec(base={**spec.base, "engine": DEFAULT_ENGINE}, axes=spec.axes, filters=spec.filters,
                     source=spec.source)


# ------------------------------------------------------------------------------------ pre-flight


def check_plan(plan: SweepPlan) -> None:
    """Check every value a point will use, one field value at a time, before anything runs.

    What it catches: unknown device, workload, method or accelerator names, values out of range for
    a study field (``rows 0``), accelerator fields with impossible values. What it leaves to the
    points (recorded as failed, the sweep goes on): combinations that cannot work, such as a method
    that does not apply to a workload.
    """
    from imcsim.config.study import study_from_params

    seen: set[tuple[str, str]] = set()
    for p in plan.points:
        # the first point holding each (field, value) stands for it: a real point, so no made-up mix
        keys = {k: _probe_key(k, v, p.params) for k, v in p.params.items()}
        new = [(k, v) for k, v in p.params.items() if keys[k] not in seen]
        if not new:
            continue
        seen.update(keys[k] for k, _ in new)
        try:
            study = study_from_params(p.params, "<point>")
        except SpecError as exc:
            k, v = _culprit(exc, new)
            source, where = plan.origins.get(k, (FLAGS, k))
            raise SpecError(source, where, v, problem=_reason(exc, k), allowed=exc.allowed) from None
        # names first, so that a bad device is blamed on --device and not on --rows (which loads it too)
        for k, v in sorted(new, key=lambda kv: kv[0] not in _NAME_FIELDS):
            source, where = plan.origins.get(k, (FLAGS, k))
            _check_names(k, v, study, source, where)


def _probe_key(name: str, value: Any, params: Mapping[str, Any]) -> tuple[str, str]:
    """What makes a (field, value) new: a method option is checked once per method that gets it."""
    text = json.dumps(value)
    if name.startswith("method."):
        text += "|" + str(params.get("method"))
    return name, text


def _culprit(exc: SpecError, new: Sequence[tuple[str, Any]]) -> tuple[str, Any]:
    """Which of the new (field, value) pairs a study validation error is about (by the dotted path)."""
    path = str(exc.field or "")
    for k, v in new:
        if path == k or path.endswith("." + k) or (k == "batch" and path.endswith("batch_size")):
            return k, v
    return new[0]


def _reason(exc: SpecError, name: str) -> str:
    """The library's problem text, with its own field path when that says more than ours."""
    problem = exc.problem or "bad value"
    field_ = str(exc.field or "")
    same = field_ == name or field_.endswith("." + name.split(".")[-1]) or name.endswith("." + field_)
    if field_ and not (same or field_.startswith("--")):
        problem += f" ({field_})"
    return problem


_NAME_FIELDS = ("device", "accelerator", "workload", "method")
#: flat fields that change the accelerator (checked by loading it with the point's overrides)
_ACCEL_FIELDS = {"device", "accelerator", "rows", "cols", "rows_parallel", "column_mux", "bits_per_cell",
                 "in_bits", "w_bits", "node_nm"}


def _check_names(name: str, value: Any, study: Any, source: str, where: str) -> None:
    """The names and options a study refers to exist and validate (cheap; no graph is built)."""
    try:
        if name in _ACCEL_FIELDS or name.startswith(ACCEL_PREFIXES):
            _check_accelerator(study, source, where)
        if name == "workload":
            _check_workload(str(value))
        if name.startswith("workload."):
            from imcsim.config.loader import validate
            from imcsim.workload.cards import WorkloadOptions

            validate(WorkloadOptions, dict(study.workload.options), source)
        if name == "method":
            from imcsim.workload import methods

            methods.resolve(study.method.name)
        if name.startswith("method."):
            from imcsim.config.loader import validate
            from imcsim.workload import methods

            method, options, _ = methods.resolve(study.method.name, dict(study.method.options))
            # an option another method of the sweep takes is not this point's error to raise here
            # (the point itself is recorded as failed); its value is checked with a method that takes it
            accepted = method.options.model_fields
            validate(method.options, {k: v for k, v in options.items() if k in accepted}, source)
    except SpecError as exc:
        raise SpecError(source, where, value, problem=_reason(exc, name), allowed=exc.allowed) from None


def _check_accelerator(study: Any, source: str, where: str) -> None:
    from imcsim.config.device_card import load_card, resolve_card_path
    from imcsim.engine.context import check_accelerator

    if study.device is not None:
        load_card(resolve_card_path(study.device, file=source, field=where))
    check_accelerator(study, source)


def _check_workload(name: str) -> None:
    from imcsim.workload import zoo
    from imcsim.workload.cards import list_workloads

    path = Path(name)
    if path.suffix.lower() in (".yaml", ".yml", ".csv", ".onnx"):
        if not path.is_file():
            raise SpecError(None, "workload", problem="workload file does not exist:", allowed="an existing file")
        return
    known = sorted(set(list_workloads()) | set(zoo.names()))
    if name not in known:
        guess = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise SpecError(None, "workload", problem=f"unknown workload{hint}:",
                        allowed=", ".join(known) + ", a card .yaml, or a .csv/.onnx file")


# --------------------------------------------------------------------------------------- running


def warm_engine() -> None:
    """Worker warm-up: import the engine once per worker process before its first point."""
    import imcsim.engine.evaluation  # noqa: F401
