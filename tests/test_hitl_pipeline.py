"""Human in the loop end to end: the stage's figures against a brute force on the rows,
the verdict's section, the joint deferral constraint, multiclass top-k, and the result's
JSON round trip (a result file is untrusted: bad values are refused)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import top_k_accuracy_score

import mlscope
from mlscope.metrics.binomial import cp_upper
from mlscope.report import render_html
from mlscope.report.panels_verdict import launch_text
from mlscope.result import EvaluationResult
from tests.conftest import base_charter, binary_frame
from tests.test_pipeline_tasks import CLASSES, _mc_charter, _write, multiclass_frame


def _frame() -> pd.DataFrame:
    df = binary_frame(n=3000, seed=4)
    rng = np.random.default_rng(8)
    y = df.label.to_numpy()
    df["p_sharp"] = np.round(1 / (1 + np.exp(-(5.0 * (2 * y - 1) + rng.normal(scale=2.5,
                                                                              size=y.size)))),
                             3)
    return df


def _charter(**hitl: Any) -> dict[str, Any]:
    c = base_charter(intervals={"resamples": 0})
    c["data"]["models"]["sharp"] = "p_sharp"
    c["human_in_the_loop"] = {"model": "sharp", **hitl}
    return c


def test_binary_rule_matches_the_rows(project: Callable[..., Path]) -> None:
    df = _frame()
    res = mlscope.evaluate(project(df, _charter(max_error=0.05, max_defer=0.5, delta=0.1)))
    h = res.human_in_the_loop
    assert h is not None, res.warnings
    assert h.lam is not None, h
    assert h.delta == 0.1
    assert h.delta_used == pytest.approx(0.1 / 2 / 8)
    assert h.accept_at == pytest.approx(0.5 + h.lam * 0.5)
    assert h.reject_at == pytest.approx(0.5 - h.lam * 0.5)
    ov = h.overall()
    assert ov is not None
    for split, n, nd, k in (("validation", ov.n_calibration, ov.decided_calibration,
                             ov.errors_calibration),
                            ("test", ov.n_report, ov.decided_report, ov.errors_report)):
        sub = df[df.split == split]
        p, y = sub.p_sharp.to_numpy(), sub.label.to_numpy() == 1
        decided = (p >= h.accept_at - 1e-12) | (p <= h.reject_at + 1e-12)
        assert n == len(sub)
        assert nd == decided.sum()
        assert k == (decided & ((p >= 0.5) != y)).sum()
    assert ov.certified_error == pytest.approx(
        float(cp_upper(ov.errors_calibration, ov.decided_calibration, h.delta_used)[()]))
    assert ov.certified_error <= 0.05
    assert ov.defer == pytest.approx(1 - ov.decided_report / ov.n_report)
    assert ov.saved_per_1000 == pytest.approx(1000 * ov.decided_report / ov.n_report)
    assert ov.saved_lower <= ov.saved_per_1000 <= ov.saved_upper
    assert h.defer_ok is True
    # The curve: 20 points on the report rows, the band around each.
    assert len(h.curve) == 20
    assert h.curve[0].coverage == 1.0
    assert all(c.lower <= c.risk <= c.upper for c in h.curve if c.risk is not None)
    # The verdict's section, in the terminal's text.
    assert res.verdict is not None
    lines = res.verdict.sections["human_in_the_loop"]
    assert lines == h.lines
    assert "human decisions saved per 1,000" in lines[1]
    assert "Human in the loop" in "\n".join(launch_text(res))
    # The HTML report: the section under "Should we ship?" and the risk–coverage chart.
    html = render_html(res)
    assert 'id="hitl"' in html
    assert 'class="chart risk-coverage"' in html
    assert "human decisions saved per 1,000" in html


def test_joint_constraint_infeasible_says_why(project: Callable[..., Path]) -> None:
    res = mlscope.evaluate(project(_frame(), _charter(max_error=0.02, max_defer=0.05)))
    h = res.human_in_the_loop
    assert h is not None
    assert h.defer_ok is False
    # The error is certified (at δ/2), but only by deferring more than the limit allows.
    assert h.lam is not None
    ov = h.overall()
    assert ov is not None
    assert ov.defer_upper is not None
    assert ov.defer_upper > 0.05
    assert "infeasible jointly" in h.message
    assert "more than max_defer 0.05" in h.message
    assert "deferring at most 5%" in h.message
    assert "more labelled rows" in h.message
    assert h.more_rows is not None
    assert f"about {h.more_rows:,} more" in h.message
    assert any(s.startswith("Deferral ≤ 5%: infeasible jointly") for s in h.lines)


def test_infeasible_rule_gives_rows_needed(project: Callable[..., Path]) -> None:
    c = _charter(max_error=0.01, slices=True)
    res = mlscope.evaluate(project(_frame(), c))
    h = res.human_in_the_loop
    assert h is not None
    assert h.lam is None
    assert h.message.startswith("infeasible with this data")
    assert h.more_rows is not None
    assert f"about {h.more_rows:,} more labelled rows" in h.message
    assert "not certified" in h.lines[0]
    assert len(h.slices) > 5  # every slice was held to it


def test_slices_are_held_at_once(project: Callable[..., Path]) -> None:
    res = mlscope.evaluate(project(_frame(), _charter(max_error=0.1, slices=True)))
    h = res.human_in_the_loop
    assert h is not None
    assert h.lam is not None
    assert "decide every case" in h.lines[0] or "defer between" in h.lines[0]
    assert "Bonferroni over" in h.procedure
    s = len(h.slices)
    assert h.delta_used == pytest.approx(0.05 / 8 / s)
    assert all(x.certified_error is not None and x.certified_error <= 0.1 for x in h.slices)
    assert len(h.curve) == 20 * s


def test_unknown_model_is_refused(project: Callable[..., Path]) -> None:
    c = _charter(max_error=0.05)
    c["human_in_the_loop"]["model"] = "sharpp"
    with pytest.raises(mlscope.InputError, match="did you mean `sharp`"):
        mlscope.evaluate(project(_frame(), c))


def test_multiclass_top_k(tmp_path: Path) -> None:
    df = multiclass_frame(n=3000)
    c = _mc_charter()
    c["intervals"] = {"resamples": 0}
    c["human_in_the_loop"] = {"model": "resnet", "max_error": 0.2, "top_k": [2, 1]}
    res = mlscope.evaluate(_write(tmp_path, c, **{"eval.parquet": df}))
    h = res.human_in_the_loop
    assert h is not None
    assert h.threshold is None
    assert h.accept_at is None
    test = df[df.split == "test"]
    y = test.species.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    p = test[[f"resnet_{c}" for c in CLASSES]].to_numpy()
    assert [a.k for a in h.top_k] == [1, 2]
    for a in h.top_k:
        assert a.accuracy == pytest.approx(top_k_accuracy_score(y, p, k=a.k, labels=[0, 1, 2]))
        assert a.lower <= a.accuracy <= a.upper
        assert a.n == len(test)
    assert any("top-2" in s for s in h.lines)
    if h.lam is not None:
        decided = p.max(axis=1) >= h.lam
        ov = h.overall()
        assert ov is not None
        assert ov.decided_report == decided.sum()
        assert ov.errors_report == (decided & (p.argmax(axis=1) != y)).sum()


def test_result_round_trip_and_untrusted_values(project: Callable[..., Path],
                                                tmp_path: Path) -> None:
    res = mlscope.evaluate(project(_frame(), _charter(max_error=0.05)))
    path = tmp_path / "result.json"
    res.to_json(path)
    back = EvaluationResult.from_json(path)
    assert back.human_in_the_loop == res.human_in_the_loop
    data = json.loads(path.read_text(encoding="utf-8"))
    for field, bad in (("max_error", 7.0), ("lam", "0.5; rm"), ("more_rows", -3),
                       ("defer_ok", "yes"), ("lines", [1, 2])):
        d = json.loads(json.dumps(data))
        d["human_in_the_loop"][field] = bad
        with pytest.raises(ValueError, match="human_in_the_loop"):
            EvaluationResult.from_dict(d)
    d = json.loads(json.dumps(data))
    d["human_in_the_loop"]["slices"][0]["decided_report"] = -1
    with pytest.raises(ValueError, match="decided_report"):
        EvaluationResult.from_dict(d)
    d["human_in_the_loop"] = None
    assert EvaluationResult.from_dict(d).human_in_the_loop is None
