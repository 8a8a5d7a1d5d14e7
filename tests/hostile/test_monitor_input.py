"""Hostile input to ``mlscope monitor``: markup in column names, files that are not what
they claim, and failing runs that must change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from mlscope.cli import main
from tests.hostile.snapshot import assert_unchanged, snapshot
from tests.monitor_data import population, stamp, write_project

_MARKUP = "[bold red]inc[/]"


def test_markup_in_a_column_name_is_printed_as_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(20)
    ref = population(2000, rng).rename(columns={"income": _MARKUP})
    path = write_project(tmp_path, ref, monitor={
        "features": ["age", _MARKUP], "window": {"by": "count", "rows": 300}})
    w = population(300, rng).rename(columns={"income": _MARKUP})
    w[_MARKUP] = np.nan  # a broken feature: the alert names the column
    log = tmp_path / "log.parquet"
    stamp([population(300, rng).rename(columns={"income": _MARKUP}), w]).to_parquet(log)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
    assert r.exit_code == 1, r.output
    assert f"missing {_MARKUP}" in r.output


def test_a_log_that_is_not_what_it_claims_exits_2_and_changes_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    path = write_project(tmp_path, population(2000, rng))
    fake = tmp_path / "log.parquet"
    fake.write_text("served_at,age\n2026-01-01,40\n")
    (tmp_path / "folder.csv").mkdir()
    before = snapshot(tmp_path)
    for log, expect in ((fake, "log.parquet"), (tmp_path / "folder.csv", "is not a file"),
                        (tmp_path / "log.txt.exe", "not found")):
        r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
        assert r.exit_code == 2, r.output
        assert expect in " ".join(r.output.split())
    assert_unchanged(before, tmp_path)


def test_a_log_missing_a_column_writes_no_result(tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    path = write_project(tmp_path, population(2000, rng))
    log = tmp_path / "log.csv"
    stamp([population(300, rng)]).drop(columns=["p_model"]).to_csv(log, index=False)
    before = snapshot(tmp_path)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
    assert r.exit_code == 2, r.output
    assert "column `p_model` (monitor.score) is not in the log" in " ".join(r.output.split())
    assert_unchanged(before, tmp_path)


def test_markup_in_a_shadow_model_name_is_text_in_the_summary_and_the_page(
        tmp_path: Path) -> None:
    from tests.monitor_data import shadow_population

    name = "[bold]v2<script>alert(1)</script>"
    rng = np.random.default_rng(23)
    path = write_project(
        tmp_path, shadow_population(2000, rng, candidate_noise=0.5),
        monitor={"candidate": name},
        data={"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
              "models": {"model": "p_model", name: "p_new"}},
        blessed="model", gates={"roc_auc": {"improve": 0.0}})
    log = tmp_path / "log.parquet"
    stamp([shadow_population(300, rng, candidate_noise=0.5) for _ in range(2)]).to_parquet(log)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log), "--out",
                                  str(tmp_path / "o")])
    assert r.exit_code in (0, 1), r.output
    assert f"Shadow gate: {name} vs model" in r.output
    page = (tmp_path / "o" / "monitor.html").read_text()
    assert "<script" not in page
    assert "v2&lt;script&gt;alert(1)&lt;/script&gt;" in page
