"""The diagnosis, wired to what the evaluation computed (``evaluate(..., diagnose=)``).

Checks the splits a diagnosis reads, assembles :class:`~mlscope.result.diagnosis.Diagnosis`
from the point estimates and replicates, and adds the row-level error examples, the
training history, the metric focus and the learning curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Charter
from mlscope.data.source import EvalTable
from mlscope.errors import InputError, did_you_mean
from mlscope.metrics.links import threshold_on_scores
from mlscope.paths import project_file
from mlscope.result import (
    OVERALL,
    BaselineInfo,
    ConfusionMatrix,
    MetricInfo,
    MetricValue,
    SliceInfo,
    Standing,
)

if TYPE_CHECKING:
    from mlscope.diagnose.base_rate import Unjudged
    from mlscope.engine.numpy_backend import RowData
    from mlscope.engine.plan import Grouping
    from mlscope.measure import Metric
    from mlscope.result.diagnosis import WeakSlice

__all__ = ["check_diagnosis_splits", "diagnose"]

FloatArray = npt.NDArray[np.float64]


def check_diagnosis_splits(ch: Charter, t: EvalTable, sel_split: str) -> None:
    """The splits a diagnosis reads must exist: a clear error naming the ones present."""
    present = ", ".join(t.splits)
    for key, split in (("splits.train", ch.splits.train),
                       ("splits.train_dev", ch.splits.train_dev)):
        if split is None:
            if key == "splits.train":
                raise InputError("a diagnosis compares the training split with validation; "
                                 "set `splits.train` to the split the model was trained on")
            continue
        if split not in t.splits:
            raise InputError(
                f"{key} is `{split}`, but the data have no rows with that split "
                f"(splits present: {present}){did_you_mean(split, t.splits)}; a diagnosis "
                "needs the model's scores on its own training rows")
    if sel_split not in t.splits:
        raise InputError(f"the selection split `{sel_split}` has no rows (splits present: "
                         f"{present})")


def diagnose(ch: Charter, t: EvalTable, bdir: Path, *, model: str | None,
              index: Mapping[tuple[str, int, str, str], MetricValue],
              reps: Mapping[tuple[str, int, str, str], FloatArray],
              families: Mapping[str, str | None], infos: Mapping[str, MetricInfo],
              slices: list[SliceInfo], standings: list[Standing],
              baselines: list[BaselineInfo], human: Any, confusion: list[ConfusionMatrix],
              level: float, sel_split: str, rep_split: str | None,
              thresholds: Mapping[tuple[int, str], float | None],
              metrics: list[Metric],
              slicing: tuple[list[Grouping], list[list[str]], RowData | None, int, int]
              | None = None) -> Any:
    from mlscope.diagnose.build import DiagnosisInputs, build_diagnosis, diagnosis_metric
    from mlscope.result.diagnosis import NextStep

    if model is None:
        raise InputError("nothing to diagnose: the rule chose no model; name one with --model")
    if model not in t.models:
        raise InputError(f"--model: `{model}` is not a model of the data"
                         f"{did_you_mean(model, t.models)} (models: {', '.join(t.models)})")
    mi_ = t.models.index(model)
    human_best: dict[str, float] = {}
    if human is not None:
        for mid, rung in human.best.items():
            hv = human.rung(rung).value(mid) if rung is not None else None
            if hv is not None and hv.value is not None:
                human_best[mid] = hv.value
    mid_ = diagnosis_metric(ch)
    thr_key = (mi_, mid_)

    def value(split: str, m: str, skey: str, mid: str) -> MetricValue | None:
        return index.get((split, t.models.index(m), skey, mid))

    def rep(split: str, m: str, skey: str, mid: str) -> FloatArray | None:
        return reps.get((split, t.models.index(m), skey, mid))

    def examples(split: str, default_thr: float, k: int) -> dict[str, Any]:
        thr = thresholds.get(thr_key)  # chosen: already on the scores' scale
        if thr is None:
            met = next((m for m in metrics if m.id == mid_), None)
            p = met.params.get("threshold") if met is not None else None
            # A charter threshold is a probability: compare logits with its logit.
            thr = threshold_on_scores(float(p) if isinstance(p, int | float) else default_thr,
                                      t.score_type_of(mi_))
        return _error_examples(t, split, mi_, float(thr), k)

    search = None
    if t.task == "binary" and slicing is not None:
        search = _base_rate_search(t, mi_, next((m for m in metrics if m.id == mid_), None),
                                   thresholds.get(thr_key), sel_split, slicing)
    inp = DiagnosisInputs(
        charter=ch, base_dir=bdir, task=t.task, model=model, models=list(t.models),
        families=families, metrics=infos,
        splits={"train": ch.splits.train, "train_dev": ch.splits.train_dev,
                "validation": sel_split, "test": rep_split},
        value=value, reps=rep, slices=slices, standings=standings, baselines=baselines,
        human_best=human_best, confusion=confusion, level=level,
        rows_examples=examples if t.task == "binary" else None, slice_search=search)
    diag = build_diagnosis(inp)
    _history_and_focus(ch, t, bdir, diag, index=index, infos=infos, families=families,
                       sel_split=sel_split)
    if ch.diagnosis.learning_curve is not None:
        diag.learning_curve = _learning_curve(ch, t, bdir, infos[diag.metric], level,
                                              sel_split, human_best.get(diag.metric), model)
        lc = diag.learning_curve
        if lc.get("how_to_measure"):
            diag.notes.append(str(lc["how_to_measure"]))
        dn = lc.get("needed")
        if dn:
            # Whose curve it is goes in the title: a stand-in's data needs are not the
            # diagnosed model's.
            diag.steps.append(NextStep(
                area="data", title=str(lc.get("headline") or "How much data the target needs"),
                evidence=str(dn.get("note") or "").removeprefix(f"{lc.get('headline')}: "),
                actions=["see the learning curve: each extra nine of accuracy costs a "
                         "multiple of data"] if dn.get("reachable") else
                ["more data of the same kind will not get there: change the model family "
                 "or the features"]))
    return diag


def _base_rate_search(
    t: EvalTable, mi: int, met: Metric | None, threshold: float | None, split: str,
    slicing: tuple[list[Grouping], list[list[str]], RowData | None, int, int],
) -> Any:
    """The weak-slice search of a binary model at each slice's base rate
    (:mod:`mlscope.diagnose.base_rate`), or None where it does not apply (a custom or
    error-column metric, an operating threshold that could not be chosen, no resamples):
    the plain comparison with the overall value is used then."""
    groupings, levels, rows, n_boot, seed = slicing
    if met is None or met.spec is None or met.custom is not None or met.error_index is not None:
        return None
    spec = met.spec
    params = dict(met.params)
    if spec.is_operating_point(params):
        if threshold is None:
            return None
        params["threshold"] = threshold
    if n_boot <= 0:
        return None

    def search(min_size: int, fdr: float, level: float
               ) -> tuple[list[WeakSlice], list[Unjudged], int, str]:
        from mlscope.diagnose.base_rate import METHOD, SliceGroup, binary_weak_slices
        from mlscope.engine.numpy_backend import cell_codes, fetch_rows

        # One read of the selection split when the evaluation did not keep its rows
        # (binned or Spark runs): the diagnosed model's scores, labels and slice codes.
        r = rows if rows is not None else fetch_rows(t, [split], levels)[split]
        groups = []
        for g in groupings:
            if g.kind == "overall":
                continue
            code, cells = cell_codes(r, g, levels)
            groups.append(SliceGroup(code, [c.key for c in cells]))
        found, unjudged, n = binary_weak_slices(
            split=split, scores=r.scores[mi], y=r.y, w=r.w, groups=groups,
            metric=lambda st: spec.fn(st, **params), direction=spec.direction,
            upper_bound=spec.bounds[1] if spec.direction == "higher" else None,
            min_size=min_size, fdr=fdr, level=level, resamples=n_boot, seed=seed,
            edges=[float(thr)] if isinstance(thr := params.get("threshold"), int | float)
            else [])
        return found, unjudged, n, METHOD

    return search


def _history_and_focus(ch: Charter, t: EvalTable, bdir: Path, diag: Any, *,
                       index: Mapping[tuple[str, int, str, str], MetricValue],
                       infos: Mapping[str, MetricInfo], families: Mapping[str, str | None],
                       sel_split: str) -> None:
    """The training history's sanity checks and the metric focus, added to ``diag``."""
    from dataclasses import asdict

    from mlscope.diagnose.focus import metric_focus
    from mlscope.result.diagnosis import NextStep, SanityCheck

    spec = ch.diagnosis
    if spec.history is not None:
        from mlscope.diagnose.history import chart_data, check_history, load_history

        # The metric the charter optimises, when the history logs it per step
        # (`val_<metric>`): the best checkpoint is chosen by it, not by the loss.
        optimize = getattr(ch.selection, "optimize", None)
        metric = optimize if isinstance(optimize, str) and optimize in infos else None
        hist = load_history(project_file(bdir, spec.history, what="diagnosis.history"),
                            metric=metric)
        positive_rate = None
        baseline_loss = None
        if t.task == "binary" and ch.splits.train in t.splits:
            row = t.con.execute("SELECT avg(__label) FROM ev WHERE __split = ?",
                                [ch.splits.train]).fetchone()
            positive_rate = float(row[0]) if row and row[0] is not None else None
        trivial = [m for m, f in families.items() if f == "trivial"]
        if "log_loss" in infos and trivial and ch.splits.train in t.splits:
            vals = [index.get((ch.splits.train, t.models.index(m), OVERALL, "log_loss"))
                    for m in trivial]
            ok = [v.value for v in vals if v is not None and v.value is not None]
            baseline_loss = min(ok) if ok else None
        findings = check_history(hist, task=t.task, n_classes=len(t.classes) or None,
                                 positive_rate=positive_rate, baseline_loss=baseline_loss,
                                 metric=metric, higher_is_better=metric is None
                                 or infos[metric].direction == "higher")
        for f in findings:
            if not f.ok:
                diag.sanity.append(SanityCheck(check=f"history.{f.check}", ok=False,
                                               severity=f.severity, message=f.message))
        bad = [f for f in findings if not f.ok and f.severity == "error"]
        if bad:
            diag.steps.insert(0, NextStep(
                area="sanity", title="Fix the training run first",
                evidence="; ".join(f.message for f in bad),
                actions=["see the training curves below"]))
        diag.history = {
            "source": str(spec.history), "baseline_loss": baseline_loss,
            "findings": [asdict(f) for f in findings],
            "curves": chart_data(hist),  # numbers: the report draws the chart
        }
    if ch.requirements:
        cands = [m for m, f in families.items() if f is None]
        values = {m: {mid: (mv.value if (mv := index.get(
                      (sel_split, t.models.index(m), OVERALL, mid))) is not None else None)
                      for mid in ch.requirements} for m in cands}
        focus = metric_focus(values, dict(ch.requirements),
                             {mid: infos[mid].direction for mid in ch.requirements},
                             budgets=spec.budgets)
        diag.focus = asdict(focus)


def _learning_curve(ch: Charter, t: EvalTable, bdir: Path, info: MetricInfo, level: float,
                    sel_split: str, human: float | None, model: str) -> dict[str, Any]:
    """Fit the learning curve of the diagnosed metric: measured points of the diagnosed
    model from the charter when there are some, else a learned baseline refitted on
    growing subsets of the training split, named as a stand-in everywhere it is shown."""
    from mlscope.diagnose.learning_curve import (
        chart_data,
        fit_learning_curve,
        nines,
        refit_curve,
    )
    from mlscope.diagnose.stand_in import curve_source

    spec = ch.diagnosis.learning_curve
    assert spec is not None
    src = curve_source(spec, model=model, kinds={n: getattr(b, "kind", "")
                                                 for n, b in ch.baselines.items()},
                       metric=info.id, train=ch.splits.train, validation=sel_split)
    if src.refit is not None:
        sizes, values = _refit_points(ch, t, bdir, info, sel_split, src.refit,
                                      spec.fractions, refit_curve)
    else:
        assert spec.sizes is not None
        assert spec.values is not None
        sizes, values = list(spec.sizes), list(spec.values)
    source = src.source
    curve = fit_learning_curve(sizes, values, direction=info.direction, bounds=info.bounds,
                               level=level, resamples=1000, seed=ch.seed)
    target = None
    bound = ch.requirements.get(info.id)
    if bound is not None:
        target = bound.value
    # The curve, target, baseline, data needed and bootstrap band: numbers the report draws.
    out: dict[str, Any] = {"source": source, "headline": src.headline,
                           "curve_model": src.curve_model, "stand_in": src.stand_in,
                           "how_to_measure": src.how_to_measure,
                           **chart_data(curve, target=target, baseline=human)}
    need = out.get("needed")
    if need and src.stand_in is not None:
        need["note"] = f"{src.headline}: {need.get('note') or ''}".strip()
    # "Nines" make sense for accuracy-like metrics that can approach 1.
    if info.name in ("accuracy", "balanced_accuracy", "top_k_accuracy", "roc_auc"):
        try:
            out["nines"] = nines(curve, direction=info.direction)
        except (ValueError, InputError):
            out["nines"] = []
    return out


def _refit_points(ch: Charter, t: EvalTable, bdir: Path, info: MetricInfo, sel_split: str,
                  name: str, fractions: list[float] | None, refit_curve: Any
                  ) -> tuple[list[int], list[float]]:
    """(size, metric) points from a learned baseline refitted on growing training subsets
    and scored on the selection split with the charter's metric."""
    from mlscope.baselines import predictors as bp
    from mlscope.baselines.build import expand_features
    from mlscope.charter.schema import LearnedBaseline
    from mlscope.data.source import base_frame

    b = ch.baselines.get(name)
    if not isinstance(b, LearnedBaseline):
        raise InputError(f"diagnosis.learning_curve.refit: `{name}` is not a learned baseline")
    feats = expand_features(b.features, t, ch, f"baselines.{name}.features")
    frame = base_frame(t, feats, role=f"diagnosis.learning_curve.refit ({name})")
    split = frame["__split"].astype(str).to_numpy()
    train, ev = frame[split == ch.splits.train], frame[split == sel_split]
    y_tr = train["__label"].to_numpy()
    y_ev = ev["__label"].to_numpy()
    classes = list(t.classes) if t.task == "multiclass" else None
    if t.task == "binary":
        y_tr, y_ev = y_tr.astype(np.int64), y_ev.astype(np.int64)
    elif t.task == "multiclass":
        y_tr, y_ev = y_tr.astype(str), y_ev.astype(str)

    def fit_predict(X_sub: Any, y_sub: Any, X_eval: Any) -> Any:
        pred, _ = bp.fit_learned(b.kind, task=t.task, train=X_sub, y_train=y_sub, X=X_eval,
                                 features=feats, seed=ch.seed, params=b.params,
                                 classes=classes)
        return pred

    from mlscope.metrics.registry import get_metric

    spec = get_metric(info.name, task=t.task)

    def metric(y_true: Any, pred: Any) -> float:
        from mlscope.metrics.stats import binary_stats, multiclass_stats, regression_stats

        if t.task == "binary":
            st: Any = binary_stats(y_true, pred)
        elif t.task == "multiclass":
            st = multiclass_stats(y_true, pred, classes or [])
        else:
            st = regression_stats(y_true, pred)
        # A chosen threshold (`optimize`, or another metric's) is the metric's own
        # choice on each refit's rows here.
        params = {k: v for k, v in info.params.items()
                  if not (k == "threshold" and isinstance(v, str))}
        return float(spec.fn(st, **params))

    kw: dict[str, Any] = {"seed": ch.seed}
    if fractions:
        kw["fractions"] = tuple(fractions)
    sizes, values = refit_curve(fit_predict, train[feats], y_tr, ev[feats], y_ev, metric,
                                **kw)
    return list(sizes), list(values)


def _error_examples(t: EvalTable, split: str, m: int, thr: float, k: int) -> dict[str, Any]:
    """False positives and negatives at ``thr``: their prevalence and the most confident
    examples of each (row id, score, slice values)."""
    from mlscope.data.source import qi

    s = t.score_col(m)
    cols = ", ".join([f"{qi(t.slice_col(i))} AS {qi(c)}"
                      for i, c in enumerate(t.slice_columns)])
    row = t.con.execute(
        f"SELECT count(*) FILTER (WHERE __label = 0), count(*) FILTER (WHERE __label = 1), "
        f"count(*) FILTER (WHERE __label = 0 AND {s} >= ?), "
        f"count(*) FILTER (WHERE __label = 1 AND {s} < ?) FROM ev WHERE __split = ?",
        [thr, thr, split]).fetchone()
    assert row is not None
    neg, pos, fp, fn = (int(x or 0) for x in row)

    def top(cond: str, order: str) -> list[dict[str, Any]]:
        q = (f"SELECT __id, {s} AS score{', ' + cols if cols else ''} FROM ev "
             f"WHERE __split = ? AND {cond} ORDER BY {s} {order}, __id LIMIT {int(k)}")
        df = t.con.execute(q, [split, thr]).fetchdf()
        return [{str(key): (v.item() if hasattr(v, "item") else v) for key, v in r.items()}
                for r in df.to_dict(orient="records")]

    return {
        "split": split, "threshold": thr, "negatives": neg, "positives": pos,
        "false_positives": fp, "false_negatives": fn,
        "fp_rate": fp / neg if neg else None, "fn_rate": fn / pos if pos else None,
        "fp_examples": top(f"__label = 0 AND {s} >= ?", "DESC"),
        "fn_examples": top(f"__label = 1 AND {s} < ?", "ASC"),
    }
