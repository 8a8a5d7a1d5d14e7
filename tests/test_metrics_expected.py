"""The metrics people look for first (issue 17, item 9), end to end: multiclass ROC AUC
(one-vs-rest and one-vs-one, macro and weighted), Brier, MCC, Cohen's kappa and balanced
accuracy, per-class precision/recall/F1, binary Cohen's kappa.

The exact values against scikit-learn are in tests/test_metrics_multiclass.py and
tests/test_metrics_binary.py; here: a charter evaluates them with slices, bootstrap
intervals (200 resamples) inside the metric's range and around the point, selection on
one of them, the charter errors (unknown class, unknown `multi_class`, a binary threshold
on a multiclass task), undefined values with a reason on degenerate slices, and the
batched (replicate) pairwise statistic equal to the one computed replicate by replicate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm

import mlscope
from mlscope.errors import InputError
from mlscope.metrics.registry import get_metric
from mlscope.metrics.stats import multiclass_stats, scores_by_class
from tests.test_pipeline_tasks import CLASSES, multiclass_frame

_METRICS: list[Any] = [
    "roc_auc",
    {"id": "auc_ovo", "metric": "roc_auc", "multi_class": "ovo"},
    {"id": "auc_ovr_w", "metric": "roc_auc", "average": "weighted"},
    {"id": "auc_ovo_w", "metric": "roc_auc", "multi_class": "ovo", "average": "weighted"},
    "brier", "mcc", "cohen_kappa", "balanced_accuracy", "accuracy",
    {"id": "prec_oak", "metric": "class_precision", "cls": "oak"},
    {"id": "rec_birch", "metric": "class_recall", "cls": "birch"},
    {"id": "f1_maple", "metric": "class_f1", "cls": "maple"},
]


def _write(tmp: Path, **over: Any) -> Path:
    df = multiclass_frame(n=500, seed=4)
    # A slice holding only oak: one-vs-rest AUC, MCC are undefined there.
    df["only_oak"] = np.where(df["species"] == "oak", "oak", "rest")
    df.to_parquet(tmp / "eval.parquet", index=False)
    charter: dict[str, Any] = {
        "project": "expected", "task": "multiclass", "seed": 3,
        "data": {"table": "eval.parquet", "id": "image_id", "label": "species",
                 "split": "split", "classes": CLASSES,
                 "models": {m: {c: f"{m}_{c}" for c in CLASSES}
                            for m in ("resnet", "vit", "tiny")}},
        "slices": {"columns": ["camera", "only_oak"], "min_size": 5},
        "metrics": _METRICS,
        "selection": {"rule": "satisficing", "optimize": "auc_ovo"},
        "intervals": {"resamples": 200},
    }
    charter.update(over)
    path = tmp / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return mlscope.evaluate(_write(tmp_path_factory.mktemp("expected")))


def test_overall_values_equal_sklearn(result: Any) -> None:
    df = multiclass_frame(n=500, seed=4)
    split = result.values[0].split
    rows = df[df["split"] == split]
    y = rows["species"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    checked = 0
    for model in ("resnet", "vit", "tiny"):
        p = rows[[f"{model}_{c}" for c in CLASSES]].to_numpy()
        pred = p.argmax(axis=1)
        ref = {
            "roc_auc": skm.roc_auc_score(y, p, multi_class="ovr"),
            "auc_ovo": skm.roc_auc_score(y, p, multi_class="ovo"),
            "auc_ovr_w": skm.roc_auc_score(y, p, multi_class="ovr", average="weighted"),
            "auc_ovo_w": skm.roc_auc_score(y, p, multi_class="ovo", average="weighted"),
            "brier": skm.brier_score_loss(y, p, labels=[0, 1, 2]),
            "mcc": skm.matthews_corrcoef(y, pred),
            "cohen_kappa": skm.cohen_kappa_score(y, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
            "prec_oak": skm.precision_score(y, pred, labels=[0], average=None)[0],
            "rec_birch": skm.recall_score(y, pred, labels=[2], average=None)[0],
            "f1_maple": skm.f1_score(y, pred, labels=[1], average=None)[0],
        }
        for v in result.values:
            if v.split == split and v.model == model and v.slice == "overall" \
                    and v.metric in ref:
                assert v.value == pytest.approx(ref[v.metric], abs=1e-9), v.metric
                checked += 1
    assert checked == 3 * 11


def test_intervals_contain_the_point_and_stay_in_range(result: Any) -> None:
    bounds = {m.id: m.bounds for m in result.metrics}
    assert bounds["brier"] == (0.0, 2.0)
    assert bounds["mcc"] == (-1.0, 1.0)
    checked = 0
    for v in result.values:
        if v.value is None or v.lower is None or v.upper is None:
            continue
        lo, hi = bounds[v.metric]
        assert lo is None or v.lower >= lo, v
        assert hi is None or v.upper <= hi, v
        assert v.lower <= v.value + 1e-12, v
        assert v.value <= v.upper + 1e-12, v
        checked += 1
    assert checked > 100


def test_one_class_slice_is_undefined_with_a_reason(result: Any) -> None:
    oak = [v for v in result.values if v.slice == "only_oak=oak"]
    assert oak
    by = {(v.model, v.metric): v for v in oak}
    for metric in ("roc_auc", "auc_ovo", "mcc", "rec_birch"):
        v = by[("resnet", metric)]
        assert v.value is None, metric
        assert v.undefined, metric
    # Defined on one class: balanced accuracy (the recall of oak), Brier, precision of oak.
    for metric in ("balanced_accuracy", "brier", "prec_oak"):
        assert by[("resnet", metric)].value is not None, metric


def test_selection_can_optimise_a_new_metric(result: Any) -> None:
    primary = result.selection.primary
    assert "auc_ovo" in primary.description
    assert primary.winner == "resnet"


@pytest.mark.parametrize(("entry", "needle"), [
    ({"id": "x", "metric": "class_recall", "cls": "oek"}, "did you mean `oak`?"),
    ({"id": "x", "metric": "class_f1"}, "names no class of the data"),
    ({"id": "x", "metric": "roc_auc", "multi_class": "ovx"}, "must be one of ovr, ovo"),
    ({"id": "x", "metric": "roc_auc", "average": "micro"}, "must be one of macro, weighted"),
    ({"id": "x", "metric": "mcc", "threshold": 0.3},
     "does not apply to `mcc` in a multiclass task"),
])
def test_charter_mistakes_are_refused(tmp_path: Path, entry: dict[str, Any],
                                      needle: str) -> None:
    path = _write(tmp_path, metrics=[entry], intervals={"resamples": 0},
                  selection={"rule": "satisficing", "optimize": "x"})
    with pytest.raises(InputError) as err:
        mlscope.evaluate(path)
    assert needle in str(err.value)


def test_degenerate_statistics_are_undefined_with_reasons() -> None:
    cls = ("a", "b", "c")
    empty = multiclass_stats(np.zeros(0, str), np.zeros((0, 3)), cls)
    perfect = multiclass_stats(["a", "b", "c"], np.eye(3), cls)
    constant = multiclass_stats(["a", "a"], [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]], cls)
    for name, params in (("roc_auc", {"multi_class": "ovo"}), ("roc_auc", {}),
                         ("brier", {}), ("mcc", {}), ("cohen_kappa", {}),
                         ("balanced_accuracy", {}), ("class_f1", {"cls": "a"})):
        spec = get_metric(name)
        full = spec.resolve_params(params, task="multiclass")
        assert np.isnan(spec.fn(empty, **full)), name
        assert spec.undefined(empty, **full) == "no rows", name
        assert spec.undefined(perfect, **full) is None, name
        assert float(spec.fn(perfect, **full)) == (0.0 if name == "brier" else 1.0), name
    assert "label is constant" in (get_metric("mcc").undefined(constant) or "")
    assert "same constant class" in (get_metric("cohen_kappa").undefined(constant) or "")
    assert "two classes" in (get_metric("roc_auc").undefined(
        constant, multi_class="ovo", average="macro") or "")
    assert get_metric("balanced_accuracy").fn(constant) == 1.0
    # Agreeing on two classes is defined (kappa 1): only a shared constant is not.
    two = multiclass_stats(["a", "b"], np.eye(3)[:2], cls)
    assert get_metric("cohen_kappa").undefined(two) is None
    # Binary kappa: a constant label predicted constantly the same way.
    from mlscope.metrics.stats import binary_stats
    ones = binary_stats([1, 1, 1], [0.9, 0.8, 0.7])
    assert np.isnan(get_metric("cohen_kappa").fn(ones, threshold=0.5))
    assert "no disagreement is expected by chance" in (
        get_metric("cohen_kappa").undefined(ones, threshold=0.5) or "")


def test_batched_pairwise_statistic_equals_each_replicate() -> None:
    rng = np.random.default_rng(7)
    n, k = 200, 4
    y = rng.integers(0, k, n)
    s = np.round(rng.random(n) * 8) / 8  # ties across classes
    W = rng.poisson(1.0, size=(5, n)).astype(float)
    batched = scores_by_class(y, s, k, W)
    for r in range(5):
        one = scores_by_class(y, s, k, W[r])
        np.testing.assert_array_equal(batched.scores, one.scores)
        np.testing.assert_array_equal(batched.cls, one.cls)
        np.testing.assert_allclose(batched.weight[r], one.weight, rtol=0, atol=1e-12)
    assert np.all(np.diff(batched.scores) <= 0)
