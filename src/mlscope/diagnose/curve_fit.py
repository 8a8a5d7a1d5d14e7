"""Fitting a learning curve: the metric's error as a power law of the training-set size, with or
without a floor, chosen by AICc or a flattening test, with bootstrap intervals.

The metric's *error* — its distance from the best value it could take — is modelled as a
power law of the training-set size ``n``, with or without a floor::

    e(n) = a · n^(−b) + c        a > 0,  0 < b ≤ 3,  c ≥ 0 (the irreducible error)

Fits are least squares in log space (the noise of a learning curve is roughly
multiplicative: a point at n = 100 scatters by more, in absolute terms, than one at
n = 100 000). The pure power law (``c = 0``) and the power law with a floor are both
fitted and one is chosen (small-sample AIC, or a flattening test on very few sizes);
bootstrap refits give intervals for the parameters and the predictions. See
``docs/learning-curve.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

from mlscope.errors import InputError, did_you_mean

__all__ = [
    "B_MAX",
    "B_MIN",
    "BoolArray",
    "Direction",
    "FloatArray",
    "LearningCurve",
    "check_direction",
    "fit_learning_curve",
    "quantiles",
]

Direction = Literal["higher", "lower"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

B_MIN, B_MAX = 0.005, 3.0
"""The exponent's range: a curve flatter than n^(−0.005) does not improve at all in practice."""
_B_GRID = np.linspace(B_MIN, B_MAX, 600)
_B_STEP = float(_B_GRID[1] - _B_GRID[0])
_A_MIN = 1e-300
# An exact fit has SSE 0 and log(0) = −inf in the AIC; a log-space RMSE of 1e-10 is
# numerically exact, so both forms are floored there and the simpler one then wins.
_MIN_MSE = 1e-20
_AIC_MARGIN = 2.0  # the floor must beat the pure power law by this much AICc
_CHUNK = 200  # bootstrap replicates fitted at once (bounds the (R, grid, points) arrays)
_MIN_REPEATS = 3  # values per size needed to resample them within the size


# -- results -------------------------------------------------------------------------


@dataclass
class LearningCurve:
    """A fitted learning curve: the metric's error ``e(n) = a·n^(−b) + c``.

    Attributes
    ----------
    direction
        ``"higher"`` or ``"lower"``: which way the metric improves.
    reference
        The metric value at which the error is 0: ``error = reference − value`` for a
        higher-is-better metric, ``value − reference`` for a lower-is-better one.
    reference_source
        ``"metric bound"`` (the bound given), ``"assumed zero"`` (lower-is-better, no
        bound, all values positive) or ``"shifted"`` (no usable bound: one observed range
        beyond the best value; see the docs).
    a, b, c
        The chosen fit's parameters (``c = 0`` for the pure power law).
    form
        ``"power"`` or ``"power+floor"``.
    sizes, values
        The points fitted, sorted by size; repeated values at a size appear once each.
    rmse_log, r2_log
        Fit quality of the chosen form in log-error space.
    alternatives
        Both forms: ``{"power": {...}, "power+floor": {...}}`` with ``a``, ``b``, ``c``,
        ``rmse_log`` and ``aicc`` (``None`` when too few points define it).
    intervals
        ``{"a": [lo, hi], "b": ..., "c": ..., "asymptote": ...}`` (asymptote: the metric
        value the curve levels off at); empty when there was no bootstrap.
    level, resamples, seed, bootstrap
        The interval's level, the bootstrap replicates, the seed, and how points were
        resampled: ``"residuals"``, ``"repeats"`` or ``"none"``.
    note
        What was chosen and why, in words.
    replicates
        ``[a, b, c]`` of every bootstrap refit (the form chosen per replicate).
    """

    direction: str
    reference: float
    reference_source: str
    a: float
    b: float
    c: float
    form: str
    sizes: list[float]
    values: list[float]
    rmse_log: float
    r2_log: float
    alternatives: dict[str, dict[str, float | None]]
    intervals: dict[str, list[float]]
    level: float
    resamples: int
    seed: int
    bootstrap: str
    note: str
    replicates: list[list[float]] = field(default_factory=list, repr=False)

    def error_at(self, n: float) -> float:
        """The fitted error ``a·n^(−b) + c`` at training-set size ``n``."""
        return float(self.a * float(n) ** -self.b + self.c)

    def value_at(self, n: float) -> float:
        """The fitted metric value at training-set size ``n``."""
        return self.to_value(self.error_at(n))

    def interval_at(self, n: float) -> tuple[float, float] | None:
        """The bootstrap interval of the fitted metric value at ``n`` (``None``: no
        bootstrap). Ordered low to high in metric units."""
        if not self.replicates:
            return None
        reps = np.asarray(self.replicates)
        errs = reps[:, 0] * float(n) ** -reps[:, 1] + reps[:, 2]
        lo, hi = quantiles(errs, self.level)
        v1, v2 = self.to_value(lo), self.to_value(hi)
        return (min(v1, v2), max(v1, v2))

    @property
    def asymptote(self) -> float:
        """The metric value the fitted curve levels off at (the reference when ``c = 0``)."""
        return self.to_value(self.c)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), without the bootstrap replicates."""
        out = asdict(self)
        out.pop("replicates")
        return out

    def to_value(self, error: float) -> float:
        """The metric value at a given error (distance from :attr:`reference`)."""
        return self.reference - error if self.direction == "higher" else self.reference + error

    def to_error(self, value: float) -> float:
        """The error (distance from :attr:`reference`) of a given metric value."""
        return self.reference - value if self.direction == "higher" else value - self.reference


# -- input checking --------------------------------------------------------------------


def check_direction(direction: object) -> Direction:
    """The metric's direction, checked.

    Parameters
    ----------
    direction
        ``"higher"`` or ``"lower"``.

    Returns
    -------
    Direction
        The same string, typed.

    Raises
    ------
    InputError
        Anything else, with a "did you mean".
    """
    if direction == "higher":
        return "higher"
    if direction == "lower":
        return "lower"
    hint = did_you_mean(str(direction), ["higher", "lower"])
    raise InputError(f"direction must be 'higher' or 'lower'{hint}; got {direction!r}")


def _points(sizes: Sequence[float] | FloatArray,
            values: Sequence[float | Sequence[float]] | FloatArray
            ) -> tuple[FloatArray, FloatArray]:
    """Flatten ``sizes`` and ``values`` (a value or a list of repeats per size) into
    sorted, checked ``(sizes, values)`` arrays, one entry per value."""
    try:
        s = np.asarray(sizes, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"sizes must be numbers (training-set sizes); got {sizes!r}") from exc
    if s.ndim != 1:
        raise InputError(f"sizes must be a flat list of training-set sizes; got shape {s.shape}")
    vals: list[Any] = list(values)
    if len(vals) != len(s):
        raise InputError(
            f"sizes and values must have the same length (one value, or a list of repeats, "
            f"per size); got {len(s)} sizes and {len(vals)} values")
    flat_s: list[float] = []
    flat_v: list[float] = []
    for size, v in zip(s, vals, strict=True):
        try:
            reps = np.atleast_1d(np.asarray(v, dtype=float))
        except (TypeError, ValueError) as exc:
            raise InputError(f"values must be numbers; got {v!r} at size {size:g}") from exc
        if reps.ndim != 1 or reps.size == 0:
            raise InputError(f"each value must be a number or a non-empty list of repeats; "
                             f"got {v!r} at size {size:g}")
        flat_s += [float(size)] * reps.size
        flat_v += [float(x) for x in reps]
    sa, va = np.asarray(flat_s), np.asarray(flat_v)
    if not np.all(np.isfinite(sa)) or np.any(sa <= 0):
        bad = next(x for x in s if not (math.isfinite(x) and x > 0))
        raise InputError(f"sizes must be positive, finite training-set sizes; got {bad:g}")
    if not np.all(np.isfinite(va)):
        at = sa[~np.isfinite(va)][0]
        raise InputError(f"values must be finite; got {va[~np.isfinite(va)][0]} at size {at:g}")
    distinct = np.unique(sa)
    if distinct.size < 3:
        raise InputError(
            "a learning curve needs at least 3 distinct training-set sizes; got "
            f"{distinct.size} ({', '.join(f'{x:g}' for x in distinct)})")
    order = np.argsort(sa, kind="stable")
    return sa[order], va[order]


def _to_errors(values: FloatArray, sizes: FloatArray, direction: Direction,
               bounds: tuple[float | None, float | None]) -> tuple[FloatArray, float, str]:
    """The errors to fit, the reference value (error 0) and where it came from."""
    lo, hi = bounds
    bound = hi if direction == "higher" else lo
    if bound is not None:
        ref, source = float(bound), "metric bound"
    elif direction == "lower" and np.all(values > 0):
        ref, source = 0.0, "assumed zero"
    else:
        # No bound to measure the error from: put the reference one observed range
        # beyond the best value, so every error is positive and the floor c (fitted in
        # [0, smallest error]) places the asymptote between the best value and it.
        best = float(values.max() if direction == "higher" else values.min())
        span = float(values.max() - values.min()) or (abs(best) * 0.1 or 1.0)
        ref = best + span if direction == "higher" else best - span
        source = "shifted"
    errors = ref - values if direction == "higher" else values - ref
    if np.any(errors < 0):
        i = int(np.argmin(errors))
        raise InputError(f"value {values[i]:g} at size {sizes[i]:g} is beyond the metric's "
                         f"bound {ref:g} (direction {direction!r}); check bounds and direction")
    if np.any(errors == 0):
        i = int(np.argmin(errors))
        raise InputError(
            f"value {values[i]:g} at size {sizes[i]:g} equals the metric's best possible "
            f"value {ref:g}: a power law cannot fit an error of 0; evaluate on more rows or "
            "leave that size out")
    return errors, ref, source


# -- fitting kernels (vectorised over bootstrap replicates) ------------------------------


def _fit_power(logn: FloatArray, loge: FloatArray) -> tuple[FloatArray, ...]:
    """Pure power law per row of ``loge`` (R, m): a straight line in log-log space, its
    slope clamped to the exponent's range (exact, as the SSE is quadratic in b)."""
    centred = logn - logn.mean()
    slope = (loge - loge.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    b = np.clip(-slope, B_MIN, B_MAX)
    loga = (loge + b[:, None] * logn).mean(axis=1)
    sse = ((loge - loga[:, None] + b[:, None] * logn) ** 2).sum(axis=1)
    return np.exp(loga), b, np.zeros_like(b), sse


def _floor_given_b(x: FloatArray, e: FloatArray, cmax: FloatArray
                   ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """For each exponent (x = n^−b, shape (R|1, G, m)), ``a`` and ``c`` by least squares on
    relative errors (weights 1/e², close to log space and linear in a and c), ``c``
    clamped to [0, cmax]; returns a, c and the exact log-space SSE, each (R, G)."""
    w = 1.0 / e**2
    we = w * e
    sw, swe = w.sum(-1), we.sum(-1)
    swx, swxx, swxe = (w * x).sum(-1), (w * x * x).sum(-1), (we * x).sum(-1)
    det = sw * swxx - swx**2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (sw * swxe - swx * swe) / det
        c = (swxx * swe - swx * swxe) / det
        # The problem is a convex quadratic with a box on c only: when the free optimum
        # leaves the box, the constrained one sits on the nearest bound.
        clamped = np.clip(np.nan_to_num(c, nan=0.0), 0.0, cmax)
        off = ~np.isfinite(a) | (clamped != c)
        c = clamped
        a = np.where(off, (swxe - c * swx) / swxx, a)
    a = np.maximum(np.nan_to_num(a, nan=_A_MIN), _A_MIN)
    pred = a[..., None] * x + c[..., None]
    sse = ((np.log(e) - np.log(pred)) ** 2).sum(-1)
    return a, c, sse


def _fit_floor(n: FloatArray, e: FloatArray) -> tuple[FloatArray, ...]:
    """Power law with a floor per row of ``e`` (R, m): a profile over a grid of exponents,
    refined locally around the best one."""
    cmax = e.min(axis=1)[:, None]
    e3 = e[:, None, :]
    x = n[None, None, :] ** -_B_GRID[None, :, None]
    a, c, sse = _floor_given_b(x, e3, cmax)
    best = np.argmin(sse, axis=1)
    local = np.clip(_B_GRID[best][:, None] + np.linspace(-_B_STEP, _B_STEP, 21)[None, :],
                    B_MIN, B_MAX)
    x = n[None, None, :] ** -local[:, :, None]
    a, c, sse = _floor_given_b(x, e3, cmax)
    k = np.argmin(sse, axis=1)
    rows = np.arange(e.shape[0])
    return a[rows, k], local[rows, k], c[rows, k], sse[rows, k]


def _polish_floor(n: FloatArray, e: FloatArray, start: tuple[float, float, float]
                  ) -> tuple[float, float, float, float]:
    """The main fit, refined by bounded nonlinear least squares in log space."""
    a0, b0, c0 = start
    cmax = float(e.min())
    loge = np.log(e)

    def resid(p: FloatArray) -> FloatArray:
        out: FloatArray = loge - np.log(np.exp(p[0]) * n ** -p[1] + p[2])
        return out

    x0 = np.array([math.log(a0), min(max(b0, B_MIN), B_MAX), min(max(c0, 0.0), cmax)])
    sse0 = float((resid(x0) ** 2).sum())
    try:
        sol = least_squares(resid, x0, bounds=([-np.inf, B_MIN, 0.0], [np.inf, B_MAX, cmax]),
                            x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    except (ValueError, FloatingPointError):
        return a0, b0, c0, sse0
    sse = float((sol.fun**2).sum())
    if not np.isfinite(sse) or sse >= sse0:
        return a0, b0, c0, sse0
    return float(math.exp(sol.x[0])), float(sol.x[1]), float(sol.x[2]), sse


def _aicc(sse: FloatArray, m: int, k: int) -> FloatArray | None:
    """Small-sample AIC of a least-squares fit with ``k`` parameters (σ included)."""
    if m - k - 1 <= 0:
        return None
    mse = np.maximum(sse / m, _MIN_MSE)
    out: FloatArray = m * np.log(mse) + 2 * k + 2 * k * (k + 1) / (m - k - 1)
    return out


def _flattens(logn_d: FloatArray, loge_means: FloatArray) -> BoolArray:
    """Per row of per-size mean log errors (R, d): the last log-log slope is less than
    half as steep as the first (or the curve stops improving)."""
    first = (loge_means[:, 1] - loge_means[:, 0]) / (logn_d[1] - logn_d[0])
    last = (loge_means[:, -1] - loge_means[:, -2]) / (logn_d[-1] - logn_d[-2])
    out: BoolArray = (first < 0) & (last > first / 2)
    return out


@dataclass
class _Design:
    """What stays fixed across bootstrap replicates: the sizes and their grouping."""

    n: FloatArray
    logn: FloatArray
    groups: npt.NDArray[np.int64]  # index of each point's distinct size
    distinct: FloatArray
    means: FloatArray  # (d, m) averaging matrix: per-size means of the points

    @classmethod
    def of(cls, n: FloatArray) -> _Design:
        distinct, groups = np.unique(n, return_inverse=True)
        onehot = (groups[None, :] == np.arange(distinct.size)[:, None]).astype(float)
        return cls(n, np.log(n), groups.astype(np.int64), distinct,
                   onehot / onehot.sum(axis=1, keepdims=True))

    @property
    def use_aicc(self) -> bool:
        # AICc needs m > k + 1 for the 4-parameter floor model, and a floor judged from
        # fewer than 5 distinct sizes rests on too little shape to trust a likelihood.
        return self.distinct.size >= 5 and self.n.size >= 6


def _fit_both(design: _Design, e: FloatArray) -> dict[str, tuple[FloatArray, ...]]:
    loge = np.log(e)
    return {"power": _fit_power(design.logn, loge), "power+floor": _fit_floor(design.n, e)}


def _choose(design: _Design, fits: dict[str, tuple[FloatArray, ...]], e: FloatArray
            ) -> BoolArray:
    """Per replicate: True where the floor form is chosen."""
    m = design.n.size
    if design.use_aicc:
        ap = _aicc(fits["power"][3], m, 3)
        af = _aicc(fits["power+floor"][3], m, 4)
        assert ap is not None
        assert af is not None
        chosen: BoolArray = af < ap - _AIC_MARGIN
        return chosen
    return _flattens(np.log(design.distinct), np.log(e) @ design.means.T)


# -- public API --------------------------------------------------------------------------


def fit_learning_curve(
    sizes: Sequence[float] | FloatArray,
    values: Sequence[float | Sequence[float]] | FloatArray,
    *,
    direction: str,
    bounds: tuple[float | None, float | None] = (None, None),
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> LearningCurve:
    """Fit ``error(n) = a·n^(−b) + c`` to a metric measured at several training-set sizes.

    Parameters
    ----------
    sizes
        Training-set sizes: positive, at least 3 distinct (repeats of a size are allowed).
    values
        The metric at each size: a number, or a list of repeated measurements (several
        seeds) at that size. Repeats are fitted as separate points.
    direction
        ``"higher"`` or ``"lower"``: read it from the metric registry.
    bounds
        The metric's ``(lower, upper)`` bounds, e.g. ``(0, 1)`` for accuracy. The error is
        ``upper − value`` (higher is better) or ``value − lower`` (lower is better); a
        lower-is-better metric without a lower bound is assumed to reach 0 when all its
        values are positive. Otherwise the reference is shifted one observed range beyond
        the best value (see the docs).
    level
        The level of the bootstrap intervals.
    resamples
        Bootstrap refits; 0 for none.
    seed
        Seeds the bootstrap; written into the result.

    Returns
    -------
    LearningCurve
        The chosen fit, both forms, intervals and a note.

    Raises
    ------
    InputError
        Fewer than 3 distinct sizes, non-positive sizes, non-finite values, lengths that
        differ, values beyond the metric's bound or at its best possible value.
    """
    d = check_direction(direction)
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1; got {level!r}")
    if int(resamples) != resamples or resamples < 0:
        raise InputError(f"resamples must be a whole number >= 0; got {resamples!r}")
    n, v = _points(sizes, values)
    e, ref, source = _to_errors(v, n, d, bounds)
    design = _Design.of(n)
    m = n.size
    loge = np.log(e)

    fits = _fit_both(design, e[None, :])
    a_f, b_f, c_f, sse_f = (float(t[0]) for t in fits["power+floor"])
    a_f, b_f, c_f, sse_f = _polish_floor(n, e, (a_f, b_f, c_f))
    a_p, b_p, _, sse_p = (float(t[0]) for t in fits["power"])
    fits["power+floor"] = tuple(np.array([x]) for x in (a_f, b_f, c_f, sse_f))
    floor = bool(_choose(design, fits, e[None, :])[0])
    form = "power+floor" if floor else "power"
    a, b, c, sse = (a_f, b_f, c_f, sse_f) if floor else (a_p, b_p, 0.0, sse_p)

    aicc_p, aicc_f = _aicc(np.array(sse_p), m, 3), _aicc(np.array(sse_f), m, 4)
    alternatives: dict[str, dict[str, float | None]] = {
        "power": {"a": a_p, "b": b_p, "c": 0.0, "rmse_log": math.sqrt(sse_p / m),
                  "aicc": None if aicc_p is None else float(aicc_p)},
        "power+floor": {"a": a_f, "b": b_f, "c": c_f, "rmse_log": math.sqrt(sse_f / m),
                        "aicc": None if aicc_f is None else float(aicc_f)},
    }
    sst = float(((loge - loge.mean()) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else 1.0

    notes = [_form_note(design, form, alternatives)]
    notes.append(_reference_note(d, ref, source))
    if b >= B_MAX - 1e-9 or b <= B_MIN + 1e-9:
        notes.append(f"The exponent b hit its limit {b:g}: the points do not follow a power law "
                     "over this range; treat any extrapolation with care.")

    method, reps = "none", np.empty((0, 3))
    p = 3 if floor else 2
    if resamples:
        repeats = np.bincount(design.groups)
        if repeats.min() >= _MIN_REPEATS:
            method = "repeats"
        elif m > p:
            method = "residuals"
        if method == "none":
            notes.append("No intervals: as many parameters as points leaves nothing to "
                         "resample.")
        else:
            fitted = np.log(a * n**-b + c)
            reps = _bootstrap(design, e, fitted, p, method, int(resamples), seed)
            how = ("the repeats resampled within each size" if method == "repeats" else
                   "log-space residuals resampled around the fit")
            notes.append(f"{level:.0%} intervals: percentiles of {int(resamples)} bootstrap "
                         f"refits ({how}, seed {seed}), each choosing its own form.")

    intervals: dict[str, list[float]] = {}
    if reps.size:
        for i, name in enumerate("abc"):
            intervals[name] = list(quantiles(reps[:, i], level))
        c_lo, c_hi = intervals["c"]
        asym = sorted([ref - c_lo, ref - c_hi] if d == "higher" else [ref + c_lo, ref + c_hi])
        intervals["asymptote"] = asym

    return LearningCurve(
        direction=d, reference=ref, reference_source=source, a=a, b=b, c=c, form=form,
        sizes=[int(x) if float(x).is_integer() else float(x) for x in n],
        values=[float(x) for x in v], rmse_log=math.sqrt(sse / m), r2_log=r2,
        alternatives=alternatives, intervals=intervals, level=level,
        resamples=int(resamples), seed=seed, bootstrap=method, note=" ".join(notes),
        replicates=reps.tolist())


def _form_note(design: _Design, form: str, alt: dict[str, dict[str, float | None]]) -> str:
    if design.use_aicc:
        ap, af = alt["power"]["aicc"], alt["power+floor"]["aicc"]
        assert ap is not None
        assert af is not None
        if form == "power+floor":
            return (f"Power law with a floor chosen: its AICc ({af:.1f}) is lower than the "
                    f"pure power law's ({ap:.1f}) by more than {_AIC_MARGIN:g}.")
        return (f"Pure power law (c = 0) kept: the floor does not lower the AICc by more than "
                f"{_AIC_MARGIN:g} ({af:.1f} against {ap:.1f}).")
    k = design.distinct.size
    why = ("they do" if form == "power+floor" else "they do not")
    return (f"Only {k} distinct sizes: a floor is fitted only when the points clearly flatten "
            f"(the last log-log slope less than half the first); {why}.")


def _reference_note(d: Direction, ref: float, source: str) -> str:
    if source == "metric bound":
        expr = f"{ref:g} − value" if d == "higher" else (
            "value" if ref == 0 else f"value − {ref:g}")
        return f"Error = {expr} (the metric's bound)."
    if source == "assumed zero":
        return "Error = value (lower is better, no bound given: assumed to reach 0)."
    if d == "higher":
        expr = f"{ref:.4g} − value"
    else:
        expr = f"value − {ref:.4g}" if ref >= 0 else f"value + {-ref:.4g}"
    return (f"No bound given: error = {expr}, a reference one observed range beyond the best "
            "value; the fitted asymptote lies between the best value and it. Give the metric's "
            "bounds for a meaningful floor.")


def _bootstrap(design: _Design, e: FloatArray, fitted: FloatArray, p: int, method: str,
               resamples: int, seed: int) -> FloatArray:
    """``[a, b, c]`` of each refit, on resampled errors."""
    rng = np.random.default_rng(seed)
    m = e.size
    loge = np.log(e)
    if method == "repeats":
        idx = np.empty((resamples, m), dtype=np.int64)
        for g in range(design.distinct.size):
            members = np.flatnonzero(design.groups == g)
            idx[:, members] = members[rng.integers(0, members.size, (resamples, members.size))]
        star = loge[idx]
    else:
        # Residuals are smaller than the noise by the parameters fitted; rescale them.
        r = loge - fitted
        r = (r - r.mean()) * math.sqrt(m / (m - p))
        star = fitted[None, :] + r[rng.integers(0, m, (resamples, m))]
    out = np.empty((resamples, 3))
    for lo in range(0, resamples, _CHUNK):
        es = np.exp(star[lo:lo + _CHUNK])
        fits = _fit_both(design, es)
        floor = _choose(design, fits, es)
        for j in range(3):
            out[lo:lo + _CHUNK, j] = np.where(floor, fits["power+floor"][j], fits["power"][j])
    return out


def quantiles(x: FloatArray, level: float) -> tuple[float, float]:
    """The equal-tailed percentile interval of ``x`` at ``level``.

    Parameters
    ----------
    x
        The values (e.g. one quantity over the bootstrap refits).
    level
        The interval's level, in (0, 1).

    Returns
    -------
    tuple of float
        ``(lo, hi)``: the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles.
    """
    alpha = (1 - level) / 2
    lo, hi = np.quantile(x, [alpha, 1 - alpha])
    return float(lo), float(hi)
