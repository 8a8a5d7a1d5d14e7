"""The open and aggregate stages' cheaper paths decide and return exactly what the plain
ones did: unique integer ids (checked in NumPy), cell codes (counted, not sorted, and
narrow), rows per cell, and rows fetched narrow (FLOAT scores, one-byte codes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from mlscope.charter import load_charter
from mlscope.data.checks import check_unique
from mlscope.data.source import open_evaluation
from mlscope.engine.numpy_backend import (
    RowData,
    cell_codes,
    cell_counts,
    code_dtype,
    fetch_rows,
)
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.errors import InputError
from tests.conftest import base_charter, binary_frame

# ---------------------------------------------------------------------------------------
# check_unique: integer ids in NumPy, the same verdict and message as grouping by text
# ---------------------------------------------------------------------------------------


def _verdict(con: duckdb.DuckDBPyConnection, view: str) -> str | None:
    try:
        check_unique(con, view, f'"{view}"."id"', "eval.parquet", "id", "to name each row")
    except InputError as exc:
        return str(exc)
    return None


def _id_cases() -> list[tuple[str, str, list[int | None]]]:
    rng = np.random.default_rng(3)
    perm = [int(v) for v in rng.permutation(200)]
    wide = [int(v) * 1_000_003 for v in rng.permutation(300)]
    return [
        ("BIGINT", "dense", list(range(100))),
        ("BIGINT", "dense shuffled", perm),
        ("BIGINT", "dense, one repeat", [*perm, perm[17]]),
        ("BIGINT", "sparse ascending", sorted(wide)),
        ("BIGINT", "sparse shuffled", wide),
        ("BIGINT", "sparse, repeats", [*wide, wide[3], wide[3], wide[9]]),
        ("BIGINT", "huge and negative", [-(2**62), 2**62, 0, 5, -7]),
        ("BIGINT", "one missing", [None, *range(50)]),
        ("BIGINT", "two missing", [None, *range(50), None]),
        ("BIGINT", "more ids than values", [0, 1, 2, 1, 0, 2]),
        ("BIGINT", "empty", []),
        ("BIGINT", "one", [4]),
        ("TINYINT", "full range", list(range(-128, 128))),
        ("TINYINT", "full range, repeat", [*range(-128, 128), -128]),
        ("SMALLINT", "wide span", [-32768, 32767, 0, 1, 2]),
        ("INTEGER", "descending", list(range(500, 0, -1))),
        ("UTINYINT", "all", list(range(256))),
        ("UBIGINT", "top of range", [2**64 - 1, 2**63, 0, 2**64 - 2]),
        ("UBIGINT", "top of range, repeat", [2**64 - 1, 2**63, 2**64 - 1]),
        ("HUGEINT", "not NumPy's", [1, 2, 3, 2]),
        ("DOUBLE", "not an integer", [1.0, 2.0, 3.0]),  # type: ignore[list-item]
    ]


@pytest.mark.parametrize(("sql_type", "what", "ids"), _id_cases(),
                         ids=[f"{c[0]}-{c[1]}" for c in _id_cases()])
def test_integer_ids_as_grouping_by_text(sql_type: str, what: str,
                                         ids: list[int | None]) -> None:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE raw (id {sql_type})")
    if ids:
        con.executemany("INSERT INTO raw VALUES (?)", [[v] for v in ids])
    con.execute("CREATE VIEW typed AS SELECT id FROM raw")
    # The same ids as text take the query path, which groups by text: the reference.
    con.execute("CREATE VIEW texts AS SELECT CAST(id AS VARCHAR) AS id FROM raw")
    expected = _verdict(con, "texts")
    assert _verdict(con, "typed") == expected
    text_ids = [None if v is None else str(v) for v in ids]
    repeated = len(text_ids) != len(set(text_ids))
    assert (expected is not None) == repeated, what


# ---------------------------------------------------------------------------------------
# cell_codes and cell_counts
# ---------------------------------------------------------------------------------------


def _reference_codes(rows: RowData, g: Grouping, levels: list[list[str]]
                     ) -> tuple[np.ndarray[Any, Any], list[SliceCell]]:
    """The sort-based definition: unique codes in order, each row's rank among them."""
    n = rows.n
    if g.kind == "overall":
        return np.zeros(n, dtype=np.int64), [SliceCell(g, ())]
    if g.kind == "where":
        assert g.where is not None
        return np.where(rows.where[g.where], 0, -1), [SliceCell(g, ())]
    sizes = [len(levels[i]) for i in g.columns]
    code = np.zeros(n, dtype=np.int64)
    for i, size in zip(g.columns, sizes, strict=True):
        code = code * size + rows.codes[i]
    present = np.unique(code)
    cells = []
    for c in present:
        vals, rem = [], int(c)
        for i, size in reversed(list(zip(g.columns, sizes, strict=True))):
            vals.append(levels[i][rem % size])
            rem //= size
        cells.append(SliceCell(g, tuple(reversed(vals))))
    return np.searchsorted(present, code), cells


@pytest.mark.parametrize("sizes", [(4, 3), (300, 5), (2, 2), (700, 400)])
def test_cell_codes_match_the_sorting_definition(sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    n = 5_000
    levels = [[f"a{i}" for i in range(sizes[0])], [f"b{i}" for i in range(sizes[1])]]
    # Not every level or combination occurs: the cells are the ones present.
    codes = [rng.integers(0, max(1, s - 1), size=n) for s in sizes]
    rows = RowData(split="s", w=np.ones(n), y=np.zeros(n),
                   codes=[c.astype(np.int16) for c in codes],
                   where=[rng.random(n) < 0.3], scores=[], proba=[], errors={})
    groupings = [Grouping("overall"), Grouping("column", (0,)), Grouping("column", (1,)),
                 Grouping("cross", (0, 1)), Grouping("where", where=0)]
    for g in groupings:
        code, cells = cell_codes(rows, g, levels)
        ref, ref_cells = _reference_codes(rows, g, levels)
        assert cells == ref_cells
        np.testing.assert_array_equal(code, ref)
        # The narrowest type that holds every cell and -1.
        assert code.dtype == code_dtype(len(cells))
        np.testing.assert_array_equal(
            cell_counts(code, len(cells)),
            np.bincount(ref[ref >= 0], minlength=len(cells)))


def test_code_dtype_is_the_narrowest() -> None:
    assert [code_dtype(n) for n in (1, 127, 128, 32767, 32768, 2**31 - 1, 2**31)] == [
        np.int8, np.int8, np.int16, np.int16, np.int32, np.int32, np.int64]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_cell_counts_leave_out_rows_in_no_cell(dtype: Any) -> None:
    code = np.array([-1, 0, 2, 2, -1, 1, 2], dtype=dtype)
    assert cell_counts(code, 3).tolist() == [1, 1, 3]
    assert cell_counts(code, 4).tolist() == [1, 1, 3, 0]


# ---------------------------------------------------------------------------------------
# fetch_rows: narrow columns, the same values
# ---------------------------------------------------------------------------------------


def _open(tmp_path: Path, df: pd.DataFrame, **data: Any) -> Any:
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    charter = base_charter()
    charter["data"].update(data)
    (tmp_path / "charter.yaml").write_text(yaml.safe_dump(charter, sort_keys=False))
    return open_evaluation(load_charter(tmp_path / "charter.yaml"), tmp_path)


@pytest.mark.parametrize("weighted", [False, True])
def test_fetch_rows_narrow_and_exact(tmp_path: Path, weighted: bool) -> None:
    df = binary_frame(n=900, seed=5, grid=1000)
    df["p_good"] = df["p_good"].astype(np.float32)  # FLOAT in the file
    df["p_fair"] = (df["p_fair"] + 1e-9).astype(np.float64)  # DOUBLE, not a float32
    df["w"] = np.random.default_rng(1).random(len(df)) + 0.5
    t = _open(tmp_path, df, **({"weight": "w"} if weighted else {}))
    assert t.narrow == {"__s0": "FLOAT"}
    levels = [[str(r[0]) for r in t.con.execute(
        f"SELECT DISTINCT __c{i} FROM ev ORDER BY 1").fetchall()] for i in range(2)]
    splits = ["validation", "test", "train"]
    rows = fetch_rows(t, splits, levels)
    for split in splits:
        r = rows[split]
        ref = t.con.execute(
            "SELECT __w, CAST(__label AS DOUBLE) AS y, __s0, __s1, __s2, __p0 FROM ev "
            f"WHERE __split = '{split}'").fetchnumpy()
        np.testing.assert_array_equal(r.w, ref["__w"])
        np.testing.assert_array_equal(r.y, ref["y"])
        for m in range(3):
            assert r.scores[m].dtype == np.float64
            np.testing.assert_array_equal(r.scores[m], ref[f"__s{m}"])
        np.testing.assert_array_equal(r.where[0], ref["__p0"])
        assert all(c.dtype == np.int8 for c in r.codes)
        for i in range(2):
            labels = t.con.execute(
                f"SELECT __c{i} FROM ev WHERE __split = '{split}'").fetchnumpy()[f"__c{i}"]
            assert [levels[i][k] for k in r.codes[i]] == list(labels)
    # One split: every row, no selection.
    one = fetch_rows(t, ["test"], levels)["test"]
    np.testing.assert_array_equal(one.scores[0], rows["test"].scores[0])
    np.testing.assert_array_equal(one.w, rows["test"].w)
