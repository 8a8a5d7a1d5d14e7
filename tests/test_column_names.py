"""A file whose column names differ only in case (or not at all) is refused: DuckDB matches
names without regard to case and renames the later column (`store` -> `store_1`), so a
charter naming `store` would read `STORE`, and `mlscope init` proposed `store_1`, which the
file does not have (found on ISLP's OJ with a `store` column beside `STORE`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

import mlscope
from mlscope.cli import main
from mlscope.data.source import file_columns, read_file
from mlscope.errors import InputError
from tests.conftest import base_charter, binary_frame


def _frame_with(extra: dict[str, object]) -> pd.DataFrame:
    df = binary_frame(n=300, seed=5)
    for name, values in extra.items():
        df[name] = values
    return df


def _charter(tmp_path: Path, table: str, slices: list[str]) -> Path:
    ch = base_charter(table=table)
    ch["slices"] = {"columns": slices, "min_size": 10}
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_names_equal_but_for_case_are_refused_with_both_names(tmp_path: Path,
                                                              suffix: str) -> None:
    df = _frame_with({"REGION": 1})  # beside `region`
    data = tmp_path / f"eval.{suffix}"
    df.to_parquet(data, index=False) if suffix == "parquet" else df.to_csv(data, index=False)
    charter = _charter(tmp_path, data.name, ["region"])
    res = CliRunner().invoke(main, ["evaluate", str(charter), "--resamples", "0"])
    assert res.exit_code == 2, res.output
    assert f"eval.{suffix} has two columns with names that differ only in case" in res.output
    assert "`region` and `REGION`" in res.output
    assert "`REGION_1`" in res.output  # what DuckDB would have called it
    assert "rename one of them" in res.output
    assert "Traceback" not in res.output
    with pytest.raises(InputError, match="differ only in case"):
        file_columns(data)


def test_a_csv_with_one_name_twice_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "log.csv"
    data.write_text("row_id,score,score\n1,0.2,0.3\n2,0.4,0.1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"two columns with the same name, `score` and "
                                         r"`score`.*`score_1`"):
        read_file(data, "log")


def test_init_refuses_instead_of_proposing_a_renamed_column(tmp_path: Path) -> None:
    df = _frame_with({"Device": "x"})  # beside `device`
    data = tmp_path / "eval.parquet"
    df.to_parquet(data, index=False)
    res = CliRunner().invoke(main, ["init", str(data), "--label", "label", "--yes",
                                    "--out", str(tmp_path / "mlscope.yaml")])
    assert res.exit_code == 2, res.output
    assert "`device` and `Device`" in res.output
    assert not (tmp_path / "mlscope.yaml").exists()


def test_a_real_column_named_like_a_renamed_one_is_read(tmp_path: Path) -> None:
    """`region` and `region_1` are two columns of the file: both are read as they are."""
    df = _frame_with({"region_1": np.where(np.arange(300) % 2 == 0, "a", "b")})
    data = tmp_path / "eval.parquet"
    df.to_parquet(data, index=False)
    result = mlscope.evaluate(_charter(tmp_path, data.name, ["region", "region_1"]),
                              resamples=0)
    slices = {v.slice for v in result.values}
    assert {"region=north", "region_1=a", "region_1=b"} <= slices


def test_a_nested_field_does_not_count_as_a_column(tmp_path: Path) -> None:
    """A struct's field named like a top-level column is not a second column."""
    df = _frame_with({})
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = pa.array([{"Region": "x", "region_2": 1}] * len(df))
    table = table.append_column("meta", meta).append_column(
        "region_2", pa.array(["u"] * len(df)))
    data = tmp_path / "eval.parquet"
    pq.write_table(table, data)
    assert "region_2" in file_columns(data)
    result = mlscope.evaluate(_charter(tmp_path, data.name, ["region"]), resamples=0)
    assert any(v.slice == "region=north" for v in result.values)
