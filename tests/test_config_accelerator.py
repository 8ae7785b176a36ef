"""Accelerator presets: validation, inheritance, derived sizes, and a source for every number."""

import pytest
from pydantic import BaseModel

from imcsim.config import accelerator
from imcsim.config.accelerator import list_presets, load_accelerator
from imcsim.errors import SpecError

STRUCTURAL = {"chip.reloads", "chip.contention"}  # switches, not quantities


def _numeric_leaves(model, prefix=""):
    for name, value in model:
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _numeric_leaves(value, path + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and path not in STRUCTURAL:
            yield path


def test_four_presets_of_one_class():
    assert {"acc-sas-mram", "acc-sot-mram", "acc-reram", "acc-sram"} <= set(list_presets())
    specs = {p: load_accelerator(p) for p in ("acc-sas-mram", "acc-sot-mram", "acc-reram", "acc-sram")}
    # same capacity and chip: they differ in the macro only
    assert len({s.weight_capacity for s in specs.values()}) == 1
    assert len({s.chip.model_dump_json() for s in specs.values()}) == 1
    assert {s.macro.device for s in specs.values()} == {"sas-mram", "sot-mram", "reram", "sram"}


@pytest.mark.parametrize("preset", ["acc-sas-mram", "acc-sot-mram", "acc-reram", "acc-sram"])
def test_every_number_has_a_source(preset):
    spec = load_accelerator(preset)
    missing = [p for p in _numeric_leaves(spec) if p not in spec.sources and p != "tile.macros"]
    assert not missing, f"{preset}: no source for {missing}"
    assert all(v.split(":")[0] in {"S", "T", "D", "A"} for v in spec.sources.values())


def test_capacity_derives_macros_per_tile():
    # 128 Mibit = 2^27 cells; 64 tiles of 256x256 macros -> 2^27 / (64 * 2^16) = 32 macros per tile
    spec = load_accelerator("acc-sas-mram")
    assert spec.tile.macros == 32 and spec.n_macros == 2048
    # 8-bit weights in 1-bit cells: 256 rows x 32 weights per row x 2048 macros = 16,777,216 weights
    assert spec.weight_capacity == 16_777_216
    small = load_accelerator("acc-sas-mram", {"macro.rows": 32, "macro.cols": 32})
    # same capacity in 32x32 arrays: 2^27 / (64 * 2^10) = 2048 per tile; adder tree capped at the 32 rows
    assert small.tile.macros == 2048 and small.macro.rows_parallel_effective == 32
    assert small.weight_capacity == spec.weight_capacity


def test_reram_column_mux():
    spec = load_accelerator("acc-reram")
    assert spec.macro.column_mux == 8 and spec.macro.sense_amps == 256 // 8


def test_bad_overrides_and_names():
    with pytest.raises(SpecError, match=r"macro.rowz: unknown accelerator field \(did you mean 'rows'\?\)"):
        load_accelerator("acc-sas-mram", {"macro.rowz": 3})
    with pytest.raises(SpecError, match=r"macro.rows: bad value 0"):
        load_accelerator("acc-sas-mram", {"macro.rows": 0})
    with pytest.raises(SpecError, match=r"unknown accelerator preset.*acc-reram"):
        load_accelerator("acc-nope")


def test_inheritance_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("inherits: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("inherits: a.yaml\nname: b\n")
    with pytest.raises(SpecError, match="inheritance cycle"):
        load_accelerator(tmp_path / "a.yaml")


def test_user_variant_in_a_few_lines(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("inherits: acc-sas-mram\nname: mine\nmacro: {rows: 256, cols: 256}\nchip: {clock_mhz: 700}\n")
    spec = load_accelerator(f)
    assert (spec.macro.rows, spec.chip.clock_mhz, spec.macro.device) == (256, 700, "sas-mram")


@pytest.mark.parametrize("preset", ["acc-sas-mram", "acc-reram"])
@pytest.mark.parametrize("overrides", [
    {"macro.rows": 64, "macro.cols": 32}, {"macro.rows": 32, "macro.rows_parallel": 8, "macro.column_mux": 2},
    {"macro.rows": 16, "macro.rows_parallel": 64}, {"macro.rows": 512, "macro.bits_per_cell": 2},
    {"macro.nonsense": 3}, {"macro.rows": 0}])
def test_macro_only_overrides_build_what_a_full_validation_builds(preset, overrides, monkeypatch):
    # array sweeps reuse the preset's validated chip and tile (config/accelerator.py _chip_and_tile): the
    # accelerator, or the error, must be the one validating the whole preset gives
    def build():
        try:
            return load_accelerator(preset, overrides, source="<flags>")
        except SpecError as exc:
            return str(exc)

    fast = build()
    monkeypatch.setattr(accelerator, "_chip_and_tile", lambda *_: None)
    full = build()
    assert fast == full
    if not isinstance(fast, str):
        assert fast.model_dump() == full.model_dump() and fast.tile.macros == full.tile.macros
