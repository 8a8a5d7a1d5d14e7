"""Human-level baselines from annotators' labels (mlscope.baselines.human).

Every data set here is generated and seeded, with a known truth: items have a true label
and each annotator labels correctly with a known probability, so the expected numbers are
known in advance.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from mlscope.baselines.human import (
    ALPHA_TENTATIVE,
    HumanLevel,
    HumanMetricSpec,
    fleiss_kappa,
    human_ladder,
    load_annotations,
)
from mlscope.errors import InputError
from mlscope.result import decode_dataclass

ACCURACIES = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65)
BINARY_METRICS = [
    HumanMetricSpec("acc", "accuracy"),
    HumanMetricSpec("f1", "f1", {"threshold": 0.5}),
    HumanMetricSpec("auc", "roc_auc"),
    HumanMetricSpec("brier", "brier"),
    HumanMetricSpec("ll", "log_loss"),
    HumanMetricSpec("p_at_r", "precision_at_recall", {"recall": 0.8}),
    HumanMetricSpec("f1_opt", "f1", {"threshold": "optimize"}),
]


def binary_crowd(n: int = 400, accuracies: tuple[float, ...] = ACCURACIES, seed: int = 0,
                 coverage: float = 1.0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Annotations, gold and a model: annotator ``a{j}`` is right with ``accuracies[j]``.

    The model's score is informative (accuracy about 0.9 at 0.5) but not perfect.
    """
    rng = np.random.default_rng(seed)
    items = [f"item{i:04d}" for i in range(n)]
    y = rng.random(n) < 0.4
    frames = []
    for j, acc in enumerate(accuracies):
        label = np.where(rng.random(n) < acc, y, ~y).astype(int)
        keep = rng.random(n) < coverage
        frames.append(pd.DataFrame({"item": np.asarray(items)[keep], "annotator": f"a{j}",
                                    "label": label[keep]}))
    gold = pd.Series(y.astype(int), index=items)
    score = 1 / (1 + np.exp(-(np.where(y, 1.6, -1.6) + rng.normal(size=n))))
    return pd.concat(frames, ignore_index=True), gold, pd.Series(score, index=items)


@pytest.fixture(scope="module")
def gold_ladder() -> tuple[HumanLevel, pd.DataFrame, pd.Series, pd.Series]:
    ann, gold, model = binary_crowd()
    hl = human_ladder(ann, task="binary", metrics=BINARY_METRICS, reference=gold,
                      reference_kind="gold", models={"model": model}, resamples=200)
    return hl, ann, gold, model


# --------------------------------------------------------------------------------------
# The ladder against gold
# --------------------------------------------------------------------------------------


def test_single_annotator_recovers_known_accuracies(gold_ladder: tuple) -> None:
    hl, *_ = gold_ladder
    single = hl.rung("single annotator")
    acc = single.value("acc")
    assert acc is not None
    assert acc.value is not None
    assert acc.value == pytest.approx(np.mean(ACCURACIES), abs=0.02)
    assert acc.n_units == len(ACCURACIES)
    assert acc.minimum == pytest.approx(min(ACCURACIES), abs=0.06)
    assert acc.maximum == pytest.approx(max(ACCURACIES), abs=0.04)
    assert acc.spread == pytest.approx(np.std(ACCURACIES, ddof=1), abs=0.02)
    assert hl.typical_human == "single annotator"
    for j, true_acc in enumerate(ACCURACIES):
        assert hl.per_annotator[f"a{j}"]["acc"] == pytest.approx(true_acc, abs=0.06)
        assert hl.annotator_items[f"a{j}"] == 400


def test_majority_improves_with_k_and_dawid_skene_beats_it(gold_ladder: tuple) -> None:
    hl, *_ = gold_ladder
    names = [r.name for r in hl.rungs]
    assert names == ["single annotator", "majority of 3", "majority of 5", "majority of 7",
                     "Dawid–Skene", "expert panel"]
    accs = [hl.rung(n).value("acc").value for n in names[:4]]
    assert accs == sorted(accs)
    assert accs[-1] - accs[0] > 0.1
    ds = hl.rung("Dawid–Skene").value("acc").value
    assert ds >= accs[-1] - 0.005
    # Majority draws vary with k < annotators; with k = 7 every draw is everyone.
    assert hl.rung("majority of 3").value("acc").spread > 0
    assert hl.rung("majority of 7").value("acc").spread == pytest.approx(0.0, abs=1e-12)


def test_best_rung_per_metric_follows_direction(gold_ladder: tuple) -> None:
    hl, *_ = gold_ladder
    for mid in ("acc", "f1", "auc", "brier"):
        higher = mid != "brier"
        vals = {r.name: r.value(mid).value for r in hl.rungs if r.eligible}
        expected = (max if higher else min)(vals, key=lambda k: vals[k])
        assert hl.best[mid] == expected
    assert hl.best["acc"] == "Dawid–Skene"
    assert hl.best["ll"] == "Dawid–Skene"  # the only rung with probabilities


def test_hard_labels_have_no_log_loss_or_operating_point(gold_ladder: tuple) -> None:
    hl, *_ = gold_ladder
    for name in ("single annotator", "majority of 3"):
        rung = hl.rung(name)
        for mid in ("ll", "p_at_r", "f1_opt"):
            v = rung.value(mid)
            assert v.value is None
            assert "labels, not scores" in v.undefined
        # AUC of a 0/1 label is the mean of its recall and specificity.
        assert rung.value("auc").value is not None
    ds = hl.rung("Dawid–Skene")
    assert all(v.value is not None for v in ds.values)
    expert = hl.rung("expert panel")
    assert not expert.scored
    assert expert.kind == "expert"
    assert expert.n_items == 400
    assert all(v.value is None for v in expert.values)


def test_models_scored_on_the_rungs_items(gold_ladder: tuple) -> None:
    hl, _ann, gold, model = gold_ladder
    # Every annotator labelled every item, so each unit is all items against gold.
    expected = float(((model >= 0.5).astype(int) == gold).mean())
    for rung in ("single annotator", "majority of 3", "Dawid–Skene"):
        m = hl.model("model", rung)
        assert m.value("acc").value == pytest.approx(expected)
        assert m.value("ll").value is not None  # a model has scores
    assert {m.rung for m in hl.models} == {r.name for r in hl.rungs if r.scored}


def test_partial_coverage_and_min_items() -> None:
    ann, gold, _ = binary_crowd(n=300, coverage=0.7, seed=3)
    late = pd.DataFrame({"item": gold.index[:12], "annotator": "late", "label": gold[:12].values})
    hl = human_ladder(pd.concat([ann, late]), task="binary", positive="1",
                      metrics=[HumanMetricSpec("acc", "accuracy")], reference=gold,
                      reference_kind="gold", resamples=0, min_items=30)
    single = hl.rung("single annotator")
    assert single.value("acc").n_units == len(ACCURACIES)  # "late" is left out
    assert "late (12)" in single.note
    assert hl.per_annotator["late"]["acc"] == 1.0
    assert single.value("acc").value == pytest.approx(np.mean(ACCURACIES), abs=0.03)
    assert single.value("acc").lower is None  # no resamples, no interval
    # Items with 7 labels are rare at 70% coverage: ~0.7**7 * 300 = 25 < 30.
    maj7 = hl.rung("majority of 7")
    assert maj7.scored
    assert not maj7.eligible
    assert "not eligible" in maj7.note
    assert maj7.n_items < 30


def test_low_agreement_warns() -> None:
    ann, gold, _ = binary_crowd(n=300, accuracies=(0.55,) * 5, seed=4)
    hl = human_ladder(ann, task="binary", metrics=[HumanMetricSpec("acc", "accuracy")],
                      reference=gold, reference_kind="gold", resamples=0)
    a = hl.agreement
    assert a.krippendorff_alpha is not None
    assert a.krippendorff_alpha < 0.1
    assert a.warning is not None
    assert "floor of label noise" in a.warning
    assert a.warning in hl.warnings


def test_high_agreement_does_not_warn(gold_ladder: tuple) -> None:
    ann, gold, _ = binary_crowd(n=300, accuracies=(0.97,) * 4, seed=5)
    hl = human_ladder(ann, task="binary", metrics=[HumanMetricSpec("acc", "accuracy")],
                      reference=gold, reference_kind="gold", resamples=0)
    assert hl.agreement.krippendorff_alpha > ALPHA_TENTATIVE
    assert hl.agreement.warning is None
    assert hl.warnings == []


# --------------------------------------------------------------------------------------
# Agreement statistics against oracles
# --------------------------------------------------------------------------------------


def _random_table(rng: np.random.Generator, n_items: int, k: int, raters: int) -> np.ndarray:
    # Items lean towards one class, so that agreement is neither 0 nor 1.
    out = np.zeros((n_items, k), dtype=np.int64)
    for i in range(n_items):
        p = rng.dirichlet(np.full(k, rng.uniform(0.2, 3.0)))
        out[i] = rng.multinomial(raters, p)
    return out


def test_fleiss_kappa_matches_statsmodels_on_random_tables() -> None:
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(300):
        table = _random_table(rng, int(rng.integers(1, 40)), int(rng.integers(2, 6)),
                              int(rng.integers(2, 9)))
        ours, why = fleiss_kappa(table)
        with np.errstate(invalid="ignore", divide="ignore"):
            theirs = sm_fleiss_kappa(table, method="fleiss")
        if np.isfinite(theirs):
            assert why is None
            assert ours == pytest.approx(theirs, abs=1e-12)
            checked += 1
        else:
            assert ours is None
            assert why
    assert checked > 250


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 5), raters=st.integers(2, 7))
def test_fleiss_kappa_is_invariant_to_class_and_item_order(seed: int, k: int, raters: int) -> None:
    rng = np.random.default_rng(seed)
    table = _random_table(rng, 12, k, raters)
    ours, _ = fleiss_kappa(table)
    shuffled, _ = fleiss_kappa(table[rng.permutation(12)][:, rng.permutation(k)])
    if ours is None:
        assert shuffled is None
    else:
        assert shuffled == pytest.approx(ours, abs=1e-12)
        with np.errstate(invalid="ignore", divide="ignore"):
            assert ours == pytest.approx(sm_fleiss_kappa(table), abs=1e-12)


def test_fleiss_kappa_degenerate_and_varying_raters() -> None:
    assert fleiss_kappa([[3, 0], [4, 0]]) == (None, pytest.approx(
        "every label is the same class, so chance agreement is 1 and kappa is 0/0"))
    assert fleiss_kappa([[1, 0], [0, 1]])[0] is None  # no item with two labels
    # Varying raters, by hand: P_1 = (2*1)/(2*1) = 1, P_2 = (2*1 + 0)/(3*2) = 1/3,
    # P̄ = 2/3; shares (4/5, 1/5), P_e = 17/25; kappa = (2/3 - 17/25) / (8/25) = -1/24.
    value, why = fleiss_kappa([[2, 0], [2, 1], [1, 0]])
    assert why is None
    assert value == pytest.approx(-1 / 24)
    with pytest.raises(ValueError, match="2-d"):
        fleiss_kappa([1, 2, 3])


# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 observers x 12
# units example with missing values: nominal alpha 0.743, interval alpha 0.849.
_KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _example_long() -> pd.DataFrame:
    rows = [(f"u{u:02d}", f"obs{o}", v) for o, row in enumerate(_KRIPPENDORFF_EXAMPLE)
            for u, v in enumerate(row) if v is not None]
    return pd.DataFrame(rows, columns=["item", "annotator", "label"])


@pytest.mark.parametrize("without_package", [False, True], ids=["package", "closed-form"])
def test_krippendorff_alpha_classic_example(without_package: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if without_package:
        monkeypatch.setitem(sys.modules, "krippendorff", None)
    ann = _example_long()
    multi = human_ladder(ann, task="multiclass", metrics=[], reference_kind="none")
    assert multi.agreement.level == "nominal"
    assert multi.agreement.krippendorff_alpha == pytest.approx(0.743, abs=5e-4)
    reg = human_ladder(ann, task="regression", metrics=[], reference_kind="none")
    assert reg.agreement.level == "interval"
    assert reg.agreement.krippendorff_alpha == pytest.approx(0.849, abs=5e-4)
    assert reg.agreement.fleiss_kappa is None
    assert reg.agreement.percent_agreement is None
    assert any("closed form" in n for n in reg.agreement.notes) == without_package


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_krippendorff_closed_form_matches_package_on_random_data(level: str) -> None:
    import krippendorff

    from mlscope.baselines.agreement import alpha_closed

    rng = np.random.default_rng(5)
    for _ in range(20):
        n, raters = int(rng.integers(3, 40)), int(rng.integers(2, 7))
        truth = rng.integers(0, 5, n)
        noisy = np.clip(truth[None, :] + rng.integers(-1, 2, (raters, n)), 0, 4).astype(float)
        noisy[rng.random((raters, n)) < 0.3] = np.nan
        item = np.nonzero(np.isfinite(noisy.T))[0]
        value = noisy.T[np.isfinite(noisy.T)]
        ours = alpha_closed(item.astype(np.int64), value, level)
        with np.errstate(invalid="ignore", divide="ignore"):
            theirs = krippendorff.alpha(noisy, level_of_measurement=level)
        if np.isfinite(theirs):
            assert ours == pytest.approx(theirs, abs=1e-10)
        else:
            assert ours is None


def test_percent_agreement_and_degenerate_agreement() -> None:
    ann = pd.DataFrame({"item": ["x", "x", "x", "y", "y"], "annotator": list("abcab"),
                        "label": ["p", "p", "q", "q", "q"]})
    hl = human_ladder(ann, task="multiclass", metrics=[], reference_kind="none")
    # Item x: 1 of 3 pairs agree; item y: 1 of 1.
    assert hl.agreement.percent_agreement == pytest.approx((1 / 3 + 1) / 2)
    assert hl.agreement.labels_per_item == pytest.approx(2.5)
    same = ann.assign(label="p")
    hl = human_ladder(same, task="multiclass", metrics=[], reference_kind="none")
    assert hl.agreement.fleiss_kappa is None
    assert hl.agreement.krippendorff_alpha is None
    assert hl.agreement.percent_agreement == 1.0
    assert any("same class" in n for n in hl.agreement.notes)


# --------------------------------------------------------------------------------------
# Reference from the same annotators: leave-one-out
# --------------------------------------------------------------------------------------


def test_leave_one_out_undoes_the_self_agreement_inflation() -> None:
    # Three annotators of accuracy 0.75 and a dataset label that is their majority: scored
    # against it, each annotator agrees with themself. A model of accuracy ~0.8 is better
    # than a typical annotator against gold; leave-one-out keeps that ranking.
    ann, gold, _ = binary_crowd(n=1500, accuracies=(0.75,) * 3, seed=7)
    rng = np.random.default_rng(8)
    model = pd.Series(np.where(rng.random(1500) < 0.8, gold, 1 - gold) * 0.8 + 0.1,
                      index=gold.index)
    majority = ann.groupby("item")["label"].mean().round().astype(int)
    metric = [HumanMetricSpec("acc", "accuracy")]
    kw = {"task": "binary", "metrics": metric, "models": {"m": model}, "resamples": 0}
    truth = human_ladder(ann, reference=gold, reference_kind="gold", **kw)
    naive = human_ladder(ann, reference=majority, reference_kind="gold", **kw)
    loo = human_ladder(ann, reference=majority, reference_kind="from_annotators", **kw)

    def human(h: HumanLevel) -> float:
        return h.rung("single annotator").value("acc").value

    def model_on(h: HumanLevel) -> float:
        return h.model("m", "single annotator").value("acc").value

    assert human(truth) == pytest.approx(0.75, abs=0.015)
    assert human(naive) > human(truth) + 0.04  # inflated by self-agreement
    assert abs(human(loo) - human(truth)) < human(naive) - human(truth)
    assert model_on(truth) > human(truth)
    assert model_on(naive) < human(naive)  # the naive comparison flips the ranking
    assert model_on(loo) > human(loo)  # leave-one-out restores it
    ds = loo.rung("Dawid–Skene")
    assert not ds.scored
    assert "same annotators" in ds.values[0].undefined
    assert "no majority rung" in " ".join(loo.notes)  # 3 labels leave no reference for k=3


def test_leave_one_out_close_to_truth_and_models_share_references() -> None:
    ann, _gold, model = binary_crowd(n=600, seed=9)
    metric = [HumanMetricSpec("acc", "accuracy")]
    hl = human_ladder(ann, task="binary", metrics=metric, reference_kind="from_annotators",
                      models={"m": model}, resamples=0)
    assert hl.rung("single annotator").value("acc").value == pytest.approx(
        np.mean(ACCURACIES), abs=0.025)
    assert [r.name for r in hl.rungs] == ["single annotator", "majority of 3",
                                          "majority of 5", "Dawid–Skene"]
    assert "other annotators" in hl.rung("majority of 5").note
    # The model against annotator a0's leave-one-out references, recomputed by hand.
    wide = ann.pivot(index="item", columns="annotator", values="label")
    per_annotator = []
    for a in wide.columns:
        others = wide.drop(columns=a)
        ones = others.sum(axis=1)
        tie = ones * 2 == others.shape[1]
        ref = (ones * 2 > others.shape[1]).astype(int)[~tie]
        pred = (model.reindex(ref.index) >= 0.5).astype(int)
        per_annotator.append(float((pred == ref).mean()))
        assert hl.per_annotator[a]["acc"] == pytest.approx(float((wide[a][~tie] == ref).mean()))
    assert hl.model("m", "single annotator").value("acc").value == pytest.approx(
        np.mean(per_annotator))


def test_no_reference_reports_agreement_only() -> None:
    ann, _, _ = binary_crowd(n=200, seed=12)
    hl = human_ladder(ann, task="binary", metrics=[HumanMetricSpec("acc", "accuracy")],
                      reference_kind="none")
    assert all(not r.scored for r in hl.rungs)
    assert hl.models == []
    assert hl.best == {"acc": None}
    assert hl.agreement.krippendorff_alpha is not None
    assert len(hl.aggregate_labels) == 200
    assert set(hl.aggregate_labels.values()) <= {"0", "1"}
    assert "no reference" in hl.rung("single annotator").values[0].undefined


# --------------------------------------------------------------------------------------
# Other tasks
# --------------------------------------------------------------------------------------


def test_regression_ladder() -> None:
    rng = np.random.default_rng(21)
    n, sds = 500, (0.5, 1.0, 1.5, 2.0, 2.5)
    truth = rng.normal(10, 3, n)
    items = [f"r{i}" for i in range(n)]
    ann = pd.concat([pd.DataFrame({"item": items, "annotator": f"h{j}",
                                   "label": truth + rng.normal(0, sd, n)})
                     for j, sd in enumerate(sds)])
    model = pd.Series(truth + rng.normal(0, 0.7, n), index=items)
    hl = human_ladder(ann, task="regression",
                      metrics=[HumanMetricSpec("mae", "mae"), HumanMetricSpec("r2", "r2")],
                      reference=pd.Series(truth, index=items), reference_kind="gold",
                      models={"m": model}, resamples=200)
    # E|N(0, sd)| = sd * sqrt(2/pi).
    single = hl.rung("single annotator").value("mae").value
    assert single == pytest.approx(np.mean(sds) * np.sqrt(2 / np.pi), rel=0.06)
    maes = [hl.rung(f"majority of {k}").value("mae").value for k in (3, 5)]
    assert single > maes[0] > maes[1]
    median = hl.rung("median of annotators")
    assert median.kind == "aggregate"
    assert median.value("mae").value < single
    assert hl.best["mae"] in {"majority of 5", "median of annotators"}
    assert hl.best["r2"] == hl.best["mae"]
    assert hl.agreement.level == "interval"
    assert hl.agreement.fleiss_kappa is None
    assert 0.5 < hl.agreement.krippendorff_alpha < 1
    assert hl.model("m", "median of annotators").value("mae").value == pytest.approx(
        float(np.mean(np.abs(model.to_numpy() - truth))))
    assert hl.aggregate_labels["r0"] == pytest.approx(float(np.median(ann.loc[
        ann["item"] == "r0", "label"])))


def test_regression_leave_one_out_and_missing_model_items() -> None:
    rng = np.random.default_rng(22)
    n = 200
    truth = rng.normal(0, 2, n)
    items = [f"r{i}" for i in range(n)]
    ann = pd.concat([pd.DataFrame({"item": items, "annotator": f"h{j}",
                                   "label": truth + rng.normal(0, 1.0, n)}) for j in range(4)])
    model = pd.Series(truth[:150], index=items[:150])  # perfect, but misses 50 items
    hl = human_ladder(ann, task="regression", metrics=[HumanMetricSpec("mae", "mae")],
                      reference_kind="from_annotators", models={"m": model}, resamples=50)
    assert [r.name for r in hl.rungs] == ["single annotator", "majority of 3",
                                          "median of annotators"]
    single = hl.rung("single annotator")
    assert single.n_items == 150
    assert "model `m` has no score for 50" in " ".join(hl.notes)
    # Against the mean of 3 others, the error is N(0, 1 + 1/3): E|e| = sqrt(4/3 * 2/pi).
    assert single.value("mae").value == pytest.approx(np.sqrt(4 / 3 * 2 / np.pi), rel=0.1)
    assert hl.model("m", "single annotator").value("mae").value == pytest.approx(
        np.sqrt(1 / 3 * 2 / np.pi), rel=0.15)
    assert "mean of that item's other annotators" in hl.rung("majority of 3").note


def test_multiclass_ladder() -> None:
    rng = np.random.default_rng(31)
    classes = ["cat", "dog", "bird"]
    n = 400
    truth = rng.integers(0, 3, n)
    items = [f"m{i}" for i in range(n)]
    frames = []
    for j, acc in enumerate((0.9, 0.8, 0.7, 0.6, 0.85)):
        wrong = (truth + rng.integers(1, 3, n)) % 3
        lab = np.where(rng.random(n) < acc, truth, wrong)
        frames.append(pd.DataFrame({"item": items, "annotator": f"m{j}",
                                    "label": np.asarray(classes)[lab]}))
    proba = np.full((n, 3), 0.1)
    proba[np.arange(n), truth] = 0.8
    hl = human_ladder(pd.concat(frames), task="multiclass", classes=classes,
                      metrics=[HumanMetricSpec("acc", "accuracy"),
                               HumanMetricSpec("f1", "f1_macro"),
                               HumanMetricSpec("ll", "log_loss"),
                               HumanMetricSpec("top1", "top_k_accuracy", {"k": 1}),
                               HumanMetricSpec("top2", "top_k_accuracy", {"k": 2})],
                      reference=pd.Series(np.asarray(classes)[truth], index=items),
                      reference_kind="gold",
                      models={"m": pd.DataFrame(proba, index=items, columns=classes)},
                      resamples=100)
    single = hl.rung("single annotator")
    assert single.value("acc").value == pytest.approx(0.77, abs=0.03)
    assert single.value("top1").value == pytest.approx(single.value("acc").value)
    assert "labels, not scores" in single.value("top2").undefined
    assert "labels, not scores" in single.value("ll").undefined
    ds = hl.rung("Dawid–Skene")
    assert ds.value("ll").value is not None
    assert ds.value("acc").value > 0.9
    assert hl.model("m", "single annotator").value("acc").value == 1.0
    assert hl.agreement.fleiss_kappa is not None
    assert hl.agreement.level == "nominal"
    assert set(hl.aggregate_labels.values()) <= set(classes)


def test_dawid_skene_skipped_without_crowd_kit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "crowdkit.aggregation", None)
    ann, gold, _ = binary_crowd(n=100, accuracies=(0.8,) * 3, seed=2)
    hl = human_ladder(ann, task="binary", metrics=[HumanMetricSpec("acc", "accuracy")],
                      reference=gold, reference_kind="gold", resamples=0)
    ds = hl.rung("Dawid–Skene")
    assert not ds.scored
    assert 'pip install "mlscope[human]"' in ds.note
    assert hl.aggregate_labels == {}
    assert hl.best["acc"] == "majority of 3"


# --------------------------------------------------------------------------------------
# Intervals, seeds, serialisation
# --------------------------------------------------------------------------------------


def test_intervals_contain_the_estimate_and_narrow_with_more_items() -> None:
    widths = []
    for n in (100, 900):
        ann, gold, model = binary_crowd(n=n, accuracies=ACCURACIES[:5], seed=n)
        hl = human_ladder(ann, task="binary", metrics=BINARY_METRICS[:4], reference=gold,
                          reference_kind="gold", models={"m": model}, resamples=300)
        for values in [r.values for r in hl.rungs] + [m.values for m in hl.models]:
            for v in values:
                if v.value is not None:
                    assert v.lower is not None
                    assert v.upper is not None
                    assert v.lower <= v.value + 1e-9
                    assert v.value <= v.upper + 1e-9
        acc = hl.rung("single annotator").value("acc")
        widths.append(acc.upper - acc.lower)
    # Width shrinks like 1/sqrt(n): a third, give or take.
    assert widths[1] < 0.5 * widths[0]


def test_same_seed_same_result_and_json_round_trip() -> None:
    ann, gold, model = binary_crowd(n=150, accuracies=(0.9, 0.8, 0.7, 0.6), seed=13)
    kw = {"task": "binary", "metrics": BINARY_METRICS[:3], "reference": gold,
          "reference_kind": "gold", "models": {"m": model}, "resamples": 100}
    a = human_ladder(ann, seed=1, **kw)
    assert human_ladder(ann, seed=1, **kw).to_dict() == a.to_dict()
    other = human_ladder(ann, seed=2, **kw)
    assert other.rung("majority of 3").value("acc").lower != a.rung(
        "majority of 3").value("acc").lower
    text = json.dumps(a.to_dict())
    back = decode_dataclass(HumanLevel, json.loads(text))
    assert back == a
    assert HumanLevel.from_dict(json.loads(text)) == a


@pytest.mark.parametrize("n_scores", [2, 5, 50], ids=["labels", "few", "many"])
def test_binary_replicate_statistics_match_engine(n_scores: int) -> None:
    from mlscope.baselines.human_scoring import few_batched_binary
    from mlscope.engine.rowstats import batched_binary

    rng = np.random.default_rng(n_scores)
    y = rng.random(60) < 0.3
    score = rng.integers(0, n_scores, 60) / max(n_scores - 1, 1)
    W = rng.integers(0, 3, (7, 60)).astype(np.float64)
    ours, ref = few_batched_binary(y, score, W), batched_binary(y, score, W)
    np.testing.assert_array_equal(ours.scores, ref.scores)
    np.testing.assert_allclose(ours.pos, ref.pos, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.neg, ref.neg, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hard", [True, False], ids=["one-hot", "probabilities"])
def test_multiclass_replicate_statistics_match_engine(hard: bool) -> None:
    from mlscope.baselines.human_scoring import few_batched_multiclass
    from mlscope.engine.rowstats import batched_multiclass

    rng = np.random.default_rng(4)
    n, classes = 80, ("a", "b", "c", "d")
    yi = rng.integers(0, 4, n)
    proba = np.eye(4)[rng.integers(0, 4, n)] if hard else rng.dirichlet(np.ones(4), n)
    W = rng.integers(0, 3, (5, n)).astype(np.float64)
    ours = few_batched_multiclass(yi, proba, classes, W)
    ref = batched_multiclass(yi, proba, classes, W)
    for field in ("confusion", "topk_hits", "log_loss_sum", "total"):
        np.testing.assert_allclose(getattr(ours, field), getattr(ref, field), atol=1e-9)
    for a, b in zip(ours.one_vs_rest, ref.one_vs_rest, strict=True):
        np.testing.assert_allclose(a.pos, b.pos, atol=1e-12)
        np.testing.assert_allclose(a.neg, b.neg, atol=1e-12)


# --------------------------------------------------------------------------------------
# Loading and bad input
# --------------------------------------------------------------------------------------


def test_load_wide_and_long(tmp_path: Path) -> None:
    wide = pd.DataFrame({"id": ["a", "b", "c"], "ann1": [1, 0, None], "ann2": [1.0, 1.0, 0.0]})
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    long = load_annotations(path, layout="wide", item="id")
    assert len(long) == 5
    assert set(long["annotator"]) == {"ann1", "ann2"}
    assert list(long.columns) == ["item", "annotator", "label"]
    assert set(map(str, long["label"])) <= {"0", "1", "0.0", "1.0"}
    # Whole-number floats and ints are the same label.
    hl = human_ladder(long, task="binary", metrics=[], reference_kind="none")
    assert hl.agreement.n_items == 3
    assert hl.agreement.percent_agreement == 0.5
    dup = pd.DataFrame({"i": ["x", "x"], "who": ["p", "p"], "y": [1, 1.0]})
    assert len(load_annotations(dup, item="i", annotator="who", label="y")) == 1


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ann.csv"
    pd.DataFrame({"item": ["a"], "rater": ["r"], "label": ["1"]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"column `annotator` \(annotator\) is not in ann.csv"):
        load_annotations(path)
    with pytest.raises(InputError, match=r"`itm`.*did you mean `item`"):
        load_annotations(path, item="itm", annotator="rater")
    with pytest.raises(InputError, match=r"`zz`"):
        load_annotations(path, layout="wide", columns=["rater", "zz"])
    with pytest.raises(InputError, match=r"column `label`"):
        human_ladder(pd.DataFrame({"item": ["a"], "annotator": ["r"]}), task="binary",
                     metrics=[], reference_kind="none")


def test_conflicting_duplicate_labels() -> None:
    df = pd.DataFrame({"id": ["a", "a", "b"], "who": ["r1", "r1", "r1"],
                       "lab": ["cat", "dog", "cat"]})
    with pytest.raises(InputError, match=r"'r1' labelled item 'a' more than once.*`lab`"):
        load_annotations(df, item="id", annotator="who", label="lab")
    with pytest.raises(InputError, match="different labels"):
        human_ladder(df.set_axis(["item", "annotator", "label"], axis=1), task="multiclass",
                     metrics=[], reference_kind="none")


def test_unknown_classes() -> None:
    df = pd.DataFrame({"item": ["a", "b"], "annotator": ["r", "r"], "label": ["cat", "dgo"]})
    with pytest.raises(InputError, match=r"column `label` has label 'dgo'.*did you mean `dog`"):
        load_annotations(df, classes=["cat", "dog"])
    with pytest.raises(InputError, match=r"column `label` has label 'dgo'"):
        human_ladder(df, task="multiclass", classes=["cat", "dog"], metrics=[],
                     reference_kind="none")
    with pytest.raises(InputError, match=r"column `reference` has label 'cow'"):
        human_ladder(df.assign(label="cat"), task="multiclass", classes=["cat", "dog"],
                     metrics=[HumanMetricSpec("acc", "accuracy")],
                     reference=pd.Series({"a": "cow"}), reference_kind="gold")
    with pytest.raises(InputError, match="two labels"):
        human_ladder(df.assign(label=["x", "y"]).pipe(
            lambda d: pd.concat([d, d.assign(annotator="s", label="z")])),
            task="binary", positive="x", metrics=[], reference_kind="none")


def test_bad_options() -> None:
    ann, gold, _ = binary_crowd(n=40, accuracies=(0.8,) * 3)
    metric = [HumanMetricSpec("acc", "accuracy")]
    with pytest.raises(InputError, match="needs a `reference`"):
        human_ladder(ann, task="binary", metrics=metric, reference_kind="gold")
    with pytest.raises(InputError, match="unknown metric `acuracy`"):
        human_ladder(ann, task="binary", metrics=[HumanMetricSpec("a", "acuracy")],
                     reference=gold, reference_kind="gold")
    with pytest.raises(InputError, match="ks"):
        human_ladder(ann, task="binary", metrics=metric, reference=gold,
                     reference_kind="gold", ks=[0])
    with pytest.raises(InputError, match="positive"):
        human_ladder(ann.assign(label=np.where(ann["label"] == 1, "yes", "no")),
                     task="binary", metrics=metric, reference_kind="none")
    with pytest.raises(InputError, match="no probability column for class"):
        human_ladder(ann, task="multiclass", metrics=metric, reference=gold.astype(str),
                     reference_kind="gold",
                     models={"m": pd.DataFrame({"0": np.ones(40)}, index=gold.index)})


def test_dawid_skene_generator_accuracies_recovered_within_intervals() -> None:
    """Annotators drawn from the Dawid-Skene model itself, each with its own (asymmetric)
    confusion matrix: the single-annotator rung's interval covers the mean of their true
    accuracies, and each annotator's estimate is close to its own."""
    rng = np.random.default_rng(11)
    n, prevalence = 1500, 0.3
    # P(label = 1 | truth = 0) and P(label = 1 | truth = 1) per annotator.
    confusion = [(0.05, 0.90), (0.10, 0.80), (0.20, 0.85), (0.15, 0.60), (0.30, 0.70)]
    items = [f"i{i}" for i in range(n)]
    y = rng.random(n) < prevalence
    rows = []
    for j, (fp, tp) in enumerate(confusion):
        p1 = np.where(y, tp, fp)
        lab = (rng.random(n) < p1).astype(int)
        rows.append(pd.DataFrame({"item": items, "annotator": f"a{j}", "label": lab}))
    ann = pd.concat(rows, ignore_index=True)
    gold = pd.Series(y.astype(int), index=items)
    hl = human_ladder(ann, task="binary", metrics=[HumanMetricSpec("acc", "accuracy"),
                                                   HumanMetricSpec("rec", "recall")],
                      reference=gold, reference_kind="gold", resamples=300, seed=2)
    true_acc = [prevalence * tp + (1 - prevalence) * (1 - fp) for fp, tp in confusion]
    acc = hl.rung("single annotator").value("acc")
    assert acc is not None
    assert acc.lower is not None
    assert acc.upper is not None
    assert acc.lower <= np.mean(true_acc) <= acc.upper
    rec = hl.rung("single annotator").value("rec")
    assert rec is not None
    assert rec.lower is not None
    assert rec.upper is not None
    assert rec.lower <= np.mean([tp for _, tp in confusion]) <= rec.upper
    for j, a in enumerate(true_acc):
        assert hl.per_annotator[f"a{j}"]["acc"] == pytest.approx(a, abs=0.04)
    ds = hl.rung("Dawid–Skene").value("acc")
    assert ds is not None
    assert ds.value is not None
    assert ds.value > max(true_acc)
