"""The ladder of human baselines (single annotator, majority of k, Dawid–Skene or median,
expert panel), each scored against a reference, with the models on the same items."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from mlscope.baselines.agreement import annotator_agreement
from mlscope.baselines.human_data import (
    AnnotatedData,
    BoolArray,
    FloatArray,
    IntArray,
    prepare_annotations,
)
from mlscope.baselines.human_scoring import (
    Scorer,
    ScoringJob,
    ScoringUnit,
    bootstrap_units,
    hard_pred,
    models_on_units,
    nanmean0,
    resolve_metric,
    summarise_values,
)
from mlscope.errors import InputError
from mlscope.result.human import (
    HumanLevel,
    HumanMetricSpec,
    HumanRung,
    HumanValue,
    ModelOnHumanItems,
    RungKind,
)

__all__ = ["HumanTask", "ReferenceKind", "human_ladder"]

HumanTask = Literal["binary", "multiclass", "regression"]
ReferenceKind = Literal["gold", "from_annotators", "none"]

_INSTALL = 'pip install "mlscope[human]"'
_SINGLE = "single annotator"
_EXPERT = "expert panel"
_DS = "Dawid–Skene"
_MEDIAN = "median of annotators"
_DEFAULT_DRAWS = 20


# --------------------------------------------------------------------------------------
# Rungs
# --------------------------------------------------------------------------------------


@dataclass
class _Plan:
    name: str
    kind: RungKind
    k: int | None
    scored: bool
    note: str
    n_items: int = 0
    units: list[ScoringUnit] = field(default_factory=list)
    model_units: dict[str, list[ScoringUnit]] = field(default_factory=dict)
    unscored: str = ""  # why the rung has no values, for each metric's `undefined`


def _majority(counts: FloatArray, rng: np.random.Generator) -> IntArray:
    """Arg-max per row, ties broken uniformly at random."""
    # Counts are whole numbers, so jitter below 1 only reorders tied classes.
    jittered = counts + 0.5 * rng.random(counts.shape)
    return np.asarray(np.argmax(jittered, axis=1), dtype=np.int64)


def _tied(counts: FloatArray) -> BoolArray:
    """Rows whose highest count is shared by two classes."""
    if counts.shape[1] < 2:
        return np.zeros(counts.shape[0], dtype=bool)
    top2 = -np.sort(-counts, axis=1)[:, :2]
    return np.asarray(top2[:, 0] == top2[:, 1], dtype=bool)


def _single_units(data: AnnotatedData, loo: bool) -> tuple[dict[str, ScoringUnit], int]:
    """Each annotator's unit (possibly empty), and the labels dropped on tied references."""
    units: dict[str, ScoringUnit] = {}
    dropped = 0
    counts = data.counts() if data.classify and loo else None
    sums = np.bincount(data.row_item, weights=data.row_val, minlength=len(data.items))
    by_ann = np.argsort(data.row_ann, kind="stable")
    bounds = np.searchsorted(data.row_ann[by_ann], np.arange(len(data.annotators) + 1))
    for a, name in enumerate(data.annotators):
        rows = by_ann[bounds[a]:bounds[a + 1]]
        it, val = data.row_item[rows], data.row_val[rows]
        keep = data.scorable[it]
        if not loo:
            y = data.ref[it]
        else:
            keep &= data.n_labels[it] - 1 >= 2
            if counts is not None:
                others = counts[it].copy()
                others[np.arange(it.size), val.astype(np.int64)] -= 1
                tie = _tied(others) & keep
                dropped += int(tie.sum())
                keep &= ~tie
                y = np.argmax(others, axis=1).astype(np.float64)
            else:
                y = (sums[it] - val) / np.maximum(data.n_labels[it] - 1, 1)
        units[name] = ScoringUnit(it[keep], y[keep], hard_pred(data, val[keep]), hard=True)
    return units, dropped


def _draw(data: AnnotatedData, k: int, loo: bool, rng: np.random.Generator
          ) -> tuple[ScoringUnit, int]:
    """One random draw of k voters per item: the vote, scored against gold or the rest."""
    n_rows = data.row_item.size
    order = np.lexsort((rng.random(n_rows), data.row_item))
    item_sorted = data.row_item[order]
    rank = np.arange(n_rows) - data.seg_start[item_sorted]
    elig = data.scorable & (data.n_labels >= (k + 1 if loo else k))
    on = elig[item_sorted]
    voters = order[(rank < k) & on]
    rest = order[(rank >= k) & on]
    items = np.flatnonzero(elig).astype(np.int64)
    if data.classify:
        vote = _majority(data.counts(voters)[items], rng).astype(np.float64)
    else:
        vsum = np.bincount(data.row_item[voters], weights=data.row_val[voters],
                           minlength=len(data.items))
        vote = vsum[items] / k
    dropped = 0
    if not loo:
        y = data.ref[items]
    elif data.classify:
        rest_counts = data.counts(rest)[items]
        tie = _tied(rest_counts)
        dropped = int(tie.sum())
        items, vote, rest_counts = items[~tie], vote[~tie], rest_counts[~tie]
        y = np.argmax(rest_counts, axis=1).astype(np.float64)
    else:
        rsum = np.bincount(data.row_item[rest], weights=data.row_val[rest],
                           minlength=len(data.items))
        y = rsum[items] / (data.n_labels[items] - k)
    return ScoringUnit(items, y, hard_pred(data, vote), hard=True), dropped


def _majority_plan(data: AnnotatedData, k: int, loo: bool, draws: int,
                   rng: np.random.Generator) -> _Plan:
    name = f"majority of {k}"
    need = k + 1 if loo else k
    n_elig = int((data.scorable & (data.n_labels >= need)).sum())
    if n_elig == 0:
        why = (f"no item has {need} labels ({k} voters + at least 1 for the leave-one-out "
               "reference)" if loo else f"no scored item has {k} labels")
        return _Plan(name, "majority", k, False, f"not scored: {why}", unscored=why)
    units: list[ScoringUnit] = []
    dropped = 0
    for _ in range(draws):
        u, d = _draw(data, k, loo, rng)
        units.append(u)
        dropped += d
    n_items = min(u.items.size for u in units)
    who = "voters" if data.classify else "annotators"
    vote = ("their majority, ties broken at random" if data.classify
            else "the mean of their values")
    if loo:
        against = ("the majority of that item's other annotators" if data.classify
                   else "the mean of that item's other annotators")
        note = (f"{draws} random draws of {k} {who} per item with at least {k + 1} labels "
                f"({vote}); each draw scored against {against}")
        if dropped:
            note += f"; {dropped} (draw, item) pairs dropped where those others tied"
        model_units = models_on_units(data, units)
    else:
        note = (f"{draws} random draws of {k} {who} per item with at least {k} labels "
                f"({vote}), scored against gold")
        # The items and gold are the same in every draw, so models need one unit.
        model_units = models_on_units(data, units[:1])
    return _Plan(name, "majority", k, True, note, n_items, units, model_units)


def _dawid_skene(data: AnnotatedData) -> tuple[FloatArray | None, str]:
    """Per-item class posteriors from Dawid–Skene, or ``(None, why not)``."""
    try:
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return None, f"skipped: Dawid–Skene needs crowd-kit ({_INSTALL})"
    frame = pd.DataFrame({
        "task": data.row_item,
        "worker": data.row_ann,
        "label": data.row_val.astype(np.int64),
    })
    with warnings.catch_warnings():
        # crowd-kit 1.4 calls pandas APIs that recent pandas deprecates, thousands of times
        # per fit; the warnings are about crowd-kit's code, not the user's data.
        warnings.simplefilter("ignore")
        post = DawidSkene(n_iter=100).fit_predict_proba(frame)
    proba = np.zeros((len(data.items), data.k))
    post = post.reindex(np.arange(len(data.items)))
    for col in post.columns:
        proba[:, int(col)] = post[col].fillna(0.0).to_numpy(dtype=np.float64)
    return proba, "Dawid–Skene (crowd-kit, 100 iterations) over every annotator's labels"


# --------------------------------------------------------------------------------------
# The ladder
# --------------------------------------------------------------------------------------


def _check_options(task: str, reference_kind: str, min_items: int, resamples: int,
                   level: float, draws: int, ks: Sequence[int] | None) -> None:
    if task not in ("binary", "multiclass", "regression"):
        raise InputError(f"task must be binary, multiclass or regression, got {task!r}")
    if reference_kind not in ("gold", "from_annotators", "none"):
        raise InputError("reference_kind must be `gold`, `from_annotators` or `none`, "
                         f"got {reference_kind!r}")
    if isinstance(min_items, bool) or not isinstance(min_items, int) or min_items < 1:
        raise InputError(f"min_items must be a whole number >= 1, got {min_items!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise InputError(f"resamples must be a whole number >= 0, got {resamples!r}")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise InputError(f"draws must be a whole number >= 1, got {draws!r}")
    for k in ks or ():
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"every k in ks must be a whole number >= 1, got {k!r}")


def human_ladder(
    annotations: pd.DataFrame,
    *,
    task: HumanTask,
    metrics: Sequence[HumanMetricSpec],
    positive: str | None = None,
    classes: Sequence[str] | None = None,
    reference: pd.Series | None = None,
    reference_kind: ReferenceKind = "none",
    models: Mapping[str, pd.Series | pd.DataFrame] | None = None,
    ks: Sequence[int] | None = None,
    min_items: int = 30,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    draws: int = _DEFAULT_DRAWS,
    replicates: dict[tuple[str, str | None, str], FloatArray] | None = None,
) -> HumanLevel:
    """Score the ladder of human baselines, and the models on the same items.

    Parameters
    ----------
    annotations
        Long frame with columns ``item``, ``annotator``, ``label`` (see
        :func:`~mlscope.baselines.annotations.load_annotations`); a missing label means
        "not labelled".
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    metrics
        The metrics to compute, by registry name with resolved parameters.
    positive
        Binary: the positive label (as text); inferred for ``0/1`` and ``false/true``.
    classes
        Multiclass: the classes in order (default: every label seen, sorted). Binary:
        optionally ``(negative, positive)``.
    reference
        Item -> reference label (text for classification, number for regression).
    reference_kind
        ``"gold"``: independent gold labels; every rung is scored against them.
        ``"from_annotators"``: the reference was derived from these annotators, so each
        human is scored *leave-one-out* against the majority of the other annotators
        (``reference`` then only selects the evaluated items). ``"none"``: only agreement.
    models
        Model -> per-item scores: binary P(positive) Series, regression prediction
        Series, multiclass DataFrame item x class of probabilities. Items a model lacks
        are left out of every rung.
    ks
        Majority panel sizes; default odd k from 3 up to the most labels on an item
        (minus one when leave-one-out, to leave a reference).
    min_items
        Evidence needed: annotators scored on fewer items are left out of the single
        annotator mean, and rungs scored on fewer items cannot be the baseline.
    resamples, level, seed
        Percentile bootstrap over items (0 resamples: no intervals), and the seed of every
        random draw.
    draws
        Random voter draws per majority rung.
    replicates
        When given, filled with the bootstrap replicates of every scored value, keyed by
        ``(rung, model or None for the humans, metric id)``: every value sees the same
        item resamples, so a caller can form paired intervals (the gap closed against
        human level). Not stored in the result.

    Returns
    -------
    HumanLevel
        The rungs, the models on each scored rung's items, the agreement, and per metric
        the best eligible rung.

    Notes
    -----
    *Single annotator*: each annotator is scored on the items they labelled; the rung is
    the unweighted mean over annotators with at least ``min_items`` scored items (each
    annotator counts once, whatever their number of items), with the standard deviation,
    minimum and maximum over them. *Majority of k*: per item with enough labels, ``k`` of
    its annotators are drawn at random and their majority taken (ties at random;
    regression: their mean); the rung is the mean over ``draws`` draws. *Aggregate*:
    Dawid–Skene's posterior (classification; a score, so every metric is defined) or the
    per-item median (regression). Hard labels have no log loss and no ranking: log loss,
    operating-point metrics (``threshold: optimize``, ``precision_at_recall``, ...) and
    top-k accuracy (k > 1) are undefined on label rungs, and a binary label is its own
    decision (threshold 0.5 on the 0/1 label). ROC AUC, average precision and Brier are
    computed on the 0/1 label as a score. The agreement warning uses Krippendorff's
    threshold of 0.667 for tentative conclusions (Krippendorff 2004, §11.4.4).
    """
    _check_options(task, reference_kind, min_items, resamples, level, draws, ks)
    if not metrics and reference_kind != "none":
        raise InputError("no metrics to compute: pass `metrics=`")
    ids = [m.id for m in metrics]
    if len(set(ids)) != len(ids):
        raise InputError(f"metric ids must be unique, got {ids}")
    notes: list[str] = []
    warnings: list[str] = []
    data = prepare_annotations(annotations, task, positive, classes, reference, reference_kind,
                    models, notes)
    resolved = [resolve_metric(m, task) for m in metrics]
    scorer = Scorer(data, resolved)
    loo = reference_kind == "from_annotators"
    scored = reference_kind != "none"
    agreement = annotator_agreement(data)
    if agreement.warning:
        warnings.append(agreement.warning)

    rng_draw = np.random.default_rng([seed, 1])
    max_labels = int(data.n_labels.max())
    top = max_labels - 1 if loo else max_labels
    k_list = sorted({int(k) for k in ks}) if ks is not None else list(range(3, top + 1, 2))
    if ks is None and not k_list:
        notes.append(f"no majority rung: the most labels on an item is {max_labels}, and a "
                     f"majority of 3 needs {4 if loo else 3}")

    plans: list[_Plan] = []
    single, dropped = _single_units(data, loo) if scored else ({}, 0)
    included = [a for a, u in single.items() if u.items.size >= min_items]
    small = [a for a, u in single.items() if 0 < u.items.size < min_items]
    if scored:
        note = ("each annotator scored on their own items against "
                + (f"the {'majority' if data.classify else 'mean'} of the other annotators "
                   "(items with at least 2 others)" if loo else "gold")
                + f"; unweighted mean over {len(included)} annotator(s) with at least "
                f"{min_items} items")
        if small:
            note += (f"; left out with fewer than {min_items} items: "
                     + ", ".join(f"{a} ({single[a].items.size})" for a in small[:20])
                     + (", …" if len(small) > 20 else ""))
        if dropped:
            note += f"; {dropped} labels not scored because the other annotators tied"
        units = [single[a] for a in included]
        n_single = int(np.unique(np.concatenate([u.items for u in units])).size) if units else 0
        plans.append(_Plan(_SINGLE, "single", None, True, note, n_single, units,
                           models_on_units(data, units)))
        plans.extend(_majority_plan(data, k, loo, draws, rng_draw) for k in k_list)
    else:
        why = "no reference (only agreement is reported)"
        plans.append(_Plan(_SINGLE, "single", None, False, f"not scored: {why}", unscored=why))
        plans.extend(_Plan(f"majority of {k}", "majority", k, False, f"not scored: {why}",
                           unscored=why) for k in k_list)

    aggregate_labels: dict[str, str | float] = {}
    agg_kind: RungKind
    if data.classify:
        proba, how = _dawid_skene(data)
        agg_name, agg_kind = _DS, "model_based"
        agg_pred = None
        if proba is not None:
            winners = np.argmax(proba, axis=1)
            has = data.n_labels > 0
            aggregate_labels = {data.items[i]: data.classes[int(winners[i])]
                                for i in np.flatnonzero(has)}
            agg_pred = proba[:, 1] if task == "binary" else proba
    else:
        agg_name, agg_kind, how = _MEDIAN, "aggregate", "per-item median of every annotator"
        agg_pred = np.asarray(pd.Series(data.row_val).groupby(data.row_item).median()
                              .reindex(np.arange(len(data.items))).to_numpy(), dtype=np.float64)
        aggregate_labels = {s: float(v) for s, v in zip(data.items, agg_pred, strict=True)}
    if agg_pred is None:
        plans.append(_Plan(agg_name, agg_kind, None, False, how, unscored=how))
    elif reference_kind == "gold":
        items = np.flatnonzero(data.scorable).astype(np.int64)
        u = ScoringUnit(items, data.ref[items], agg_pred[items], hard=False)
        plans.append(_Plan(agg_name, agg_kind, None, True, f"{how}, scored against gold",
                           int(items.size), [u], models_on_units(data, [u])))
    else:
        why = "the reference comes from the same annotators" if loo else "no reference"
        plans.append(_Plan(agg_name, agg_kind, None, False, f"{how}; not scored: {why}",
                           unscored=why))
    if reference_kind == "gold":
        plans.append(_Plan(_EXPERT, "expert", None, False,
                           "the gold reference: the yardstick every other rung is scored "
                           "against", int(data.scorable.sum()),
                           unscored="the gold reference itself (not scored)"))

    # Point estimates, then one bootstrap over items shared by every unit (paired).
    jobs: list[ScoringJob] = []
    for plan in plans:
        for u in [*plan.units, *(x for us in plan.model_units.values() for x in us)]:
            if u.items.size:
                jobs.append((u, *scorer.point(u)))
            else:
                jobs.append((u, [float("nan")] * len(resolved), ["no items"] * len(resolved),
                             None))
    reps = bootstrap_units(scorer, jobs, len(data.items), resamples, seed)
    by_unit = {id(u): (vals, whys, r) for (u, vals, whys, _), r in zip(jobs, reps, strict=True)}

    def summarise(units: list[ScoringUnit], word: str) -> list[HumanValue]:
        out = []
        for j, m in enumerate(resolved):
            vals = [by_unit[id(u)][0][j] for u in units]
            whys = [by_unit[id(u)][1][j] for u in units]
            r = (np.stack([by_unit[id(u)][2][j] for u in units])
                 if units and resamples else None)
            out.append(summarise_values(m.id, vals, whys, r, level, word))
        return out

    def blank(why: str) -> list[HumanValue]:
        return [HumanValue(m.id, undefined=why) for m in resolved]

    rungs: list[HumanRung] = []
    model_results: list[ModelOnHumanItems] = []
    for plan in plans:
        word = "annotator" if plan.kind == "single" else "draw"
        if plan.scored and plan.units:
            values = summarise(plan.units, word)
            for name, us in plan.model_units.items():
                model_results.append(ModelOnHumanItems(name, plan.name, plan.n_items,
                                                       summarise(us, word)))
            if replicates is not None and resamples:
                for who, us in [(None, plan.units), *plan.model_units.items()]:
                    for j, m in enumerate(resolved):
                        ok = np.isfinite([by_unit[id(u)][0][j] for u in us])
                        if ok.any():
                            r = np.stack([by_unit[id(u)][2][j] for u in us])
                            replicates[(plan.name, who, m.id)] = nanmean0(r[ok])
        else:
            values = blank(plan.unscored or "not scored")
        eligible = bool(plan.scored and plan.units and plan.n_items >= min_items)
        note = plan.note
        if plan.scored and plan.units and not eligible:
            note += (f"; only {plan.n_items} items (fewer than {min_items}): not eligible as "
                     "the human-level baseline")
        rungs.append(HumanRung(plan.name, plan.kind, plan.k, plan.n_items, values,
                               bool(plan.scored and plan.units), eligible, note))

    best: dict[str, str | None] = {}
    for j, m in enumerate(resolved):
        sign = 1.0 if m.spec.higher_is_better else -1.0
        cands = [(sign * v, r.name) for r in rungs if r.eligible
                 and (v := r.values[j].value) is not None]
        # max() keeps the first of equal values: the lower, cheaper rung.
        best[m.id] = max(cands, key=lambda c: c[0])[1] if cands else None
    if scored and resolved and not any(r.eligible for r in rungs):
        warnings.append(f"no rung was scored on at least {min_items} items, so there is no "
                        "human-level baseline")

    per_annotator: dict[str, dict[str, float | None]] = {}
    annotator_items = {a: int(u.items.size) for a, u in single.items()}
    for a, u in single.items():
        if u.items.size:
            vals, _, _ = scorer.point(u)
            per_annotator[a] = {m.id: (float(v) if np.isfinite(v) else None)
                                for m, v in zip(resolved, vals, strict=True)}

    return HumanLevel(
        task=task, reference_kind=reference_kind, rungs=rungs, typical_human=_SINGLE,
        best=best, per_annotator=per_annotator, annotator_items=annotator_items,
        models=model_results, agreement=agreement, aggregate_labels=aggregate_labels,
        warnings=warnings, notes=notes, seed=seed, resamples=resamples, level=level,
    )
