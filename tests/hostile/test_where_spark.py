"""The Spark engine runs a checked `slices.where` as mlscope rendered it for Spark SQL.

The rendering is mlscope's own (backtick-quoted names, strings with Spark's backslash
escapes), so it is tested on a real local session: every ordinary predicate of
`test_where.py` must count the same rows in Spark as in pandas.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlscope.charter.schema import Charter
from tests.conftest import base_charter
from tests.hostile.test_where import POSITIVE, _frame

pytest.importorskip("pyspark", reason="the Spark engine needs pyspark (pip install mlscope[spark])")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark engine's local session needs Java 17+", allow_module_level=True)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from mlscope.engine.spark_backend import get_session

    session = get_session("local[2]")
    yield session
    session.stop()


def test_ordinary_predicates_count_as_pandas_in_spark(spark: Any, tmp_path: Path) -> None:
    from mlscope.data.spark_source import open_spark_evaluation

    df = _frame()
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    c = base_charter("eval.parquet")
    c["slices"]["where"] = {f"s{i}": p for i, (p, _) in enumerate(POSITIVE)}
    t = open_spark_evaluation(Charter.model_validate(c), tmp_path, spark)
    aggs = [f"count_if(__p{i}) AS n{i}" for i in range(len(POSITIVE))]
    row = t.df.selectExpr(*aggs).collect()[0]
    got = {p: row[f"n{i}"] for i, (p, _) in enumerate(POSITIVE)}
    want = {p: int(f(df).fillna(False).sum()) for p, f in POSITIVE}
    assert got == want
