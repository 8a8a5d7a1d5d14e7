"""Range-respecting intervals for paired differences (issue 12, item 6).

DeLong's Wald interval ``diff ± z·se`` of an AUC difference can leave [−1, 1] on small
slices (a 2-positive slice gave [−0.22, +1.25]). Here the difference's interval is built
from each AUC's own interval with MOVER (:func:`mlscope.engine.bounded.mover`), which
stays within ``[l_a − u_b, u_a − l_b]`` ⊂ [−1, 1]:

* each AUC's interval is DeLong's on the logit scale (inside (0, 1) by construction);
* an AUC of exactly 0 or 1 (DeLong's variance is then 0) gets Wilson's score interval
  with ``min(n_pos, n_neg)`` trials: Var(AUC) ≤ AUC(1 − AUC) / min(n_pos, n_neg)
  (Birnbaum & Klose, 1957), so a proportion on that many trials is at least as wide;
* the correlation of the two AUCs is DeLong's.

At large samples the result agrees with the Wald interval to a small fraction of its
width; the p-value stays DeLong's z-test.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from mlscope.compare.paired import delong_variance
from mlscope.engine.bounded import logit_interval, mover, wilson

__all__ = ["auc_difference_interval", "auc_difference_interval_of", "auc_interval"]


def auc_interval(auc: float, var: float, n_eff: int, z: float) -> tuple[float, float]:
    """One AUC's interval: logit-DeLong inside (0, 1); Wilson on ``n_eff`` trials at the
    ends or with zero variance."""
    se = math.sqrt(max(var, 0.0))
    ci = logit_interval(auc, se, z) if se > 0 else None
    return ci if ci is not None else wilson(auc, n_eff, z)


def auc_difference_interval(y_true: npt.ArrayLike, score_a: npt.ArrayLike,
                            score_b: npt.ArrayLike, *, level: float = 0.95
                            ) -> tuple[float, float]:
    """MOVER interval of ``AUC_a − AUC_b`` on the same rows (within [−1, 1]).

    Raises
    ------
    InputError
        As :func:`mlscope.compare.paired.delong_variance` (fewer than 2 rows of a class).
    """
    aucs, cov = delong_variance(y_true, [score_a, score_b])
    y = np.asarray(y_true).ravel()
    return auc_difference_interval_of(aucs, cov, int(np.count_nonzero(y == 1)), y.size,
                                      level=level)


def auc_difference_interval_of(aucs: npt.NDArray[np.float64], cov: npt.NDArray[np.float64],
                               n_pos: int, n: int, *, level: float = 0.95
                               ) -> tuple[float, float]:
    """:func:`auc_difference_interval` from the two AUCs and their DeLong covariance
    (:func:`mlscope.compare.paired.delong_variance_of`) on ``n`` rows, ``n_pos`` positive."""
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    n_eff = max(min(n_pos, n - n_pos), 1)
    a, b = float(aucs[0]), float(aucs[1])
    va, vb, cab = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    r = cab / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0
    lo, hi = mover(a, auc_interval(a, va, n_eff, z), b, auc_interval(b, vb, n_eff, z), r)
    return max(lo, -1.0), min(hi, 1.0)

