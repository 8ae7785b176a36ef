"""A tiny, safe expression language for sweep filters (``rows_parallel <= rows``).

Filters come from user files, so they are never handed to ``eval``: the text is parsed with
:mod:`ast` and only a whitelist of node kinds is accepted (comparisons, ``+ - * / // %``, unary
minus, ``and``/``or``/``not``, ``in``/``not in`` over literal lists, names of study fields, and
literal numbers, strings, booleans and ``None``). There are no calls, attributes, subscripts or
powers, so a filter cannot run code. Work is bounded too: a filter is at most
:data:`MAX_FILTER_CHARS` characters and :data:`MAX_FILTER_NODES` nodes, arithmetic takes numbers only
(``'a' * rows`` would build a huge string), ``+`` joins strings up to :data:`MAX_STRING` characters
and no intermediate number exceeds :data:`MAX_NUMBER`. The walker below evaluates the tree.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from imcsim.errors import SpecError

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
MAX_FILTER_CHARS = 1_000
MAX_FILTER_NODES = 400
MAX_STRING = 10_000
MAX_NUMBER = 10**30
_ALLOWED_TEXT = ("comparisons (== != < <= > >= in, not in), + - * / // %, and/or/not, "
                 "study field names, numbers, strings, true/false, lists of literals")


@dataclass(frozen=True)
class Filter:
    """One compiled filter: keeps a point when :meth:`keeps` is true."""

    text: str
    names: frozenset[str]
    source: str = "<flags>"
    _tree: ast.Expression = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def keeps(self, point: Mapping[str, Any]) -> bool:
        """Evaluate on a point's fields; a runtime failure (``1/0``, ``'a' < 3``) is a SpecError."""
        try:
            value = _eval(self._tree.body, point)
        except (TypeError, ZeroDivisionError, ValueError, OverflowError, RecursionError) as exc:
            raise SpecError(self.source, "filters", self.text,
                            problem=f"filter fails on point {dict(point)!r} ({exc}):",
                            allowed=_ALLOWED_TEXT) from None
        if not isinstance(value, bool):
            raise SpecError(self.source, "filters", self.text,
                            problem=f"filter gives {value!r}, not true/false, for", allowed="a condition")
        return value


def compile_filter(text: str, known: Collection[str], source: str = "<flags>") -> Filter:
    """Parse and check ``text``; names must be in ``known`` (the fields the sweep sets)."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(source, "filters", text, problem="bad filter", allowed="a non-empty condition string")
    if len(text) > MAX_FILTER_CHARS:
        raise SpecError(source, "filters", text, problem=f"filter is {len(text)} characters long:",
                        allowed=f"at most {MAX_FILTER_CHARS}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(source, "filters", text, problem=f"filter does not parse ({exc.msg}):",
                        allowed=_ALLOWED_TEXT) from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(source, "filters", text, problem="filter nests too deeply:", allowed=_ALLOWED_TEXT) from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_FILTER_NODES:
        raise SpecError(source, "filters", text, problem=f"filter has {len(nodes)} parts:",
                        allowed=f"at most {MAX_FILTER_NODES}")
    names: set[str] = set()
    for node in nodes:
        _check_node(node, text, source)
        if isinstance(node, ast.Name) and node.id not in _LITERAL_NAMES:
            names.add(node.id)
    unknown = sorted(names - set(known))
    if unknown:
        import difflib

        guess = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise SpecError(source, "filters", text,
                        problem=f"filter uses {unknown[0]!r}, which the sweep does not set{hint}, in",
                        allowed=", ".join(sorted(known)))
    return Filter(text=text.strip(), names=frozenset(names), source=source, _tree=tree)


# YAML users write true/false/null; accept them (and Python's spellings, which parse as constants).
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "none": None}

_ALLOWED_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.BinOp, ast.Compare,
                  ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
                  *_BINOPS, *_CMPOPS, *_UNARY)


def _check_node(node: ast.AST, text: str, source: str) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        what = type(node).__name__
        raise SpecError(source, "filters", text, problem=f"filter uses {what}, which is not allowed, in",
                        allowed=_ALLOWED_TEXT)
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
        raise SpecError(source, "filters", text, problem="filter has a literal of an unsupported kind in",
                        allowed=_ALLOWED_TEXT)
    if isinstance(node, (ast.List, ast.Tuple)):
        for elt in node.elts:
            if not isinstance(elt, ast.Constant) and not (
                    isinstance(elt, ast.UnaryOp) and isinstance(elt.operand, ast.Constant)):
                raise SpecError(source, "filters", text, problem="a list in a filter may hold only literals, in",
                                allowed=_ALLOWED_TEXT)


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        return _LITERAL_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_eval(e, env) for e in node.elts)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_truth(_eval(v, env)) for v in node.values)
        return any(_truth(_eval(v, env)) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not _truth(operand)
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp):
        return _arith(node.op, _eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if isinstance(op, (ast.In, ast.NotIn)) and not isinstance(right, (tuple, str)):
                raise TypeError(f"'in' needs a list or a string on its right, got {right!r}")
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    raise TypeError(f"unsupported expression {type(node).__name__}")  # unreachable after _check_node


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _arith(op: ast.operator, left: Any, right: Any) -> Any:
    """Arithmetic on numbers (and ``+`` on strings), checked before it can build something huge."""
    if isinstance(op, ast.Add) and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_STRING:
            raise ValueError(f"joined text longer than {MAX_STRING} characters")
        return left + right
    if not (_is_number(left) and _is_number(right)):
        raise TypeError(f"arithmetic takes numbers, got {left!r} and {right!r}")
    value = _BINOPS[type(op)](left, right)
    if abs(value) > MAX_NUMBER:
        raise OverflowError(f"a number above {MAX_NUMBER:.0e}")
    return value


def _truth(value: Any) -> bool:
    """and/or/not take conditions only, so ``rows and cols`` is caught instead of silently truthy."""
    if not isinstance(value, bool):
        raise TypeError(f"and/or/not need true/false operands, got {value!r}")
    return value
