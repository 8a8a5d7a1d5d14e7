"""`mlscope run` on a first project of one's own: a regression charter as `mlscope init`
writes it (one metric to optimize, no requirements, no baselines), on generated data.

What a new user sees first must not mislead: no "✓ requirements met" when the charter sets
none, a key table with more than the one optimized metric, and its legend on its own lines
(not wrapped to the table's width), naming only the marks the table shows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

import mlscope
from mlscope.report import render_terminal


def _regression_frame(n: int = 400, seed: int = 11) -> pd.DataFrame:
    # Known truth: y = 3x + noise; "good" predicts with small noise, "poor" with large.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({
        "row": np.arange(n), "y": y,
        "split": rng.choice(["train", "validation", "test"], size=n, p=[0.4, 0.3, 0.3]),
        "group": rng.choice(["a", "b"], size=n),
        "pred_good": 3 * x + rng.normal(scale=0.3, size=n),
        "pred_poor": 3 * x + rng.normal(scale=2.0, size=n),
    })


def _charter() -> dict[str, object]:
    return {
        "project": "first", "task": "regression",
        "data": {"table": "eval.parquet", "id": "row", "label": "y", "split": "split",
                 "models": {"good": "pred_good", "poor": "pred_poor"}},
        "splits": {"selection": "validation", "report": "test", "train": "train"},
        "slices": {"columns": ["group"], "min_size": 30},
        "metrics": ["mae", "rmse", "r2", "p90_absolute_error", "max_absolute_error"],
        "selection": {"rule": "satisficing", "optimize": "mae"},
        "intervals": {"level": 0.95, "resamples": 100},
    }


def _render(result: mlscope.Result, width: int) -> str:
    con = Console(record=True, width=width, file=io.StringIO())
    render_terminal(result, con)
    return con.export_text()


def test_first_project_summary_reads_right_at_80_columns(
        project: Callable[..., Path]) -> None:
    result = mlscope.evaluate(project(_regression_frame(), charter=_charter()))
    assert result.winner == "good"
    assert result.requirements == []
    out = _render(result, 80)
    assert all(len(line) <= 80 for line in out.splitlines())
    # No pass mark for a bar nobody set; the hint names the key that sets one.
    assert "✓ Requirements met" not in out
    assert "No requirements: the charter sets none" in out
    assert "add `requirements:`" in out
    # The exit code's meaning does not claim requirements were met either.
    assert "meets every requirement" not in out
    assert "the charter sets no requirements" in out
    # The key table: the optimized metric first, then the charter's others, up to four.
    start = out.index("Key metrics on test")
    header = out[start:].splitlines()[1]
    assert header.split()[0] == "model"
    for label in ("MAE", "RMSE", "R²", "P90"):
        assert label in header, header
    assert header.index("MAE") < header.index("RMSE") < header.index("R²")
    assert "Max" not in header  # the fifth metric: --verbose
    # The legend is one line, only the marks shown: no ✗ (no requirement), no baselines.
    legend = next(line for line in out[start:].splitlines() if line.startswith("* best"))
    assert legend.strip() == ("* best candidate · ◆ selected by the rule · "
                              "← the verdict's choice")


def test_first_project_report_shows_no_pass_without_requirements(
        project: Callable[..., Path]) -> None:
    from mlscope.report import render_html

    result = mlscope.evaluate(project(_regression_frame(), charter=_charter()))
    page = render_html(result)
    assert "No requirements" in page
    assert "Requirements met" not in page
    assert "meets every requirement" not in page


def test_verdict_that_recommends_nothing_marks_no_choice(
        project: Callable[..., Path]) -> None:
    """Under "Not good enough" the arrow marks the model nearest to the requirements, and
    under "Undecided" nothing but the selected model (◆) is marked: neither verdict has a
    choice (the terminal said "the verdict's choice", and the report's requirement table
    highlighted that row as the chosen one)."""
    from mlscope.report import render_html

    charter = {**_charter(), "requirements": {"mae": "<= 0.01"}}  # out of reach
    result = mlscope.evaluate(project(_regression_frame(), charter=charter))
    assert result.verdict is not None
    assert result.verdict.kind == "not_good_enough"
    assert result.verdict.model is not None
    out = _render(result, 120)
    legend = next(line for line in out.splitlines() if line.startswith("* best"))
    assert "← nearest to the requirements" in legend
    assert "choice" not in out.split("Key metrics")[1]
    page = render_html(result)
    row = page.split('aria-label="requirements of every model"')[1].split("</table>")[0]
    assert 'class="chosen"' not in row
    named = row.split('<tr class="named">')[1].split("</tr>")[0]
    assert result.verdict.model in named
    assert "· nearest" in named

    # Two models of the same quality: undecided, only the rule's pick marked (◆).
    rng = np.random.default_rng(5)
    df = _regression_frame(seed=5)
    x = (df.y.to_numpy() - rng.normal(scale=0.5, size=len(df))) / 3
    df["pred_good"] = 3 * x + rng.normal(scale=1.0, size=len(df))
    df["pred_poor"] = 3 * x + rng.normal(scale=1.0, size=len(df))
    result = mlscope.evaluate(project(df, charter=_charter()))
    assert result.verdict is not None
    assert result.verdict.kind == "undecided"
    out = _render(result, 120)
    legend = next(line for line in out.splitlines() if line.startswith("* best"))
    assert "◆ selected by the rule" in legend
    assert "←" not in out.split("Key metrics")[1]
    row = render_html(result).split('aria-label="requirements of every model"')
    assert len(row) == 1 or ('class="chosen"' not in row[1].split("</table>")[0]
                             and 'class="named"' not in row[1].split("</table>")[0])


def test_diagnosis_without_a_trivial_baseline_names_the_tasks_one(
        project: Callable[..., Path]) -> None:
    """The diagnosis of a first regression project (no baselines) said "✓ no trivial
    baseline to compare with: add `prior: {kind: prior}`": a pass mark for a check that did
    not run, and a baseline `validate` refuses on a regression charter."""
    result = mlscope.evaluate(project(_regression_frame(), charter=_charter()), diagnose=True)
    assert result.diagnosis is not None
    check = next(s for s in result.diagnosis.sanity if s.check == "beats_trivial")
    assert not check.ok
    assert check.severity == "warning"
    assert check.message == ("no trivial baseline to compare with: add `mean: {kind: mean}` "
                             "under `baselines:`")
    # `mlscope diagnose` prints it with the warning's mark, not the pass mark.
    from click.testing import CliRunner

    from mlscope.cli import main

    path = project(_regression_frame(), charter=_charter())
    r = CliRunner().invoke(main, ["diagnose", str(path), "--resamples", "50",
                                  "--out", str(path.parent / "d")])
    assert r.exit_code == 0, r.output
    assert "! no trivial baseline to compare with: add `mean: {kind: mean}`" in r.output
    assert "✓ no trivial baseline" not in r.output


def test_one_requirement_met_one_small_slice_and_a_cut_warning(
        project: Callable[..., Path]) -> None:
    # One of two requirements met, one slice below min_size (a where-slice of a handful of
    # rows): the summary reads "the one met ..." (not "1 of the 1 met"), the warning is
    # singular (not "1 slice(s) have"), and a warning cut to the line says where it is whole.
    c = _charter()
    c["requirements"] = {"mae": "<= 0.3", "r2": ">= 0.5"}
    c["slices"] = {"columns": ["group"], "min_size": 30, "where": {"tail": "y > 6.5"}}
    result = mlscope.evaluate(project(_regression_frame(), charter=c))
    [warning] = [w for w in result.warnings if "min_size" in w]
    assert warning.startswith("1 slice has fewer than slices.min_size = 30 rows on some "
                              "split, so its metrics there are undefined: tail (")
    text = _render(result, 80)
    assert "Requirements not met: 1 of 2 met on test" in text
    assert "the one met has its whole interval clear of the bound" in text
    assert "of the 1 met" not in text
    assert "Warnings (1) · cut to a line each; whole in --verbose and the report" in text
    wide = _render(result, 400)
    assert "cut to a line each" not in wide


def test_the_warning_mark_is_explained_only_where_a_row_carries_it(
        project: Callable[..., Path]) -> None:
    # Both candidates beat the prior baseline far beyond the interval: no row is marked,
    # so the caption does not explain the mark (it read as if one were).
    c = _charter()
    c["baselines"] = {"prior": {"kind": "prior"}}
    c["slices"] = {"columns": ["group"], "min_size": 30}
    result = mlscope.evaluate(project(_regression_frame(), charter=c))
    # The table shows the optimized metric on the selection split.
    assert not any(st.flag for st in result.standings
                   if st.metric == "mae" and st.split == "validation")
    con = Console(record=True, width=100, file=io.StringIO())
    render_terminal(result, con, verbose=True)
    text = con.export_text()
    assert "Against the baselines" in text
    assert "⚠" not in text
