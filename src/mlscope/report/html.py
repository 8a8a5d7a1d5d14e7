"""The HTML report: one self-contained file (inline CSS and SVG, no network access).

:func:`render_html` turns an :class:`~mlscope.result.EvaluationResult` into a page that
leads with the decision (the selected model, the rule, whether the requirements hold)
and then shows the evidence: what other rules would pick, who was dropped and why, every
metric with its interval on the selection and report splits, the trade-off between the
charter's two key metrics, and the metrics per slice. The page only reads the result; it
never recomputes a metric.

The page model (:class:`Page`) and the rendering live here; the panels are built in
:mod:`mlscope.report.panels_decision`, :mod:`mlscope.report.panels_metrics` and
:mod:`mlscope.report.panels_analysis`, their tables in :mod:`mlscope.report.cells`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mlscope.atomic import write_atomic
from mlscope.report.cells import Cell as Cell
from mlscope.report.cells import Row as Row
from mlscope.report.cells import Table as Table
from mlscope.report.cells import (
    decimals_by_metric,
    metric_label,
)
from mlscope.report.cells import key_metrics as key_metrics
from mlscope.report.chart_data import values_indexed
from mlscope.report.charts import (
    FEASIBLE,
    forest_chart,
    model_colors,
    slice_chart,
    slice_metric,
    software_tradeoff_metrics,
    tradeoff_chart,
    tradeoff_metrics,
)
from mlscope.report.panels_analysis import (
    comparison_panel,
    confusion_panel,
    diagnosis_panel,
    differences_table,
)
from mlscope.report.panels_decision import (
    EXIT_CODES,
    STATUS_TEXT,
    decision_panel,
    dropped_panel,
    footer_panel,
    header_panel,
    requirements_panel,
    rules_panel,
)
from mlscope.report.panels_decision import RULE_NAMES as RULE_NAMES
from mlscope.report.panels_decision import requirements_summary as requirements_summary
from mlscope.report.panels_metrics import (
    baselines_panel,
    metric_table,
    slices_table,
    thresholds_table,
)
from mlscope.report.panels_verdict import launch_html
from mlscope.report.plan_panel import plan_panel
from mlscope.report.reliability import reliability_panel
from mlscope.report.risk_coverage import hitl_panel
from mlscope.report.scripts import REPORT_CSP, SORT_JS
from mlscope.report.templating import template
from mlscope.report.verdict import verdict_view
from mlscope.result import EvaluationResult

__all__ = ["EXIT_CODES", "STATUS_TEXT", "render_html", "write_html"]

# -- view model ------------------------------------------------------------------------


@dataclass
class Page:
    """Everything the template shows, already formatted."""

    title: str
    result: EvaluationResult
    header: dict[str, Any]
    decision: dict[str, Any]
    requirements: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    metric_tables: list[Table]
    forests: list[Markup]
    forest_caption: str
    tradeoff: Markup
    tradeoff_caption: str
    speed: Markup
    speed_caption: str
    slices: Markup
    slice_table: Table | None
    slice_caption: str
    thresholds: Table | None
    differences: Table | None
    warnings: list[str]
    footer: dict[str, Any]
    colors: dict[str, str]
    sort_js: Markup
    csp: str = REPORT_CSP  # the <meta> policy: only sort_js (by its hash) may run
    feasible: str = FEASIBLE
    nav: list[tuple[str, str]] = field(default_factory=list)
    confusion: dict[str, Any] | None = None
    baselines: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    diagnosis: dict[str, Any] | None = None
    pairs: list[Table] = field(default_factory=list)  # the charter's compare.pairs
    verdict: dict[str, Any] | None = None  # mlscope check's verdict: the first box
    launch: Markup = field(default_factory=Markup)  # the launch verdict, "Should we ship?"
    reliability: dict[str, Any] | None = None  # binary: a reliability diagram per model
    hitl: dict[str, Any] | None = None  # human_in_the_loop: the risk–coverage chart
    plan: dict[str, Any] | None = None  # the charter's planning facts and readiness


def _page(result: EvaluationResult) -> Page:
    with values_indexed(result):  # the charts look values up dozens of times
        return _build_page(result)


def _build_page(result: EvaluationResult) -> Page:
    dec = decimals_by_metric(result)
    colors = model_colors([m.name for m in result.models])
    charter = result.charter if isinstance(result.charter, dict) else {}
    report = charter.get("report") if isinstance(charter.get("report"), dict) else {}
    title = (report or {}).get("title") or result.project

    sel_split = str(result.splits.get("selection") or "")
    rep_split = result.splits.get("report")
    tables = [metric_table(result, sel_split, "selection", dec, colors)]
    present = {v.split for v in result.values}
    if rep_split and rep_split in present and rep_split != sel_split:
        tables.append(metric_table(result, rep_split, "report", dec, colors))

    forests = [Markup(forest_chart(result, m.id)) for m in result.metrics]
    shown_splits = [s for s in (sel_split, rep_split) if s and s in present]
    forest_caption = (
        (" and ".join(f"{s} ({'hollow' if i == 0 else 'filled'})"
                      for i, s in enumerate(shown_splits)) if len(shown_splits) > 1
         else ", ".join(shown_splits))
        + (f"; lines are {round(result.interval.level * 100):g}% intervals"
           if result.interval.resamples else "")
        + "; dashed: the charter's requirement."
    )

    pair = tradeoff_metrics(result)
    tradeoff = Markup(tradeoff_chart(result)) if pair else Markup("")
    tradeoff_caption = ""
    if pair:
        tradeoff_caption = (
            f"Each model at its {sel_split} values of {pair[0]} and {pair[1]}. Dashed lines: "
            "the rule's constraints (applied on this split) and the charter's requirements "
            "(checked on the report split). The dotted step line links the models no other "
            "model beats on both metrics."
        )
    # The accuracy–latency panel: profile figures against the selection's metric.
    spair = software_tradeoff_metrics(result)
    speed = (Markup(tradeoff_chart(result, x_metric=spair[0], y_metric=spair[1]))
             if spair else Markup(""))
    speed_caption = "" if not spair else (
        f"Each model at its {sel_split} value of {spair[1]} against its {spair[0]} from the "
        "profile (one figure per model; its line is the profile's order-statistic "
        "interval). Dashed lines: the rule's constraints and the charter's requirements. "
        "The dotted step line links the models no other model beats on both.")
    smetric = slice_metric(result)
    slice_split = str(rep_split if rep_split and rep_split in present else sel_split)
    slices_svg = Markup(slice_chart(result, metric=smetric, split=slice_split)) if smetric \
        else Markup("")
    slice_tbl = (slices_table(result, smetric, slice_split, dec, colors)
                 if smetric and any(s.kind != "overall" for s in result.slices) else None)
    slice_caption = ""
    if smetric:
        label = metric_label(result, smetric)
        # The id beside its label only where they differ ("Accuracy (accuracy)" said it twice).
        named = label if label.casefold() == smetric.casefold() else f"{label} ({smetric})"
        slice_caption = (
            f"{named} on the {slice_split} split. A slice with "
            "fewer rows than the charter's minimum has no numbers: at that size they would "
            "be noise. Shaded: the best candidate in the row (baselines are never shaded)."
        )

    warnings = list(dict.fromkeys(
        [*result.warnings, *(result.selection.warnings if result.selection else [])]))
    nav = [("decision", "Decision"), ("rules", "Rules"), ("metrics", "Metrics")]
    if tradeoff:
        nav.append(("tradeoff", "Trade-off"))
    if speed:
        nav.append(("speed", "Accuracy–latency"))
    if slices_svg:
        nav.append(("slices", "Slices"))
    baselines = baselines_panel(result, dec)
    comparison = comparison_panel(result, dec)
    diagnosis = diagnosis_panel(result, dec)
    if diagnosis:
        nav.insert(1, ("diagnosis", "Diagnosis"))
    if comparison:
        nav.insert(1, ("comparison", "Comparison"))
    if baselines:
        nav.insert(4 if comparison else 3, ("baselines", "Baselines"))
    reliability = reliability_panel(result)
    if reliability:
        nav.append(("calibration", "Calibration"))
    hitl = hitl_panel(result)
    if hitl:
        nav.append(("hitl", "Human in the loop"))
    plan = plan_panel(result)
    if plan:
        nav.append(("plan", "Plan"))
    confusion = confusion_panel(result)
    if confusion:
        nav.append(("confusion", "Confusion"))
    from mlscope.report.pairs import pair_tables

    pairs = pair_tables(result)
    if pairs:
        nav.append(("pairs", "Pairs"))
    if result.thresholds:
        nav.append(("thresholds", "Thresholds"))
    if warnings:
        nav.append(("warnings", f"Warnings ({len(warnings)})"))
    launch = launch_html(result, dec)
    if launch:
        nav.insert(0, ("ship", "Should we ship?"))
    verdict = verdict_view(result)
    if verdict:
        nav.insert(0, ("verdict", "Check"))  # last: the other sections keep their places
    return Page(
        title=str(title),
        result=result,
        header=header_panel(result),
        decision=decision_panel(result, dec),
        requirements=requirements_panel(result, dec),
        rules=rules_panel(result),
        dropped=dropped_panel(result),
        metric_tables=tables,
        forests=forests,
        forest_caption=forest_caption,
        tradeoff=tradeoff,
        tradeoff_caption=tradeoff_caption,
        speed=speed,
        speed_caption=speed_caption,
        slices=slices_svg,
        slice_table=slice_tbl,
        slice_caption=slice_caption,
        thresholds=thresholds_table(result),
        differences=differences_table(result, dec),
        warnings=warnings,
        footer=footer_panel(result),
        colors=colors,
        sort_js=Markup(SORT_JS),
        nav=nav,
        confusion=confusion,
        baselines=baselines,
        comparison=comparison,
        diagnosis=diagnosis,
        pairs=pairs,
        verdict=verdict,
        launch=launch,
        reliability=reliability,
        hitl=hitl,
        plan=plan,
    )


def _template() -> jinja2.Template:
    # The sections a report may lack (diagnosis, comparison, baselines, plan, human in the
    # loop, confusion matrices) are templates of their own, included only when present:
    # Jinja compiles a template when it is first included, and keeps it for the process
    # (mlscope.report.templating), so a dashboard serving reports compiles each once.
    return template("report.html.j2")


def render_html(result: EvaluationResult) -> str:
    """Render a result as one self-contained HTML page.

    Parameters
    ----------
    result
        The evaluation result (e.g. from :func:`mlscope.evaluate` or
        :meth:`EvaluationResult.from_json`).

    Returns
    -------
    str
        A complete HTML document: inline CSS and SVG, a few lines of inline JavaScript
        (sortable tables), no external references, so it works offline and as an e-mail
        attachment.
    """
    return _template().render(page=_page(result))


def write_html(result: EvaluationResult, path: str | Path) -> Path:
    """Write :func:`render_html` of ``result`` to ``path`` (UTF-8), creating folders.

    The file is replaced atomically (:func:`mlscope.atomic.write_atomic`): a reader, or a
    process killed while writing, never sees a truncated report. The page carries the
    result's run id (``<meta name="mlscope-run-id">``), the same as in ``result.json``.

    Parameters
    ----------
    result
        The evaluation result.
    path
        Target file, e.g. ``out/report.html``.

    Returns
    -------
    Path
        The path written.
    """
    return write_atomic(Path(path), render_html(result))
