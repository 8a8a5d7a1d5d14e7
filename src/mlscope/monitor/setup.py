"""What a monitor run compares with: the charter's ``monitor:`` section resolved against the
reference (a split of the charter's data) and the production log.

Every mistake here is an :class:`~mlscope.errors.InputError` naming the key or the log's
column and the fix (``mlscope monitor`` exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlscope.charter.costs import cost_params
from mlscope.charter.monitor import MonitorSpec
from mlscope.charter.schema import Charter, LearnedBaseline
from mlscope.data.labels import is_positive_label
from mlscope.errors import InputError, did_you_mean
from mlscope.metrics.registry import MetricSpec, get_metric
from mlscope.metrics.spec import threshold_ref
from mlscope.metrics.stats import BinaryStats, binary_stats
from mlscope.monitor.checks import LABEL, pred_col, proba_col, score_col
from mlscope.monitor.performance import EstimatedMetric

__all__ = ["LABEL", "Setup", "check_log", "estimated_metrics", "load_reference", "resolve"]

# Metrics the monitor estimates for a binary model besides the charter's own.
_DEFAULT_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


@dataclass
class Setup:
    """The resolved section: models and their log columns, features, slices, reference."""

    spec: MonitorSpec
    models: dict[str, str]  # model -> its score column in the log
    reference_columns: dict[str, str]  # model -> its score column in the charter's data
    features: list[str]
    slices: list[str]
    reference_split: str
    # The model in shadow (``monitor.candidate``), also a key of ``models``; else None.
    candidate: str | None = None
    production: str | None = None
    # The charter's task, and for multiclass the classes in order and each model's
    # probability column per class (the same names in the log and the charter's data).
    task: str = "binary"
    classes: list[str] = field(default_factory=list)
    class_columns: dict[str, dict[str, str]] = field(default_factory=dict)


def _fix_key(key: str) -> str:
    return f"monitor.{key}"


def resolve(charter: Charter) -> Setup:
    """The ``monitor:`` section against the rest of the charter (no data read yet)."""
    spec = charter.monitor
    if spec is None:
        raise InputError("the charter has no `monitor:` section; add one naming at least the "
                         "log's time column and the model, e.g. `monitor: {timestamp: "
                         "served_at, model: <model>}` (docs/monitoring.md)")
    if charter.task == "multiclass":
        return _resolve_multiclass(charter, spec)
    if charter.task not in ("binary", "regression"):
        raise InputError(f"`mlscope monitor` watches binary, multiclass and regression "
                         f"models, and this charter's task is `{charter.task}`; remove the "
                         "`monitor:` section")
    wide = {m: c for m, c in (charter.data.models or {}).items() if isinstance(c, str)}
    if not wide:
        raise InputError("`mlscope monitor` reads the reference scores from `data.models` "
                         "(one score column per model in data.table); this charter names "
                         "none; give the models as `data.models: {<model>: <column>}`")
    if isinstance(spec.score, dict):
        named = dict(spec.score)
    else:
        model = spec.model or next(iter(wide))
        named = {model: spec.score or wide.get(model, "")}
    for m in named:
        if m not in wide:
            raise InputError(f"`{_fix_key('model')}: {m}` is not a model of data.models"
                             f"{did_you_mean(m, list(wide))} (models: {', '.join(wide)})")
    cand = spec.candidate
    if cand is not None:
        if cand.model not in wide:
            raise InputError(f"`{_fix_key('candidate')}: {cand.model}` is not a model of "
                             f"data.models{did_you_mean(cand.model, list(wide))} (models: "
                             f"{', '.join(wide)}); the shadow model needs its reference "
                             "scores in the charter's data to be compared")
        if cand.model in named:
            raise InputError(f"`{_fix_key('candidate')}: {cand.model}` is the model in "
                             "production itself; name the new model served in shadow")
        if not charter.gates:
            raise InputError(f"`{_fix_key('candidate')}: {cand.model}` is decided with the "
                             "charter's `gates:`, and the charter has none; add the gate the "
                             "candidate must pass, e.g. `gates: {roc_auc: {regress: 0.01}}` "
                             "(docs/comparisons.md#the-blessed-model-and-gates)")
        # Canary and blue-green: one model serves each row, so by default its score is in
        # the one score column of the log (production's); `candidate.score` may split it.
        named[cand.model] = cand.score or (wide[cand.model] if cand.mode == "shadow"
                                           else named[next(iter(named))])
        if charter.task != "binary":
            raise InputError(f"`{_fix_key('candidate')}` (a rollout gate: shadow, canary or "
                             f"blue-green) is for binary models, and this charter's task is "
                             f"`{charter.task}`; "
                             "remove `monitor.candidate` and monitor each model on its own "
                             "(`monitor.score: {<model>: <column>, ...}`)")
    features, split = _features(charter, spec), _split(charter, spec)
    return Setup(spec, named, {m: wide[m] for m in named}, features,
                 list(charter.slices.columns), split,
                 cand.model if cand is not None else None,
                 next(iter(named)) if cand is not None else None, task=charter.task)


def _features(charter: Charter, spec: MonitorSpec) -> list[str]:
    features = list(spec.features) if spec.features is not None else _default_features(charter)
    if not features:
        raise InputError("the monitor has no features to watch: the charter names no slice "
                         "columns and no baseline features; list them as "
                         "`monitor.features: [<column>, ...]`")
    return features


def _split(charter: Charter, spec: MonitorSpec) -> str:
    return spec.reference or charter.splits.report or charter.splits.selection


def _resolve_multiclass(charter: Charter, spec: MonitorSpec) -> Setup:
    """A multiclass model: its probability columns (``data.models: {model: {class:
    column}}``) carry the same names in the log."""
    wide = {m: {str(k): str(v) for k, v in c.items()}
            for m, c in (charter.data.models or {}).items() if isinstance(c, dict)}
    if not wide:
        raise InputError("`mlscope monitor` reads a multiclass model's reference "
                         "probabilities from `data.models` (`{<model>: {<class>: <column>, "
                         "...}}` in data.table); this charter names none")
    if isinstance(spec.score, str):
        raise InputError("`monitor.score` names one score column, and a multiclass model has "
                         "one probability column per class; remove `monitor.score`: the log's "
                         "probability columns carry the names of `data.models`")
    names = list(spec.score) if isinstance(spec.score, dict) else [
        spec.model or next(iter(wide))]
    for m in names:
        if m not in wide:
            raise InputError(f"`{_fix_key('model')}: {m}` is not a model of data.models"
                             f"{did_you_mean(m, list(wide))} (models: {', '.join(wide)})")
    if spec.candidate is not None:
        raise InputError(f"`{_fix_key('candidate')}` (a shadow rollout gate) is for binary "
                         "models, and this charter's task is `multiclass`; remove "
                         "`monitor.candidate`")
    classes = [str(c) for c in (charter.data.classes or list(wide[names[0]]))]
    return Setup(spec, {m: m for m in names}, {m: m for m in names},
                 _features(charter, spec), list(charter.slices.columns),
                 _split(charter, spec), task="multiclass", classes=classes,
                 class_columns={m: {c: wide[m][c] for c in classes} for m in names})


def _default_features(charter: Charter) -> list[str]:
    out = list(charter.slices.columns)
    for b in charter.baselines.values():
        if isinstance(b, LearnedBaseline):
            out.extend(f for f in b.features if not any(ch in f for ch in "*?["))
    return list(dict.fromkeys(out))


def load_reference(charter: Charter, base_dir: Path, setup: Setup) -> pd.DataFrame:
    """The reference split's rows: features, slices, each model's score and the label."""
    from mlscope.data.source import base_frame, open_evaluation

    t = open_evaluation(charter, base_dir)
    try:
        if setup.reference_split not in t.splits:
            raise InputError(f"`monitor.reference: {setup.reference_split}` is not a split of "
                             f"the data{did_you_mean(setup.reference_split, t.splits)} "
                             f"(splits: {', '.join(t.splits)}); name a split that holds "
                             "rows scored like production (default: splits.report)")
        cols = list(dict.fromkeys(setup.features + setup.slices + _model_columns(setup, True)))
        df = base_frame(t, cols, role="monitor (the reference)")
    finally:
        t.con.close()
    df = df[df["__split"].astype(str) == setup.reference_split].reset_index(drop=True)
    out = df[list(dict.fromkeys(setup.features + setup.slices))].copy()
    if setup.task == "multiclass":
        _add_probabilities(out, df, setup, setup.class_columns)
        out[LABEL] = _class_labels(df[LABEL], setup.classes, "the reference's label "
                                   "(data.label)")
        return out
    for m, c in setup.reference_columns.items():
        out[score_col(m)] = pd.to_numeric(df[c], errors="coerce").astype(np.float64)
    out[LABEL] = pd.to_numeric(df[LABEL], errors="coerce").astype(np.float64)
    return out


def _model_columns(setup: Setup, reference: bool) -> list[str]:
    if setup.task == "multiclass":
        return [c for cols in setup.class_columns.values() for c in cols.values()]
    return list((setup.reference_columns if reference else setup.models).values())


def _add_probabilities(out: pd.DataFrame, src: pd.DataFrame, setup: Setup,
                       columns: dict[str, dict[str, str]]) -> None:
    """Each class's probability, the top class's probability (the model's score for the
    output checks) and the predicted class (its index; NaN where a probability is
    missing)."""
    for m, cols in columns.items():
        probs = np.column_stack([pd.to_numeric(src[cols[c]], errors="coerce").to_numpy(
            np.float64) for c in setup.classes])
        for c, col in zip(setup.classes, probs.T, strict=True):
            out[proba_col(m, c)] = col
        ok = np.isfinite(probs).all(axis=1)
        safe = np.where(ok[:, None], probs, 0.0)
        out[score_col(m)] = np.where(ok, safe.max(axis=1), np.nan)
        out[pred_col(m)] = np.where(ok, safe.argmax(axis=1).astype(np.float64), np.nan)


def _class_labels(col: pd.Series, classes: list[str], what: str) -> pd.Series:
    """Class labels as their index in ``classes`` (float), NaN where not arrived."""
    known = col.notna()
    text = col[known].map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer()
                          else str(v))
    lookup = {c: float(i) for i, c in enumerate(classes)}
    bad = ~text.isin(list(lookup))
    if bad.any():
        raise InputError(f"{what} `{col.name}` holds `{text[bad].iloc[0]}`, which is not a "
                         f"class of the charter (classes: {', '.join(classes)}); log the "
                         "class as the charter names it (or add it to `data.classes`), "
                         "empty where not arrived yet")
    codes = text.map(lookup).reindex(col.index)
    return pd.Series(codes.to_numpy(np.float64), index=col.index)


def check_log(log: pd.DataFrame, setup: Setup, label_positive: Any) -> pd.DataFrame:
    """The log's columns renamed as the reference's, each named column checked present."""
    spec = setup.spec
    cols = [str(c) for c in log.columns]
    if not len(log):
        raise InputError("the log has no rows; pass a log with the rows scored in production")

    def need(c: str, key: str) -> None:
        if c not in cols:
            shown = ", ".join(cols[:12]) + (", …" if len(cols) > 12 else "")
            raise InputError(f"column `{c}` ({_fix_key(key)}) is not in the log"
                             f"{did_you_mean(c, cols)} (columns: {shown}); rename the column "
                             f"or set `{_fix_key(key)}` to the log's name for it")

    need(spec.timestamp, "timestamp")
    for c in setup.features:
        need(c, "features")
    for c in setup.slices:
        need(c, "features (a slice column of the charter)")
    if setup.task == "multiclass":
        for m, by_class in setup.class_columns.items():
            for cls, c in by_class.items():
                if c not in cols:
                    raise InputError(
                        f"column `{c}` (model `{m}`'s probability of class `{cls}`, named in "
                        f"data.models) is not in the log{did_you_mean(c, cols)}; log one "
                        "probability column per class, named as in `data.models`, for "
                        f"every class ({', '.join(setup.classes)})")
    else:
        for m, c in setup.models.items():
            need(c, "candidate.score" if m == setup.candidate else "score")
    for c in spec.feedback:
        need(c, "feedback")
    if spec.label is not None:
        need(spec.label, "label")
    if spec.candidate is not None and spec.candidate.arm is not None:
        need(spec.candidate.arm, "candidate.arm")
    out = log[list(dict.fromkeys([spec.timestamp, *setup.features, *setup.slices,
                                  *spec.feedback]))].copy()
    for m, c in setup.models.items():
        for col in setup.class_columns.get(m, {}).values() or [c]:
            s = pd.to_numeric(log[col], errors="coerce")
            if s.isna().sum() > log[col].isna().sum():
                raise InputError(f"column `{col}` (the score of `{m}`) holds values that "
                                 "are not numbers; log the model's score as a number "
                                 "(empty when it returned none)")
            _finite(s, f"column `{col}` (the score of `{m}`)", setup.task,
                    "log the model's score as a finite number (empty when it returned none)")
        if setup.task != "multiclass":
            out[score_col(m)] = pd.to_numeric(log[c], errors="coerce").astype(np.float64)
    if setup.task == "multiclass":
        for m, by_class in setup.class_columns.items():
            _check_probabilities(log, m, by_class)
        _add_probabilities(out, log, setup, setup.class_columns)
    if not spec.label:
        out[LABEL] = np.nan
    elif setup.task == "multiclass":
        out[LABEL] = _class_labels(log[spec.label], setup.classes,
                                   "label column (monitor.label)")
    elif setup.task == "regression":
        v = pd.to_numeric(log[spec.label], errors="coerce")
        if v.isna().sum() > log[spec.label].isna().sum():
            raise InputError(f"label column `{spec.label}` (monitor.label) holds values that "
                             "are not numbers; a regression's labels are numbers, empty "
                             "where not arrived yet")
        _finite(v, f"label column `{spec.label}` (monitor.label)", setup.task,
                "log the label as a finite number, empty where not arrived yet")
        out[LABEL] = v.astype(np.float64)
    else:
        out[LABEL] = _labels(log[spec.label], label_positive)
    if spec.candidate is not None and spec.candidate.arm is not None:
        from mlscope.monitor.arms import canary_arms

        canary_arms(out, log[spec.candidate.arm], setup)
    return out


# A regression value this large overflows float64 when squared (RMSE, the error's variance):
# the metric would silently become infinite, so such a value is refused as a logging error.
_HUGE = 1e150
# The tolerance of the charter's data check on the reference's rows (mlscope.data.checks).
_PROBA_TOL = 1e-6


def _finite(v: pd.Series, what: str, task: str, fix: str) -> None:
    """Refuse infinite values (and, for regression, values too large to square): they would
    turn a window's metrics into NaN or infinity without a word."""
    x = v.to_numpy(np.float64, na_value=np.nan)
    bad = np.isinf(x) | ((np.abs(np.nan_to_num(x)) >= _HUGE) if task == "regression" else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "infinite" if np.isinf(x[i]) else "too large to square in float64"
        raise InputError(f"{what} holds `{x[i]:g}` in row {i + 1} of the log ({kind}); {fix}")


def _check_probabilities(log: pd.DataFrame, m: str, by_class: dict[str, str]) -> None:
    """A multiclass row holds every class's probability in [0, 1], summing to 1, or none
    (the model returned no score): anything else is a logging error, not a score."""
    cols = list(by_class.values())
    probs = np.column_stack([pd.to_numeric(log[c], errors="coerce").to_numpy(
        np.float64, na_value=np.nan) for c in cols])
    where = f"model `{m}`'s probabilities ({', '.join(f'`{c}`' for c in cols)})"
    missing = np.isnan(probs)
    part = missing.any(axis=1) & ~missing.all(axis=1)
    if part.any():
        i = int(np.flatnonzero(part)[0])
        gone = ", ".join(f"`{c}`" for c, miss in zip(cols, missing[i], strict=True) if miss)
        raise InputError(f"{where}: row {i + 1} of the log has {gone} empty and the other "
                         "classes filled; log every class's probability, or none where the "
                         "model returned no score")
    rows = ~missing.any(axis=1)
    with np.errstate(invalid="ignore"):
        out = rows[:, None] & ((probs < 0) | (probs > 1) | np.isinf(probs))
    if out.any():
        i, k = (int(a[0]) for a in np.nonzero(out))
        raise InputError(f"{where}: column `{cols[k]}` holds `{probs[i, k]:g}` in row "
                         f"{i + 1} of the log, outside [0, 1]; log probabilities (a "
                         "softmax output), not raw scores or logits")
    total = np.where(rows, probs.sum(axis=1), 1.0)
    off = np.abs(total - 1.0) > _PROBA_TOL
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise InputError(f"{where}: row {i + 1} of the log sums to {total[i]:.6g}, not 1 "
                         f"({int(off.sum())} row(s) do not); log the model's normalised "
                         "class probabilities, every class of `data.classes` in its column")


def _labels(col: pd.Series, positive: Any) -> pd.Series:
    """Late labels as 1.0 / 0.0, NaN where not arrived."""
    if positive is not None:
        # The evaluation's rule (a label of 1.0 is `positive: 1`; yes/no under `positive:
        # yes`): text comparison read 1.0 as not 1, every labelled row a negative.
        known = col.notna()
        rule = {v: float(is_positive_label(positive, v)) for v in pd.unique(col[known])}
        return pd.Series(np.where(known, col.map(rule), np.nan), index=col.index,
                         dtype=np.float64)
    v = pd.to_numeric(col.map(lambda x: float(x) if isinstance(x, bool) else x),
                      errors="coerce")
    bad = col.notna() & ~v.isin([0.0, 1.0])
    if bad.any():
        raise InputError(f"label column `{col.name}` (monitor.label) holds "
                         f"`{col[bad].iloc[0]}`; labels are 0/1 (or name the positive "
                         "class in `data.positive`), empty where not arrived yet")
    return v.astype(np.float64)


def _stats(ref: pd.DataFrame, m: str, score_type: str) -> BinaryStats:
    keep = ref[[score_col(m), LABEL]].dropna()
    st = binary_stats(keep[LABEL].to_numpy(), keep[score_col(m)].to_numpy())
    return BinaryStats(st.scores, st.pos, st.neg, st.n_rows, score_type=score_type)


def threshold_of(charter: Charter, ref: pd.DataFrame, m: str) -> tuple[float, str]:
    """The model's operating threshold and where it comes from: ``monitor.threshold``,
    else that of the metric the selection rule optimizes when it has one (the policy the
    project chose: a cost-optimal `net_value`, say), else the first charter metric with a
    numeric ``threshold``, else the first operating-point metric's choice on the
    reference, else 0.5."""
    if charter.monitor is not None and charter.monitor.threshold is not None:
        return float(charter.monitor.threshold), "monitor.threshold"
    optimized = getattr(charter.selection, "optimize", None)
    entries = sorted(charter.metrics, key=lambda e: e.id != optimized)  # stable
    for e in entries:
        if e.metric is None or threshold_ref(e.params) is not None:
            continue  # another metric's threshold: that metric's entry chooses it
        spec = get_metric(e.metric)
        t = e.params.get("threshold")
        if isinstance(t, int | float) and not isinstance(t, bool):
            return float(t), f"metric `{e.id}`"
        if spec.is_operating_point(e.params):  # `precision_at_recall` by default too
            try:
                thr = choose_on_reference(charter, e.id, ref, m)
            except (InputError, ValueError, ZeroDivisionError):
                continue
            if np.isfinite(thr):
                return thr, f"metric `{e.id}`, chosen on the reference"
    return 0.5, "default 0.5"


def chosen_by(charter: Charter, mid: str) -> tuple[MetricSpec, dict[str, Any]]:
    """The metric (and its parameters, the charter's costs filled in) that chooses metric
    ``mid``'s threshold: ``mid`` itself, or the entry its ``threshold: <id>`` names (the
    charter's checks make sure that one chooses its own)."""
    entries = {e.id: e for e in charter.metrics}
    e = entries[mid]
    ref = threshold_ref(e.params)
    if ref is not None and ref in entries and entries[ref].metric is not None:
        e = entries[ref]
    assert e.metric is not None
    spec = get_metric(e.metric)
    given = cost_params(e.params, spec.params, charter.costs, spec.name, task="binary")
    return spec, spec.resolve_params(given, score_type=charter.data.score_type,
                                     task="binary")


def choose_on_reference(charter: Charter, mid: str, ref: pd.DataFrame, m: str) -> float:
    """Metric ``mid``'s operating threshold for model ``m``, chosen on the reference as the
    evaluation chose it on the selection split (its chooser, or the best threshold)."""
    from mlscope.metrics.binary import best_threshold

    spec, params = chosen_by(charter, mid)
    st = _stats(ref, m, charter.data.score_type)
    if spec.chooser is not None:
        return float(spec.chooser(st, **params))
    return float(best_threshold(spec.name, st, **params))


def estimated_metrics(charter: Charter, ref: pd.DataFrame, m: str, threshold: float
                      ) -> tuple[list[EstimatedMetric], list[str]]:
    """The metrics estimated for model ``m``: the charter's registry metrics that a
    binary confusion or ranking gives (operating points at their threshold chosen on the
    reference), then ROC AUC and accuracy, precision, recall and F1 at the threshold.
    Returns the metrics and a note for each charter metric left out."""
    out: list[EstimatedMetric] = []
    notes: list[str] = []
    seen: set[str] = set()
    score_type = charter.data.score_type

    def add(mid: str, name: str, params: dict[str, Any]) -> None:
        thr = params.get("threshold")
        out.append(EstimatedMetric(mid, partial(get_metric(name).fn, **params),
                                   float(thr) if isinstance(thr, int | float)
                                   and not isinstance(thr, bool) else None))
        seen.add(mid)

    for e in charter.metrics:
        if e.metric is None:
            notes.append(f"`{e.id}` is a custom metric: not estimated")
            continue
        spec = get_metric(e.metric)
        if spec.name in ("net_value", "expected_cost"):
            # Their costs come from the charter's `costs:` section, not the entry's params.
            notes.append(f"`{e.id}` is a cost metric: not estimated before labels yet")
            continue
        try:
            params = spec.resolve_params(e.params, score_type=score_type, task="binary")
        except InputError as exc:
            notes.append(f"`{e.id}` not estimated ({exc})")
            continue
        if any(k in params for k in ("tp", "fp", "fn", "tn", "matrix", "error")):
            notes.append(f"`{e.id}` needs costs or error columns: not estimated")
            continue
        if params.get("threshold") == "optimize" or spec.is_operating_point(params):
            try:
                # `threshold: <id>`: the threshold that entry chooses, by its own rule.
                thr = choose_on_reference(charter, e.id, ref, m)
            except (InputError, ValueError, ZeroDivisionError):
                notes.append(f"`{e.id}`: no threshold on the reference; not estimated")
                continue
            params = {**params, "threshold": thr}
        add(e.id, spec.name, params)
    for name in _DEFAULT_METRICS:
        mid = name if name == "roc_auc" else f"{name}@{threshold:g}"
        if mid not in seen and name not in seen:
            add(mid, name, {} if name == "roc_auc" else {"threshold": threshold})
    return out, notes
