"""Columns that must hold numbers (a regression label, a score, a weight) but were read as
text.

A CSV whose missing values are written ``NA`` (R's and many pandas exports' default) is
read by DuckDB as text, and the cast to a number failed with a conversion error whose
value was hidden (:func:`mlscope.sql.safe_error` hides values a query quotes). Here such a
column is settled before any cast: when every value that is not a number is a marker of a
missing value (``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``-``, in any case), those
are read as missing (and the missing-value checks then name them like any empty field);
otherwise the error names the file, the column, its role, how many values are not
numbers, an example and its row id, and the fix.
"""

from __future__ import annotations

import duckdb

from mlscope.data.checks import qi, ql
from mlscope.errors import InputError

__all__ = ["MISSING_WORDS", "numeric_sql"]

#: Text read as a missing value in a column that must hold numbers (compared in lower
#: case, blanks trimmed).
MISSING_WORDS = ("na", "n/a", "nan", "null", "none", "-", "#n/a", "<na>")


def numeric_sql(con: duckdb.DuckDBPyConnection, view: str, ref: str, column: str,
                sql_type: str, *, file_label: str, role: str, id_expr: str | None) -> str:
    """``CAST(ref.column AS DOUBLE)``, after checking that a text column holds numbers.

    Parameters
    ----------
    con, view
        The connection and the view (SQL, quoted) that holds ``column``: checked there.
    ref
        How the returned SQL names the relation (the view, or a join's alias of it).
    column
        The column's name.
    sql_type
        Its DuckDB type (``DESCRIBE``): anything but text is cast as it is.
    file_label, role
        The file and what the column is for, for the message.
    id_expr
        The row id as SQL on ``view``, for an example row in the message (None: not named).

    Raises
    ------
    InputError
        The column holds text that is neither a number nor a marker of a missing value.
    """
    out = f"{ref}.{qi(column)}"
    if sql_type.upper() != "VARCHAR":
        return f"CAST({out} AS DOUBLE)"
    expr = qi(column)
    words = ", ".join(ql(w) for w in MISSING_WORDS)
    bad = (f"{expr} IS NOT NULL AND lower(trim({expr})) NOT IN ({words}) "
           f"AND TRY_CAST({expr} AS DOUBLE) IS NULL")
    example_id = (f"min(CAST({id_expr} AS VARCHAR)) FILTER (WHERE {bad})" if id_expr
                  else "NULL")
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE {bad}), min({expr}) FILTER (WHERE {bad}), "
        f"{example_id} FROM {view}").fetchone()
    n_bad, example, example_row = (row or (0, None, None))
    if n_bad:
        where = f", row id {example_row}" if example_row is not None else ""
        raise InputError(
            f"{file_label}: column `{column}` ({role}) must hold numbers, but {n_bad:,} "
            f"value(s) are text, e.g. {str(example)[:40]!r}{where}. Fix: write numbers "
            "only, and leave a missing value empty (or write NA)")
    return f"CAST(CASE WHEN lower(trim({out})) IN ({words}) THEN NULL ELSE {out} END AS DOUBLE)"
