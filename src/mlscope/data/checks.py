"""Checks of the user's data files, made on the values they hold, never on their metadata.

A data file from a pull request is untrusted input: its name may lie about its format,
and a Parquet file's statistics (per row group min/max) leave IEEE NaN out, or may be
written by hand. DuckDB's optimizer uses those statistics to fold conditions such as
``isnan(score)`` or ``score > 1`` to false before reading a row, so every check here runs
with the statistics-based optimizers turned off (:func:`values_not_statistics`).

Every failure is an :class:`~mlscope.errors.InputError` naming the file, the column, a
count, an example row id and the fix. This module also holds the SQL quoting helpers
(:func:`qi`, :func:`ql`), re-exported by :mod:`mlscope.data.source`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from mlscope.charter.schema import Charter
from mlscope.data.labels import AUTO_TRUE, FALSE_WORDS, TRUE_WORDS, binary_label_rule
from mlscope.data.table import EvalTable
from mlscope.errors import InputError, did_you_mean
from mlscope.sql import is_locked, is_masked, safe_error

__all__ = [
    "binary_label_sql",
    "check_covered",
    "check_rows",
    "check_splits",
    "check_time",
    "check_unique",
    "first_line",
    "not_finite_error",
    "qi",
    "ql",
    "raise_row_problems",
    "sniff_file",
    "time_sql",
    "values_not_statistics",
]

_PROBA_TOL = 1e-6  # multiclass rows may sum to 1 up to float rounding
# The optimizers that read file statistics: they may prove a condition false (or skip a row
# group) from min/max values that leave NaN out, so the checks run without them.
_STATS_OPTIMIZERS = ("statistics_propagation", "filter_pushdown", "row_group_pruner")


def qi(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def first_line(exc: BaseException) -> str:
    """One bounded line for a reader's or query's error, without the values it quotes.

    Readers' errors may quote a value from the user's file; :func:`mlscope.sql.safe_error`
    says what went wrong without copying the file into a CI log. A CSV value that does not
    read as its column's type (guessed from a sample of the file: an ``NA`` far down a
    column of numbers) is named by its line and column, with the fix, not its value.
    """
    text = str(exc)
    m = _CSV_CONVERSION.search(text)
    if m is not None:
        column = "".join(ch for ch in m.group("column") if ch.isprintable())[:80]
        return (f"line {m.group('line')}: a value of column `{column}` is not a "
                f"{m.group('type')}, the type guessed from a sample of the file. Fix: write "
                "missing values as empty fields (not NA or another word), and only values "
                "of one type in each column")
    return safe_error(exc)


# DuckDB's error for a CSV value that does not convert to its column's sniffed type.
_CSV_CONVERSION = re.compile(
    r"CSV Error on Line: (?P<line>\d+).*?Error when converting column \"(?P<column>[^\"\n]*)\"\."
    r".*?to '(?P<type>[A-Z0-9_]+)'", re.S)


@contextmanager
def values_not_statistics(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the enclosed queries with DuckDB's statistics-based optimizers off.

    The setting is restored afterwards, so that the metric queries keep them (they only
    run once the values are known to be valid, when the statistics are honest).
    """
    if is_locked(con):
        # Locked once open_evaluation has run every check with the optimizers off; a later
        # look-up (an engine's example row) still runs, only without that guarantee.
        yield
        return
    known = {str(r[0]) for r in con.execute("SELECT name FROM duckdb_optimizers()").fetchall()}
    off = [o for o in _STATS_OPTIMIZERS if o in known]
    row = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    before = str(row[0]) if row and row[0] is not None else ""
    merged = ",".join(dict.fromkeys([*filter(None, before.split(",")), *off]))
    con.execute(f"SET disabled_optimizers = {ql(merged)}")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = {ql(before)}")


def sniff_file(path: Path, kind: str) -> None:
    """Check that ``path`` is a file whose first bytes match ``kind`` (parquet or csv).

    A Parquet file starts with the magic bytes ``PAR1``; a reader given the wrong kind
    fails with an error about the bytes, not about the name.
    """
    if path.is_dir():
        raise InputError(
            f"{path.name} is a folder, not a file; point the charter at one Parquet or CSV "
            f"file (e.g. a file inside {path.name}/)"
        )
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise InputError(f"{path.name} is empty (0 bytes); export the data again")
    parquet = head[:4] == b"PAR1"
    if kind == "csv" and parquet:
        raise InputError(
            f"{path.name} is a Parquet file, not CSV (it starts with the Parquet magic bytes "
            f"PAR1): rename it to .parquet"
        )
    if kind == "parquet" and not parquet:
        hint = ""
        if head[:2] == b"\x1f\x8b":
            hint = "; it is gzip-compressed: if it holds CSV, rename it to .csv.gz"
        elif b"\0" not in head:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError:
                # A multi-byte character may be cut at the 4096th byte.
                if len(head.decode("utf-8", errors="ignore")) < len(head) - 4:
                    head = b""
            if head:
                hint = "; it looks like text/CSV: rename it to .csv"
        raise InputError(f"{path.name} is not a Parquet file (no PAR1 header){hint}")


def check_unique(
    con: duckdb.DuckDBPyConnection, view: str, idc: str, label: str, id_name: str, why: str
) -> None:
    """Every id of ``view`` must appear once: one aggregate query (two on failure).

    ``why`` says what the unique ids are needed for, in the message. Integer ids are
    checked on their values in NumPy (:func:`_unique_integers`), with no hash table of
    every id as text; the query below runs only when they repeat, for the message.
    """
    with values_not_statistics(con):
        if _unique_integers(con, view, idc):
            return
        dup = con.execute(
            f"SELECT CAST({idc} AS VARCHAR), count(*) FROM {qi(view)} GROUP BY 1 "
            "HAVING count(*) > 1 ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 3"
        ).fetchall()
        if not dup:
            return
        n_dup = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {qi(view)} GROUP BY {idc} HAVING count(*) > 1)"
        ).fetchone()
    shown = ", ".join(
        ("(missing)" if i is None else repr(i)) + f" appears {c} times" for i, c in dup)
    total = int(n_dup[0]) if n_dup else len(dup)
    raise InputError(
        f"{label}: column `{id_name}` (row id) must hold unique ids, but {total} ids appear "
        f"more than once: {shown}{', …' if total > len(dup) else ''}. Ids must be unique "
        f"{why}; remove the duplicate rows, or set `data.id` to a unique column"
    )


# Integer SQL types whose values NumPy holds exactly (HUGEINT would arrive as float64).
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
              "UBIGINT")
# A bitmap of the id range is used when the range spans at most this many slots per id
# (one byte each): ids numbered 0..n-1, or with gaps, need no sort.
_BITMAP_SPAN = 8


def _unique_integers(con: duckdb.DuckDBPyConnection, view: str, idc: str) -> bool:
    """Whether ``idc`` is an integer column whose values (and missing values) are all
    distinct; False when they repeat or the column is not an integer.

    Ids as text are unique exactly when the integers are, so this decides what the
    grouping by text in :func:`check_unique` would, at a fraction of its time and memory:
    one read of the column, then a bitmap of its range, an ordered check, or a sort.
    """
    desc = con.execute(f"DESCRIBE SELECT {idc} FROM {qi(view)}").fetchall()
    if len(desc) != 1 or str(desc[0][1]).upper() not in _INT_TYPES:
        return False
    col = con.execute(f"SELECT {idc} AS i FROM {qi(view)}").fetchnumpy()["i"]
    if is_masked(col):
        if int(np.count_nonzero(col.mask)) > 1:
            return False  # several missing ids: they group together as one repeated id
        ids = np.asarray(col.compressed())
    else:
        ids = np.asarray(col)
    n = int(ids.size)
    if n < 2:
        return True
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo + 1 < n:
        return False  # fewer possible values than ids
    if ids.dtype.kind in "iu" and hi - lo < _BITMAP_SPAN * n:
        seen = np.zeros(hi - lo + 1, dtype=np.bool_)
        if hi - lo > np.iinfo(ids.dtype).max:
            ids = ids.astype(np.int64)  # the offsets would not fit the ids' own type
        # In place: the fetched column is this function's own (no second row-sized array).
        ids -= ids.dtype.type(lo)
        seen[ids] = True
        return int(np.count_nonzero(seen)) == n
    if bool(np.all(ids[1:] > ids[:-1])):
        return True  # already ascending (row numbers, sorted keys): no sort needed
    ids = np.sort(ids)
    return not bool(np.any(ids[1:] == ids[:-1]))


def time_sql(expr: str, sql_type: str) -> str | None:
    """``expr`` (a column of type ``sql_type``) as an ordered time: dates, timestamps and
    numbers as they are, text parsed as a timestamp (NULL where it does not parse); None
    for any other type."""
    t = sql_type.upper()
    if t.startswith(("DATE", "TIMESTAMP")) or t in (
            "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE") or t.startswith("DECIMAL"):
        return expr
    if t == "VARCHAR":
        return f"TRY_CAST({expr} AS TIMESTAMP)"
    return None


def check_time(con: duckdb.DuckDBPyConnection, view: str, expr: str, sql_type: str,
               label: str, column: str, idc: str | None) -> None:
    """``data.time`` must hold dates, timestamps, numbers or text that reads as a timestamp
    (missing values are allowed: they are counted, and left out of the time ranges)."""
    fix = ("point `data.time` at a date or timestamp column (ISO text such as 2024-03-01 "
           "is read too), or a number such as a year or epoch seconds")
    t = time_sql(expr, sql_type)
    if t is None:
        raise InputError(f"{label}: column `{column}` (time, `data.time`) is {sql_type}; {fix}",
                         key=("data", "time"))
    if t == expr:
        return
    with values_not_statistics(con):
        row = con.execute(
            f"SELECT count(*), {f'min(CAST({idc} AS VARCHAR))' if idc else 'NULL'} "
            f"FROM {qi(view)} "
            f"WHERE {expr} IS NOT NULL AND {t} IS NULL").fetchone()
    if row is not None and row[0]:
        raise InputError(
            f"{label}: column `{column}` (time, `data.time`) has {row[0]} value(s) that do "
            f"not read as a date or timestamp"
            + (f" (e.g. row id {row[1]})" if row[1] is not None else "") + f"; {fix}",
            key=("data", "time"))


def check_covered(
    con: duckdb.DuckDBPyConnection, labels: str, idc: str, pred: str, pid: str,
    pred_label: str, model: str, labels_label: str,
) -> None:
    """Every labelled row needs a row in the model's predictions file (one anti-join)."""
    with values_not_statistics(con):
        row = con.execute(
            f"SELECT count(*), (SELECT count(*) FROM {qi(labels)}), min(CAST({idc} AS VARCHAR)) "
            f"FROM {qi(labels)} WHERE NOT EXISTS (SELECT 1 FROM {qi(pred)} WHERE {pid} = {idc})"
        ).fetchone()
    if row is not None and row[0]:
        raise InputError(
            f"{pred_label}: model `{model}` has no prediction for {row[0]} of {row[1]} rows of "
            f"{labels_label} (e.g. row id {row[2]}); add those ids to {pred_label}, or "
            "drop the rows from the labels file"
        )


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def binary_label_sql(
    con: duckdb.DuckDBPyConnection, file_label: str, lab: str, positive: Any, src: str,
    id_expr: str,
) -> str:
    """The SQL expression of a binary label as 0/1, after checking the column's values.

    0/1 (numbers or text) and true/false (booleans, or text in any case) are read without
    `data.positive`; any other two values need it.
    """
    label_name = lab.split(".")[-1].strip('"')
    with values_not_statistics(con):
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT {lab} FROM {qi(src)} ORDER BY 1 NULLS FIRST LIMIT 4"
        ).fetchall()]
        if any(_is_nan(v) for v in values):
            row = con.execute(
                f"SELECT count(*), min({id_expr}) FROM {qi(src)} WHERE isnan({lab})"
            ).fetchone()
            assert row is not None
            raise InputError(
                f"{file_label}: column `{label_name}` (label) is NaN in {row[0]} rows (e.g. row "
                f"id {row[1]}); drop those rows or fill the label"
            )
    kind, value = binary_label_rule(values, positive, file_label, label_name)
    text = f"CAST({lab} AS VARCHAR)"
    if kind == "equals":
        return f"CAST({text} = {ql(value)} AS INTEGER)"
    if kind == "equals-number":
        return f"CAST(CAST({lab} AS DOUBLE) = {value} AS INTEGER)"
    if kind == "boolean":
        return f"CAST({lab} AS INTEGER)"
    if kind == "number":
        return f"CAST(CAST({lab} AS DOUBLE) AS INTEGER)"
    # Text, or `positive: false`: its lower-case form ("True" cannot be cast to a number).
    words = AUTO_TRUE if kind == "text" else TRUE_WORDS if value == "true" else FALSE_WORDS
    return f"CAST(lower(trim({text})) IN ({', '.join(ql(v) for v in words)}) AS INTEGER)"


def check_splits(t: EvalTable, charter: Charter, label: str) -> None:
    """The selection split must be in the data; warn when the report split or the split
    column is missing (shared by every engine's data opener)."""
    sel = charter.selection.split or charter.splits.selection
    if sel not in t.splits:
        raise InputError(
            f"{label}: the selection split {sel!r} is not a value of the split column"
            f"{did_you_mean(sel, t.splits)} (values: {', '.join(t.splits)}); set "
            "`splits.selection` to the validation split's value", key=("splits", "selection")
        )
    rep = charter.splits.report
    if rep is not None and rep not in t.splits and charter.data.split is not None:
        t.warnings.append(
            f"the report split {rep!r} is not in the data (values: {', '.join(t.splits)}): "
            "only the selection split is reported, so its estimates are optimistic"
        )
    if charter.data.split is None:
        t.warnings.append(
            "no split column: every row is used for selection and there is no held-out test "
            "estimate; add a split column with validation and test rows"
        )


def _failing_slice(t: EvalTable) -> str:
    """``slice `name`: `` for the first predicate that fails on the data, else ``""``."""
    for i, name in enumerate(t.where):
        try:
            t.con.execute(f"SELECT count(*) FILTER (WHERE {t.where_col(i)}) FROM ev").fetchone()
        except duckdb.Error:
            return f"slice `{name}`: "
    return ""


def check_rows(
    t: EvalTable, charter: Charter, label: str, model_files: dict[str, str] | None = None
) -> None:
    """One aggregate pass over ``ev`` for every row-level check, on the values.

    ``model_files`` names the file each model's scores come from, when it is not ``label``
    (one predictions file per model).
    """
    files = model_files or {}
    aggs = ["count(*)"]
    # (file, what, sql condition for a bad row, message)
    checks: list[tuple[str, str, str, str]] = []
    range_cols: dict[int, str] = {}  # check index -> binary score column
    for m, name in enumerate(t.models):
        where = files.get(name, label)
        cols = (
            [(t.score_col(m, k), f"probability of class {c!r}") for k, c in enumerate(t.classes)]
            if t.task == "multiclass"
            else ([(t.score_col(m), "score")] if t.task != "errors" else [])
        )
        for c, what in cols:
            checks.append((
                where, f"model `{name}` {what}",
                f"{c} IS NULL OR isnan({c}) OR isinf({c})",
                "is missing, NaN or infinite",
            ))
            if t.task in ("binary", "multiclass") and (
                t.task == "multiclass" or t.score_type_of(m) == "probability"
            ):
                if t.task == "binary":
                    # The fix depends on what the values look like (see score_type_hint).
                    range_cols[len(checks)] = c
                # Finite values only: DuckDB orders NaN above every number, and a NaN or
                # infinite score has its own check above (it was reported twice).
                checks.append((
                    where, f"model `{name}` {what}",
                    f"isfinite({c}) AND ({c} < 0 OR {c} > 1)",
                    "is outside [0, 1] (probabilities expected)",
                ))
        if t.task == "multiclass":
            total = " + ".join(t.score_col(m, k) for k in range(len(t.classes)))
            checks.append((
                where, f"model `{name}` probabilities",
                f"abs(({total}) - 1) > {_PROBA_TOL}",
                "do not sum to 1 over the classes",
            ))
        for e, ename in enumerate(t.errors):
            c = t.error_col(e, m)
            checks.append((
                label, f"model `{name}` error `{ename}`",
                f"{c} IS NULL OR isnan({c}) OR isinf({c})",
                "is missing, NaN or infinite",
            ))
    if t.has_weight:
        checks.append((label, "weight", "__w IS NULL OR isnan(__w) OR isinf(__w) OR __w < 0",
                       "is missing, NaN, infinite or negative"))
    if t.task == "regression":
        checks.append((label, "label", "__label IS NULL OR isnan(__label) OR isinf(__label)",
                       "is missing, NaN or infinite"))
    if t.task == "multiclass":
        known = ", ".join(ql(c) for c in t.classes)
        checks.append((label, "label", f"__label IS NULL OR __label NOT IN ({known})",
                       f"is not one of the scored classes ({', '.join(t.classes)})"))
    # Every predicate is evaluated on every row here, in the same pass, so that a value it
    # cannot cast fails now as an InputError, not later inside an engine. The splits come
    # from the same pass (bytewise order, as SQL's ORDER BY gives them).
    counts = [f"count(*) FILTER (WHERE {cond})" for _, _, cond, _ in checks]
    preds = [f"count(*) FILTER (WHERE {t.where_col(i)})" for i in range(len(t.where))]
    # A first pass counts the bad rows only: an example row id per check (the smallest id
    # as text, made for every row) is looked for only when some row is bad.
    row = _one_row(t, label, [*aggs, *counts, *preds,
                              "list(DISTINCT __split) FILTER (WHERE __split IS NOT NULL)"])
    t.n_rows = int(row[0])
    if t.n_rows == 0:
        raise InputError(f"{label} has no rows")
    if any(row[1:1 + len(checks)]):
        for _, _, cond, _ in checks:
            aggs.append(f"count(*) FILTER (WHERE {cond})")
            aggs.append(f"min(__id) FILTER (WHERE {cond})")
            aggs.append(f"arg_min(__split, __id) FILTER (WHERE {cond})")
        _raise_bad_rows(t, label, checks, range_cols, _one_row(t, label, aggs))
    t.splits = sorted(str(s) for s in row[-1] or [])
    check_splits(t, charter, label)


def _one_row(t: EvalTable, label: str, aggs: list[str]) -> tuple[Any, ...]:
    """The one row of ``SELECT aggs FROM ev``, on the values (statistics off)."""
    try:
        with values_not_statistics(t.con):
            row = t.con.execute(f"SELECT {', '.join(aggs)} FROM ev").fetchone()
    except duckdb.Error as exc:
        raise InputError(f"cannot read {label}: {_failing_slice(t)}{first_line(exc)}") from None
    assert row is not None
    return tuple(row)


def _raise_bad_rows(t: EvalTable, label: str, checks: list[tuple[str, str, str, str]],
                    range_cols: dict[int, str], row: tuple[Any, ...]) -> None:
    """The error for every check of ``checks`` that some row of ``row`` (``count(*)``,
    then a count, an example id and its split per check) fails: one line each, so that
    one run of ``validate`` names them all (it named the first, and the next showed up
    only once that was fixed)."""
    con = t.con
    found: list[str] = []
    for i, (where, what, _, msg) in enumerate(checks):
        bad, example, split = row[1 + 3 * i], row[2 + 3 * i], row[3 + 3 * i]
        if bad:
            fix = "Fix the file; mlscope never guesses a value"
            if i in range_cols:
                c = range_cols[i]
                lo, hi = con.execute(
                    f"SELECT min({c}), max({c}) FROM ev WHERE isfinite({c})").fetchone() or (
                    None, None)
                fix = score_type_hint(float(lo or 0.0), float(hi or 0.0))
            found.append(f"{where}: {what} {msg} in {bad:,} of {t.n_rows:,} rows (e.g. row "
                         f"id {example}, split {split}). {fix}")
    raise_row_problems(found)


def raise_row_problems(found: list[str]) -> None:
    """Raise the row checks' problems ``found`` (each a whole message with its fix) as one
    :class:`~mlscope.errors.InputError`: the message itself when there is one, else a list
    whose ``parts`` ``validate`` shows one by one. Nothing when ``found`` is empty.

    Raises
    ------
    InputError
        When ``found`` is not empty.
    """
    if len(found) == 1:
        raise InputError(found[0])
    if found:
        raise InputError(f"{len(found)} problems in the rows:\n"
                         + "\n".join(f"  - {f}" for f in found), parts=tuple(found))


# Logits a model outputs rarely exceed this magnitude (expit(40) is already 1 − 4e-18);
# values far beyond it are some other score.
_LOGIT_LIKE = 100.0


def score_type_hint(lo: float, hi: float) -> str:
    """The fix for binary scores outside [0, 1], from their range ``[lo, hi]``.

    Values of both signs and moderate size look like logits (log-odds); anything else
    (all positive like percentages, or huge) is a score that only ranks rows.
    """
    shown = f"the scores run from {lo:.6g} to {hi:.6g}"
    if lo < 0 < hi and max(-lo, hi) <= _LOGIT_LIKE:
        return (f"Probabilities expected, but {shown}, which looks like logits (log-odds): "
                "if they are, set `data.score_type: logit`; for another real-valued score "
                "set `data.score_type: score` (ranking and threshold metrics only)")
    return (f"Probabilities expected, but {shown}, which does not look like probabilities "
            "or logits: set `data.score_type: score` to evaluate how they rank rows "
            "(ROC AUC, average precision, thresholds on the score scale), or give "
            "probabilities")


def not_finite_error(t: EvalTable, column: str, what: str) -> InputError:
    """The error for a missing, NaN or infinite value an engine met in ``column`` of ``ev``.

    The engines check the arrays they read as a second line of defence behind
    :func:`check_rows`; this finds the count and an example row for the message.
    """
    with values_not_statistics(t.con):
        row = t.con.execute(
            f"SELECT count(*), min(__id), arg_min(__split, __id) FROM ev "
            f"WHERE {column} IS NULL OR NOT isfinite({column})"
        ).fetchone()
    n, example, split = row if row is not None else (0, None, None)
    return InputError(
        f"{t.base_label}: {what} is missing, NaN or infinite in {n} of {t.n_rows} rows (e.g. "
        f"row id {example}, split {split}). Fix the file; mlscope never guesses a value"
    )
