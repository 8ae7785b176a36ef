"""Everything one evaluation needs, built once from a Study: accelerator, device, macro, step, mapping.

The pieces are cached by their inputs, so a sweep over array sizes builds the workload graph and the
training step once per (workload, method) and the device once per card. This is the ZigZag-style
"flow as a plain list of stages": load spec -> build workload -> apply method -> map -> price -> time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from imcsim.circuit.macro import MacroConfig
from imcsim.config.accelerator import AcceleratorSpec, load_accelerator
from imcsim.config.study import Study
from imcsim.device.base import DeviceModel
from imcsim.device.library import load_device
from imcsim.errors import SpecError
from imcsim.mapping.network import MACRO_FIELDS, NetworkMapping, map_network
from imcsim.memo import IdentityMemo
from imcsim.paths import devices_dir
from imcsim.workload.step import TrainingStep


@dataclass(frozen=True)
class Context:
    study: Study
    accel: AcceleratorSpec
    device: DeviceModel
    macro: MacroConfig
    step: TrainingStep
    mapping: NetworkMapping
    batch: int

    @property
    def cycle_ns(self) -> float:
        return self.macro.cycle_ns


#: the chip a device without its own preset runs on (its macro device replaced), named in every result
FALLBACK_PRESET = "acc-sas-mram"


def preset_for(study: Study) -> str:
    """The accelerator preset a study runs on (see :class:`~imcsim.config.study.Study`)."""
    if study.accelerator:
        return study.accelerator
    if study.device and _has_preset(study.device):
        return f"acc-{study.device}"
    return FALLBACK_PRESET


def fallback_note(study: Study) -> str | None:
    """The sentence every result of a device without its own preset carries (None when it has one, or
    the study names its accelerator): which chip it ran on, so no one reads it as a chip of its own."""
    if study.accelerator or not study.device or preset_for(study) != FALLBACK_PRESET:
        return None
    return _fallback_sentence(study.device)


@lru_cache(maxsize=256)
def _fallback_sentence(device: str) -> str | None:
    """The sentence of :func:`fallback_note` for ``device`` (asked per sweep point: memoised)."""
    if device == FALLBACK_PRESET.removeprefix("acc-"):
        return None
    name = Path(device).stem
    return (f"device {name} has no accelerator preset of its own (acc-{name}): it ran on the chip of "
            f"{FALLBACK_PRESET} (tiles, buffers, periphery, write drivers) with {name} macros; "
            "choose another chip with --accelerator or accelerator: in the study")


@lru_cache(maxsize=256)
def _has_preset(device: str) -> bool:
    """A built-in accelerator preset named after the device (asked per sweep point: memoised)."""
    return _is_file(devices_dir() / f"acc-{device}.yaml")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a device "name" the file system refuses (too long) is no preset
        return False


def accelerator_overrides(study: Study) -> dict[str, Any]:
    """The dotted accelerator fields a study changes (its overrides, macro geometry and node)."""
    overrides = dict(study.accelerator_overrides)
    overrides.update(study.macro.dotted())
    if study.options.node_nm is not None:
        overrides["chip.node_nm"] = study.options.node_nm
    return overrides


def check_accelerator(study: Study, source: str) -> AcceleratorSpec:
    """Build the study's accelerator now, so that a bad override is reported against ``source``
    (the study file or ``<flags>``) before anything runs or is written."""
    return load_accelerator(preset_for(study), accelerator_overrides(study) or None, source=source)


def build_context(study: Study) -> Context:
    overrides = accelerator_overrides(study)
    preset = preset_for(study)
    accel = _accelerator(preset, overrides)
    device_name = study.device or accel.macro.device
    device = _device(device_name)
    macro = _macro(accel, device_name)
    step = _step(study.workload.name, _freeze(study.workload.options), study.method.name,
                 _freeze(study.method.options))
    batch = study.options.batch_size or int(step.graph.meta.get("batch", 1) or 1)
    mapping = _mapping(study.workload.name, _freeze(study.workload.options), study.method.name,
                       _freeze(study.method.options), tuple(getattr(macro, f) for f in MACRO_FIELDS), macro,
                       accel.n_macros, study.options.replicate)
    if not mapping.fits and not accel.chip.reloads:
        too_big = max(mapping.layers, key=lambda lm: lm.macros)
        raise SpecError(preset, "chip.reloads", False, problem=(
            f"the network needs {mapping.macros_required} macros but the chip has {accel.n_macros} "
            f"(largest layer {too_big.name}: {too_big.macros}) and reloads are disabled:"),
            allowed="chip.reloads: true, a larger chip (chip.cell_capacity_mibit, chip.tiles) or larger arrays")
    return Context(study, accel, device, macro, step, mapping, batch)


# ------------------------------------------------------------------ cached builders
def _freeze(d: dict[str, Any]) -> str:
    if d == {}:   # most options are empty: json.dumps with arguments builds an encoder each call
        return "{}"
    return json.dumps(d, sort_keys=True, default=str)


def _value_key(d: dict[str, Any]) -> tuple:
    """A hashable key of a dict of overrides by value and type (``64`` and ``64.0`` and ``True`` stay apart,
    as their JSON did); JSON only for values that cannot be hashed (lists, mappings)."""
    try:
        key = tuple(sorted((k, type(v), v) for k, v in d.items()))
        hash(key)
    except TypeError:
        return ("json", json.dumps(d, sort_keys=True, default=str))
    return key


def _accelerator(preset: str, overrides: dict[str, Any]) -> AcceleratorSpec:
    """The preset with ``overrides``, memoised on their values (equal specs: the same object, which the
    engine's memos key on)."""
    return _ACCELERATORS.get((), (preset, _value_key(overrides)),
                             lambda: load_accelerator(preset, dict(overrides) or None))


_ACCELERATORS: IdentityMemo[AcceleratorSpec] = IdentityMemo(256)   # keyed by value only (no owners)


@lru_cache(maxsize=64)
def _device(name: str) -> DeviceModel:
    return load_device(name)


def _macro(accel: AcceleratorSpec, device: str) -> MacroConfig:
    """The macro model of the accelerator's (validated) macro spec on ``device``, memoised on the spec's
    values (all scalars, validated: one type per field), the device, node and clock: accelerators with equal
    macros share it."""
    key = (*accel.macro.__dict__.values(), device, accel.chip.node_nm, accel.chip.clock_mhz)
    return _MACROS.get((), key, lambda: MacroConfig.from_spec(accel.macro, accel.chip.node_nm,
                                                              accel.chip.clock_mhz, device=_device(device)))


_MACROS: IdentityMemo[MacroConfig] = IdentityMemo(512)   # keyed by value only (no owners)


@lru_cache(maxsize=32)
def _step(workload: str, workload_opts: str, method: str, method_opts: str) -> TrainingStep:
    from imcsim.workload import methods
    from imcsim.workload.cards import load_workload

    graph = load_workload(workload, **json.loads(workload_opts))
    return methods.apply(graph, method, **json.loads(method_opts))


def _mapping(workload: str, workload_opts: str, method: str, method_opts: str, geometry: tuple,
             macro: MacroConfig, n_macros: int, replicate: bool) -> NetworkMapping:
    """The network's mapping, memoised on the macro fields mapping reads (``geometry``: MACRO_FIELDS), so
    macros of other devices with the same geometry and step timing share it; ``macro`` is the first one (devices
    of other read latencies share its placement: ``map_network``)."""
    key = (workload, workload_opts, method, method_opts, geometry, n_macros, replicate)
    return _MAPPINGS.get((), key, lambda: map_network(_step(workload, workload_opts, method, method_opts), macro,
                                                      n_macros, replicate=replicate))


_MAPPINGS: IdentityMemo[NetworkMapping] = IdentityMemo(512)   # keyed by value only (no owners)
