"""Baseline predictors: trivial rules, simple learned models and the user's own rule.

Every function here is pure: it takes training labels, feature columns or a rule and returns
predictions in the evaluation's conventions (``np.ndarray`` of float64), so a baseline is
then evaluated exactly like a candidate model.

- binary: P(positive class), shape ``(n,)``, in [0, 1]; labels arrive as 0/1 (1 = positive);
- multiclass: probabilities, shape ``(n, K)``, columns in the order of ``classes``, rows
  summing to 1; labels arrive as strings in ``classes``;
- regression: predictions, shape ``(n,)``; labels arrive as floats.

Training rows without a label (NaN or None) are left out before anything is learned.
scikit-learn is needed only by :func:`fit_learned` and :func:`leak_warnings`, and is imported
when they are called.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import itertools
import math
import sys
import time
import traceback
import types
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api import types as pdt

from mlscope.errors import InputError, did_you_mean
from mlscope.paths import project_file
from mlscope.plugins import UserCodeError, user_code

__all__ = [
    "LEAK_MAX_ROWS",
    "LEARNED_KINDS",
    "TRIVIAL_KINDS",
    "FitRecord",
    "RuleError",
    "fit_learned",
    "leak_warnings",
    "run_rule",
    "trivial_predictions",
]

FloatArray = npt.NDArray[np.float64]

TRIVIAL_KINDS = ("prior", "majority", "stratified", "mean", "median")
LEARNED_KINDS = ("logistic", "linear", "gbdt")
_TASKS = ("binary", "multiclass", "regression")

# The leak check looks at a seeded subsample above this many training rows: a figure of
# 0.99 is already stable to the third decimal on far fewer rows, and 1M rows stay fast.
LEAK_MAX_ROWS = 200_000
_LEAK_LEVEL = 0.99
# A feature whose values differ from its most common value on fewer rows than this says
# too little to be judged (and cannot separate anything anyway).
_LEAK_MIN_VARYING = 10
_LEAK_MIN_ROWS = 20

_RULE_IDS = itertools.count()
_SKLEARN_HINT = 'learned baselines need scikit-learn: pip install "mlscope[sklearn]"'


class RuleError(UserCodeError):
    """The user's rule raised (or exited); the message carries the rule's own traceback."""


@dataclass
class FitRecord:
    """What fitting a learned baseline did, as plain data (JSON-ready).

    Attributes
    ----------
    kind
        ``logistic``, ``linear`` or ``gbdt``.
    estimator
        The scikit-learn class fitted, e.g. ``"LogisticRegression"``.
    features
        The feature columns, in the order given.
    n_features_encoded
        Columns the estimator saw after encoding (one-hot columns counted one by one).
    n_train
        Labelled training rows fitted on.
    seconds
        Wall time of the fit (not of the predictions).
    seed
        The seed given to the estimator.
    params
        The estimator parameters mlscope set: its own defaults, then the user's ``params``.
    warnings
        Warnings raised while fitting and predicting (e.g. no convergence), one line each.
    """

    kind: str
    estimator: str
    features: list[str]
    n_features_encoded: int
    n_train: int
    seconds: float
    seed: int
    params: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The record as a dict of plain values."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------
# Shared checks


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _preview(names: Sequence[str], k: int = 12) -> str:
    shown = ", ".join(names[:k])
    return shown + (f", … ({len(names)} in all)" if len(names) > k else "")


def _check_task(task: str, where: str) -> str:
    if task not in _TASKS:
        raise InputError(f"{_prefix(where)}baselines predict for a binary, multiclass or "
                         f"regression task, not `{task}`")
    return task


def _check_kind(kind: str, kinds: Sequence[str], where: str, family: str) -> str:
    if kind not in kinds:
        raise InputError(f"{_prefix(where)}`{kind}` is not a {family} baseline (kinds: "
                         f"{', '.join(kinds)}){did_you_mean(kind, kinds)}")
    return kind


def _missing(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    return np.asarray(pd.isna(values), dtype=bool).reshape(len(values))


def _labels(
    y_train: Any, *, task: str, classes: Sequence[str] | None, where: str,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_], list[str]]:
    """Validate training labels; return (labelled values, which rows are labelled, classes).

    Binary labels come back as int64 0/1, multiclass as integer class indices into
    ``classes`` (inferred as the sorted labels when not given), regression as float64.
    """
    p = _prefix(where)
    y = np.asarray(y_train)
    if y.ndim != 1:
        raise InputError(f"{p}the training labels must be one value per row, got shape {y.shape}")
    keep = ~_missing(y)
    y = y[keep]
    if y.size == 0:
        raise InputError(
            f"{p}the training split has no rows with a label; a baseline learns from the "
            "training labels: add labelled training rows, or set `fit_on:` to a split "
            "that has them")
    if task == "regression":
        if not (pdt.is_numeric_dtype(y.dtype) or pdt.is_bool_dtype(y.dtype)):
            raise InputError(f"{p}regression labels must be numbers, got {y[0]!r}")
        yf = y.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(yf))
        if bad.size:
            raise InputError(f"{p}the training labels hold {yf[bad[0]]}; regression labels "
                             "must be finite numbers")
        return yf, keep, []
    if task == "binary":
        ok = np.isin(y, [0, 1]) if y.dtype.kind in "biuf" else np.zeros(y.size, dtype=bool)
        if not ok.all():
            bad_value = y[np.flatnonzero(~ok)[0]]
            raise InputError(f"{p}binary labels must be 0 or 1 (1 = the positive class), got "
                             f"{bad_value!r}")
        return y.astype(np.int64), keep, ["0", "1"]
    labels = pd.Series(y, dtype=object).astype("string")
    cls = sorted(labels.unique().tolist()) if classes is None else [str(c) for c in classes]
    codes = pd.Index(cls).get_indexer(pd.Index(labels)).astype(np.int64)
    unknown = np.flatnonzero(codes < 0)
    if unknown.size:
        v = str(labels.iloc[unknown[0]])
        raise InputError(f"{p}training label `{v}` is not one of the classes "
                         f"({_preview(cls)}){did_you_mean(v, cls)}")
    return codes, keep, cls


def _check_features(
    features: Sequence[str], frames: Sequence[tuple[str, pd.DataFrame]], where: str,
) -> list[str]:
    p = _prefix(where)
    feats = [features] if isinstance(features, str) else list(features)
    if not feats:
        raise InputError(f"{p}a learned baseline needs features: list the columns it may use "
                         "under `features:`")
    seen: set[str] = set()
    for c in feats:
        if c in seen:
            raise InputError(f"{p}feature `{c}` is listed twice under `features:`; list each "
                             "column once")
        seen.add(c)
    for source, frame in frames:
        cols = [str(c) for c in frame.columns]
        for c in feats:
            if c not in frame.columns:
                raise InputError(
                    f"{p}feature column `{c}` is not in {source}{did_you_mean(c, cols)} "
                    f"(columns: {_preview(cols)}); fix the name under `features:`")
    return feats


def _is_temporal(dtype: Any) -> bool:
    return bool(pdt.is_datetime64_any_dtype(dtype) or pdt.is_timedelta64_dtype(dtype)
                or isinstance(dtype, pd.PeriodDtype))


def _is_categorical(dtype: Any) -> bool:
    # bool is a category here, not a number: one-hot for logistic, a category for gbdt.
    return bool(pdt.is_bool_dtype(dtype) or not pdt.is_numeric_dtype(dtype))


# --------------------------------------------------------------------------------------
# Trivial baselines


def trivial_predictions(
    kind: str,
    *,
    task: str,
    y_train: Any,
    n: int,
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> FloatArray:
    """Predictions of a baseline that looks only at the training labels.

    Parameters
    ----------
    kind
        ``prior``: the training positive rate (binary), class frequencies on every row
        (multiclass) or the training mean (regression). ``majority``: the most frequent
        training class with probability 1 (classification only; a tie goes to the class
        listed first, for binary the negative class 0). ``stratified``: a class drawn per
        row with the training frequencies, as a hard 0/1 (one-hot) prediction; regression:
        a training output drawn per row. ``mean``, ``median``: of the training outputs
        (regression only).
    task
        ``binary``, ``multiclass`` or ``regression``.
    y_train
        Training labels (0/1, class strings or floats); missing labels are left out.
    n
        Number of rows to predict.
    classes
        Multiclass: the class order of the output columns (default: the sorted labels).
    seed
        Seeds ``np.random.default_rng`` for ``stratified``.

    Returns
    -------
    np.ndarray
        float64, shape ``(n,)``, or ``(n, K)`` for multiclass.

    Raises
    ------
    InputError
        An unknown kind, a kind that does not fit the task, no labelled training rows.
    """
    _check_kind(kind, TRIVIAL_KINDS, "", "trivial")
    _check_task(task, "")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    y, _, cls = _labels(y_train, task=task, classes=classes, where="")
    rng = np.random.default_rng(seed)
    if task == "regression":
        if kind == "majority":
            raise InputError("`majority` is a classification baseline; for regression use "
                             "`mean` or `median` (`prior` is the training mean)")
        if kind in ("prior", "mean"):
            return np.full(n, float(np.mean(y)))
        if kind == "median":
            return np.full(n, float(np.median(y)))
        return np.asarray(rng.choice(y, size=n, replace=True), dtype=np.float64)
    if kind in ("mean", "median"):
        raise InputError(f"`{kind}` is a regression baseline; for classification use `prior` "
                         "(the training class frequencies) or `majority`")
    counts = np.bincount(y, minlength=len(cls)).astype(np.float64)
    freq = counts / counts.sum()
    if kind == "prior":
        if task == "binary":
            return np.full(n, freq[1])
        return np.tile(freq, (n, 1))
    if kind == "majority":
        top = int(np.argmax(counts))  # argmax keeps the first of tied maxima
        if task == "binary":
            return np.full(n, float(top))
        return np.tile(np.eye(len(cls))[top], (n, 1))
    draws = rng.choice(len(cls), size=n, p=freq)
    if task == "binary":
        return draws.astype(np.float64)
    return np.eye(len(cls))[draws]


# --------------------------------------------------------------------------------------
# Learned baselines


def _require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError(_SKLEARN_HINT) from None


def _design(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], *, source: str,
    where: str,
) -> pd.DataFrame:
    """The feature columns as float64 (numeric) and object strings with NaN (categorical)."""
    p = _prefix(where)
    cols: dict[str, pd.Series[Any]] = {}
    index = pd.RangeIndex(len(frame))
    for c in numeric:
        s = frame[c]
        if _is_temporal(s.dtype) or _is_categorical(s.dtype):
            conv = pd.to_numeric(s.astype(object), errors="coerce")
            bad = np.flatnonzero(conv.isna().to_numpy() & s.notna().to_numpy())
            if bad.size:
                raise InputError(
                    f"{p}feature `{c}` is numeric in the training split but holds "
                    f"{s.iloc[bad[0]]!r} in {source}; make the column numeric everywhere")
            s = conv
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.flatnonzero(np.isinf(values))
        if inf.size:
            raise InputError(
                f"{p}feature `{c}` holds {values[inf[0]]} at row {frame.index[inf[0]]!r} of "
                f"{source}; replace infinite values (by a large number or a missing value)")
        cols[c] = pd.Series(values, index=index, dtype=np.float64)
    for c in categorical:
        text = frame[c].astype("string").to_numpy(dtype=object, na_value=np.nan)
        cols[c] = pd.Series(text, index=index, dtype=object)
    return pd.DataFrame(cols, index=index, columns=[*numeric, *categorical])


def _estimator(
    kind: str, task: str, params: Mapping[str, Any], seed: int, where: str,
) -> tuple[Any, dict[str, Any]]:
    """The unfitted estimator and the parameters mlscope gave it."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    p = _prefix(where)
    defaults: dict[str, Any]
    if kind == "logistic":
        # 1000 iterations: the default 100 often stops short on unscaled one-hot data.
        cls, defaults = LogisticRegression, {"max_iter": 1000, "random_state": seed}
    elif kind == "linear":
        # `alpha` asks for shrinkage, which ordinary least squares does not have: Ridge.
        cls, defaults = (Ridge, {"random_state": seed}) if "alpha" in params else (
            LinearRegression, {})
    elif task == "regression":
        cls, defaults = HistGradientBoostingRegressor, {"random_state": seed}
    else:
        cls, defaults = HistGradientBoostingClassifier, {"random_state": seed}
    valid = sorted(cls().get_params())
    for name in params:
        if name == "random_state":
            raise InputError(f"{p}set the baseline's `seed:` instead of `random_state` under "
                             "`params:`")
        if name == "categorical_features":
            raise InputError(f"{p}`categorical_features` is set by mlscope from the column "
                             "types (numbers vs text, category or bool); remove it from "
                             "`params:`")
        if name not in valid:
            hint = " (`alpha` switches `linear` to Ridge)" if kind == "linear" else ""
            raise InputError(
                f"{p}`{name}` is not a parameter of {cls.__name__}{hint} (valid: "
                f"{', '.join(valid)}){did_you_mean(name, valid)}")
    chosen = {**defaults, **dict(params)}
    return cls(**chosen), chosen


def _preprocessor(kind: str, numeric: list[str], categorical: list[str],
                  chosen: Mapping[str, Any]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    parts: list[tuple[str, Any, list[str]]] = []
    if kind in ("logistic", "linear"):
        if numeric:
            parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                                   StandardScaler()), numeric))
        if categorical:
            parts.append(("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore")), categorical))
    else:
        if numeric:
            parts.append(("numeric", "passthrough", numeric))  # NaN is handled natively
        if categorical:
            # Unseen and missing categories both become NaN, which gradient boosting treats
            # as missing; rare categories beyond max_bins are pooled so that it accepts them.
            max_bins = int(chosen.get("max_bins", 255))
            parts.append(("categorical", OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=np.nan,
                encoded_missing_value=np.nan, max_categories=max_bins), categorical))
    return ColumnTransformer(parts, verbose_feature_names_out=False)


def _warning_line(w: warnings.WarningMessage, chosen: Mapping[str, Any], estimator: str) -> str:
    if w.category.__name__ == "ConvergenceWarning":
        return (f"{estimator} did not converge in {chosen.get('max_iter', '?')} iterations; "
                "its predictions may be a little off (raise `max_iter` under `params:`)")
    first = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
    return f"{w.category.__name__}: {first}"


def fit_learned(
    kind: str,
    *,
    task: str,
    train: pd.DataFrame,
    y_train: Any,
    X: pd.DataFrame,
    features: Sequence[str],
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    where: str = "",
    classes: Sequence[str] | None = None,
) -> tuple[FloatArray, FitRecord]:
    """Fit a simple scikit-learn model on the training rows and predict every row of ``X``.

    ``logistic`` (classification) and ``linear`` (regression) impute numeric features with
    the median and standardise them, impute categorical ones (object, string, category or
    bool columns) with the most frequent value and one-hot encode them, ignoring categories
    unseen in training. ``linear`` is ordinary least squares, or Ridge when ``params`` has
    ``alpha``. ``gbdt`` is histogram gradient boosting with native missing values and
    categorical features (unseen or rare-beyond-``max_bins`` categories are treated as
    missing or pooled). Warnings raised while fitting (e.g. no convergence) are recorded in
    the :class:`FitRecord`, not shown.

    Parameters
    ----------
    kind
        ``logistic``, ``linear`` or ``gbdt``.
    task
        ``binary``, ``multiclass`` or ``regression``.
    train
        The training rows; must hold every feature column.
    y_train
        The training labels, aligned with ``train``; rows without a label are left out.
    X
        The rows to predict (every evaluation row); must hold every feature column.
    features
        The feature columns.
    seed
        ``random_state`` of the estimator.
    params
        Extra parameters of the estimator, e.g. ``{"C": 0.5}``; ``LogisticRegression`` gets
        ``max_iter=1000`` unless given.
    where
        Where the baseline is in the charter (e.g. ``baselines.simple``), for messages.
    classes
        Multiclass: the class order of the output columns (default: the sorted training
        labels). A class without training rows gets probability 0 and a recorded warning.

    Returns
    -------
    tuple of (np.ndarray, FitRecord)
        Predictions for every row of ``X`` in the module's conventions, and the record.

    Raises
    ------
    InputError
        An unknown kind or one that does not fit the task, no features, a missing or
        entirely empty feature column, no labelled training rows, fewer than two classes,
        an unknown parameter or a parameter value the estimator refuses.
    """
    p = _prefix(where)
    _check_kind(kind, LEARNED_KINDS, where, "learned")
    _check_task(task, where)
    if kind == "logistic" and task == "regression":
        raise InputError(f"{p}`logistic` is a classifier; for regression use `linear` or "
                         "`gbdt`")
    if kind == "linear" and task != "regression":
        raise InputError(f"{p}`linear` is for regression; for classification use `logistic` "
                         "or `gbdt`")
    feats = _check_features(features, [("the training split", train),
                                       ("the evaluation rows", X)], where)
    if len(np.asarray(y_train)) != len(train):
        raise ValueError(f"y_train has {len(np.asarray(y_train))} labels for {len(train)} "
                         "training rows")
    if len(train) == 0:
        raise InputError(f"{p}the training split is empty; a `{kind}` baseline learns from "
                         "training rows: add some, or set `fit_on:` to a split that has them")
    y, keep, cls = _labels(y_train, task=task, classes=classes, where=where)
    train = train.iloc[np.flatnonzero(keep)]
    if task != "regression":
        present = np.unique(y)
        if present.size < 2:
            raise InputError(
                f"{p}the training labels have a single class (`{cls[int(present[0])]}`, "
                f"{y.size} rows); a `{kind}` baseline needs at least two classes to learn "
                "from: add training rows of another class, or use the `prior` baseline")
    _require_sklearn()
    numeric: list[str] = []
    categorical: list[str] = []
    for c in feats:
        dtype = train[c].dtype
        if _is_temporal(dtype):
            raise InputError(f"{p}feature `{c}` holds dates or times ({dtype}); derive a "
                             "number from it (e.g. days since an event) or drop it from "
                             "`features:`")
        if train[c].isna().all():
            raise InputError(f"{p}feature `{c}` is missing on every training row ({len(train)} "
                             "rows); fill it in the data or drop it from `features:`")
        (categorical if _is_categorical(dtype) else numeric).append(c)
    x_train = _design(train, numeric, categorical, source="the training split", where=where)
    x_eval = _design(X, numeric, categorical, source="the evaluation rows", where=where)
    estimator, chosen = _estimator(kind, task, params or {}, seed, where)
    pre = _preprocessor(kind, numeric, categorical, chosen)
    if kind == "gbdt":
        estimator.set_params(categorical_features=(
            [False] * len(numeric) + [True] * len(categorical) if categorical else None))
    from sklearn.pipeline import Pipeline

    model = Pipeline([("encode", pre), ("model", estimator)])
    target: npt.NDArray[Any] = np.asarray(cls, dtype=object)[y] if task == "multiclass" else y
    name = type(estimator).__name__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            model.fit(x_train, target)
        except (ValueError, TypeError) as exc:
            if not params:
                raise
            detail = str(exc).strip().rstrip(".")
            raise InputError(f"{p}fitting {name} with params {dict(params)} failed: {detail}; "
                             "fix the values under `params:`") from None
        seconds = time.perf_counter() - t0
        if task == "regression":
            pred = np.asarray(model.predict(x_eval), dtype=np.float64)
        else:
            proba = np.asarray(model.predict_proba(x_eval), dtype=np.float64)
            fitted = [str(c) for c in model.classes_]
            if task == "binary":
                pred = np.clip(proba[:, fitted.index("1")], 0.0, 1.0)
            else:
                pred = np.zeros((len(x_eval), len(cls)))
                pred[:, [cls.index(c) for c in fitted]] = proba
    notes = list(dict.fromkeys(_warning_line(w, chosen, name) for w in caught))
    if task == "multiclass":
        absent = [c for c in cls if c not in fitted]
        if absent:
            notes.append(f"class(es) {', '.join(f'`{c}`' for c in absent)} have no training "
                         "rows; the baseline gives them probability 0")
    record = FitRecord(
        kind=kind, estimator=name, features=feats,
        n_features_encoded=len(model.named_steps["encode"].get_feature_names_out()),
        n_train=int(y.size), seconds=seconds, seed=seed, params=chosen, warnings=notes,
    )
    return pred, record


# --------------------------------------------------------------------------------------
# Leak check


def _auc(score: FloatArray, y01: npt.NDArray[np.int64]) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half)."""
    ranks = pd.Series(score).rank(method="average").to_numpy(dtype=np.float64)
    n1 = float(y01.sum())
    n0 = float(y01.size) - n1
    return float((ranks[y01 == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _out_of_fold_means(codes: npt.NDArray[np.int64], target: FloatArray,
                       fold: npt.NDArray[np.int64]) -> FloatArray:
    """Per-category means of ``target`` (1-D or one column per class), cross-fitted.

    Each half of the rows gets the means learned on the other half, so that an identifier
    column (one category per row) scores no better than chance instead of perfectly.
    """
    target2 = target.reshape(len(target), -1)
    out = np.empty_like(target2)
    k = int(codes.max()) + 1
    for f in (0, 1):
        fit, use = fold != f, fold == f
        counts = np.bincount(codes[fit], minlength=k).astype(np.float64)
        overall = target2[fit].mean(axis=0)
        means = np.tile(overall, (k, 1))
        seen = counts > 0
        for j in range(target2.shape[1]):
            sums = np.bincount(codes[fit], weights=target2[fit, j], minlength=k)
            means[seen, j] = sums[seen] / counts[seen]
        out[use] = means[codes[use]]
    return out.reshape(target.shape)


def _near_constant(values: npt.NDArray[Any]) -> bool:
    top = pd.Series(values).value_counts(dropna=False).iloc[0]
    return bool(len(values) - top < _LEAK_MIN_VARYING)


def _leak_figure(
    values: pd.Series[Any], y: npt.NDArray[Any], *, task: str, k: int,
    fold: npt.NDArray[np.int64], seed: int,
) -> tuple[str, float] | None:
    """(what was measured, figure) for one feature, or None when it cannot be judged."""
    if _is_temporal(values.dtype):
        return None
    categorical = _is_categorical(values.dtype)
    if categorical:
        # Missing is a value like any other here: missingness can leak the label too.
        codes = pd.factorize(values.astype("string"), use_na_sentinel=False)[0]
        x: npt.NDArray[Any] = codes.astype(np.int64)
        yy, ff = y, fold
    else:
        v = values.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(v)
        x, yy, ff = v[ok], y[ok], fold[ok]
    if x.size < _LEAK_MIN_ROWS or _near_constant(x) or np.unique(ff).size < 2:
        return None
    if task == "binary":
        if yy.min() == yy.max():
            return None
        if categorical:
            return "ROC AUC", _auc(_out_of_fold_means(x, yy.astype(np.float64), ff), yy)
        auc = _auc(x, yy)
        return "ROC AUC", max(auc, 1.0 - auc)
    if task == "regression":
        if categorical:
            fitted = _out_of_fold_means(x, yy, ff)
            sst = float(np.sum((yy - yy.mean()) ** 2))
            return ("R² of the per-category means",
                    1.0 - float(np.sum((yy - fitted) ** 2)) / sst) if sst > 0 else None
        if np.std(yy) == 0:
            return None
        pearson = abs(float(np.corrcoef(x, yy)[0, 1]))
        rx = pd.Series(x).rank().to_numpy(dtype=np.float64)
        ry = pd.Series(yy).rank().to_numpy(dtype=np.float64)
        spearman = abs(float(np.corrcoef(rx, ry)[0, 1]))
        if spearman >= pearson:
            return "|Spearman correlation|", spearman
        return "|Pearson correlation|", pearson
    # multiclass: held-out accuracy of a one-feature classifier
    if categorical:
        onehot = np.eye(k)[yy]
        guess = np.argmax(_out_of_fold_means(x, onehot, ff), axis=1)
    else:
        from sklearn.tree import DecisionTreeClassifier

        depth = max(3, math.ceil(math.log2(max(k, 2))) + 1)
        guess = np.empty(yy.size, dtype=np.int64)
        for f in (0, 1):
            tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=5,
                                          random_state=seed)
            tree.fit(x[ff != f].reshape(-1, 1), yy[ff != f])
            guess[ff == f] = tree.predict(x[ff == f].reshape(-1, 1))
    return "accuracy", float(np.mean(guess == yy))


def leak_warnings(
    train: pd.DataFrame,
    y_train: Any,
    features: Sequence[str],
    *,
    task: str,
    where: str = "",
    seed: int = 0,
    classes: Sequence[str] | None = None,
) -> list[str]:
    """Warn about features that predict the label almost perfectly on their own.

    Such a feature is usually a leak: the label, or something computed from it, slipped
    into the features. Each feature is scored alone on the training rows:

    - binary: ROC AUC of the raw value in either direction (numeric), or of the
      per-category positive rate (categorical);
    - multiclass: accuracy of the majority class per value (categorical) or of a
      depth-limited decision tree (numeric), on held-out halves; it must also remove at
      least 80% of the errors of always predicting the most frequent class;
    - regression: the larger of |Spearman| and |Pearson| correlation (numeric), or R² of the
      per-category means (categorical).

    A figure of 0.99 or more warns. Per-category figures are cross-fitted on two seeded
    halves, so an identifier column does not look like a leak. Features whose values
    differ from the most common one on fewer than 10 rows are ignored, as are numeric rows
    where the feature is missing. Above ``LEAK_MAX_ROWS`` (200,000) labelled training rows
    a seeded random subsample of that size is scored, which keeps 1M rows fast.

    Parameters
    ----------
    train
        The training rows.
    y_train
        Their labels (0/1, class strings or floats); unlabelled rows are left out.
    features
        The columns to check.
    task
        ``binary``, ``multiclass`` or ``regression``.
    where
        Where the baseline is in the charter, for error messages.
    seed
        Seeds the subsample and the halves.
    classes
        Multiclass: the classes (default: the sorted training labels).

    Returns
    -------
    list of str
        One line per suspicious feature, naming it and the figure; empty when none is.

    Raises
    ------
    InputError
        A missing feature column, no labelled training rows.
    """
    _check_task(task, where)
    feats = _check_features(features, [("the training split", train)], where)
    if len(np.asarray(y_train)) != len(train):
        raise ValueError(f"y_train has {len(np.asarray(y_train))} labels for {len(train)} "
                         "training rows")
    y, keep, cls = _labels(y_train, task=task, classes=classes, where=where)
    rows = np.flatnonzero(keep)
    rng = np.random.default_rng(seed)
    sample_note = ""
    if rows.size > LEAK_MAX_ROWS:
        pick = np.sort(rng.choice(rows.size, size=LEAK_MAX_ROWS, replace=False))
        rows, y = rows[pick], y[pick]
        sample_note = f", a random {LEAK_MAX_ROWS:,} of its {keep.sum():,} labelled rows"
    frame = train.iloc[rows]
    fold = rng.integers(0, 2, size=rows.size)
    out: list[str] = []
    majority = (float(np.bincount(y, minlength=len(cls)).max()) / y.size
                if task == "multiclass" else 0.0)
    for c in feats:
        found = _leak_figure(frame[c].reset_index(drop=True), y, task=task, k=len(cls),
                             fold=fold, seed=seed)
        if found is None or found[1] < _LEAK_LEVEL:
            continue
        what, figure = found
        tail = ("a likely leak of the label into the features; drop it from `features:` "
                "unless its value is known when the prediction is made")
        if task == "binary":
            out.append(f"feature `{c}` alone separates the classes ({what} {figure:.3f} on "
                       f"the training split{sample_note}): {tail}")
        elif task == "regression":
            out.append(f"feature `{c}` alone predicts the label ({what} {figure:.3f} on the "
                       f"training split{sample_note}): {tail}")
        elif (1.0 - figure) <= 0.2 * (1.0 - majority):
            out.append(f"feature `{c}` alone predicts the class (accuracy {figure:.3f} on "
                       f"held-out halves of the training split{sample_note}, against "
                       f"{majority:.3f} for always the most frequent class): {tail}")
    return out


# --------------------------------------------------------------------------------------
# The user's rule


@dataclass(frozen=True)
class _RuleTarget:
    path: Path
    function: str
    package: str | None  # the package the module sits in, for its relative imports
    is_package: bool
    search_dirs: tuple[Path, ...]


def _python_names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted({f.stem for f in folder.glob("*.py")}
                  | {d.name for d in folder.iterdir() if (d / "__init__.py").is_file()})


def _resolve_rule(ref: str, base_dir: Path, where: str) -> _RuleTarget:
    p = _prefix(where)
    module, sep, function = ref.rpartition(":")
    if not sep or not module or not function:
        raise InputError(f"{p}write the rule as `module:function` (or "
                         f"`path/to/file.py:function`), got {ref!r}")
    base = base_dir.resolve()
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = project_file(base, module, what=f"{p}the rule `{ref}`").resolve()
        if not path.is_file():
            files = [f.name for f in path.parent.glob("*.py")] if path.parent.is_dir() else []
            raise InputError(f"{p}the rule `{ref}`: file {path} not found (paths are "
                             f"relative to the charter's folder {base})"
                             f"{did_you_mean(path.name, files)}")
        dirs = tuple(dict.fromkeys([base, path.parent]))
        return _RuleTarget(path, function, None, False, dirs)
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        raise InputError(f"{p}the rule `{ref}`: `{module}` is not a module name; write "
                         "`module:function`, `package.module:function` or "
                         "`path/to/file.py:function`")
    as_file = base.joinpath(*parts[:-1], parts[-1] + ".py")
    as_package = base.joinpath(*parts, "__init__.py")
    package = ".".join(parts[:-1]) or None
    if as_file.is_file():
        return _RuleTarget(as_file, function, package, False, (base,))
    if as_package.is_file():
        return _RuleTarget(as_package, function, package, True, (base,))
    hint = did_you_mean(parts[-1], _python_names(as_file.parent))
    raise InputError(f"{p}the rule `{ref}`: module `{module}` not found (looked for {as_file} "
                     f"and {as_package}); put `{parts[-1]}.py` in the charter's folder{hint}")


def _from_user_dirs(name: str, module: types.ModuleType | None, dirs: Sequence[Path]) -> bool:
    """Whether ``module`` was imported from the project folder under its own name."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    want = tuple(name.split("."))
    for d in dirs:
        if not path.is_relative_to(d):
            continue
        rel = path.relative_to(d)
        if rel.with_suffix("").parts == want or (rel.name == "__init__.py"
                                                 and rel.parent.parts == want):
            return True
    return False


@contextmanager
def _user_import_scope(target: _RuleTarget, unique: str) -> Iterator[None]:
    """Let the user's module import its neighbours, then forget every module of theirs.

    Forgetting them means the next call re-reads the files, so an edited rule is picked up;
    modules from elsewhere imported on the way (pandas, ...) stay loaded as usual.
    """
    added = [str(d) for d in target.search_dirs if str(d) not in sys.path]
    sys.path[:0] = added
    before = set(sys.modules)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        for name in set(sys.modules) - before:
            if (name == unique or name.startswith(unique + ".")
                    or _from_user_dirs(name, sys.modules.get(name), target.search_dirs)):
                sys.modules.pop(name, None)


def _load_and_call(target: _RuleTarget, ref: str, frame: pd.DataFrame, where: str) -> Any:
    p = _prefix(where)
    unique = f"_mlscope_rule_{next(_RULE_IDS)}"
    name = f"{target.package}.{unique}" if target.package else unique
    spec = importlib.util.spec_from_file_location(
        name, target.path,
        submodule_search_locations=[str(target.path.parent)] if target.is_package else None)
    if spec is None:  # pragma: no cover - only for files Python cannot load at all
        raise InputError(f"{p}the rule `{ref}`: cannot load {target.path} as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        source = target.path.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}the rule `{ref}`: cannot read {target.path}: "
                         f"{exc.strerror}") from None
    with _user_import_scope(target, name):
        # Some code (dataclasses, pickle) looks its module up while it runs.
        sys.modules[name] = module
        try:
            # Compiled from the source each time rather than through the bytecode cache,
            # whose timestamps cannot tell two edits within a second apart.
            code = compile(source, str(target.path), "exec")
        except SyntaxError as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
            raise RuleError(f"{p}the rule `{ref}` cannot be imported: {target.path} has a "
                            f"syntax error\n{detail}") from None
        with user_code(f"{p}importing the rule `{ref}` ({target.path})", target.search_dirs,
                       RuleError):
            exec(code, module.__dict__)
        with user_code(f"{p}the rule `{ref}`", target.search_dirs, RuleError):
            # A module-level __getattr__ is the user's code too.
            fn = getattr(module, target.function, None)
        if fn is None:
            names = [k for k, v in vars(module).items()
                     if callable(v) and not k.startswith("_")
                     and getattr(v, "__module__", None) == name]
            raise InputError(
                f"{p}the rule `{ref}`: {target.path} has no function `{target.function}`"
                f"{did_you_mean(target.function, names)}"
                + (f" (functions: {_preview(sorted(names))})" if names else ""))
        if not callable(fn):
            raise InputError(f"{p}the rule `{ref}`: `{target.function}` in {target.path} is "
                             f"a {type(fn).__name__}, not a function")
        with user_code(f"{p}the rule `{ref}`", target.search_dirs, RuleError):
            # A shallow copy: the rule may add or drop columns without touching ours.
            return fn(frame.copy(deep=False))


def _row(frame: pd.DataFrame, i: int) -> str:
    return f"row {frame.index[i]!r} (position {i})"


def _as_float(values: Any) -> FloatArray | None:
    """The values as float64 (bools as 0/1), or None when some are not numbers."""
    if isinstance(values, pd.Series):
        if pdt.is_bool_dtype(values.dtype) or pdt.is_numeric_dtype(values.dtype):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values.to_numpy(dtype=object)
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    if arr.dtype.kind != "O":
        return None
    conv = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce")
    if (conv.isna().to_numpy() & ~_missing(arr)).any():
        return None
    return conv.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_finite(values: FloatArray, frame: pd.DataFrame, ref: str, p: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))
    if bad.size:
        shown = values[bad[0]]
        raise InputError(f"{p}the rule `{ref}` returned {shown} for {_row(frame, bad[0])}; "
                         "return a finite number for every row")


def _rule_probabilities(
    out: Any, frame: pd.DataFrame, classes: list[str], ref: str, p: str,
) -> FloatArray:
    """A multiclass rule's (n, K) output: a DataFrame with class columns or an array."""
    if isinstance(out, pd.DataFrame):
        cols = [str(c) for c in out.columns]
        missing = [c for c in classes if c not in cols]
        extra = [c for c in cols if c not in classes]
        if missing or extra:
            odd = extra[0] if extra else ""
            raise InputError(
                f"{p}the rule `{ref}` returned columns {_preview(cols)}; a table of "
                f"probabilities needs one column per class ({_preview(classes)})"
                + (f": `{odd}` is not a class{did_you_mean(odd, classes)}" if extra else
                   f": `{missing[0]}` is missing"))
        out = out.set_axis(cols, axis=1)[classes]
    values = _as_float(np.asarray(out))
    if values is None or values.ndim != 2 or values.shape[1] != len(classes):
        raise InputError(
            f"{p}the rule `{ref}` returned a table of shape {np.shape(out)}; for a multiclass "
            f"task return class labels (one of: {_preview(classes)}) or probabilities with "
            f"one column per class, in that order")
    _check_finite(values, frame, ref, p)
    bad = np.flatnonzero(((values < 0) | (values > 1)).any(axis=1)
                         | (np.abs(values.sum(axis=1) - 1.0) > 1e-6))
    if bad.size:
        raise InputError(f"{p}the rule `{ref}` returned {values[bad[0]].tolist()} for "
                         f"{_row(frame, bad[0])}; probabilities must lie in [0, 1] and sum "
                         "to 1 on every row (or return class labels)")
    return np.asarray(values / values.sum(axis=1, keepdims=True), dtype=np.float64)


def _normalise_rule_output(
    out: Any, frame: pd.DataFrame, *, task: str, classes: list[str], ref: str, where: str,
) -> FloatArray:
    p = _prefix(where)
    n = len(frame)
    if out is None or np.ndim(out) == 0:
        raise InputError(f"{p}the rule `{ref}` returned {out!r}; return one value per row "
                         f"(a Series, array or list of length {n})")
    if isinstance(out, pd.Series | pd.DataFrame) and not out.index.equals(frame.index) and (
            out.index.is_unique and frame.index.is_unique and len(out) == n
            and out.index.sort_values().equals(frame.index.sort_values())):
        out = out.reindex(frame.index)  # the rule reordered the rows: put them back
    if len(out) != n:
        raise InputError(f"{p}the rule `{ref}` returned {len(out)} values for {n} rows; "
                         "return one value per row, in the order of the rows it is given")
    if task == "multiclass" and (isinstance(out, pd.DataFrame) or np.ndim(out) == 2):
        return _rule_probabilities(out, frame, classes, ref, p)
    if isinstance(out, pd.DataFrame) or np.ndim(out) == 2:
        if np.shape(out)[1] != 1:
            raise InputError(f"{p}the rule `{ref}` returned a table of shape {np.shape(out)}; "
                             f"for a {task} task return one value per row")
        out = out.iloc[:, 0] if isinstance(out, pd.DataFrame) else np.asarray(out)[:, 0]
    if task == "multiclass":
        labels = pd.Series(np.asarray(out, dtype=object), dtype=object).astype("string")
        codes = pd.Index(classes).get_indexer(pd.Index(labels))
        bad = np.flatnonzero(codes < 0)
        if bad.size:
            v = labels.iloc[bad[0]]
            shown = "a missing value" if pd.isna(v) else f"`{v}`"
            raise InputError(
                f"{p}the rule `{ref}` returned {shown} for {_row(frame, bad[0])}, which is "
                f"not a class; return class labels (one of: {_preview(classes)}) or "
                "probabilities with one column per class"
                f"{'' if pd.isna(v) else did_you_mean(str(v), classes)}")
        return np.asarray(np.eye(len(classes))[codes], dtype=np.float64)
    values = _as_float(out)
    if values is None:
        sample = next(v for v in np.asarray(out, dtype=object) if _as_float([v]) is None)
        what = ("probabilities in [0, 1] or 0/1 labels (True/False works too)"
                if task == "binary" else "numbers")
        raise InputError(f"{p}the rule `{ref}` returned {sample!r}, which is not a number; "
                         f"for a {task} task return {what}")
    _check_finite(values, frame, ref, p)
    if task == "binary":
        bad = np.flatnonzero((values < 0) | (values > 1))
        if bad.size:
            raise InputError(f"{p}the rule `{ref}` returned {values[bad[0]]} for "
                             f"{_row(frame, bad[0])}; for a binary task return probabilities "
                             "in [0, 1] or 0/1 labels (True/False works too)")
    return values


def run_rule(
    ref: str,
    frame: pd.DataFrame,
    *,
    base_dir: Path,
    task: str,
    classes: Sequence[str] | None = None,
    where: str = "",
) -> FloatArray:
    """Run the user's heuristic once on every evaluation row and normalise its output.

    ``ref`` is ``module:function`` (``module.py`` in ``base_dir``), ``package.module:function``
    (a package in ``base_dir``) or ``path/to/file.py:function`` (relative to ``base_dir``).
    The file is read and run afresh on each call under a private module name, so an edited
    file is picked up and nothing of the user's stays in ``sys.modules`` (the modules it
    imports from ``base_dir`` are forgotten too). The function is called once as
    ``fn(frame)`` and returns one value per row: a Series (re-aligned to ``frame``'s index
    when it holds the same labels in another order), an array or a list.

    - binary: probabilities in [0, 1], or 0/1 or True/False labels (as 0.0/1.0);
    - multiclass: class labels (as one-hot rows), or an (n, K) array with columns in the
      order of ``classes``, or a DataFrame with one column per class; probability rows must
      sum to 1;
    - regression: numbers.

    Parameters
    ----------
    ref
        The function, e.g. ``"rules:predict"``.
    frame
        Every evaluation row, with the user's columns.
    base_dir
        The project folder (the charter's folder).
    task
        ``binary``, ``multiclass`` or ``regression``.
    classes
        Multiclass: the classes, in output column order (required there).
    where
        Where the baseline is in the charter, for messages.

    Returns
    -------
    np.ndarray
        float64, shape ``(n,)``, or ``(n, K)`` for multiclass.

    Raises
    ------
    RuleError
        The rule's module or function raised; the message names the exception and shows
        the traceback lines from the user's files only.
    InputError
        A module, file or function not found, not callable, the wrong number of values,
        NaN or infinite values (naming the first such row), values outside [0, 1] for a
        binary task, labels that are not classes.
    """
    _check_task(task, where)
    if task == "multiclass" and classes is None:
        raise ValueError("run_rule needs `classes` for a multiclass task")
    target = _resolve_rule(ref, base_dir, where)
    out = _load_and_call(target, ref, frame, where)
    return _normalise_rule_output(out, frame, task=task, classes=[str(c) for c in classes or []],
                                  ref=ref, where=where)
