"""McNemar's test for paired right/wrong outcomes: the mid-p binomial test below
:data:`EXACT_BELOW` discordant pairs, the uncorrected chi-square from there on, and Tango's
score interval for the difference of accuracies. Re-exported by
:mod:`mlscope.compare.paired`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from mlscope.compare.paired_common import as_binary, check_level, z_crit
from mlscope.errors import InputError

__all__ = ["EXACT_BELOW", "McNemar", "McNemarMethod", "mcnemar_counts", "mcnemar_test"]

McNemarMethod = Literal["auto", "mid-p", "exact", "chi2", "chi2-cc"]

# Below this many discordant pairs ``method="auto"`` uses the binomial (mid-p) tail, the
# usual cut-off for trusting McNemar's chi-square; both held their level in simulation on
# their side of it (docs/comparisons.md).
EXACT_BELOW = 25
# Up to this many discordant pairs the binomial tail is summed in exact integers; beyond
# it (only when a binomial method is forced) in log space, where the integers get slow.
_EXACT_INTEGERS_UP_TO = 1000
_MCNEMAR_METHODS = ("auto", "mid-p", "exact", "chi2", "chi2-cc")


@dataclass
class McNemar:
    """McNemar's test for paired 0/1 outcomes (e.g. "row classified correctly").

    Attributes
    ----------
    n
        Number of rows.
    n10
        Rows where ``a`` is 1 (right) and ``b`` is 0 (wrong).
    n01
        Rows where ``a`` is 0 and ``b`` is 1.
    diff
        ``(sum(a) − sum(b)) / n = (n10 − n01) / n``: the difference of accuracies.
    statistic
        ``(n10 − n01)² / (n10 + n01)`` for the chi-square methods (minus 1 inside the
        square for ``chi2-cc``); ``min(n10, n01)`` for the binomial methods.
    p_value
        Two-sided p-value for H0: equal accuracies.
    method
        The method used: ``mid-p``, ``exact``, ``chi2`` or ``chi2-cc``.
    lower, upper
        Tango's (1998) asymptotic score interval of ``diff`` at ``level``. It contains 0
        exactly when the uncorrected chi-square test does not reject at ``1 − level``.
    level
        Confidence level of the interval.
    note
        Why a value is degenerate, or ``None``.
    """

    n: int
    n10: int
    n01: int
    diff: float
    statistic: float
    p_value: float
    method: str
    lower: float
    upper: float
    level: float
    note: str | None = None



def _binomial_half_cdf(k: int, n: int) -> tuple[float, float]:
    """``P(X ≤ k)`` and ``P(X = k)`` for ``X ~ Binomial(n, 1/2)``."""
    if n <= _EXACT_INTEGERS_UP_TO:
        # Exact integers: the division by 2**n is the only rounding.
        pmf = math.comb(n, k)
        cdf = sum(math.comb(n, i) for i in range(k + 1))
        return cdf / 2**n, pmf / 2**n
    i = np.arange(k + 1)
    log_pmf = (math.lgamma(n + 1) - np.array([math.lgamma(j + 1) for j in i])
               - np.array([math.lgamma(n - j + 1) for j in i]) - n * math.log(2.0))
    top = float(log_pmf.max())
    return float(math.exp(top) * np.exp(log_pmf - top).sum()), math.exp(float(log_pmf[-1]))


def _tango_score(n10: int, n01: int, n: int, delta: float) -> float:
    """Tango's (1998) score statistic for H0: ``p10 − p01 = delta``.

    ``(n10 − n01 − n·delta) / sqrt(n·(2·q + delta·(1 − delta)))`` with ``q`` the maximum
    likelihood estimate of ``p01`` under H0: the positive root of
    ``2n·q² + w·q − n01·delta·(1 − delta) = 0``, ``w = (2n − n10 + n01)·delta − n10 − n01``.
    At ``delta = 0`` it is the signed square root of McNemar's uncorrected statistic.
    """
    w = (2 * n - n10 + n01) * delta - n10 - n01
    c = n01 * delta * (1.0 - delta)
    root = math.sqrt(max(w * w + 8.0 * n * c, 0.0))
    # The two algebraically equal forms of the root; each avoids cancellation on its side.
    q = (root - w) / (4.0 * n) if w <= 0 else 2.0 * c / (root + w)
    var = n * (2.0 * max(q, 0.0) + delta * (1.0 - delta))
    num = n10 - n01 - n * delta
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _tango_interval(n10: int, n01: int, n: int, z: float) -> tuple[float, float]:
    """Tango's asymptotic score interval for ``p10 − p01`` (the difference of accuracies).

    The set of ``delta`` whose score test is not rejected at ``z``; the statistic decreases
    in ``delta``, so each end is found by bisection between the estimate and ±1.
    """
    estimate = (n10 - n01) / n

    def solve(target: float, inside: float, outside: float) -> float:
        # Z(inside) is on the accepted side of target; find where it crosses.
        if abs(_tango_score(n10, n01, n, outside)) <= z:
            return outside
        for _ in range(200):
            mid = (inside + outside) / 2.0
            if mid in (inside, outside):
                break
            if (_tango_score(n10, n01, n, mid) - target) * (1 if target > 0 else -1) < 0:
                inside = mid
            else:
                outside = mid
        return (inside + outside) / 2.0

    return solve(z, estimate, -1.0), solve(-z, estimate, 1.0)


def mcnemar_test(
    correct_a: npt.ArrayLike,
    correct_b: npt.ArrayLike,
    *,
    level: float = 0.95,
    method: McNemarMethod = "auto",
) -> McNemar:
    """McNemar's test for two models' paired 0/1 outcomes on the same rows.

    Parameters
    ----------
    correct_a, correct_b
        Per row, 1 (or True) where the model was right; shape ``(n,)`` each.
    level
        Confidence level of Tango's score interval of the difference of accuracies
        (chosen over Newcombe's and the Wald interval for its coverage in simulations,
        as Fagerland, Lydersen & Laake (2014) recommend).
    method
        ``auto`` (default): ``mid-p`` below 25 discordant pairs, else ``chi2``. Chosen
        because their simulated type-I error at nominal 5 % stays closest to 5 %; the
        exact binomial test and the continuity-corrected chi-square are conservative
        (see ``docs/comparisons.md``). ``exact`` and ``chi2-cc`` are available for
        callers who need a test that never exceeds its level.

    Returns
    -------
    McNemar
        Discordant counts, the difference of accuracies with its interval, the statistic
        and the two-sided p-value. With no discordant pairs the p-value is 1 (with a
        note).

    Raises
    ------
    InputError
        If the outcomes are not 0/1, differ in length, or are empty.

    Examples
    --------
    >>> r = mcnemar_test([1, 1, 1, 0, 1, 1, 0, 1], [1, 0, 0, 0, 1, 0, 1, 1])
    >>> r.n10, r.n01, r.diff, r.method, round(r.p_value, 4)
    (3, 1, 0.25, 'mid-p', 0.375)
    """
    level = check_level(level)
    if method not in _MCNEMAR_METHODS:
        raise InputError(f"`method` must be one of {', '.join(_MCNEMAR_METHODS)}; "
                         f"got {method!r}")
    a = as_binary(correct_a, "correct_a")
    b = as_binary(correct_b, "correct_b")
    if a.shape != b.shape:
        raise InputError(f"`correct_a` and `correct_b` must have the same length; "
                         f"got {a.size} and {b.size}")
    n = a.size
    if n == 0:
        raise InputError("`correct_a` and `correct_b` are empty: nothing to compare")
    return mcnemar_counts(int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b)), n,
                          level=level, method=method)


def mcnemar_counts(n10: int, n01: int, n: int, *, level: float = 0.95,
                   method: str = "auto") -> McNemar:
    """:func:`mcnemar_test` from the counts: ``n10`` rows only model a gets right, ``n01``
    rows only model b gets right, ``n`` rows in all (e.g. counted per slice in one pass)."""
    if method not in _MCNEMAR_METHODS:
        raise InputError(f"`method` must be one of {', '.join(_MCNEMAR_METHODS)}; "
                         f"got {method!r}")
    if n <= 0:
        raise InputError("no rows: nothing to compare")
    discordant = n10 + n01
    used = ("mid-p" if discordant < EXACT_BELOW else "chi2") if method == "auto" else method
    lower, upper = _tango_interval(n10, n01, n, z_crit(level))
    note: str | None = None
    if discordant == 0:
        statistic, p_value = 0.0, 1.0
        note = "no discordant pairs: the models are right on the same rows"
    elif used in ("chi2", "chi2-cc"):
        gap = abs(n10 - n01) - (1.0 if used == "chi2-cc" else 0.0)
        statistic = max(gap, 0.0) ** 2 / discordant
        # Survival function of chi-square with 1 degree of freedom.
        p_value = math.erfc(math.sqrt(statistic / 2.0))
    else:
        k = min(n10, n01)
        cdf, pmf = _binomial_half_cdf(k, discordant)
        statistic = float(k)
        # exact: 2·P(X ≤ k); mid-p: 2·(P(X ≤ k) − P(X = k)/2) (Lancaster's mid-p).
        p_value = min(1.0, 2.0 * cdf - (pmf if used == "mid-p" else 0.0))
    return McNemar(n=n, n10=n10, n01=n01, diff=(n10 - n01) / n, statistic=statistic,
                   p_value=p_value, method=used, lower=lower, upper=upper, level=level,
                   note=note)
