"""Learning curves: how a metric improves with training data, and how much data a target needs.

The metric's *error* — its distance from the best value it could take — is modelled as a
power law of the training-set size ``n``, with or without a floor::

    e(n) = a · n^(−b) + c        a > 0,  0 < b ≤ 3,  c ≥ 0 (the irreducible error)

Fits are least squares in log space (the noise of a learning curve is roughly
multiplicative: a point at n = 100 scatters by more, in absolute terms, than one at
n = 100 000). The pure power law (``c = 0``) and the power law with a floor are both
fitted and one is chosen (small-sample AIC, or a flattening test on very few sizes);
bootstrap refits give intervals for the parameters, for predictions and for the data a
target needs. Everything here is a pure function of its arguments and a seed; the
results are plain dataclasses. See ``docs/learning-curve.md``.

The work is done in rooms of one purpose — :mod:`~mlscope.diagnose.curve_fit` (the fit),
:mod:`~mlscope.diagnose.data_needed` (data for a target, nines),
:mod:`~mlscope.diagnose.curve_refit` (measuring a curve by refitting) and
:mod:`~mlscope.diagnose.curve_chart` (chart data) — and every public name is re-exported
here.
"""

from __future__ import annotations

from mlscope.diagnose.curve_chart import chart_data, chart_span
from mlscope.diagnose.curve_fit import B_MAX as B_MAX
from mlscope.diagnose.curve_fit import B_MIN as B_MIN
from mlscope.diagnose.curve_fit import BoolArray as BoolArray
from mlscope.diagnose.curve_fit import Direction as Direction
from mlscope.diagnose.curve_fit import FloatArray as FloatArray
from mlscope.diagnose.curve_fit import LearningCurve, fit_learning_curve
from mlscope.diagnose.curve_refit import refit_curve
from mlscope.diagnose.data_needed import N_CAP as N_CAP
from mlscope.diagnose.data_needed import DataNeeded, data_needed, nines

__all__ = [
    "DataNeeded",
    "LearningCurve",
    "chart_data",
    "chart_span",
    "data_needed",
    "fit_learning_curve",
    "nines",
    "refit_curve",
]
