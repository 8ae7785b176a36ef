"""Accelerator presets: validation, inheritance, derived sizes, and a source for every number."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    # array sweeps reuse the validated preset and validate its macro alone (config/accelerator.py _macro_variant): the
    # accelerator, or the error, must be the one validating the whole preset gives
    def build():
        try:
            return load_accelerator(preset, overrides, source="<flags>")
        except SpecError as exc:
            return str(exc)

    fast = build()
    monkeypatch.setattr(accelerator, "_macro_variant", lambda *_: None)
    full = build()
    assert fast == full
    if not isinstance(fast, str):
        assert fast.model_dump() == full.model_dump() and fast.tile.macros == full.tile.macros


def _typed(value):
    """A model dump with every value's type next to it (so 64 and 64.0 differ)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value), value)


def _both(preset, overrides):
    """(load_accelerator's answer, the whole-spec validation's answer): a spec or the error line."""
    out = []
    for load in (load_accelerator, accelerator._load_whole):
        try:
            out.append(load(preset, overrides, source="<flags>"))
        except SpecError as exc:
            out.append(str(exc))
    return out


def _assert_same(fast, full):
    assert type(fast) is type(full)
    if isinstance(fast, str):
        assert fast == full
        return
    assert _typed(fast.model_dump()) == _typed(full.model_dump())
    for part in ("macro", "tile", "chip"):
        assert getattr(fast, part).model_fields_set == getattr(full, part).model_fields_set
    assert fast.model_fields_set == full.model_fields_set
    assert (fast.n_macros, fast.weight_capacity) == (full.n_macros, full.weight_capacity)


# every rule that reads the macro, broken by a macro-only override: the error line must name the field (and the
# value, and what is allowed) exactly as validating the whole preset does
@pytest.mark.parametrize(("overrides", "line"), [
    ({"macro.rows": 16, "macro.rows_parallel": 64}, "<flags>: macro.rows_parallel: more than rows: 64"),
    ({"macro.cols": 16, "macro.column_mux": 32}, "<flags>: macro.column_mux: more than cols: 32"),
    ({"macro.cols": 4}, "<flags>: macro.cols: too few columns for one weight: 4; allowed: cols >= 8"),
    ({"macro.w_bits": 8, "macro.bits_per_cell": 2, "macro.cols": 3}, "<flags>: macro.cols: too few columns"),
    ({"macro.organisation": "weight_column", "macro.column_mux": 3},
     "<flags>: macro.column_mux: leaves 86 sensed columns: 3"),
    ({"macro.in_bits": 9}, "<flags>: macro.in_bits: bad value 9"),
    ({"macro.bits_per_cell": 5}, "<flags>: macro.bits_per_cell: bad value 5"),
    ({"macro.organisation": "x"}, "<flags>: macro.organisation: bad value 'x'"),
    ({"macro.input_bits_per_cycle": 3}, "<flags>: macro.input_bits_per_cycle: bad value 3"),
    ({"macro.rows": "abc"}, "<flags>: macro.rows: bad value 'abc'"),
    ({"macro.rows": 2.5}, "<flags>: macro.rows: bad value 2.5"),
    ({"macro.rows": 1e40}, "<flags>: macro.rows: bad value 1e+40"),
    ({"macro.rowz": 3}, "<flags>: macro.rowz: unknown accelerator field (did you mean 'rows'?)"),
    ({"macro.rows.x": 3}, "<flags>: macro.rows.x: unknown accelerator field"),
])
def test_each_broken_macro_rule_gives_the_whole_specs_error(overrides, line):
    fast, full = _both("acc-sas-mram", overrides)
    assert isinstance(fast, str) and fast.startswith(line) and "\n" not in fast
    assert fast == full


_MACRO_VALUES = {
    "rows": st.sampled_from([1, 4, 16, 32, 48, 64, 256, 512, 0, -3, 64.0, 2.5, True, "64", None]),
    "cols": st.sampled_from([1, 3, 4, 8, 16, 32, 64, 256, 512, 0, 32.0]),
    "rows_parallel": st.sampled_from([1, 8, 16, 64, 128, 600, 0]),
    "column_mux": st.sampled_from([1, 2, 3, 8, 64, 0]),
    "bits_per_cell": st.sampled_from([1, 2, 4, 5]),
    "w_bits": st.sampled_from([1, 4, 8, 9]),
    "in_bits": st.sampled_from([1, 8, 0]),
    "organisation": st.sampled_from(["bit_column", "weight_column", "x"]),
    "input_bits_per_cycle": st.sampled_from([1, 2, 3]),
    "device": st.sampled_from(["reram", "sram"]),
    "activity_model": st.sampled_from(["activity", "toggle", "nope"]),
}


@settings(max_examples=150, deadline=None)
@given(preset=st.sampled_from(["acc-sas-mram", "acc-sot-mram", "acc-reram", "acc-sram"]),
       overrides=st.dictionaries(st.sampled_from(sorted(_MACRO_VALUES)), st.integers(0, 2**30), min_size=1,
                                 max_size=5).flatmap(lambda keys: st.fixed_dictionaries(
                                     {f"macro.{k}": _MACRO_VALUES[k] for k in keys})))
def test_macro_only_overrides_equal_the_whole_validation(preset, overrides):
    # the macro-only path (the preset validated once, its macro section alone anew) builds the spec, or the
    # error line, that validating the whole preset with the overrides gives; a valid override takes that path
    fast, full = _both(preset, overrides)
    _assert_same(fast, full)
    if not isinstance(fast, str):
        assert accelerator._macro_variant(preset, overrides) is not None
