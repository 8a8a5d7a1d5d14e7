"""Hand-built, deterministic :class:`EvaluationResult` objects for renderer and API tests.

:func:`make_result` builds a realistic result without data or an engine: the point
estimates, intervals, slice sizes and undefined reasons are written down (or derived from
a seeded generator), and the selection is made by :func:`mlscope.select.select` on those
numbers, so that winners, dropped reasons and requirements always agree with the table.

The default is a binary insurance-campaign project (five candidate models, validation and
test splits, eight metrics, ten customer types × six age groups, a cross, and a ``where``
predicate) whose primary rule drops one model, whose alternatives pick other models, and
whose chosen model misses one requirement on the test split.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from mlscope.charter import Charter, charter_to_dict
from mlscope.result import (
    Difference,
    EvaluationResult,
    IntervalInfo,
    MetricInfo,
    MetricValue,
    ModelInfo,
    RequirementCheck,
    SliceInfo,
    ThresholdChoice,
)
from mlscope.select import select

__all__ = ["TASKS", "make_result"]

TaskName = Literal["binary", "multiclass", "regression"]
TASKS: tuple[TaskName, ...] = ("binary", "multiclass", "regression")
CROSS = " × "
CREATED_AT = "2025-03-14T09:26:53+00:00"

MODEL_NAMES = ["logistic", "gbdt", "random_forest", "knn", "naive_bayes"]


@dataclass
class _Metric:
    """A metric of the fake project: its info, base values per model, and noise scales."""

    info: MetricInfo
    base: list[float]  # validation value per default model
    half: float  # interval half-width × sqrt(n)
    spread: float  # slice-to-slice standard deviation
    shift: float = 0.0  # validation → test drift (signed, in the metric's units)
    degenerate: str | None = None  # undefined reason on the degenerate slice


@dataclass
class _TaskSpec:
    project: str
    description: str
    columns: tuple[str, str]
    level_names: tuple[list[str], list[str]]
    where: tuple[str, str]
    metrics: list[_Metric]
    selection: dict[str, Any]
    alternatives: list[dict[str, Any]]
    requirements: dict[str, str]
    report: dict[str, Any]
    rows: tuple[int, int]  # validation, test
    charter_metrics: list[Any] = field(default_factory=list)
    extra_undefined: dict[tuple[str, str, str], str] = field(default_factory=dict)
    thresholds: dict[tuple[str, str], float | None] = field(default_factory=dict)


def _info(mid: str, name: str, label: str, direction: Literal["higher", "lower"],
          description: str, *, params: dict[str, Any] | None = None,
          bounds: tuple[float | None, float | None] = (0.0, 1.0),
          operating_point: bool = False) -> MetricInfo:
    return MetricInfo(id=mid, name=name, label=label, direction=direction,
                      params=dict(params or {}), description=description, bounds=bounds,
                      operating_point=operating_point)


_NO_POS = "only one class present (0 positives)"


def _binary() -> _TaskSpec:
    m = [
        _Metric(_info("roc_auc", "roc_auc", "ROC AUC", "higher",
                      "area under the ROC curve: the chance that a random positive is "
                      "scored above a random negative"),
                [0.742, 0.731, 0.726, 0.704, 0.701], 2.2, 0.035, -0.007, _NO_POS),
        _Metric(_info("average_precision", "average_precision", "average precision", "higher",
                      "area under the precision-recall curve (step interpolation)"),
                [0.171, 0.186, 0.163, 0.142, 0.139], 1.6, 0.04, -0.006, _NO_POS),
        _Metric(_info("log_loss", "log_loss", "log loss", "lower",
                      "mean negative log-likelihood of the labels under the probabilities",
                      bounds=(0.0, None)),
                [0.2052, 0.2071, 0.2018, 0.2139, 0.4826], 0.6, 0.03, 0.003),
        _Metric(_info("brier", "brier", "Brier score", "lower",
                      "mean squared difference between probability and label"),
                [0.0534, 0.0538, 0.0529, 0.0547, 0.0921], 0.3, 0.01, 0.001),
        _Metric(_info("precision_at_recall", "precision_at_recall", "precision @recall≥0.65",
                      "higher",
                      "precision at the highest threshold (chosen on the selection split) "
                      "that reaches the recall target", params={"recall": 0.65},
                      operating_point=True),
                [0.118, 0.131, 0.109, 0.103, 0.097], 1.0, 0.03, -0.012,
                "recall is undefined (0 positives): the operating point cannot be applied"),
        _Metric(_info("recall_p10", "recall", "recall @0.1", "higher",
                      "share of positives scored at or above the threshold",
                      params={"threshold": 0.1}),
                [0.609, 0.586, 0.563, 0.517, 0.805], 3.0, 0.07, -0.02,
                "no positives in this slice: recall is undefined"),
        _Metric(_info("f1_best", "f1", "F1 @best", "higher",
                      "harmonic mean of precision and recall at the threshold that maximizes "
                      "it on the selection split", params={"threshold": "optimize"},
                      operating_point=True),
                [0.236, 0.251, 0.227, 0.204, 0.189], 1.6, 0.04, -0.01,
                "no positives in this slice: recall (and so F1) is undefined"),
        _Metric(_info("mailed_p10", "positive_rate", "positive rate @0.1", "lower",
                      "share of rows scored at or above the threshold",
                      params={"threshold": 0.1}),
                [0.262, 0.231, 0.248, 0.214, 0.604], 0.9, 0.06, 0.004),
    ]
    return _TaskSpec(
        project="caravan-campaign",
        description="Which propensity model picks the customers who receive a "
                    "caravan-insurance offer?",
        columns=("customer_type", "age_group"),
        level_names=(
            ["average family", "driven growers", "successful hedonists", "living well",
             "conservative families", "cruising seniors", "retired and religious",
             "family with grown ups", "farmers", "career loners"],
            ["20-30", "30-40", "40-50", "50-60", "60-70", "70-80"],
        ),
        where=("has_car_policy", "car_policies > 0"),
        metrics=m,
        selection={"rule": "satisficing", "optimize": "precision_at_recall",
                   "constraints": {"roc_auc": ">= 0.70", "log_loss": "<= 0.22"},
                   "tie_break": "average_precision"},
        alternatives=[
            {"rule": "satisficing", "optimize": "roc_auc"},
            {"rule": "weighted", "weights": {"average_precision": 1, "log_loss": 1,
                                             "brier": 1}, "scale": "rank"},
            {"rule": "pareto", "metrics": ["precision_at_recall", "roc_auc"]},
        ],
        requirements={"roc_auc": ">= 0.70", "precision_at_recall": ">= 0.10",
                      "recall_p10": ">= 0.60"},
        report={"title": "Caravan insurance campaign — which model chooses the mailing list?",
                "tradeoff": ["roc_auc", "precision_at_recall"], "slice_metric": "roc_auc"},
        rows=(1455, 1456),
        charter_metrics=[
            "roc_auc", "average_precision", "log_loss", "brier",
            {"id": "precision_at_recall", "metric": "precision_at_recall", "recall": 0.65},
            {"id": "recall_p10", "metric": "recall", "threshold": 0.1},
            {"id": "f1_best", "metric": "f1", "threshold": "optimize"},
            {"id": "mailed_p10", "metric": "positive_rate", "threshold": 0.1},
        ],
        extra_undefined={
            ("test", "naive_bayes", "f1_best"):
                "no predicted positives at the threshold chosen on validation (0.998): "
                "precision is undefined",
        },
        thresholds={("naive_bayes", "f1_best"): 0.998},
    )


def _multiclass() -> _TaskSpec:
    m = [
        _Metric(_info("accuracy", "accuracy", "accuracy", "higher",
                      "share of rows whose top class is the label"),
                [0.861, 0.874, 0.869, 0.842, 0.803], 0.9, 0.03, -0.006),
        _Metric(_info("macro_f1", "f1_macro", "F1 macro", "higher",
                      "unweighted mean of per-class F1 at the top class"),
                [0.702, 0.731, 0.718, 0.684, 0.655], 1.8, 0.05, -0.01,
                "class 'wetland' absent: its F1 is undefined"),
        _Metric(_info("balanced_accuracy", "balanced_accuracy", "balanced accuracy", "higher",
                      "mean per-class recall"),
                [0.688, 0.719, 0.703, 0.671, 0.694], 1.8, 0.05, -0.01,
                "class 'wetland' absent: its recall is undefined"),
        _Metric(_info("log_loss", "log_loss", "log loss", "lower",
                      "mean negative log-likelihood of the labels", bounds=(0.0, None)),
                [0.412, 0.388, 0.401, 0.533, 1.207], 3.0, 0.08, 0.01),
        _Metric(_info("brier", "brier", "Brier score", "lower",
                      "mean squared error of the probability vector"),
                [0.201, 0.187, 0.192, 0.231, 0.318], 1.2, 0.03, 0.004),
        _Metric(_info("roc_auc_ovr", "roc_auc_ovr", "ROC AUC one-vs-rest", "higher",
                      "mean one-vs-rest ROC AUC over classes"),
                [0.951, 0.962, 0.958, 0.930, 0.921], 0.6, 0.015, -0.003,
                "class 'wetland' absent: one-vs-rest AUC is undefined"),
    ]
    return _TaskSpec(
        project="land-cover",
        description="Which classifier labels satellite tiles for the land-cover map?",
        columns=("region", "season"),
        level_names=(
            ["alpine", "coastal", "plains", "forest", "urban", "river valley", "delta",
             "highland", "island", "desert"],
            ["winter", "spring", "summer", "autumn", "monsoon", "dry"],
        ),
        where=("cloudy", "cloud_cover > 0.3"),
        metrics=m,
        selection={"rule": "satisficing", "optimize": "macro_f1",
                   "constraints": {"log_loss": "<= 0.9"}},
        alternatives=[
            {"rule": "satisficing", "optimize": "balanced_accuracy"},
            {"rule": "weighted", "weights": {"accuracy": 1, "log_loss": 1}},
        ],
        requirements={"macro_f1": ">= 0.70", "accuracy": ">= 0.88"},
        report={"tradeoff": ["log_loss", "macro_f1"]},
        rows=(2400, 2400),
        charter_metrics=["accuracy", {"id": "macro_f1", "metric": "f1_macro"},
                         "balanced_accuracy", "log_loss", "brier", "roc_auc_ovr"],
    )


def _regression() -> _TaskSpec:
    unb: tuple[float | None, float | None] = (0.0, None)
    m = [
        _Metric(_info("rmse", "rmse", "RMSE", "lower", "root mean squared error", bounds=unb),
                [14.8, 12.9, 13.4, 16.2, 19.5], 260.0, 2.0, 0.4),
        _Metric(_info("mae", "mae", "MAE", "lower", "mean absolute error", bounds=unb),
                [10.3, 9.1, 8.8, 11.6, 14.2], 170.0, 1.4, 0.3),
        _Metric(_info("r2", "r2", "R²", "higher", "coefficient of determination",
                      bounds=(None, 1.0)),
                [0.612, 0.705, 0.684, 0.541, 0.337], 4.0, 0.06, -0.015,
                "the target is constant in this slice: R² is undefined"),
        _Metric(_info("median_ae", "median_ae", "median AE", "lower",
                      "median absolute error", bounds=unb),
                [7.9, 6.8, 6.1, 8.7, 11.0], 150.0, 1.1, 0.2),
        _Metric(_info("mape", "mape", "MAPE", "lower", "mean absolute percentage error",
                      bounds=unb),
                [0.182, 0.161, 0.158, 0.207, 0.268], 2.5, 0.03, 0.004),
    ]
    return _TaskSpec(
        project="delivery-eta",
        description="Which model predicts delivery time (minutes) for the courier app?",
        columns=("city", "weekday"),
        level_names=(
            ["berlin", "paris", "madrid", "rome", "lisbon", "vienna", "prague", "oslo",
             "dublin", "riga"],
            ["mon", "tue", "wed", "thu", "fri", "sat"],
        ),
        where=("long_distance", "distance_km > 10"),
        metrics=m,
        selection={"rule": "satisficing", "optimize": "mae",
                   "constraints": {"r2": ">= 0.6"}},
        alternatives=[{"rule": "satisficing", "optimize": "rmse"}],
        requirements={"mae": "<= 9.5", "r2": ">= 0.70"},
        report={"tradeoff": ["rmse", "mae"], "slice_metric": "mae"},
        rows=(3000, 3000),
        charter_metrics=["rmse", "mae", "r2", "median_ae", "mape"],
    )


_SPECS = {"binary": _binary, "multiclass": _multiclass, "regression": _regression}


def _model_names(n: int) -> list[str]:
    return [*MODEL_NAMES[:n], *(f"model_{i + 1}" for i in range(len(MODEL_NAMES), n))]


def _base_values(metric: _Metric, n_models: int, rng: random.Random) -> list[float]:
    """The validation value per model: the written ones, then plausible extra models."""
    out = list(metric.base[:n_models])
    mean = sum(metric.base) / len(metric.base)
    sd = (max(metric.base) - min(metric.base)) / 3 or metric.spread
    while len(out) < n_models:
        out.append(_clip(mean + rng.gauss(0.0, sd), metric.info.bounds))
    return out


def _clip(x: float, bounds: tuple[float | None, float | None]) -> float:
    lo, hi = bounds
    if lo is not None:
        x = max(lo, x)
    if hi is not None:
        x = min(hi, x)
    return x


def _level_names(names: list[str], n: int, column: str) -> list[str]:
    return [*names[:n], *(f"{column}_{i + 1}" for i in range(len(names), n))]


def _shares(n: int, ordinal: bool) -> list[float]:
    """Level shares: a skewed catalogue (largest first) or an ordinal bell."""
    if n == 1:
        return [1.0]
    if ordinal:
        mid = (n - 1) / 2
        raw = [math.exp(-(((i - mid) / (0.42 * n)) ** 2)) for i in range(n)]
        raw[-1] *= 0.35  # the oldest band is rare
    else:
        raw = [1.0 / (i + 1) ** 0.8 for i in range(n)]
        raw[-1] = 0.05 * raw[0]  # one rare level: too small on every split
    total = sum(raw)
    return [r / total for r in raw]


def _round(x: float, metric: _Metric) -> float:
    lo, hi = metric.info.bounds
    scale = 1.0 if (lo is not None and hi is not None) else max(1.0, abs(x))
    digits = 4 if scale <= 1.0 else 2
    return round(x, digits)


def make_result(
    *,
    task: TaskName = "binary",
    n_models: int = 5,
    levels: tuple[int, int] = (10, 6),
    min_size: int = 30,
    report_split: bool = True,
    intervals: bool = True,
    selection: dict[str, Any] | None = None,
    alternatives: list[dict[str, Any]] | None = None,
    requirements: dict[str, str] | None = None,
    report: dict[str, Any] | None = None,
    seed: int = 42,
) -> EvaluationResult:
    """A realistic, deterministic evaluation result, built without data.

    Parameters
    ----------
    task
        ``binary`` (default: an insurance-campaign project), ``multiclass`` (land cover)
        or ``regression`` (delivery times).
    n_models
        Number of candidate models; the first five are ``logistic, gbdt, random_forest,
        knn, naive_bayes`` with written-down numbers, further ones are generated.
    levels
        Number of levels of the two slice columns (a catalogue and an ordinal column).
        The last level of the first column is too small on every split; with three or
        more levels the one before it is degenerate (e.g. no positives).
    min_size
        Slices smaller than this on a split have undefined metrics there.
    report_split
        Whether there is a report split (``test``); without it, requirements are checked
        on the selection split.
    intervals
        Whether bootstrap intervals were computed (``resamples: 0`` otherwise).
    selection, alternatives, requirements, report
        Charter sections overriding the task's defaults (as in the YAML).
    seed
        Seed of the generator that fills in slices and extra models.

    Returns
    -------
    EvaluationResult
        Values for every split × model × slice × metric, thresholds for operating-point
        metrics, paired differences to the winner (overall), the selection, requirement
        checks, warnings, status and exit code, consistent with each other.
    """
    if task not in _SPECS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if n_models < 1:
        raise ValueError("n_models must be at least 1")
    spec = _SPECS[task]()
    rng = random.Random(seed)
    models = _model_names(n_models)
    splits = ["validation", "test"] if report_split else ["validation"]
    sel_split, rep_split = "validation", ("test" if report_split else None)
    rows = dict(zip(["validation", "test"], spec.rows, strict=True))

    col_a, col_b = spec.columns
    names_a = _level_names(spec.level_names[0], levels[0], col_a)
    names_b = _level_names(spec.level_names[1], levels[1], col_b)
    where_name, where_pred = spec.where

    charter_dict: dict[str, Any] = {
        "project": spec.project,
        "task": task,
        "seed": seed,
        "description": spec.description,
        "data": {"table": "data/eval.parquet", "id": "row_id", "label": "label",
                 "split": "split", "models": {m: f"p_{m}" for m in models}},
        "splits": {"selection": sel_split, "report": rep_split, "train": None},
        "slices": {"columns": [col_a, col_b], "crosses": [[col_a, col_b]],
                   "where": {where_name: where_pred}, "min_size": min_size},
        "metrics": spec.charter_metrics,
        "selection": selection if selection is not None else spec.selection,
        "alternatives": alternatives if alternatives is not None else spec.alternatives,
        "requirements": requirements if requirements is not None else spec.requirements,
        "intervals": {"level": 0.95, "resamples": 1000 if intervals else 0},
        "planning": {"deployment": "batch"},
        "report": report if report is not None else spec.report,
    }
    charter = Charter.model_validate(charter_dict)

    # -- slices and their sizes ---------------------------------------------------------
    share_a, share_b = _shares(len(names_a), False), _shares(len(names_b), True)
    slices: list[SliceInfo] = [SliceInfo(
        key="overall", kind="overall", columns=[], values=[], definition="all rows",
        sizes={s: rows[s] for s in splits})]
    for col, names, shares in ((col_a, names_a, share_a), (col_b, names_b, share_b)):
        for name, share in zip(names, shares, strict=True):
            sizes = {s: max(1, round(rows[s] * share * (1 + 0.06 * rng.uniform(-1, 1))))
                     for s in splits}
            slices.append(SliceInfo(key=f"{col}={name}", kind="column", columns=[col],
                                    values=[name], definition=f"each value of {col}",
                                    sizes=sizes))
    if len(names_a) >= 2:  # pin the rare level, so that reports show "n=12 < 30"
        rare = next(s for s in slices if s.key == f"{col_a}={names_a[-1]}")
        rare.sizes = {s: min(max(1, min_size - 18 + i), rows[s] - 1)
                      for i, s in enumerate(splits)}
    for name_a, sa in zip(names_a, share_a, strict=True):
        for name_b, sb in zip(names_b, share_b, strict=True):
            sizes = {s: round(rows[s] * sa * sb * (1 + 0.25 * rng.uniform(-1, 1)))
                     for s in splits}
            if not any(sizes.values()):
                continue
            slices.append(SliceInfo(
                key=f"{col_a}={name_a}{CROSS}{col_b}={name_b}", kind="cross",
                columns=[col_a, col_b], values=[name_a, name_b],
                definition=f"{col_a}{CROSS}{col_b}", sizes=sizes))
    slices.append(SliceInfo(key=where_name, kind="where", columns=[where_name], values=[],
                            definition=where_pred,
                            sizes={s: round(rows[s] * 0.49) for s in splits}))
    degenerate = {f"{col_a}={names_a[-2]}"} if len(names_a) >= 3 else set()
    degenerate |= {s.key for s in slices if s.kind == "cross"
                   and f"{col_a}={names_a[-2]}" in s.key.split(CROSS)} if degenerate else set()

    # -- values --------------------------------------------------------------------------
    base = {mt.info.id: _base_values(mt, n_models, rng) for mt in spec.metrics}
    slice_effect = {(s.key, mt.info.id): rng.gauss(0.0, mt.spread) if s.kind != "overall"
                    else 0.0 for s in slices for mt in spec.metrics}
    values: list[MetricValue] = []
    index: dict[tuple[str, str, str, str], MetricValue] = {}
    for split in splits:
        for mi, model in enumerate(models):
            for sl in slices:
                n = sl.sizes.get(split, 0)
                for mt in spec.metrics:
                    mid = mt.info.id
                    mv = MetricValue(split=split, model=model, slice=sl.key, metric=mid,
                                     value=None, n_rows=n)
                    noise = rng.gauss(0.0, 0.35 * mt.spread)
                    extra = spec.extra_undefined.get((split, model, mid))
                    if n == 0:
                        mv.undefined = "no rows in this slice"
                    elif sl.kind != "overall" and n < min_size:
                        mv.undefined = f"slice too small (n={n} < min_size {min_size})"
                    elif sl.key in degenerate and mt.degenerate is not None:
                        mv.undefined = mt.degenerate
                    elif extra is not None:
                        mv.undefined = extra
                    else:
                        v = base[mid][mi] + (mt.shift if split == "test" else 0.0)
                        if split == "test":
                            v += rng.gauss(0.0, 0.12 * mt.spread)
                        if sl.kind != "overall":
                            v += slice_effect[(sl.key, mid)] + noise
                        v = _clip(v, mt.info.bounds)
                        mv.value = _round(v, mt)
                        if intervals:
                            h = mt.half / math.sqrt(n)
                            skew = rng.uniform(-0.25, 0.25)
                            mv.lower = _round(_clip(v - h * (1 + skew), mt.info.bounds), mt)
                            mv.upper = _round(_clip(v + h * (1 - skew), mt.info.bounds), mt)
                    values.append(mv)
                    index[(split, model, sl.key, mid)] = mv

    # -- operating thresholds -------------------------------------------------------------
    thresholds: list[ThresholdChoice] = []
    for mi, model in enumerate(models):
        for mt in spec.metrics:
            if not mt.info.operating_point:
                continue
            default = round(0.071 + 0.013 * mi + 0.029 * (len(thresholds) % 2), 3)
            thr = spec.thresholds.get((model, mt.info.id), default)
            thresholds.append(ThresholdChoice(
                model=model, metric=mt.info.id, threshold=thr, chosen_on=sel_split,
                note="" if thr is not None else "no threshold meets the condition"))

    # -- selection, differences, requirements ------------------------------------------
    infos = {mt.info.id: mt.info for mt in spec.metrics}
    table = {m: {mid: index[(sel_split, m, "overall", mid)].value for mid in infos}
             for m in models}
    sel = select(charter, table, infos, split=sel_split)
    winner = sel.primary.winner
    reference = winner or (sel.primary.ranking[0]["model"] if sel.primary.ranking else None)
    differences: list[Difference] = []
    if reference is not None:
        for split in [sel_split, *([rep_split] if rep_split else [])]:
            for model in models:
                if model == reference:
                    continue
                for mid in infos:
                    a = index[(split, model, "overall", mid)]
                    b = index[(split, reference, "overall", mid)]
                    if a.value is None or b.value is None:
                        continue
                    diff = round(a.value - b.value, 6)
                    d = Difference(split=split, slice="overall", metric=mid, model=model,
                                   reference=reference, value=diff)
                    if a.lower is not None and a.upper is not None and b.lower is not None \
                            and b.upper is not None:
                        h = 0.6 * max(a.upper - a.lower, b.upper - b.lower) / 2
                        d.lower, d.upper = round(diff - h, 6), round(diff + h, 6)
                    differences.append(d)

    req_split = rep_split or sel_split
    req_checks: list[RequirementCheck] = []
    if winner is not None:
        for mid, bound in charter.requirements.items():
            mv = index[(req_split, winner, "overall", mid)]
            met = mv.value is not None and bound.holds(mv.value)
            req_checks.append(RequirementCheck(
                metric=mid, bound=str(bound), split=req_split, model=winner, value=mv.value,
                lower=mv.lower, upper=mv.upper, met=bool(met),
                margin=None if mv.value is None else round(bound.margin(mv.value), 6)))
    status: Literal["requirements_met", "requirements_not_met", "no_decision"]
    if winner is None:
        status = "no_decision"
    elif all(r.met for r in req_checks):
        status = "requirements_met"
    else:
        status = "requirements_not_met"

    warnings = list(sel.warnings)
    small = {v.slice for v in values if v.undefined and v.undefined.startswith("slice too")}
    if small:
        warnings.append(f"{len(small)} slice(s) have fewer than {min_size} rows on some "
                        "split; their metrics are reported as undefined")
    if task == "binary" and n_models >= 5:
        warnings.append("naive_bayes: probabilities are poorly calibrated (log loss 0.483 "
                        "vs 0.226 for the base rate); thresholds chosen on them may not "
                        "carry over")

    return EvaluationResult(
        project=spec.project,
        task=task,
        seed=seed,
        created_at=CREATED_AT,
        mlscope_version="0.1.0",
        charter_path="examples/project/mlscope.yaml",
        charter=charter_to_dict(charter),
        data={"sources": [{"path": "data/eval.parquet", "bytes": 1_482_113,
                           "sha256_sampled": "3f9a1c07d2b84e65"}],
              "rows": sum(rows[s] for s in splits), "splits": list(splits),
              "rows_per_split": {s: rows[s] for s in splits}, "engine": "numpy"},
        interval=IntervalInfo(
            method="percentile", level=0.95, resamples=1000 if intervals else 0, seed=seed,
            note=("percentile bootstrap over rows of each split; the same resamples for every "
                  "model and slice (paired)") if intervals else ""),
        splits={"selection": sel_split, "report": rep_split, "train": None},
        models=[ModelInfo(name=m) for m in models],
        metrics=[mt.info for mt in spec.metrics],
        slices=slices,
        values=values,
        thresholds=thresholds,
        differences=differences,
        selection=sel,
        requirements=req_checks,
        warnings=warnings,
        status=status,
        exit_code=0 if status == "requirements_met" else 1,
        timings={"open": 0.012, "aggregate": 0.081, "metrics": 0.034, "bootstrap": 1.92,
                 "total": 2.07},
    )

