"""One bound on card inheritance (``inherits:``), shared by every kind of card.

Device cards (and the sensor cards that resolve through them) and accelerator presets may name a
parent card, which may name its own. Each resolver follows the links and calls :func:`check_link`
before reading a parent, so a loop or a hostile chain of 2,000 files is one SpecError line naming
the file where it went wrong, never a RecursionError.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imcsim.errors import SpecError

MAX_INHERIT_DEPTH = 32  # the built-in cards use at most 2; a longer chain is a mistake or an attack


def check_link(seen: Sequence[Path | str], path: Path | str) -> None:
    """``seen``: the cards already on the chain (child first, resolved paths); ``path``: the next one."""
    key = Path(path).resolve()
    known = [Path(p) for p in seen]
    if key in known:
        loop = " -> ".join(p.name for p in known[known.index(key):]) + f" -> {key.name}"
        raise SpecError(str(known[-1]), "inherits", str(path), problem=f"inheritance cycle ({loop}):",
                        allowed="a card that does not inherit, directly or not, from itself")
    if len(known) >= MAX_INHERIT_DEPTH:
        raise SpecError(str(known[-1]), "inherits", str(path),
                        problem=f"inheritance chain longer than {MAX_INHERIT_DEPTH} cards at",
                        allowed=f"at most {MAX_INHERIT_DEPTH} levels of inherits")
