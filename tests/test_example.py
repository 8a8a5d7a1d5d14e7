"""The bundled Caravan example end to end, as `make demo` runs it, plus `mlscope check`.

Slow (the example fits its models and bootstraps 1,000 times); `make test` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlscope.cli import main
from mlscope.result import EvaluationResult
from tests.golden_digest import differences, digest_file

GOLDEN = Path(__file__).resolve().parent / "golden"

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "caravan"

pytest.importorskip("ISLP")
pytestmark = pytest.mark.slow


def assert_golden(result_json: Path, project: Path, name: str) -> None:
    """The run's result.json matches the stored digests (tests/golden_digest.py): a
    restructuring must leave every number, name and order unchanged. ``make golden``
    rewrites the digests when a change means to alter them."""
    actual = digest_file(result_json, project)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("MLSCOPE_GOLDEN_WRITE") == "1":
        path.write_text(json.dumps(actual, indent=1) + "\n")
        return
    expected = json.loads(path.read_text())
    diff = differences(expected, actual)
    assert not diff, (f"{name}: result.json differs from the golden digests in "
                      + "; ".join(diff) + " (run `make golden` only if this change is meant "
                      "to alter the numbers)")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("caravan")
    for name in ("mlscope.yaml", "rules.py"):
        shutil.copy(EXAMPLE / name, tmp / name)
    subprocess.run([sys.executable, str(EXAMPLE / "prepare.py"), "--out", str(tmp / "data")],
                   check=True, capture_output=True)
    return tmp / "mlscope.yaml"


def test_run_selects_gbdt_with_baselines(project: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["run", str(project), "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    res = EvaluationResult.from_json(tmp_path / "result.json")
    assert res.winner == "gbdt"
    fams = {m.name: m.family for m in res.models if m.kind == "baseline"}
    assert fams == {"prior": "trivial", "majority": "trivial", "simple_logistic": "learned",
                    "gbdt_all_features": "learned", "marketing_rule": "rule"}
    assert res.human is not None
    dropped = {d["model"] for d in res.selection.primary.dropped}
    assert {"logistic", "knn", "naive_bayes"} <= dropped  # do not beat the rule of thumb
    assert res.selection.confidence is not None
    assert res.selection.confidence.winner_share is not None
    assert (tmp_path / "report.html").stat().st_size > 50_000
    assert_golden(tmp_path / "result.json", project.parent, "caravan-run")


def test_run_verdict_ships_the_marketing_rule(project: Path, tmp_path: Path) -> None:
    """gbdt is selected, but its lead over the four-line marketing rule, which meets every
    requirement, is within the paired interval: the verdict is to ship the rule."""
    r = CliRunner().invoke(main, ["run", str(project), "--out", str(tmp_path), "--no-store"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Verdict: Ship the rule baseline marketing_rule")
    res = EvaluationResult.from_json(tmp_path / "result.json")
    v = res.verdict
    assert v is not None
    assert (v.kind, v.model, v.metric, v.split) == ("ship_rule", "marketing_rule",
                                                    "precision_at_recall", "test")
    lead = v.reasons[0].figures
    assert lead["lead"] == pytest.approx(0.006, abs=0.001)
    assert lead["lower"] < 0 < lead["upper"]
    assert res.winner == "gbdt"
    assert res.exit_code == v.exit_code == 0
    meets = {r.model for r in v.requirements if r.met} - {
        r.model for r in v.requirements if not r.met}
    assert {"gbdt", "marketing_rule", "simple_logistic"} <= meets
    assert "knn" not in meets  # the model in production misses two requirements
    # The money, beside the verdict: gbdt is worth more per customer than the rule beyond
    # its interval, and the verdict says so (the charter's rule decides on another metric).
    costs = v.sections["costs"]
    assert costs[0].startswith("net_value: net value (against acting on no case)")
    assert any(line.startswith("marketing_rule: ") and "recommended" in line for line in costs)
    money = [r.figures for r in v.reasons if r.figures.get("metric") == "net_value"]
    assert len(money) == 1
    assert money[0]["model"] == "gbdt"
    assert money[0]["lower"] > 0
    assert "to decide on money, optimise net_value" in r.output
    # The scope: with 87 buyers on test, no segment (nor all customers) meets every
    # requirement at 95% family-wise confidence, and the section says what is nearest.
    scope = res.scope
    assert scope is not None
    assert (scope.model, scope.split, scope.partition) == ("marketing_rule", "test", None)
    assert scope.tested == sum(c.p_value is not None for c in scope.cells) > 0
    overall = next(c for c in scope.cells if c.slice == "overall")
    assert overall.status == "not_certified"
    assert overall.metric == "precision_at_recall"
    assert v.sections["scope"][0].startswith("No scope is certified")
    assert v.sections["scope"][1].startswith(
        "All traffic: precision_at_recall 0.119 [0.094, 0.147] meets >= 0.1, but not "
        "with family-wise confidence")


def test_check_passes_for_the_winner_and_fails_for_the_faulty_release(
        project: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["check", str(project), "--out", str(tmp_path / "a"), "-q"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("PASS: candidate gbdt against the blessed knn")
    assert_golden(tmp_path / "a" / "result.json", project.parent, "caravan-check")
    bad = CliRunner().invoke(main, ["check", str(project), "--candidate", "gbdt_v2",
                                    "--out", str(tmp_path / "b"), "-q"])
    assert bad.exit_code == 1, bad.output
    assert ("roc_auc on slice customer_type=Driven Growers × age_group=40-50 years "
            "regressed beyond 0.02") in bad.output
    assert (tmp_path / "b" / "check.md").exists()


def test_diagnose_is_unchanged(project: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["diagnose", str(project), "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    res = EvaluationResult.from_json(tmp_path / "result.json")
    assert res.diagnosis is not None
    assert res.diagnosis.model == "gbdt"
    assert_golden(tmp_path / "result.json", project.parent, "caravan-diagnose")


def test_p99_latency_as_a_constraint(project: Path, tmp_path: Path) -> None:
    """examples/caravan/README.md's latency variant: profile two of the models, name
    `latency_p99_ms` in the charter with a bound, and the rule drops a model by its
    profiled p99 (figures read from profile.json, not asserted against the clock)."""
    import yaml

    from mlscope import evaluate

    folder = project.parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = folder / "mlscope-out" / "profile"
    subprocess.run([sys.executable, "-m", "mlscope", "profile", str(project), "--model",
                    "gbdt", "--model", "forest", "--scenario", "single-stream", "--calls",
                    "300", "--no-memory", "--out", str(out)], check=True,
                   capture_output=True, env=env)
    record = json.loads((out / "profile.json").read_text(encoding="utf-8"))
    p99 = {m: record["models"][m]["single_stream"]["percentiles"]["p99"]
           for m in ("gbdt", "forest")}
    # A bound between the two figures, so that the constraint decides between them.
    bound = (p99["gbdt"]["value_ms"] + p99["forest"]["value_ms"]) / 2
    ch = yaml.safe_load(project.read_text(encoding="utf-8"))
    ch["metrics"].append("latency_p99_ms")
    ch["selection"]["constraints"]["latency_p99_ms"] = f"<= {bound:.6f}"
    variant = folder / "latency.yaml"
    variant.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    res = evaluate(variant, resamples=0)
    faster = min(p99, key=lambda m: p99[m]["value_ms"])
    slower = max(p99, key=lambda m: p99[m]["value_ms"])
    for m, p in p99.items():
        v = next(x for x in res.values if x.model == m and x.metric == "latency_p99_ms"
                 and x.split == "validation" and x.slice == "overall")
        # The two-sided interval, when the calls were enough for both of its ends.
        both = p["low_ms"] is not None and p["high_ms"] is not None
        interval = (p["low_ms"], p["high_ms"]) if both else (None, None)
        assert (v.value, (v.lower, v.upper)) == (p["value_ms"], interval)
    dropped = {d["model"]: " ".join(d["reasons"]) for d in res.selection.primary.dropped}
    assert "latency_p99_ms" in dropped[slower]
    assert "latency_p99_ms" not in dropped.get(faster, "")
    for m in ("logistic", "knn", "naive_bayes"):  # not profiled: no figure, never chosen
        v = next(x for x in res.values if x.model == m and x.metric == "latency_p99_ms"
                 and x.split == "validation" and x.slice == "overall")
        assert v.value is None
        assert "not in the profile" in (v.undefined or "")
        # Dropped for it, unless the rule of thumb already blocks it (`must_beat`).
        assert "not in the profile" in dropped[m] or "marketing_rule" in dropped[m]
    ranked = [r["model"] for r in res.selection.primary.ranking if r.get("eligible")]
    assert slower not in ranked


def test_bundled_production_stream_flags_each_planted_problem(project: Path) -> None:
    """examples/caravan/make_stream.py plants a covariate shift (days 4–5), a label shift
    (7–8) and a broken feature (10) in real customers' traffic; the monitor flags each in
    its window, with the right check, and no clean window alerts."""
    data = project.parent / "data"
    subprocess.run([sys.executable, str(EXAMPLE / "make_stream.py"), "--data", str(data)],
                   check=True, capture_output=True)
    out = project.parent / "monitor-out"
    r = CliRunner().invoke(main, ["monitor", str(project), "--log",
                                  str(data / "production_log.parquet"), "--out", str(out)])
    assert r.exit_code == 1, r.output  # alerts
    windows = json.loads((out / "monitor.json").read_text())["windows"]
    assert len(windows) == 14
    alerts = {w["index"]: {(c["kind"], c["column"]) for c in w["checks"] if c["alert"]}
              for w in windows}
    assert {i for i, a in alerts.items() if a} == {4, 5, 7, 8, 10}
    for day in (4, 5):
        assert ("shift", "car_policies") in alerts[day]
    for day in (7, 8):
        assert ("label_share", "labels") in alerts[day]
    assert ("shift", "MKOOPKLA") in alerts[10]
    assert (out / "monitor.html").stat().st_size > 10_000
    # Recorded in the project's store; the dashboard's monitoring page marks the same days.
    from mlscope.server.app import Dashboard
    from mlscope.store import Store

    with Store.open(project.parent / ".mlscope" / "store.sqlite", create=False) as store:
        assert [w.status == "alert" for w in store.monitor_windows("caravan-campaign")] == [
            i in (4, 5, 7, 8, 10) for i in range(14)]
        page = Dashboard(store).respond("/p/caravan-campaign/monitoring")
    assert page.status == 200
    html = page.body.decode()
    assert html.count(": alert</title>") >= 5
    assert "MKOOPKLA" in html
    # The alert digest: short enough for a chat message, the same alerting days.
    digest = (out / "digest.md").read_text()
    assert len(digest.splitlines()) <= 40, digest
    assert "**Status: ALERT**" in digest
    assert "http" not in digest
    brief = json.loads((out / "digest.json").read_text())
    assert sorted({a["window"] for a in brief["alerts"]}) == [4, 5, 7, 8, 10]
    assert brief["exit_code"] == 1
