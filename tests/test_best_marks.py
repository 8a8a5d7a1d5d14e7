""""Best" marks (terminal stars, shaded cells) go to a candidate, never to a baseline.

The trivial ``prior`` baseline predicts the base rate for every row, so at threshold 0.5
it flags no one: its positive rate, 0.000, is the lowest of all. Starring it would say
"mail no one" is the best model; the mark must go to the best candidate instead.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

import mlscope
from mlscope.report import render_html, render_terminal
from mlscope.report.best import best_candidates, best_models
from mlscope.result import OVERALL, EvaluationResult
from mlscope.server.app import Dashboard
from mlscope.store import Store
from tests.test_baselines import frame, write

CANDIDATES = ("good", "noise")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    charter = {
        "project": "stars",
        "task": "binary",
        "seed": 5,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"good": "good", "noise": "noise"}},
        "slices": {"columns": ["shop"], "min_size": 10},
        "metrics": ["roc_auc", "positive_rate"],
        "baselines": {"prior": {"kind": "prior"}},
        # Flag as few rows as possible while ranking well: the slice table then shows the
        # positive rate, where the baseline would win every row.
        "selection": {"rule": "satisficing", "optimize": "positive_rate",
                      "constraints": {"roc_auc": ">= 0.6"}},
        "intervals": {"resamples": 20},
    }
    return mlscope.evaluate(write(tmp_path_factory.mktemp("stars"), charter, frame(n=1500)))


def overall(result: EvaluationResult, metric: str) -> dict[str, float | None]:
    split = result.splits["selection"]
    return {v.model: v.value for v in result.values
            if v.split == split and v.slice == OVERALL and v.metric == metric}


def test_the_prior_baseline_has_the_lowest_positive_rate(result: EvaluationResult) -> None:
    """The premise of the other tests: unguarded, the baseline would win."""
    rates = overall(result, "positive_rate")
    assert rates["prior"] == 0.0
    assert all(rates[c] is not None and rates[c] > 0 for c in CANDIDATES)  # type: ignore[operator]


class MarkedCells(HTMLParser):
    """Every ``<td class="... best">`` as (table id, row label, column header)."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[str, str, str]] = []
        self.table = ""
        self.headers: list[str] = []
        self.row: list[str] = []  # the row label, then one entry per cell
        self.best: list[bool] = []
        self.text: list[str] | None = None
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.table, self.headers = a.get("id") or "", []
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr":
            self.row, self.best = [], []
        elif tag in ("th", "td"):
            self.text = []
            self.best.append(tag == "td" and "best" in (a.get("class") or "").split())

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self.text is not None:
            words = "".join(self.text).split()
            # The first word: a model or metric name, without its chip or arrow.
            label = words[0] if words else ""
            (self.headers if self.in_head else self.row).append(label)
            self.text = None
        elif tag == "thead":
            self.in_head = False
        elif tag == "tr" and not self.in_head:
            for i, best in enumerate(self.best):
                if best and i < len(self.headers):
                    self.marks.append((self.table, self.row[0], self.headers[i]))


def marks(html: str) -> list[tuple[str, str, str]]:
    parser = MarkedCells()
    parser.feed(html)
    return parser.marks


def test_terminal_stars_a_candidate_not_the_baseline(result: EvaluationResult) -> None:
    con = Console(width=200, record=True, color_system=None)
    render_terminal(result, con, verbose=True)  # the full metric table
    lines = con.export_text().splitlines()
    row = next(line for line in lines if line.startswith("Positive rate"))
    header = next(line for line in lines if line.startswith("metric") and "prior" in line)
    cells = row.split()[-3:]
    names = header.split()[1:]
    names = [n for n in names if n != "◆"]
    starred = {n for n, c in zip(names, cells, strict=True) if c.endswith("*")}
    assert starred == {"good"}, (header, row)
    assert "best candidate per metric" in "\n".join(lines)


def test_report_shades_candidates_only(result: EvaluationResult) -> None:
    marked = marks(render_html(result))
    metric_marks = [(row, col) for table, row, col in marked if table.startswith("metrics")]
    assert ("good", "Positive") in metric_marks  # the header reads "Positive rate"
    assert all(row in CANDIDATES for row, _ in metric_marks), metric_marks
    slice_marks = [(row, col) for table, row, col in marked if table == "slice-table"]
    assert slice_marks, marked  # the slice table marks something ...
    assert all(col in CANDIDATES for _, col in slice_marks), slice_marks  # ... never prior


def test_dashboard_run_page_shades_candidates_only(result: EvaluationResult,
                                                   tmp_path: Path) -> None:
    with Store.open(tmp_path / "store.sqlite") as store:
        run_id = store.save(result, command="mlscope run")
        page = Dashboard(store).respond(f"/runs/{run_id}")
    assert page.status == 200
    marked = [(row, col) for table, row, col in marks(page.body.decode("utf-8"))
              if table == "metric-table"]
    assert ("good", "Positive") in marked
    assert all(row in CANDIDATES for row, _ in marked), marked


def test_best_rule_ties_lone_values_and_no_direction(result: EvaluationResult) -> None:
    assert best_models({"a": 1.0, "b": 1.0 + 1e-15, "c": 0.5}, "higher") == {"a", "b"}
    assert best_models({"a": 3e6, "b": 3e6 * (1 + 1e-14)}, "lower") == {"a", "b"}
    assert best_models({"a": 1.0, "b": None, "c": float("nan")}, "higher") == set()
    assert best_models({"a": 1.0, "b": 2.0}, "none") == set()  # no better direction
    # A baseline that would win is left out, whatever its value.
    assert best_candidates(result, {"prior": 0.0, "good": 0.2, "noise": 0.5}, "lower") == \
        {"good"}
    assert best_candidates(result, {"prior": 0.0, "good": 0.2}, "lower") == set()
