"""What a data file's columns are for: ``mlscope init``'s proposals.

:func:`read_sample` reads the first rows of a CSV or Parquet file; :func:`propose` looks
at each column's name, type and values and proposes the label, the task, the positive
class, the row id, the split column and its roles, the models' score columns and the
slices. What it cannot tell is returned as a :class:`Question` (the candidates and the
command-line flag that answers it) rather than guessed: ``mlscope init`` asks it on a
terminal, or stops with exit 2 naming the flag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mlscope.charter.template import InitTask, Proposal
from mlscope.data.checks import first_line, ql, sniff_file
from mlscope.data.columns import check_distinct_names
from mlscope.data.csv_types import csv_reader_sql
from mlscope.data.numeric import MISSING_WORDS
from mlscope.errors import InputError, did_you_mean
from mlscope.sql import connect

__all__ = ["Hints", "Question", "propose", "read_sample"]

SAMPLE_ROWS = 200_000  # enough to tell the roles apart; a bigger file is not read whole
LABEL_NAMES = ("label", "target", "y", "outcome", "class", "churn", "churned", "default",
               "fraud", "is_fraud", "purchase", "purchased", "bought", "response",
               "converted", "survived", "diagnosis", "truth", "ground_truth", "y_true")
SPLIT_NAMES = ("split", "fold", "partition", "subset", "set", "dataset", "sample")
ROLE_WORDS = {
    "selection": ("validation", "valid", "val", "dev", "development", "selection"),
    "report": ("test", "holdout", "hold_out", "report", "eval", "evaluation"),
    "train": ("train", "training"),
}
_SCORE = re.compile(r"^(?:p|pred|prediction|predicted|prob|proba|probability|score|yhat|"
                    r"y_pred|y_hat)_(?P<name>.+)$|^(?P<name2>.+?)_(?:p|pred|prediction|prob|"
                    r"proba|probability|score|yhat)$", re.I)
_POSITIVE = ("1", "true", "yes", "y", "positive", "pos")
MAX_CLASSES = 30
MAX_SLICE_LEVELS = 30
MAX_SLICES = 4


@dataclass
class Question:
    """A role ``propose`` could not decide, with the candidates and the flag that sets it."""

    role: str
    flag: str
    text: str
    candidates: list[str] = field(default_factory=list)


@dataclass
class Hints:
    """What the user already said (command-line flags or answers); ``None``: propose it."""

    label: str | None = None
    task: InitTask | None = None
    positive: str | None = None
    id: str | None = None
    split: str | None = None
    models: list[str] | None = None
    slices: list[str] | None = None
    metric: str | None = None


def read_sample(path: Path) -> pd.DataFrame:
    """The first rows of a CSV or Parquet file as a DataFrame.

    Raises
    ------
    InputError
        The path is missing, a folder, empty, of an unknown kind, unreadable, or holds
        fewer than two columns or no rows.
    """
    if not path.exists():
        raise InputError(f"data file not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file; give one CSV or Parquet file")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        sniff_file(path, "parquet")
        sql = f"SELECT * FROM read_parquet({ql(str(path))})"
    elif name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")):
        sniff_file(path, "csv")
        sql = ""  # read as the evaluation reads it: yes/no kept as words
    else:
        raise InputError(f"cannot read {path.name}: unknown file type `{path.suffix}`; give a "
                         "Parquet (.parquet) or CSV (.csv) file")
    con = connect()
    try:
        sql = sql or csv_reader_sql(con, path)
        df = con.execute(f"{sql} LIMIT {SAMPLE_ROWS}").df()
        check_distinct_names(con, path, [str(c) for c in df.columns])
    except InputError:
        raise
    except Exception as exc:  # DuckDB's errors have no common base worth naming
        raise InputError(f"cannot read {path.name}: {first_line(exc)}") from None
    finally:
        con.close()
    _numbers_with_missing_words(df)
    if df.shape[1] < 2:
        raise InputError(f"{path.name} has {df.shape[1]} column(s): a charter needs at least "
                         "a label column and one model's score column")
    if len(df) == 0:
        raise InputError(f"{path.name} has a header but no rows")
    return df


def _numbers_with_missing_words(df: pd.DataFrame) -> None:
    """Text columns that are numbers but for markers of missing values (``NA``: R's CSVs)
    become numbers with those missing, as the evaluation reads a label or score column
    (:mod:`mlscope.data.numeric`): a regression label with gaps is then proposed as one."""
    for c in df.columns:
        col = df[c]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
            continue
        words = col.astype(str).str.strip().str.lower().isin(MISSING_WORDS) & col.notna()
        if not words.any():
            continue
        num = pd.to_numeric(col.where(~words), errors="coerce")
        if int(num.notna().sum()) == int((col.notna() & ~words).sum()):
            df[c] = num


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def _is_float01(s: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(s):
        return False
    v = s.dropna()
    return len(v) > 0 and bool(((v >= 0) & (v <= 1)).all())


def _model_name(column: str) -> str:
    m = _SCORE.match(column)
    name = (m.group("name") or m.group("name2")) if m else column
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "model"


def _pick(role: str, flag: str, found: list[str], text: str) -> str | Question:
    if len(found) == 1:
        return found[0]
    which = f"candidates: {', '.join(found)}" if found else "no column looks like one"
    return Question(role, flag, f"{text} ({which})", found)


def _check_column(df: pd.DataFrame, column: str, flag: str) -> str:
    if column not in df.columns:
        cols = [str(c) for c in df.columns]
        raise InputError(f"{flag} {column}: no such column{did_you_mean(column, cols)} "
                         f"(columns: {', '.join(cols[:30])}{' ...' if len(cols) > 30 else ''})")
    return column


def _task(s: pd.Series) -> InitTask:
    v = s.dropna()
    n = v.nunique()
    if n == 2:
        return "binary"
    if pd.api.types.is_float_dtype(v) and not (v == v.round()).all():
        return "regression"
    if pd.api.types.is_numeric_dtype(v) and n > MAX_CLASSES:
        return "regression"
    return "multiclass"


def _positive(values: Sequence[Any]) -> Any | None:
    texts = {str(v).strip().lower(): v for v in values}
    hits = [texts[t] for t in _POSITIVE if t in texts]
    if len(hits) == 1:
        v = hits[0]
        return v.item() if hasattr(v, "item") else v
    return None


def _roles(values: list[str]) -> dict[str, str | None]:
    norm = {_norm(v): v for v in values}
    out: dict[str, str | None] = {}
    for role, words in ROLE_WORDS.items():
        out[role] = next((norm[w] for w in words if w in norm), None)
    if out["selection"] is None and out["report"] is not None:
        # Only train and test: the model is chosen on test, and nothing is left to report on.
        out["selection"], out["report"] = out["report"], None
    return out


def _multiclass_models(df: pd.DataFrame, classes: list[str], free: list[str]
                       ) -> dict[str, str | dict[str, str]]:
    per_model: dict[str, dict[str, str]] = {}
    for col in free:
        if not _is_float01(df[col]):
            continue
        for c in sorted(classes, key=len, reverse=True):
            if col.lower().endswith("_" + c.lower()):
                stem = col[: -len(c) - 1]
                per_model.setdefault(_model_name(stem), {})[c] = col
                break
    return {m: cols for m, cols in per_model.items() if set(cols) == set(classes)}


def _named_by_scores(df: pd.DataFrame, cols: list[str]) -> list[str]:
    """The columns of 3 to 30 values for which some model has one ``<model>_<value>``
    probability column per value: a multiclass label, told by its models' columns."""
    out = []
    for c in cols:
        values = df[c].dropna().unique()
        if not 3 <= len(values) <= 30 or pd.api.types.is_float_dtype(df[c]):
            continue
        if _multiclass_models(df, [str(v) for v in values], [x for x in cols if x != c]):
            out.append(c)
    return out


def propose(df: pd.DataFrame, hints: Hints, *, project: str, table: str
            ) -> tuple[Proposal | None, list[Question]]:
    """Propose a charter for the columns of ``df``.

    Parameters
    ----------
    df
        The data (a sample of its first rows is enough).
    hints
        Roles already given; a role given is never second-guessed, only checked to exist.
    project, table
        The project's name and the data file as the charter will write it.

    Returns
    -------
    (Proposal or None, list of Question)
        The proposal when every role is decided, else ``None`` and the questions to ask
        (answer them in ``hints`` and call again).

    Raises
    ------
    InputError
        A hint names a column the data does not have, or a value that cannot be used.
    """
    cols = [str(c) for c in df.columns]
    df = df.set_axis(cols, axis=1)
    notes: dict[str, str] = {}
    questions: list[Question] = []

    # The label: a named hint, else the one column named like a label.
    if hints.label is not None:
        label: str | Question = _check_column(df, hints.label, "--label")
    else:
        named = [c for c in cols if _norm(c) in LABEL_NAMES]
        why = "named like a label"
        if not named:
            # No name gives it away: the column whose values name each model's
            # probability columns (`lr_Bad`, `lr_Good`, `lr_Medium` for Bad, Good, Medium).
            named, why = _named_by_scores(df, cols), "its values name the models' columns"
        label = _pick("label", "--label", named, "which column is the label?")
        if isinstance(label, str):
            notes["label"] = f"proposed: {why}; check it"
    if isinstance(label, Question):
        return None, [label]

    # The id: unique per row and named like one.
    if hints.id is not None:
        row_id: str | None = _check_column(df, hints.id, "--id")
    else:
        ids = [c for c in cols if c != label and (_norm(c) in ("id", "key", "row", "uid")
               or _norm(c).endswith("_id") or _norm(c).startswith("id_"))
               and df[c].notna().all() and df[c].is_unique
               and not pd.api.types.is_float_dtype(df[c])]
        row_id = ids[0] if len(ids) == 1 else None
        if row_id:
            notes["id"] = "unique per row"

    # The split: a column whose values are split names (train, validation, test).
    roles: dict[str, str | None] = {"selection": "all", "report": None, "train": None}
    if hints.split is not None:
        split: str | None = _check_column(df, hints.split, "--split")
    else:
        found = []
        for c in cols:
            if c in (label, row_id) or df[c].nunique() > 10:
                continue
            words = {_norm(v) for v in df[c].dropna().astype(str).unique()}
            known = {w for ws in ROLE_WORDS.values() for w in ws}
            if len(words) >= 2 and words <= known:
                found.append(c)
        if len(found) > 1:
            named = [c for c in found if _norm(c) in SPLIT_NAMES]
            found = named or found
        picked = _pick("split", "--split", found, "which column says the split?")
        if isinstance(picked, Question) and picked.candidates:
            questions.append(picked)
        split = picked if isinstance(picked, str) else None
        if split:
            notes["split"] = "its values name splits"
    if split is not None:
        values = [str(v) for v in df[split].dropna().unique()]
        roles = _roles(values)
        if roles["selection"] is None:
            raise InputError(
                f"the values of the split column `{split}` ({', '.join(values[:10])}) name no "
                "validation or test split; pass --split of a column whose values include "
                "validation (or valid, dev) or test, or leave the split out")

    # The task, from the label's values.
    y = df[label]
    if y.dropna().nunique() < 2:
        raise InputError(f"the label `{label}` has {y.dropna().nunique()} distinct value(s) "
                         "in the data: there is nothing to predict; pass --label COLUMN")
    task: InitTask = hints.task or _task(y)
    if hints.task is None:
        notes["task"] = f"proposed from the {y.dropna().nunique()} distinct label values"
    positive: Any = None
    if task == "binary":
        values = sorted(y.dropna().unique().tolist(), key=str)
        if hints.positive is not None:
            by_text = {str(v): v for v in values}
            if hints.positive not in by_text:
                raise InputError(f"--positive {hints.positive}: the label `{label}` takes "
                                 f"the values {', '.join(by_text)}; pass one of them")
            positive = by_text[hints.positive]
        else:
            positive = _positive(values)
            if positive is None:
                shown = [str(v) for v in values]
                questions.append(Question(
                    "positive", "--positive", f"which value of `{label}` is the positive "
                    f"class? (values: {', '.join(shown)})", shown))
            else:
                notes["positive"] = "the positive class"
        positive = positive.item() if hasattr(positive, "item") else positive

    # The models' score columns.
    taken = {label, row_id, split}
    free = [c for c in cols if c not in taken]
    models: dict[str, str | dict[str, str]] = {}
    classes = [str(v) for v in y.dropna().unique()] if task == "multiclass" else []
    if hints.models is not None:
        for entry in hints.models:
            name, _, col = entry.partition("=")
            if task == "multiclass":
                found_mc = _multiclass_models(df, classes, free)
                if name not in found_mc:
                    raise InputError(f"--models {name}: no probability column per class "
                                     f"named `<model>_<class>` for it (classes: "
                                     f"{', '.join(classes)})")
                models[name] = found_mc[name]
            else:
                # `name=column`, or a column whose model name is derived from it.
                given = bool(col)
                col = _check_column(df, col or name, "--models")
                models[name if given else _model_name(col)] = col
    elif task == "multiclass":
        models = _multiclass_models(df, classes, free)
    else:
        numeric = [c for c in free if pd.api.types.is_float_dtype(df[c])]
        named = [c for c in numeric if _SCORE.match(c)]
        if task == "binary" and not named:
            # Unnamed: only probabilities are taken for scores (a float feature is not).
            named = [c for c in numeric if _is_float01(df[c])]
        models = {_model_name(c): c for c in named}
    if not models:
        questions.append(Question(
            "models", "--models", "which columns are the models' scores? (none looks like "
            "one: name them p_<model> or <model>_score)", []))
    elif hints.models is None:
        notes["models"] = "proposed: score columns; rename the models as you like"
    score_cols = [c for v in models.values() for c in ([v] if isinstance(v, str)
                                                       else list(v.values()))]
    score_type: Literal["probability", "score"] = "probability"
    if task == "binary" and not all(_is_float01(df[c]) for c in score_cols):
        score_type = "score"

    # Slices: text columns with a few values.
    if hints.slices is not None:
        slices = [_check_column(df, c, "--slices") for c in hints.slices]
    else:
        cands = [c for c in free if c not in score_cols
                 and not pd.api.types.is_numeric_dtype(df[c])
                 and 2 <= df[c].nunique() <= MAX_SLICE_LEVELS]
        slices = sorted(cands, key=lambda c: df[c].nunique())[:MAX_SLICES]
        slices = [c for c in cols if c in slices]

    if questions:
        return None, questions
    return Proposal(project=project, table=table, task=task, label=label, models=models,
                    id=row_id, split=split, positive=positive, split_roles=roles,
                    score_type=score_type, slices=slices, metric=hints.metric,
                    notes=notes), []
