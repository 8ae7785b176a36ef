"""One bounded memo for per-object caches (mapped layers; the engine's dataflows, NoC traffic, timing, standby, staging).

A sweep hands the engine the same step, mapping or priced table for many points; work that depends only
on those objects is kept here, keyed on the objects by identity (they are read-only once built) plus plain
values. An entry holds its owners, so their ids cannot be reused by new objects while it lives; the least
recently used entry goes first once ``maxsize`` is reached, which bounds the memory a long sweep keeps.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from weakref import WeakSet

T = TypeVar("T")

#: every memo made, so that :func:`clear_all` can empty them (a test pricing a point as a fresh process would)
_ALL: WeakSet = WeakSet()


class IdentityMemo(Generic[T]):
    """``get(owners, extra, build)``: ``build()`` once per (owners by identity, extra by value)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, tuple[tuple, T]] = OrderedDict()
        _ALL.add(self)

    @staticmethod
    def key(owners: tuple, extra: tuple[Hashable, ...]) -> tuple:
        """The entry's key: the owners by identity, then the extra values (what ``get`` and ``peek`` look up;
        a caller grouping points by entry uses it too)."""
        return (*map(id, owners), *extra)

    def get(self, owners: tuple, extra: tuple[Hashable, ...], build: Callable[[], T]) -> T:
        key = (*map(id, owners), *extra)   # IdentityMemo.key, written out: get is on every priced point's path
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            return hit[1]
        value = build()
        self._entries[key] = (owners, value)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value

    def peek(self, owners: tuple, extra: tuple[Hashable, ...]) -> T | None:
        """The value kept for this key, or None (nothing is built; a hit counts as a use)."""
        key = self.key(owners, extra)
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[1]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def clear_all() -> None:
    """Empty every :class:`IdentityMemo` (results do not change: only what is reused)."""
    for memo in list(_ALL):
        memo.clear()
