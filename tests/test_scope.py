"""The launch scope (docs/deciding.md, "Scope"): the search finds planted good slices and
keeps false inclusions within its family-wise error rate; the pipeline writes the
verdict's scope section and result.scope, which round-trips through result.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import mlscope
from mlscope.charter.schema import Bound
from mlscope.compare.scope import (
    ALL_TRAFFIC,
    CellInput,
    Evidence,
    bootstrap_p_value,
    exact_p_value,
    holm,
    scope_lines,
    search_scope,
)
from mlscope.result import EvaluationResult

ALPHA = 0.05


def _bound(text: str) -> Bound:
    return Bound.model_validate(text)


# -- the pieces ----------------------------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "text"), [
    (45, 50, ">= 0.8"), (0, 20, ">= 0.1"), (50, 50, "> 0.9"), (3, 200, "<= 0.05"),
    (200, 200, "< 0.5"), (17, 40, "<= 0.3")])
def test_exact_p_value_is_the_binomial_tail(k: int, n: int, text: str) -> None:
    b = _bound(text)
    want = (stats.binom.sf(k - 1, n, b.value) if b.op in (">=", ">")
            else stats.binom.cdf(k, n, b.value))
    assert exact_p_value(k / n, n, b) == pytest.approx(want, rel=1e-9, abs=1e-14)


def test_bootstrap_p_value_counts_the_failing_side_with_one_added() -> None:
    reps = np.array([0.70, 0.72, 0.75, 0.80, 0.81, np.nan, 0.90])
    assert bootstrap_p_value(reps, _bound(">= 0.75")) == pytest.approx((1 + 2) / (1 + 6))
    assert bootstrap_p_value(reps, _bound("> 0.75")) == pytest.approx((1 + 3) / (1 + 6))
    assert bootstrap_p_value(reps, _bound("<= 0.75")) == pytest.approx((1 + 3) / (1 + 6))
    assert bootstrap_p_value(np.array([np.nan]), _bound(">= 0.5")) is None


def test_holm_steps_down_and_stops_at_the_first_acceptance() -> None:
    # Levels α/4, α/3, α/2, α/1 in order of the p-values.
    out = holm([0.04, 0.001, 0.013, 0.03], 0.05)
    assert [r for r, _ in out] == [False, True, True, False]
    assert [lv for _, lv in out] == pytest.approx([0.05, 0.0125, 0.05 / 3, 0.025])
    # 0.03 > α/2 stops the procedure: 0.04 ≤ α is not rejected after it.


def _cell(key: str, part: str, rows: int, *ev: tuple[str, str, float, float]) -> CellInput:
    return CellInput(slice=key, partition=part, rows=rows, evidence=[
        Evidence(metric=m, bound=_bound(b), value=v, p_value=p) for m, b, v, p in ev])


def test_one_failing_requirement_keeps_a_cell_out_and_is_named() -> None:
    cells = [
        _cell("overall", ALL_TRAFFIC, 1000, ("recall", ">= 0.7", 0.72, 0.2)),
        _cell("region=north", "region", 600, ("recall", ">= 0.7", 0.80, 1e-6),
              ("precision", ">= 0.5", 0.61, 1e-5)),
        # Good recall, but precision misses: out, and precision is the reason.
        _cell("region=south", "region", 400, ("recall", ">= 0.7", 0.90, 1e-9),
              ("precision", ">= 0.5", 0.41, 0.99)),
        CellInput(slice="region=east", partition="region", rows=12, too_small=True),
    ]
    s = search_scope("gbdt", "test", cells, 1012, ALPHA, min_size=30,
                     mean_like={"recall": True, "precision": True})
    assert s.partition == "region"
    assert s.included == ["region=north"]
    assert s.rows_in == 600
    assert s.share == pytest.approx(600 / 1012)
    assert s.tested == 3
    south = next(c for c in s.cells if c.slice == "region=south")
    assert (south.status, south.metric, south.p_value) == ("misses", "precision", 0.99)
    lines = scope_lines(s)
    assert lines[0].startswith("Launch gbdt on region=north: 59% of test traffic "
                               "(600 of 1,012 rows)")
    assert "Keep out region=south: precision 0.410 misses >= 0.5" in lines
    assert "Keep out region=east: too few rows (12 < min_size 30)" in lines
    assert any(x.startswith("All traffic is not certified: recall 0.720 meets >= 0.7, "
                            "but not with family-wise confidence (p = 0.2") for x in lines)


def test_all_traffic_wins_when_the_whole_split_is_certified() -> None:
    cells = [_cell("overall", ALL_TRAFFIC, 1000, ("auc", ">= 0.7", 0.8, 1e-4)),
             _cell("a=x", "a", 500, ("auc", ">= 0.7", 0.9, 1e-4)),
             _cell("a=y", "a", 500, ("auc", ">= 0.7", 0.65, 0.9))]
    s = search_scope("m", "test", cells, 1000, ALPHA, mean_like={"auc": False})
    assert s.partition == ALL_TRAFFIC
    assert s.share == 1.0
    lines = scope_lines(s)
    assert lines[0].startswith("Launch m on all traffic")
    assert lines[1] == "Watch a=y: auc 0.650 misses >= 0.7 at its point value"
    # A slice with a requirement of its own says what that gave: the scope holds it to the
    # overall bound, which read as a contradiction of the requirement table's ✓.
    lines = scope_lines(s, own={("a=y", "auc"): (">= 0.6", True)})
    assert lines[1] == ("Watch a=y: auc 0.650 misses >= 0.7 at its point value; its own "
                        "requirement, auc >= 0.6, is met")
    assert scope_lines(s, own={("a=y", "auc"): (">= 0.7", True)})[1] == (
        "Watch a=y: auc 0.650 misses >= 0.7 at its point value")  # the same bound: nothing


def test_nothing_certified_says_so() -> None:
    cells = [_cell("overall", ALL_TRAFFIC, 100, ("auc", ">= 0.7", 0.72, 0.3)),
             _cell("a=x", "a", 60, ("auc", ">= 0.7", 0.75, 0.04))]
    s = search_scope("m", "test", cells, 100, ALPHA)
    assert s.partition is None
    assert s.included == []
    assert s.share == 0.0
    lines = scope_lines(s)
    assert lines[0].startswith("No scope is certified")
    assert lines[0].endswith("(Holm over 2 slices tested).")
    assert scope_lines(s, on_points=True)[0].endswith(
        "; the verdict reads point values, the scope asks for confidence.")
    # "family-wise": the requirement table's "met with confidence" is one interval's.
    assert lines[-1].startswith("Nearest: a=x: auc 0.750 meets >= 0.7, but not with "
                                "family-wise confidence (p = 0.04; Holm needs ≤ 0.025)")


def test_the_union_note_says_when_the_guarantee_is_per_slice() -> None:
    cells = [_cell("a=x", "a", 50, ("auc", ">= 0.7", 0.9, 1e-4), ("acc", ">= 0.8", 0.9, 1e-4)),
             _cell("a=y", "a", 50, ("auc", ">= 0.7", 0.9, 1e-4), ("acc", ">= 0.8", 0.9, 1e-4))]
    s = search_scope("m", "t", cells, 100, ALPHA, mean_like={"auc": False, "acc": True})
    assert "auc" in s.union
    assert "per slice" in s.union
    assert "acc" in s.union
    s = search_scope("m", "t", cells, 100, ALPHA, mean_like={"auc": True, "acc": True})
    assert "together meet it too" in s.union


# -- planted slices: power and family-wise error ----------------------------------------------

# Per cell: rows, the true accuracy and the true recall (on half the rows, the positives).
# Requirements: accuracy ≥ 0.85 and recall ≥ 0.80. Good cells clear both comfortably; the
# rest miss one, some exactly at the bound (the hardest case for the error rate).
PLANTED = [
    ("r=a", 500, 0.93, 0.90, True),
    ("r=b", 400, 0.93, 0.90, True),
    ("r=c", 600, 0.94, 0.88, True),
    ("r=d", 450, 0.93, 0.90, True),
    ("r=e", 300, 0.85, 0.90, False),   # accuracy exactly at its bound
    ("r=f", 300, 0.93, 0.80, False),   # recall exactly at its bound
    ("r=g", 350, 0.85, 0.80, False),   # both at the bound
    ("r=h", 250, 0.80, 0.90, False),   # accuracy below
    ("r=i", 250, 0.86, 0.81, False),   # just above bound on both: truly good, hard to find
]


def _simulate(rng: np.random.Generator) -> tuple[list[CellInput], list[float]]:
    acc, rec = _bound(">= 0.85"), _bound(">= 0.80")
    cells, naive = [], []
    tot_n = tot_k = 0
    for key, n, pa, pr, _ in PLANTED:
        k = int(rng.binomial(n, pa))
        npos = n // 2
        kr = int(rng.binomial(npos, pr))
        tot_n, tot_k = tot_n + n, tot_k + k
        ev = [Evidence("accuracy", acc, k / n, p_value=exact_p_value(k / n, n, acc)),
              Evidence("recall", rec, kr / npos, p_value=exact_p_value(kr / npos, npos, rec))]
        cells.append(CellInput(slice=key, partition="r", rows=n, evidence=ev))
        naive.append(max(e.p_value or 1.0 for e in ev))
    # The whole split: accuracy only (a cell may carry fewer requirements than others).
    cells.insert(0, CellInput(slice="overall", partition=ALL_TRAFFIC, rows=tot_n, evidence=[
        Evidence("accuracy", acc, tot_k / tot_n,
                 p_value=exact_p_value(tot_k / tot_n, tot_n, _bound(">= 0.999")))]))
    return cells, naive


def test_planted_good_slices_are_found_and_false_inclusions_stay_within_alpha() -> None:
    rng = np.random.default_rng(20260614)
    runs = 1000
    truth = {key: good for key, *_, good in PLANTED}
    false_any = naive_false_any = exact_hits = 0
    found = {key: 0 for key in truth}
    for _ in range(runs):
        cells, naive = _simulate(rng)
        s = search_scope("m", "test", cells, sum(c.rows for c in cells[1:]), ALPHA)
        certified = {c.slice for c in s.cells if c.status == "certified"}
        false_any += any(not truth.get(k, True) for k in certified)
        naive_false_any += any(p <= ALPHA and not good
                               for p, (*_, good) in zip(naive, PLANTED, strict=True))
        for k in certified & set(found):
            found[k] += 1
        exact_hits += set(s.included) == {"r=a", "r=b", "r=c", "r=d"}
    # Monte-Carlo slack: three standard errors of a rate of α over the runs.
    slack = 3 * (ALPHA * (1 - ALPHA) / runs) ** 0.5
    assert false_any / runs <= ALPHA + slack, false_any / runs
    # The simulation can tell: testing each slice at α without Holm errs more often.
    assert naive_false_any / runs > ALPHA
    for key in ("r=a", "r=b", "r=c", "r=d"):
        assert found[key] / runs >= 0.85, (key, found[key] / runs)
    assert exact_hits / runs >= 0.7, exact_hits / runs


def test_bootstrap_p_values_keep_false_inclusions_within_alpha() -> None:
    """The same with bootstrap replicates of a mean (a metric with no exact test): cells
    whose true mean is exactly the bound are certified no more often than α allows."""
    rng = np.random.default_rng(7)
    runs, n, resamples = 300, 200, 200
    bound = _bound(">= 0.0")
    means = [0.35, 0.35, 0.3, 0.0, 0.0, 0.0, -0.1]
    false_any = found = 0
    for _ in range(runs):
        cells = []
        for i, mu in enumerate(means):
            x = rng.normal(mu, 1.0, size=n)
            reps = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
            cells.append(CellInput(slice=f"c={i}", partition="c", rows=n, evidence=[
                Evidence("net", bound, float(x.mean()), p_value=bootstrap_p_value(reps,
                                                                                   bound))]))
        s = search_scope("m", "test", cells, n * len(means), ALPHA)
        certified = {c.slice for c in s.cells if c.status == "certified"}
        false_any += any(means[int(k[2:])] <= 0.0 for k in certified)
        found += {"c=0", "c=1", "c=2"} <= certified
    slack = 3 * (ALPHA * (1 - ALPHA) / runs) ** 0.5
    assert false_any / runs <= ALPHA + slack, false_any / runs
    assert found / runs >= 0.6, found / runs


# -- the pipeline ----------------------------------------------------------------------------

def _frame(seed: int = 0, n: int = 6000) -> pd.DataFrame:
    """Model m is right 92% of the time in the north and east, 82% in the west and 70% in
    the south; `noise` is a coin."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "east", "south", "west"], size=n, p=[0.35, 0.3, 0.2, 0.15])
    y = rng.integers(0, 2, size=n)
    acc = pd.Series(region).map({"north": .92, "east": .92, "south": .70, "west": .82})
    pred = np.where(rng.random(n) < acc.to_numpy(), y, 1 - y)
    score = np.where(pred == 1, 0.5 + rng.random(n) * 0.49, 0.01 + rng.random(n) * 0.49)
    return pd.DataFrame({"id": np.arange(n), "y": y, "region": region,
                         "device": rng.choice(["ios", "android"], size=n),
                         "split": rng.choice(["validation", "test"], size=n),
                         "m": score, "noise": rng.random(n) * 0.98 + 0.01})


def _charter(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "scope", "task": "binary", "seed": 1,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"m": "m", "noise": "noise"}},
        "splits": {"selection": "validation", "report": "test", "train": None},
        "slices": {"columns": ["region", "device"], "crosses": [["region", "device"]],
                   "min_size": 30},
        "metrics": ["roc_auc", {"metric": "accuracy", "threshold": 0.5}],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "requirements": {"accuracy": ">= 0.85", "roc_auc": ">= 0.80"},
        "intervals": {"resamples": 400},
    }
    c.update(over)
    return c


def _write(tmp: Path, c: dict[str, Any]) -> Path:
    _frame().to_parquet(tmp / "eval.parquet", index=False)
    p = tmp / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return p


def test_pipeline_scopes_the_launch_to_the_good_regions(tmp_path: Path) -> None:
    res = mlscope.evaluate(_write(tmp_path, _charter()))
    assert res.verdict is not None
    assert res.verdict.kind == "ship"
    s = res.scope
    assert s is not None
    assert s.model == "m"
    assert s.split == "test"
    assert s.alpha == 0.05
    assert s.partition == "region"
    assert sorted(s.included) == ["region=east", "region=north"]
    sizes = {x.key: x.sizes["test"] for x in res.slices}
    assert s.rows_in == sizes["region=east"] + sizes["region=north"]
    assert s.rows_total == sizes["overall"]
    by = {c.slice: c for c in s.cells}
    assert by["region=south"].status == "misses"
    assert by["region=south"].metric == "accuracy"
    assert by["region=south"].test.startswith("exact binomial")
    assert by["region=north"].test.startswith(("exact binomial", "bootstrap"))
    assert by["overall"].status == "not_certified"
    # The section quotes the result's own figures.
    lines = res.verdict.sections["scope"]
    south = res.value("accuracy", "m", split="test", slice="region=south")
    assert lines[0].startswith(f"Launch m on {s.included[0]}, {s.included[1]}: "
                               f"{round(100 * s.share)}% of test traffic "
                               f"({s.rows_in:,} of {s.rows_total:,} rows)")
    assert (f"Keep out region=south: accuracy {south.value:.3f} [{south.lower:.3f}, "
            f"{south.upper:.3f}] misses >= 0.85") in lines
    assert any("roc_auc" in x and "per slice" in x for x in lines)
    # result.json round trip.
    path = tmp_path / "result.json"
    res.to_json(path)
    back = EvaluationResult.from_json(path)
    assert back.scope == s
    assert back.verdict is not None
    assert back.verdict.sections["scope"] == lines


def test_pipeline_without_requirements_has_no_scope(tmp_path: Path) -> None:
    res = mlscope.evaluate(_write(tmp_path, _charter(requirements={})))
    assert res.scope is None
    assert res.verdict is not None
    assert "scope" not in res.verdict.sections


def test_alpha_is_the_charters_delta(tmp_path: Path) -> None:
    res = mlscope.evaluate(_write(tmp_path, _charter(guarantees={"delta": 0.01})))
    assert res.scope is not None
    assert res.scope.alpha == 0.01
    assert res.verdict is not None
    assert "99% family-wise confidence" in res.verdict.sections["scope"][0]


def test_diagnose_searches_the_same_scope_as_run(tmp_path: Path) -> None:
    """`mlscope diagnose` adds every cross of the slice columns for its error analysis; its
    stored verdict searched the launch scope over those too (digits QA: "Holm over 12
    slices" against run's 6, with a cross as the nearest slice). The scope is the charter's
    slices in both: the same cells, the same result."""
    c = _charter(slices={"columns": ["region", "device"], "min_size": 30},
                 splits={"selection": "validation", "report": "test", "train": "validation"})
    path = _write(tmp_path, c)
    ran = mlscope.evaluate(path)
    diagnosed = mlscope.evaluate(path, diagnose=True)
    assert any(x.kind == "cross" for x in diagnosed.slices)  # diagnose did add crosses
    assert ran.scope is not None
    assert diagnosed.scope is not None
    assert [x.slice for x in diagnosed.scope.cells] == [x.slice for x in ran.scope.cells]
    assert not any("×" in x.slice for x in diagnosed.scope.cells)
    assert diagnosed.scope.included == ran.scope.included
    assert diagnosed.verdict is not None
    assert ran.verdict is not None
    assert diagnosed.verdict.sections["scope"] == ran.verdict.sections["scope"]
