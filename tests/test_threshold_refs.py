"""A metric measured at the threshold another metric chooses (``threshold: <metric id>``),
and ``threshold: optimize`` refused where the optimum is an extreme.

``{id: flagged, metric: positive_rate, threshold: f1_best}`` is the share of rows flagged
at the operating threshold the entry ``f1_best`` chooses on the selection split, carried
to every split and slice. ``{metric: positive_rate, threshold: optimize}`` used to report
the positive rate with one row flagged (the lowest over every threshold): no operating
point, so it is refused with the fix. Data: ``binary_frame`` (generated, seeded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mlscope.charter.load import validate_charter
from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.evaluation import evaluate
from tests.conftest import base_charter, binary_frame

F1_BEST = {"id": "f1_best", "metric": "f1", "threshold": "optimize"}


def _write(tmp_path: Path, metrics: list[Any], df_seed: int = 1) -> Path:
    binary_frame(n=900, seed=df_seed).to_parquet(tmp_path / "eval.parquet", index=False)
    c = base_charter("eval.parquet", metrics=["roc_auc", *metrics],
                     selection={"rule": "satisficing", "optimize": "roc_auc"})
    c["intervals"] = {"resamples": 0}
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return path


def _problem(path: Path) -> Any:
    report = validate_charter(path)
    assert not report.ok
    [problem] = [p for p in report.problems if "threshold" in p.message]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert problem.line is not None
    assert "threshold:" in lines[problem.line - 1]  # the line of the key itself
    return problem


def test_measured_at_the_threshold_another_metric_chooses(tmp_path: Path) -> None:
    path = _write(tmp_path, [F1_BEST,
                             {"id": "flagged", "metric": "positive_rate",
                              "threshold": "f1_best"},
                             {"id": "recall_f1", "metric": "recall", "threshold": "f1_best"}])
    assert validate_charter(path).ok
    res = evaluate(path)
    df = binary_frame(n=900, seed=1)
    chosen = {(t.model, t.metric): t for t in res.thresholds}
    for model in ("good", "fair", "weak"):
        f1 = chosen[(model, "f1_best")]
        for mid in ("flagged", "recall_f1"):
            row = chosen[(model, mid)]
            assert row.threshold == f1.threshold
            assert row.chosen_on == "validation"
            assert "`f1_best`" in row.note
        assert f1.threshold is not None
        for split in ("validation", "test"):
            part = df[df.split == split]
            flagged = part[f"p_{model}"] >= f1.threshold
            assert res.value("flagged", model, split=split).value == pytest.approx(
                flagged.mean(), abs=1e-12)
            assert res.value("recall_f1", model, split=split).value == pytest.approx(
                flagged[part.label == 1].mean(), abs=1e-12)
            # Carried to the slices too.
            north = part.region == "north"
            assert res.value("flagged", model, split=split, slice="region=north").value \
                == pytest.approx(flagged[north].mean(), abs=1e-12)
    info = {m.id: m for m in res.metrics}
    assert info["flagged"].label == "Positive rate @f1_best"
    assert info["flagged"].operating_point


@pytest.mark.parametrize("name", ["positive_rate", "precision", "recall", "specificity"])
def test_optimize_at_an_extreme_is_refused(tmp_path: Path, name: str) -> None:
    problem = _problem(_write(tmp_path, [F1_BEST, {"id": "x", "metric": name,
                                                   "threshold": "optimize"}]))
    assert "cannot be `optimize`" in problem.message
    assert "no operating point" in problem.message
    assert problem.fix is not None
    assert "`threshold: f1_best`" in problem.fix  # the charter's own chooser, named
    # Without a metric that chooses: the fix says how to add one.
    alone = _problem(_write(tmp_path, [{"id": "x", "metric": name, "threshold": "optimize"}]))
    assert alone.fix is not None
    assert "metric: f1, threshold: optimize" in alone.fix
    # Optimizing a metric whose best threshold is an operating point stays valid.
    assert validate_charter(_write(tmp_path, [F1_BEST])).ok


@pytest.mark.parametrize(("ref", "extra", "says"), [
    ("f1_bset", [F1_BEST], "did you mean `f1_best`"),
    ("x", [F1_BEST], "names this metric itself"),
    ("fixed", [{"id": "fixed", "metric": "f1", "threshold": 0.4}],
     "chooses none: its threshold is fixed at 0.4"),
    ("auc", [{"id": "auc", "metric": "roc_auc"}], "chooses none: it has no threshold"),
    ("chain", [F1_BEST, {"id": "chain", "metric": "recall", "threshold": "f1_best"}],
     "takes the threshold of `f1_best` in turn"),
])
def test_a_reference_that_chooses_nothing_is_refused(tmp_path: Path, ref: str,
                                                      extra: list[Any], says: str) -> None:
    problem = _problem(_write(tmp_path, [*extra, {"id": "x", "metric": "positive_rate",
                                                  "threshold": ref}]))
    assert says in problem.message
    assert problem.fix is not None


@pytest.mark.parametrize("text", ["the best one", "'; DROP TABLE ev; --",
                                  "__import__('os').system('x')", "f1_best "])
def test_text_that_is_no_id_is_refused(tmp_path: Path, text: str) -> None:
    # An id is looked up, never evaluated: anything else is refused (docs/security.md).
    problem = _problem(_write(tmp_path, [F1_BEST, {"id": "x", "metric": "precision",
                                                   "threshold": text}]))
    assert "a number, `optimize` or the id of a metric that chooses its threshold" \
        in problem.message


def test_evaluate_refuses_a_reference_to_a_fixed_threshold(tmp_path: Path) -> None:
    # A charter built in Python never passes through `mlscope validate`.
    path = _write(tmp_path, [{"id": "fixed", "metric": "f1", "threshold": 0.4},
                             {"id": "x", "metric": "positive_rate", "threshold": "fixed"}])
    ch = Charter.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    with pytest.raises(InputError, match="names no metric that chooses its threshold"):
        evaluate(ch, base_dir=tmp_path)


def test_monitor_estimates_it_at_the_chooser_threshold() -> None:
    # Before labels, the monitor estimates each charter metric at its threshold chosen on
    # the reference: for `threshold: f1_best`, the threshold F1 chooses there.
    from mlscope.metrics.binary import best_threshold
    from mlscope.metrics.stats import binary_stats
    from mlscope.monitor.setup import estimated_metrics

    df = binary_frame(n=900, seed=3)
    c = base_charter("eval.parquet", metrics=[
        "roc_auc", F1_BEST, {"id": "flagged", "metric": "positive_rate",
                             "threshold": "f1_best"}])
    ch = Charter.model_validate(c)
    ref = df[df.split == "validation"]
    got, _notes = estimated_metrics(ch, _monitor_frame(df), "good", 0.5)
    thr = best_threshold("f1", binary_stats(ref.label.to_numpy(), ref.p_good.to_numpy()))
    [flagged] = [m for m in got if m.id == "flagged"]
    assert flagged.threshold == pytest.approx(float(thr))
    assert np.isfinite(flagged.threshold)


def _monitor_frame(df: Any) -> Any:
    from mlscope.monitor.checks import LABEL, score_col

    part = df[df.split == "validation"]
    out = part[["label"]].rename(columns={"label": LABEL})
    out[score_col("good")] = part["p_good"].to_numpy()
    return out


def test_report_names_shared_thresholds_and_flags_none(tmp_path: Path) -> None:
    # The thresholds table shows each chosen threshold once; a metric at another's
    # threshold is named in the caption. The prior baseline's best net value is to flag no
    # row (flagging costs 10, a missed positive 1): its threshold is above every score,
    # and the table says so instead of printing a number that reads as a cut.
    from mlscope.report import render_html

    binary_frame(n=900, seed=1).to_parquet(tmp_path / "eval.parquet", index=False)
    c = base_charter("eval.parquet", metrics=[
        "roc_auc", {"id": "value", "metric": "net_value", "threshold": "optimize"},
        {"id": "flagged", "metric": "positive_rate", "threshold": "value"}],
        selection={"rule": "satisficing", "optimize": "roc_auc"},
        costs={"tp": 0, "fp": 10, "fn": 1, "tn": 0},
        baselines={"prior": {"kind": "prior"}})
    c["splits"] = {"selection": "validation", "report": "test", "train": "train"}
    c["intervals"] = {"resamples": 0}
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    res = evaluate(path)
    prior = next(t for t in res.thresholds if t.model == "prior" and t.metric == "value")
    assert prior.note.startswith("above every score on validation: flags no row")
    assert res.value("flagged", "prior", split="test").value == 0.0
    html = render_html(res)
    section = html[html.index(">Operating thresholds<"):]
    section = section[:section.index("</table>")]
    header = section[section.index("<thead"):section.index("</thead>")]
    assert "Net value" in header
    assert "Positive rate" not in header  # no column of its own
    assert "Positive rate @value takes the threshold that Net value" in section
    assert "none flagged" in section


def test_monitor_threshold_is_the_optimized_metrics() -> None:
    # The selection optimizes a cost-optimal net value: that is the policy in production,
    # so the monitor's operating threshold is net_value's (chosen again on the
    # reference), not that of `f1_best` listed first; and a metric at `threshold:
    # net_value` is estimated there.
    from mlscope.metrics.binary_costs import choose_cost_threshold
    from mlscope.metrics.stats import binary_stats
    from mlscope.monitor.setup import estimated_metrics, threshold_of

    df = binary_frame(n=900, seed=3)
    costs = {"tp": 0.0, "fp": 1.0, "fn": 4.0, "tn": 0.0}
    c = base_charter("eval.parquet", metrics=[
        "roc_auc", F1_BEST, {"id": "value", "metric": "net_value", "threshold": "optimize"},
        {"id": "flagged", "metric": "positive_rate", "threshold": "value"}],
        selection={"rule": "satisficing", "optimize": "value"}, costs=costs)
    ch = Charter.model_validate(c)
    ref = df[df.split == "validation"]
    want = float(choose_cost_threshold(
        binary_stats(ref.label.to_numpy(), ref.p_good.to_numpy()), **costs))
    thr, source = threshold_of(ch, _monitor_frame(df), "good")
    assert thr == pytest.approx(want)
    assert source == "metric `value`, chosen on the reference"
    f1 = best_threshold_of(ref)
    assert not np.isclose(thr, f1)  # the two policies differ on these data
    got, notes = estimated_metrics(ch, _monitor_frame(df), "good", thr)
    [flagged] = [m for m in got if m.id == "flagged"]
    assert flagged.threshold == pytest.approx(want)
    assert not [n for n in notes if "flagged" in n]


def best_threshold_of(ref: Any) -> float:
    from mlscope.metrics.binary import best_threshold
    from mlscope.metrics.stats import binary_stats

    return float(best_threshold("f1", binary_stats(ref.label.to_numpy(),
                                                   ref.p_good.to_numpy())))


def test_monitor_threshold_of_an_operating_point_written_without_threshold() -> None:
    # `precision_at_recall` chooses its threshold by default (no `threshold:` written);
    # optimized by the selection, it is the policy, ahead of a fixed-threshold metric
    # listed before it (the Caravan charter's case: the campaign metric and `precision_p10`).
    from mlscope.metrics.binary import choose_precision_at_recall
    from mlscope.metrics.stats import binary_stats
    from mlscope.monitor.setup import threshold_of

    df = binary_frame(n=900, seed=4)
    c = base_charter("eval.parquet", metrics=[
        "roc_auc", {"id": "p10", "metric": "precision", "threshold": 0.1},
        {"id": "par", "metric": "precision_at_recall", "recall": 0.5}],
        selection={"rule": "satisficing", "optimize": "par"})
    ref = df[df.split == "validation"]
    want = float(choose_precision_at_recall(
        binary_stats(ref.label.to_numpy(), ref.p_good.to_numpy()), recall=0.5))
    thr, source = threshold_of(Charter.model_validate(c), _monitor_frame(df), "good")
    assert thr == pytest.approx(want)
    assert source == "metric `par`, chosen on the reference"
