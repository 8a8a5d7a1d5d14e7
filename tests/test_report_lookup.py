"""The report's value lookups: within a page build, :func:`metric_values` reads an index
of the result's values built once, and gives what the full scan gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import mlscope
from mlscope.report.chart_data import metric_values, values_indexed
from tests.test_startup_imports import _plain_charter


def test_indexed_lookups_equal_the_scan(project: Callable[..., Path]) -> None:
    result = mlscope.evaluate(project(charter=_plain_charter()))
    keys = {(v.split, v.slice) for v in result.values} | {("no such split", "overall")}
    scanned = {k: metric_values(result, *k) for k in keys}
    with values_indexed(result):
        indexed = {k: metric_values(result, *k) for k in keys}
    assert indexed == scanned
    # The same order of (model, metric) keys too: tables and charts list them in it.
    assert all(list(indexed[k]) == list(scanned[k]) for k in keys)
    assert len(keys) > 10
    assert any(scanned.values())


def test_no_stale_index_outside_the_page(project: Callable[..., Path]) -> None:
    result = mlscope.evaluate(project(charter=_plain_charter()))
    split = str(result.splits["selection"])
    with values_indexed(result):
        before = metric_values(result, split)
        other = dataclasses.replace(result, values=result.values[:1])
        # Another result is scanned, not read from this one's index.
        assert len(metric_values(other, split)) <= 1
    first = result.values[0]
    result.values[0] = dataclasses.replace(first, value=0.123456)
    # The index lived only as long as the block: a changed result is read as it is now.
    after = metric_values(result, first.split, first.slice)
    assert after[(first.model, first.metric)].value == 0.123456
    assert before
