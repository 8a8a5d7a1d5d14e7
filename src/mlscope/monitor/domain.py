"""A domain classifier: can a model tell the window's rows from the reference's?

A logistic regression on the monitored features (numbers standardised, a missing-value
indicator each, categories one-hot) separates reference rows (0) from window rows (1);
its two-fold cross-validated ROC AUC says how far apart the two are. Under no shift the
AUC is 0.5 up to sampling noise, whose standard deviation is the Mann–Whitney one,
``sqrt((n₀ + n₁ + 1) / (12 n₀ n₁))``. The window is *out of the reference's support*
when the AUC is both significant (one-sided z above 2.33, p < 0.01) and at least the
charter's ``alert.domain_auc`` (default 0.75): the estimators of
:mod:`mlscope.monitor.performance` extrapolate there.

scikit-learn is imported when the classifier is fitted (``pip install "mlscope[sklearn]"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["DomainCheck", "Encoder", "domain_check"]

# At most this many categories per column are one-hot encoded (the most frequent ones).
_MAX_LEVELS = 20
_Z = 2.326  # one-sided 1% normal quantile
_REFERENCE_PER_ROW = 4


@dataclass(frozen=True)
class DomainCheck:
    """The classifier's cross-validated AUC, its z against chance, and the verdict."""

    auc: float
    z: float
    out_of_support: bool


class Encoder:
    """Turns feature columns into a numeric matrix, with the reference's statistics."""

    def __init__(self, reference: pd.DataFrame, features: list[str], numeric: set[str]):
        self.features = features
        self.numeric = numeric
        self.centre: dict[str, tuple[float, float]] = {}
        self.levels: dict[str, list[str]] = {}
        for c in features:
            if c in numeric:
                v = pd.to_numeric(reference[c], errors="coerce").to_numpy(dtype=np.float64)
                v = v[np.isfinite(v)]
                mu = float(np.median(v)) if v.size else 0.0
                sd = float(np.std(v)) if v.size else 1.0
                self.centre[c] = (mu, sd or 1.0)
            else:
                counts = reference[c].dropna().astype(str).value_counts()
                self.levels[c] = [str(x) for x in counts.index[:_MAX_LEVELS]]

    def encode(self, df: pd.DataFrame) -> npt.NDArray[np.float64]:
        cols: list[npt.NDArray[np.float64]] = []
        for c in self.features:
            if c in self.numeric:
                v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
                miss = ~np.isfinite(v)
                mu, sd = self.centre[c]
                cols.append(np.where(miss, 0.0, (v - mu) / sd))
                cols.append(miss.astype(np.float64))
            else:
                s = df[c].astype(str).to_numpy()
                cols.extend((s == lvl).astype(np.float64) for lvl in self.levels[c])
                cols.append(df[c].isna().to_numpy().astype(np.float64))
        return np.column_stack(cols) if cols else np.zeros((len(df), 0))


def domain_check(x_ref: npt.NDArray[np.float64], x_win: npt.NDArray[np.float64],
                 gate: float, seed: int) -> DomainCheck | None:
    """Cross-validated AUC of reference (0) against window (1); None with too few rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    n1 = x_win.shape[0]
    if x_ref.shape[0] > _REFERENCE_PER_ROW * n1:
        # A few reference rows per window row suffice, and keep the fit cheap.
        pick = np.random.default_rng(seed).choice(x_ref.shape[0], _REFERENCE_PER_ROW * n1,
                                                   replace=False)
        x_ref = x_ref[np.sort(pick)]
    n0 = x_ref.shape[0]
    if n0 < 10 or n1 < 10 or x_ref.shape[1] == 0:
        return None
    x = np.vstack([x_ref, x_win])
    y = np.r_[np.zeros(n0), np.ones(n1)]
    # Balanced weights: the window is usually much smaller than the reference.
    # Newton–Cholesky: exact and fast for the few dozen columns a monitor watches.
    clf = LogisticRegression(C=1.0, max_iter=100, class_weight="balanced",
                             solver="newton-cholesky")
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    score = cross_val_predict(clf, x, y, cv=folds, method="decision_function")
    auc = float(roc_auc_score(y, score))
    sd = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    z = (auc - 0.5) / sd
    return DomainCheck(auc, z, bool(z > _Z and auc >= gate))
