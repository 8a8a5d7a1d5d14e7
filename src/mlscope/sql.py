"""Every DuckDB connection mlscope opens, hardened the same way, and safe error text.

A charter and its data files come from pull requests, so SQL built from them is treated as
hostile even after :mod:`mlscope.charter.predicate` has checked it (defence in depth):

* :func:`connect` opens a connection that never installs or loads an extension
  (``autoinstall_known_extensions``, ``autoload_known_extensions`` and
  ``allow_community_extensions`` are off) and draws no progress bar.
* :func:`seal` is called once the charter's files are registered: only those files stay
  readable (``allowed_paths``), every other file and network access is switched off
  (``enable_external_access = false``, one-way) and the configuration is locked
  (``lock_configuration = true``), so no later SQL can turn any of it back on.
  DataFrames registered on the connection (baselines) keep working.
* :func:`safe_error` turns a DuckDB error into one bounded line without the data values
  that conversion errors quote (a value cast from a file must never reach a CI log).
* :func:`is_masked` tells a fetched column with NULLs from one without.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import duckdb

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SAFE_CONFIG", "connect", "harden", "is_locked", "is_masked", "lock", "safe_error",
           "seal"]

#: Settings of every connection mlscope opens.
SAFE_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}

_MAX_ERROR = 200
# Errors whose text names the query's structure (columns, functions, files), not data.
_STRUCTURAL = ("Binder Error", "Catalog Error", "Parser Error", "Permission Error")
# Greedy, from the first quote to the last: a quoted value may itself hold quotes.
_QUOTED = re.compile(r"'.*'|'.*$|\".*\"|\".*$")
_VALUE = re.compile(r"\b(with value) \S+")


def connect(*, release_memory: bool = False) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with :data:`SAFE_CONFIG`.

    Parameters
    ----------
    release_memory
        Return the memory each query frees to the system at once. DuckDB's allocator
        otherwise keeps it for the next queries (it flushes only after a bulk free above
        512 MB), and NumPy cannot use it. For the ``duckdb`` engine, which aggregates in
        SQL to bound memory: at 10M rows its peak fell from 1.97 GiB to 1.60 GiB, at the
        cost of 46–56 s becoming 64–67 s (the pages are faulted in again by the next
        query). Off by default: in the in-memory engine it saved 80 MiB and cost 20% of
        the time.

    Returns
    -------
    duckdb.DuckDBPyConnection
        Not yet sealed: register the files, then call :func:`seal`.
    """
    config = dict(SAFE_CONFIG)
    if release_memory:
        config["allocator_bulk_deallocation_flush_threshold"] = "0MB"
    con = duckdb.connect(config=config)
    _no_progress_bar(con)
    return con


def harden(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Apply :data:`SAFE_CONFIG` to a connection opened elsewhere (e.g. by a caller)."""
    for key, value in SAFE_CONFIG.items():
        con.execute(f"SET {key} = {'true' if value else 'false'}")
    _no_progress_bar(con)
    return con


def _no_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    # DuckDB draws its own progress bar on stderr for long queries, even when stderr is
    # not a terminal; mlscope's CLI shows one progress bar for the whole evaluation.
    con.execute("SET enable_progress_bar = false")


def seal(con: duckdb.DuckDBPyConnection, files: Iterable[Path], *, locked: bool = True) -> None:
    """Keep ``files`` readable, switch off every other file access and lock the settings.

    Parameters
    ----------
    con
        A connection on which the charter's files are already registered as views (or
        attached read-only); the views read the files again at each query, so they stay
        in ``allowed_paths``.
    files
        The data files and database the charter names.
    locked
        Lock the configuration now. ``False`` leaves that to a later :func:`lock`, for the
        data checks that switch DuckDB's statistics-based optimizers off and on again
        (:func:`mlscope.data.checks.values_not_statistics`). File access is off either
        way, and DuckDB refuses to turn it back on or to widen ``allowed_paths``.
    """
    allowed = sorted({str(Path(f).resolve()) for f in files})
    if allowed:
        con.execute("SET allowed_paths = ?", [allowed])
    con.execute("SET enable_external_access = false")
    if locked:
        lock(con)


def lock(con: duckdb.DuckDBPyConnection) -> None:
    """Lock the connection's configuration: no later ``SET`` can change any setting."""
    con.execute("SET lock_configuration = true")


def is_locked(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether :func:`lock` has been called on ``con``."""
    row = con.execute("SELECT current_setting('lock_configuration')").fetchone()
    return bool(row and row[0])


def is_masked(values: object) -> TypeGuard[np.ma.MaskedArray[Any, Any]]:
    """Whether ``values``, a column from DuckDB's ``fetchnumpy``, is a
    ``numpy.ma.MaskedArray`` (DuckDB returns one for a column with NULLs).

    Without touching ``np.ma``: NumPy imports :mod:`numpy.ma` on its first mention (about
    20 ms, a tenth of a small evaluation's own time), and a masked array can only exist
    once something has imported it.
    """
    ma = sys.modules.get("numpy.ma")
    return ma is not None and isinstance(values, ma.MaskedArray)


def safe_error(exc: BaseException) -> str:
    """One bounded line for a DuckDB error, without the data values it may quote.

    Conversion and input errors quote the offending value (``Could not convert string
    '…' to INT32``); that value may come from any file a query read, so quoted text is
    replaced by ``'…'`` except in errors about the query's structure (an unknown column
    or function), whose quotes name the user's own columns. Only the first line is kept
    (later lines repeat the SQL or dump a CSV line), and control characters are dropped.
    """
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if not line.startswith(_STRUCTURAL):
        line = line.replace("can't", "cannot")  # not an opening quote
        line = _VALUE.sub(r"\1 …", _QUOTED.sub("'…'", line))
    line = "".join(ch if ch.isprintable() else " " for ch in line)
    return line if len(line) <= _MAX_ERROR else line[: _MAX_ERROR - 1] + "…"
