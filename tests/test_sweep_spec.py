"""Sweep specs: flag and YAML parsing, ranges, filters, point ids, and every bad-spec error line."""

from __future__ import annotations

import textwrap
from typing import Literal

import pytest
from sweep_helpers import FIELD_TYPES

from imcsim.config.loader import StrictModel
from imcsim.errors import SpecError
from imcsim.sweep.expr import compile_filter
from imcsim.sweep.spec import (
    field_types_from_model,
    load_sweep,
    parse_values,
    point_id,
    spec_from_flags,
    spec_from_mapping,
    split_flag_args,
)

# ------------------------------------------------------------------------------- values and ranges


@pytest.mark.parametrize("text, ftype, expected", [
    ("64,128,256", int, (64, 128, 256)),
    (" 64 , 128 ", int, (64, 128)),
    ("64:256:64", int, (64, 128, 192, 256)),          # stop included when hit
    ("64:250:64", int, (64, 128, 192)),               # 256 > 250: not hit
    ("64:1024*2", int, (64, 128, 256, 512, 1024)),
    ("64:1000*2", int, (64, 128, 256, 512)),
    ("0.5:1.5:0.25", float, (0.5, 0.75, 1.0, 1.25, 1.5)),   # start + i*step, no drift
    ("0.1:0.3:0.1", float, (0.1, 0.2, 0.30000000000000004)),  # 0.1 + 2*0.1 in binary floating point
    ("100", float, (100.0,)),
    ("sas-mram,sot-mram,reram", str, ("sas-mram", "sot-mram", "reram")),
    ("a:b", str, ("a:b",)),                            # ':' is ordinary text for a text field
    ("true,no", bool, (True, False)),
    ("analytic,event", Literal["analytic", "event"], ("analytic", "event")),
    ("none,8", int | None, (None, 8)),
])
def test_parse_values(text, ftype, expected):
    assert parse_values(text, ftype, "--x") == expected


def test_range_types_follow_the_field():
    assert all(type(v) is int for v in parse_values("64:1024*2", int, "--rows"))
    assert all(type(v) is float for v in parse_values("1:4:1", float, "--clock-mhz"))


# ------------------------------------------------------------------------------- expansion


def test_flags_expand_to_the_cartesian_product_in_axis_order():
    spec = spec_from_flags(split_flag_args(
        ["--device", "sas-mram,reram", "--rows=64,128", "--method", "inference,repnet,lorafusion",
         "--workload", "resnet18"]), FIELD_TYPES)
    assert spec.base == {"workload": "resnet18"}     # one value: a fixed field, not an axis
    assert list(spec.axes) == ["device", "rows", "method"]
    points = spec.expand()
    assert len(points) == 2 * 2 * 3
    # first axis outermost, last axis fastest
    assert [(p.params["device"], p.params["rows"], p.params["method"]) for p in points[:4]] == [
        ("sas-mram", 64, "inference"), ("sas-mram", 64, "repnet"), ("sas-mram", 64, "lorafusion"),
        ("sas-mram", 128, "inference")]
    assert [p.index for p in points] == list(range(12))
    assert all(p.params["workload"] == "resnet18" for p in points)
    assert len({p.id for p in points}) == 12


def test_dashes_in_flags_become_underscores():
    assert split_flag_args(["--rows-parallel", "16", "--clock-mhz=200"]) == [
        ("rows_parallel", "16"), ("clock_mhz", "200")]


def test_a_one_value_range_is_still_an_axis():
    spec = spec_from_flags({"rows": "64:64:1"}, FIELD_TYPES)
    assert spec.axes == {"rows": (64,)} and spec.base == {}


def test_filters_drop_combinations():
    spec = spec_from_flags({"rows": "64,128,256", "rows_parallel": "32,128", "device": "sas-mram,reram"},
                           FIELD_TYPES, filters=["rows_parallel <= rows", "not (device == 'reram' and rows > 128)"])
    kept = {(p.params["rows"], p.params["rows_parallel"], p.params["device"]) for p in spec.expand()}
    # 3 x 2 x 2 = 12 combinations; rows_parallel=128 > rows=64 drops 2; reram with 256 rows drops 2 more
    assert kept == {(64, 32, "sas-mram"), (64, 32, "reram"),
                    (128, 32, "sas-mram"), (128, 32, "reram"), (128, 128, "sas-mram"), (128, 128, "reram"),
                    (256, 32, "sas-mram"), (256, 128, "sas-mram")}
    assert [p.index for p in spec.expand()] == list(range(8))   # indices count kept points only


def test_a_lazy_plan_holds_the_points_expand_gives():
    # PlanPoints builds each point from its spec when asked (a big plan costs 8 bytes a point)
    from imcsim.sweep.spec import PlanPoints

    spec = spec_from_flags({"rows": "64,128,256", "rows_parallel": "32,128", "device": "sas-mram,reram"},
                           FIELD_TYPES, filters=["rows_parallel <= rows"])
    plain = spec_from_flags({"rows": "64,128", "cols": "32,64,128"}, FIELD_TYPES)
    for s in (spec, plain):
        assert list(s.plan()) == s.expand()
    both = PlanPoints([spec, plain])      # runs one after the other, numbered on (a study file's runs)
    want = [*spec.expand(), *plain.expand()]
    assert len(both) == 16 and both.fields == ["rows", "rows_parallel", "device", "cols"]
    assert [(p.index, p.id, p.params) for p in both] == [(i, p.id, p.params) for i, p in enumerate(want)]
    assert both[-1].params == want[-1].params and both[3:5] == [both[3], both[4]]
    assert both.first_duplicate() is None
    with pytest.raises(IndexError):
        both[16]


def test_a_lazy_plan_finds_a_repeated_point():
    from imcsim.sweep.runner import _check_unique_ids
    from imcsim.sweep.spec import PlanPoints, SweepSpec

    twice = PlanPoints([SweepSpec(base={}, axes={"rows": (64, 128, 64, 128)})])   # no flag allows this
    assert twice.first_duplicate() == (0, 2)
    with pytest.raises(SpecError, match="design point 2 has the same id as point 0"):
        _check_unique_ids(twice)
    with pytest.raises(SpecError, match="design point 2 has the same id as point 0"):
        _check_unique_ids(list(twice))


@pytest.mark.parametrize("expr, point, expected", [
    ("rows * cols <= 4096", {"rows": 64, "cols": 64}, True),
    ("rows * cols <= 4096", {"rows": 64, "cols": 128}, False),
    ("rows // rows_parallel % 2 == 0", {"rows": 256, "rows_parallel": 64}, True),
    ("rows / 3 > 21", {"rows": 64, "rows_parallel": 1}, True),      # 64/3 = 21.33
    ("device in ['reram', 'sot-mram']", {"device": "reram"}, True),
    ("device not in ('reram',)", {"device": "reram"}, False),
    ("16 <= rows_parallel < rows", {"rows": 64, "rows_parallel": 64}, False),
    ("flip_only == true or rows > -1", {"flip_only": False, "rows": 0}, True),
    ("not flip_only and -rows < 0", {"flip_only": False, "rows": 1}, True),
])
def test_filter_expressions(expr, point, expected):
    assert compile_filter(expr, set(FIELD_TYPES)).keeps(point) is expected


def test_point_id_is_stable_and_depends_on_every_field():
    a = {"device": "reram", "rows": 64}
    assert point_id(a) == point_id({"rows": 64, "device": "reram"})    # key order does not matter
    assert point_id(a) != point_id({"device": "reram", "rows": 128})
    assert point_id(a) != point_id({"device": "reram", "rows": 64, "workload": "resnet18"})
    assert point_id({"x": 1}) != point_id({"x": 1.0}) != point_id({"x": True})
    # the same point from two different specs has the same id (that is what makes resume work)
    p1 = spec_from_flags({"rows": "64,128", "device": "reram"}, FIELD_TYPES).expand()[1]
    p2 = spec_from_flags({"rows": "128:512*2", "device": "reram,sas-mram"}, FIELD_TYPES).expand()[0]
    assert p1.params == p2.params and p1.id == p2.id and len(p1.id) == 16


# ------------------------------------------------------------------------------- YAML


def _write(tmp_path, text):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_yaml_lists_ranges_and_filters(tmp_path):
    path = _write(tmp_path, """
        base: {workload: resnet18, engine: analytic, clock_mhz: 200}
        axes:
          device: [sas-mram, sot-mram, reram]
          rows: {start: 64, stop: 256, factor: 2}
          cols: {start: 64, stop: 192, step: 64}
          rows_parallel: "16,64"
        filters:
          - rows_parallel <= rows
    """)
    spec = load_sweep(path, FIELD_TYPES)
    assert spec.base == {"workload": "resnet18", "engine": "analytic", "clock_mhz": 200.0}
    assert type(spec.base["clock_mhz"]) is float          # an int given for a float field becomes float
    assert spec.axes == {"device": ("sas-mram", "sot-mram", "reram"), "rows": (64, 128, 256),
                         "cols": (64, 128, 192), "rows_parallel": (16, 64)}
    assert spec.product_size() == 3 * 3 * 3 * 2
    assert len(spec.expand()) == 54                        # rows_parallel=64 <= rows always holds here
    assert spec.fields == ["workload", "engine", "clock_mhz", "device", "rows", "cols", "rows_parallel"]


def test_flags_override_a_yaml_spec(tmp_path):
    yaml_spec = load_sweep(_write(tmp_path, """
        base: {workload: resnet18}
        axes: {device: [reram, sas-mram], rows: [64, 128]}
    """), FIELD_TYPES)
    merged = yaml_spec.updated(spec_from_flags({"rows": "256", "cols": "64,128"}, FIELD_TYPES))
    assert merged.base == {"workload": "resnet18", "rows": 256}
    assert merged.axes == {"device": ("reram", "sas-mram"), "cols": (64, 128)}


def test_field_types_from_a_pydantic_model():
    class Study(StrictModel):
        device: str
        rows: int = 128
        engine: Literal["analytic", "event"] = "analytic"
        seed: int | None = None
        tags: list[str] = []

    types = field_types_from_model(Study)
    assert set(types) == {"device", "rows", "engine", "seed"}     # a list field cannot be swept
    spec = spec_from_flags({"engine": "analytic,event", "seed": "none,3"}, types)
    assert spec.axes == {"engine": ("analytic", "event"), "seed": (None, 3)}


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("flags, message", [
    ({"row": "64"}, "<flags>: --row: unknown field (did you mean '--rows'?); allowed: clock_mhz, cols, device,"),
    ({"rows": "64,abc"}, "<flags>: --rows: wrong type of value 'abc'; allowed: integers"),
    ({"rows": "64.5"}, "<flags>: --rows: wrong type of value '64.5'; allowed: integers"),
    ({"clock_mhz": "fast"}, "<flags>: --clock-mhz: wrong type of value 'fast'; allowed: numbers"),
    ({"clock_mhz": "nan"}, "<flags>: --clock-mhz: wrong type of value 'nan'; allowed: numbers"),
    ({"flip_only": "maybe"}, "<flags>: --flip-only: wrong type of value 'maybe'; allowed: true/false"),
    ({"engine": "fast"}, "<flags>: --engine: not an allowed value: 'fast'; allowed: one of analytic, event"),
    ({"rows": "256:64:64"}, "<flags>: --rows: empty range (stop below start) '256:64:64'; allowed: start <= stop"),
    ({"rows": "64:256:0"}, "<flags>: --rows: empty range (step must be positive) '64:256:0'; allowed: step > 0"),
    ({"rows": "64:256:-8"}, "<flags>: --rows: empty range (step must be positive)"),
    ({"rows": "64:256*1"}, "<flags>: --rows: empty range (needs factor > 1 and start > 0) '64:256*1'"),
    ({"rows": "0:256*2"}, "<flags>: --rows: empty range (needs factor > 1 and start > 0)"),
    ({"rows": "64:256"}, "<flags>: --rows: bad range '64:256'; allowed: start:stop:step or start:stop*factor"),
    ({"rows": "10:30*1.5"}, "<flags>: --rows: range gives non-integer values for an integer field:"),
    ({"rows": "1:10000000:1"}, "<flags>: --rows: range has 10000000 values '1:10000000:1'; allowed: at most 100000"),
    ({"rows": "64,64"}, "<flags>: --rows: value listed twice: 64; allowed: each value once"),
    ({"device": ""}, "<flags>: --device: empty value ''; allowed: text values"),
    ({"device": "reram,"}, "<flags>: --device: wrong type of value ''; allowed: text values"),
])
def test_bad_flags(flags, message):
    with pytest.raises(SpecError) as err:
        spec_from_flags(flags, FIELD_TYPES)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_bad_flag_arguments():
    with pytest.raises(SpecError, match=r"^<flags>: --rows: needs a value$"):
        split_flag_args(["--rows", "--cols", "64"])
    with pytest.raises(SpecError, match=r"^<flags>: unexpected argument '64'"):
        split_flag_args(["64"])
    with pytest.raises(SpecError, match=r"^<flags>: --rows: given twice; second value '128'"):
        spec_from_flags([("rows", "64"), ("rows", "128")], FIELD_TYPES)


@pytest.mark.parametrize("expr, message", [
    ("rows ** 2 < 10", "filter uses Pow, which is not allowed, in 'rows ** 2 < 10'"),
    ("__import__('os').system('true')", "filter uses Call, which is not allowed"),
    ("rows.bit_length() > 3", "filter uses Call, which is not allowed"),
    ("device[0] == 'r'", "filter uses Subscript, which is not allowed"),
    ("[x for x in rows]", "filter uses ListComp, which is not allowed"),
    ("rows <", "filter does not parse (invalid syntax): 'rows <'"),
    ("rowz <= rows", "filter uses 'rowz', which the sweep does not set (did you mean 'rows'?)"),
    ("cols <= rows", "filter uses 'cols', which the sweep does not set"),   # a known field, but not set here
    ("device in [rows]", "a list in a filter may hold only literals"),
    ("", "bad filter ''; allowed: a non-empty condition string"),
])
def test_bad_filters_at_parse_time(expr, message):
    with pytest.raises(SpecError) as err:
        spec_from_flags({"rows": "64,128", "device": "reram"}, FIELD_TYPES, filters=[expr])
    assert str(err.value).startswith("<flags>: filters: ")
    assert message in str(err.value)


@pytest.mark.parametrize("expr, message", [
    ("rows < 'big'", "filter fails on point"),
    ("rows / (rows - 64) > 1", "division by zero"),
    ("rows + 1", "filter gives 65, not true/false, for 'rows + 1'"),
    ("rows and device", "and/or/not need true/false operands"),
    ("rows in 64", "'in' needs a list or a string"),
])
def test_bad_filters_when_evaluated(expr, message):
    spec = spec_from_flags({"rows": "64,128", "device": "reram"}, FIELD_TYPES, filters=[expr])
    with pytest.raises(SpecError) as err:
        spec.expand()
    assert str(err.value).startswith("<flags>: filters: ") and message in str(err.value)


def test_filters_that_drop_everything():
    spec = spec_from_flags({"rows": "64,128"}, FIELD_TYPES, filters=["rows > 1000"])
    with pytest.raises(SpecError, match=r"^<flags>: filters: the filters drop all 2 combinations: 'rows > 1000'"):
        spec.expand()


@pytest.mark.parametrize("yaml_text, message", [
    ("axes: {rowz: [64]}", "sweep.yaml: axes.rowz: unknown field (did you mean 'rows'?); allowed: clock_mhz,"),
    ("base: {devise: reram}\naxes: {rows: [64]}", "sweep.yaml: base.devise: unknown field (did you mean 'device'?)"),
    ("axes: {rows: [64, big]}", "sweep.yaml: axes.rows[1]: wrong type of value 'big'; allowed: integers"),
    ("axes: {rows: [64, 128.0]}", "sweep.yaml: axes.rows[1]: wrong type of value 128.0; allowed: integers"),
    ("axes: {rows: [64, true]}", "sweep.yaml: axes.rows[1]: wrong type of value True; allowed: integers"),
    ("axes: {device: [reram, 7]}", "sweep.yaml: axes.device[1]: wrong type of value 7; allowed: text values"),
    ("base: {clock_mhz: fast}\naxes: {rows: [64]}", "sweep.yaml: base.clock_mhz: wrong type of value 'fast'"),
    ("axes: {rows: []}", "sweep.yaml: axes.rows: empty list []; allowed: one or more integers"),
    ("axes: {rows: {start: 256, stop: 64, step: 64}}", "sweep.yaml: axes.rows: empty range (stop below start)"),
    ("axes: {rows: {start: 64, stop: 256}}", "sweep.yaml: axes.rows: a range needs exactly one of step or factor"),
    ("axes: {rows: {start: 64, stop: 256, step: 8, factor: 2}}", "a range needs exactly one of step or factor"),
    ("axes: {rows: {start: 64, stop: 256, stride: 8}}", "sweep.yaml: axes.rows.stride: unknown key (did you mean 'step'?)"),
    ("axes: {rows: {start: 64.5, stop: 256, step: 64}}", "sweep.yaml: axes.rows.start: wrong type of value 64.5"),
    ("axes: {device: {start: 1, stop: 3, step: 1}}", "sweep.yaml: axes.device: a range needs a number field"),
    ("axes: {rows: '256:64*2'}", "sweep.yaml: axes.rows: empty range (stop below start) '256:64*2'"),
    ("axes: {}", "sweep.yaml: axes: no axes to sweep"),
    ("base: {rows: 64}\naxes: {rows: [64]}", "sweep.yaml: axes.rows: field is both in base and in axes"),
    ("axis: {rows: [64]}", "sweep.yaml: axis: unknown key (did you mean 'axes'?)"),
    ("axes: {rows: [64]}\nfilters: [rows ** 2 > 1]", "sweep.yaml: filters: filter uses Pow, which is not allowed"),
    ("axes: {engine: [analytic, slow]}", "sweep.yaml: axes.engine[1]: not an allowed value: 'slow'"),
    ("axes: [rows]", "sweep.yaml: axes: bad value ['rows']; allowed: input should be a valid dictionary"),
    ("axes: {rows: [64}", "sweep.yaml: YAML does not parse at line 1"),
])
def test_bad_yaml(tmp_path, yaml_text, message):
    path = _write(tmp_path, yaml_text)
    with pytest.raises(SpecError) as err:
        load_sweep(path, FIELD_TYPES)
    text = str(err.value)
    assert text.startswith(str(tmp_path) + "/"), text
    assert message in text, text
    assert "\n" not in text


def test_wrong_type_in_a_mapping_spec_names_the_source():
    with pytest.raises(SpecError, match=r"^study.yaml: base.rows: wrong type of value '64'; allowed: integers$"):
        spec_from_mapping({"rows": "64"}, {"cols": [64]}, [], FIELD_TYPES, source="study.yaml")
