"""Training history: load a loss curve and read what it says.

A training history is one row per logged step with the training and validation loss
(``step``, ``train_loss``, ``val_loss``; optionally ``lr``/``learning_rate`` and
``epoch``). :func:`load_history` reads it from CSV, JSON or a DataFrame and refuses what
cannot be read with an :class:`~mlscope.errors.InputError` naming the file, the column,
the row and the fix. :func:`check_history` turns the curve into plain findings (the
initial loss against its expected value, whether training converges or diverges, the best
validation step, overfitting, variance and underfitting), each with its figures and a
suggestion. :func:`mlscope.report.diagnosis_charts.history_svg` draws the two curves with
the best validation step and a baseline, so that the same curves next to a different
baseline give a different advice.

Not logged vs. not a number
---------------------------
Loggers often write training and validation losses on different rows (PyTorch Lightning's
``metrics.csv``, the Hugging Face ``log_history``). An *empty* cell (CSV), a ``null`` or an
absent key (JSON) means "not logged at this step"; consecutive rows with the same step
are merged. A literal ``nan``/``inf`` is kept: a loss that became NaN is a finding
(divergence), not an input error. A DataFrame cannot tell the two apart (pandas reads an
empty cell as NaN), so there a NaN loss on a row whose other loss is finite counts as not
logged, and a NaN in both losses of a row is kept.

The work is done in rooms of one purpose — :mod:`~mlscope.diagnose.history_read`
(reading), :mod:`~mlscope.diagnose.history_checks` (the checks and their thresholds) and
:mod:`~mlscope.diagnose.history_chart` (chart data) — and every public name is re-exported
here.
"""

from __future__ import annotations

from mlscope.diagnose.history_chart import chart_data
from mlscope.diagnose.history_checks import (
    BLOWUP_FACTOR,
    BLOWUP_LOST,
    EDGE_SHARE,
    INIT_ERROR,
    INIT_HIGH,
    INIT_LOW,
    MAX_RANK_CORR,
    MIN_DROP,
    OVERFIT_RISE,
    SPIKE_FACTOR,
    SPIKE_WINDOW,
    UNDERFIT_GAIN,
    VARIANCE_RATIO,
    HistoryFinding,
    check_history,
    spearman,
)
from mlscope.diagnose.history_checks import TASKS as TASKS
from mlscope.diagnose.history_checks import Severity as Severity
from mlscope.diagnose.history_read import ALIASES as ALIASES
from mlscope.diagnose.history_read import REQUIRED as REQUIRED
from mlscope.diagnose.history_read import BoolArray as BoolArray
from mlscope.diagnose.history_read import FloatArray as FloatArray
from mlscope.diagnose.history_read import History, load_history, metric_columns

__all__ = [
    "BLOWUP_FACTOR",
    "BLOWUP_LOST",
    "EDGE_SHARE",
    "INIT_ERROR",
    "INIT_HIGH",
    "INIT_LOW",
    "MAX_RANK_CORR",
    "MIN_DROP",
    "OVERFIT_RISE",
    "SPIKE_FACTOR",
    "SPIKE_WINDOW",
    "UNDERFIT_GAIN",
    "VARIANCE_RATIO",
    "History",
    "HistoryFinding",
    "chart_data",
    "check_history",
    "load_history",
    "metric_columns",
    "spearman",
]
