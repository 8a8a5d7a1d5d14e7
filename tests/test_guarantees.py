"""Guarantees, not point estimates: exact binomial bounds (SciPy as the oracle),
requirements decided on their bound, risk-controlled thresholds and their validity by
simulation, and the comparison with MAPIE's BinaryClassificationController."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from mlscope.charter import validate_charter
from mlscope.cli import main
from mlscope.compare.guarantee import certify_threshold
from mlscope.evaluation import evaluate
from mlscope.metrics.binomial import binom_cdf, cp_lower, cp_upper, trials_needed
from mlscope.result import EvaluationResult
from tests.conftest import base_charter, binary_frame

CASES = [(k, n, d) for n in (1, 2, 5, 17, 100, 1000, 25_000)
         for k in sorted({0, 1, n // 3, n // 2, n - 1, n} - {-1})
         for d in (0.001, 0.05, 0.2)]


# -- exact bounds ------------------------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "delta"), CASES)
def test_clopper_pearson_matches_scipy(k: int, n: int, delta: float) -> None:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * delta, method="exact")
    assert cp_lower(k, n, delta)[()] == pytest.approx(ci.low, abs=1e-12)
    assert cp_upper(k, n, delta)[()] == pytest.approx(ci.high, abs=1e-12)
    lo = stats.beta.ppf(delta, k, n - k + 1) if k > 0 else 0.0
    hi = stats.beta.ppf(1 - delta, k + 1, n - k) if k < n else 1.0
    assert cp_lower(k, n, delta)[()] == pytest.approx(lo, abs=1e-12)
    assert cp_upper(k, n, delta)[()] == pytest.approx(hi, abs=1e-12)


def test_binomial_cdf_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(0, 5000, 2000)
    k = np.minimum(rng.integers(0, 5000, 2000), n)
    p = rng.uniform(0, 1, 2000)
    np.testing.assert_allclose(binom_cdf(k, n, p), stats.binom.cdf(k, n, p), atol=1e-12)


def test_rule_of_three() -> None:
    for r in (0.001, 0.01, 0.05, 0.2):
        for delta in (0.01, 0.05, 0.1):
            n = trials_needed(0.0, r, delta)
            assert n == math.ceil(math.log(1 / delta) / -math.log(1 - r))
            assert n is not None
            assert cp_upper(0, n, delta)[()] <= r < cp_upper(0, n - 1, delta)[()]
    assert trials_needed(0.0, 0.01, 0.05) == pytest.approx(3 / 0.01, rel=0.01)


@pytest.mark.parametrize(("rate", "r"), [(0.01, 0.02), (0.05, 0.08), (0.1, 0.15)])
def test_trials_needed_with_errors(rate: float, r: float) -> None:
    n = trials_needed(rate, r, 0.05)
    assert n is not None
    assert stats.binom.cdf(round(rate * n), n, r) <= 0.05
    assert trials_needed(r, r, 0.05) is None  # at the target, no amount of data will do
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        cp_lower(1, 10, 1.5)


# -- the charter -------------------------------------------------------------------------

def _charter(tmp_path: Path, **over: object) -> Path:
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(base_charter(**over), sort_keys=False), encoding="utf-8")
    return path


def test_charter_accepts_both_forms(tmp_path: Path) -> None:
    report = validate_charter(_charter(
        tmp_path, requirements={"roc_auc": ">= 0.6",
                                "precision": {"bound": ">= 0.5", "decide_on": "bound"}},
        guarantees={"decide_on": "bound", "delta": 0.05,
                    "thresholds": {"precision": {"at_least": 0.8},
                                   "fnr": {"at_most": 0.05, "slices": True}}}))
    assert report.problems == [], [str(p) for p in report.problems]


@pytest.mark.parametrize(("over", "where", "fix"), [
    ({"guarantees": {"delta": 1.5}}, "delta", "delta: 0.05"),
    ({"guarantees": {"delta": 0}}, "delta", "delta: 0.05"),
    ({"guarantees": {"thresholds": {"precision": {"at_least": 0.9, "delta": -1}}}},
     "delta", "delta: 0.05"),
    ({"requirements": {"log_loss": {"bound": "<= 0.5", "decide_on": "bound"}},
      "intervals": {"resamples": 0}}, "decide_on", "turn intervals on"),
    ({"guarantees": {"decide_on": "bound"}, "requirements": {"roc_auc": ">= 0.6"},
      "intervals": {"resamples": 0}}, "decide_on", "decide `roc_auc` on its point"),
    ({"guarantees": {"thresholds": {"auc": {"at_least": 0.9}}}}, "auc", "use one of"),
    ({"guarantees": {"thresholds": {"fnr": {"at_least": 0.9}}}}, "at_least",
     "write `at_most"),
])
def test_bad_guarantees_exit_2_with_the_fix(tmp_path: Path, over: dict[str, object],
                                             where: str, fix: str) -> None:
    path = _charter(tmp_path, **over)
    report = validate_charter(path)
    assert report.problems, "expected a problem"
    text = "\n".join(str(p) for p in report.problems)
    assert where in text, text
    assert fix in text, text
    assert all(p.line for p in report.problems)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 2, r.output


def test_a_rate_needs_no_intervals_to_be_decided_on_its_bound(tmp_path: Path) -> None:
    report = validate_charter(_charter(
        tmp_path, requirements={"precision": {"bound": ">= 0.5", "decide_on": "bound"}},
        intervals={"resamples": 0}))
    assert report.problems == [], [str(p) for p in report.problems]


# -- requirements decided on the bound ---------------------------------------------------

def test_requirements_decided_on_the_bound(project: Callable[..., Path]) -> None:
    df = binary_frame(3000, seed=2)
    ch = base_charter(requirements={"recall": ">= 0.2", "precision": ">= 0.45",
                                    "roc_auc": {"bound": ">= 0.6", "decide_on": "point"}},
                      guarantees={"decide_on": "bound", "delta": 0.05})
    res = evaluate(project(df, ch))
    req = {r.metric: r for r in res.requirements}
    assert req["roc_auc"].decided_on == "point"
    assert req["roc_auc"].certified is None
    for mid in ("recall", "precision"):
        r = req[mid]
        assert r.decided_on == "bound"
        assert "Clopper–Pearson" in r.how
        assert r.certified is not None
        assert r.value is not None
        assert r.certified < r.value
        assert r.met == (r.certified >= float(r.bound.split()[-1]))
    # The verdict decides on the same evidence: its check of the selected model is the
    # requirement table's (it fell back to the interval's end: another bound, gap and count).
    assert res.verdict is not None
    vreq = {(r.model, r.metric): r for r in res.verdict.requirements}
    for mid in ("recall", "precision"):
        v = vreq[(res.winner, mid)]
        assert (v.certified, v.margin, v.how, v.more_data, v.met) == (
            req[mid].certified, req[mid].margin, req[mid].how, req[mid].more_data,
            req[mid].met)
    # The report's requirement table shows the figure each was decided on: the bound, the
    # point beside it ("0.723 ✗" under ">= 0.65" read as a contradiction).
    from mlscope.report import render_html
    from mlscope.report.charts import format_value

    table = render_html(res).split('aria-label="requirements of every model"')[1]
    row = table.split(f"<th scope=\"row\">{res.winner} ")[1].split("</tr>")[0]
    p = req["precision"]
    assert p.certified is not None
    assert f">{format_value(p.certified, 3)}" in row
    assert f"bound; point {format_value(p.value, 3)}" in row
    # The selected model's requirement tables say the margin is the bound's.
    page = render_html(res).split('class="data req"')[1].split("</table>")[0]
    assert f"on its bound {format_value(p.certified, 3)}" in page
    import io

    from rich.console import Console

    from mlscope.report import render_terminal
    con = Console(record=True, width=120, file=io.StringIO())
    render_terminal(res, con, verbose=True)
    out = con.export_text()
    assert f"(bound {format_value(p.certified, 3)})" in out
    # The verdict's guarantees section states them for the model it recommends.
    section = res.verdict.sections["guarantees"]
    if res.verdict.model == res.winner:
        assert len(section) == 2
        for mid in ("recall", "precision"):
            line = next(x for x in section if x.startswith(mid))
            state = "certified" if req[mid].met else "not certified"
            assert f": {state} — its bound is {req[mid].certified:.3g}" in line
    # The exact bound with the right trials: precision's are the predicted positives.
    p = req["precision"]
    k, n = (float(x) for x in p.how.split(": ")[1].split()[0:3:2])
    assert p.certified == pytest.approx(stats.beta.ppf(0.05, k, n - k + 1), abs=1e-10)
    assert "predicted positives" in p.how
    # A stored result without the new fields still loads.
    data = res.to_dict()
    data.pop("guarantees")
    for r in data["requirements"]:
        for key in ("decided_on", "certified", "how", "more_data"):
            r.pop(key)
    back = EvaluationResult.from_dict(data)
    assert back.requirements[0].decided_on == "point"
    assert back.guarantees == []


def test_met_on_the_point_only_says_what_would_certify_it(
        project: Callable[..., Path]) -> None:
    df = binary_frame(3000, seed=2)
    probe = evaluate(project(df, base_charter(requirements={"precision": ">= 0.1"})))
    value = probe.requirements[0].value
    assert value is not None
    bound = f">= {value - 0.005:.4f}"  # met on the point, not on a 95% bound
    ch = base_charter(requirements={"precision": {"bound": bound, "decide_on": "bound"}})
    r = evaluate(project(df, ch)).requirements[0]
    assert not r.met
    assert "more labelled predicted positives" in r.more_data
    more = int(r.more_data.split("about ")[1].split()[0].replace(",", ""))
    k, n = (float(x) for x in r.how.split(": ")[1].split()[0:3:2])
    target = 1 - float(bound.split()[-1])
    need = trials_needed(1 - k / n, target, 0.05)
    assert need is not None
    assert more == math.ceil(need - n)


# -- risk-controlled thresholds: validity by simulation ----------------------------------

PI, MU = 0.3, 2.0


def _draw(rng: np.random.Generator, n: int, pi: float = PI, mu: float = MU
          ) -> tuple[np.ndarray, np.ndarray]:
    y = rng.random(n) < pi
    z = rng.normal(size=n) + mu * y
    return y, 1 / (1 + np.exp(-z))


def _truth(t: float, pi: float = PI, mu: float = MU) -> tuple[float, float]:
    """The population precision and false negative rate at threshold ``t``."""
    zt = math.log(t / (1 - t)) if 0 < t < 1 else (-math.inf if t <= 0 else math.inf)
    s1, s0 = stats.norm.sf(zt - mu), stats.norm.sf(zt)
    prec = pi * s1 / (pi * s1 + (1 - pi) * s0) if pi * s1 + (1 - pi) * s0 > 0 else 1.0
    return float(prec), float(1 - s1)


def _coverage_ok(failures: int, draws: int, delta: float) -> bool:
    """No evidence (at 0.1%) that the failure rate exceeds δ: the lower confidence limit
    of the observed failure rate is at most δ."""
    return bool(stats.binomtest(failures, draws, delta, alternative="greater").pvalue > 1e-3)


DRAWS = 1000


@pytest.mark.slow
@pytest.mark.parametrize(("metric", "target"), [("precision", 0.8), ("fnr", 0.1)])
def test_thresholds_hold_with_probability_one_minus_delta(metric: str, target: float
                                                          ) -> None:
    rng = np.random.default_rng(11)
    delta, failures, found = 0.1, 0, 0
    for _ in range(DRAWS):
        y, s = _draw(rng, 1000)
        res = certify_threshold(metric, target, delta, y, s)
        if res.threshold is None:
            assert res.more_rows is not None
            assert "infeasible" in res.message
            continue
        found += 1
        prec, fnr = _truth(res.threshold)
        failures += (prec < target) if metric == "precision" else (fnr > target)
    print(f"{metric}: certified in {found}/{DRAWS} draws, failed in {failures} "
          f"({failures / DRAWS:.3%}; δ = {delta})")
    assert found >= 0.9 * DRAWS
    assert _coverage_ok(failures, DRAWS, delta)


@pytest.mark.slow
def test_per_slice_thresholds_hold_in_every_slice() -> None:
    rng = np.random.default_rng(12)
    delta, target, failures, found = 0.1, 0.15, 0, 0
    for _ in range(DRAWS):
        ya, sa = _draw(rng, 700, 0.3, 2.0)
        yb, sb = _draw(rng, 300, 0.4, 1.0)
        y, s = np.concatenate([ya, yb]), np.concatenate([sa, sb])
        a = np.arange(y.size) < ya.size
        res = certify_threshold("recall", 1 - target, delta, y, s,
                                {"overall": np.ones(y.size, dtype=bool), "a": a, "b": ~a})
        if res.threshold is None:
            continue
        found += 1
        fa, fb = _truth(res.threshold, 0.3, 2.0)[1], _truth(res.threshold, 0.4, 1.0)[1]
        failures += (fa > target) or (fb > target)
    print(f"per slice: certified in {found}/{DRAWS} draws, failed in {failures}")
    assert found >= 0.9 * DRAWS
    assert _coverage_ok(failures, DRAWS, delta)


def test_infeasible_says_how_many_rows() -> None:
    y, s = _draw(np.random.default_rng(1), 100)
    res = certify_threshold("precision", 0.97, 0.05, y, s)
    assert res.threshold is None
    assert res.more_rows is not None
    assert res.more_rows > 0
    assert f"about {res.more_rows:,} more labelled rows" in res.message


def test_thresholds_in_the_result(project: Callable[..., Path]) -> None:
    ch = base_charter(guarantees={"thresholds": {
        "precision": {"at_least": 0.5}, "recall": {"at_least": 0.6, "slices": True}}})
    res = evaluate(project(binary_frame(4000, seed=5), ch))
    overall = {g.metric: g for g in res.guarantees if g.slice == "overall"}
    assert set(overall) == {"precision", "recall"}
    for g in overall.values():
        assert g.model == res.winner
        assert g.delta == 0.05
        assert g.threshold is not None
        assert g.certified is not None
        assert g.calibration is not None
        assert g.report is not None
        assert g.certified <= g.calibration
    n_recall = len([g for g in res.guarantees if g.metric == "recall"])
    assert n_recall > 1  # per slice
    # The verdict's guarantees section: one line per guarantee, the slices counted.
    assert res.verdict is not None
    section = res.verdict.sections["guarantees"]
    assert len(section) == 2
    rec = next(x for x in section if x.startswith("recall"))
    assert f"in the overall rows and {n_recall - 1} slices at once" in rec
    assert f"threshold {overall['recall'].threshold:.4g}" in rec
    assert "weakest slice" in rec
    assert "with probability ≥ 0.95" in rec
    back = EvaluationResult.from_dict(res.to_dict())
    assert back.guarantees == res.guarantees


# -- MAPIE -------------------------------------------------------------------------------

def test_at_least_as_good_as_mapie() -> None:
    """Where MAPIE's controller certifies a threshold for precision, ours certifies one
    flagging at least as many calibration rows (the same data and δ)."""
    mapie = pytest.importorskip("mapie.risk_control")
    both = 0
    for seed in range(6):
        y, s = _draw(np.random.default_rng(100 + seed), 2000)
        ctl = mapie.BinaryClassificationController(
            predict_function=lambda x: np.column_stack([1 - x[:, 0], x[:, 0]]),
            risk="precision", target_level=0.75, confidence_level=0.9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctl.calibrate(s[:, None], y.astype(int))
        ours = certify_threshold("precision", 0.75, 0.1, y, s)
        theirs = ctl.best_predict_param
        print(f"seed {seed}: mapie {theirs}, ours {ours.threshold}")
        if theirs is None:
            continue
        both += 1
        assert ours.threshold is not None
        assert (s >= ours.threshold).sum() >= (s >= float(theirs)).sum()
    assert both >= 3


def test_check_verdict_decides_on_the_same_bound(project: Callable[..., Path]) -> None:
    ch = base_charter(requirements={"precision": ">= 0.3", "roc_auc": ">= 0.6"},
                      guarantees={"decide_on": "bound"})
    res = evaluate(project(binary_frame(2000, seed=4), ch), candidate="good")
    assert res.winner == "good"
    assert res.check is not None
    mine = {r.metric: (r.certified, r.how, r.met) for r in res.requirements}
    theirs = {r.metric: (r.certified, r.how, r.met) for r in res.check.requirements}
    assert mine == theirs
    assert "Clopper–Pearson" in mine["precision"][1]
