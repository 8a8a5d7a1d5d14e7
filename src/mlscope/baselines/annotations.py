"""Loading annotators' labels into the long (item, annotator, label) frame.

Reads CSV/Parquet files or DataFrames in long or wide layout, checks them and removes duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlscope.data.parquet import read_parquet
from mlscope.errors import InputError, did_you_mean

__all__ = ["as_text", "clean_long", "load_annotations", "missing_column"]


_WHOLE_FLOAT_TEXT = re.compile(r"^(-?\d+)\.0+$")


def as_text(v: Any) -> str:
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


def missing_column(column: str, role: str, where: str, columns: Sequence[str],
                    fix: str) -> InputError:
    """The error for a column that is not in a table, with a "did you mean" hint.

    Parameters
    ----------
    column, role, where
        The missing column, its role (``item``, ``annotator``, ``label``) and the table.
    columns
        The table's columns, some of which are listed in the message.
    fix
        What the user should do, appended to the message.

    Returns
    -------
    InputError
        The error to raise.
    """
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
        return read_parquet(path)
    raise InputError(
        f"cannot read {path.name}: unknown file type `{path.suffix}`; "
        "use a Parquet (.parquet) or CSV (.csv) file"
    )


def clean_long(df: pd.DataFrame, where: str, names: Mapping[str, str],
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
        "item": [as_text(v) for v in df["item"]],
        "annotator": [as_text(v) for v in df["annotator"]],
        "label": df["label"].to_numpy(dtype=object),
    })
    text = pd.Series([as_text(v) for v in out["label"]], index=out.index)
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
        allowed = [as_text(c) for c in classes]
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
    """Read annotations into the long frame :func:`~mlscope.baselines.ladder.human_ladder` takes.

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
        raise missing_column(item, "item", where, have, "pass `item=` the item id column")
    if layout == "long":
        for role, col in (("annotator", annotator), ("label", label)):
            if col is None:
                raise InputError(f"{where}: a long layout needs the {role} column; pass `{role}=`")
            if col not in df.columns:
                raise missing_column(col, role, where, have, f"pass `{role}=` the {role} column")
        assert annotator is not None
        assert label is not None
        frame = pd.DataFrame({"item": df[item], "annotator": df[annotator], "label": df[label]})
        names = {"item": item, "annotator": annotator, "label": label}
    elif layout == "wide":
        cols = list(columns) if columns is not None else [c for c in have if c != item]
        for col in cols:
            if col not in df.columns:
                raise missing_column(col, "annotator", where, have,
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
    return clean_long(frame, where, names, classes)
