"""Comparisons of any pair of models: `mlscope compare`, the charter's `compare.pairs`, and
the statistics each paired test records (checked against statsmodels and hand formulas).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy.stats import binom
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

import mlscope
from mlscope.charter import validate_charter
from mlscope.cli import main
from mlscope.result import OVERALL, EvaluationResult
from tests.conftest import base_charter, binary_frame

SPLITS = ("validation", "test")


def _frame() -> pd.DataFrame:
    df = binary_frame(n=900, seed=3)
    df["p_twin"] = df["p_good"]  # the same predictions under another name
    return df


def _charter(**over: Any) -> dict[str, Any]:
    ch = base_charter(**over)
    ch["data"]["models"]["twin"] = "p_twin"
    ch["slices"] = {"columns": ["region"], "min_size": 10}
    ch["intervals"] = {"resamples": 40}
    return ch


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict[str, Any]]:
    """`mlscope compare good fair --out` run once: the folder, the data and compare.json."""
    root = tmp_path_factory.mktemp("compare")
    df = _frame()
    df.to_parquet(root / "eval.parquet", index=False)
    (root / "mlscope.yaml").write_text(yaml.safe_dump(_charter(), sort_keys=False),
                                       encoding="utf-8")
    res = CliRunner().invoke(main, ["compare", str(root / "mlscope.yaml"), "good", "fair",
                                    "--out", str(root / "out")])
    assert res.exit_code == 0, res.output
    doc = json.loads((root / "out" / "compare.json").read_text(encoding="utf-8"))
    return root, df, {"doc": doc, "output": res.output}


def _rows(df: pd.DataFrame, split: str, skey: str) -> pd.DataFrame:
    rows = df[df["split"] == split]
    if skey != OVERALL:
        col, val = skey.split("=", 1)
        rows = rows[rows[col] == val]
    return rows


def _hand_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray
                 ) -> tuple[float, float, tuple[float, float, float]]:
    """DeLong's Z, SE and (var_a, var_b, cov) from the definition: every positive against
    every negative."""
    pos, neg = y == 1, y == 0

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    v10a, v01a = components(a)
    v10b, v01b = components(b)
    s10, s01 = np.cov(np.vstack([v10a, v10b])), np.cov(np.vstack([v01a, v01b]))
    var = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum()
           + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum())
    se = float(np.sqrt(var))
    var_a, var_b, cov = (float(s10[i, j] / pos.sum() + s01[i, j] / neg.sum())
                         for i, j in ((0, 0), (1, 1), (0, 1)))
    return float((v10a.mean() - v10b.mean()) / se), se, (var_a, var_b, cov)


def test_cli_compare_writes_table_and_json(
        compared: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    _, _, out = compared
    doc = out["doc"]
    assert doc["schema"] == "mlscope.compare/1"
    assert (doc["model"], doc["reference"]) == ("good", "fair")
    assert set(doc["splits"].values()) == set(SPLITS)
    diffs = doc["differences"]
    metric_ids = [m["id"] for m in doc["metrics"]]
    for split in SPLITS:
        overall = {d["metric"] for d in diffs if d["split"] == split and d["slice"] == OVERALL}
        assert overall == set(metric_ids)
        sliced = [d for d in diffs if d["split"] == split and d["slice"] != OVERALL]
        assert {d["slice"] for d in sliced} == {"region=north", "region=south",
                                                 "region=east", "region=west"}
        # Benjamini–Hochberg across the slices: never below the raw p-value.
        for d in sliced:
            if d["p_value"] is not None:
                assert d["adjusted_p"] >= d["p_value"] - 1e-12
    assert all(d["adjusted_p"] is None for d in diffs if d["slice"] == OVERALL)
    assert {d["test"] for d in diffs} == {"delong", "mcnemar", "bootstrap"}
    # Both models' values travel with the differences.
    assert {v["model"] for v in doc["values"]} == {"good", "fair"}
    # The terminal table names the tests and both models.
    for word in ("good", "fair", "DeLong", "McNemar", "paired bootstrap", "validation split",
                 "test split"):
        assert word in out["output"]


def test_delong_statistic_equals_hand_computation(
        compared: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    _, df, out = compared
    checked = 0
    for d in out["doc"]["differences"]:
        if d["test"] != "delong":
            continue
        rows = _rows(df, d["split"], d["slice"])
        z, se, terms = _hand_delong(rows["label"].to_numpy(), rows["p_good"].to_numpy(),
                             rows["p_fair"].to_numpy())
        detail = d["detail"]
        assert detail["kind"] == "delong"
        assert detail["statistic"] == pytest.approx(z, rel=1e-9)
        assert detail["se"] == pytest.approx(se, rel=1e-9)
        assert (detail["var_a"], detail["var_b"], detail["cov"]) == pytest.approx(terms,
                                                                                rel=1e-9)
        assert detail["n_pos"] == int(rows["label"].sum())
        assert detail["n_neg"] == int((rows["label"] == 0).sum())
        checked += 1
    assert checked == 2 * 5  # overall and four regions on two splits


def test_mcnemar_counts_and_default_method(
        compared: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    _, df, out = compared
    checked = 0
    for d in out["doc"]["differences"]:
        if d["test"] != "mcnemar":
            continue
        rows = _rows(df, d["split"], d["slice"])
        y = rows["label"].to_numpy() == 1
        ra, rb = (rows["p_good"].to_numpy() >= 0.5) == y, (rows["p_fair"].to_numpy() >= 0.5) == y
        detail = d["detail"]
        assert (detail["b"], detail["c"], detail["n"]) == (
            int((ra & ~rb).sum()), int((~ra & rb).sum()), len(rows))
        assert detail["requested"] == "auto"
        # The default is unchanged: mid-p below 25 discordant pairs, chi-square from 25 on.
        assert detail["method"] == ("mid-p" if detail["b"] + detail["c"] < 25 else "chi2")
        checked += 1
    assert checked == 2 * 5


def test_mcnemar_counts_on_where_slices_and_crosses(tmp_path: Path) -> None:
    """The discordant rows are counted per cell over the rows where the models differ:
    a `where` slice (rows outside it are in no cell) and a cross get the counts of their
    own rows, checked by hand."""
    df = _frame()
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = _charter()
    ch["slices"] = {"columns": ["region"], "crosses": [["region", "device"]],
                    "where": {"rich": "balance > 1500"}, "min_size": 10}
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False),
                                           encoding="utf-8")
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "mlscope.yaml"), "good",
                                    "fair", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "out" / "compare.json").read_text(encoding="utf-8"))
    seen: set[str] = set()
    for d in doc["differences"]:
        if d["test"] != "mcnemar":
            continue
        rows = df[df["split"] == d["split"]]
        if d["slice"] == "rich":
            rows = rows[rows["balance"] > 1500]
        elif d["slice"] != OVERALL:
            for part in d["slice"].split(" × "):
                col, val = part.split("=", 1)
                rows = rows[rows[col] == val]
        y = rows["label"].to_numpy() == 1
        ra = (rows["p_good"].to_numpy() >= 0.5) == y
        rb = (rows["p_fair"].to_numpy() >= 0.5) == y
        assert (d["detail"]["b"], d["detail"]["c"], d["detail"]["n"]) == (
            int((ra & ~rb).sum()), int((~ra & rb).sum()), len(rows)), d["slice"]
        seen.add(d["slice"])
    assert {"rich", OVERALL, "region=north"} <= seen
    assert any(" × " in key for key in seen)  # a cross


def test_bootstrap_records_its_kind_resamples_and_seed(
        compared: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    _, _, out = compared
    boot = [d for d in out["doc"]["differences"] if d["test"] == "bootstrap"]
    assert boot
    for d in boot:
        assert d["detail"]["kind"] == "bootstrap"
        assert "percentile paired bootstrap" in d["detail"]["method"]
        assert d["detail"]["resamples"] == 40
        assert d["detail"]["seed"] == 7


@pytest.mark.parametrize("method", ["exact", "mid-p", "chi2", "chi2-cc"])
def test_mcnemar_method_follows_statsmodels(method: str, tmp_path: Path) -> None:
    df = _frame()
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = _charter(compare={"pairs": [["good", "weak"]], "mcnemar": method})
    ch["intervals"] = {"resamples": 0}
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch), encoding="utf-8")
    result = mlscope.evaluate(tmp_path / "mlscope.yaml")
    (cmp,) = result.comparisons
    assert cmp.mcnemar == method
    tests = [d for d in cmp.differences if d.test == "mcnemar"]
    assert len(tests) == 2 * 5
    for d in tests:
        t = d.detail
        assert t is not None
        assert t.b is not None
        assert t.c is not None
        assert t.method == method
        assert t.requested == method
        table = [[0, t.b], [t.c, 0]]
        if t.b + t.c == 0:
            assert d.p_value == 1.0
            continue
        if method == "exact":
            expected = sm_mcnemar(table, exact=True).pvalue
        elif method == "chi2":
            expected = sm_mcnemar(table, exact=False, correction=False).pvalue
            assert t.statistic == pytest.approx(
                sm_mcnemar(table, exact=False, correction=False).statistic)
        elif method == "chi2-cc" and t.b == t.c:
            # statsmodels squares |b − c| − 1 = −1 here (statistic 1/(b + c), p < 1); the
            # correction only shrinks the gap towards 0, so mlscope's p-value is 1.
            expected = 1.0
        elif method == "chi2-cc":
            expected = sm_mcnemar(table, exact=False, correction=True).pvalue
        else:  # mid-p: twice the binomial tail below min(b, c), half the point mass at it
            k, n = min(t.b, t.c), t.b + t.c
            expected = min(1.0, 2 * binom.cdf(k, n, 0.5) - binom.pmf(k, n, 0.5))
        assert d.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_method_choice_changes_the_p_value(tmp_path: Path) -> None:
    """The same counts give the p-values statsmodels gives for each method."""
    df = _frame()
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = _charter()
    ch["intervals"] = {"resamples": 0}
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch), encoding="utf-8")
    p = {}
    for method in ("exact", "chi2", "chi2-cc"):
        result = mlscope.evaluate(tmp_path / "mlscope.yaml", pairs=[("good", "weak")],
                                  mcnemar=method)
        (d,) = [d for d in result.comparisons[0].differences
                if d.test == "mcnemar" and d.slice == OVERALL and d.split == "validation"]
        assert d.detail is not None
        p[method] = d.p_value
        counts = (d.detail.b, d.detail.c)
    table = [[0, counts[0]], [counts[1], 0]]
    assert p["exact"] == pytest.approx(sm_mcnemar(table, exact=True).pvalue)
    assert p["chi2"] == pytest.approx(sm_mcnemar(table, exact=False, correction=False).pvalue)
    assert p["chi2-cc"] == pytest.approx(sm_mcnemar(table, exact=False,
                                                    correction=True).pvalue)
    assert len({round(v, 12) for v in p.values() if v is not None}) == 3


def test_identical_models_have_zero_difference_and_p_one(
        project: Callable[..., Path]) -> None:
    path = project(_frame(), _charter())
    out = path.parent / "out"
    res = CliRunner().invoke(main, ["compare", str(path), "good", "twin", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert doc["differences"]
    for d in doc["differences"]:
        assert d["value"] == 0.0
        assert d["p_value"] == 1.0, d
        if d["adjusted_p"] is not None:
            assert d["adjusted_p"] == 1.0
        if d["test"] == "mcnemar":
            assert (d["detail"]["b"], d["detail"]["c"]) == (0, 0)
        if d["test"] == "delong":
            assert (d["detail"]["statistic"], d["detail"]["se"]) == (0.0, 0.0)


def test_unknown_model_exits_2_with_suggestion(project: Callable[..., Path]) -> None:
    path = project(_frame(), _charter())
    out = path.parent / "out"
    res = CliRunner().invoke(main, ["compare", str(path), "good", "fiar", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "`fiar` is not a model" in res.output
    assert "did you mean `fair`?" in res.output
    assert not (out / "compare.json").exists()
    same = CliRunner().invoke(main, ["compare", str(path), "good", "good"])
    assert same.exit_code == 2
    assert "with itself" in same.output


def test_charter_pairs_land_in_result_json_and_report(project: Callable[..., Path]) -> None:
    path = project(_frame(), _charter(compare={"pairs": [["fair", "weak"], ["good", "twin"]],
                                               "mcnemar": "exact"}))
    out = path.parent / "out"
    res = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--no-store", "-q"])
    assert res.exit_code in (0, 1), res.output
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert [(c["model"], c["reference"]) for c in data["comparisons"]] == [
        ("fair", "weak"), ("good", "twin")]
    first = data["comparisons"][0]
    assert first["mcnemar"] == "exact"
    assert first["splits"] == list(SPLITS)
    kinds = {d["test"]: d["detail"] for d in first["differences"]}
    assert kinds["delong"]["statistic"] is not None
    assert kinds["delong"]["se"] > 0
    assert kinds["mcnemar"]["method"] == "exact"
    assert kinds["bootstrap"]["resamples"] == 40
    # The result reads back, comparisons and details typed.
    from mlscope.result import PairComparison

    back = EvaluationResult.from_json(out / "result.json")
    assert isinstance(back.comparisons[0], PairComparison)
    assert back.comparisons[0].differences[0].detail is not None
    # The differences against the selected model carry their statistics too.
    assert all(d["detail"] is not None for d in data["differences"] if d["p_value"] is not None)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Pairs compared" in html
    assert "fair against weak" in html
    assert 'href="#pairs"' in html


@pytest.mark.parametrize(("compare", "expected"), [
    ({"pairs": [["good", "fiar"]]}, "did you mean `fair`?"),
    ({"pairs": [["good", "good"]]}, "with itself"),
    ({"pairs": [["good"]]}, "each pair is `[a, b]`"),
    ({"pairs": [["good", "fair"]], "mcnemar": "midp"}, "compare.mcnemar"),
])
def test_bad_compare_section_is_a_charter_problem(tmp_path: Path, compare: dict[str, Any],
                                                  expected: str) -> None:
    ch = _charter(compare=compare)
    text = yaml.safe_dump(ch, sort_keys=False)
    (tmp_path / "mlscope.yaml").write_text(text, encoding="utf-8")
    report = validate_charter(tmp_path / "mlscope.yaml")
    assert report.problems, "expected a problem"
    found = [p for p in report.problems if expected in str(p)]
    assert found, [str(p) for p in report.problems]
    line = text.splitlines().index("compare:") + 1
    assert found[0].line is not None
    assert found[0].line > line
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "mlscope.yaml")])
    assert res.exit_code == 2


def test_baselines_can_be_compared(project: Callable[..., Path]) -> None:
    ch = _charter(baselines={"prior": {"kind": "prior"}},
                  compare={"pairs": [["good", "prior"]]})
    report = validate_charter(project(_frame(), ch))
    assert report.problems == [], [str(p) for p in report.problems]


def test_mcnemar_counts_on_a_slice_column_of_many_levels(tmp_path: Path) -> None:
    # Generated (seeded): 60 levels, so cell codes run past 42, where three times the code
    # no longer fits the one-byte codes (it once wrapped around: the counting failed and
    # every accuracy difference fell back to the bootstrap with a confusing note).
    rng = np.random.default_rng(11)
    df = binary_frame(n=6000, seed=5)
    df["shop"] = [f"s{i:02d}" for i in rng.integers(0, 60, len(df))]
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    ch = base_charter()
    ch["slices"] = {"columns": ["shop"], "min_size": 10}
    ch["intervals"] = {"resamples": 20}
    ch["compare"] = {"pairs": [["good", "fair"]]}
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False),
                                           encoding="utf-8")
    res = mlscope.evaluate(tmp_path / "mlscope.yaml")
    checked = 0
    for d in res.differences:
        if d.metric != "accuracy":
            continue
        assert d.test == "mcnemar", (d.slice, d.note)
        rows = _rows(df, d.split, d.slice)
        y = rows["label"].to_numpy() == 1
        ra = (rows[f"p_{d.model}"].to_numpy() >= 0.5) == y
        rb = (rows[f"p_{d.reference}"].to_numpy() >= 0.5) == y
        assert d.detail is not None
        assert (d.detail.b, d.detail.c, d.detail.n) == (
            int((ra & ~rb).sum()), int((~ra & rb).sum()), len(rows))
        checked += 1
    assert checked >= 2 * 2 * 50  # two pairs, most of the 60 shops, both splits


def test_a_bootstrap_p_value_at_its_floor_reads_as_a_bound() -> None:
    """No resample as extreme as the estimate gives p = 1/(1 + R): "≤ 0.000999", not a
    figure of that precision; DeLong's and McNemar's p-values are figures."""
    from mlscope.report.pairs import p_value_text
    from mlscope.result import Difference, PairedTest

    def diff(p: float, test: PairedTest) -> Difference:
        return Difference(split="test", slice="overall", metric="mae", model="a",
                          reference="b", value=1.0, p_value=p, detail=test)

    boot = PairedTest(kind="bootstrap", resamples=1000, finite=1000)
    assert p_value_text(diff(1 / 1001, boot)) == "≤ 0.000999"
    assert p_value_text(diff(2 / 1001, boot)) == "0.002"
    assert p_value_text(diff(1 / 951, PairedTest(kind="bootstrap", resamples=1000, finite=950))) \
        == "≤ 0.00105"
    assert p_value_text(diff(1 / 1001, PairedTest(kind="delong"))) == "0.000999"



def test_metric_labels_wrap_between_words(tmp_path: Path) -> None:
    # "Recall @precision≥0.5" in a squeezed column wrapped inside the number
    # ("@precision≥0." then "5"): the column is at least as wide as its longest word.
    import io

    from rich.console import Console

    import mlscope
    from mlscope.report.pairs import render_comparison

    ch = _charter()
    ch["metrics"] = ["roc_auc", {"id": "r_at_p", "metric": "recall_at_precision",
                                 "precision": 0.5}]
    ch["selection"] = {"rule": "satisficing", "optimize": "roc_auc"}
    # Long names and 1,000 resamples squeeze the columns (as on ISLP Default).
    ch["data"]["models"] = {"logistic_regression": "p_good", "gradient_boosting": "p_fair"}
    ch["intervals"] = {"resamples": 1000}
    _frame().to_parquet(tmp_path / "eval.parquet", index=False)
    (tmp_path / "mlscope.yaml").write_text(yaml.safe_dump(ch, sort_keys=False),
                                           encoding="utf-8")
    result = mlscope.evaluate(tmp_path / "mlscope.yaml",
                              pairs=[("logistic_regression", "gradient_boosting")])
    # A pipe or a CI log (not a terminal): nothing folded inside a word, nothing cropped.
    con = Console(record=True, width=80, file=io.StringIO())
    render_comparison(result, result.comparisons[0], console=con)
    text = con.export_text()
    lines = text.splitlines()
    assert not any(line.rstrip().endswith("@precision≥") for line in lines)
    assert not any(line.strip().startswith("0.5") for line in lines)  # no "5" alone
    [header] = [line for line in lines if line.lstrip().startswith("metric")][:1]
    assert "logistic_regression" in header  # the model's name, not folded
    assert "gradient_boosting" in header
    assert "slices ≠" in header  # the last column, not cropped


@pytest.mark.parametrize(("lower", "upper", "p", "apart"), [
    (0.148, 2.707, 0.106, True),     # R² of a poor model (ISLP's Hitters): skewed replicates
    (-0.748, -0.179, 0.0869, True),
    (-0.05, 0.02, 0.01, True),       # the reverse: p significant, the interval holds 0
    (0.01, 0.05, 0.01, False),
    (-0.05, 0.02, 0.4, False),
    (0.01, 0.05, None, False),
])
def test_a_p_value_that_disagrees_with_its_interval_is_marked(
        lower: float, upper: float, p: float | None, apart: bool) -> None:
    from mlscope.report.pairs import DISAGREE, disagrees, p_value_text
    from mlscope.result import Difference

    d = Difference(split="test", slice=OVERALL, metric="r2", model="a", reference="b",
                   value=(lower + upper) / 2, lower=lower, upper=upper, p_value=p)
    assert disagrees(d, 0.95) is apart
    assert DISAGREE not in p_value_text(d)  # the mark is the table's, beside the figure


def test_the_pair_table_marks_and_explains_a_disagreement(tmp_path: Path) -> None:
    """The terminal table marks the p-value ‡ and says what it means, once per split; the
    report's cell carries the same words as its tooltip."""
    import dataclasses

    from rich.console import Console

    from mlscope.report.pairs import DISAGREE_NOTE, pair_tables, render_comparison

    _frame().to_parquet(tmp_path / "eval.parquet", index=False)
    p = tmp_path / "mlscope.yaml"
    p.write_text(yaml.safe_dump(_charter(compare={"pairs": [["good", "weak"]]}),
                                sort_keys=False), encoding="utf-8")
    result = mlscope.evaluate(p)
    cmp = result.comparisons[0]
    d = next(d for d in cmp.differences if d.slice == OVERALL and d.test == "bootstrap"
             and d.lower is not None and d.upper is not None and d.split == "test")
    # An interval clear of 0 beside a p-value above 0.05 (what skewed replicates give).
    i = cmp.differences.index(d)
    cmp.differences[i] = dataclasses.replace(d, lower=abs(d.value) / 2 + 1e-3,
                                             upper=abs(d.value) + 1.0, p_value=0.2)
    con = Console(record=True, width=200)
    render_comparison(result, cmp, console=con)
    text = con.export_text()
    assert "0.2 ‡" in text
    assert text.count(DISAGREE_NOTE[:40]) == 1
    cells = [c for t in pair_tables(result) for r in t.rows for c in r.cells
             if "‡" in str(c.text)]
    assert cells
    assert all(c.title == DISAGREE_NOTE for c in cells)
