"""How the comparison layer writes a signed figure and its interval: the largest of them
with three significant digits, every figure of one difference with the same decimals
("+0.0213 [+0.0014, +0.0436]", "+137 [+93, +183]"), and a true minus sign."""

from __future__ import annotations

import math

__all__ = ["decimals", "interval_text", "signed_text"]


def decimals(*xs: float | None) -> int:
    """Decimals that show the largest of ``xs`` with three significant digits (0 to 6),
    for every figure of one difference and its interval alike (not "+0.0213 [+0.001376,
    +0.04363]", nor "+137.199 [+92.599, +183.475]")."""
    big = max((abs(x) for x in xs if x is not None and math.isfinite(x)), default=0.0)
    return 3 if big == 0 else min(6, max(0, 2 - math.floor(math.log10(big))))


def signed_text(x: float | None, d: int | None = None) -> str:
    """``x`` with ``d`` decimals (by default :func:`decimals` of ``x``), its sign and a
    true minus; "0" for zero, "—" when there is none. A figure that is not zero but rounds
    to it keeps its sign and two significant digits ("−0.0000040", not "0" nor "−0.000":
    an interval that only touches zero must not read as reaching it)."""
    if x is None:
        return "—"
    if abs(x) < 5e-11:  # zero, but for rounding in its sums
        return "0"
    text = f"{abs(x):.{decimals(x) if d is None else d}f}"
    if float(text) == 0:
        text = f"{abs(x):.{min(10, 1 - math.floor(math.log10(abs(x))))}f}"
    return ("+" if x > 0 else "−") + text


def interval_text(value: float, lower: float | None, upper: float | None) -> str:
    """A difference and its interval, ``+0.0213 [+0.0014, +0.0436]``; "(no interval)"
    where it has none."""
    if lower is None or upper is None:
        return f"{signed_text(value)} (no interval)"
    d = decimals(value, lower, upper)
    return f"{signed_text(value, d)} [{signed_text(lower, d)}, {signed_text(upper, d)}]"
