"""The one number style of every table imcsim shows: terminal tables (``imcsim.cli.output``) and the
HTML pages (``imcsim.report.page``) format numbers here, so a value reads the same in both.

Why a column style: a column whose cells mix ``1.2e+07`` and ``0.5``, or ``18`` and ``17.74``, is hard
to compare down the column. :func:`column_style` picks one style from all of a column's floats:
scientific with 3 decimals when the nonzero magnitudes reach 1e6 or go below 1e-3, else fixed with
enough decimals for :data:`SIG_DIGITS` significant digits of the smallest magnitude (at most
:data:`MAX_DECIMALS`; none when every float is a whole number). :func:`format_number` writes one value in that style; values without a style
(text, ints, a column without finite nonzero floats) are written on their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

#: significant digits the smallest nonzero magnitude of a fixed-notation column keeps (17.74 -> 17.7)
SIG_DIGITS = 3
#: at most this many decimals in fixed notation (smaller values switch the column to scientific)
MAX_DECIMALS = 4
#: magnitudes at or above this, or below SCI_BELOW, make a column scientific
SCI_FROM = 1e6
SCI_BELOW = 1e-3
#: integers from this magnitude on get thousands separators (array sizes like 1024 stay as they are)
THOUSANDS_FROM = 10_000


@dataclass(frozen=True)
class NumberStyle:
    """How every float of one column is written."""

    kind: Literal["sci", "fixed"]
    digits: int          # decimals (fixed) or mantissa decimals (sci)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged."""
    return value.item() if hasattr(value, "item") and callable(value.item) and not isinstance(value, str) else value


def _finite_float(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value != 0


def column_style(values: Iterable[Any]) -> NumberStyle | None:
    """One style for a column (see the module docstring); None when it has no finite nonzero float."""
    mags = [abs(v) for v in map(plain, values) if _finite_float(v)]
    if not mags:
        return None
    if max(mags) >= SCI_FROM or min(mags) < SCI_BELOW:
        return NumberStyle("sci", 3)
    floats = [v for v in map(plain, values) if _finite_float(v)]
    if all(v.is_integer() for v in floats):
        return NumberStyle("fixed", 0)     # whole numbers stored as floats (8.0 batches, 128.0 rows) stay whole
    decimals = SIG_DIGITS - 1 - math.floor(math.log10(min(mags)))
    return NumberStyle("fixed", max(0, min(MAX_DECIMALS, decimals)))


def format_number(value: Any, style: NumberStyle | None = None) -> str:
    """``value`` as text: in ``style`` (a finite nonzero float of a styled column), else on its own.

    None and NaN are ``-``, infinities ``inf``/``-inf``, booleans ``yes``/``no``, integers with
    thousands separators from :data:`THOUSANDS_FROM` (in the style when their column has one); an
    unstyled float uses the style of a column holding only itself.
    """
    value = plain(value)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and style is not None and value != 0:
        value = float(value)     # an int in a column of floats takes the column's style (1 -> 1.00 next to 1.25)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= THOUSANDS_FROM else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "0"
        style = style or column_style([value])
        return f"{value:.{style.digits}e}" if style.kind == "sci" else f"{value:,.{style.digits}f}"
    return str(value)
