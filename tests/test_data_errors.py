"""Bad data gets a clear InputError naming the file, column, value and fix."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlscope.charter.schema import Charter
from mlscope.data.source import open_evaluation
from mlscope.errors import InputError
from tests.conftest import base_charter, binary_frame


def _open(tmp_path: Path, df: pd.DataFrame, name: str = "eval.parquet", **data: Any) -> Any:
    path = tmp_path / name
    if name.endswith(".csv"):
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    c = base_charter(name)
    c["data"] = {**c["data"], **data}
    return open_evaluation(Charter.model_validate(c), tmp_path)


def _raises(match: str, tmp_path: Path, df: pd.DataFrame, **kw: Any) -> str:
    with pytest.raises(InputError, match=match) as info:
        _open(tmp_path, df, **kw)
    return str(info.value)


def test_misspelt_label_column_suggests_the_right_one(tmp_path: Path) -> None:
    msg = _raises("labl", tmp_path, binary_frame(), label="labl")
    assert "did you mean `label`" in msg
    assert "eval.parquet" in msg


def test_misspelt_score_column(tmp_path: Path) -> None:
    msg = _raises("p_god", tmp_path, binary_frame(), models={"good": "p_god"})
    assert "did you mean `p_good`" in msg


def test_labels_not_binary(tmp_path: Path) -> None:
    df = binary_frame()
    df.loc[:5, "label"] = 2
    msg = _raises("more than two values", tmp_path, df)
    assert "multiclass" in msg


def test_text_labels_need_positive(tmp_path: Path) -> None:
    df = binary_frame()
    df["label"] = np.where(df.label == 1, "Yes", "No")
    msg = _raises("which one is positive", tmp_path, df)
    assert "data.positive" in msg
    t = _open(tmp_path, df, positive="Yes")
    assert t.n_rows == len(df)


def test_scores_outside_unit_interval_suggest_a_score_type(tmp_path: Path) -> None:
    df = binary_frame()
    df.loc[3, "p_fair"] = 1.7
    msg = _raises(r"outside \[0, 1\]", tmp_path, df)
    # No negative values: not logits (tests/test_logit_scores.py has the logit case).
    assert "score_type: score" in msg
    assert "score_type: logit" not in msg
    assert "fair" in msg
    assert "row id 3" in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_nan_or_infinite_scores(tmp_path: Path, bad: float) -> None:
    df = binary_frame()
    df.loc[10, "p_good"] = bad
    msg = _raises("missing, NaN or infinite", tmp_path, df)
    assert "1 of 600 rows" in msg


def test_every_bad_column_is_named_at_once(tmp_path: Path) -> None:
    """Smarket with a NaN in one model's scores and a 1.3 in another's: the error named the
    first only, and the NaN counted as "outside [0, 1]" too (DuckDB orders NaN above every
    number). Now each problem once, all in one error, and `validate` lists them apart."""
    from mlscope.data.inspect import inspect_data

    df = binary_frame()
    df.loc[10, "p_good"] = np.nan
    df.loc[3, "p_fair"] = 1.7
    with pytest.raises(InputError) as info:
        _open(tmp_path, df)
    exc = info.value
    assert str(exc).startswith("2 problems in the rows:\n  - ")
    assert len(exc.parts) == 2
    assert "model `good` score is missing, NaN or infinite in 1 of 600 rows" in exc.parts[0]
    assert "model `fair` score is outside [0, 1]" in exc.parts[1]
    assert not any("`good` score is outside" in p for p in exc.parts)
    c = base_charter("eval.parquet")
    problems, table = inspect_data(Charter.model_validate(c), tmp_path)
    assert table is None
    assert [p.message for p in problems] == list(exc.parts)


def test_bad_slice_predicate(tmp_path: Path) -> None:
    df = binary_frame()
    path = tmp_path / "eval.parquet"
    df.to_parquet(path, index=False)
    c = base_charter("eval.parquet")
    c["slices"] = {**c["slices"], "where": {"rich": "balanse >> 2000"}}
    with pytest.raises(InputError, match="slice `rich`"):
        open_evaluation(Charter.model_validate(c), tmp_path)


def test_duplicate_ids_in_long_table(tmp_path: Path) -> None:
    df = binary_frame(n=50)
    long = pd.concat([
        df.assign(model=m, score=df[f"p_{m}"]) for m in ("good", "fair")
    ]).drop(columns=["p_good", "p_fair", "p_weak"])
    long = pd.concat([long, long.iloc[[0]]])
    path = tmp_path / "long.parquet"
    long.to_parquet(path, index=False)
    c = base_charter("long.parquet")
    c["data"] = {k: v for k, v in c["data"].items() if k != "models"}
    c["data"]["long"] = {"model_column": "model", "score": "score"}
    with pytest.raises(InputError, match="appears 2 times"):
        open_evaluation(Charter.model_validate(c), tmp_path)


def test_long_table_equals_wide(tmp_path: Path) -> None:
    df = binary_frame(n=200)
    long = pd.concat([
        df.assign(model=m, score=df[f"p_{m}"]) for m in ("good", "fair")
    ]).drop(columns=["p_good", "p_fair", "p_weak"])
    path = tmp_path / "long.parquet"
    long.to_parquet(path, index=False)
    c = base_charter("long.parquet")
    c["data"] = {k: v for k, v in c["data"].items() if k != "models"}
    c["data"]["long"] = {"model_column": "model", "score": "score"}
    t = open_evaluation(Charter.model_validate(c), tmp_path)
    assert t.models == ["fair", "good"]
    got = t.con.execute("SELECT __id, __s1 FROM ev ORDER BY CAST(__id AS INTEGER)").fetchall()
    assert [g[1] for g in got] == pytest.approx(df.p_good.tolist())


def test_labels_plus_prediction_files(tmp_path: Path) -> None:
    df = binary_frame(n=120)
    df.drop(columns=["p_good", "p_fair", "p_weak"]).to_csv(tmp_path / "labels.csv", index=False)
    for m in ("good", "fair"):
        df[["row_id", f"p_{m}"]].sample(frac=1, random_state=1).to_parquet(
            tmp_path / f"{m}.parquet", index=False)
    c = base_charter("x")
    c["data"] = {"labels": "labels.csv", "id": "row_id", "label": "label", "split": "split",
                 "predictions": {m: {"path": f"{m}.parquet", "score": f"p_{m}"}
                                 for m in ("good", "fair")}}
    t = open_evaluation(Charter.model_validate(c), tmp_path)
    got = t.con.execute("SELECT __s0 FROM ev ORDER BY CAST(__id AS INTEGER)").fetchall()
    assert [g[0] for g in got] == pytest.approx(df.p_good.tolist())


def test_missing_prediction_rows_are_an_error(tmp_path: Path) -> None:
    df = binary_frame(n=120)
    df.drop(columns=["p_good", "p_fair", "p_weak"]).to_csv(tmp_path / "labels.csv", index=False)
    df[["row_id", "p_good"]].iloc[:-3].to_parquet(tmp_path / "good.parquet", index=False)
    c = base_charter("x")
    c["data"] = {"labels": "labels.csv", "id": "row_id", "label": "label", "split": "split",
                 "predictions": {"good": {"path": "good.parquet", "score": "p_good"}}}
    with pytest.raises(InputError, match="3 of 120 rows"):
        open_evaluation(Charter.model_validate(c), tmp_path)


def test_missing_file_and_unknown_type(tmp_path: Path) -> None:
    c = base_charter("nope.parquet")
    with pytest.raises(InputError, match="not found"):
        open_evaluation(Charter.model_validate(c), tmp_path)
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown file type"):
        open_evaluation(Charter.model_validate(base_charter("data.xlsx")), tmp_path)


def test_csv_and_duckdb_sources(tmp_path: Path) -> None:
    import duckdb

    df = binary_frame(n=90)
    t = _open(tmp_path, df, name="eval.csv")
    assert t.n_rows == 90
    db = tmp_path / "eval.duckdb"
    con = duckdb.connect(str(db))
    con.register("df", df)
    con.execute("CREATE TABLE preds AS SELECT * FROM df")
    con.close()
    c = base_charter("x")
    c["data"] = {k: v for k, v in c["data"].items() if k != "table"}
    c["data"]["duckdb"] = {"database": "eval.duckdb", "table": "preds"}
    t2 = open_evaluation(Charter.model_validate(c), tmp_path)
    assert t2.n_rows == 90
    c["data"]["duckdb"] = {"database": "eval.duckdb", "table": "pred"}
    with pytest.raises(InputError, match="did you mean `preds`"):
        open_evaluation(Charter.model_validate(c), tmp_path)


def test_selection_split_missing(tmp_path: Path) -> None:
    df = binary_frame()
    df["split"] = df.split.replace({"validation": "valid"})
    msg = _raises("selection split 'validation'", tmp_path, df)
    assert "valid" in msg


def test_user_files_are_never_modified(tmp_path: Path) -> None:
    df = binary_frame()
    path = tmp_path / "eval.parquet"
    df.to_parquet(path, index=False)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    t = _open(tmp_path, df)
    t.con.execute("SELECT count(*) FROM ev").fetchall()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
