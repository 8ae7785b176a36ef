"""The accelerator spec: chip (tiles, global buffer, DRAM, NoC, clock, node), tile (macros, buffer,
digital unit, write drivers) and macro (device, geometry, precisions).

Presets are YAML files ``devices/acc-*.yaml``; a preset may ``inherits:`` another and override any
nested key (deep merge), so a user writes a variant in a few lines. Numbers that are design choices
are plain fields; every number that is a *cost* (energy, bandwidth, area) names its source and tag
in the preset's ``sources`` mapping (dotted field -> "TAG: source"), which a test enforces.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from imcsim.circuit.gates import NODE_MAX_NM, NODE_MIN_NM
from imcsim.config.annotations import nested_model
from imcsim.config.inherit import copy_tree, deep_merge, parent_path, walk_chain
from imcsim.config.loader import FieldRule, StrictModel, load_yaml, validate
from imcsim.errors import SpecError
from imcsim.memo import IdentityMemo
from imcsim.paths import devices_dir
from imcsim.technology import SRAM_AREA_REFERENCE_NM, SRAM_LEAKAGE_REFERENCE_NM, sram_area_at, sram_leakage_at

PRESET_PREFIX = "acc-"


class MacroSpec(StrictModel):
    """One IMC macro: ``rows x cols`` cells of ``device`` with its bit-serial periphery."""

    device: str = Field(description="device card name or path")
    rows: int = Field(gt=0, description="cell rows of one macro")
    cols: int = Field(gt=0, description="cell columns of one macro")
    rows_parallel: int = Field(gt=0, description="inputs of one adder tree: rows summed per cycle (at most rows)")
    column_mux: int = Field(1, gt=0, description="columns sharing one sense amplifier (1: every column sensed)")
    in_bits: int = Field(8, ge=1, le=8, description="input (activation) bits, fed one bit per cycle")
    w_bits: int = Field(8, ge=1, le=8, description="weight bits")
    bits_per_cell: int = Field(1, ge=1, le=4, description="bits stored per cell (multi-level cells)")
    organisation: Literal["bit_column", "weight_column"] = Field(
        "bit_column", description="bit_column: a popcount tree and accumulator per sensed bit column; "
                                  "weight_column: a bit-weighted tree over a weight's bits and one accumulator "
                                  "per weight column (docs/macro.md)")
    input_bits_per_cycle: Literal[1, 2] = Field(1, description="input bits presented per cycle (2: Booth radix-4)")
    activity_model: Literal["activity", "data_independent", "toggle"] = Field(
        "activity", description="what the adder-tree energy follows: 1-products, every gate every cycle, or "
                                "transitions between consecutive cycles")
    pipeline: Literal["auto", "none"] = Field(
        "auto", description="a clock above the unpipelined critical path: auto adds priced pipeline registers, "
                            "none is an error")
    column_select: Literal["word_line", "local_mux"] = Field(
        "word_line", description="muxed columns: the word line spans every cell of the row (word_line) or the "
                                 "input line reaches only the sensed compute entries through local muxes (local_mux)")

    @model_validator(mode="after")
    def _geometry(self) -> MacroSpec:
        """The cross-field rules of a macro, the same ones ``imcsim macro`` (MacroConfig) applies, so
        ``run``, ``sweep``, ``macro`` and the Python API accept and refuse the same geometries."""
        check_macro_geometry(self.rows, self.cols, self.rows_parallel, self.column_mux, self.w_bits,
                             self.bits_per_cell, self.organisation)
        return self

    # A preset's periphery follows the array when a study changes the array only (see
    # :func:`load_accelerator`), so this is rows_parallel itself; kept for the callers that use it.
    @property
    def rows_parallel_effective(self) -> int:
        return min(self.rows_parallel, self.rows)

    @property
    def sense_amps(self) -> int:
        return -(-self.cols // self.column_mux)


def check_macro_geometry(rows: int, cols: int, rows_parallel: int, column_mux: int, w_bits: int,
                         bits_per_cell: int, organisation: str = "bit_column") -> None:
    """One place for the macro's cross-field rules (a :class:`FieldRule` names the field and the limit)."""
    if rows_parallel > rows:
        raise FieldRule("rows_parallel", rows_parallel, f"1 .. rows ({rows}): an adder tree sums at most every row",
                        problem="more than rows:")
    if column_mux > cols:
        raise FieldRule("column_mux", column_mux, f"1 .. cols ({cols}): columns sharing one sense amplifier",
                        problem="more than cols:")
    per_weight = -(-w_bits // bits_per_cell)
    if cols < per_weight:
        raise FieldRule("cols", cols, f"cols >= {per_weight}, the columns of one {w_bits}-bit weight at "
                        f"{bits_per_cell} bit(s) per cell", problem="too few columns for one weight:")
    sense_amps = -(-cols // column_mux)
    if organisation == "weight_column" and sense_amps % per_weight:
        raise FieldRule("column_mux", column_mux, f"a mux leaving a multiple of {per_weight} sensed columns "
                        "(a weight-column macro senses whole weights)",
                        problem=f"leaves {sense_amps} sensed columns:")


class DigitalUnitSpec(StrictModel):
    """The tile's digital unit: the ops an array cannot do (weight gradients, attention, norms, elementwise)."""

    macs_per_cycle: int = Field(gt=0, description="MACs per cycle (GEMMs: weight gradients, attention)")
    energy_pj_per_mac: float = Field(gt=0, description="energy of one MAC at the unit's precision")
    vector_ops_per_cycle: int = Field(gt=0, description="elementwise ops per cycle (norms, biases, activations)")
    energy_pj_per_vector_op: float = Field(gt=0, description="energy of one elementwise op")
    area_um2: float = Field(ge=0, description="area of the unit")
    precision: Literal["int8", "fp16", "fp32"] = Field("fp32", description="arithmetic precision (recorded; the energies are given for it)")


class TileSpec(StrictModel):
    """One tile: its macros, a local SRAM buffer, a digital unit and write drivers."""

    macros: int | None = Field(None, gt=0, description="macros per tile; derived from chip.cell_capacity_mbit if unset")
    buffer_kib: float = Field(gt=0, description="tile SRAM buffer size")
    buffer_bytes_per_cycle: float = Field(gt=0, description="tile buffer port width")
    buffer_read_pj_per_byte: float = Field(ge=0, description="tile buffer read energy")
    buffer_write_pj_per_byte: float = Field(ge=0, description="tile buffer write energy")
    digital_unit: DigitalUnitSpec = Field(description="the tile's digital unit")
    write_drivers: int = Field(gt=0, description="macros of the tile that can be written at the same time")
    double_buffering: bool = Field(True, description="macro input and output registers double-buffered: a layer's "
                                                     "buffer port moves its next row while its macros compute a row, "
                                                     "and it computes its next row while the last one is sent (false: "
                                                     "port and macros in turn, and it waits for delivery)")


class ChipSpec(StrictModel):
    """The chip: tiles, clock and node, the global buffer, DRAM and the NoC."""

    tiles: int = Field(gt=0, description="tiles on the chip")
    cell_capacity_mibit: float | None = Field(
        None, gt=0, description="total IMC cells in Mibit (2^20); when set, macros per tile follow from it and "
                                "the array size, so an array-size sweep compares chips of equal capacity")
    node_nm: float = Field(ge=NODE_MIN_NM, le=NODE_MAX_NM,
                           description="technology node of the periphery (gate energies scale with it), 3-180 nm")
    clock_mhz: float = Field(ge=1e-3, description="chip clock (at least 1 kHz: slower clocks overflow the latency)")
    global_buffer_kib: float = Field(gt=0, description="global SRAM buffer size")
    global_buffer_bytes_per_cycle: float = Field(gt=0, description="global buffer port width")
    global_buffer_read_pj_per_byte: float = Field(ge=0, description="global buffer read energy")
    global_buffer_write_pj_per_byte: float = Field(ge=0, description="global buffer write energy")
    sram_leakage_uw_per_kib: float = Field(ge=0, description="leakage of every SRAM buffer (global and tile), "
                                                             "at sram_leakage_node_nm; scaled to node_nm")
    sram_leakage_node_nm: float = Field(
        SRAM_LEAKAGE_REFERENCE_NM, ge=NODE_MIN_NM, le=NODE_MAX_NM,
        description="node at which sram_leakage_uw_per_kib is quoted (default 22 nm, the NVMExplorer figure); "
                    "the buffers leak that figure x the leakage-vs-node curve (imcsim.technology)")
    sram_area_um2_per_bit: float = Field(gt=0, description="area of one SRAM buffer bit, at sram_area_node_nm; "
                                                           "scaled to node_nm")
    sram_area_node_nm: float = Field(
        SRAM_AREA_REFERENCE_NM, ge=NODE_MIN_NM, le=NODE_MAX_NM,
        description="node at which sram_area_um2_per_bit is quoted (default 28 nm, the presets' figure); the "
                    "buffers take that area x the cell-area-vs-node curve (imcsim.technology)")
    dram_bandwidth_gb_per_s: float = Field(gt=0, description="off-chip DRAM bandwidth")
    dram_read_energy_pj_per_bit: float = Field(ge=0, description="energy of one bit read from DRAM (weight "
                                                                 "fetches, activations read back)")
    dram_write_energy_pj_per_bit: float = Field(ge=0, description="energy of one bit written to DRAM (trained "
                                                                  "weights written back, activations spilled)")
    noc_width_bits: int = Field(gt=0, description="NoC link width")
    noc_hop_latency_cycles: float = Field(ge=0, description="router latency per hop")
    noc_energy_pj_per_bit_per_mm: float = Field(ge=0, description="NoC link energy")
    tile_pitch_mm: float = Field(gt=0, description="distance between neighbouring tiles (one hop)")
    reloads: bool = Field(True, description="allow weight reloads from DRAM when the network does not fit")
    contention: bool = Field(True, description="model shared NoC/DRAM/buffer ports as exclusive resources")
    power_gating: Literal["none", "macros", "macros+buffers"] = Field(
        "macros", description="what is power-gated while idle: nothing, idle macros' periphery (woken per "
                              "layer at a priced wake-up energy), or also the SRAM buffer capacity that holds "
                              "nothing (imcsim/engine/leakage.py)")
    pipeline: Literal["row", "layer"] = Field(
        "row", description="dataflow: row (a layer starts on the first rows its producers have delivered; the "
                           "analytic engine gives a lower bound of it) or layer (each layer waits for the whole "
                           "previous layer, kept for comparison)")
    dram_channels: int = Field(1, gt=0, description="independent DRAM channels; chip.dram_bandwidth_gb_per_s is "
                                                    "their total, split evenly")

    @property
    def sram_leakage_w_per_kib(self) -> float:
        """SRAM buffer leakage per KiB at this chip's node (W): the quoted figure scaled from
        ``sram_leakage_node_nm`` to ``node_nm`` (imcsim.technology.sram_leakage_at)."""
        return sram_leakage_at(self.sram_leakage_uw_per_kib * 1e-6, self.node_nm, self.sram_leakage_node_nm)

    @property
    def sram_bit_area_um2(self) -> float:
        """SRAM buffer area per bit at this chip's node (um^2): the quoted figure scaled from
        ``sram_area_node_nm`` to ``node_nm`` (imcsim.technology.sram_area_at)."""
        return sram_area_at(self.sram_area_um2_per_bit, self.node_nm, self.sram_area_node_nm)


class AcceleratorSpec(StrictModel):
    """An accelerator preset: chip, tile and macro, with a source for every number."""

    kind: Literal["accelerator"] = Field("accelerator", description="marks a preset (devices/ also holds device cards)")
    name: str = Field(description="preset name (acc-<device> for the built-in ones)")
    description: str = Field("", description="one line shown in tables and reports")
    inherits: str | None = Field(None, description="a built-in preset name or a path relative to this file; this preset overrides it key by key")
    chip: ChipSpec = Field(description="chip-level resources")
    tile: TileSpec = Field(description="per-tile resources")
    macro: MacroSpec = Field(description="the IMC macro")
    sources: dict[str, str] = Field(default_factory=dict, description="dotted key -> 'TAG: source' for every "
                                                                    "number (tags S/T/D/A, keys in docs/references.md)")

    @model_validator(mode="after")
    def _clock(self) -> AcceleratorSpec:
        """A clock whose period is shorter than one full adder cannot be pipelined (the macro's adder
        tree and carry-save accumulator cut into stages of at least one full adder): refused."""
        from imcsim.circuit.gates import fastest_clock_mhz

        limit = fastest_clock_mhz(self.chip.node_nm)
        if self.chip.clock_mhz > limit:
            raise FieldRule("chip.clock_mhz", self.chip.clock_mhz, f"at most {limit:.0f} MHz at "
                            f"{self.chip.node_nm:g} nm", problem="faster than one full-adder pipeline stage allows:")
        return self

    @model_validator(mode="after")
    def _macros_per_tile(self) -> AcceleratorSpec:
        if self.tile.macros is None:
            if self.chip.cell_capacity_mibit is None:
                raise ValueError("set tile.macros or chip.cell_capacity_mibit")
            object.__setattr__(self.tile, "macros", macros_per_tile(self.chip, self.macro))
        return self

    @property
    def n_macros(self) -> int:
        return self.chip.tiles * int(self.tile.macros or 0)

    @property
    def weight_capacity(self) -> int:
        """INT weights of ``macro.w_bits`` the chip holds at once."""
        m = self.macro
        cells_per_weight = -(-m.w_bits // m.bits_per_cell)
        return self.n_macros * m.rows * (m.cols // cells_per_weight)

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.chip.clock_mhz


def macros_per_tile(chip: ChipSpec, macro: MacroSpec) -> int:
    """Macros per tile that hold ``chip.cell_capacity_mibit`` (set) in arrays of the macro's size (rounded up)."""
    cells = float(chip.cell_capacity_mibit or 0) * 2**20
    per_tile = cells / (chip.tiles * macro.rows * macro.cols)
    return max(1, int(-(-per_tile // 1)))


def list_presets() -> list[str]:
    return sorted(p.stem for p in devices_dir().glob(f"{PRESET_PREFIX}*.yaml"))


def load_accelerator(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
                     source: str = "<overrides>") -> AcceleratorSpec:
    """Load a preset by name (``acc-sas-mram``) or path, resolve ``inherits``, apply dotted overrides.

    ``overrides`` maps dotted fields (``macro.rows``, ``chip.tiles``) to values; a wrong field is a
    SpecError naming it, and the result is validated as a whole (macro-only overrides: the preset once,
    then the macro section and the rules that read it, see :func:`_macro_variant`). An error about an overridden field
    is blamed on ``source`` (where the overrides were written: a study file, ``<flags>``), not on the
    preset file.
    """
    if overrides and all(k.startswith("macro.") for k in overrides):
        variant = _macro_variant(name_or_path, overrides)
        if variant is not None:
            return variant
    return _load_whole(name_or_path, overrides, source)


def _load_whole(name_or_path: str | Path, overrides: dict[str, Any] | None, source: str) -> AcceleratorSpec:
    """The preset with ``overrides`` applied, validated as a whole (every rule, every error)."""
    data, file = _resolve(name_or_path)
    if overrides:
        for dotted, value in overrides.items():
            _set_dotted(data, dotted, value, source)
        _follow_array(data.get("macro"), overrides)
    try:
        return validate(AcceleratorSpec, data, file)
    except SpecError as exc:
        if overrides and exc.field and any(exc.field == k or exc.field.startswith(k + ".") for k in overrides):
            raise SpecError(source, exc.field, exc.value, allowed=exc.allowed, problem=exc.problem) from None
        raise


def _macro_variant(name_or_path: str | Path, overrides: dict[str, Any]) -> AcceleratorSpec | None:
    """An array sweep changes the macro only: the preset, validated once, with only its macro section
    validated anew (``MacroSpec``: every field rule and the geometry rules) and the one rule of the whole
    spec that reads the macro (``tile.macros`` from ``chip.cell_capacity_mibit``) applied; the clock rule
    reads the chip alone, which the preset passed. None when any of it fails (or the preset itself is
    invalid, or a key is not a macro field): the caller then validates it all, to report the error exactly
    as the whole spec reports it."""
    parts = _preset_parts(name_or_path)
    if parts is None:
        return None
    spec, raw_macro, tile = parts
    fields = MacroSpec.model_fields
    macro = dict(raw_macro)
    for dotted, value in overrides.items():
        name = dotted[6:]   # after "macro."
        if name not in fields:
            return None
        macro[name] = value
    _follow_array(macro, overrides)
    try:
        checked = MacroSpec.model_validate(macro)
    except ValueError:   # pydantic's ValidationError is one
        return None
    if tile.macros is None:   # the preset derives them from the capacity: this array's tile
        tile = _tile_with(tile, macros_per_tile(spec.chip, checked))
    return spec.model_copy(update={"macro": checked, "tile": tile})


def _tile_with(tile: TileSpec, macros: int) -> TileSpec:
    """The preset's tile with ``macros`` macros, one per (tile, count): arrays of one size share it, as every
    variant shares its preset's chip (specs are read-only once built)."""
    def build() -> TileSpec:
        copy = tile.model_copy()
        object.__setattr__(copy, "macros", macros)
        return copy

    return _TILES.get((tile,), (macros,), build)


_TILES: IdentityMemo[TileSpec] = IdentityMemo(256)


def _preset_parts(name_or_path: str | Path) -> tuple[AcceleratorSpec, dict[str, Any], TileSpec] | None:
    """The preset validated, its macro section as written (shared: not to be changed) and its tile as
    written (before ``tile.macros`` is derived from the macro), memoised per version of every file of its
    chain; None when the preset is invalid or unknown (the caller then validates it all, to report why)."""
    try:
        path = _PART_PATHS.get(name_or_path) or _PART_PATHS.setdefault(name_or_path, _preset_path(name_or_path))
        stamps = _chain_stamps(path)   # stats the chain's files: a changed or deleted file is seen
    except (SpecError, OSError):
        return None
    return _preset_parts_cached(str(path), stamps)


#: preset name or path -> its file, as :func:`_preset_path` found it (a sweep asks once per point)
_PART_PATHS: dict[str | Path, Path] = {}


@lru_cache(maxsize=64)
def _preset_parts_cached(path_text: str, stamps: tuple[tuple[str, int], ...]
                         ) -> tuple[AcceleratorSpec, dict[str, Any], TileSpec] | None:
    try:
        spec = _load_whole(path_text, None, "<overrides>")
        data, _ = _resolve(path_text)
        if not isinstance(data.get("macro"), dict):
            return None
        return spec, data["macro"], TileSpec.model_validate(data["tile"])
    except (SpecError, ValueError, KeyError, TypeError):
        return None


def _follow_array(macro: Any, overrides: dict[str, Any]) -> None:
    """A study that changes the array but not its periphery keeps the preset's periphery where it
    fits and shrinks it to the array where it does not (an adder tree of at most ``rows`` inputs, a
    mux of at most ``cols`` columns), so an array-size sweep over a preset stays valid. A periphery
    the study sets itself is never changed: a bad one is an error."""
    if not isinstance(macro, dict):
        return
    for size, part in (("rows", "rows_parallel"), ("cols", "column_mux")):
        n, k = macro.get(size), macro.get(part)
        if (f"macro.{size}" in overrides and f"macro.{part}" not in overrides and isinstance(n, int)
                and isinstance(k, int) and not isinstance(n, bool) and 0 < n < k):
            macro[part] = n


def _resolve(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """The preset's data with ``inherits`` merged (a fresh copy: callers may change it) and its file."""
    path = _preset_path(name_or_path)
    return copy_tree(_merged(_chain_stamps(path))), str(path)


#: preset file -> the stamps of its chain when last walked (sweeps ask once per point: a few stats
#: instead of a walk, ~5 us instead of ~120 us)
_CHAINS: dict[str, tuple[tuple[str, int], ...]] = {}


def _chain_stamps(path: Path) -> tuple[tuple[str, int], ...]:
    """Each file of the preset's chain (child first) with its version: the key of the caches below. The
    chain is walked again only when a file of the last walk changed (or went): only their contents decide
    the chain."""
    known = _CHAINS.get(str(path))
    if known is not None:
        try:
            if all(os.stat(f).st_mtime_ns == m for f, m in known):
                return known
        except OSError:
            pass
    stamps = tuple((str(link.file), link.file.stat().st_mtime_ns)
                   for link in walk_chain(path, _read_preset, _preset_parent))
    _CHAINS[str(path)] = stamps
    return stamps


def _preset_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = devices_dir() / f"{name_or_path}.yaml"
        if not path.exists() or not path.stem.startswith(PRESET_PREFIX):
            raise SpecError(None, "accelerator", str(name_or_path), problem="unknown accelerator preset",
                            allowed=", ".join(list_presets()))
    if not path.exists():
        raise SpecError(str(path), None, problem="file does not exist")
    return path


def _preset_parent(data: dict[str, Any], file: Path) -> tuple[str, Path] | None:
    parent = data.get("inherits")
    if parent is None:
        return None
    if not isinstance(parent, str) or not parent:
        raise SpecError(str(file), "inherits", parent, problem="bad value", allowed="a preset name or path")
    if parent.endswith((".yaml", ".yml")):
        return parent, parent_path(parent, file)
    path = devices_dir() / f"{parent}.yaml"
    if not path.stem.startswith(PRESET_PREFIX) or not path.is_file():
        raise SpecError(str(file), "inherits", parent, problem="unknown accelerator preset",
                        allowed=", ".join(list_presets()) + " or a path relative to this file")
    return parent, path


def _read_preset(path: Path) -> dict[str, Any]:
    return _read_cached(str(path), path.stat().st_mtime_ns)


# Sweeps build thousands of accelerators from one preset: parse each file of its chain once per version,
# and merge the chain once per version of its files. Both results are shared: never changed in place.
@lru_cache(maxsize=128)
def _read_cached(path_text: str, mtime_ns: int) -> dict[str, Any]:
    return load_yaml(Path(path_text))


@lru_cache(maxsize=128)
def _merged(stamps: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path_text, mtime_ns in reversed(stamps):  # root first
        data = deep_merge(data, _read_cached(path_text, mtime_ns))
    return data


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, file: str) -> None:
    parts = dotted.split(".")
    node: Any = data
    model: Any = AcceleratorSpec
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            guess = difflib.get_close_matches(part, list(fields), n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise SpecError(file, ".".join(parts[: i + 1]), problem=f"unknown accelerator field{hint}",
                            allowed=", ".join(sorted(fields)))
        if i == len(parts) - 1:
            node[part] = value
        else:
            node = node.setdefault(part, {})
            model = nested_model(fields[part].annotation)
