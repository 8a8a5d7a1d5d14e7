"""Annotations, reference and model scores normalised into arrays for the human ladder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.baselines.annotations import as_text, clean_long, missing_column
from mlscope.errors import InputError, did_you_mean

__all__ = ["AnnotatedData", "BoolArray", "FloatArray", "IntArray", "prepare_annotations"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class AnnotatedData:
    """Labels as arrays, rows sorted by item."""

    task: str
    classes: tuple[str, ...]  # binary: (negative, positive); regression: ()
    items: list[str]
    annotators: list[str]
    row_item: IntArray
    row_ann: IntArray
    row_val: FloatArray  # class index (classification) or value (regression)
    n_labels: IntArray  # per item
    seg_start: IntArray  # per item: first row
    ref: FloatArray  # per item: class index or value; NaN where missing
    scorable: BoolArray  # per item: may be scored (reference where needed, every model)
    models: dict[str, FloatArray]  # per item: score (n,), proba (n, K) or prediction (n,)

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def classify(self) -> bool:
        return self.task != "regression"

    def counts(self, rows: IntArray | None = None) -> FloatArray:
        """Per item x class label counts over ``rows`` (all rows by default)."""
        it = self.row_item if rows is None else self.row_item[rows]
        code = (self.row_val if rows is None else self.row_val[rows]).astype(np.int64)
        n, k = len(self.items), self.k
        flat = np.bincount(it * k + code, minlength=n * k)
        return flat.reshape(n, k).astype(np.float64)


def _infer_binary_classes(labels: set[str], positive: str | None,
                          classes: Sequence[str] | None) -> tuple[str, str]:
    if classes is not None:
        cls = [as_text(c) for c in classes]
        if len(cls) != 2:
            raise InputError(f"a binary task has two classes; `classes` lists {len(cls)}: {cls}")
        if positive is None:
            return cls[0], cls[1]
        pos = as_text(positive)
        if pos not in cls:
            raise InputError(f"positive label {pos!r} is not one of the classes {cls}"
                             f"{did_you_mean(pos, cls)}")
        return next(c for c in cls if c != pos), pos
    if positive is None:
        for neg, pos in (("0", "1"), ("false", "true")):
            if labels <= {neg, pos}:
                return neg, pos
        raise InputError(
            f"binary labels {sorted(labels)[:6]} do not say which is positive; "
            "pass `positive=` the positive label"
        )
    pos = as_text(positive)
    others = sorted(labels - {pos})
    if len(others) > 1:
        hint = did_you_mean(pos, sorted(labels)) if pos not in labels else ""
        raise InputError(
            f"a binary task has two labels, but the annotations and reference hold "
            f"{len(others) + (pos in labels)}: {', '.join(sorted(labels)[:8])}{hint}. "
            "Fix: use task `multiclass`, or map the labels to two values"
        )
    return (others[0] if others else f"not {pos}"), pos


def _codes(texts: Sequence[str], classes: tuple[str, ...], where: str, column: str) -> FloatArray:
    lookup = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(texts), dtype=np.float64)
    for i, t in enumerate(texts):
        code = lookup.get(t)
        if code is None:
            raise InputError(
                f"{where}: column `{column}` has label {t!r}, which is not one of the classes "
                f"({', '.join(classes)}){did_you_mean(t, classes)}. Fix: correct the label "
                "or list it in `classes`"
            )
        out[i] = code
    return out


def _floats(values: Sequence[Any], where: str, column: str) -> FloatArray:
    try:
        out = np.asarray(pd.to_numeric(pd.Series(list(values), dtype=object)), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: column `{column}` must hold numbers for a regression "
                         f"task: {exc}") from None
    if not np.isfinite(out).all():
        raise InputError(f"{where}: column `{column}` holds a value that is not finite")
    return out


def prepare_annotations(
    annotations: pd.DataFrame,
    task: str,
    positive: str | None,
    classes: Sequence[str] | None,
    reference: pd.Series | None,
    reference_kind: str,
    models: Mapping[str, pd.Series | pd.DataFrame] | None,
    notes: list[str],
) -> AnnotatedData:
    """Check annotations, reference and models, and normalise them into arrays.

    Parameters
    ----------
    annotations
        Long frame with columns ``item``, ``annotator``, ``label``.
    task, positive, classes, reference, reference_kind, models
        As :func:`~mlscope.baselines.ladder.human_ladder` takes them.
    notes
        Appended with what was left out (unmatched reference items, items without scores).

    Returns
    -------
    AnnotatedData
        The labels as arrays, rows sorted by item.
    """
    have = [str(c) for c in annotations.columns]
    for col in ("item", "annotator", "label"):
        if col not in annotations.columns:
            raise missing_column(col, col, "the annotations", have,
                                  "use load_annotations() to build the long frame")
    long = clean_long(annotations[["item", "annotator", "label"]], "the annotations",
                       {"item": "item", "annotator": "annotator", "label": "label"})
    if long.empty:
        raise InputError("the annotations hold no labels")

    ref_map: dict[str, Any] = {}
    if reference is not None:
        if reference.index.has_duplicates:
            dup = reference.index[reference.index.duplicated()][0]
            raise InputError(f"the reference lists item {as_text(dup)!r} more than once")
        ref_map = {as_text(i): v for i, v in reference.items() if not pd.isna(v)}
    if reference_kind == "gold" and not ref_map:
        raise InputError("reference_kind `gold` needs a `reference` (item -> gold label)")

    label_text = [as_text(v) for v in long["label"]]
    if task == "regression":
        cls: tuple[str, ...] = ()
        values = _floats(list(long["label"]), "the annotations", "label")
        ref_values = {i: float(v) for i, v in zip(
            ref_map, _floats(list(ref_map.values()), "the reference", "reference"), strict=True)}
    else:
        ref_text = {i: as_text(v) for i, v in ref_map.items()}
        seen = set(label_text) | set(ref_text.values())
        if task == "binary":
            cls = _infer_binary_classes(seen, positive, classes)
        else:
            cls = tuple(as_text(c) for c in classes) if classes is not None else tuple(sorted(seen))
            if len(set(cls)) != len(cls):
                raise InputError(f"`classes` lists a class twice: {list(cls)}")
        values = _codes(label_text, cls, "the annotations", "label")
        ref_codes = _codes(list(ref_text.values()), cls, "the reference", "reference")
        ref_values = dict(zip(ref_text, ref_codes.tolist(), strict=True))

    items = sorted(set(long["item"]))
    annotators = sorted(set(long["annotator"]))
    item_ix = {s: i for i, s in enumerate(items)}
    ann_ix = {s: i for i, s in enumerate(annotators)}
    row_item = np.fromiter((item_ix[s] for s in long["item"]), np.int64, len(long))
    row_ann = np.fromiter((ann_ix[s] for s in long["annotator"]), np.int64, len(long))
    order = np.argsort(row_item, kind="stable")
    row_item, row_ann, values = row_item[order], row_ann[order], values[order]
    n_labels = np.bincount(row_item, minlength=len(items)).astype(np.int64)
    seg_start = (np.cumsum(n_labels) - n_labels).astype(np.int64)

    ref = np.full(len(items), np.nan)
    for s, v in ref_values.items():
        i = item_ix.get(s)
        if i is not None:
            ref[i] = v
    unmatched = len(set(ref_values) - set(item_ix))
    if unmatched:
        notes.append(f"{unmatched} reference item(s) have no annotations and are not used")
    scorable = np.isfinite(ref) if reference_kind == "gold" else np.ones(len(items), bool)
    if reference_kind == "gold":
        n_missing = int((~scorable).sum())
        if n_missing:
            notes.append(f"{n_missing} annotated item(s) have no gold label and are not scored "
                         "(they still count for agreement)")
    elif reference_kind == "from_annotators" and ref_map:
        # The dataset's reference tells which items are evaluated; its values are not used,
        # as they come from the same annotators.
        in_ref = np.isfinite(ref)
        if (~in_ref).any():
            notes.append(f"{int((~in_ref).sum())} annotated item(s) are not in the reference "
                         "and are not scored")
        scorable = in_ref

    model_arrays: dict[str, FloatArray] = {}
    for name, pred in (models or {}).items():
        arr = _model_array(name, pred, task, cls, items)
        has = np.isfinite(arr).all(axis=1) if arr.ndim == 2 else np.isfinite(arr)
        lost = int((scorable & ~has).sum())
        if lost:
            notes.append(f"model `{name}` has no score for {lost} annotated item(s); they are "
                         "left out of every rung so that humans and models share items")
        scorable = scorable & has
        model_arrays[name] = arr
    return AnnotatedData(task, cls, items, annotators, row_item, row_ann, values, n_labels,
                 seg_start, ref, scorable, model_arrays)


def _model_array(name: str, pred: pd.Series | pd.DataFrame, task: str,
                 classes: tuple[str, ...], items: list[str]) -> FloatArray:
    where = f"model `{name}`"
    if task == "multiclass":
        if not isinstance(pred, pd.DataFrame):
            raise InputError(f"{where}: a multiclass model needs a DataFrame item x class of "
                             "probabilities")
        cols = {as_text(c): c for c in pred.columns}
        missing = [c for c in classes if c not in cols]
        if missing:
            raise InputError(f"{where}: no probability column for class(es) "
                             f"{', '.join(missing)} (columns: {', '.join(cols)})")
        frame = pred[[cols[c] for c in classes]].astype(np.float64)
        frame.index = pd.Index([as_text(i) for i in frame.index])
        if frame.index.has_duplicates:
            raise InputError(f"{where}: an item appears more than once")
        return np.asarray(frame.reindex(items).to_numpy(), dtype=np.float64)
    if isinstance(pred, pd.DataFrame):
        raise InputError(f"{where}: a {task} model needs a Series item -> "
                         f"{'P(positive)' if task == 'binary' else 'prediction'}")
    series = pd.Series(np.asarray(pred, dtype=np.float64),
                       index=pd.Index([as_text(i) for i in pred.index]))
    if series.index.has_duplicates:
        raise InputError(f"{where}: an item appears more than once")
    return np.asarray(series.reindex(items).to_numpy(), dtype=np.float64)
