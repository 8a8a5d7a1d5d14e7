"""A regression model in production: realised metrics once labels arrive, against the
reference's.

There is **no label-free estimate** for regression: a prediction carries no confidence
from which an expected error could be read (CBPE's calibrated probability has no
counterpart), and inventing one would be a guess. Before labels the monitor watches the
inputs and the predictions' distribution; once labels arrive each charter metric (MAE,
RMSE, R², …, through mlscope's metric registry) is computed on the window's labelled rows
with a bootstrap interval, and compared with its value on the reference.

The comparison is a check like the others (BH-corrected with them in the window): its
test is one-sided, "worse than the reference", a z-test whose standard error combines
both bootstrap standard errors (the window's and the reference's); its gate is
``alert.performance``, a worsening relative to the reference's value, which the
interval's *nearer* bound must reach — the realised interval excludes the reference value
by more than the gate, not only the point estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import ErrorStats, RegressionStats, regression_stats
from mlscope.monitor.performance import percentile_interval
from mlscope.monitor.result import Check, Estimate, Performance

__all__ = [
    "NO_ESTIMATE",
    "RealisedMetric",
    "Reference",
    "realised_slice",
    "realised_window",
    "reference_values",
    "regression_metrics",
]

FloatArray = npt.NDArray[np.float64]
NO_ESTIMATE = "no label-free estimate for regression; realised once labels arrive"
# Metrics the monitor computes for a regression besides the charter's own.
_DEFAULT_METRICS = ("mae", "rmse")
# A window's realised metric is compared with the reference's from this many labelled rows.
MIN_LABELLED = 30


@dataclass(frozen=True)
class RealisedMetric:
    """A regression metric: its id, a call on (batched) regression statistics, and
    whether higher values are better."""

    id: str
    call: Callable[[RegressionStats], FloatArray]
    higher: bool


@dataclass(frozen=True)
class Reference:
    """A metric's value on the reference and its bootstrap standard error."""

    value: float
    se: float


def regression_metrics(charter: Charter) -> tuple[list[RealisedMetric], list[str]]:
    """The charter's registry metrics for a regression, then MAE and RMSE; a note for
    each charter metric left out."""
    out: list[RealisedMetric] = []
    notes: list[str] = []
    for e in charter.metrics:
        if e.metric is None:
            notes.append(f"`{e.id}` is a custom metric: not monitored")
            continue
        spec = get_metric(e.metric)
        if "regression" not in spec.tasks or spec.name in ("expected_cost", "net_value"):
            notes.append(f"`{e.id}` is not a registry regression metric: not monitored")
            continue
        try:
            params = spec.resolve_params(e.params, task="regression")
        except InputError as exc:
            notes.append(f"`{e.id}` not monitored ({exc})")
            continue
        out.append(RealisedMetric(e.id, partial(spec.fn, **params), spec.direction == "higher"))
    seen = {m.id for m in out}
    for name in _DEFAULT_METRICS:
        if name not in seen:
            out.append(RealisedMetric(name, get_metric(name).fn, False))
    return out, notes


def _batched(pred: FloatArray, y: FloatArray, w: FloatArray) -> RegressionStats:
    """Regression statistics of the same rows under ``w`` (``(R, n)`` bootstrap counts)."""
    e = pred - y
    ae = np.abs(e)
    shift = float(y.mean())
    yc = y - shift
    ape = ae / np.maximum(np.abs(y), float(np.finfo(np.float64).eps))
    values, inv = np.unique(ae, return_inverse=True)
    m, r = values.size, w.shape[0]
    flat = (np.arange(r)[:, None] * m + inv[None, :]).ravel()
    weights = np.bincount(flat, w.ravel(), r * m).reshape(r, m).astype(np.float64)
    return RegressionStats(total=w.sum(axis=1), sum_err=w @ e, sum_abs=w @ ae,
                           sum_sq=w @ (e * e), sum_ape=w @ ape, sum_y=w @ yc,
                           sum_y2=w @ (yc * yc), y_shift=shift,
                           abs_errors=ErrorStats(values, weights, int(y.size), False),
                           n_rows=int(y.size))


def _draws(metric: RealisedMetric, pred: FloatArray, y: FloatArray,
           rng: np.random.Generator, resamples: int) -> FloatArray:
    w = rng.multinomial(y.size, np.full(y.size, 1.0 / y.size), size=resamples).astype(
        np.float64)
    with np.errstate(all="ignore"):
        return np.asarray(metric.call(_batched(pred, y, w)), dtype=np.float64)


def _value(metric: RealisedMetric, pred: FloatArray, y: FloatArray) -> float | None:
    with np.errstate(all="ignore"):
        v = float(np.asarray(metric.call(regression_stats(y, pred))))
    return v if np.isfinite(v) else None


def reference_values(metrics: list[RealisedMetric], pred: FloatArray, y: FloatArray,
                     rng: np.random.Generator, resamples: int) -> dict[str, Reference]:
    """Each metric on the reference's rows, with its bootstrap standard error."""
    out = {}
    for mt in metrics:
        v = _value(mt, pred, y)
        d = _draws(mt, pred, y, rng, resamples)
        d = d[np.isfinite(d)]
        if v is not None and d.size >= 10:
            out[mt.id] = Reference(v, float(d.std(ddof=1)))
    return out


def _interval(d: FloatArray, level: float) -> tuple[float | None, float | None, float]:
    """The percentile interval and the draws' standard error (NaN without an interval)."""
    lo, hi = percentile_interval(d, level)
    fin = d[np.isfinite(d)]
    return lo, hi, float(fin.std(ddof=1)) if lo is not None else float("nan")


def realised_slice(pred: FloatArray, y: FloatArray, metric: RealisedMetric, *,
                   rng: np.random.Generator, resamples: int, level: float) -> Estimate:
    """The realised metric on a slice's labelled rows of a window, with its interval."""
    known = np.isfinite(y)
    if known.sum() < 2:
        return Estimate(metric.id, None, None, None)
    p, t = pred[known], y[known]
    lo, hi, _ = _interval(_draws(metric, p, t, rng, resamples), level)
    return Estimate(metric.id, None, lo, hi, _value(metric, p, t))


def realised_window(model: str, pred: FloatArray, y: FloatArray,
                    metrics: list[RealisedMetric], refs: dict[str, Reference], *,
                    rng: np.random.Generator, resamples: int, level: float, gate: float
                    ) -> tuple[Performance, list[Check]]:
    """One regression model in one window: each metric realised on the labelled rows
    (``y`` NaN where not arrived) with its interval, and one ``performance`` check per
    metric where at least :data:`MIN_LABELLED` rows are labelled."""
    from scipy import stats

    known = np.isfinite(y)
    n = int(known.sum())
    perf = Performance(model, None, [], labelled=n, estimator="realised", note=NO_ESTIMATE)
    checks: list[Check] = []
    p, t = pred[known], y[known]
    for mt in metrics:
        ref = refs.get(mt.id)
        if n < 2:
            perf.estimates.append(Estimate(mt.id, None, None, None,
                                           reference=ref.value if ref else None))
            continue
        value = _value(mt, p, t)
        lo, hi, se = _interval(_draws(mt, p, t, rng, resamples), level)
        perf.estimates.append(Estimate(mt.id, None, lo, hi, value,
                                       reference=ref.value if ref else None))
        if n < MIN_LABELLED or ref is None or value is None or lo is None or hi is None:
            continue
        # Oriented so that a positive change is a worsening.
        sign = -1.0 if mt.higher else 1.0
        scale = abs(ref.value) or 1.0
        change = sign * (value - ref.value) / scale
        nearer = hi if mt.higher else lo  # the interval's bound nearest to "better"
        bound_change = sign * (nearer - ref.value) / scale
        sd = float(np.hypot(se, ref.se))
        pv = float(stats.norm.sf(sign * (value - ref.value) / sd)) if sd > 0 else (
            0.0 if change > 0 else 1.0)
        met = bound_change >= gate
        checks.append(Check(
            "performance", model, "all", n, value, ref.value,
            effects={"change": change, "bound_change": bound_change},
            gates={"change": gate}, test="z (bootstrap standard errors)", p=pv,
            gate_met=met,
            reason=(f"{mt.id} realised {value:.4g} [{lo:.4g}, {hi:.4g}] on {n:,} labelled "
                    f"rows vs {ref.value:.4g} on the reference ({change:+.0%}; the "
                    f"interval's nearer bound {bound_change:+.0%}, gate {gate:.0%} worse)")
            if met else ""))
    return perf, checks
