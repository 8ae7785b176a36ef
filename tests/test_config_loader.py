"""YAML loading and pydantic error translation: one line naming file, field, value, allowed."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field

from imcsim.config.loader import StrictModel, load_yaml, validate
from imcsim.errors import SpecError


class Inner(StrictModel):
    rows: int = Field(gt=0)
    activity: float = Field(0.5, ge=0, le=1)


class Outer(StrictModel):
    name: str
    inner: Inner


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_yaml(tmp_path / "nope.yaml")


def test_parse_error_names_the_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: a\ninner: [1, 2\n")
    with pytest.raises(SpecError) as err:
        load_yaml(f)
    assert "bad.yaml" in str(err.value) and "line 3" in str(err.value)


def test_top_level_must_be_mapping(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="mapping"):
        load_yaml(f)


def test_unknown_key_did_you_mean():
    with pytest.raises(SpecError) as err:
        validate(Outer, {"name": "a", "inner": {"rowz": 3}}, "s.yaml")
    msg = str(err.value)
    assert msg.startswith("s.yaml: inner.rowz: unknown key (did you mean 'rows'?)")
    assert "allowed: activity, rows" in msg


def test_missing_field():
    with pytest.raises(SpecError, match=r"s.yaml: inner: missing required field"):
        validate(Outer, {"name": "a"}, "s.yaml")


def test_non_positive_and_probability_and_type():
    with pytest.raises(SpecError, match=r"inner.rows: bad value 0; allowed: .*greater than 0"):
        validate(Outer, {"name": "a", "inner": {"rows": 0}}, "s.yaml")
    with pytest.raises(SpecError, match=r"inner.activity: bad value 1.5; allowed: .*less than or equal to 1"):
        validate(Outer, {"name": "a", "inner": {"rows": 1, "activity": 1.5}}, "s.yaml")
    with pytest.raises(SpecError, match=r"inner.rows: bad value 'many'; allowed: .*integer"):
        validate(Outer, {"name": "a", "inner": {"rows": "many"}}, "s.yaml")


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(value):
    # pydantic's lax mode would read true as 1 and false as 0 in an int or float field; a spec refuses it,
    # naming the field (nested too), and a boolean field still takes one
    with pytest.raises(SpecError, match=rf"s.yaml: inner.rows: bad value {value}; allowed: a number"):
        validate(Outer, {"name": "a", "inner": {"rows": value}}, "s.yaml")
    with pytest.raises(SpecError, match=rf"s.yaml: inner.activity: bad value {value}; allowed: a number"):
        validate(Outer, {"name": "a", "inner": {"rows": 2, "activity": value}}, "s.yaml")

    class Flag(StrictModel):
        on: bool
        count: int | None = None

    assert validate(Flag, {"on": value}, "s.yaml").on is value
    with pytest.raises(SpecError, match=r"s.yaml: count: bad value"):
        validate(Flag, {"on": value, "count": value}, "s.yaml")


def _walk_only(value):
    """check_number's rule without its scalar shortcut: the walk over the value (the reference)."""
    import math

    from imcsim.config.loader import MAX_MAGNITUDE, MIN_MAGNITUDE

    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        if isinstance(v, (int, float)):
            if (isinstance(v, float) and not math.isfinite(v)) or abs(v) > MAX_MAGNITUDE or 0 < abs(v) < MIN_MAGNITUDE:
                return False
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return True


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
                 st.sampled_from([0.0, -0.0, 1e30, -1e30, 1e-30, -1e-30, 1e30 * (1 + 2**-52), 1e-30 * (1 - 2**-53),
                                  10**30, 10**30 + 1, True, False, None, "x"]),
                 st.lists(st.floats(), max_size=3), st.dictionaries(st.text(max_size=2), st.floats(), max_size=3)))
def test_number_check_accepts_what_its_walk_accepts(value):
    # the scalar shortcut of check_number (no walk for an int, float, str, bool or None) accepts exactly the
    # values the walk over them accepts: finite, at most 1e30 and, unless 0, at least 1e-30
    from imcsim.config.loader import check_number

    try:
        check_number(value)
        ok = True
    except ValueError:
        ok = False
    assert ok == _walk_only(value)
