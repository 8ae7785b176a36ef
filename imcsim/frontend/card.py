"""Sensor cards: ``devices/sensors/*.yaml``, every parameter with its unit, tag and source.

A sensor card is read by the device cards' own machinery (:func:`imcsim.config.device_card.resolve_card_chain`
for ``inherits`` and per-file error lines, :func:`~imcsim.config.device_card.validate_params` for the
one-unit-per-parameter check); only the file kind, the technology and the parameter table differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from imcsim.config.device_card import (
    OVERRIDES_FILE,
    CardFile,
    CountParam,
    NonNegParam,
    ParamLookup,
    PositiveParam,
    looks_like_path,
    param_field,
    resolve_card_chain,
    validate_params,
)
from imcsim.config.loader import StrictModel
from imcsim.errors import SpecError
from imcsim.paths import devices_dir

SENSOR_TECHNOLOGIES = ("cmos_image_sensor",)


def sensors_dir() -> Path:
    """Folder of the built-in sensor cards."""
    return devices_dir() / "sensors"


class SensorCardFile(CardFile):
    """The top level of a sensor card file (same shape as a device card, its own kind)."""

    kind: Literal["sensor"]  # type: ignore[assignment]
    technology: Literal["cmos_image_sensor"] | None = None  # type: ignore[assignment]


class SensorParams(StrictModel):
    """Every number the sensor model reads (:mod:`imcsim.frontend.sensor`)."""

    width_px: CountParam = param_field("px", "pixel columns of the array")
    height_px: CountParam = param_field("px", "pixel rows of the array")
    channels: CountParam = param_field("1", "samples per pixel: 3 colour (R, G, B) or 1 grey")
    adc_bits: CountParam = param_field("bit", "ADC resolution = bits per converted sample sent on the link")
    adc_fom_fj: PositiveParam = param_field("fJ", "Walden figure of merit P / (2^ENOB f_s), energy per conversion step")
    adc_conversion_ns: PositiveParam = param_field("ns", "one conversion (all column ADCs convert in parallel)")
    column_adcs: CountParam = param_field("1", "column ADCs converting in parallel")
    pixel_read_energy_pj: NonNegParam = param_field("pJ", "one sample read out of its pixel onto the column line")
    gray_energy_pj: NonNegParam = param_field("pJ", "forming one gray sample from the colour samples (analog)")
    pool_energy_pj: NonNegParam = param_field("pJ", "merging one sample into a pooled value (analog charge sharing)")
    readout_energy_per_bit_pj: NonNegParam = param_field("pJ", "moving one converted bit to the sensor's output")
    link_energy_per_bit_pj: NonNegParam = param_field("pJ", "sending one bit over the link to the accelerator")
    link_bandwidth_gbps: PositiveParam = param_field("Gbit/s", "link rate (all lanes)")


def sensor_param_unit(technology: str, name: str) -> str | None:
    info = SensorParams.model_fields.get(name)
    return None if info is None else (info.json_schema_extra or {}).get("unit")


class SensorCard(ParamLookup, StrictModel):
    """A validated, inheritance-resolved sensor card."""

    name: str
    technology: str
    description: str
    provenance: str
    file: str
    chain: list[str]
    params: SensorParams
    defined_in: dict[str, str]

    def records(self) -> list[dict[str, Any]]:
        """One row per parameter (value, unit, tag, source): what reports print."""
        return [{"param": n, "value": self.value(n), "unit": self.param(n).unit, "tag": self.param(n).tag,
                 "source": self.param(n).source} for n in SensorParams.model_fields]


def list_sensors() -> list[str]:
    """Names of the built-in sensor cards."""
    return sorted(p.stem for p in sensors_dir().glob("*.yaml"))


def resolve_sensor_path(ref: str, base_dir: Path | None = None, *, file: str = "<flags>",
                        field: str = "sensor") -> Path:
    """A built-in sensor name or a card path (relative to ``base_dir``) -> the card file."""
    if looks_like_path(ref):
        path = Path(ref).expanduser()
        return base_dir / path if not path.is_absolute() and base_dir is not None else path
    path = sensors_dir() / f"{ref}.yaml"
    if not path.is_file():
        raise SpecError(file, field, ref, ", ".join(list_sensors()) + " or a path to a sensor card",
                        problem="unknown sensor")
    return path


def load_sensor(name_or_path: str | Path, overrides: dict[str, float] | None = None,
                base_dir: Path | None = None) -> SensorCard:
    """Load, resolve (``inherits``) and validate a sensor card; ``overrides`` maps parameter names to
    numbers (tag A, source ``override``)."""
    path = name_or_path if isinstance(name_or_path, Path) else resolve_sensor_path(str(name_or_path), base_dir)
    chain, merged = resolve_card_chain(path, file_model=SensorCardFile, find_parent=resolve_sensor_path,
                                       unit_of=sensor_param_unit)
    for name, value in (overrides or {}).items():
        if name not in SensorParams.model_fields:
            raise SpecError(OVERRIDES_FILE, name, problem="unknown sensor parameter",
                            allowed=", ".join(SensorParams.model_fields))
        new = dict(merged["params"].get(name, {"unit": sensor_param_unit("", name)}))
        new.update(value=value, tag="A", source="override")
        merged["params"][name] = new
        merged["defined_in"][name] = "override"
        merged.setdefault("files", {})[name] = OVERRIDES_FILE
    params = validate_params(merged, chain, SensorParams)
    return SensorCard(name=merged["name"], technology=merged["technology"], description=merged["description"],
                      provenance=merged["provenance"], file=merged["file"], chain=chain, params=params,
                      defined_in=merged["defined_in"])
