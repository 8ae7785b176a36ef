"""The one walk over field annotations (imcsim.config.annotations), on the shapes the specs use."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from imcsim.config.annotations import element, literal_values, nested_model, parts, scalar_type, unwrap


class Inner(BaseModel):
    x: int


def test_unwrap_strips_annotated_and_none_only():
    assert unwrap(int | None) == (int, True)
    assert unwrap(Annotated[float, Field(gt=0)] | None) == (float, True)
    assert unwrap(Literal["a", "b"]) == (Literal["a", "b"], False)
    inner, optional = unwrap(int | str | None)
    assert optional and set(inner.__args__) == {int, str}


def test_scalar_types_are_what_a_sweep_can_take():
    assert scalar_type(int) is int and scalar_type(float | None) is float
    assert scalar_type(Literal["row", "layer"]) is str and scalar_type(Literal[1, 2] | None) is int
    assert scalar_type(Literal[1, "a"]) is None          # mixed kinds: no one type to parse flag text as
    assert scalar_type(list[int]) is None and scalar_type(Inner) is None and scalar_type(int | str) is None


def test_models_and_literals_are_found_inside_containers():
    assert nested_model(Inner) is Inner and nested_model(Inner | None) is Inner
    assert nested_model(list[Inner]) is Inner and nested_model(dict[str, Inner]) is Inner
    assert nested_model(dict[str, int]) is None
    assert literal_values(Literal["sas_mram", "reram"] | None) == ["sas_mram", "reram"]
    assert list(parts(list[int | None])) == [list[int | None], int | None, int, type(None)]
    assert element(list[Inner]) is Inner and element(dict[str, float] | None) is float and element(Inner) is None


def test_a_misspelt_key_inside_a_list_item_gets_its_did_you_mean():
    """The loader follows list indices and dict keys to the item model (it gave no hint there before)."""
    import pytest

    from imcsim.config.loader import StrictModel, validate
    from imcsim.errors import SpecError

    class Item(StrictModel):
        rows: int = 1

    class Outer(StrictModel):
        items: list[Item] = []
        named: dict[str, Item] = {}

    with pytest.raises(SpecError, match=r"f.yaml: items.0.rowz: unknown key \(did you mean 'rows'\?\); allowed: rows"):
        validate(Outer, {"items": [{"rowz": 2}]}, "f.yaml")
    with pytest.raises(SpecError, match=r"named.a.rowz: unknown key \(did you mean 'rows'\?\)"):
        validate(Outer, {"named": {"a": {"rowz": 2}}}, "f.yaml")
