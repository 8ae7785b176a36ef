"""The one walk over pydantic field annotations (``int | None``, ``Literal[...]``, ``Annotated[...]``,
``list[Model]``, ``dict[str, Model]``), for every module that reads a model's field types: the sweep
(which fields can be swept and what their values are), the error messages (which keys a nested mapping
allows), the card loader (which technologies a card file allows) and the generated reference
(docs/study-reference.md)."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel

_UNIONS = (typing.Union, types.UnionType)


def unwrap(ann: Any) -> tuple[Any, bool]:
    """``ann`` without ``Annotated[...]`` and without ``| None``: (inner type, whether None is allowed).
    A union of several other types stays a union."""
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    if typing.get_origin(ann) in _UNIONS:
        args = typing.get_args(ann)
        rest = tuple(a for a in args if a is not type(None))
        if len(rest) < len(args):
            return (unwrap(rest[0])[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return ann, False


def parts(ann: Any) -> Iterator[Any]:
    """``ann`` and every type inside it, depth first (``list[A | None]``: the list, ``A | None``, A, None)."""
    yield ann
    if typing.get_origin(ann) is Literal:
        return  # its arguments are values, not types
    for arg in typing.get_args(ann):
        yield from parts(arg)


def is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def nested_model(ann: Any) -> type[BaseModel] | None:
    """The first pydantic model in ``ann`` (itself, ``Model | None``, ``list[Model]``, ``dict[str, Model]``)."""
    return next((a for a in parts(ann) if is_model(a)), None)


def literal_values(ann: Any) -> list[Any]:
    """The values of every ``Literal`` in ``ann``, in order."""
    return [v for a in parts(ann) if typing.get_origin(a) is Literal for v in typing.get_args(a)]


def scalar_type(ann: Any) -> type | None:
    """The Python type of ``ann``'s values when it is a scalar field (int, float, str, bool, a Literal of
    one of them, or an optional one), else None."""
    inner, _ = unwrap(ann)
    if typing.get_origin(inner) is Literal:
        kinds = {type(a) for a in typing.get_args(inner)}
        return kinds.pop() if len(kinds) == 1 and kinds <= {int, float, str, bool} else None
    return inner if inner in (int, float, str, bool) else None


def element(ann: Any) -> Any:
    """The item type of a container annotation (``list[X]``, ``tuple[X, ...]``, ``dict[K, X]``: X), or None."""
    inner, _ = unwrap(ann)
    if typing.get_origin(inner) in (list, tuple, set, frozenset, dict):
        args = [a for a in typing.get_args(inner) if a is not Ellipsis]
        return args[-1] if args else None
    return None
