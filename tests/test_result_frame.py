"""The Python API's conveniences: ``result.to_frame()`` (tidy rows), the notebook view
(``_repr_html_``) and ``dir(mlscope)`` listing the lazily imported API."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import mlscope
from mlscope.result import EvaluationResult
from mlscope.result.frame import FRAME_COLUMNS
from tests.conftest import base_charter, binary_frame


def test_dir_lists_the_lazy_api() -> None:
    names = dir(mlscope)
    for name in ("evaluate", "load_charter", "validate_charter", "write_report",
                 "EvaluationResult", "__version__"):
        assert name in names


def test_to_frame_is_tidy_and_matches_the_values(project: Callable[..., Path]) -> None:
    ch = base_charter()
    ch["baselines"] = {"prior": {"kind": "prior"}}
    res = mlscope.evaluate(project(binary_frame(1500, seed=3), ch), resamples=50)
    df = res.to_frame()
    assert tuple(df.columns) == FRAME_COLUMNS
    assert len(df) == len(res.values)
    assert df["value"].dtype == "float64"
    assert df["n"].dtype == "int64"
    # Row by row the same numbers as result.values; undefined values are NaN with a reason.
    for row, v in zip(df.itertuples(index=False), res.values, strict=True):
        assert (row.split, row.model, row.slice, row.metric) == (v.split, v.model, v.slice,
                                                                 v.metric)
        if v.value is None:
            assert math.isnan(row.value)
            assert row.undefined
        else:
            assert row.value == v.value
        assert row.n == v.n_rows
    kinds = dict(zip(df["model"], df["kind"], strict=False))
    assert kinds["prior"] == "trivial"
    assert {kinds[m.name] for m in res.models if m.kind == "candidate"} == {"candidate"}
    # The frame pivots into the usual model × metric table.
    wide = df.query("split == 'test' and slice == 'overall'").pivot(
        index="model", columns="metric", values="value")
    assert set(wide.index) == {m.name for m in res.models}
    # A stored result gives the same frame.
    back = EvaluationResult.from_dict(res.to_dict())
    pd.testing.assert_frame_equal(back.to_frame(), df)


def test_notebook_view_leads_with_the_verdict(project: Callable[..., Path]) -> None:
    res = mlscope.evaluate(project(binary_frame(1500, seed=4), base_charter()), resamples=0)
    html = res._repr_html_()
    assert res.verdict is not None
    assert "Verdict:" in html
    assert html.count("<tr>") == len(res.models) + 1
    # Names are escaped: a project name cannot inject markup into the notebook.
    res.project = "<script>alert(1)</script>"
    assert "<script>" not in res._repr_html_()
