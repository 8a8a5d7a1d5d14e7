"""Human-level performance from annotators' labels: a ladder of human baselines.

Several annotators label the same items. From their labels this module builds *rungs* of
human performance, each scored with mlscope's own metric registry against a reference:

1. **single annotator** (the "typical human"): every annotator scored on their own items;
2. **majority of k**: the vote of k annotators drawn at random per item;
3. **Dawid–Skene** (classification) or **median of annotators** (regression): an aggregate
   of every annotator's label;
4. **expert panel**: the gold reference itself, when there is one (the yardstick, unscored).

Models are scored on exactly the items and references each rung was scored on, so the
comparison is like for like; agreement between annotators (Krippendorff's alpha, Fleiss'
kappa, pairwise percent agreement) says whether a human ceiling means anything at all.
How each number is computed is in ``docs/human-level.md``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.baselines.human_result import (
    Agreement,
    HumanLevel,
    HumanMetricSpec,
    HumanRung,
    HumanValue,
    ModelOnHumanItems,
    RungKind,
)
from mlscope.engine.bootstrap import percentile_interval, resample_counts
from mlscope.engine.rowstats import batched_binary, batched_regression, multiclass_row_codes
from mlscope.engine.stats import (
    BinaryStats,
    MulticlassStats,
    RegressionStats,
    Stats,
    binary_stats,
    multiclass_stats,
    regression_stats,
)
from mlscope.errors import InputError, did_you_mean
from mlscope.metrics.registry import MetricSpec, get_metric

__all__ = [
    "ALPHA_TENTATIVE",
    "Agreement",
    "HumanLevel",
    "HumanMetricSpec",
    "HumanRung",
    "HumanValue",
    "ModelOnHumanItems",
    "fleiss_kappa",
    "human_ladder",
    "load_annotations",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
HumanTask = Literal["binary", "multiclass", "regression"]
ReferenceKind = Literal["gold", "from_annotators", "none"]

# Krippendorff (2004, "Content Analysis", 2nd ed., §11.4.4): alpha >= 0.800 supports
# conclusions, 0.667 <= alpha < 0.800 only tentative ones; below 0.667, none.
ALPHA_TENTATIVE = 0.667
_INSTALL = 'pip install "mlscope[human]"'
_SINGLE = "single annotator"
_EXPERT = "expert panel"
_DS = "Dawid–Skene"
_MEDIAN = "median of annotators"
_DEFAULT_DRAWS = 20
_MIN_DEFINED_SHARE = 0.9  # as the main evaluation: fewer defined replicates, no interval
_CHUNK_CELLS = 4_000_000  # replicate x item cells held at once during the bootstrap
_NO_SCORES = "annotators give labels, not scores"
# Up to this many groups a sum over groups is a product with a one-hot matrix.
_FEW_GROUPS = 64
# The krippendorff package builds an items x values x values array; above this many cells
# the same alpha comes from its closed form instead.
_KRIPP_CELLS = 4_000_000


# --------------------------------------------------------------------------------------
# Result records (plain data; they round-trip through JSON with mlscope.result's builder)
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Loading annotations
# --------------------------------------------------------------------------------------


_WHOLE_FLOAT_TEXT = re.compile(r"^(-?\d+)\.0+$")


def _text(v: Any) -> str:
    """A label or id as text: ``1``, ``1.0``, ``"1"`` and ``"1.0"`` all become ``"1"``.

    Wide tables with empty cells hold whole numbers as floats (and write them to CSV as
    ``1.0``), so the same label must not split into ``"1"`` and ``"1.0"``; booleans are
    written as DuckDB casts them.
    """
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    text = str(v)
    whole = _WHOLE_FLOAT_TEXT.match(text)
    return whole.group(1) if whole else text


def _missing_column(column: str, role: str, where: str, columns: Sequence[str],
                    fix: str) -> InputError:
    shown = ", ".join(map(str, columns[:12])) + (", …" if len(columns) > 12 else "")
    return InputError(
        f"column `{column}` ({role}) is not in {where}"
        f"{did_you_mean(column, [str(c) for c in columns])} (columns: {shown}). Fix: {fix}"
    )


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"annotations file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # Read as text: ids like 007 keep their zeros, and labels are compared as text.
        return pd.read_csv(path, dtype=str)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise InputError(
        f"cannot read {path.name}: unknown file type `{path.suffix}`; "
        "use a Parquet (.parquet) or CSV (.csv) file"
    )


def _clean_long(df: pd.DataFrame, where: str, names: Mapping[str, str],
                classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Check a frame with columns item/annotator/label and return it deduplicated.

    ``names`` maps each role to the user's column name, for messages.
    """
    missing_label = df["label"].isna()
    df = df.loc[~missing_label]
    for role in ("item", "annotator"):
        bad = df[role].isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{where}: column `{names[role]}` ({role}) is empty in {int(bad.sum())} "
                f"labelled row(s) (the first is row {row}). Fix: give every label its {role}"
            )
    out = pd.DataFrame({
        "item": [_text(v) for v in df["item"]],
        "annotator": [_text(v) for v in df["annotator"]],
        "label": df["label"].to_numpy(dtype=object),
    })
    text = pd.Series([_text(v) for v in out["label"]], index=out.index)
    dup = out.duplicated(["item", "annotator"], keep=False)
    if dup.any():
        n_distinct = text[dup].groupby([out["item"][dup], out["annotator"][dup]]).nunique()
        conflicts = n_distinct[n_distinct > 1]
        if len(conflicts):
            item, ann = conflicts.index[0]
            seen = sorted(set(text[(out["item"] == item) & (out["annotator"] == ann)]))
            raise InputError(
                f"{where}: annotator {ann!r} labelled item {item!r} more than once with "
                f"different labels ({', '.join(map(repr, seen))}) in column `{names['label']}`"
                f" ({len(conflicts)} such (item, annotator) pair(s)). Fix: keep one label per "
                f"(`{names['item']}`, `{names['annotator']}`)"
            )
        keep = ~out.duplicated(["item", "annotator"], keep="first")
        out, text = out.loc[keep], text.loc[keep]
    if classes is not None:
        allowed = [_text(c) for c in classes]
        bad_labels = sorted(set(text) - set(allowed))
        if bad_labels:
            first = bad_labels[0]
            raise InputError(
                f"{where}: column `{names['label']}` has label {first!r} "
                f"({int((text == first).sum())} row(s)), which is not one of the classes "
                f"({', '.join(allowed)}){did_you_mean(first, allowed)}"
                + (f"; other unknown labels: {', '.join(map(repr, bad_labels[1:6]))}"
                   if len(bad_labels) > 1 else "")
                + ". Fix: correct the labels or add them to the classes"
            )
    return out.reset_index(drop=True)


def load_annotations(
    path_or_df: str | Path | pd.DataFrame,
    *,
    layout: Literal["long", "wide"] = "long",
    item: str = "item",
    annotator: str | None = "annotator",
    label: str | None = "label",
    columns: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read annotations into the long frame :func:`human_ladder` takes.

    Parameters
    ----------
    path_or_df
        A CSV or Parquet file, or a DataFrame. CSV files are read as text.
    layout
        ``"long"``: one row per (item, annotator) with columns ``item``, ``annotator`` and
        ``label``. ``"wide"``: one row per item and one column per annotator, the column
        name being the annotator; an empty cell means "not labelled".
    item
        The item id column.
    annotator, label
        Long layout: the annotator and label columns.
    columns
        Wide layout: the annotator columns (default: every column but ``item``).
    classes
        If given, every label must be one of these (compared as text).

    Returns
    -------
    pandas.DataFrame
        Columns ``item`` (str), ``annotator`` (str) and ``label`` (the values as read),
        one row per labelled (item, annotator) pair.

    Raises
    ------
    InputError
        A missing column, an item without id, an annotator who gave one item different
        labels, or a label outside ``classes``; the message names the file and column.
    """
    if isinstance(path_or_df, pd.DataFrame):
        df, where = path_or_df, "the annotations"
    else:
        path = Path(path_or_df)
        df, where = _read(path), path.name
    have = [str(c) for c in df.columns]
    if item not in df.columns:
        raise _missing_column(item, "item", where, have, "pass `item=` the item id column")
    if layout == "long":
        for role, col in (("annotator", annotator), ("label", label)):
            if col is None:
                raise InputError(f"{where}: a long layout needs the {role} column; pass `{role}=`")
            if col not in df.columns:
                raise _missing_column(col, role, where, have, f"pass `{role}=` the {role} column")
        assert annotator is not None
        assert label is not None
        frame = pd.DataFrame({"item": df[item], "annotator": df[annotator], "label": df[label]})
        names = {"item": item, "annotator": annotator, "label": label}
    elif layout == "wide":
        cols = list(columns) if columns is not None else [c for c in have if c != item]
        for col in cols:
            if col not in df.columns:
                raise _missing_column(col, "annotator", where, have,
                                      "list the annotator columns in `columns=`")
        if not cols:
            raise InputError(f"{where}: no annotator columns besides `{item}`")
        wide = df[[item, *cols]]
        frame = wide.melt(id_vars=[item], value_vars=cols, var_name="annotator",
                          value_name="label").rename(columns={item: "item"})
        names = {"item": item, "annotator": "(the annotator columns)",
                 "label": "(the annotator columns)"}
    else:
        raise InputError(f"layout must be `long` or `wide`, got {layout!r}")
    return _clean_long(frame, where, names, classes)


# --------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------


def fleiss_kappa(counts: npt.ArrayLike) -> tuple[float | None, str | None]:
    """Fleiss' kappa of an item x class table of label counts.

    Items may have different numbers of labels: each item's agreement
    ``P_i = Σ_j n_ij (n_ij − 1) / (n_i (n_i − 1))`` is computed from its own ``n_i``,
    ``P̄`` is their unweighted mean over items with at least 2 labels, and the chance
    agreement ``P_e = Σ_j p_j²`` uses the class shares ``p_j`` pooled over those items'
    labels. With the same number of labels on every item this is Fleiss (1971) exactly.

    Parameters
    ----------
    counts
        ``(n_items, n_classes)`` non-negative label counts.

    Returns
    -------
    tuple
        ``(kappa, None)``, or ``(None, reason)`` when kappa is undefined (no item with two
        labels, or every label in one class so that chance agreement is 1).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"counts must be a 2-d item x class table, got shape {c.shape}")
    if (c < 0).any():
        raise ValueError("counts must be non-negative")
    n_i = c.sum(axis=1)
    c, n_i = c[n_i >= 2], n_i[n_i >= 2]
    if c.shape[0] == 0:
        return None, "no item has two or more labels"
    p_items = (c * (c - 1)).sum(axis=1) / (n_i * (n_i - 1))
    p_bar = float(p_items.mean())
    share = c.sum(axis=0) / c.sum()
    p_e = float((share**2).sum())
    if p_e >= 1.0 - 1e-12:
        return None, "every label is the same class, so chance agreement is 1 and kappa is 0/0"
    return (p_bar - p_e) / (1.0 - p_e), None


def _percent_agreement(counts: FloatArray) -> float | None:
    """Mean over items with 2+ labels of the share of annotator pairs that agree."""
    n_i = counts.sum(axis=1)
    ok = n_i >= 2
    if not ok.any():
        return None
    c, n = counts[ok], n_i[ok]
    return float(((c * (c - 1)).sum(axis=1) / (n * (n - 1))).mean())


def _alpha_closed(item: IntArray, value: FloatArray, level: str) -> float | None:
    """Krippendorff's alpha from its closed form, in O(labels) memory.

    With ``n`` pairable labels (on items with 2+ labels), ``m_u`` labels on item ``u``:
    ``D_o = (1/n) Σ_u (Σ_{i≠j in u} δ(v_i, v_j)) / (m_u − 1)`` and
    ``D_e = Σ_{i≠j} δ(v_i, v_j) / (n (n − 1))`` over all pairable labels, ``α = 1 − D_o/D_e``.
    Nominal: ``δ = [v_i ≠ v_j]``; interval: ``δ = (v_i − v_j)²``, whose pair sums are
    ``2 m SS`` (``SS``: sum of squares around the mean). ``None`` when ``D_e`` is 0.
    """
    n_items = int(item.max()) + 1 if item.size else 0
    m = np.bincount(item, minlength=n_items)
    pairable = m[item] >= 2
    it, v = item[pairable], value[pairable]
    n = v.size
    if n < 2:
        return None
    m_u = np.bincount(it, minlength=n_items).astype(np.float64)
    ok = m_u >= 2
    if level == "nominal":
        codes = v.astype(np.int64)
        k = int(codes.max()) + 1
        cnt = np.bincount(it * k + codes, minlength=n_items * k).reshape(n_items, k)
        cnt = cnt.astype(np.float64)
        disagree = m_u**2 - (cnt**2).sum(axis=1)
        d_o = float((disagree[ok] / (m_u[ok] - 1)).sum()) / n
        tot = cnt.sum(axis=0)
        d_e = float(n * n - (tot**2).sum()) / (n * (n - 1))
    else:
        # Centred first, so that sums of squares do not cancel for large values.
        c = v - v.mean()
        s = np.bincount(it, weights=c, minlength=n_items)
        s2 = np.bincount(it, weights=c * c, minlength=n_items)
        ss_u = np.maximum(s2[ok] - s[ok] ** 2 / m_u[ok], 0.0)
        d_o = float((2 * m_u[ok] * ss_u / (m_u[ok] - 1)).sum()) / n
        d_e = 2 * float((c * c).sum()) / (n - 1)
    if not d_e > 0:
        return None
    return 1.0 - d_o / d_e


def _alpha(data: _Data) -> tuple[float | None, str | None, str | None]:
    """``(alpha, why undefined, how computed)``: the krippendorff package where it fits."""
    domain = np.unique(data.row_val)
    if domain.size < 2:
        return None, "every label has the same value", None
    level: Literal["nominal", "interval"] = "nominal" if data.classify else "interval"
    cells = len(data.items) * domain.size**2
    try:
        import krippendorff
    except ImportError:
        reason = "the krippendorff package is not installed"
    else:
        reason = "" if cells <= _KRIPP_CELLS else (
            f"the krippendorff package would need {cells:,} cells")
    if reason:
        alpha = _alpha_closed(data.row_item, data.row_val, level)
        why = "fewer than two items with two labels" if alpha is None else None
        return alpha, why, f"Krippendorff's alpha from its closed form ({reason})"
    inv = np.searchsorted(domain, data.row_val)
    n, v = len(data.items), domain.size
    counts = np.bincount(data.row_item * v + inv, minlength=n * v).reshape(n, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = float(krippendorff.alpha(value_counts=counts, value_domain=domain,
                                     level_of_measurement=level))
    if not np.isfinite(a):
        return None, "fewer than two items with two labels", None
    return a, None, None


# --------------------------------------------------------------------------------------
# Inputs, normalised
# --------------------------------------------------------------------------------------


@dataclass
class _Data:
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
        cls = [_text(c) for c in classes]
        if len(cls) != 2:
            raise InputError(f"a binary task has two classes; `classes` lists {len(cls)}: {cls}")
        if positive is None:
            return cls[0], cls[1]
        pos = _text(positive)
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
    pos = _text(positive)
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


def _prepare(
    annotations: pd.DataFrame,
    task: str,
    positive: str | None,
    classes: Sequence[str] | None,
    reference: pd.Series | None,
    reference_kind: str,
    models: Mapping[str, pd.Series | pd.DataFrame] | None,
    notes: list[str],
) -> _Data:
    have = [str(c) for c in annotations.columns]
    for col in ("item", "annotator", "label"):
        if col not in annotations.columns:
            raise _missing_column(col, col, "the annotations", have,
                                  "use load_annotations() to build the long frame")
    long = _clean_long(annotations[["item", "annotator", "label"]], "the annotations",
                       {"item": "item", "annotator": "annotator", "label": "label"})
    if long.empty:
        raise InputError("the annotations hold no labels")

    ref_map: dict[str, Any] = {}
    if reference is not None:
        if reference.index.has_duplicates:
            dup = reference.index[reference.index.duplicated()][0]
            raise InputError(f"the reference lists item {_text(dup)!r} more than once")
        ref_map = {_text(i): v for i, v in reference.items() if not pd.isna(v)}
    if reference_kind == "gold" and not ref_map:
        raise InputError("reference_kind `gold` needs a `reference` (item -> gold label)")

    label_text = [_text(v) for v in long["label"]]
    if task == "regression":
        cls: tuple[str, ...] = ()
        values = _floats(list(long["label"]), "the annotations", "label")
        ref_values = {i: float(v) for i, v in zip(
            ref_map, _floats(list(ref_map.values()), "the reference", "reference"), strict=True)}
    else:
        ref_text = {i: _text(v) for i, v in ref_map.items()}
        seen = set(label_text) | set(ref_text.values())
        if task == "binary":
            cls = _infer_binary_classes(seen, positive, classes)
        else:
            cls = tuple(_text(c) for c in classes) if classes is not None else tuple(sorted(seen))
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
    return _Data(task, cls, items, annotators, row_item, row_ann, values, n_labels,
                 seg_start, ref, scorable, model_arrays)


def _model_array(name: str, pred: pd.Series | pd.DataFrame, task: str,
                 classes: tuple[str, ...], items: list[str]) -> FloatArray:
    where = f"model `{name}`"
    if task == "multiclass":
        if not isinstance(pred, pd.DataFrame):
            raise InputError(f"{where}: a multiclass model needs a DataFrame item x class of "
                             "probabilities")
        cols = {_text(c): c for c in pred.columns}
        missing = [c for c in classes if c not in cols]
        if missing:
            raise InputError(f"{where}: no probability column for class(es) "
                             f"{', '.join(missing)} (columns: {', '.join(cols)})")
        frame = pred[[cols[c] for c in classes]].astype(np.float64)
        frame.index = pd.Index([_text(i) for i in frame.index])
        if frame.index.has_duplicates:
            raise InputError(f"{where}: an item appears more than once")
        return np.asarray(frame.reindex(items).to_numpy(), dtype=np.float64)
    if isinstance(pred, pd.DataFrame):
        raise InputError(f"{where}: a {task} model needs a Series item -> "
                         f"{'P(positive)' if task == 'binary' else 'prediction'}")
    series = pd.Series(np.asarray(pred, dtype=np.float64),
                       index=pd.Index([_text(i) for i in pred.index]))
    if series.index.has_duplicates:
        raise InputError(f"{where}: an item appears more than once")
    return np.asarray(series.reindex(items).to_numpy(), dtype=np.float64)


# --------------------------------------------------------------------------------------
# Scoring units: one set of (item, reference, prediction) rows
# --------------------------------------------------------------------------------------


@dataclass
class _Unit:
    items: IntArray
    y: FloatArray  # class index or value
    pred: FloatArray  # binary score (n,), multiclass proba (n, K), regression (n,)
    hard: bool  # predictions are labels, not scores


# A unit with its point values, reasons and statistics (None for an empty unit).
_Job = tuple[_Unit, list[float], list[str | None], Stats | None]


@dataclass
class _Metric:
    id: str
    spec: MetricSpec
    params: dict[str, Any]
    hard_params: dict[str, Any]
    hard_reason: str | None


def _resolve(m: HumanMetricSpec, task: str) -> _Metric:
    spec = get_metric(m.name, task=task)
    params = spec.resolve_params(m.params, where=f"metric `{m.id}`: ")
    hard = dict(params)
    reason: str | None = None
    if spec.name == "log_loss":
        reason = (f"{_NO_SCORES}: the log loss of a hard label is infinite wherever it "
                  "disagrees with the reference")
    elif spec.is_operating_point(params):
        reason = f"{_NO_SCORES}: `{spec.name}` needs a ranking of scores to choose a threshold"
    elif spec.name == "top_k_accuracy" and int(params.get("k", 1)) > 1:
        reason = f"{_NO_SCORES}: top-k accuracy needs a ranking of the classes"
    elif task == "binary" and isinstance(params.get("threshold"), float):
        # A label is its own decision: as a 0/1 score it must be cut between 0 and 1,
        # whatever threshold the models use.
        hard["threshold"] = 0.5
    return _Metric(m.id, spec, params, hard, reason)


class _Scorer:
    """Metric values of units through the registry, point and bootstrap."""

    def __init__(self, data: _Data, metrics: list[_Metric]) -> None:
        self.task = data.task
        self.classes = data.classes
        self.metrics = metrics

    def _stats(self, u: _Unit, W: FloatArray | None, point: Stats | None = None) -> Stats:
        if self.task == "binary":
            y = u.y.astype(bool)
            if W is None:
                return binary_stats(y, u.pred)
            return _batched_binary(y, u.pred, W)
        if self.task == "multiclass":
            yi = u.y.astype(np.int64)
            if W is None:
                return multiclass_stats(np.asarray(self.classes)[yi], u.pred, self.classes)
            return _batched_multiclass(yi, u.pred, self.classes, W)
        if W is None:
            return regression_stats(u.y, u.pred)
        # Replicates share the point estimate's centre, as the main evaluation does.
        shift = point.y_shift if isinstance(point, RegressionStats) else float(u.y.mean())
        return batched_regression(u.y, u.pred, W, y_shift=shift, unit_weights=True)

    def point(self, u: _Unit) -> tuple[list[float], list[str | None], Stats]:
        stats = self._stats(u, None)
        values: list[float] = []
        reasons: list[str | None] = []
        for m in self.metrics:
            params = m.hard_params if u.hard else m.params
            why = m.hard_reason if u.hard else None
            why = why or m.spec.undefined(stats, **params)
            v = float("nan") if why else float(m.spec.fn(stats, **params))
            if not why and not np.isfinite(v):
                why = "undefined on these items"
            values.append(v)
            reasons.append(why)
        return values, reasons, stats

    def replicates(self, u: _Unit, W: FloatArray, point: Stats | None,
                   defined: list[bool]) -> FloatArray:
        out = np.full((len(self.metrics), W.shape[0]), np.nan)
        if not any(defined):
            return out
        stats = self._stats(u, W, point)
        for j, m in enumerate(self.metrics):
            if defined[j]:
                out[j] = m.spec.fn(stats, **(m.hard_params if u.hard else m.params))
        return out


def _group_sum(W: FloatArray, group: IntArray, m: int) -> FloatArray:
    """Sum the columns of ``W`` (``(R, n)``) within each of ``m`` groups -> ``(R, m)``.

    A product with a one-hot matrix for few groups (a fraction of the cost of a weighted
    bincount over ``R × n`` cells), the bincount otherwise.
    """
    r, n = W.shape
    if m <= _FEW_GROUPS:
        onehot = np.zeros((n, m))
        onehot[np.arange(n), group] = 1.0
        return np.asarray(W @ onehot, dtype=np.float64)
    flat = (np.arange(r, dtype=np.int64)[:, None] * m + group[None, :]).ravel()
    out = np.bincount(flat, weights=W.ravel(), minlength=r * m)
    return np.asarray(out, dtype=np.float64).reshape(r, m)


def _few_scores_binary(y: BoolArray, score: FloatArray, W: FloatArray) -> BinaryStats | None:
    """:func:`~mlscope.engine.rowstats.batched_binary` when there are few distinct scores.

    Label rungs have two distinct scores (0 and 1), where the sums are cheap products.
    """
    values, inv = np.unique(score, return_inverse=True)
    m = values.size
    if m > _FEW_GROUPS // 2:
        return None
    # Positives in groups 0..m-1, negatives in m..2m-1; flipped to descending scores.
    sums = _group_sum(W, inv.astype(np.int64) + m * (~y), 2 * m)
    pos = np.ascontiguousarray(sums[:, m - 1::-1])
    neg = np.ascontiguousarray(sums[:, :m - 1:-1])
    return BinaryStats(values[::-1].copy(), pos, neg, int(y.size))


def _batched_binary(y: BoolArray, score: FloatArray, W: FloatArray) -> BinaryStats:
    return _few_scores_binary(y, score, W) or batched_binary(y, score, W)


def _batched_multiclass(yi: IntArray, proba: FloatArray, classes: tuple[str, ...],
                        W: FloatArray) -> MulticlassStats:
    """:func:`~mlscope.engine.rowstats.batched_multiclass` with :func:`_group_sum`."""
    k = len(classes)
    pred, rank, nll = multiclass_row_codes(yi, proba)
    confusion = _group_sum(W, yi * k + pred, k * k).reshape(W.shape[0], k, k)
    topk = np.cumsum(_group_sum(W, np.minimum(rank, k - 1), k), axis=-1)
    ovr = tuple(_batched_binary(yi == c, proba[:, c], W) for c in range(k))
    return MulticlassStats(
        classes=classes, confusion=confusion, topk_hits=topk,
        log_loss_sum=np.asarray(W @ nll), one_vs_rest=ovr,
        total=np.asarray(W.sum(axis=-1), dtype=np.float64), n_rows=int(yi.size),
    )


def _hard_pred(data: _Data, codes: FloatArray) -> FloatArray:
    if data.task == "multiclass":
        return np.eye(data.k)[codes.astype(np.int64)]
    return codes.astype(np.float64)


def _model_units(data: _Data, units: Sequence[_Unit]) -> dict[str, list[_Unit]]:
    return {name: [_Unit(u.items, u.y, arr[u.items], hard=False) for u in units]
            for name, arr in data.models.items()}


# --------------------------------------------------------------------------------------
# Rungs
# --------------------------------------------------------------------------------------


@dataclass
class _Plan:
    name: str
    kind: RungKind
    k: int | None
    scored: bool
    note: str
    n_items: int = 0
    units: list[_Unit] = field(default_factory=list)
    model_units: dict[str, list[_Unit]] = field(default_factory=dict)
    unscored: str = ""  # why the rung has no values, for each metric's `undefined`


def _majority(counts: FloatArray, rng: np.random.Generator) -> IntArray:
    """Arg-max per row, ties broken uniformly at random."""
    # Counts are whole numbers, so jitter below 1 only reorders tied classes.
    jittered = counts + 0.5 * rng.random(counts.shape)
    return np.asarray(np.argmax(jittered, axis=1), dtype=np.int64)


def _tied(counts: FloatArray) -> BoolArray:
    """Rows whose highest count is shared by two classes."""
    if counts.shape[1] < 2:
        return np.zeros(counts.shape[0], dtype=bool)
    top2 = -np.sort(-counts, axis=1)[:, :2]
    return np.asarray(top2[:, 0] == top2[:, 1], dtype=bool)


def _single_units(data: _Data, loo: bool) -> tuple[dict[str, _Unit], int]:
    """Each annotator's unit (possibly empty), and the labels dropped on tied references."""
    units: dict[str, _Unit] = {}
    dropped = 0
    counts = data.counts() if data.classify and loo else None
    sums = np.bincount(data.row_item, weights=data.row_val, minlength=len(data.items))
    by_ann = np.argsort(data.row_ann, kind="stable")
    bounds = np.searchsorted(data.row_ann[by_ann], np.arange(len(data.annotators) + 1))
    for a, name in enumerate(data.annotators):
        rows = by_ann[bounds[a]:bounds[a + 1]]
        it, val = data.row_item[rows], data.row_val[rows]
        keep = data.scorable[it]
        if not loo:
            y = data.ref[it]
        else:
            keep &= data.n_labels[it] - 1 >= 2
            if counts is not None:
                others = counts[it].copy()
                others[np.arange(it.size), val.astype(np.int64)] -= 1
                tie = _tied(others) & keep
                dropped += int(tie.sum())
                keep &= ~tie
                y = np.argmax(others, axis=1).astype(np.float64)
            else:
                y = (sums[it] - val) / np.maximum(data.n_labels[it] - 1, 1)
        units[name] = _Unit(it[keep], y[keep], _hard_pred(data, val[keep]), hard=True)
    return units, dropped


def _draw(data: _Data, k: int, loo: bool, rng: np.random.Generator
          ) -> tuple[_Unit, int]:
    """One random draw of k voters per item: the vote, scored against gold or the rest."""
    n_rows = data.row_item.size
    order = np.lexsort((rng.random(n_rows), data.row_item))
    item_sorted = data.row_item[order]
    rank = np.arange(n_rows) - data.seg_start[item_sorted]
    elig = data.scorable & (data.n_labels >= (k + 1 if loo else k))
    on = elig[item_sorted]
    voters = order[(rank < k) & on]
    rest = order[(rank >= k) & on]
    items = np.flatnonzero(elig).astype(np.int64)
    if data.classify:
        vote = _majority(data.counts(voters)[items], rng).astype(np.float64)
    else:
        vsum = np.bincount(data.row_item[voters], weights=data.row_val[voters],
                           minlength=len(data.items))
        vote = vsum[items] / k
    dropped = 0
    if not loo:
        y = data.ref[items]
    elif data.classify:
        rest_counts = data.counts(rest)[items]
        tie = _tied(rest_counts)
        dropped = int(tie.sum())
        items, vote, rest_counts = items[~tie], vote[~tie], rest_counts[~tie]
        y = np.argmax(rest_counts, axis=1).astype(np.float64)
    else:
        rsum = np.bincount(data.row_item[rest], weights=data.row_val[rest],
                           minlength=len(data.items))
        y = rsum[items] / (data.n_labels[items] - k)
    return _Unit(items, y, _hard_pred(data, vote), hard=True), dropped


def _majority_plan(data: _Data, k: int, loo: bool, draws: int,
                   rng: np.random.Generator) -> _Plan:
    name = f"majority of {k}"
    need = k + 1 if loo else k
    n_elig = int((data.scorable & (data.n_labels >= need)).sum())
    if n_elig == 0:
        why = (f"no item has {need} labels ({k} voters + at least 1 for the leave-one-out "
               "reference)" if loo else f"no scored item has {k} labels")
        return _Plan(name, "majority", k, False, f"not scored: {why}", unscored=why)
    units: list[_Unit] = []
    dropped = 0
    for _ in range(draws):
        u, d = _draw(data, k, loo, rng)
        units.append(u)
        dropped += d
    n_items = min(u.items.size for u in units)
    who = "voters" if data.classify else "annotators"
    vote = ("their majority, ties broken at random" if data.classify
            else "the mean of their values")
    if loo:
        against = ("the majority of that item's other annotators" if data.classify
                   else "the mean of that item's other annotators")
        note = (f"{draws} random draws of {k} {who} per item with at least {k + 1} labels "
                f"({vote}); each draw scored against {against}")
        if dropped:
            note += f"; {dropped} (draw, item) pairs dropped where those others tied"
        model_units = _model_units(data, units)
    else:
        note = (f"{draws} random draws of {k} {who} per item with at least {k} labels "
                f"({vote}), scored against gold")
        # The items and gold are the same in every draw, so models need one unit.
        model_units = _model_units(data, units[:1])
    return _Plan(name, "majority", k, True, note, n_items, units, model_units)


def _dawid_skene(data: _Data) -> tuple[FloatArray | None, str]:
    """Per-item class posteriors from Dawid–Skene, or ``(None, why not)``."""
    try:
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return None, f"skipped: Dawid–Skene needs crowd-kit ({_INSTALL})"
    frame = pd.DataFrame({
        "task": data.row_item,
        "worker": data.row_ann,
        "label": data.row_val.astype(np.int64),
    })
    with warnings.catch_warnings():
        # crowd-kit 1.4 calls pandas APIs that recent pandas deprecates, thousands of times
        # per fit; the warnings are about crowd-kit's code, not the user's data.
        warnings.simplefilter("ignore")
        post = DawidSkene(n_iter=100).fit_predict_proba(frame)
    proba = np.zeros((len(data.items), data.k))
    post = post.reindex(np.arange(len(data.items)))
    for col in post.columns:
        proba[:, int(col)] = post[col].fillna(0.0).to_numpy(dtype=np.float64)
    return proba, "Dawid–Skene (crowd-kit, 100 iterations) over every annotator's labels"


# --------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------


def _nanmean0(a: FloatArray) -> FloatArray:
    ok = np.isfinite(a)
    n = ok.sum(axis=0)
    s = np.where(ok, a, 0.0).sum(axis=0)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _summary(metric: str, values: list[float], reasons: list[str | None],
             reps: FloatArray | None, level: float, unit_word: str) -> HumanValue:
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        why = next((r for r in reasons if r), "undefined")
        if len(values) > 1:
            why = f"undefined for every {unit_word}: {why}"
        return HumanValue(metric, undefined=why)
    d = v[ok]
    lower = upper = None
    if reps is not None and reps.shape[1] > 0:
        ci = percentile_interval(_nanmean0(reps[ok]), level, min_defined=_MIN_DEFINED_SHARE)
        if ci is not None:
            lower, upper = ci
    return HumanValue(
        metric,
        value=float(d.mean()),
        lower=lower,
        upper=upper,
        spread=float(d.std(ddof=1)) if d.size >= 2 else None,
        minimum=float(d.min()),
        maximum=float(d.max()),
        n_units=int(d.size),
    )


def _agreement(data: _Data) -> Agreement:
    notes: list[str] = []
    n_items = len(data.items)
    level: Literal["nominal", "interval"] = "nominal" if data.classify else "interval"
    kappa = pct = None
    if data.classify:
        counts = data.counts()
        kappa, why = fleiss_kappa(counts)
        if why:
            notes.append(f"Fleiss' kappa undefined: {why}")
        pct = _percent_agreement(counts)
    alpha, why, how = _alpha(data)
    if why:
        notes.append(f"Krippendorff's alpha undefined: {why}")
    if how:
        notes.append(how)
    if (data.n_labels < 2).all():
        notes.append("no item has two labels, so annotators cannot be compared")
    warning = None
    if alpha is not None and alpha < ALPHA_TENTATIVE:
        warning = (
            f"Krippendorff's alpha is {alpha:.3f}, below {ALPHA_TENTATIVE} (Krippendorff's "
            "floor for even tentative conclusions): human labels disagree too much for a "
            "human-level ceiling; the 'human level' is then a floor of label noise, not a "
            "target"
        )
    return Agreement(alpha, kappa, pct, n_items, len(data.annotators),
                     float(data.n_labels.mean()), level, warning, notes)


# --------------------------------------------------------------------------------------
# The ladder
# --------------------------------------------------------------------------------------


def _check_options(task: str, reference_kind: str, min_items: int, resamples: int,
                   level: float, draws: int, ks: Sequence[int] | None) -> None:
    if task not in ("binary", "multiclass", "regression"):
        raise InputError(f"task must be binary, multiclass or regression, got {task!r}")
    if reference_kind not in ("gold", "from_annotators", "none"):
        raise InputError("reference_kind must be `gold`, `from_annotators` or `none`, "
                         f"got {reference_kind!r}")
    if isinstance(min_items, bool) or not isinstance(min_items, int) or min_items < 1:
        raise InputError(f"min_items must be a whole number >= 1, got {min_items!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise InputError(f"resamples must be a whole number >= 0, got {resamples!r}")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise InputError(f"draws must be a whole number >= 1, got {draws!r}")
    for k in ks or ():
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"every k in ks must be a whole number >= 1, got {k!r}")


def human_ladder(
    annotations: pd.DataFrame,
    *,
    task: HumanTask,
    metrics: Sequence[HumanMetricSpec],
    positive: str | None = None,
    classes: Sequence[str] | None = None,
    reference: pd.Series | None = None,
    reference_kind: ReferenceKind = "none",
    models: Mapping[str, pd.Series | pd.DataFrame] | None = None,
    ks: Sequence[int] | None = None,
    min_items: int = 30,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    draws: int = _DEFAULT_DRAWS,
    replicates: dict[tuple[str, str | None, str], FloatArray] | None = None,
) -> HumanLevel:
    """Score the ladder of human baselines, and the models on the same items.

    Parameters
    ----------
    annotations
        Long frame with columns ``item``, ``annotator``, ``label`` (see
        :func:`load_annotations`); a missing label means "not labelled".
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    metrics
        The metrics to compute, by registry name with resolved parameters.
    positive
        Binary: the positive label (as text); inferred for ``0/1`` and ``false/true``.
    classes
        Multiclass: the classes in order (default: every label seen, sorted). Binary:
        optionally ``(negative, positive)``.
    reference
        Item -> reference label (text for classification, number for regression).
    reference_kind
        ``"gold"``: independent gold labels; every rung is scored against them.
        ``"from_annotators"``: the reference was derived from these annotators, so each
        human is scored *leave-one-out* against the majority of the other annotators
        (``reference`` then only selects the evaluated items). ``"none"``: only agreement.
    models
        Model -> per-item scores: binary P(positive) Series, regression prediction
        Series, multiclass DataFrame item x class of probabilities. Items a model lacks
        are left out of every rung.
    ks
        Majority panel sizes; default odd k from 3 up to the most labels on an item
        (minus one when leave-one-out, to leave a reference).
    min_items
        Evidence needed: annotators scored on fewer items are left out of the single
        annotator mean, and rungs scored on fewer items cannot be the baseline.
    resamples, level, seed
        Percentile bootstrap over items (0 resamples: no intervals), and the seed of every
        random draw.
    draws
        Random voter draws per majority rung.
    replicates
        When given, filled with the bootstrap replicates of every scored value, keyed by
        ``(rung, model or None for the humans, metric id)``: every value sees the same
        item resamples, so a caller can form paired intervals (the gap closed against
        human level). Not stored in the result.

    Returns
    -------
    HumanLevel
        The rungs, the models on each scored rung's items, the agreement, and per metric
        the best eligible rung.

    Notes
    -----
    *Single annotator*: each annotator is scored on the items they labelled; the rung is
    the unweighted mean over annotators with at least ``min_items`` scored items (each
    annotator counts once, whatever their number of items), with the standard deviation,
    minimum and maximum over them. *Majority of k*: per item with enough labels, ``k`` of
    its annotators are drawn at random and their majority taken (ties at random;
    regression: their mean); the rung is the mean over ``draws`` draws. *Aggregate*:
    Dawid–Skene's posterior (classification; a score, so every metric is defined) or the
    per-item median (regression). Hard labels have no log loss and no ranking: log loss,
    operating-point metrics (``threshold: optimize``, ``precision_at_recall``, ...) and
    top-k accuracy (k > 1) are undefined on label rungs, and a binary label is its own
    decision (threshold 0.5 on the 0/1 label). ROC AUC, average precision and Brier are
    computed on the 0/1 label as a score. The agreement warning uses Krippendorff's
    threshold of 0.667 for tentative conclusions (Krippendorff 2004, §11.4.4).
    """
    _check_options(task, reference_kind, min_items, resamples, level, draws, ks)
    if not metrics and reference_kind != "none":
        raise InputError("no metrics to compute: pass `metrics=`")
    ids = [m.id for m in metrics]
    if len(set(ids)) != len(ids):
        raise InputError(f"metric ids must be unique, got {ids}")
    notes: list[str] = []
    warnings: list[str] = []
    data = _prepare(annotations, task, positive, classes, reference, reference_kind,
                    models, notes)
    resolved = [_resolve(m, task) for m in metrics]
    scorer = _Scorer(data, resolved)
    loo = reference_kind == "from_annotators"
    scored = reference_kind != "none"
    agreement = _agreement(data)
    if agreement.warning:
        warnings.append(agreement.warning)

    rng_draw = np.random.default_rng([seed, 1])
    max_labels = int(data.n_labels.max())
    top = max_labels - 1 if loo else max_labels
    k_list = sorted({int(k) for k in ks}) if ks is not None else list(range(3, top + 1, 2))
    if ks is None and not k_list:
        notes.append(f"no majority rung: the most labels on an item is {max_labels}, and a "
                     f"majority of 3 needs {4 if loo else 3}")

    plans: list[_Plan] = []
    single, dropped = _single_units(data, loo) if scored else ({}, 0)
    included = [a for a, u in single.items() if u.items.size >= min_items]
    small = [a for a, u in single.items() if 0 < u.items.size < min_items]
    if scored:
        note = ("each annotator scored on their own items against "
                + (f"the {'majority' if data.classify else 'mean'} of the other annotators "
                   "(items with at least 2 others)" if loo else "gold")
                + f"; unweighted mean over {len(included)} annotator(s) with at least "
                f"{min_items} items")
        if small:
            note += (f"; left out with fewer than {min_items} items: "
                     + ", ".join(f"{a} ({single[a].items.size})" for a in small[:20])
                     + (", …" if len(small) > 20 else ""))
        if dropped:
            note += f"; {dropped} labels not scored because the other annotators tied"
        units = [single[a] for a in included]
        n_single = int(np.unique(np.concatenate([u.items for u in units])).size) if units else 0
        plans.append(_Plan(_SINGLE, "single", None, True, note, n_single, units,
                           _model_units(data, units)))
        plans.extend(_majority_plan(data, k, loo, draws, rng_draw) for k in k_list)
    else:
        why = "no reference (only agreement is reported)"
        plans.append(_Plan(_SINGLE, "single", None, False, f"not scored: {why}", unscored=why))
        plans.extend(_Plan(f"majority of {k}", "majority", k, False, f"not scored: {why}",
                           unscored=why) for k in k_list)

    aggregate_labels: dict[str, str | float] = {}
    agg_kind: RungKind
    if data.classify:
        proba, how = _dawid_skene(data)
        agg_name, agg_kind = _DS, "model_based"
        agg_pred = None
        if proba is not None:
            winners = np.argmax(proba, axis=1)
            has = data.n_labels > 0
            aggregate_labels = {data.items[i]: data.classes[int(winners[i])]
                                for i in np.flatnonzero(has)}
            agg_pred = proba[:, 1] if task == "binary" else proba
    else:
        agg_name, agg_kind, how = _MEDIAN, "aggregate", "per-item median of every annotator"
        agg_pred = np.asarray(pd.Series(data.row_val).groupby(data.row_item).median()
                              .reindex(np.arange(len(data.items))).to_numpy(), dtype=np.float64)
        aggregate_labels = {s: float(v) for s, v in zip(data.items, agg_pred, strict=True)}
    if agg_pred is None:
        plans.append(_Plan(agg_name, agg_kind, None, False, how, unscored=how))
    elif reference_kind == "gold":
        items = np.flatnonzero(data.scorable).astype(np.int64)
        u = _Unit(items, data.ref[items], agg_pred[items], hard=False)
        plans.append(_Plan(agg_name, agg_kind, None, True, f"{how}, scored against gold",
                           int(items.size), [u], _model_units(data, [u])))
    else:
        why = "the reference comes from the same annotators" if loo else "no reference"
        plans.append(_Plan(agg_name, agg_kind, None, False, f"{how}; not scored: {why}",
                           unscored=why))
    if reference_kind == "gold":
        plans.append(_Plan(_EXPERT, "expert", None, False,
                           "the gold reference: the yardstick every other rung is scored "
                           "against", int(data.scorable.sum()),
                           unscored="the gold reference itself (not scored)"))

    # Point estimates, then one bootstrap over items shared by every unit (paired).
    jobs: list[_Job] = []
    for plan in plans:
        for u in [*plan.units, *(x for us in plan.model_units.values() for x in us)]:
            if u.items.size:
                jobs.append((u, *scorer.point(u)))
            else:
                jobs.append((u, [float("nan")] * len(resolved), ["no items"] * len(resolved),
                             None))
    reps = _bootstrap(scorer, jobs, len(data.items), resamples, seed)
    by_unit = {id(u): (vals, whys, r) for (u, vals, whys, _), r in zip(jobs, reps, strict=True)}

    def summarise(units: list[_Unit], word: str) -> list[HumanValue]:
        out = []
        for j, m in enumerate(resolved):
            vals = [by_unit[id(u)][0][j] for u in units]
            whys = [by_unit[id(u)][1][j] for u in units]
            r = (np.stack([by_unit[id(u)][2][j] for u in units])
                 if units and resamples else None)
            out.append(_summary(m.id, vals, whys, r, level, word))
        return out

    def blank(why: str) -> list[HumanValue]:
        return [HumanValue(m.id, undefined=why) for m in resolved]

    rungs: list[HumanRung] = []
    model_results: list[ModelOnHumanItems] = []
    for plan in plans:
        word = "annotator" if plan.kind == "single" else "draw"
        if plan.scored and plan.units:
            values = summarise(plan.units, word)
            for name, us in plan.model_units.items():
                model_results.append(ModelOnHumanItems(name, plan.name, plan.n_items,
                                                       summarise(us, word)))
            if replicates is not None and resamples:
                for who, us in [(None, plan.units), *plan.model_units.items()]:
                    for j, m in enumerate(resolved):
                        ok = np.isfinite([by_unit[id(u)][0][j] for u in us])
                        if ok.any():
                            r = np.stack([by_unit[id(u)][2][j] for u in us])
                            replicates[(plan.name, who, m.id)] = _nanmean0(r[ok])
        else:
            values = blank(plan.unscored or "not scored")
        eligible = bool(plan.scored and plan.units and plan.n_items >= min_items)
        note = plan.note
        if plan.scored and plan.units and not eligible:
            note += (f"; only {plan.n_items} items (fewer than {min_items}): not eligible as "
                     "the human-level baseline")
        rungs.append(HumanRung(plan.name, plan.kind, plan.k, plan.n_items, values,
                               bool(plan.scored and plan.units), eligible, note))

    best: dict[str, str | None] = {}
    for j, m in enumerate(resolved):
        sign = 1.0 if m.spec.higher_is_better else -1.0
        cands = [(sign * v, r.name) for r in rungs if r.eligible
                 and (v := r.values[j].value) is not None]
        # max() keeps the first of equal values: the lower, cheaper rung.
        best[m.id] = max(cands, key=lambda c: c[0])[1] if cands else None
    if scored and resolved and not any(r.eligible for r in rungs):
        warnings.append(f"no rung was scored on at least {min_items} items, so there is no "
                        "human-level baseline")

    per_annotator: dict[str, dict[str, float | None]] = {}
    annotator_items = {a: int(u.items.size) for a, u in single.items()}
    for a, u in single.items():
        if u.items.size:
            vals, _, _ = scorer.point(u)
            per_annotator[a] = {m.id: (float(v) if np.isfinite(v) else None)
                                for m, v in zip(resolved, vals, strict=True)}

    return HumanLevel(
        task=task, reference_kind=reference_kind, rungs=rungs, typical_human=_SINGLE,
        best=best, per_annotator=per_annotator, annotator_items=annotator_items,
        models=model_results, agreement=agreement, aggregate_labels=aggregate_labels,
        warnings=warnings, notes=notes, seed=seed, resamples=resamples, level=level,
    )


def _bootstrap(scorer: _Scorer, jobs: list[_Job], n_items: int, resamples: int,
               seed: int) -> list[FloatArray]:
    """Replicate values ``(n_metrics, resamples)`` per job; every job sees the same draws."""
    n_metrics = len(scorer.metrics)
    if resamples == 0 or not jobs:
        return [np.zeros((n_metrics, 0)) for _ in jobs]
    rng = np.random.default_rng([seed, 0])
    chunk = max(1, min(resamples, _CHUNK_CELLS // max(n_items, 1)))
    parts: list[list[FloatArray]] = [[] for _ in jobs]
    done = 0
    while done < resamples:
        r = min(chunk, resamples - done)
        counts = resample_counts(rng, n_items, r)
        for i, (u, vals, _, st) in enumerate(jobs):
            defined = [bool(np.isfinite(v)) for v in vals]
            if u.items.size == 0:
                parts[i].append(np.full((n_metrics, r), np.nan))
            else:
                parts[i].append(scorer.replicates(u, counts[:, u.items], st, defined))
        done += r
    return [np.concatenate(p, axis=1) for p in parts]
