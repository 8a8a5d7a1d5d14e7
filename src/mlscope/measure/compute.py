"""A metric's value from statistics: thresholds on the scores' scale, custom metrics on
rows, and intervals kept inside the metric's range."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from mlscope.engine.bounded import boundary_interval, clip
from mlscope.engine.exact import ExactSplit
from mlscope.engine.split import SplitStatistics
from mlscope.errors import InputError
from mlscope.measure.metric import Metric
from mlscope.metrics.links import probability, threshold_on_scores
from mlscope.metrics.stats import BinaryStats, Stats
from mlscope.plugins import UserCodeError, user_code

__all__ = [
    "choose_threshold",
    "compute",
    "in_range",
    "is_number",
    "safe_float",
    "threshold_edges",
    "threshold_note",
    "with_score_type",
]

FloatArray = npt.NDArray[np.float64]


def threshold_note(thr: float | None, score_type: str) -> str:
    """What a chosen threshold is, in words, for the result's threshold table."""
    if thr is None:
        return "no threshold meets the condition"
    if score_type == "logit":
        # Chosen thresholds are distinct scores, so logits; say what probability that is.
        p = float(probability(np.asarray([thr]), score_type)[0])
        return f"a logit (probability {p:.6g})"
    if score_type == "score":
        return "on the scale of the scores"
    return ""


def is_number(x: Any) -> TypeGuard[float]:
    """A real number (not a bool, not the string ``optimize``)."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def with_score_type(st: Stats | None, score_type: str) -> Stats | None:
    """Binary statistics labelled with the scale of their scores (a view: no copy)."""
    if isinstance(st, BinaryStats) and st.score_type != score_type:
        return dataclasses.replace(st, score_type=score_type)
    return st


def choose_threshold(met: Metric, st: Stats) -> float | None:
    """The operating threshold, on the scale of the scores (a logit for logits)."""
    assert met.spec is not None
    try:
        if met.spec.chooser is not None:
            thr = met.spec.chooser(st, **met.params)
        else:
            from mlscope.metrics.binary import best_threshold

            thr = best_threshold(met.spec.name, st, **met.params)
    except (ValueError, ZeroDivisionError):
        return None
    thr = float(thr)
    return thr if np.isfinite(thr) else None


def compute(
    met: Metric,
    ss: SplitStatistics,
    mi: int,
    skey: str,
    thresholds: Mapping[tuple[int, str], float | None],
    eng: ExactSplit | None,
    W: FloatArray | None,
    score_type: str = "probability",
    charter_scale: str = "probability",
) -> tuple[Any, str | None]:
    """A metric's value (array over the batch) and, for point estimates, why undefined.

    ``score_type`` is what model ``mi``'s binary scores are (``EvalTable.score_type_of``):
    the statistics carry it to the metrics, and a fixed threshold from the charter (a
    probability) is converted to the scores' scale. Chosen thresholds already are on it.
    ``charter_scale`` is the candidates' ``score_type``: with ``score``, a fixed threshold
    is on their scale, which a baseline's probabilities do not share.
    """
    if met.custom is not None:
        return _custom(met, eng, mi, skey, W), None
    if met.software is not None:
        # One figure per model from the profile: nothing to compute from rows.
        return np.nan, "a model-level figure from the profile, not computed from rows"
    spec = met.spec
    assert spec is not None
    params = dict(met.params)
    given: float | None = None  # a fixed threshold as the charter gives it
    if spec.is_operating_point(params):
        thr = thresholds.get((mi, met.id))
        if thr is None:
            return np.nan, "no operating threshold could be chosen on the selection split"
        params["threshold"] = thr
    elif is_number(params.get("threshold")):
        if charter_scale == "score" and score_type != "score":
            return np.nan, (
                f"the threshold {params['threshold']:g} is on the scale of the candidates' "
                "scores (`score_type: score`); this baseline predicts probabilities")
        given = params["threshold"]
        params["threshold"] = threshold_on_scores(given, score_type)
    if met.error_index is not None:
        st: Stats | None = ss.errors.get((met.error_index, mi, skey))
    else:
        st = with_score_type(ss.task.get((mi, skey)), score_type)
    if st is None:
        return np.nan, "no rows in this slice"
    why = spec.undefined(st, **params) if W is None else None
    if why is not None:
        if given is not None and params["threshold"] != given:
            # Reasons name the threshold the user wrote, not its logit.
            conv = params["threshold"]
            why = why.replace(f"threshold {conv:g}", f"threshold {given:g} (logit {conv:g})")
        return np.nan, why
    return spec.fn(st, **params), None


def _custom(met: Metric, eng: ExactSplit | None, mi: int, skey: str,
            W: FloatArray | None) -> Any:
    if eng is None:
        raise InputError(f"custom metric `{met.id}` needs the row data")
    rows = eng.rows
    mask = np.ones(rows.n, dtype=bool)
    for code, cells in eng.cells:
        for i, cell in enumerate(cells):
            if cell.key == skey:
                mask = code == i
    score = rows.proba[mi] if eng.t.task == "multiclass" else rows.scores[mi]
    if eng.t.task == "binary" and eng.t.score_type_of(mi) == "logit":
        # Custom metrics are documented to receive probabilities, as they did before
        # logits were kept raw; `score_type: score` hands them the scores as given.
        score = probability(score, "logit")
    weights = rows.w if W is None else W
    assert met.custom is not None

    def call(w: FloatArray) -> float:
        # A bootstrap replicate is handed to the function as the rows it drew (weight =
        # draw count x row weight): rows drawn zero times are left out, so the function
        # sees a sample, as it would from any resampling library, never zero weights.
        keep = mask & (w > 0) if W is not None else mask
        fn = met.custom
        assert fn is not None
        try:
            # float() inside the guard too: it may run the returned object's __float__.
            with user_code(fn.what, fn.dirs):
                return float(fn(rows.y[keep], score[keep], w[keep]))
        except UserCodeError as exc:
            where = ", on a bootstrap resample" if W is not None else ""
            raise exc.at(f" (slice {skey}{where})") from exc.__cause__

    if weights.ndim == 1:
        return np.asarray(call(weights))
    return np.asarray([call(w) for w in weights])


def in_range(ci: tuple[float, float], value: float, bounds: tuple[float | None, float | None],
              trials: float | None, level: float) -> tuple[float, float]:
    """A metric's bootstrap interval made to respect its range: when every replicate equals
    a value at an end of the range (a perfect slice), the exact Clopper–Pearson interval on
    the metric's trials replaces the point interval; any interval is then cut to the range
    (a bucket-bootstrap interval shifted onto the exact estimate may cross it)."""
    lo, hi = ci
    if lo == hi == value and trials is not None:
        exact = boundary_interval(value, trials, level, bounds)
        if exact is not None:
            lo, hi = exact
    return clip(lo, hi, bounds)


def threshold_edges(
    metrics: list[Metric], thresholds: Mapping[tuple[int, str], float | None], mi: int,
    score_type: str = "probability",
) -> set[float]:
    """Every threshold a metric of model ``mi`` is evaluated at (fixed or chosen), on the
    scale of its scores."""
    edges: set[float] = set()
    for met in metrics:
        fixed = met.params.get("threshold")
        # A threshold at ±inf (probability 0 or 1 on logits) is beyond every score: it
        # needs no edge to be exact.
        if is_number(fixed) and np.isfinite(edge := threshold_on_scores(fixed, score_type)):
            edges.add(edge)
        chosen = thresholds.get((mi, met.id))
        if chosen is not None:
            edges.add(float(chosen))
    return edges


def safe_float(x: Any) -> float | None:
    """A finite float, or None (never a silent NaN in the result)."""
    v = float(np.asarray(x))
    return v if np.isfinite(v) else None
