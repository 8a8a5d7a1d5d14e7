"""Portfolio: scores and ranks from drivers (exact, with ranges), the 2×2's labels, the CLI."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlscope.charter.planning import FeasibilityDrivers, ImpactDrivers
from mlscope.cli import main
from mlscope.plan.portfolio import load_portfolio, rank, score_project
from mlscope.report.portfolio_chart import portfolio_layout, portfolio_svg

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio" / "portfolio.yaml"


def test_scores_from_drivers_exact() -> None:
    p = score_project(
        "x", ImpactDrivers.model_validate({"cheap_prediction": "high",
                                           "removing_friction": "low"}),
        FeasibilityDrivers.model_validate({
            "labelled_rows": 150_000, "data_stability": "medium", "human_can_do": "no",
            "accuracy_requirement": "high", "cost_of_errors": {"level": "low", "note": "n"}}))
    # impact: high [2/3, 1], low [0, 1/3], automating_pipeline unknown [0, 1].
    assert p.impact.lo == pytest.approx((2 / 3 + 0 + 0) / 3)
    assert p.impact.hi == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert p.impact.point == pytest.approx((5 / 6 + 1 / 6 + 1 / 2) / 3)
    assert p.impact.known == 2
    # feasibility: rows high, stability medium, human no → low, accuracy high → low,
    # cost of errors low → high.
    los = [2 / 3, 1 / 3, 0, 0, 2 / 3]
    assert p.feasibility.lo == pytest.approx(sum(los) / 5)
    assert p.feasibility.hi == pytest.approx(sum(x + 1 / 3 for x in los) / 5)
    assert p.feasibility.point == pytest.approx(sum(x + 1 / 6 for x in los) / 5)
    levels = {d.driver: d.level for d in p.feasibility.drivers}
    assert levels == {"labelled_rows": "high", "data_stability": "medium",
                      "human_can_do": "low", "accuracy_requirement": "low",
                      "cost_of_errors": "high"}


def test_rows_thresholds() -> None:
    def lvl(rows: int) -> str:
        f = score_project("x", ImpactDrivers(), FeasibilityDrivers(labelled_rows=rows))
        return f.feasibility.drivers[0].level
    assert [lvl(999), lvl(1000), lvl(99_999), lvl(100_000)] == ["low", "medium", "medium",
                                                               "high"]


def test_ranking_quadrants_and_ties() -> None:
    hi = ImpactDrivers.model_validate({k: "high" for k in ImpactDrivers.model_fields})
    lo = ImpactDrivers.model_validate({k: "low" for k in ImpactDrivers.model_fields})
    easy = FeasibilityDrivers.model_validate({"labelled_rows": 200_000,
                                              "data_stability": "high",
                                              "human_can_do": "yes",
                                              "accuracy_requirement": "low",
                                              "cost_of_errors": "low"})
    hard = FeasibilityDrivers.model_validate({"labelled_rows": 10, "data_stability": "low",
                                              "human_can_do": "no",
                                              "accuracy_requirement": "high",
                                              "cost_of_errors": "high"})
    ps = rank([score_project("d", lo, hard), score_project("b", hi, hard),
               score_project("a", hi, easy), score_project("c", lo, easy)])
    assert [p.name for p in ps] == ["a", "b", "c", "d"]  # b and c tie: by name
    assert [p.quadrant for p in ps] == ["do first", "big bet", "quick win", "not now"]
    assert all(p.settled for p in ps)
    assert ps[0].impact.lo == pytest.approx(2 / 3)
    assert ps[0].feasibility.hi == pytest.approx(1.0)


def test_example_ranks_and_labels_do_not_overlap() -> None:
    pf = load_portfolio(EXAMPLE)
    assert [p.name for p in pf.projects] == ["claims triage", "caravan campaign",
                                             "document routing"]
    caravan = pf.projects[1]
    assert caravan.source == "../caravan/mlscope.yaml"
    assert caravan.impact.point == pytest.approx((5 / 6 + 1 / 6 + 1 / 2) / 3)
    lay = portfolio_layout(pf)
    boxes = lay.text_boxes()
    assert len(lay.labels) == 3
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    for lab in lay.labels:
        assert not any(lab.box.overlaps(d) for d in lay.dots)
        assert lay.plot.x0 <= lab.box.x0
        assert lab.box.x1 <= lay.plot.x1
    svg = portfolio_svg(pf)
    assert svg.startswith("<svg")
    assert "1 claims triage" in svg


def test_crowded_portfolio_labels_do_not_overlap() -> None:
    # Six projects with the same drivers sit on one dot: labels must still separate.
    imp = ImpactDrivers.model_validate({"cheap_prediction": "medium"})
    fea = FeasibilityDrivers.model_validate({"human_can_do": "yes"})
    from mlscope.plan.portfolio import Portfolio
    pf = Portfolio("crowd", "x", rank([score_project(f"project {i}", imp, fea)
                                       for i in range(6)]))
    boxes = portfolio_layout(pf).text_boxes()
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b)


def test_cli_writes_the_files(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["portfolio", str(EXAMPLE), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for name in ("portfolio.svg", "portfolio.html", "portfolio.json"):
        assert (tmp_path / name).stat().st_size > 500
    data = json.loads((tmp_path / "portfolio.json").read_text())
    assert [p["rank"] for p in data["projects"]] == [1, 2, 3]
    assert "What drives each score" in (tmp_path / "portfolio.html").read_text()
