"""The clinicians' rule of thumb, as a scripted baseline for the screening example.

Before any model, a case was referred for biopsy when its largest cells were big: "worst
radius above 16.8 mm". The rule's score ranks the cases by that radius, so mlscope can
score it like a model — its ROC AUC, its cost at its best cut-off — and a model that
cannot beat it is not worth deploying.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def refer_large(cases: pd.DataFrame) -> np.ndarray:
    """A score in [0, 1]: the worst radius over twice the 16.8 mm cut-off (0.5 = refer)."""
    return np.clip(cases["worst_radius"].to_numpy() / (2 * 16.8), 0.0, 1.0)
