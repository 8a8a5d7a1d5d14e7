"""Assemble the diagnosis of one model from what the evaluation computed.

Called by :func:`mlscope.evaluation.evaluate` with ``diagnose=`` set: it has the point
estimates and the bootstrap replicates of every split, so nothing is recomputed here
except the row-level error examples and, when asked, the learning curve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Charter
from mlscope.diagnose.gaps import compute_gaps, default_margin, next_steps
from mlscope.diagnose.slices import weak_slices
from mlscope.errors import InputError
from mlscope.result import (
    OVERALL,
    BaselineInfo,
    ConfusionMatrix,
    MetricInfo,
    MetricValue,
    SliceInfo,
    Standing,
)
from mlscope.result.diagnosis import Diagnosis, NextStep, SanityCheck, SplitValue, WeakSlice

__all__ = ["DiagnosisInputs", "build_diagnosis", "diagnosis_metric"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class DiagnosisInputs:
    """Everything the evaluation hands over (by reference, nothing copied)."""

    charter: Charter
    base_dir: Path
    task: str
    model: str
    models: list[str]
    families: Mapping[str, str | None]
    metrics: Mapping[str, MetricInfo]
    splits: Mapping[str, str | None]  # role -> split value present in the data
    value: Callable[[str, str, str, str], MetricValue | None]  # split, model, slice, metric
    reps: Callable[[str, str, str, str], FloatArray | None]
    slices: Sequence[SliceInfo]
    standings: Sequence[Standing]
    baselines: Sequence[BaselineInfo]
    human_best: Mapping[str, float]  # metric -> the human level's value
    confusion: Sequence[ConfusionMatrix]
    level: float
    rows_examples: Callable[[str, float, int], dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)
    # The weak-slice search at each slice's base rate (binary): (min_size, fdr, level) ->
    # (slices tested, slices not judged, number tested, method); None: compare each slice
    # with the overall value.
    slice_search: Callable[[int, float, float], tuple[list[WeakSlice], list[Any], int, str]
                           ] | None = None


def diagnosis_metric(ch: Charter) -> str:
    """The metric diagnosed: the charter's choice, else the selection rule's main metric."""
    if ch.diagnosis.metric:
        return ch.diagnosis.metric
    rule = ch.selection
    opt = getattr(rule, "optimize", None)
    if isinstance(opt, str):
        return opt
    if rule.rule == "pareto":
        return rule.metrics[0]
    if rule.rule == "weighted":
        weights = rule.weights
        return max(weights, key=lambda k: weights[k])
    return ch.metrics[0].id


def _upper(inp: DiagnosisInputs, metric: str, info: MetricInfo, own: float | None
           ) -> tuple[float | None, str | None, str, bool]:
    """The best upper baseline: human level, else a published or previous figure on the
    same data, else the best learned/rule baseline (weak evidence) when it does better
    than the model on validation (one that does worse bounds nothing: it would read as a
    negative avoidable bias). A figure measured on other data is not comparable: never
    the upper baseline. Without one, the name says why (for the note). ``own`` is the
    model's value on validation."""
    if metric in inp.human_best:
        return inp.human_best[metric], "human", "human level", False
    sign = 1.0 if info.direction == "higher" else -1.0
    ext = [(b.values[metric], b) for b in inp.baselines if b.family == "external"
           and b.role in ("published", "previous", None) and metric in b.values
           and b.same_data]
    if ext:
        v, b = max(ext, key=lambda p: sign * p[0])
        return v, b.role or "published", f"{b.name} ({b.source})", False
    val_split = inp.splits.get("validation")
    cands = []
    for m in inp.models:
        if inp.families.get(m) in ("learned", "rule") and val_split is not None:
            mv = inp.value(val_split, m, OVERALL, metric)
            if mv is not None and mv.value is not None:
                cands.append((mv.value, m))
    if cands:
        v, m = max(cands, key=lambda p: sign * p[0])
        if own is not None and sign * v <= sign * own:
            return None, None, (
                f"the best learned or rule baseline, {m} ({v:.4g} on {val_split}), does no "
                f"better than {inp.model} ({own:.4g}), so it bounds nothing"), True
        return v, str(inp.families[m]), f"{m} (best {inp.families[m]} baseline)", True
    return None, None, "", True


def build_diagnosis(inp: DiagnosisInputs) -> Diagnosis:
    ch = inp.charter
    spec = ch.diagnosis
    metric = diagnosis_metric(ch)
    if metric not in inp.metrics:
        raise InputError(f"diagnosis.metric: `{metric}` is not computed")
    info = inp.metrics[metric]
    upper_bound = info.bounds[1] if info.direction == "higher" else None
    vsplit = inp.splits.get("validation")
    own_mv = inp.value(vsplit, inp.model, OVERALL, metric) if vsplit is not None else None
    own = own_mv.value if own_mv is not None else None
    up_value, up_kind, up_name, weak = _upper(inp, metric, info, own)
    # An unbounded metric's default margin is 1% of a value's size: the upper baseline's,
    # else the model's own on validation (a margin of 0.01 in euros per case means nothing).
    scale = up_value if up_value is not None else own
    margin = spec.margin if spec.margin is not None else default_margin(info.bounds, scale)

    values: dict[str, SplitValue] = {}
    reps: dict[str, FloatArray | None] = {}
    notes = list(inp.notes)
    if up_value is not None:
        values["baseline"] = SplitValue(role="baseline", split=None, value=up_value,
                                        note=up_name)
        reps["baseline"] = None
    for role in ("train", "train_dev", "validation", "test"):
        split = inp.splits.get(role)
        if split is None:
            continue
        mv = inp.value(split, inp.model, OVERALL, metric)
        if mv is None:
            continue
        values[role] = SplitValue(role=role, split=split, value=mv.value, lower=mv.lower,
                                  upper=mv.upper)
        reps[role] = inp.reps(split, inp.model, OVERALL, metric)
    from mlscope.diagnose.gaps import orient

    for sv in values.values():
        if sv.value is not None:
            sv.error = orient(sv.value, info.direction, upper_bound)
    gaps = compute_gaps(values, reps, direction=info.direction, upper_bound=upper_bound,
                        margin=margin, level=inp.level)
    bottleneck, steps = next_steps(gaps, values, metric=metric, upper_kind=up_kind)
    other = [b.name for b in inp.baselines if b.family == "external" and not b.same_data
             and metric in b.values]
    if other:
        notes.append(f"{', '.join(other)}: measured on other data, so not the upper baseline "
                     "(a reference line only)")
    if up_value is None:
        why = f" ({up_name})" if up_name else ""
        notes.append("no upper baseline (human level, a published result or a better "
                     "learned baseline) for " + metric + why + ": avoidable bias cannot be "
                     "measured; add human level or a published result on these data under "
                     "`baselines:`")
    elif weak:
        notes.append(f"the upper baseline is {up_name}, not human level or a published "
                     "result: weak evidence for the avoidable bias (a better model may exist)")
    if "train_dev" not in values:
        notes.append("no train-dev split: overfitting and distribution mismatch cannot be "
                     "told apart; split a train-dev set off the training data (rows of the "
                     "training distribution never trained on) and name it in "
                     "`splits.train_dev`")

    # Sanity first: the model must beat the trivial baseline by more than the interval.
    sanity: list[SanityCheck] = [SanityCheck(
        check="scores", ok=True, severity="info",
        message="no missing, NaN or infinite scores (every score was checked when the data "
                "were read)")]
    val_split = inp.splits.get("validation")
    st = next((s for s in inp.standings if s.model == inp.model and s.metric == metric
               and s.split == val_split), None)
    # Poor calibration and too few rows are not bugs: a warning, not "fix this first".
    soft = st is not None and st.flag_cause in ("calibration", "few_rows")
    if st is not None:
        sanity.append(SanityCheck(
            check="beats_trivial", ok=st.flag is None,
            severity="error" if st.flag and not soft else "warning" if st.flag else "info",
            message=st.flag or (f"beats the trivial baseline `{st.trivial}` on {metric} by "
                                f"{st.vs_trivial:+.4g}" + (
                                    f" [{st.vs_trivial_lower:+.4g}, {st.vs_trivial_upper:+.4g}]"
                                    if st.vs_trivial_lower is not None else ""))))
    else:
        # Not a pass (it printed ✓): the check could not run. The baseline to add is the
        # task's (`prior` is refused on a regression charter).
        trivial = {"regression": "mean: {kind: mean}", "binary": "prior: {kind: prior}",
                   "multiclass": "prior: {kind: prior}"}.get(inp.task)
        sanity.append(SanityCheck(
            check="beats_trivial", ok=False, severity="warning",
            message="no trivial baseline to compare with"
                    + (f": add `{trivial}` under `baselines:`" if trivial else "")))
    if soft and st is not None and st.flag:
        calib = st.flag_cause == "calibration"
        steps.insert(0, NextStep(
            area="sanity",
            title="Calibrate the scores" if calib else "Too few rows to tell",
            evidence=st.flag,
            actions=(["calibrate on held-out rows (Platt scaling or isotonic regression), "
                      "then evaluate again"] if calib else
                     ["evaluate on more rows (a larger validation split) before acting on "
                      "this comparison"])))
    if any(not s.ok and s.severity == "error" for s in sanity):
        steps.insert(0, NextStep(
            area="sanity", title="Fix this first: the model does not beat a trivial baseline",
            evidence=next(s.message for s in sanity if not s.ok),
            actions=["look for a bug: misaligned rows, a wrong label encoding, scores of the "
                     "wrong class", "check there is enough data to tell them apart"]))

    # Error analysis on the validation split.
    weak_list: list[WeakSlice] = []
    unjudged: list[dict[str, Any]] = []
    n_tested = 0
    method = "each slice against the overall value"
    if val_split is not None and inp.slice_search is not None:
        from dataclasses import asdict

        weak_list, skipped, n_tested, method = inp.slice_search(
            ch.slices.min_size, spec.fdr, inp.level)
        unjudged = [asdict(u) for u in skipped]
    elif val_split is not None:
        overall = inp.value(val_split, inp.model, OVERALL, metric)
        if overall is not None and overall.value is not None:
            by_slice = {}
            slice_reps = {}
            for s in inp.slices:
                if s.kind == "overall":
                    continue
                mv = inp.value(val_split, inp.model, s.key, metric)
                by_slice[s.key] = (mv.value if mv else None, s.sizes.get(val_split, 0))
                slice_reps[s.key] = inp.reps(val_split, inp.model, s.key, metric)
            weak_list, n_tested = weak_slices(
                split=val_split, overall=overall.value,
                overall_reps=inp.reps(val_split, inp.model, OVERALL, metric),
                slices=by_slice, slice_reps=slice_reps,
                n_total=next((s.sizes.get(val_split, 0) for s in inp.slices
                              if s.kind == "overall"), 0),
                direction=info.direction, upper_bound=upper_bound,
                min_size=ch.slices.min_size, fdr=spec.fdr, level=inp.level)
    sig = [w for w in weak_list if w.significant]
    if sig:
        top = sig[:3]
        steps.append(NextStep(
            area="slices", title="Error analysis: slices significantly worse than overall",
            evidence="; ".join(_slice_evidence(w, metric) for w in top),
            actions=["read the misclassified examples of these slices first",
                     "collect or label more data like them; check their features and labels "
                     "for pipeline problems"]))

    errors: dict[str, Any] = {}
    if inp.task == "binary" and inp.rows_examples is not None and val_split is not None:
        errors = inp.rows_examples(val_split, 0.5, spec.examples)
    rare: list[dict[str, Any]] = []
    if inp.task == "multiclass":
        rare = _rare_classes(inp, val_split)
    return Diagnosis(
        model=inp.model, metric=metric, direction=info.direction, margin=margin,
        error_note=(f"errors as {metric}" if info.direction == "lower" else
                    f"errors as {upper_bound:g} − {metric}" if upper_bound is not None
                    else f"errors as −{metric}"),
        values=list(values.values()), gaps=gaps, bottleneck=bottleneck, steps=steps,
        sanity=sanity, weak_slices=weak_list[:50], slices_tested=n_tested,
        slices_method=method, slices_unjudged=unjudged[:200], errors=errors,
        rare_classes=rare, upper_kind=up_kind, weak_evidence=weak, notes=notes)


def _slice_evidence(w: WeakSlice, metric: str) -> str:
    """One weak slice's figures: against its base-rate reference when it has one."""
    if w.expected is None:
        return (f"{w.slice}: {metric} {w.value:.4g} vs {w.overall:.4g} overall "
                f"(n={w.n_rows}, FDR-adjusted p {w.adjusted_p:.2g})")
    share = (f", {w.positives / max(w.n_rows, 1):.0%} positive" if w.positives is not None
             else "")
    return (f"{w.slice}: {metric} {w.value:.4g} vs {w.expected:.4g} expected at its base rate "
            f"({w.overall:.4g} overall; n={w.n_rows}{share}, FDR-adjusted p "
            f"{w.adjusted_p:.2g})")


def _rare_classes(inp: DiagnosisInputs, split: str | None) -> list[dict[str, Any]]:
    """Per-class support, recall and precision from the confusion matrix; rare classes
    (under 5% of the rows) whose recall trails the macro average are flagged."""
    cm = next((c for c in inp.confusion if c.model == inp.model and c.split == split), None)
    if cm is None:
        return []
    counts = np.asarray(cm.counts, dtype=np.float64)
    total = counts.sum()
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    diag = np.diag(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, diag / support, np.nan)
        precision = np.where(predicted > 0, diag / predicted, np.nan)
    macro = float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan")
    out: list[dict[str, Any]] = []
    for k, cls in enumerate(cm.classes):
        share = float(support[k] / total) if total else 0.0
        r = float(recall[k]) if np.isfinite(recall[k]) else None
        out.append({"class": cls, "support": int(support[k]), "share": share,
                    "recall": r,
                    "precision": float(precision[k]) if np.isfinite(precision[k]) else None,
                    "rare": share < 0.05,
                    "flag": bool(share < 0.05 and r is not None and r < macro - 0.1)})
    out.sort(key=lambda d: float(d["share"]))
    return out
