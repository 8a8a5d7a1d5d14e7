"""Issue 12, items 12-14: comparable ceilings for the gap closed, and warnings that name
their cause (poor calibration, too few rows, no skill). Data are generated and seeded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import mlscope
from mlscope.baselines.standing import UpperFigure, compute_standings
from mlscope.result import MetricInfo, MetricValue, Standing

AUC = MetricInfo(id="roc_auc", name="roc_auc", label="ROC AUC", direction="higher",
                 params={}, description="", bounds=(0.0, 1.0))


def _standings(values: dict[str, float], uppers: list[UpperFigure]) -> dict[str, Standing]:
    """Standings on one split from point values (model -> AUC), with no replicates."""
    models = list(values)
    fam: dict[str, str | None] = {"prior": "trivial", "lr": "learned", "cand": None}
    vals = {("v", i, "overall", "roc_auc"): MetricValue("v", m, "overall", "roc_auc", v)
            for i, (m, v) in enumerate(values.items())}
    out = compute_standings(values=vals, reps={}, models=models, families=fam,
                            metrics=[AUC], splits=["v"], level=0.95, uppers=uppers)
    return {s.model: s for s in out}


def test_external_figure_on_other_data_is_a_reference_line_not_the_ceiling() -> None:
    other = UpperFigure(name="paper", family="external", metric="roc_auc", value=0.95,
                        same_data=False, data="another hospital")
    st = _standings({"prior": 0.5, "lr": 0.7, "cand": 0.8}, [other])["cand"]
    assert st.upper == "lr"
    assert st.gap_closed == pytest.approx((0.8 - 0.5) / (0.7 - 0.5))
    assert "`paper` (0.95) was measured on other data (another hospital)" in st.ceiling_note
    assert "reference line, not the ceiling" in st.ceiling_note
    assert "ceiling: `lr`" in st.ceiling_note
    # The same figure measured on the same data is a fair ceiling.
    same = UpperFigure(name="paper", family="external", metric="roc_auc", value=0.95)
    st = _standings({"prior": 0.5, "lr": 0.7, "cand": 0.8}, [same])["cand"]
    assert st.upper == "paper"
    assert st.gap_closed == pytest.approx(0.3 / 0.45)


def test_human_level_gap_uses_the_models_on_the_annotated_items() -> None:
    human = UpperFigure(name="human (single annotator)", family="human", metric="roc_auc",
                        value=0.9, n_items=482,
                        on_items={"prior": 0.5, "lr": 0.6, "cand": 0.7})
    # On all rows the candidate looks better (0.85) than on the annotated items (0.7).
    st = _standings({"prior": 0.5, "lr": 0.7, "cand": 0.85}, [human])["cand"]
    assert st.upper_family == "human"
    assert st.gap_closed == pytest.approx((0.7 - 0.5) / (0.9 - 0.5))
    assert (st.gap_rows, st.gap_model_value, st.gap_trivial_value) == (482, 0.7, 0.5)
    assert "482 annotated items" in st.ceiling_note
    assert st.vs_trivial == pytest.approx(0.35)  # vs trivial stays on every row
    assert st.lower is None  # no item resamples given: no interval
    # With paired item resamples, the interval is the percentile interval of the ratio.
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.01, size=(3, 400))
    reps = {"cand": 0.7 + noise[0], "prior": 0.5 + noise[1], None: 0.9 + noise[2]}
    paired = UpperFigure(name="human", family="human", metric="roc_auc", value=0.9,
                         n_items=482, on_items={"prior": 0.5, "cand": 0.7}, replicates=reps)
    st = _standings({"prior": 0.5, "lr": 0.7, "cand": 0.85}, [paired])["cand"]
    ratio = (reps["cand"] - reps["prior"]) / (reps[None] - reps["prior"])
    assert st.lower == pytest.approx(np.percentile(ratio, 2.5), abs=0.01)
    assert st.upper_ci == pytest.approx(np.percentile(ratio, 97.5), abs=0.01)
    # A model not scored on the items gets no gap rather than a mix of rows.
    missing = UpperFigure(name="human", family="human", metric="roc_auc", value=0.9,
                          n_items=482, on_items={"prior": 0.5})
    st = _standings({"prior": 0.5, "lr": 0.7, "cand": 0.85}, [missing])["cand"]
    assert st.gap_closed is None
    assert "not scored on the 482 annotated items" in st.note


def _write(tmp: Path, c: dict[str, Any], df: pd.DataFrame) -> Path:
    df.to_parquet(tmp / "eval.parquet", index=False)
    p = tmp / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return p


def _binary_charter(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "anchors", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {"cand": "cand"}},
        "splits": {"report": None},
        "metrics": ["roc_auc", "log_loss"],
        "selection": {"rule": "satisficing", "optimize": "log_loss"},
        "baselines": {"prior": {"kind": "prior"}},
        "intervals": {"resamples": 200},
    }
    c.update(over)
    return c


def _binary_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    logit = -0.5 + 2.0 * x
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    split = rng.choice(["train", "validation"], size=n, p=[0.4, 0.6])
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "y": y, "split": split}), logit


def test_uncalibrated_model_that_ranks_well_is_called_poorly_calibrated(tmp_path: Path
                                                                          ) -> None:
    df, logit = _binary_frame(3000, seed=11)
    # Ranks like the truth, but wildly over-confident: near-0/1 probabilities.
    df["cand"] = 1 / (1 + np.exp(-12 * logit))
    res = mlscope.evaluate(_write(tmp_path, _binary_charter(), df))
    st = {(s.model, s.metric): s for s in res.standings if s.split == "validation"}
    auc, ll = st[("cand", "roc_auc")], st[("cand", "log_loss")]
    assert auc.flag is None
    assert auc.vs_trivial_lower is not None
    assert auc.vs_trivial_lower > 0.2
    assert ll.flag_cause == "calibration"
    assert ll.flag is not None
    assert "poorly calibrated" in ll.flag
    assert "Platt or isotonic" in ll.flag
    assert "something is wrong" not in ll.flag
    warn = [w for w in res.warnings if w.startswith("cand ")]
    assert len(warn) == 1
    assert "poorly calibrated" in warn[0]
    assert "something is wrong" not in warn[0]


def test_regression_on_few_rows_is_called_too_few_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n_train, n_val = 400, 88
    n = n_train + n_val
    x = rng.normal(size=n)
    y = x + rng.normal(scale=1.5, size=n)
    df = pd.DataFrame({"id": range(n), "y": y, "x": x,
                       "split": ["train"] * n_train + ["validation"] * n_val,
                       "cand": 0.5 * x + rng.normal(scale=0.7, size=n)})
    c = {"project": "few", "task": "regression", "seed": 2,
         "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                  "models": {"cand": "cand"}},
         "splits": {"report": None},
         "metrics": ["mae"], "selection": {"rule": "satisficing", "optimize": "mae"},
         "baselines": {"mean": {"kind": "mean"}, "lin": {"kind": "linear", "features": ["x"]}},
         "intervals": {"resamples": 400}}
    res = mlscope.evaluate(_write(tmp_path, c, df))
    st = next(s for s in res.standings if s.model == "cand" and s.metric == "mae")
    assert st.vs_trivial_lower is not None
    assert st.vs_trivial_upper is not None
    assert st.vs_trivial_lower < 0 < st.vs_trivial_upper  # the interval includes 0
    assert st.flag_cause == "few_rows"
    assert st.flag is not None
    assert "too few rows to tell" in st.flag
    assert "something is wrong" not in st.flag
    warn = [w for w in res.warnings if w.startswith("cand ")]
    assert len(warn) == 1
    assert "too few rows to tell" in warn[0]


def test_model_with_no_skill_and_a_tight_interval_keeps_the_something_is_wrong_warning(
        tmp_path: Path) -> None:
    df, _ = _binary_frame(8000, seed=12)
    df["cand"] = np.random.default_rng(5).random(len(df))  # learned nothing
    res = mlscope.evaluate(_write(tmp_path, _binary_charter(
        selection={"rule": "satisficing", "optimize": "roc_auc"}), df))
    st = next(s for s in res.standings if s.model == "cand" and s.metric == "roc_auc")
    assert st.vs_trivial_lower is not None
    assert st.vs_trivial_upper is not None
    assert st.vs_trivial_upper - st.vs_trivial_lower < 0.06  # tight
    assert st.flag_cause == "no_skill"
    assert st.flag is not None
    assert "something is wrong" in st.flag
    # "Tight" in the metric's units: the interval's upper end is below the gain it rules
    # out, a fifth of the way from the floor (AUC 0.5) to the best value (1).
    assert st.vs_trivial_upper < 0.1
    assert ("the interval rules out a gain of 0.1 (20% of the way from the baseline's 0.5 "
            "to the best value 1)") in st.flag
    warn = [w for w in res.warnings if w.startswith("cand does not clearly beat")]
    assert len(warn) == 1
    assert "something is wrong" in warn[0]
    assert "rules out a gain of a fifth of the way" in warn[0]


def test_result_without_the_new_fields_still_loads() -> None:
    res_dict = {"split": "v", "model": "m", "metric": "roc_auc", "trivial": "prior",
                "trivial_value": 0.5, "upper": None, "upper_family": None,
                "upper_value": None, "gap_closed": None}
    from mlscope.result import decode_dataclass

    st = decode_dataclass(Standing, res_dict)
    assert st.ceiling_note == ""
    assert st.flag_cause is None


def test_evaluation_compares_human_level_with_the_models_on_the_annotated_items(
        tmp_path: Path) -> None:
    df, logit = _binary_frame(3000, seed=21)
    rng = np.random.default_rng(21)
    val = (df.split == "validation").to_numpy()
    annotated = val & (rng.random(len(df)) < 0.33)  # a subset of the rows, as in the issue
    # The candidate is sharp on the annotated items and noise elsewhere: all-row figures
    # would understate how it compares with the humans on their items.
    sharp = 1 / (1 + np.exp(-logit))
    df["cand"] = np.where(annotated, sharp, rng.random(len(df)))
    for j, acc in enumerate([0.9, 0.85, 0.8]):
        right = rng.random(len(df)) < acc
        df[f"a{j}"] = np.where(annotated, np.where(right, df.y, 1 - df.y), np.nan)
    c = _binary_charter(metrics=["accuracy", "roc_auc"],
                        selection={"rule": "satisficing", "optimize": "accuracy"})
    c["baselines"]["annotators"] = {"kind": "human", "reference": "gold",
                                    "annotations": {"columns": ["a0", "a1", "a2"]}}
    res = mlscope.evaluate(_write(tmp_path, c, df), resamples=50)
    hl = res.human
    assert hl is not None
    st = next(s for s in res.standings if s.model == "cand" and s.metric == "accuracy"
              and s.split == "validation")
    rung = hl.best["accuracy"]
    assert rung is not None
    assert st.upper_family == "human"
    m = hl.model("cand", rung).value("accuracy")
    t = hl.model("prior", rung).value("accuracy")
    h = hl.rung(rung).value("accuracy")
    assert m is not None
    assert t is not None
    assert h is not None
    assert st.gap_rows == hl.rung(rung).n_items == int(annotated.sum())
    assert st.gap_rows < res.data["rows_per_split"]["validation"]
    assert st.gap_model_value == pytest.approx(m.value)
    assert st.gap_closed == pytest.approx((m.value - t.value) / (h.value - t.value))
    assert f"{st.gap_rows:,} annotated items" in st.ceiling_note
    # Its interval comes from the ladder's item resamples, paired across model, floor and
    # humans.
    assert st.lower is not None
    assert st.upper_ci is not None
    assert st.lower <= st.gap_closed <= st.upper_ci


# -- item 13: whose learning curve -------------------------------------------------------


def _diag_charter(lc: dict[str, Any]) -> dict[str, Any]:
    return _binary_charter(
        metrics=["roc_auc", {"metric": "accuracy", "threshold": 0.5}],
        selection={"rule": "satisficing", "optimize": "accuracy"},
        requirements={"accuracy": ">= 0.85"},
        baselines={"prior": {"kind": "prior"},
                   "simple_logistic": {"kind": "logistic", "features": ["x"]}},
        splits={"train": "train", "report": None},
        diagnosis={"learning_curve": lc}, intervals={"resamples": 50})


def _diag_frame() -> pd.DataFrame:
    df, logit = _binary_frame(2000, seed=31)
    rng = np.random.default_rng(31)
    df["x"] = (logit + 0.5) / 2.0
    df["cand"] = 1 / (1 + np.exp(-(logit + rng.normal(scale=0.3, size=len(df)))))
    return df


def test_refitted_learning_curve_is_named_a_stand_in_everywhere(tmp_path: Path) -> None:
    from rich.console import Console

    from mlscope.report import render_html
    from mlscope.report.terminal import render_diagnosis

    res = mlscope.evaluate(_write(tmp_path, _diag_charter({"refit": "simple_logistic"}),
                                  _diag_frame()), diagnose="cand")
    d = res.diagnosis
    assert d is not None
    lc = d.learning_curve
    assert lc is not None
    head = "Data needed, estimated from a refitted stand-in `simple_logistic`, not `cand`"
    assert lc["headline"] == head
    assert lc["stand_in"] == {"name": "simple_logistic", "how": "refit", "kind": "logistic",
                              "diagnosed": "cand"}
    assert lc["needed"]["note"].startswith(head)
    assert any(s.area == "data" and s.title == head for s in d.steps)
    how = next(n for n in d.notes if n.startswith("To estimate the data `cand` itself needs"))
    assert "model: cand" in how
    con = Console(record=True, width=200)
    render_diagnosis(res, con)
    text = con.export_text()
    assert head in text
    assert "model: cand" in text
    html = render_html(res)
    assert "refitted stand-in <code>" in html or "refitted stand-in `simple_logistic`" in html


def test_measured_points_of_the_diagnosed_model_are_preferred(tmp_path: Path) -> None:
    sizes = [100, 200, 400, 800]
    acc = [1 - (0.5 * s ** -0.4 + 0.1) for s in sizes]
    lc_spec = {"sizes": sizes, "values": acc, "model": "cand", "refit": "simple_logistic"}
    res = mlscope.evaluate(_write(tmp_path, _diag_charter(lc_spec), _diag_frame()),
                           diagnose="cand")
    assert res.diagnosis is not None
    lc = res.diagnosis.learning_curve
    assert lc is not None
    assert lc["stand_in"] is None
    assert lc["curve_model"] == "cand"
    assert lc["curve"]["sizes"] == sizes
    assert "measured points of `cand`" in lc["source"]
    # Points measured for another model are named as such, not passed off as the model's.
    lc_spec = {"sizes": sizes, "values": acc, "model": "older_model"}
    res = mlscope.evaluate(_write(tmp_path, _diag_charter(lc_spec), _diag_frame()),
                           diagnose="cand")
    assert res.diagnosis is not None
    lc = res.diagnosis.learning_curve
    assert lc is not None
    assert lc["stand_in"]["how"] == "measured"
    assert lc["headline"] == ("Data needed, estimated from the measured curve of "
                              "`older_model`, not `cand`")


def test_requirement_figure_is_named_never_the_ceiling() -> None:
    target = UpperFigure(name="break_even", family="external", metric="roc_auc", value=0.99,
                         same_data=True, role="requirement")
    st = _standings({"prior": 0.5, "lr": 0.7, "cand": 0.8}, [target])["cand"]
    assert st.upper == "lr"
    assert "`break_even` (0.99) is a requirement (a target), not a ceiling" in st.ceiling_note


def test_no_gap_closed_against_a_ceiling_within_its_interval_of_the_floor() -> None:
    """Smarket (ISLP): the rule ceiling's ROC AUC 0.527 against the prior's 0.5, its lead's
    interval [−0.03, +0.09]: the gap closed read "142% [−664%, 1233%]". Replicates are
    generated (seeded): the rule's lead over the prior is noise around +0.027, then a
    clear +0.2."""
    rng = np.random.default_rng(5)
    models = ["prior", "rule", "cand"]
    fam: dict[str, str | None] = {"prior": "trivial", "rule": "rule", "cand": None}

    def run(rule: float, spread: float) -> Standing:
        point = {"prior": 0.5, "rule": rule, "cand": 0.538}
        vals = {("v", i, "overall", "roc_auc"): MetricValue("v", m, "overall", "roc_auc",
                                                             point[m])
                for i, m in enumerate(models)}
        reps = {("v", i, "overall", "roc_auc"): point[m] + (
            0.0 if m == "prior" else rng.normal(scale=spread, size=400))
            for i, m in enumerate(models)}
        out = compute_standings(values=vals, reps=reps, models=models, families=fam,
                                metrics=[AUC], splits=["v"], level=0.95)
        return next(s for s in out if s.model == "cand")

    st = run(0.527, 0.03)
    assert st.gap_closed is None
    assert st.lower is None
    assert st.note.startswith("the upper baseline `rule` is not clearly better than the "
                              "trivial `prior` on roc_auc (+0.027 [")
    assert st.note.endswith("]): no gap to measure")
    st = run(0.7, 0.03)
    assert st.gap_closed == pytest.approx((0.538 - 0.5) / 0.2)
    assert st.note == ""


@pytest.mark.parametrize(("direction", "bounds", "upper", "upper_value", "trivial_value",
                          "lo", "hi", "says"), [
    # Ceiling above the floor: a fifth of the gap to it (0.2 · (0.8 − 0.6) = 0.04).
    ("higher", (0.0, 1.0), "human", 0.8, 0.6, -0.02, 0.03,
     "rules out a gain of 0.04 (20% of the way from the baseline's 0.6 to the ceiling "
     "`human`'s 0.8)"),
    # No ceiling: a fifth of the way to the best value (0.2 · (0 − 0.69) → 0.138).
    ("lower", (0.0, None), None, None, 0.69, -0.05, 0.04,
     "rules out a gain of 0.138 (20% of the way from the baseline's 0.69 to the best "
     "value 0)"),
    # No bound either: a fifth of the floor's own value.
    ("higher", (None, None), None, None, 5.0, -0.5, 0.5,
     "rules out a gain of 1 (20% of the way from the baseline's 5 to 0)"),
])
def test_no_skill_flag_says_in_the_metrics_units_what_tight_means(
        direction: str, bounds: tuple[float | None, float | None], upper: str | None,
        upper_value: float | None, trivial_value: float, lo: float, hi: float,
        says: str) -> None:
    from mlscope.baselines.flags import classify_flags

    info = MetricInfo(id="m", name="m", label="m", direction=direction,  # type: ignore[arg-type]
                      params={}, description="", bounds=bounds)
    st = Standing(split="validation", model="cand", metric="m", trivial="prior",
                  trivial_value=trivial_value, upper=upper, upper_family=None,
                  upper_value=upper_value, gap_closed=None, vs_trivial=(lo + hi) / 2,
                  vs_trivial_lower=lo, vs_trivial_upper=hi)
    classify_flags([st], [info])
    assert st.flag_cause == "no_skill"
    assert st.flag is not None
    assert says in st.flag
    assert st.flag.endswith("something is wrong (a bug, a leak in the baseline, or a model "
                            "that learned nothing)")
