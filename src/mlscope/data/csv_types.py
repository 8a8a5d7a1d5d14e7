"""How a CSV file is read: DuckDB's type sniffing, except that words are kept as written.

DuckDB's CSV sniffer reads a column of ``yes``/``no`` (or ``t``/``f``, ``Yes``/``No``) as
BOOLEAN, so the file's words were lost: a slice on such a column showed ``true`` and
``false``; ``data.positive: "yes"`` was refused with "the column holds False, True"; and a
production log in CSV disagreed with a reference read from Parquet (``yes`` against
``true``: every window alerted on a shift that was not there). Here a column the sniffer
calls BOOLEAN stays BOOLEAN only when its text is ``true``/``false`` (any case, as pandas
and most tools write booleans); any other BOOLEAN column is read as text. Binary labels
read the same words as before (:data:`~mlscope.data.checks.TRUE_WORDS`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mlscope.data.checks import qi, ql

__all__ = ["csv_reader_sql"]

# The text of a column that is read as BOOLEAN (lower case, blanks trimmed).
_BOOLEAN_TEXT = frozenset({"true", "false"})


def csv_reader_sql(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """``SELECT * FROM read_csv(...)`` of ``path``, with every column the sniffer reads as
    BOOLEAN but whose text is not ``true``/``false`` read as VARCHAR.

    The file is read once more, as text, only when the sniffer found a BOOLEAN column.

    Raises
    ------
    duckdb.Error
        The file cannot be read (the caller names it).
    """
    p = ql(str(path))
    plain = f"SELECT * FROM read_csv({p}, header=true)"
    booleans = [str(r[0]) for r in con.execute(f"DESCRIBE {plain}").fetchall()
                if str(r[1]).upper() == "BOOLEAN"]
    if not booleans:
        return plain
    # Each such column's distinct words, read as text (a NULL is no word).
    words = ", ".join(f"list(DISTINCT lower(trim({qi(c)})))" for c in booleans)
    row = con.execute(
        f"SELECT {words} FROM read_csv({p}, header=true, all_varchar=true)").fetchone()
    as_text = [c for c, seen in zip(booleans, row or [], strict=False)
               if not {w for w in (seen or []) if w is not None} <= _BOOLEAN_TEXT]
    if not as_text:
        return plain
    types = ", ".join(f"{ql(c)}: 'VARCHAR'" for c in as_text)
    return f"SELECT * FROM read_csv({p}, header=true, types={{{types}}})"

