"""The guarantees stage: risk-controlled thresholds of the charter's
``guarantees.thresholds`` (binary task), chosen on the selection split (the calibration
rows) and read on the report split.

The procedures are :func:`mlscope.compare.guarantee.certify_threshold`'s; this stage
reads the rows (labels, the model's scores, slice membership), runs them per requirement
and writes :class:`~mlscope.result.ThresholdGuarantee` rows: one for the overall rows and,
with ``slices: true``, one per slice (the same threshold, held in all of them at once).
Rows are counted unweighted; the rows' weights, when not all 1, are ignored and said so.
The rows are read in memory (NumPy, DuckDB and binned engines; not Spark).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlscope.charter.guarantees import ThresholdGuaranteeSpec
from mlscope.compare.guarantee import certify_threshold, risk_of
from mlscope.engine.numpy_backend import RowData, fetch_rows
from mlscope.engine.plan import OVERALL
from mlscope.errors import InputError, did_you_mean
from mlscope.pipeline.types import Choice, Run, RunPlan
from mlscope.result import ThresholdGuarantee

__all__ = ["certify_thresholds"]

BoolArray = npt.NDArray[np.bool_]


def _slice_masks(run: Run, plan: RunPlan, codes: list[npt.NDArray[np.int64]],
                 where: list[BoolArray], n: int) -> dict[str, BoolArray]:
    t = run.table
    out: dict[str, BoolArray] = {OVERALL: np.ones(n, dtype=bool)}
    for i, col in enumerate(t.slice_columns):
        for j, level in enumerate(plan.levels[i]):
            m = codes[i] == j
            if m.any():
                out[f"{col}={level}"] = m
    for j, name in enumerate(t.where):
        if where[j].any():
            out[name] = where[j].astype(bool)
    return out


def certify_thresholds(run: Run, plan: RunPlan, choice: Choice) -> list[ThresholdGuarantee]:
    """Every threshold guarantee of the charter, for its model (default: the selected
    one, else the best-ranked); empty when the charter asks for none.

    Raises
    ------
    InputError
        A guarantee names a model the data do not have.
    """
    g = run.charter.guarantees
    t = run.table
    if g is None or not g.thresholds or t.task != "binary":
        return []
    if getattr(run.engine, "name", "") == "spark":
        run.warnings.append("guarantees: risk-controlled thresholds read the calibration "
                            "rows in memory and are not computed with the Spark engine; "
                            "run with `--engine numpy` or `duckdb`")
        return []
    cal_split, rep_split = plan.selection_split, plan.report_split
    splits = [cal_split] + ([rep_split] if rep_split and rep_split != cal_split else [])
    rows = fetch_rows(t, splits, plan.levels)
    out: list[ThresholdGuarantee] = []
    for metric, spec in g.thresholds.items():
        model = spec.model or choice.winner or choice.top
        if model is None:
            continue
        if model not in t.models:
            raise InputError(f"guarantees.thresholds.{metric}.model: `{model}` is not a model "
                             f"of the data{did_you_mean(model, t.models)}")
        out.extend(_one(run, plan, rows, metric, spec, model, g.delta, cal_split, rep_split))
    return out


def _one(run: Run, plan: RunPlan, rows: dict[str, RowData], metric: str,
         spec: ThresholdGuaranteeSpec, model: str, default_delta: float, cal_split: str,
         rep_split: str | None) -> list[ThresholdGuarantee]:
    mi = run.table.models.index(model)
    delta = spec.delta if spec.delta is not None else default_delta
    cal = rows[cal_split]
    if not np.all(cal.w == 1.0):
        run.warnings.append(f"guarantees: `{metric}` counts rows unweighted (the row "
                            "weights are ignored)")
    y, score = cal.y > 0.5, cal.scores[mi]
    masks = _slice_masks(run, plan, cal.codes, cal.where, cal.n)
    chosen = masks if spec.slices else {OVERALL: masks[OVERALL]}
    res = certify_threshold(metric, spec.target, delta, y, score, chosen)
    kind, _, complement, _ = risk_of(metric, spec.target)
    rep_values: dict[str, float | None] = dict.fromkeys(chosen)
    if res.threshold is not None and rep_split is not None and rep_split in rows:
        rep = rows[rep_split]
        rmasks = _slice_masks(run, plan, rep.codes, rep.where, rep.n)
        for name in chosen:
            if name in rmasks:
                m = rmasks[name]
                rep_values[name] = _rate(kind, complement, rep.y[m] > 0.5,
                                         rep.scores[mi][m] >= res.threshold)
    side = ">=" if spec.at_least is not None else "<="
    return [ThresholdGuarantee(
        metric=metric, requirement=f"{side} {spec.target:g}", delta=delta, model=model,
        slice=name, threshold=res.threshold, certified=res.certified.get(name),
        calibration=res.calibration.get(name), report=rep_values.get(name),
        procedure=res.procedure, delta_used=res.delta_used, n_calibration=int(m.sum()),
        message=res.message, more_rows=res.more_rows) for name, m in chosen.items()]


def _rate(kind: str, complement: bool, y: BoolArray, flagged: BoolArray) -> float | None:
    if kind == "fnr":
        k, n = float((y & ~flagged).sum()), float(y.sum())
    elif kind == "fpr":
        k, n = float((~y & flagged).sum()), float((~y).sum())
    else:
        k, n = float((~y & flagged).sum()), float(flagged.sum())
    if n == 0:
        return None
    return 1.0 - k / n if complement else k / n
