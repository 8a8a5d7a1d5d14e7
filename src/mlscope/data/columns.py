"""Column names that DuckDB cannot tell apart: two columns of a file whose names differ only
in case (``STORE`` and ``store``) or not at all.

DuckDB matches names without regard to case and renames the later of two such columns
(``store`` becomes ``store_1``), so a charter that names ``store`` would read ``STORE``, and
``mlscope init`` would propose a column the file does not have. A file like that is refused
with both names and the fix, before anything reads its rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from mlscope.data.checks import ql
from mlscope.errors import InputError

__all__ = ["check_distinct_names"]

# How DuckDB renames the later of two equal names: the name, an underscore, a number.
_RENAMED = re.compile(r"^(.+)_(\d+)$")


def check_distinct_names(con: duckdb.DuckDBPyConnection, path: Path,
                         columns: list[str]) -> None:
    """Raise when ``path`` has two columns whose names are equal but for case.

    Parameters
    ----------
    con
        A connection that may read ``path``.
    path
        A Parquet or CSV file.
    columns
        The column names DuckDB gives the file (its ``DESCRIBE``): the file's own header
        is read only when one of them looks like a renamed duplicate (``<name>_<n>`` beside
        a column ``<name>`` in any case), so other files cost nothing more.

    Raises
    ------
    InputError
        Naming the file, both columns and the fix.
    """
    lowered = {c.lower() for c in columns}
    if not any((m := _RENAMED.match(c)) is not None and m.group(1).lower() in lowered
               for c in columns):
        return
    seen: dict[str, str] = {}
    for name in _header(con, path):
        first = seen.get(name.lower())
        if first is None:
            seen[name.lower()] = name
        else:
            same = ("the same name" if first == name
                    else "names that differ only in case")
            raise InputError(
                f"{path.name} has two columns with {same}, `{first}` and `{name}`: column "
                "names are matched without regard to case, so the two cannot be told apart "
                f"(the second would be read as a column `{_renamed(name, columns)}` the file "
                "does not have). Fix: rename one of them in the file")


def _renamed(name: str, columns: list[str]) -> str:
    """What DuckDB calls the later column ``name`` (the first ``name_<n>`` it lists)."""
    for c in columns:
        m = _RENAMED.match(c)
        if m is not None and m.group(1).lower() == name.lower():
            return c
    return name


def _header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The file's own top-level column names, as written (duplicates kept)."""
    p = ql(str(path))
    if path.suffix.lower() in (".parquet", ".pq"):
        # The schema in depth-first order: the root, then each column with its children.
        rows = con.execute(f"SELECT name, num_children FROM parquet_schema({p})").fetchall()
        names: list[str] = []
        i = 1
        while i < len(rows):
            names.append(str(rows[i][0]))
            pending = int(rows[i][1] or 0)  # a nested column's fields follow it: skipped
            i += 1
            while pending > 0 and i < len(rows):
                pending += int(rows[i][1] or 0) - 1
                i += 1
        return names
    # A CSV's header as the first row of values (same dialect as the reader sniffs).
    row = con.execute(f"SELECT * FROM read_csv({p}, header=false, all_varchar=true) LIMIT 1"
                      ).fetchone()
    return [] if row is None else [str(v) for v in row]
