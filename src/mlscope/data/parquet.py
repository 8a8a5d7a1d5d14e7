"""Parquet files read and written with DuckDB, so the core install needs no PyArrow.

pandas reads and writes Parquet only through PyArrow (170 MB installed) or fastparquet;
DuckDB, which mlscope needs anyway, does both itself. The examples' ``prepare.py`` scripts
write their evaluation tables with :func:`write_parquet`, and annotation files in Parquet
are read with :func:`read_parquet`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlscope.atomic import copy_atomic
from mlscope.data.checks import ql
from mlscope.data.source import read_file
from mlscope.sql import connect

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_parquet", "write_parquet"]


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a data frame to a Parquet file, atomically.

    Parameters
    ----------
    frame
        The table; its index is not written (as ``DataFrame.to_parquet(index=False)``).
    path
        The file to write. A reader sees the old file or the whole new one, never a part.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    con = connect()
    try:
        con.register("frame_to_write", frame.reset_index(drop=True))
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / target.name
            con.execute(f"COPY frame_to_write TO {ql(str(staged))} (FORMAT parquet)")
            return copy_atomic(staged, target)
    finally:
        con.close()


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a whole Parquet file into a data frame (on a sealed connection that may read
    only this file: :func:`mlscope.data.source.read_file`).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    pandas.DataFrame
        Its rows; text columns hold Python strings.

    Raises
    ------
    InputError
        The file is missing, not Parquet, or cannot be read (the message names it).
    """
    return read_file(Path(path), what="Parquet")
