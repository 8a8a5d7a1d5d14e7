"""Learned baselines (logistic, linear, gbdt): simple scikit-learn models fitted on the
feature columns, with a record of what the fit did."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.baselines.predictor_checks import (
    FloatArray,
    check_features,
    check_kind,
    check_labels,
    check_task,
    is_categorical,
    is_temporal,
    where_prefix,
)
from mlscope.errors import InputError, did_you_mean

__all__ = ["LEARNED_KINDS", "FitRecord", "fit_learned"]

LEARNED_KINDS = ("logistic", "linear", "gbdt")
_SKLEARN_HINT = 'learned baselines need scikit-learn: pip install "mlscope[sklearn]"'


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
    p = where_prefix(where)
    cols: dict[str, pd.Series[Any]] = {}
    index = pd.RangeIndex(len(frame))
    for c in numeric:
        s = frame[c]
        if is_temporal(s.dtype) or is_categorical(s.dtype):
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

    p = where_prefix(where)
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
    p = where_prefix(where)
    check_kind(kind, LEARNED_KINDS, where, "learned")
    check_task(task, where)
    if kind == "logistic" and task == "regression":
        raise InputError(f"{p}`logistic` is a classifier; for regression use `linear` or "
                         "`gbdt`")
    if kind == "linear" and task != "regression":
        raise InputError(f"{p}`linear` is for regression; for classification use `logistic` "
                         "or `gbdt`")
    feats = check_features(features, [("the training split", train),
                                       ("the evaluation rows", X)], where)
    if len(np.asarray(y_train)) != len(train):
        raise ValueError(f"y_train has {len(np.asarray(y_train))} labels for {len(train)} "
                         "training rows")
    if len(train) == 0:
        raise InputError(f"{p}the training split is empty; a `{kind}` baseline learns from "
                         "training rows: add some, or set `fit_on:` to a split that has them")
    y, keep, cls = check_labels(y_train, task=task, classes=classes, where=where)
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
        if is_temporal(dtype):
            raise InputError(f"{p}feature `{c}` holds dates or times ({dtype}); derive a "
                             "number from it (e.g. days since an event) or drop it from "
                             "`features:`")
        if train[c].isna().all():
            raise InputError(f"{p}feature `{c}` is missing on every training row ({len(train)} "
                             "rows); fill it in the data or drop it from `features:`")
        (categorical if is_categorical(dtype) else numeric).append(c)
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
