"""YAML loading and pydantic error translation: one line naming file, field, value, allowed."""

import pytest
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
