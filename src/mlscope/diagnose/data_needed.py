"""How much training data a fitted learning curve needs to reach a target, and what each
successive "nine" (accuracy 0.9, 0.99, 0.999) costs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlscope.diagnose.curve_fit import FloatArray, LearningCurve, check_direction, quantiles
from mlscope.errors import InputError

__all__ = [
    "N_CAP",
    "DataNeeded",
    "data_needed",
    "nines",
]

N_CAP = 1e12
"""Beyond this many examples a target counts as out of reach in practice."""


@dataclass
class DataNeeded:
    """The training-set size at which the fitted curve reaches a target.

    Attributes
    ----------
    target
        The metric value asked for.
    direction
        The metric's direction.
    target_error
        The target as an error (distance from the curve's reference).
    n
        The size the fit needs; ``None`` when the target is at or beyond the curve's
        asymptote, or the number overflows.
    interval
        ``[lo, hi]`` over the bootstrap refits; ``hi`` is ``None`` when more than the
        upper tail of refits never reach the target. ``None`` without a bootstrap or when
        most refits never reach it.
    reachable
        Whether the fit reaches the target within :data:`N_CAP` examples.
    multiple_of_current
        ``n`` divided by the largest size seen.
    largest_size
        The largest training-set size in the curve.
    share_reachable
        The share of bootstrap refits that reach the target within :data:`N_CAP`.
    level
        The interval's level.
    note
        The answer in words.
    """

    target: float
    direction: str
    target_error: float
    n: float | None
    interval: list[float | None] | None
    reachable: bool
    multiple_of_current: float | None
    largest_size: float
    share_reachable: float | None
    level: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def _log_needed(a: FloatArray, b: FloatArray, c: FloatArray, e_t: float) -> FloatArray:
    """log of the size at which ``a·n^(−b) + c`` falls to ``e_t``; +inf where it never does."""
    gap = e_t - c
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(gap > 0, (np.log(a) - np.log(np.where(gap > 0, gap, 1.0))) / b, np.inf)
    return np.asarray(out, dtype=float)


def _match(curve: LearningCurve, direction: str) -> None:
    d = check_direction(direction)
    if d != curve.direction:
        raise InputError(f"direction {d!r} does not match the curve's {curve.direction!r}; "
                         "pass the metric's direction from the registry")


def data_needed(curve: LearningCurve, target: float, *, direction: str) -> DataNeeded:
    """The training-set size at which the fitted curve reaches ``target``.

    Parameters
    ----------
    curve
        A fitted learning curve.
    target
        A value of the metric (e.g. accuracy 0.99, or an error of 0.01).
    direction
        The metric's direction; must match the curve's.

    Returns
    -------
    DataNeeded
        ``n = (a / (e_t − c))^(1/b)`` for the target's error ``e_t``, with an interval over
        the bootstrap refits; unreachable when ``e_t ≤ c`` or ``n > 1e12``.
    """
    _match(curve, direction)
    t = float(target)
    if not math.isfinite(t):
        raise InputError(f"target must be a finite metric value; got {target!r}")
    e_t = curve.to_error(t)
    if e_t < 0 and curve.reference_source == "metric bound":
        raise InputError(f"target {t:g} is beyond the metric's best possible value "
                         f"{curve.reference:g}")
    largest = float(max(curve.sizes))
    logn = float(_log_needed(np.array(curve.a), np.array(curve.b), np.array(curve.c), e_t))
    n = math.exp(logn) if logn < 690 else None
    reachable = logn <= math.log(N_CAP)
    multiple = n / largest if n is not None else None

    interval: list[float | None] | None = None
    share: float | None = None
    if curve.replicates:
        reps = np.asarray(curve.replicates)
        logs = _log_needed(reps[:, 0], reps[:, 1], reps[:, 2], e_t)
        share = float(np.mean(logs <= math.log(N_CAP)))
        # Never-reaching refits sit above every finite size: a sentinel keeps the
        # percentile arithmetic finite, and maps back to "unbounded".
        sentinel = 1e6
        lo, hi = quantiles(np.minimum(logs, sentinel), curve.level)
        if lo < min(sentinel, 690):
            interval = [math.exp(lo), math.exp(hi) if hi < min(sentinel, 690) else None]

    lvl = f"{curve.level:.0%}"
    if e_t <= 0:
        where = ("the metric's best possible value" if curve.reference_source == "metric bound"
                 else f"at or beyond the curve's reference {curve.reference:.4g} (error 0)")
        note = (f"Out of reach of this model family: the target {t:g} is {where}; a power law "
                "reaches an error of 0 only with unlimited data.")
    elif not math.isfinite(logn):
        asym = curve.intervals.get("asymptote")
        c_iv = curve.intervals.get("c")
        span = (f" [{c_iv[0]:.3g}, {c_iv[1]:.3g}]" if c_iv else "")
        at = (f"; the metric levels off at {curve.asymptote:.4g}"
              + (f" [{asym[0]:.4g}, {asym[1]:.4g}]" if asym else ""))
        note = (f"Out of reach of this model family: its error levels off at c = {curve.c:.3g}"
                f"{span}{at}, short of the target {t:g} (error {e_t:.3g}). More data of the "
                "same kind will not get there; a better model or features might.")
    elif not reachable:
        size = f"about {n:.2g}" if n is not None else "more than 1e300"
        note = (f"Needs {size} examples, beyond {N_CAP:.0e}: out of reach in practice.")
    elif n is not None and n <= largest:
        note = (f"Already reached within the data seen: the fit passes {t:g} at about "
                f"{n:,.0f} examples (largest size {largest:,.0f}).")
    else:
        assert n is not None
        assert multiple is not None
        note = f"About {n:,.0f} examples, {multiple:.3g}× the largest size seen ({largest:,.0f})."
    if interval is not None and reachable:
        hi_txt = f"{interval[1]:,.0f}" if interval[1] is not None else "never"
        note += f" {lvl} interval: {interval[0]:,.0f} to {hi_txt}."
    if share is not None and share < 1:
        note += f" {share:.0%} of the bootstrap refits reach it within {N_CAP:.0e}."
    return DataNeeded(target=t, direction=curve.direction, target_error=e_t, n=n,
                      interval=interval, reachable=reachable, multiple_of_current=multiple,
                      largest_size=largest, share_reachable=share, level=curve.level,
                      note=note)


def nines(curve: LearningCurve, *, direction: str, start: float | None = None,
          count: int = 3) -> list[dict[str, Any]]:
    """The data each successive "nine" needs: accuracy 0.9, 0.99, 0.999 (error ÷ 10 each).

    Parameters
    ----------
    curve
        A fitted learning curve whose reference is a real bound (or an assumed 0).
    direction
        The metric's direction; must match the curve's.
    start
        The first target as a metric value (e.g. ``0.9``). Default: the first power of ten
        of the error below the fit's error at the largest size seen (the next nine).
    count
        How many targets, each with a tenth of the previous error.

    Returns
    -------
    list of dict
        Per target: ``target``, ``error``, ``n``, ``interval``, ``reachable``,
        ``multiple_of_current`` and ``multiple_of_previous`` (``None`` for the first, or
        when either size is unknown). For a pure power law the multiple is ``10^(1/b)``.
    """
    _match(curve, direction)
    if curve.reference_source == "shifted":
        raise InputError("nines need a metric with a known best value (e.g. accuracy ≤ 1, "
                         "an error ≥ 0); fit the curve with the metric's bounds")
    if int(count) != count or count < 1:
        raise InputError(f"count must be a whole number >= 1; got {count!r}")
    if start is None:
        now = curve.error_at(max(curve.sizes))
        e0 = 10.0 ** -(math.floor(-math.log10(now)) + 1)
    else:
        e0 = curve.to_error(float(start))
        if not (math.isfinite(e0) and e0 > 0):
            raise InputError(f"start must be a metric value short of the best possible value "
                             f"{curve.reference:g}; got {start!r}")
    rows: list[dict[str, Any]] = []
    prev: float | None = None
    for i in range(int(count)):
        err = float(f"{e0 / 10**i:.12g}")  # 1 − 0.9 is 0.09999999999999998
        target = round(curve.to_value(err), 12)
        dn = data_needed(curve, target, direction=direction)
        mult = dn.n / prev if (dn.n is not None and prev is not None) else None
        rows.append({"target": target, "error": err, "n": dn.n, "interval": dn.interval,
                     "reachable": dn.reachable, "multiple_of_current": dn.multiple_of_current,
                     "multiple_of_previous": mult, "note": dn.note})
        prev = dn.n if math.isfinite(_log_or_inf(dn.n)) else None
    return rows


def _log_or_inf(x: float | None) -> float:
    return math.log(x) if x is not None and x > 0 else math.inf
