"""The brief (issue 15, item 6): `mlscope plan CHARTER` writes brief.md and brief.html with
the charter's and the result's figures exactly, lists the evidence found and missing,
escapes charter text, writes atomically; the portfolio example's briefs never drift."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import mlscope
from mlscope.atomic import StagedFiles
from mlscope.charter import load_charter
from mlscope.charter.schema import Charter
from mlscope.cli import main
from mlscope.plan.brief import compose_brief
from mlscope.report import brief as render
from mlscope.report.brief import brief_html, brief_markdown, fmt, interval, write_brief
from tests.test_plan import BARE, CARAVAN, annotated, full_charter

ROOT = Path(__file__).resolve().parents[1]
PORTFOLIO = ROOT / "examples" / "portfolio"
SECTIONS = ["Goal and decision", "Archetype", "Requirements and their evidence",
            "Baselines and human level", "Feasibility and cost",
            "Failure modes and their slices", "Rollout and monitoring plan", "Readiness",
            "Evidence found", "Evidence missing", "Open items"]


@pytest.fixture
def with_result(project: Callable[..., Path], tmp_path: Path) -> tuple[Path, Any]:
    (tmp_path / "ops.py").write_text("def latency_ms(y, s, w):\n    return 12.0\n")
    c = full_charter()
    c["planning"].update(problem="churn costs", decision="who gets a call",
                         archetype="human_in_the_loop")
    path = project(annotated(), charter=c)
    return path, mlscope.evaluate(path, resamples=200)


def _shown(res: Any) -> list[Any]:
    """The requirement checks a brief shows: the verdict's model's."""
    return [q for q in res.verdict.requirements if q.model == res.verdict.model]


def test_caravan_brief_sections_and_charter_facts() -> None:
    ch = load_charter(CARAVAN)
    md = brief_markdown(compose_brief(ch))
    heads = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert heads == SECTIONS
    p = ch.planning
    for text in (p.problem, p.users, p.decision, "software_2_0", p.questions.flywheel,
                 "shadow → replacement", p.failure_modes[0].failure):
        assert text is not None
        assert text in md
    for mid, bound in ch.requirements.items():
        assert f"| {mid} | {bound.op} {bound.value:g} | — | not measured |" in md
    # Evidence found and missing, as the plan check says.
    assert "- Literature: published results: CoIL Challenge 2000" in md
    assert "- Failure modes: “customers without a car policy" in md
    assert "slice_requirements" in md.split("## Evidence missing")[1]
    # Without a result, each missing figure names what would provide it.
    wanted = md.split("## Open items")[1]
    assert "run `mlscope run`" in wanted
    assert "run `mlscope diagnose`" in wanted
    assert "- Buy-in:" in wanted


def test_figures_come_from_the_result_exactly(with_result: tuple[Path, Any]) -> None:
    path, res = with_result
    b = compose_brief(load_charter(path), res, source="result.json")
    md, html = brief_markdown(b), brief_html(b)
    # The verdict keeps the production model (`fair`) over the selected one (`good`): the
    # evidence shown is the production model's, the model the brief's verdict acts on.
    assert res.verdict is not None
    assert res.verdict.kind == "keep_production"
    assert res.verdict.model != res.winner
    shown = _shown(res)
    assert {q.model for q in shown} == {res.verdict.model}
    assert len(shown) == len(res.requirements)
    evidence = md.split("## Requirements and their evidence")[1].split("\n## ")[0]
    for q in shown:
        label = q.metric if q.slice == "overall" else f"{q.metric} in {q.slice}"
        row = (f"| {label} | {q.bound.replace('<', '&lt;')} | {q.model} | {fmt(q.value)} | "
               f"{interval(q.lower, q.upper)} | {'met' if q.met else 'NOT met'} |")
        assert row in evidence
        assert fmt(q.value) in html
    assert f"| {res.winner} |" not in evidence
    assert res.verdict.headline.replace("<", "&lt;") in md
    # The headline names the kind in words: not "(keep_production)" beside it.
    assert f"- **Verdict:** {res.verdict.headline.replace('<', '&lt;')}" in md
    assert "(keep_production)" not in md
    assert "<b>Verdict:</b> " in html
    split = res.splits.get("report") or res.splits["selection"]
    prior = next(v for v in res.values if v.model == "prior" and v.split == split
                 and v.slice == "overall" and v.metric == b.metric)
    assert f"| prior | prior | {fmt(prior.value)} | {interval(prior.lower, prior.upper)} |" \
        in md
    assert res.human is not None
    single = next(r for r in res.human.rungs if r.name == "single annotator")
    hv = single.value(b.metric or "")
    assert hv is not None
    assert f"| single annotator | {single.n_items} items | {fmt(hv.value)} |" in md
    # No learning curve in this result: the brief says what would provide one.
    assert b.feasibility is None
    assert "run `mlscope diagnose`" in md


def test_feasibility_from_the_diagnosis_learning_curve(project: Callable[..., Path]) -> None:
    c = full_charter()
    # Measured points of a known power law: error = 0.5·n^-0.4 + 0.05 (levels off at 0.95).
    sizes = [500, 1000, 2000, 4000, 8000, 16000]
    c["diagnosis"] = {"learning_curve": {"sizes": sizes,
                                         "values": [1 - (0.5 * n ** -0.4 + 0.05)
                                                    for n in sizes]}}
    c["requirements"] = {"roc_auc": ">= 0.9"}
    c["planning"]["feasibility"]["label_cost"] = {"per_item": 0.5, "unit": "EUR",
                                                  "per_week": 100}
    c["metrics"] = ["roc_auc", "precision"]
    c["selection"] = {"rule": "satisficing", "optimize": "roc_auc"}
    c.pop("costs")
    path = project(annotated(), charter=c)
    res = mlscope.evaluate(path, diagnose=True, resamples=0)
    assert res.diagnosis is not None
    assert res.diagnosis.learning_curve
    from mlscope.diagnose.curve_fit import fit_learning_curve
    from mlscope.plan.feasibility import assess_feasibility

    b = compose_brief(load_charter(path), res)
    assert b.feasibility is not None
    stored = res.diagnosis.learning_curve["curve"]
    curve = fit_learning_curve(stored["sizes"], stored["values"],
                               direction=stored["direction"],
                               bounds=res.metric_info("roc_auc").bounds,
                               level=stored["level"], resamples=stored["resamples"],
                               seed=res.seed)
    ch = load_charter(path)
    want = assess_feasibility(curve, metric="roc_auc", requirements={"roc_auc >= 0.9": 0.9},
                              label_cost=ch.planning.feasibility.label_cost,
                              curve_source=b.feasibility["curve_source"])
    assert b.feasibility["targets"][0] == want.to_dict()["targets"][0]
    md = brief_markdown(b)
    t = want.targets[0]
    assert t.reachable
    assert t.rows_needed is not None
    assert t.money is not None
    assert t.rows_interval is not None  # the refit keeps the diagnosis' bootstrap
    assert f"| roc_auc >= 0.9 | {t.rows_needed:,.0f} |" in md
    assert f"{t.money:,.0f} EUR" in md
    assert "levels off at 0.95" in md


def test_charter_text_is_escaped(tmp_path: Path) -> None:
    raw: dict[str, Any] = {**BARE, "planning": {
        "problem": "<script>alert(1)</script> & co", "decision": "<b>who</b>",
        "failure_modes": [{"failure": "<img src=x onerror=alert(1)>", "slice": "s",
                           "metric": "roc_auc"}]}}
    b = compose_brief(Charter.model_validate(raw))
    html, md = brief_html(b), brief_markdown(b)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<img" not in html
    assert "<b>who" not in html
    assert "<script>" not in md
    assert "<img" not in md
    assert "&lt;script>alert(1)&lt;/script> &amp; co" in md
    assert "default-src &#39;none&#39;" in html
    assert "script-src &#39;none&#39;" in html
    assert not re.search(r"<script\b", html)  # the page runs no script at all
    assert not re.search(r"(src|href)=\"https?:", html)  # offline


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = compose_brief(load_charter(CARAVAN))
    out = tmp_path / "plan"
    write_brief(b, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"brief.md", "brief.html"}
    calls = {"n": 0}
    real = StagedFiles.put

    def failing(self: StagedFiles, name: str, data: str | bytes, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the HTML, after the markdown is staged
            raise OSError(28, "No space left on device")
        real(self, name, data, **kw)

    monkeypatch.setattr(StagedFiles, "put", failing)
    b.project = "changed"
    b.title = "changed — project brief"
    with pytest.raises(OSError, match="No space left"):
        write_brief(b, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp file left
    # A rendering error: nothing is staged at all.
    monkeypatch.setattr(render, "brief_html", lambda _b: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_brief(b, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_cli_writes_the_brief_and_exits_0(tmp_path: Path) -> None:
    shutil.copy(CARAVAN, tmp_path / "mlscope.yaml")
    r = CliRunner().invoke(main, ["plan", str(tmp_path / "mlscope.yaml")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "mlscope-out" / "plan"
    assert "wrote the brief" in r.output
    assert (out / "brief.md").read_text().startswith("# caravan-campaign — project brief")
    assert (out / "brief.html").read_text().startswith("<!DOCTYPE html>")
    r = CliRunner().invoke(main, ["plan", str(CARAVAN), "--out", str(tmp_path / "o"),
                                  "--json"])
    assert r.exit_code == 0
    assert r.output.lstrip().startswith("{")
    assert (tmp_path / "o" / "brief.md").is_file()


def test_cli_brief_with_result_and_bad_input(with_result: tuple[Path, Any],
                                             tmp_path: Path) -> None:
    path, _ = with_result
    run = tmp_path / "run"
    assert CliRunner().invoke(main, ["run", str(path), "-o", str(run), "--resamples", "0",
                                     "-q", "--no-store"]).exit_code == 0
    res = mlscope.EvaluationResult.from_json(run / "result.json")
    r = CliRunner().invoke(main, ["plan", str(path), "--result", str(run / "result.json"),
                                  "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    md = (tmp_path / "b" / "brief.md").read_text()
    assert f"Figures from: charter and {run / 'result.json'}." in md
    q = _shown(res)[0]
    assert f"| {q.model} | {fmt(q.value)} |" in md
    # Bad input: exit 2 and nothing written.
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**BARE, "planning": {"archetype": "autonomus"}}))
    r = CliRunner().invoke(main, ["plan", str(bad), "--out", str(tmp_path / "c")])
    assert r.exit_code == 2
    assert not (tmp_path / "c").exists()
    r = CliRunner().invoke(main, ["plan", str(path), "--result", str(tmp_path / "no.json"),
                                  "--out", str(tmp_path / "d")])
    assert r.exit_code == 2
    assert not (tmp_path / "d").exists()


def _normal(text: str) -> str:
    """The file without what changes by itself: mlscope's version."""
    return re.sub(r"mlscope \d[\w.+-]*", "mlscope VERSION", text)


def test_portfolio_example_briefs_are_regenerated_identically(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlscope plan examples/portfolio/portfolio.yaml --out examples/portfolio/out` wrote
    the committed files: regenerating gives the same (so they never drift)."""
    work = tmp_path / "examples"
    shutil.copytree(PORTFOLIO, work / "portfolio", ignore=shutil.ignore_patterns("out"))
    (work / "caravan").mkdir()
    shutil.copy(CARAVAN, work / "caravan" / "mlscope.yaml")
    monkeypatch.chdir(tmp_path)  # the command as the README gives it, from the top
    # In the repository the git work tree holds both folders; this copy is no repository,
    # so allow its examples folder as whoever runs mlscope would.
    monkeypatch.setenv("MLSCOPE_ALLOW_DIRS", str(work))
    r = CliRunner().invoke(main, ["plan", "examples/portfolio/portfolio.yaml",
                                  "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    made = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*")
                  if p.is_file())
    kept = sorted(p.relative_to(PORTFOLIO / "out") for p in (PORTFOLIO / "out").rglob("*")
                  if p.is_file())
    assert made == kept
    briefs = [p for p in made if p.name.startswith("brief.")]
    assert len(briefs) == 6  # three projects, md and html each
    for rel in made:
        assert _normal((tmp_path / "out" / rel).read_text()) == \
            _normal((PORTFOLIO / "out" / rel).read_text()), rel
    for name in ("caravan-campaign", "claims-triage", "document-routing"):
        md = (PORTFOLIO / "out" / name / "brief.md").read_text()
        found = md.split("## Evidence found")[1].split("## Evidence missing")[0]
        missing = md.split("## Evidence missing")[1].split("## Open items")[0]
        assert found.strip().startswith("- "), name
        assert missing.strip().startswith("- "), name


def test_a_requirement_decided_on_its_bound_shows_its_bound(
        project: Callable[..., Path]) -> None:
    """The brief listed "precision >= 0.65 | 0.7234 | NOT met": the point clears the bound,
    the certified bound (what decided) did not; it now shows the bound, the point beside."""
    from tests.conftest import base_charter, binary_frame

    df = binary_frame(3000, seed=2)
    probe = mlscope.evaluate(project(df, base_charter(requirements={"precision": ">= 0.1"})))
    value = probe.requirements[0].value
    assert value is not None
    bound = f">= {value - 0.005:.4f}"  # met on the point, not on its 95% bound
    ch = base_charter(requirements={"precision": {"bound": bound, "decide_on": "bound"}})
    path = project(df, ch)
    res = mlscope.evaluate(path)
    q = next(r for r in _shown(res) if r.metric == "precision")
    assert q.decided_on == "bound"
    assert not q.met
    assert q.certified is not None
    md = brief_markdown(compose_brief(load_charter(path), res))
    row = next(line for line in md.splitlines() if line.startswith("| precision |"))
    assert f"| {fmt(q.certified)} (bound; point {fmt(q.value)}) |" in row
    assert row.rstrip().endswith("| NOT met |")
