"""Profile figures as charter metrics: `latency_p99_ms`, `peak_memory_mb` … read from a
hand-written profile.json with known figures, in constraints, requirements, the Pareto
rule, gates and the report; and a bad record refused with the fix (exit 2)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlscope import evaluate
from mlscope.cli import main
from mlscope.errors import InputError
from tests.conftest import base_charter

# Known figures: good is the most accurate and the slowest; weak is not profiled.
FIGURES = {
    "good": {"p99": (30.0, 27.5, 33.0), "peak": 120.0, "size": 4.5, "qps": 80.0},
    "fair": {"p99": (12.0, 11.0, 13.5), "peak": 40.0, "size": 0.8, "qps": 300.0},
}


def _model(p99: tuple[float, float, float], peak: float, size: float,
           qps: float | None) -> dict[str, Any]:
    v, lo, hi = p99
    pct = {"p50": {"value_ms": v / 3, "upper_ms": v / 3 + 1, "low_ms": v / 3 - 0.5,
                   "high_ms": v / 3 + 1, "min_calls_for_upper": 14},
           "p99": {"value_ms": v, "upper_ms": hi, "low_ms": lo, "high_ms": hi,
                   "min_calls_for_upper": 299}}
    return {"kind": "joblib", "source": "x", "method": "predict_proba", "size_mb": size,
            "parameters": 10, "single_stream": {"calls": 1000, "measured": 990,
                                                "percentiles": pct},
            "server": None, "qps_search": None if qps is None else {"qps": qps},
            "offline": None, "batch_sweep": None, "memory": {"peak_mb": peak}, "notes": []}


def write_profile(folder: Path, figures: dict[str, dict[str, Any]] = FIGURES,
                  where: str = "mlscope-out/profile/profile.json") -> Path:
    path = folder / where
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"mlscope_version": "x", "project": "test-project",
              "created": "2026-12-06T17:00:00+00:00",
              "options": {"scenario": "single-stream", "confidence": 0.95},
              "models": {name: _model(f["p99"], f["peak"], f["size"], f["qps"])
                         for name, f in figures.items()}}
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def sw_charter(**over: Any) -> dict[str, Any]:
    c = base_charter()
    c["metrics"] = [*c["metrics"], "latency_p99_ms", "peak_memory_mb", "model_size_mb",
                    "throughput_qps"]
    c["slices"] = {"columns": ["region"], "min_size": 10}
    c.update(over)
    return c


def _value(result: Any, model: str, metric: str, split: str = "validation",
           slice_: str = "overall") -> Any:
    return next(v for v in result.values if v.model == model and v.metric == metric
                and v.split == split and v.slice == slice_)


def test_figures_become_values_per_model(project: Callable[..., Path]) -> None:
    path = project(charter=sw_charter())
    write_profile(path.parent)
    r = evaluate(path)
    for split in ("validation", "test"):
        v = _value(r, "good", "latency_p99_ms", split)
        assert (v.value, v.lower, v.upper) == (30.0, 27.5, 33.0)
    assert _value(r, "fair", "peak_memory_mb").value == 40.0
    assert _value(r, "fair", "model_size_mb").value == 0.8
    assert _value(r, "fair", "throughput_qps").value == 300.0
    # Not profiled: undefined, with the reason.
    weak = _value(r, "weak", "latency_p99_ms")
    assert weak.value is None
    assert "not in the profile" in (weak.undefined or "")
    # A model-level figure is not given per slice.
    north = _value(r, "good", "latency_p99_ms", slice_="region=north")
    assert north.value is None
    assert "overall slice only" in (north.undefined or "")
    info = next(m for m in r.metrics if m.id == "latency_p99_ms")
    assert info.direction == "lower"
    assert r.data["profile"]["results"] == "mlscope-out/profile/profile.json"


def test_a_latency_constraint_drops_the_slow_model(project: Callable[..., Path]) -> None:
    # good is the most accurate; p99 ≤ 20 ms leaves fair; weak has no figure.
    sel = {"rule": "satisficing", "optimize": "roc_auc",
           "constraints": {"latency_p99_ms": "<= 20"}}
    path = project(charter=sw_charter(selection=sel))
    write_profile(path.parent)
    r = evaluate(path)
    primary = r.selection.primary
    assert primary.winner == "fair"
    dropped = {d["model"]: " ".join(d["reasons"]) for d in primary.dropped}
    assert "latency_p99_ms" in dropped["good"]
    assert "30" in dropped["good"]
    assert "weak" in dropped
    assert "latency_p99_ms" in dropped["weak"]
    # Without the constraint, good wins: the constraint decided.
    free = evaluate(project(charter=sw_charter(
        selection={"rule": "satisficing", "optimize": "roc_auc"})))
    assert free.selection.primary.winner == "good"


def test_requirements_on_software_metrics(project: Callable[..., Path]) -> None:
    path = project(charter=sw_charter(
        selection={"rule": "satisficing", "optimize": "roc_auc"},
        requirements={"latency_p99_ms": "<= 25", "peak_memory_mb": "<= 500"}))
    write_profile(path.parent)
    r = evaluate(path)
    assert r.selection.primary.winner == "good"
    req = {c.metric: c for c in r.requirements}
    assert req["latency_p99_ms"].met is False
    assert req["latency_p99_ms"].value == 30.0
    assert (req["latency_p99_ms"].lower, req["latency_p99_ms"].upper) == (27.5, 33.0)
    assert req["peak_memory_mb"].met is True
    assert r.status == "requirements_not_met"


def test_pareto_over_accuracy_and_latency(project: Callable[..., Path]) -> None:
    sel = {"rule": "pareto", "metrics": ["roc_auc", "latency_p99_ms"]}
    path = project(charter=sw_charter(selection=sel))
    # fair made slower than good: good dominates it (more accurate and faster).
    write_profile(path.parent, {"good": FIGURES["good"],
                                "fair": {**FIGURES["fair"], "p99": (40.0, 38.0, 44.0)}})
    r = evaluate(path)
    front = {row["model"] for row in r.selection.primary.ranking if row.get("rank") == 1}
    assert front == {"good"}
    write_profile(path.parent)  # fair faster, less accurate: both on the front
    r = evaluate(path)
    front = {row["model"] for row in r.selection.primary.ranking if row.get("rank") == 1}
    assert front == {"good", "fair"}


def _exit(path: Path) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["run", str(path), "--out", str(path.parent / "out"),
                                  "--no-store"])
    return r.exit_code, r.output


def test_a_missing_profile_exits_2_with_the_fix(project: Callable[..., Path]) -> None:
    path = project(charter=sw_charter())
    code, out = _exit(path)
    assert code == 2, out
    assert "do not exist" in out
    assert "mlscope profile" in out


@pytest.mark.parametrize(("edit", "says"), [
    (lambda rec: rec["models"]["good"]["single_stream"]["percentiles"]["p99"].update(
        value_ms=-3.0), "finite number ≥ 0"),
    (lambda rec: rec["models"]["fair"].update(size_mb="big"), "finite number ≥ 0"),
    (lambda rec: rec["models"]["good"]["single_stream"]["percentiles"]["p99"].update(
        low_ms=31.0), "does not hold the value"),
    (lambda rec: rec.update(models={"other": rec["models"]["good"]}), "none of the "),
    (lambda rec: rec.update(models=[1, 2]), "must be an object"),
])
def test_a_bad_profile_record_exits_2(project: Callable[..., Path], edit: Any,
                                      says: str) -> None:
    path = project(charter=sw_charter())
    rec_path = write_profile(path.parent)
    rec = json.loads(rec_path.read_text(encoding="utf-8"))
    edit(rec)
    rec_path.write_text(json.dumps(rec), encoding="utf-8")
    code, out = _exit(path)
    assert code == 2, out
    assert says in " ".join(out.split())


def test_nan_and_non_json_are_refused(project: Callable[..., Path]) -> None:
    path = project(charter=sw_charter())
    rec_path = write_profile(path.parent)
    rec_path.write_text(rec_path.read_text(encoding="utf-8").replace("120.0", "NaN"),
                        encoding="utf-8")
    with pytest.raises(InputError, match="NaN"):
        evaluate(path)
    rec_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not JSON"):
        evaluate(path)


def test_a_stale_profile_is_refused(project: Callable[..., Path]) -> None:
    art = {"good": "models/good.joblib"}
    path = project(charter=sw_charter(profile={"artifacts": art}))
    rec_path = write_profile(path.parent)
    model = path.parent / "models" / "good.joblib"
    model.parent.mkdir()
    model.write_bytes(b"x")
    written = rec_path.stat().st_mtime
    os.utime(model, (written + 60, written + 60))  # the model changed after profiling
    with pytest.raises(InputError, match="stale"):
        evaluate(path)
    os.utime(model, (written - 60, written - 60))
    assert _value(evaluate(path), "good", "latency_p99_ms").value == 30.0


def test_profile_results_names_the_record(project: Callable[..., Path]) -> None:
    path = project(charter=sw_charter(profile={"results": "perf/run1.json"}))
    write_profile(path.parent, where="perf/run1.json")
    r = evaluate(path)
    assert r.data["profile"]["results"] == "perf/run1.json"
    assert _value(r, "fair", "latency_p99_ms").value == 12.0


def test_software_metrics_take_no_parameters(project: Callable[..., Path]) -> None:
    c = sw_charter()
    c["metrics"] = [*base_charter()["metrics"], {"metric": "latency_p99_ms", "k": 3}]
    path = project(charter=c)
    code, out = _exit(path)
    assert code == 2, out
    assert "takes no parameters" in out


def test_report_draws_the_accuracy_latency_panel(project: Callable[..., Path]) -> None:
    from mlscope.report import render_html
    from mlscope.report.charts import software_tradeoff_metrics

    path = project(charter=sw_charter())  # selection: precision subject to recall
    write_profile(path.parent)
    r = evaluate(path)
    assert software_tradeoff_metrics(r) == ("latency_p99_ms", "precision")
    doc = render_html(r)
    section = doc[doc.index('id="speed"'):]
    section = section[:section.index("</section>")]
    assert "p99 latency (ms)" in section
    assert "Pareto front" in section
    # fair (12 ms) is drawn with the profile's interval 11.0–13.5 in its tooltip.
    assert "p99 latency (ms) 12.0 [11.0, 13.5]" in section
    # When the main trade-off chart already shows latency, no second panel.
    sel = {"rule": "satisficing", "optimize": "roc_auc",
           "constraints": {"latency_p99_ms": "<= 20"}}
    r2 = evaluate(project(charter=sw_charter(selection=sel)))
    assert software_tradeoff_metrics(r2) is None
    assert 'id="speed"' not in render_html(r2)
    assert "p99 latency (ms)" in render_html(r2)


@pytest.mark.parametrize(("blessed", "good_p99", "passed"), [
    # good is the candidate (the selected model) against the blessed fair (12 [11, 13.5]).
    ("fair", (30.0, 27.5, 33.0), False),   # +18 [14, 22]: regressed beyond 2 ms
    ("fair", (12.5, 12.0, 12.9), True),    # +0.5 [-1.5, 1.9]: within 2 ms on the interval
    ("fair", (13.0, 12.5, 14.0), False),   # +1 [-1, 3]: not shown to be within 2 ms
])
def test_gate_on_a_p99_regression(project: Callable[..., Path], blessed: str,
                                  good_p99: tuple[float, float, float],
                                  passed: bool) -> None:
    path = project(charter=sw_charter(
        selection={"rule": "satisficing", "optimize": "roc_auc"},
        blessed=blessed, gates={"latency_p99_ms": {"regress": 2}}))
    write_profile(path.parent, {"good": {**FIGURES["good"], "p99": good_p99},
                                "fair": FIGURES["fair"]})
    r = evaluate(path)
    assert r.check is not None
    assert r.check.candidate == "good"
    gate = next(g for g in r.check.gates if g.metric == "latency_p99_ms")
    assert gate.passed is passed
    lo, hi = good_p99[1] - 13.5, good_p99[2] - 11.0
    assert gate.lower == pytest.approx(lo)
    assert gate.upper == pytest.approx(hi)
    if not passed:
        assert "latency_p99_ms must regress by at most 2" in gate.reason


def test_planning_budgets_checked_against_the_figures(project: Callable[..., Path]) -> None:
    plan = {"deployment": {"mode": "realtime", "latency_budget_ms": 20, "memory_mb": 100,
                           "qps": 100}}
    path = project(charter=sw_charter(planning=plan))
    write_profile(path.parent)
    budgets = evaluate(path).data["profile"]["budgets"]
    # The latency budget holds the p99's upper bound (fair: 13.5 ms; good: 33 ms).
    assert budgets["fair"]["latency_p99_ms"] == {"budget": 20, "figure": 13.5,
                                                 "status": "met"}
    assert budgets["good"]["latency_p99_ms"]["status"] == "not met"
    assert budgets["good"]["peak_memory_mb"]["status"] == "not met"  # 120 > 100
    assert budgets["fair"]["throughput_qps"]["status"] == "met"      # 300 >= 100
    assert budgets["good"]["throughput_qps"]["status"] == "not met"  # 80 < 100
    # Not profiled: every budget unverified.
    assert {b["status"] for b in budgets["weak"].values()} == {"unverified"}


def test_profile_results_outside_the_project_is_refused(
        project: Callable[..., Path]) -> None:
    path = project(charter=sw_charter(profile={"results": "/etc/passwd"}))
    with pytest.raises(InputError, match=r"profile\.results"):
        evaluate(path)
