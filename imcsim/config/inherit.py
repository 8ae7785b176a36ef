"""Card inheritance (``inherits:``) for every kind of card: one walk, one cycle check, one merge.

Device cards (and the sensor cards that resolve through them), accelerator presets and method cards
may name a parent card, which may name its own. :func:`walk_chain` follows those links for all of
them: it refuses a loop, a chain longer than :data:`MAX_INHERIT_DEPTH` and a parent file that does not
exist with one SpecError line naming the card, its ``inherits`` field and the value written there
(never a RecursionError or a traceback). Each kind then lays its chain root-first with
:func:`deep_merge`; they differ only in what they record on the way (device cards: which card set each
parameter; method cards: the notes of every card).

A parent is a built-in name or a path relative to the file of the card that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from imcsim.errors import SpecError

MAX_INHERIT_DEPTH = 32  # the built-in cards use at most 2; a longer chain is a mistake or an attack

T = TypeVar("T")


@dataclass(frozen=True)
class Link(Generic[T]):
    """One card of a chain: its file and what the kind's ``read`` made of it."""

    file: Path
    card: T


#: ``parent(card, file)``: None when the card inherits nothing (or a built-in that is not a card file,
#: such as a method), else ``(ref, path)``: the ``inherits`` value as written and the parent's file.
ParentOf = Callable[[T, Path], tuple[str, Path] | None]


def walk_chain(start: Path, read: Callable[[Path], T], parent: ParentOf[T], *,
               first: T | None = None) -> list[Link[T]]:
    """The card at ``start`` and every card it inherits from, child first, root last.

    ``read`` parses (and validates) one card file; ``first`` is the start card when the caller has
    read it already.
    """
    links = [Link(start, first if first is not None else read(start))]
    seen = [start.resolve()]
    while (nxt := parent(links[-1].card, links[-1].file)) is not None:
        ref, path = nxt
        _check_link(links[-1].file, ref, path, seen)
        links.append(Link(path, read(path)))
        seen.append(path.resolve())
    return links


def _check_link(file: Path, ref: str, path: Path, seen: list[Path]) -> None:
    """``file`` says ``inherits: ref``, found at ``path``; ``seen``: the chain so far (resolved)."""
    key = path.resolve()
    if key in seen:
        loop = " -> ".join(p.name for p in seen[seen.index(key):]) + f" -> {key.name}"
        raise SpecError(str(file), "inherits", ref, problem=f"inheritance cycle ({loop}):",
                        allowed="a card that does not inherit, directly or not, from itself")
    if len(seen) >= MAX_INHERIT_DEPTH:
        raise SpecError(str(file), "inherits", ref,
                        problem=f"inheritance chain longer than {MAX_INHERIT_DEPTH} cards at",
                        allowed=f"at most {MAX_INHERIT_DEPTH} levels of inherits")
    if not _is_file(path):
        raise SpecError(str(file), "inherits", ref, problem="parent card not found:",
                        allowed=f"a built-in name or a path relative to this file (looked for {path})")


def _is_file(path: Path) -> bool:
    """``is_file`` that says False for a name the file system refuses (too long, NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def parent_path(ref: str, file: Path) -> Path:
    """A parent written as a path: relative to the folder of the card that names it."""
    path = Path(ref).expanduser()
    return path if path.is_absolute() else file.parent / path


def copy_tree(obj: Any) -> Any:
    """A copy of parsed YAML (dicts, lists, scalars); ~20x faster than deepcopy, which sweeps feel."""
    if isinstance(obj, dict):
        return {k: copy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_tree(v) for v in obj]
    return obj


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, key by key into nested dicts (other values replace); a fresh
    copy, neither argument changes."""
    out = copy_tree(dict(base))
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy_tree(v)
    return out
