"""Data stability between the splits: are they ordered in time, and does the label drift?

Given each split's time range, row count and label summary (read by
:mod:`mlscope.pipeline.stability`), :func:`stability` says whether the training, selection
and report splits follow each other in time without overlapping, and tests whether the
label's rate (binary) or mean (regression) differs between the selection and the report
split: a two-sample z-test (pooled for two proportions, Welch's standard error for two
means) with the difference ``report − selection`` and its Wald interval. A label that
drifts between the split models are chosen on and the split they are reported on makes the
report's figures describe a different population than the one selection saw.

Pure: numbers in, a JSON-ready dict out (``result.data["time"]``, docs/result-schema.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["ALPHA", "Drift", "SplitTime", "drift_text", "order_problems", "stability",
           "two_means", "two_proportions"]

# The test's size, and the interval's level 1 − ALPHA.
ALPHA = 0.05
_Z = 1.959963984540054  # the standard normal's 0.975 quantile


@dataclass
class SplitTime:
    """One split: its time range (None when every time is missing), rows, rows without a
    time, and the label's mean (the positive rate for binary) and variance, when the task
    has a numeric label."""

    start: Any
    end: Any
    rows: int
    missing: int = 0
    label_mean: float | None = None
    label_var: float | None = None


@dataclass
class Drift:
    """The label's change from the selection to the report split, ``report − selection``,
    with its interval and the test's two-sided p-value."""

    metric: str  # "positive_rate" or "label_mean"
    selection: float
    report: float
    difference: float
    lower: float
    upper: float
    p_value: float

    @property
    def drifts(self) -> bool:
        """Whether the difference is significant at :data:`ALPHA`."""
        return self.p_value < ALPHA


def _p_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportions(k1: float, n1: int, k2: float, n2: int) -> Drift:
    """Two-proportion z-test of rate 2 (``k2/n2``, the report split) against rate 1.

    The test's standard error pools the two samples (as under the null of no drift); the
    interval's does not.

    Raises
    ------
    ValueError
        A sample is empty.
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples need rows")
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    d = p2 - p1
    p = 1.0 if se0 == 0 else _p_two_sided(d / se0)
    return Drift("positive_rate", p1, p2, d, d - _Z * se, d + _Z * se, p)


def two_means(m1: float, v1: float, n1: int, m2: float, v2: float, n2: int) -> Drift:
    """z-test of mean 2 (the report split) against mean 1 with Welch's standard error
    (variances ``v1``, ``v2`` of the rows; the normal approximation needs large splits).

    Raises
    ------
    ValueError
        A sample is empty.
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples need rows")
    se = math.sqrt(v1 / n1 + v2 / n2)
    d = m2 - m1
    p = (1.0 if d == 0 else 0.0) if se == 0 else _p_two_sided(d / se)
    return Drift("label_mean", m1, m2, d, d - _Z * se, d + _Z * se, p)


def _iso(x: Any) -> Any:
    if x is None:
        return None
    iso = getattr(x, "isoformat", None)
    return iso() if callable(iso) else x


def _range(name: str, s: SplitTime) -> str:
    return f"{name} ({_iso(s.start)} – {_iso(s.end)})"


def order_problems(order: list[tuple[str, SplitTime]]) -> list[str]:
    """What breaks the time order of ``order`` (the splits as they should follow each
    other): each later split must start after the earlier one ends. Empty when ordered."""
    timed = [(n, s) for n, s in order if s.start is not None and s.end is not None]
    out: list[str] = []
    for i, (a, sa) in enumerate(timed):
        for b, sb in timed[i + 1:]:
            if sb.start > sa.end:
                continue
            if sb.end < sa.start:
                out.append(f"{_range(b, sb)} comes before {_range(a, sa)}")
            else:
                out.append(f"{_range(a, sa)} overlaps {_range(b, sb)}")
    return out


def drift_text(d: Drift, selection: str, report: str) -> str:
    """One line: ``stable`` or ``drifts (p = …)``, with the difference and interval."""
    what = "positive rate" if d.metric == "positive_rate" else "label mean"
    head = (f"the {what} drifts between {selection} and {report} (p = {d.p_value:.2g})"
            if d.drifts else f"the {what} is stable between {selection} and {report} "
                             f"(p = {d.p_value:.2g})")
    level = round(100 * (1 - ALPHA))
    f = "+.3f" if d.metric == "positive_rate" else "+.4g"
    return (f"{head}: {d.selection:.4g} → {d.report:.4g}, {d.difference:{f}} "
            f"[{d.lower:{f}}, {d.upper:{f}}] ({level}% interval)")


def stability(column: str, splits: dict[str, SplitTime], order: list[str],
              selection: str | None, report: str | None, task: str) -> dict[str, Any]:
    """``result.data["time"]``: every split's range, whether ``order`` (train, selection,
    report: those present) is ordered in time, and the label's drift from ``selection`` to
    ``report`` (None without both splits or a numeric label)."""
    problems = order_problems([(n, splits[n]) for n in order if n in splits])
    drift: Drift | None = None
    a = splits.get(selection) if selection else None
    b = splits.get(report) if report else None
    if a is not None and b is not None and a.label_mean is not None \
            and b.label_mean is not None and a.rows > 0 and b.rows > 0:
        if task == "binary":
            drift = two_proportions(a.label_mean * a.rows, a.rows, b.label_mean * b.rows,
                                    b.rows)
        elif task == "regression":
            drift = two_means(a.label_mean, a.label_var or 0.0, a.rows,
                              b.label_mean, b.label_var or 0.0, b.rows)
    out: dict[str, Any] = {
        "column": column,
        "splits": {n: {"start": _iso(s.start), "end": _iso(s.end), "rows": s.rows,
                       "missing": s.missing, "label_mean": s.label_mean}
                   for n, s in splits.items()},
        "order": [n for n in order if n in splits],
        "ordered": not problems,
        "overlap": "; ".join(problems) or None,
        "drift": None,
    }
    if drift is not None:
        out["drift"] = {"metric": drift.metric, "selection_split": selection,
                        "report_split": report, "selection": drift.selection,
                        "report": drift.report, "difference": drift.difference,
                        "lower": drift.lower, "upper": drift.upper,
                        "p_value": drift.p_value, "level": 1 - ALPHA,
                        "drifts": drift.drifts,
                        "text": drift_text(drift, str(selection), str(report))}
    return out
