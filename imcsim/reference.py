"""JSON Schema of every input file and the generated key reference (docs/study-reference.md).

Why generated: users write studies, presets, cards and ``--set`` fields by name, and a hand-written
list drifts from the pydantic models the moment a field is added. Both the schema (``imcsim schema
KIND``) and the reference page come from the models themselves, so a field's type, unit, default,
range and ``Field(description=...)`` are written once, next to the code that reads it.
``make docs`` rewrites the page; ``tests/test_reference_docs.py`` fails when it is stale or when a
field has no description.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from imcsim.config.annotations import is_model, nested_model, unwrap

REFERENCE_PATH = Path("docs") / "study-reference.md"

#: unit of a field from its name's suffix (names carry their unit, see the project rules)
_UNIT_SUFFIX = [
    ("_pj_per_byte", "pJ/B"), ("_pj_per_bit_per_mm", "pJ/bit/mm"), ("_pj_per_bit", "pJ/bit"),
    ("_pj_per_mac", "pJ/MAC"), ("_pj_per_vector_op", "pJ/op"), ("_uw_per_kib", "uW/KiB"),
    ("_um2_per_bit", "um^2/bit"), ("_gb_per_s", "GB/s"), ("_bytes_per_cycle", "B/cycle"),
    ("_per_cycle", "1/cycle"), ("_cycles", "cycles"), ("_mibit", "Mibit"), ("_kib", "KiB"), ("_mhz", "MHz"),
    ("_nm", "nm"), ("_mm", "mm"), ("_um2", "um^2"), ("_ns", "ns"), ("_pj", "pJ"), ("_fj", "fJ"),
    ("_bits", "bits"), ("_years", "years"), ("_per_day", "1/day"), ("_pct", "%"),
]


# ---------------------------------------------------------------------------------------- kinds


def _study_file_model() -> type[BaseModel]:
    """A study YAML: one Study plus ``description``, ``runs`` and ``sweep`` (see config/study.py)."""
    from imcsim.config.study import Study
    from imcsim.sweep.spec import SweepFile

    sweep = create_model("StudySweepSection", __base__=SweepFile,
                         axes=(dict[str, Any], Field(description="field -> list of values, a range mapping "
                                                                 "{start, stop, step|factor} or a flag-style string")))
    return create_model(
        "StudyFileSchema", __base__=Study,
        description=(str, Field("", description="one paragraph shown at the top of the report")),
        runs=(list[dict[str, Any]] | None, Field(None, description="several runs: each a partial study merged "
                                                                   "over the keys above (needs distinct names)")),
        sweep=(sweep | None, Field(None, description="sweep this study: axes (the study is the base) and "
                                                     "filters, as imcsim sweep STUDY.yaml")),
    )


def _device_model() -> type[BaseModel]:
    from imcsim.config.device_card import CardFile

    return CardFile


def _accelerator_model() -> type[BaseModel]:
    from imcsim.config.accelerator import AcceleratorSpec

    return AcceleratorSpec


def _method_model() -> type[BaseModel]:
    from imcsim.workload.methods.cards import MethodCard

    return MethodCard


def _workload_model() -> type[BaseModel]:
    from imcsim.workload.cards import WorkloadCard

    return WorkloadCard


def _sweep_model() -> type[BaseModel]:
    from imcsim.sweep.spec import SweepFile

    return SweepFile


#: ``imcsim schema KIND``: the model behind each kind of input file
KINDS: dict[str, Callable[[], type[BaseModel]]] = {
    "study": _study_file_model, "accelerator": _accelerator_model, "device": _device_model,
    "workload": _workload_model, "method": _method_model, "sweep": _sweep_model,
}


def json_schema(kind: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12, pydantic's) of one kind of input file; device cards list their
    parameters per technology under ``x-params-by-technology``."""
    from imcsim.errors import SpecError

    if kind not in KINDS:
        raise SpecError("<flags>", "KIND", kind, problem="unknown schema kind", allowed=", ".join(KINDS))
    schema = KINDS[kind]().model_json_schema()
    schema["title"] = f"imcsim {kind} file"
    if kind == "device":
        from imcsim.device.registry import technologies

        techs = technologies()
        schema["x-params-by-technology"] = {t: tech.params.model_json_schema() for t, tech in techs.items()}
        schema["x-options-by-technology"] = {t: tech.options.model_json_schema() for t, tech in techs.items()}
    return schema


# --------------------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FieldRow:
    """One documented key: dotted name, type, unit, default, allowed range, meaning."""

    key: str
    type: str
    unit: str
    default: str
    range: str
    meaning: str


def _type_text(ann: Any) -> str:
    inner, optional = unwrap(ann)
    if optional:
        return f"{_type_text(inner)} (optional)"
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(inner))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_text(a) for a in typing.get_args(inner))
    if origin is not None:
        args = ", ".join(_type_text(a) for a in typing.get_args(inner))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if is_model(inner):
        return "mapping"
    return getattr(inner, "__name__", str(inner)).replace("typing.", "")


def _range_text(info: FieldInfo, ann: Any) -> str:
    parts = []
    metadata = list(info.metadata)
    if typing.get_origin(ann) is typing.Annotated:
        metadata += list(typing.get_args(ann)[1:])
    for m in metadata:
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("min_length", "length >=")):
            value = getattr(m, attr, None)
            if value is not None and isinstance(m, (annotated_types.BaseMetadata, annotated_types.GroupedMetadata)
                                                or hasattr(m, attr)):
                parts.append(f"{sym} {value:g}" if isinstance(value, (int, float)) else f"{sym} {value}")
    name = getattr(ann, "__name__", "")
    if name.startswith("Positive"):
        parts.append("> 0")
    return ", ".join(dict.fromkeys(parts))


def _default_text(info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        if info.default_factory is None:
            return "required"
        value = info.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel) and isinstance(getattr(value, "name", None), str):
            return f"`{value.name}`"
    else:
        value = info.default
    if value == "":
        return "(empty)"
    if value is None:
        return "-"
    if isinstance(value, BaseModel):
        return "(defaults below)"
    if isinstance(value, (dict, list)) and not value:
        return "(empty)"
    return f"`{value}`"


def unit_of(name: str, info: FieldInfo | None = None) -> str:
    """The unit a field is given in: declared (``json_schema_extra={"unit": ...}``) or its name's suffix."""
    extra = (info.json_schema_extra or {}) if info is not None and isinstance(info.json_schema_extra, dict) else {}
    if extra.get("unit"):
        return str(extra["unit"])
    for suffix, unit in _UNIT_SUFFIX:
        if name.endswith(suffix):
            return unit
    return ""


def field_rows(model: type[BaseModel], prefix: str = "", *, recurse: bool = True) -> Iterator[FieldRow]:
    """Every field of ``model`` (nested models expanded as dotted keys), in declaration order."""
    for name, info in model.model_fields.items():
        if name == "file" and prefix == "" and model.__name__ == "MethodCard":
            continue  # set by the loader, not written in a card
        ann = info.annotation
        sub = nested_model(ann) if recurse else None
        key = f"{prefix}{name}"
        if sub is not None and not _is_param(sub):
            yield FieldRow(key, "mapping", "", _default_text(info), "", _meaning(info, sub))
            yield from field_rows(sub, f"{key}.")
            continue
        yield FieldRow(key, _type_text(ann), unit_of(name, info), _default_text(info), _range_text(info, ann),
                       _meaning(info, sub))


def _is_param(model: type[BaseModel]) -> bool:
    from imcsim.config.device_card import Param

    return issubclass(model, Param)


def _meaning(info: FieldInfo, sub: type[BaseModel] | None) -> str:
    text = info.description or ""
    if not text and sub is not None and sub.__doc__:
        text = sub.__doc__.strip().splitlines()[0]
    return text.replace("|", "\\|").replace("\n", " ")


def missing_descriptions() -> list[str]:
    """Model fields the reference would show without a meaning (every field needs ``description=``)."""
    return [f"{title}: {row.key}" for title, _, rows in _sections() for row in rows if not row.meaning]


# -------------------------------------------------------------------------------------- the page


def _flat_rows() -> list[FieldRow]:
    """The flat form of a study: what ``--set``, ``imcsim sweep --FIELD`` and ``run(set=...)`` take."""
    from imcsim.config.study import MacroOverrides, Study, StudyOptions

    rows = [
        FieldRow("device", "str", "", "the preset's", "", Study.model_fields["device"].description or ""),
        FieldRow("accelerator", "str", "", "acc-<device> or acc-sas-mram", "",
                 Study.model_fields["accelerator"].description or ""),
        FieldRow("workload", "str", "", "required", "", "workload card, zoo model, .onnx or SCALE-Sim .csv"),
        FieldRow("method", "str", "", "`inference`", "", "training method name, alias or method card"),
        FieldRow("engine", _type_text(Study.model_fields["engine"].annotation), "", "`analytic`", "",
                 Study.model_fields["engine"].description or ""),
        FieldRow("name", "str", "", "-", "", Study.model_fields["name"].description or ""),
    ]
    rows += [r for r in field_rows(MacroOverrides) if r.key not in ("in_bits", "w_bits")]
    rows += [FieldRow("batch", "int (optional)", "", "the workload card's", "> 0",
                      "samples per step (same as batch_size)")]
    rows += list(field_rows(StudyOptions))
    return rows


def _method_sections() -> list[tuple[str, str, list[FieldRow]]]:
    from imcsim.workload import methods

    out = []
    for name in methods.names():
        m = methods.get(name)
        rows = list(field_rows(m.options))
        out.append((f"method `{name}`", f"`method.<option>` in the flat form; {m.description}", rows))
    return out


def _sections() -> list[tuple[str, str, list[FieldRow]]]:
    """(title, intro, rows) of every table of the page, in page order."""
    from imcsim.config.accelerator import AcceleratorSpec
    from imcsim.config.device_card import CardFile, ParamEntry
    from imcsim.device.registry import technologies
    from imcsim.workload.cards import WorkloadCard, WorkloadOptions
    from imcsim.workload.methods.cards import MethodCard

    study = [r for r in field_rows(_study_file_model()) if not r.key.startswith("sweep.base")]
    sections = [
        ("Study file", "Keys of a study YAML (`imcsim run STUDY.yaml`, `imcsim.run(\"STUDY.yaml\")`).", study),
        ("Flat study fields (`--set`, sweep axes, `run(set=...)`)",
         "One key per field; `imcsim run --set FIELD=VALUE`, `imcsim sweep --FIELD a,b,c` and the Python API "
         "take these names. Dotted fields are also accepted: `chip.*`, `tile.*`, `macro.*` (the accelerator "
         "preset keys below), `workload.*` (workload options) and `method.*` (the options of the chosen "
         "method).", _flat_rows()),
        ("Workload options (`workload.<option>`)", "Which options a model accepts depends on the model "
         "(`imcsim workloads show NAME`).", list(field_rows(WorkloadOptions))),
        ("Accelerator preset (`devices/acc-*.yaml`; `chip.*`, `tile.*`, `macro.*` overrides)",
         "An inheriting preset (`inherits:`) overrides keys one by one.", list(field_rows(AcceleratorSpec))),
        ("Device card (`devices/*.yaml`)", "Top level of a device card (docs/devices.md).",
         list(field_rows(CardFile, recurse=False))),
        ("Device card parameter entry (`params.<name>`)", "Every parameter is written as this mapping.",
         list(field_rows(ParamEntry))),
    ]
    for tech, entry in technologies().items():
        rows = [FieldRow(f"params.{r.key}", "number", r.unit, "required", r.range, r.meaning)
                for r in _param_rows(entry.params)]
        rows += [FieldRow(f"options.{r.key}", r.type, "", r.default, "", r.meaning)
                 for r in field_rows(entry.options)]
        sections.append((f"Device parameters: `technology: {tech}`", f"{entry.summary} Each parameter in the "
                         "one unit shown (the name ends with it); any other unit is an error.", rows))
    sections += [
        ("Workload card (`workloads/*.yaml`)", "", list(field_rows(WorkloadCard, recurse=False))),
        ("Method card (`workloads/methods/*.yaml`)", "A card describes a built-in method or a variant that "
         "`inherits` one and overrides options.", list(field_rows(MethodCard))),
    ]
    sections += _method_sections()
    return sections


def _param_rows(model: type[BaseModel]) -> Iterator[FieldRow]:
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        sub = nested_model(info.annotation)
        doc = (sub.__doc__ or "").strip().splitlines()[0] if sub is not None and sub.__doc__ else ""
        rng = {"PositiveParam": "> 0", "NonNegParam": ">= 0", "FractionParam": "0-1", "CountParam": "integer >= 1",
               "BitsPerCellParam": "integer 1-4"}.get(getattr(sub, "__name__", ""), doc)
        yield FieldRow(name, "number", str(extra.get("unit", "")), "required", rng, info.description or "")


def _table(rows: list[FieldRow]) -> list[str]:
    out = ["| key | type | unit | default | range | meaning |", "|---|---|---|---|---|---|"]
    out += [f"| `{r.key}` | {r.type} | {r.unit} | {r.default} | {r.range} | {r.meaning} |" for r in rows]
    return out


def study_reference_markdown() -> str:
    """The text of docs/study-reference.md."""
    lines = [
        "# Study reference: every key and `--set` field",
        "",
        "Generated from the pydantic models by `make docs` (`imcsim schema --reference`); do not edit by hand.",
        "`tests/test_reference_docs.py` fails when this page is stale or a field has no description. JSON",
        "Schema for editors and validators: `imcsim schema study|accelerator|device|workload|method|sweep`.",
        "",
        "Units are part of the names (`_ns`, `_pj`, `_mhz`, ...); a range is what validation accepts. Bad input",
        "is one line naming the file, the key, the value and what is allowed.",
        "",
    ]
    for title, intro, rows in _sections():
        lines += [f"## {title}", ""]
        if intro:
            lines += [intro, ""]
        lines += _table(rows) + [""]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(study_reference_markdown(), end="")
