"""Renderers: the self-contained HTML report, its SVG charts, and the terminal summary."""

from __future__ import annotations

import dataclasses
import html
import io
import itertools
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from mlscope.report import render_html, render_terminal, write_html
from mlscope.report.charts import (
    OKABE_ITO,
    forest_chart,
    format_value,
    metric_decimals,
    model_colors,
    nice_ticks,
    slice_chart,
    slice_metric,
    tradeoff_chart,
    tradeoff_metrics,
)
from mlscope.result import EvaluationResult
from tests.factories import TASKS, make_result

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def result() -> EvaluationResult:
    return make_result()


@pytest.fixture(scope="module")
def page(result: EvaluationResult) -> str:
    return render_html(result)


def svgs(doc: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", doc, flags=re.S)


def table_html(doc: str, table_id: str) -> str:
    m = re.search(rf'<table[^>]*id="{re.escape(table_id)}".*?</table>', doc, flags=re.S)
    assert m is not None, f"no table {table_id}"
    return m.group(0)


def body_rows(table: str) -> list[str]:
    body = table.split("<tbody>", 1)[1]
    return re.findall(r"<tr\b.*?</tr>", body, flags=re.S)


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


# -- the factory --------------------------------------------------------------------


def test_factory_is_deterministic_and_consistent(result: EvaluationResult) -> None:
    assert make_result().to_dict() == result.to_dict()
    assert [m.name for m in result.models] == [
        "logistic", "gbdt", "random_forest", "knn", "naive_bayes"]
    assert result.winner == "gbdt"
    assert result.status == "requirements_not_met"
    assert result.exit_code == 1
    assert [r.met for r in result.requirements].count(False) == 1
    assert result.selection is not None
    assert [d["model"] for d in result.selection.primary.dropped] == ["naive_bayes"]
    picks = {a.winner for a in result.selection.alternatives if a.winner}
    assert picks - {"gbdt"}, "alternatives should pick other models"
    kinds = {s.kind for s in result.slices}
    assert kinds == {"overall", "column", "cross", "where"}
    assert any(v.undefined and "too small" in v.undefined for v in result.values)
    assert any(v.undefined and "0 positives" in v.undefined for v in result.values)


def test_result_with_column_slices_round_trips_through_json(result: EvaluationResult) -> None:
    again = EvaluationResult.from_dict(result.to_dict())
    assert again.to_dict() == result.to_dict()
    assert render_html(again) == render_html(result)


@pytest.mark.parametrize("task", TASKS)
def test_factory_tasks_and_counts(task: str) -> None:
    r = make_result(task=task, n_models=7, levels=(4, 3))  # type: ignore[arg-type]
    assert len(r.models) == 7
    n_slices = 1 + 4 + 3 + 1 + sum(1 for s in r.slices if s.kind == "cross")
    assert len(r.slices) == n_slices
    assert len(r.values) == 2 * 7 * n_slices * len(r.metrics)


# -- HTML ------------------------------------------------------------------------------


def test_html_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    refs = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.I)
    assert all(r.startswith("#") for r in refs), refs
    assert not re.search(r"<script[^>]*\bsrc\b", page, flags=re.I)
    assert not re.search(r"<link\b", page, flags=re.I)
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    # The only URLs are the SVG namespace declarations (not fetched by a browser).
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert len(re.findall(r"<script\b", page)) == 1


def test_html_shows_the_decision_models_metrics_and_reasons(
    result: EvaluationResult, page: str
) -> None:
    text = html.unescape(page)
    assert 'class="winner-name"' in page
    assert re.search(r'class="winner-name">.*?gbdt</div>', page, flags=re.S)
    assert "Requirements not met" in text
    assert "Exit code" in text
    for m in result.models:
        assert m.name in text
    for info in result.metrics:
        assert info.label in text
    reasons = {v.undefined for v in result.values if v.undefined and v.slice == "overall"}
    assert reasons
    for why in reasons:
        assert why in text
    assert "only one class present (0 positives)" in text
    assert "n=13 < 30" in text  # a too-small slice in the per-slice chart (test split)
    assert "log_loss 0.483 misses <= 0.22 by 0.263" in text  # the dropped reason
    for w in result.warnings:
        assert w in text


def test_html_structure(result: EvaluationResult, page: str) -> None:
    headings = [html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
                for h in re.findall(r"<h2\b[^>]*>(.*?)</h2>", page, flags=re.S)]
    assert headings == [
        "Selected model", "Which model each rule would pick", "Every metric, every model",
        "Against the selected model gbdt", "Trade-off", "Per slice", "Plan",
        "Operating thresholds", "Warnings",
    ]
    # One metric table per split, a row per model, a column per metric.
    for split in ("validation", "test"):
        t = table_html(page, f"metrics-{split}")
        rows = body_rows(t)
        assert len(rows) == len(result.models)
        assert t.count('<th data-col="') == 1 + len(result.metrics)
        assert all(r.count("<td") == len(result.metrics) for r in rows)
        assert 'class="winner"' in rows[1]  # gbdt
        assert "dropped" in rows[4]  # naive_bayes
        # At least one best value per metric column (ties mark several).
        assert sum(r.count(" best\"") for r in rows) >= len(result.metrics)
    # The undefined value on test: a dash, with the reason as a tooltip.
    test_rows = body_rows(table_html(page, "metrics-test"))
    assert 'title="undefined: no predicted positives' in test_rows[4]
    # The rules table: the primary rule then every alternative.
    assert result.selection is not None
    rules = body_rows(re.search(r'<table class="data rules">.*?</table>', page,
                                flags=re.S).group(0))  # type: ignore[union-attr]
    assert len(rules) == 1 + len(result.selection.alternatives)
    assert "primary (decides)" in rules[0]
    assert "differs" in rules[1]
    # Requirements: one row each, the unmet one marked.
    req = re.search(r'<table class="data req">.*?</table>', page, flags=re.S)
    assert req is not None
    req_rows = body_rows(req.group(0))
    assert len(req_rows) == len(result.requirements)
    assert sum("✗" in r for r in req_rows) == 1
    # Charts: one forest per metric, the trade-off, the slices.
    assert page.count('class="chart forest"') == len(result.metrics)
    assert page.count('class="chart tradeoff"') == 1
    assert page.count('class="chart slices"') == 1
    # Thresholds chosen on validation, one row per model.
    assert len(body_rows(table_html(page, "thresholds"))) == len(result.models)
    assert "0.998" in table_html(page, "thresholds")
    # Footer: the method.
    for needle in ("percentile bootstrap", "1,000 resamples", "seed 42", "95%",
                   "mlscope.result/1", "0.1.0"):
        assert needle in page


def test_html_charts_are_well_formed_svg(page: str) -> None:
    found = svgs(page)
    assert len(found) >= 3
    for s in found:
        root = ET.fromstring(s)
        assert root.tag == f"{SVG}svg"
        assert root.get("viewBox")
        assert root.find(f"{SVG}title") is not None


def test_html_numbers_are_formatted(page: str) -> None:
    text = html.unescape(page)
    assert "0.742" in text  # [0, 1] metrics: 3 decimals
    assert "0.0534" in text  # small values keep 3 significant digits
    assert "[0.681, 0.796]" in text
    assert not re.search(r"\d\.\d{7,}", text), "unformatted floats in the page"


def test_html_escapes_text() -> None:
    r = make_result()
    r.metrics[0].label = "ROC <AUC> & co"
    r.project = "<script>alert(1)</script>"
    doc = render_html(r)
    assert "<script>alert(1)</script>" not in doc
    assert "ROC &lt;AUC&gt; &amp; co" in doc
    for s in svgs(doc):
        ET.fromstring(s)


def test_write_html_creates_folders(tmp_path: Path, result: EvaluationResult) -> None:
    target = tmp_path / "out" / "nested" / "report.html"
    written = write_html(result, target)
    assert written == target
    assert target.read_text(encoding="utf-8") == render_html(result)


def test_html_is_deterministic(page: str) -> None:
    assert render_html(make_result()) == page


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task": "multiclass"},
        {"task": "regression"},
        {"n_models": 1},
        {"n_models": 10},
        {"intervals": False},
        {"report_split": False},
        {"levels": (1, 1)},
        {"selection": {"rule": "satisficing", "optimize": "roc_auc",
                       "constraints": {"log_loss": "<= 0.01"}}},
        {"selection": {"rule": "weighted", "weights": {"roc_auc": 1, "brier": 1}},
         "alternatives": [], "report": {}},
        {"selection": {"rule": "pareto", "metrics": ["roc_auc", "brier"]}, "report": {}},
    ],
)
def test_html_variants_render(kwargs: dict[str, object]) -> None:
    r = make_result(**kwargs)  # type: ignore[arg-type]
    doc = render_html(r)
    for s in svgs(doc):
        ET.fromstring(s)
    text = html.unescape(doc)
    for m in r.models:
        assert m.name in text
    if r.winner is None:
        assert "No model selected" in text
        assert "No decision" in text
    if not r.interval.resamples:
        assert "Intervals were turned off" in text
        assert "[0." not in text.split("<footer>")[0].split('id="metrics"')[1]
    if r.splits["report"] is None:
        assert 'id="metrics-test"' not in doc


def test_html_and_terminal_without_selection_slices_or_charter() -> None:
    r = make_result()
    r.selection = None
    r.status = "no_decision"
    r.requirements = []
    r.charter = {}
    r.differences = []
    r.thresholds = []
    r.slices = [s for s in r.slices if s.kind == "overall"]
    r.values = [v for v in r.values if v.slice == "overall"]
    doc = render_html(r)
    assert "No model selected" in doc
    assert 'id="slices"' not in doc
    assert 'href="#slices"' not in doc
    anchors = set(re.findall(r'href="#([^"]+)"', doc))
    assert anchors <= set(re.findall(r'id="([^"]+)"', doc))
    out = render_text(r)
    assert "No model selected" in out


# -- charts ----------------------------------------------------------------------------


def test_tradeoff_chart(result: EvaluationResult) -> None:
    assert tradeoff_metrics(result) == ("roc_auc", "precision_at_recall")
    svg = tradeoff_chart(result)
    root = ET.fromstring(svg)
    words = texts(svg)
    assert "gbdt — selected" in words
    assert "naive_bayes (dropped)" in words
    assert "roc_auc ≥ 0.7 (rule & requirement)" in words
    assert "precision_at_recall ≥ 0.1 (requirement)" in words
    assert any("ROC AUC" in w and "higher is better" in w for w in words)
    # The feasible region, and the Pareto front over the two metrics as a step line.
    assert any(r.get("fill-opacity") for r in root.iter(f"{SVG}rect"))
    paths = [p.get("d", "") for p in root.iter(f"{SVG}path")]
    assert len(paths) == 1
    assert paths[0].count("L") == 2  # two front models: one step
    # Each model is a point; whiskers on both axes.
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) >= len(result.models) + 1  # + the winner's ring


def test_tradeoff_metrics_fallbacks() -> None:
    r = make_result(report={})
    assert tradeoff_metrics(r) == ("roc_auc", "precision_at_recall")  # constraint vs optimize
    r = make_result(selection={"rule": "weighted", "weights": {"brier": 1, "roc_auc": 1}},
                    alternatives=[], report={})
    assert tradeoff_metrics(r) == ("roc_auc", "average_precision")  # the first two
    r = make_result(report={"tradeoff": ["log_loss", "brier"]})
    assert tradeoff_metrics(r) == ("log_loss", "brier")
    ET.fromstring(tradeoff_chart(r))


def test_slice_chart(result: EvaluationResult) -> None:
    assert slice_metric(result) == "roc_auc"
    svg = slice_chart(result)
    words = texts(svg)
    assert words[0] == "ROC AUC per slice — gbdt on test"
    assert "customer_type" in words
    assert "age_group" in words
    assert "customer_type × age_group" in words
    assert "has_car_policy: car_policies > 0" in words
    assert "n=13 < 30" in words  # the rare customer type, greyed
    assert "— only one class present (0 positives)" in words
    assert any(w.startswith("overall 0.715") for w in words)
    assert any(re.fullmatch(r"\+ \d+ cells with n < 30 \(too small, not drawn\)", w)
               for w in words)
    assert slice_metric(make_result(report={})) == "precision_at_recall"  # the rule's metric


def test_forest_chart(result: EvaluationResult) -> None:
    svg = forest_chart(result, "f1_best")
    words = texts(svg)
    assert words[:2] == ["F1 @best", "higher is better"]
    assert "— undefined on test" in words  # naive_bayes on test
    svg = forest_chart(result, "recall_p10")
    assert "≥ 0.6" in texts(svg)  # the requirement line
    # Every name fits the label column sized for the longest ("prior" read "pri…"),
    # and a name past 40% of the width is clipped with an ellipsis.
    words = texts(forest_chart(result, "f1_best"))
    assert all(m.name in words for m in result.models), words
    assert not any(w.endswith("…") for w in words)

    def renamed(names: dict[str, str]) -> EvaluationResult:
        return dataclasses.replace(
            result, models=[dataclasses.replace(m, name=names.get(m.name, m.name))
                            for m in result.models],
            values=[dataclasses.replace(v, model=names.get(v.model, v.model))
                    for v in result.values])

    # The longest name "prior", in a column sized for it (Carseats: "pri…").
    short = renamed({m.name: ("prior" if i == 1 else f"m{i}")
                     for i, m in enumerate(result.models)})
    assert "prior" in texts(forest_chart(short, "f1_best"))
    long = "a_model_with_a_name_far_too_long_for_its_column"
    clipped = [w for w in texts(forest_chart(renamed({result.models[0].name: long}),
                                             "f1_best")) if w.endswith("…")]
    assert len(clipped) == 1
    assert long.startswith(clipped[0][:-1])


def test_model_colors_are_stable_distinct_and_cycle_after_twenty() -> None:
    names = [f"m{i}" for i in range(22)]
    colors = model_colors(names)
    assert colors["m0"] == OKABE_ITO[0]
    assert [colors[f"m{i}"] for i in range(8)] == list(OKABE_ITO)  # Okabe–Ito first
    assert len({colors[f"m{i}"] for i in range(20)}) == 20  # eleven models: eleven colours
    assert colors["m20"] == colors["m0"]
    assert model_colors(names[:11]) == {n: colors[n] for n in names[:11]}  # stable


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (0.613, 0.861), (0.0512, 0.0531),
                                        (12.0, 19.5), (-3.0, 4.0), (5.0, 5.0)])
def test_nice_ticks_cover_the_range(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo
    assert ticks[-1] >= hi
    assert 2 <= len(ticks) <= 12
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1


def test_number_formatting(result: EvaluationResult) -> None:
    info = result.metric_info("brier")
    assert metric_decimals(info, [0.0534, 0.0921]) == 4
    assert metric_decimals(result.metric_info("roc_auc"), [0.74]) == 3
    assert metric_decimals(None, [14.8, 19.5]) == 1
    assert metric_decimals(None, [0.205, 1.207]) == 2
    assert format_value(None) == "—"
    assert format_value(-0.0123, 3) == "−0.012"
    assert format_value(-0.0001, 3) == "0.000"


# -- terminal --------------------------------------------------------------------------


def render_text(result: EvaluationResult, width: int = 100, **kw: object) -> str:
    con = Console(record=True, width=width, file=io.StringIO())
    render_terminal(result, con, **kw)  # type: ignore[arg-type]
    return con.export_text()


def test_terminal_summary_is_compact_by_default(result: EvaluationResult) -> None:
    """By default: the decision, the key metrics of every model on the requirement split,
    the requirements and the warnings; the full tables with --verbose."""
    out = render_text(result, paths={"json": "out/result.json", "html": "out/report.html"})
    verbose = render_text(result, verbose=True)
    assert "Selected: gbdt" in out
    assert "Requirements not met: 2 of 3 met on test" in out
    assert "Key metrics on test" in out
    assert "Metrics on validation (selection split)" not in out
    assert "What each rule would pick" not in out
    assert "--verbose" in out
    assert "✗ not met" in out
    # Each model has its row, with the value the result holds for the key metric.
    key = out[out.index("Key metrics on test"):]
    values = {(v.model, v.metric): v.value for v in result.values
              if v.split == "test" and v.slice == "overall"}
    for m in result.models:
        row = next(line for line in key.splitlines() if line.startswith(m.name))
        got = values.get((m.name, "roc_auc"))
        if got is not None:
            assert f"{got:.3f}" in row
    assert len(out.splitlines()) < len(verbose.splitlines())
    assert "Report: out/report.html" in out
    # At 80 columns the key table still fits and cuts no name or header inside a word.
    narrow = render_text(result, width=80)
    table = narrow[narrow.index("Key metrics on test"):narrow.index("* best candidate")]
    assert "…" not in table
    assert all(len(line) <= 80 for line in narrow.splitlines())
    for m in result.models:
        assert any(line.startswith(m.name) for line in table.splitlines())


def test_terminal_summary(result: EvaluationResult) -> None:
    out = render_text(result, paths={"json": "out/result.json", "html": "out/report.html"},
                      verbose=True)
    assert "Selected: gbdt" in out
    assert "Requirements not met: 2 of 3 met on test" in out
    assert "exit code 1" in out
    assert "Metrics on validation (selection split)" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("metric"))
    for m in result.models:
        assert m.name in header
    assert "0.742*" in out  # best ROC AUC, marked without colour
    assert "0.681–0.796" in out  # its interval
    assert "What each rule would pick" in out
    assert "random_forest ≠" in out
    assert "naive_bayes: log_loss 0.483 misses <= 0.22 by 0.263" in out
    assert "✗ not met" in out
    assert "Report: out/report.html" in out
    assert "Result: out/result.json" in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_terminal_without_colour(result: EvaluationResult, monkeypatch: pytest.MonkeyPatch
                                 ) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    con = Console(file=buf, width=100, force_terminal=True)
    render_terminal(result, con)
    out = buf.getvalue()
    assert not re.search(r"\x1b\[[0-9;]*3[0-9](;|m)", out), "colour codes despite NO_COLOR"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "Selected: gbdt" in plain
    assert "✗ Requirements not met" in plain


@pytest.mark.parametrize("width", [80, 100, 160])
def test_terminal_widths_and_variants(width: int) -> None:
    for r in (make_result(), make_result(task="regression", intervals=False),
              make_result(selection={"rule": "satisficing", "optimize": "roc_auc",
                                     "constraints": {"log_loss": "<= 0.01"}})):
        for verbose in (False, True):
            out = render_text(r, width=width, verbose=verbose)
            assert all(len(line) <= width for line in out.splitlines())
        if r.winner is None:
            assert "No model selected" in out


# -- renderers only read -----------------------------------------------------------------


def test_report_does_not_import_the_metric_engine() -> None:
    code = ("import sys, mlscope.report; "
            "print(sorted(m for m in sys.modules if m.startswith(('mlscope.metrics', "
            "'mlscope.engine', 'mlscope.evaluation'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_plan_panel_states_the_planning_facts(result: EvaluationResult) -> None:
    """With a planning section the report has a Plan panel: the facts as written (escaped)
    and each stage's readiness from mlscope.plan; without one, no panel."""
    import copy

    from mlscope.charter.schema import Charter
    from mlscope.plan import plan_check

    bare = copy.deepcopy(result)
    bare.charter.pop("planning", None)
    assert 'id="plan"' not in render_html(bare)
    r = copy.deepcopy(result)
    r.charter["planning"] = {"problem": "mail <b>fewer</b> letters", "archetype": "software_2_0",
                             "deployment": {"mode": "batch", "where": "cloud"},
                             "rollout": ["shadow", "replacement"],
                             "checklist": {"buy_in": "open"}}
    html = render_html(r)
    panel = html[html.index('id="plan"'):]
    panel = panel[:panel.index("</section>")]
    assert "mail &lt;b&gt;fewer&lt;/b&gt; letters" in panel
    assert "software 2.0" in panel
    assert "batch, cloud" in panel
    assert "shadow → replacement" in panel
    check = plan_check(Charter.model_validate(r.charter), r)
    for s in check.stages:
        assert f"<td>{s.stage}</td><td class=\"num\">{s.ready} of {s.total}</td>" in panel
    assert "Buy-in" in panel or "buy-in" in panel.lower()
    assert '<a href="#plan">Plan</a>' in html


def test_tradeoff_bound_label_stays_inside_the_plot() -> None:
    """A bound at the x axis's far end is labelled left of its line: to its right the label
    ran past the plot and was cut off ("accuracy ≥ 0.9 (require" on a wine charter)."""
    from mlscope.report.svg import text_width

    r = make_result(requirements={"roc_auc": ">= 0.99", "precision_at_recall": ">= 0.10"},
                    report={})
    assert tradeoff_metrics(r) == ("roc_auc", "precision_at_recall")
    width = 900.0
    root = ET.fromstring(tradeoff_chart(r, width=width))
    label = next(t for t in root.iter(f"{SVG}text")
                 if (t.text or "").startswith("roc_auc ≥ 0.99"))
    x = float(label.get("x", "0"))
    tw = text_width(label.text or "", 10.5)
    if label.get("text-anchor") == "end":
        assert x - tw >= 0
    else:
        assert x + tw <= width
    # The line sits at the right end of the axis, so the label is to its left.
    assert label.get("text-anchor") == "end"


def test_comparison_names_only_the_paired_tests_it_used() -> None:
    """A regression report's comparison said "DeLong for ROC AUC, McNemar for accuracy, the
    paired bootstrap otherwise" with neither metric in the charter."""
    from mlscope.report.panels_analysis import paired_methods

    assert paired_methods({"bootstrap"}) == "the paired bootstrap"
    assert paired_methods({"mcnemar", "bootstrap"}) == (
        "McNemar for accuracy, the paired bootstrap otherwise")
    assert paired_methods({"delong", "mcnemar", "bootstrap"}) == (
        "DeLong for ROC AUC, McNemar for accuracy, the paired bootstrap otherwise")
    assert paired_methods({"delong"}) == "DeLong for ROC AUC"
    r = make_result(task="regression")
    page = render_html(r)
    assert "with paired intervals (the paired bootstrap)" in page
    assert "DeLong" not in page.split('id="comparison"')[1].split("</section>")[0]


def test_slice_caption_names_a_metric_once() -> None:
    """"Accuracy (accuracy) on the test split": the id only where it differs from the label."""
    reg = render_html(make_result(task="regression"))
    assert "MAE on the test split. A slice" in reg
    assert "MAE (mae) on the" not in reg
    binary = render_html(make_result())
    assert "ROC AUC (roc_auc) on the" in binary


def test_ticks_sets_quoted_names_as_code_and_escapes_the_rest() -> None:
    """The messages quote names for the terminal (`prior`); the report shows them as code,
    not as backticks, and still escapes everything else."""
    from mlscope.report.templating import ticks

    assert str(ticks("vs `prior` on <auc> & `a<b>`")) == (
        "vs <code>prior</code> on &lt;auc&gt; &amp; <code>a&lt;b&gt;</code>")
    assert str(ticks("no quotes, a lone ` tick")) == "no quotes, a lone ` tick"
