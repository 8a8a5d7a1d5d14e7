"""Hostile data files: values the file's statistics hide, text booleans, duplicate ids and
files that are not what their name says. Every failure is exit 2 with a message naming the
file, the model, the split and an example id, and leaves the project folder unchanged."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner, Result

import mlscope
from mlscope.cli import main
from tests.conftest import base_charter, binary_frame
from tests.hostile.snapshot import assert_unchanged, snapshot

ENGINES = ["numpy", "duckdb", "binned", "spark"]
_ENGINE_ARGS = {"numpy": [], "duckdb": ["--engine", "duckdb"], "binned": ["--binned", "64"],
                "spark": ["--engine", "spark"]}


def _has_spark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    """One local Spark session for the module; the CLI's `--engine spark` reuses it."""
    if not _has_spark():
        pytest.skip("the Spark engine needs pyspark and Java 17+")
    from mlscope.data.spark_source import get_session

    session = get_session("local[1]")
    yield session
    session.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "spark":
        request.getfixturevalue("spark_session")
    return name


def write_arrow(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` with pyarrow directly: float NaN stays an IEEE NaN, not a null.

    ``DataFrame.to_parquet`` turns NaN into nulls; files from other tools keep NaN, and
    the Parquet statistics (min/max) of such a column leave the NaN out.
    """
    table = pa.table({c: pa.array(df[c].to_numpy(), from_pandas=False) for c in df.columns})
    pq.write_table(table, path)


def write_charter(folder: Path, charter: dict[str, Any]) -> Path:
    cpath = folder / "mlscope.yaml"
    cpath.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return cpath


def small_charter(table: str = "eval.parquet", **data: Any) -> dict[str, Any]:
    """The shared binary charter without slices and intervals, to keep each run short."""
    c = base_charter(table)
    c["data"] = {**c["data"], **data}
    c["slices"] = {"columns": ["region"], "min_size": 10}
    c["intervals"] = {"resamples": 0}
    return c


def regression_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 3, size=n)
    return pd.DataFrame({
        "row_id": np.arange(n),
        "label": y,
        "split": rng.choice(["validation", "test"], size=n),
        "region": rng.choice(["north", "south"], size=n),
        "p_good": y + rng.normal(0, 1, size=n),
        "p_fair": y + rng.normal(0, 2, size=n),
    })


def regression_charter() -> dict[str, Any]:
    return {
        "project": "hostile-regression", "task": "regression", "seed": 1,
        "data": {"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
                 "models": {"good": "p_good", "fair": "p_fair"}},
        "slices": {"columns": ["region"], "min_size": 10},
        "metrics": ["rmse", "mae"],
        "selection": {"rule": "satisficing", "optimize": "rmse"},
        "intervals": {"resamples": 0},
    }


def run_cli(cpath: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["run", str(cpath), "-q", *args])


def fails_cleanly(cpath: Path, *args: str) -> str:
    """Run and expect exit 2, one clear message, no traceback, no file touched."""
    before = snapshot(cpath.parent)
    r = run_cli(cpath, *args)
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output
    assert_unchanged(before, cpath.parent)
    return " ".join(r.output.split())  # the console wraps long lines


def _engine_args(engine: str) -> list[str]:
    return list(_ENGINE_ARGS[engine])


# ---------------------------------------------------------------------------------------
# Item 2: NaN, infinite and out-of-range values, read from the values
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@pytest.mark.parametrize("bad", ["nan", "inf", "1.5"])
def test_bad_score_behind_file_statistics_exits_2(tmp_path: Path, engine: str, bad: str) -> None:
    df = binary_frame()
    df.loc[10, "p_good"] = float(bad)
    write_arrow(df, tmp_path / "eval.parquet")
    msg = fails_cleanly(write_charter(tmp_path, small_charter()), *_engine_args(engine))
    assert "eval.parquet" in msg
    assert "model `good`" in msg
    assert "row id 10" in msg
    assert f"split {df.loc[10, 'split']}" in msg
    if bad == "1.5":
        assert "outside [0, 1]" in msg
    else:
        assert "NaN or infinite" in msg


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_nan_in_a_float_binary_label_exits_2(tmp_path: Path, engine: str) -> None:
    df = binary_frame()
    df["label"] = df["label"].astype(float)
    df.loc[10, "label"] = float("nan")
    write_arrow(df, tmp_path / "eval.parquet")
    msg = fails_cleanly(write_charter(tmp_path, small_charter()), *_engine_args(engine))
    assert "`label`" in msg
    assert "NaN" in msg
    assert "row id 10" in msg
    assert "multiclass" not in msg  # not "more than two values"


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_nan_weight_exits_2(tmp_path: Path, engine: str) -> None:
    df = binary_frame()
    df["w"] = 1.0
    df.loc[10, "w"] = float("nan")
    write_arrow(df, tmp_path / "eval.parquet")
    msg = fails_cleanly(write_charter(tmp_path, small_charter(weight="w")),
                        *_engine_args(engine))
    assert "weight" in msg
    assert "row id 10" in msg


@pytest.mark.parametrize("engine", ["numpy", "duckdb", "spark"], indirect=True)
@pytest.mark.parametrize("column", ["label", "p_good"])
def test_nan_in_regression_label_or_prediction_exits_2(
    tmp_path: Path, engine: str, column: str
) -> None:
    df = regression_frame()
    df.loc[10, column] = float("nan")
    write_arrow(df, tmp_path / "eval.parquet")
    msg = fails_cleanly(write_charter(tmp_path, regression_charter()), *_engine_args(engine))
    assert "NaN" in msg
    assert "row id 10" in msg
    if column == "p_good":
        assert "model `good`" in msg


# ---------------------------------------------------------------------------------------
# Item 7: labels stored as text true/false
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "spark"], indirect=True)
@pytest.mark.parametrize("form", ["True/False", "true/false", "TRUE/FALSE"])
def test_text_boolean_labels_read_as_0_1(tmp_path: Path, engine: str, form: str) -> None:
    df = binary_frame()
    pos, neg = form.split("/")
    (tmp_path / "i").mkdir()
    (tmp_path / "t").mkdir()
    df.to_parquet(tmp_path / "i" / "ints.parquet", index=False)
    text = df.assign(label=np.where(df["label"] == 1, pos, neg))
    text.to_parquet(tmp_path / "t" / "eval.parquet", index=False)
    want = mlscope.evaluate(write_charter(tmp_path / "i", small_charter("ints.parquet")))
    cpath = write_charter(tmp_path / "t", small_charter("eval.parquet"))
    r = run_cli(cpath, "-o", str(tmp_path / "out"), "--no-store", *_engine_args(engine))
    assert r.exit_code in (0, 1), r.output
    got = mlscope.evaluate(cpath, engine="spark" if engine == "spark" else "numpy")
    assert got.value("roc_auc", "good", split="test") == pytest.approx(
        want.value("roc_auc", "good", split="test"))


@pytest.mark.parametrize("form", ["true/false", "TRUE/FALSE"])
def test_text_boolean_labels_in_csv(tmp_path: Path, form: str) -> None:
    df = binary_frame()
    pos, neg = form.split("/")
    df.to_parquet(tmp_path / "ints.parquet", index=False)
    df.assign(label=np.where(df["label"] == 1, pos, neg)).to_csv(tmp_path / "eval.csv",
                                                                  index=False)
    want = mlscope.evaluate(write_charter(tmp_path, small_charter("ints.parquet")))
    got = mlscope.evaluate(write_charter(tmp_path, small_charter("eval.csv")))
    assert got.value("roc_auc", "good", split="test") == pytest.approx(
        want.value("roc_auc", "good", split="test"))


@pytest.mark.parametrize("stored", ["bool", "text"])
def test_positive_true_matches_booleans_in_any_case(tmp_path: Path, stored: str) -> None:
    """`positive: true` names the true rows, whether stored as booleans or as text."""
    df = binary_frame()
    df.to_parquet(tmp_path / "ints.parquet", index=False)
    flag = df["label"] == 1
    df.assign(label=flag if stored == "bool" else np.where(flag, "True", "False")).to_parquet(
        tmp_path / "eval.parquet", index=False)
    want = mlscope.evaluate(write_charter(tmp_path, small_charter("ints.parquet")))
    got = mlscope.evaluate(write_charter(tmp_path, small_charter(positive=True)))
    assert got.value("roc_auc", "good", split="test") == pytest.approx(
        want.value("roc_auc", "good", split="test"))


def test_yes_no_labels_still_need_positive(tmp_path: Path) -> None:
    df = binary_frame()
    df.assign(label=np.where(df["label"] == 1, "yes", "no")).to_parquet(
        tmp_path / "eval.parquet", index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter()))
    assert "data.positive" in msg


# ---------------------------------------------------------------------------------------
# Item 9: duplicate ids in one table
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "duckdb", "spark"], indirect=True)
def test_duplicate_ids_in_one_table_exit_2(tmp_path: Path, engine: str) -> None:
    df = binary_frame()
    df.loc[20, "row_id"] = 3
    df.loc[21, "row_id"] = 3
    df.loc[30, "row_id"] = 7
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter()), *_engine_args(engine))
    assert "eval.parquet" in msg
    assert "`row_id`" in msg
    assert "'3' appears 3 times" in msg
    assert "'7' appears 2 times" in msg
    assert "2 ids" in msg
    assert "unique" in msg


# ---------------------------------------------------------------------------------------
# Item 10: files that are not what their name says, and which file lacks the ids
# ---------------------------------------------------------------------------------------


def test_folder_named_parquet(tmp_path: Path) -> None:
    (tmp_path / "eval.parquet").mkdir()
    binary_frame().to_parquet(tmp_path / "eval.parquet" / "part-0.parquet", index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter()))
    assert "eval.parquet is a folder, not a file" in msg


@pytest.mark.parametrize("name", ["eval.csv", "eval.txt"])
def test_parquet_file_named_as_text(tmp_path: Path, name: str) -> None:
    binary_frame().to_parquet(tmp_path / name, index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter(name)))
    assert f"{name} is a Parquet file, not CSV" in msg
    assert "rename it to .parquet" in msg


def test_csv_file_named_parquet(tmp_path: Path) -> None:
    binary_frame().to_csv(tmp_path / "eval.parquet", index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter()))
    assert "eval.parquet is not a Parquet file" in msg
    assert "rename it to .csv" in msg


def test_spark_reads_the_magic_bytes_too(tmp_path: Path, spark_session: Any) -> None:
    binary_frame().to_parquet(tmp_path / "eval.csv", index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter("eval.csv")), "--engine", "spark")
    assert "eval.csv is a Parquet file, not CSV" in msg


def test_missing_predictions_name_the_predictions_file(tmp_path: Path) -> None:
    df = binary_frame()
    df[["row_id", "label", "split", "region"]].to_parquet(tmp_path / "labels.parquet",
                                                           index=False)
    df[["row_id", "p_good"]].to_parquet(tmp_path / "good.parquet", index=False)
    df[["row_id", "p_fair"]].drop(index=[5, 6, 7]).to_parquet(tmp_path / "fair.parquet",
                                                               index=False)
    c = small_charter()
    c["data"] = {"labels": "labels.parquet", "id": "row_id", "label": "label", "split": "split",
                 "predictions": {"good": {"path": "good.parquet", "score": "p_good"},
                                 "fair": {"path": "fair.parquet", "score": "p_fair"}}}
    msg = fails_cleanly(write_charter(tmp_path, c))
    assert "fair.parquet" in msg
    assert "labels.parquet" not in msg.split(":")[0]
    assert "model `fair`" in msg
    assert "3 of 600" in msg
    assert "row id 5" in msg


def test_predictions_file_nan_names_that_file(tmp_path: Path) -> None:
    df = binary_frame()
    df[["row_id", "label", "split", "region"]].to_parquet(tmp_path / "labels.parquet",
                                                           index=False)
    pred = df[["row_id", "p_good"]].copy()
    pred.loc[10, "p_good"] = float("nan")
    write_arrow(pred, tmp_path / "good.parquet")
    c = small_charter()
    c["data"] = {"labels": "labels.parquet", "id": "row_id", "label": "label", "split": "split",
                 "predictions": {"good": {"path": "good.parquet", "score": "p_good"}}}
    c["selection"] = {"rule": "satisficing", "optimize": "roc_auc"}
    msg = fails_cleanly(write_charter(tmp_path, c))
    assert msg.split()[1].startswith("good.parquet")
    assert "row id 10" in msg


def test_duckdb_errors_are_one_bounded_line(tmp_path: Path) -> None:
    df = binary_frame()
    df["p_good"] = df["p_good"].astype(str)
    df.loc[10, "p_good"] = "x" * 5000 + "\nsecret second line"
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    msg = fails_cleanly(write_charter(tmp_path, small_charter()))
    assert "secret" not in msg
    assert "x" * 400 not in msg
    assert len(msg) < 800


@pytest.mark.parametrize("mode", ["numpy", "binned"])
def test_engines_check_the_arrays_they_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Second line of defence: with the SQL row checks skipped, the engines still refuse
    a NaN score rather than compute metrics with it."""
    import mlscope.data.source as source

    def counts_only(t: Any, charter: Any, label: str, files: Any = None) -> None:
        t.n_rows = t.con.execute("SELECT count(*) FROM ev").fetchone()[0]
        t.splits = [r[0] for r in t.con.execute(
            "SELECT DISTINCT __split FROM ev ORDER BY 1").fetchall()]

    monkeypatch.setattr(source, "check_rows", counts_only)
    df = binary_frame()
    df.loc[10, "p_good"] = float("nan")
    write_arrow(df, tmp_path / "eval.parquet")
    cpath = write_charter(tmp_path, small_charter())
    with pytest.raises(mlscope.InputError) as info:
        mlscope.evaluate(cpath, binned=64 if mode == "binned" else None)
    msg = str(info.value)
    assert "model `good` score" in msg
    assert "row id 10" in msg
