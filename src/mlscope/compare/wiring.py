"""Paired comparisons and the check verdict, from what the evaluation computed.

:func:`mlscope.evaluation.evaluate` calls these once its point estimates and bootstrap
replicates exist: each model's difference to a reference with the right paired test
(DeLong for ROC AUC, McNemar for accuracy, the paired bootstrap otherwise), the blessed
model, and the verdict of ``mlscope check``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
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
    CheckResult,
    Difference,
    EvaluationResult,
    MetricInfo,
    MetricValue,
    PairedTest,
    RequirementCheck,
    SliceInfo,
)

if TYPE_CHECKING:
    from mlscope.compare.paired import Placements
    from mlscope.engine.exact import ExactSplit
    from mlscope.engine.numpy_backend import RowData
    from mlscope.measure import Metric

__all__ = ["SliceMasks", "blessed_model", "check_verdict", "paired_difference",
           "requirement_checks"]

FloatArray = npt.NDArray[np.float64]


def requirement_checks(ch: Charter, t: EvalTable,
                        index: Mapping[tuple[str, int, str, str], MetricValue], model: str,
                        split: str, *,
                        trials: Mapping[tuple[str, int, str, str], float | None] | None = None,
                        reps: Mapping[tuple[str, int, str, str], FloatArray] | None = None,
                        ) -> list[RequirementCheck]:
    """Each requirement on ``model`` on ``split``: on the point estimate, or on its
    (1 − δ) bound with ``decide_on: bound`` (:mod:`mlscope.compare.certify`; ``trials``
    and ``reps`` give the exact and the bootstrap bounds)."""
    from mlscope.compare.certify import requirement_check

    mi = t.models.index(model)
    out = []
    for mid, bound in ch.requirements.items():
        key = (split, mi, OVERALL, mid)
        out.append(requirement_check(ch, mid, bound, index[key],
                                     trials=(trials or {}).get(key),
                                     replicates=(reps or {}).get(key)))
    out += _slice_checks(ch, t, index, model, split)
    return out


def _cell(name: str, index: Mapping[tuple[str, int, str, str], MetricValue], split: str,
          mi: int) -> str:
    """The data's name of slice ``name``: crossed cells in any order of their columns."""
    parts = frozenset(p.strip() for p in name.split("×"))
    if len(parts) < 2:
        return name
    return next((k[2] for k in index if k[0] == split and k[1] == mi
                 and frozenset(p.strip() for p in k[2].split("×")) == parts), name)


def _slice_checks(ch: Charter, t: EvalTable,
                  index: Mapping[tuple[str, int, str, str], MetricValue], model: str,
                  split: str) -> list[RequirementCheck]:
    """Each ``slice_requirements:`` entry on ``model`` on ``split``, on the point estimate.

    A value the slice cannot give (too small, no rows) leaves the requirement undefined and
    not met: a requirement that cannot be shown to hold is never passed.

    Raises
    ------
    InputError
        A slice cell the data does not have (exit 2, with "did you mean").
    """
    mi = t.models.index(model)
    out = []
    for req in ch.slice_requirements:
        mv = index.get((split, mi, _cell(req.slice, index, split, mi), req.metric))
        if mv is None:
            cells = sorted({k[2] for k in index if k[0] == split and k[1] == mi
                            and k[2] != OVERALL})
            raise InputError(
                f"slice_requirements: slice `{req.slice}` ({req.metric} {req}) is not a slice "
                f"of the data on split `{split}`{did_you_mean(req.slice, cells)}\nfix: write "
                "the slice as the report names it (`column=value`, crossed cells joined with "
                "` × `, or a `slices.where` name)")
        met_ = mv.value is not None and req.holds(mv.value)
        out.append(RequirementCheck(
            metric=req.metric, bound=str(req), split=split, model=model, value=mv.value,
            lower=mv.lower, upper=mv.upper, met=bool(met_),
            margin=req.margin(mv.value) if mv.value is not None else None,
            slice=req.slice,
            undefined=("" if mv.value is not None
                       else mv.undefined or "not defined on these rows")))
    return out


def check_verdict(
    ch: Charter, t: EvalTable, *, candidate: str | None, winner: str | None,
    blessed_name: str | None, stored: EvaluationResult | None, source: str, split: str,
    index: Mapping[tuple[str, int, str, str], MetricValue], differences: list[Difference],
    reps: Mapping[tuple[str, int, str, str], FloatArray], infos: Mapping[str, MetricInfo],
    slices: list[str], level: float, ranking: Sequence[Mapping[str, Any]] = (),
    trials: Mapping[tuple[str, int, str, str], float | None] | None = None,
) -> CheckResult:
    """The verdict of ``mlscope check``: ``candidate`` (default: the winner) against the
    blessed model's gates and against the requirements.

    When no candidate is given and the rule's winner is the blessed model (a model of the
    data), the verdict is to keep it: the runner-up under the rule (from ``ranking``) is
    compared with it for information, and the blessed model's requirements decide.

    Raises
    ------
    CandidateIsBlessed
        ``candidate`` is the blessed model itself.
    """
    from mlscope.compare.check import gate_checks, verdict
    from mlscope.compare.keep import NO_RUNNER_UP, CandidateIsBlessed, runner_up

    if candidate is not None and candidate not in t.models:
        raise InputError(f"candidate: `{candidate}` is not a model of the data"
                         f"{did_you_mean(candidate, t.models)} (models: "
                         f"{', '.join(t.models)})")
    if blessed_name is not None and candidate == blessed_name:
        raise CandidateIsBlessed(candidate)
    cand = candidate or winner
    role = "given" if candidate is not None else "selected"
    blessed = blessed_name or (ch.blessed.model if ch.blessed is not None
                               and not isinstance(ch.blessed, str) else None)
    keep = candidate is None and blessed_name is not None and winner == blessed_name
    if cand is None:
        out = verdict(candidate="(none)", blessed=blessed, blessed_source=source, split=split,
                      gates=[], requirements=[])
        out.passed, out.exit_code = False, 1
        out.failures.append("the selection rule chose no model and no candidate was "
                            "given: nothing passes")
        return out
    # Keep: the requirements are the blessed model's (it stays in production); the gates
    # are the runner-up's against it, for information.
    requirements = requirement_checks(ch, t, index, cand, split, trials=trials, reps=reps)
    if keep:
        assert blessed_name is not None
        kinds = t.kinds
        others = [m for m in t.models if kinds.get(m, "candidate") == "candidate"]
        runner = runner_up(ranking, blessed_name, others)
        cand, role = (runner, "runner-up") if runner is not None else (NO_RUNNER_UP, "")
        if runner is None:
            return verdict(candidate=cand, blessed=blessed, blessed_source=source,
                           split=split, gates=[], requirements=requirements, keep=True,
                           role=role)
    ci = t.models.index(cand)
    gates = []
    note = ""
    if candidate is not None and blessed_name is not None and winner == blessed_name:
        # Said, so that a reader of a passing check does not take it for the rule's choice.
        note = (f"the selection rule picks the blessed model {blessed_name} itself (keep "
                f"it); {candidate} is checked because it was named")
    if ch.gates and blessed is not None:
        if stored is None:
            bi = t.models.index(blessed)
            diffs = {(d.slice, d.metric): d for d in differences
                     if d.split == split and d.model == cand and d.reference == blessed}

            def value(model: str, skey: str, mid: str) -> MetricValue | None:
                return index.get((split, t.models.index(model), skey, mid))

            def replicates(skey: str, mid: str) -> FloatArray | None:
                ra, rb = reps.get((split, ci, skey, mid)), reps.get((split, bi, skey, mid))
                return None if ra is None or rb is None else ra - rb

            def difference(skey: str, mid: str) -> Difference | None:
                return diffs.get((skey, mid))
        else:
            stored_vals = {(v.slice, v.metric): v for v in stored.values
                           if v.model == blessed and v.split == split}
            if not stored_vals:
                raise InputError(f"blessed.result: the stored result has no values for "
                                 f"`{blessed}` on the `{split}` split")
            note = ("the blessed model comes from a stored result: the comparison is not "
                    "paired (its value is held fixed)")

            def value(model: str, skey: str, mid: str) -> MetricValue | None:
                if model == blessed:
                    return stored_vals.get((skey, mid))
                return index.get((split, t.models.index(model), skey, mid))

            def replicates(skey: str, mid: str) -> FloatArray | None:
                ra, sv = reps.get((split, ci, skey, mid)), stored_vals.get((skey, mid))
                return None if ra is None or sv is None or sv.value is None else ra - sv.value

            def difference(skey: str, mid: str) -> Difference | None:
                cv, sv = index.get((split, ci, skey, mid)), stored_vals.get((skey, mid))
                if cv is None or sv is None or cv.value is None or sv.value is None:
                    return None
                return Difference(
                    split=split, slice=skey, metric=mid, model=cand, reference=blessed,
                    value=cv.value - sv.value,
                    lower=None if cv.lower is None else cv.lower - sv.value,
                    upper=None if cv.upper is None else cv.upper - sv.value,
                    test="unpaired", note="the stored value is held fixed")

        gates = gate_checks(ch, candidate=cand, blessed=blessed, split=split, slices=slices,
                            value=value, difference=difference, replicates=replicates,
                            infos=infos)
    return verdict(candidate=cand, blessed=blessed, blessed_source=source, split=split,
                   gates=gates, requirements=requirements, paired=stored is None, note=note,
                   keep=keep, role=role)


# Above this many rows DeLong's sorts cost more than they add: the paired bootstrap, whose
# replicates exist already, is used for ROC AUC too (at that size the two agree closely).
_DELONG_MAX_ROWS = 50_000
# Bytes of DeLong placements kept across differences (at most 800 kB per model and slice
# below _DELONG_MAX_ROWS): a model's sorts are then done once per slice, not once per
# difference it takes part in.
_PLACEMENTS_BUDGET = 128 * 2**20


class SliceMasks:
    """Row masks of each slice on each split (NumPy engine only), built on first use."""

    def __init__(self, engines: Mapping[str, ExactSplit],
                 slices: Mapping[str, SliceInfo]) -> None:
        self.engines = engines
        self.slices = slices
        self._cache: dict[str, dict[str, npt.NDArray[np.bool_]]] = {}
        self._correct: dict[tuple[str, int, str], npt.NDArray[np.bool_] | None] = {}
        self._disc: dict[tuple[str, int, int, str], dict[str, tuple[int, int, int]] | None] = {}
        self._placements: OrderedDict[tuple[str, int, str], Placements | None] = OrderedDict()
        self._placements_bytes = 0
        self._at: dict[tuple[str, str], npt.NDArray[np.intp]] = {}

    def rows(self, split: str) -> RowData | None:
        eng = self.engines.get(split)
        return eng.rows if eng is not None else None

    def size(self, split: str, skey: str) -> int:
        """Rows of a slice on a split (the evaluation counted them already)."""
        info = self.slices.get(skey)
        return int(info.sizes.get(split, 0)) if info is not None else 0

    def discordant(self, split: str, a: int, b: int, met: Metric,
                   make: Callable[[int], npt.NDArray[np.bool_] | None]
                   ) -> dict[str, tuple[int, int, int]] | None:
        """Per slice: rows only model ``a`` gets right, only ``b`` does, and all rows;
        one count per grouping over the rows where the two differ (no per-slice masks)."""
        key = (split, a, b, met.id)
        if key in self._disc:
            return self._disc[key]
        eng = self.engines.get(split)
        ca, cb = self._correct_of(split, a, met, make), self._correct_of(split, b, met, make)
        out: dict[str, tuple[int, int, int]] | None = None
        if eng is not None and ca is not None and cb is not None:
            out = {}
            # Only the rows where the two differ are counted (one model right, the other
            # wrong): usually a small share, so the gathers and counts below run over a
            # few rows instead of every row of every grouping. A cell's rows are known.
            at = np.flatnonzero(ca != cb)
            a_right = ca[at]
            for (code, cells), sizes in zip(eng.cells, eng.counts, strict=True):
                k = len(cells)
                c = code[at]
                keep = c >= 0
                # Per cell, 2 · cell + (a right): only b right, then only a right.
                flat = np.multiply(c, 2, dtype=np.intp)
                flat += a_right
                per = np.bincount(flat[keep] if not keep.all() else flat,
                                  minlength=2 * k).reshape(k, 2)
                for i, cell in enumerate(cells):
                    if sizes[i] > 0:
                        out[cell.key] = (int(per[i, 1]), int(per[i, 0]), int(sizes[i]))
        self._disc[key] = out
        return out

    def _correct_of(self, split: str, m: int, met: Metric,
                    make: Callable[[int], npt.NDArray[np.bool_] | None]
                    ) -> npt.NDArray[np.bool_] | None:
        key = (split, m, met.id)
        if key not in self._correct:
            self._correct[key] = make(m)
        return self._correct[key]

    def placements(self, split: str, m: int, skey: str) -> Placements | None:
        """DeLong's placements of model ``m`` on one slice's rows, computed once and kept
        (least recently used first out, within a byte budget) for every difference the
        model takes part in there; ``None`` where they cannot be computed (the caller
        then takes the path that says why)."""
        from mlscope.compare.paired import delong_placements

        key = (split, m, skey)
        if key in self._placements:
            self._placements.move_to_end(key)
            return self._placements[key]
        rows, mask = self.rows(split), self.mask(split, skey)
        out: Placements | None = None
        if rows is not None and mask is not None:
            # The slice's row numbers, found once: a gather of its few rows instead of a
            # boolean mask over every row of the split for each model.
            at = self._at.get((split, skey))
            if at is None:
                at = self._at[(split, skey)] = np.flatnonzero(mask)
            try:
                out = delong_placements(rows.y[at], rows.scores.take(m, at))
            except ValueError:
                out = None
        size = 0 if out is None else out.v10.nbytes + out.v01.nbytes
        self._placements[key] = out
        self._placements_bytes += size
        while self._placements_bytes > _PLACEMENTS_BUDGET and len(self._placements) > 1:
            _, old = self._placements.popitem(last=False)
            if old is not None:
                self._placements_bytes -= old.v10.nbytes + old.v01.nbytes
        return out

    def mask(self, split: str, skey: str) -> npt.NDArray[np.bool_] | None:
        """The rows of one slice; built on demand (only small slices need one)."""
        eng = self.engines.get(split)
        if eng is None:
            return None
        cache = self._cache.setdefault(split, {})
        if skey not in cache:
            for code, cells in eng.cells:
                i = next((j for j, cell in enumerate(cells) if cell.key == skey), None)
                if i is not None:
                    cache[skey] = code == i
                    break
        return cache.get(skey)


def paired_difference(
    t: EvalTable, met: Metric, split: str, skey: str, mi: int, ri: int, value: float,
    reps: Mapping[tuple[str, int, str, str], FloatArray],
    thresholds: Mapping[tuple[int, str], float | None], masks: SliceMasks, level: float,
    *, mcnemar: str = "auto", seed: int | None = None, terms: bool = False,
    trials: Mapping[tuple[str, int, str, str], float | None] | None = None,
) -> Difference:
    """``model mi − model ri`` with the right paired test: DeLong for ROC AUC, McNemar for
    accuracy (when the rows are at hand and unweighted), else the paired bootstrap; its
    interval never leaves the range the difference can attain (``[lo − hi, hi − lo]`` of
    the metric's range).

    ``trials``: each value's trials (:func:`mlscope.engine.bounded.effective_trials`, keyed
    as ``reps``). Two models that agree on every trial (both perfect on a class) have a
    zero difference in every resample, and the bootstrap's interval is ``[0, 0]``; a
    proportion-like metric then gets the exact bound on the share of trials they could
    disagree on, ``±(1 − (α/2)^(1/n))`` of its range with ``n`` the fewer trials of the two.

    ``mcnemar`` is McNemar's method (:func:`~mlscope.compare.paired.mcnemar_counts`);
    ``seed`` the bootstrap's, recorded in the difference's ``detail``; ``terms`` adds
    DeLong's variances and covariance of the two AUCs to it (a second pass over the rows,
    so only where asked: the pair comparisons)."""
    from mlscope.engine.bounded import clip, difference_bounds

    d = _paired_difference(t, met, split, skey, mi, ri, value, reps, thresholds, masks,
                           level, mcnemar=mcnemar, seed=seed, terms=terms)
    if d.lower is not None and d.upper is not None:
        if d.lower == d.upper == value == 0.0 and trials is not None:
            counts = [trials.get((split, m, skey, met.id)) for m in (mi, ri)]
            n = min((c for c in counts if c is not None and c >= 1), default=None)
            lo, hi = met.info.bounds
            if n is not None and lo is not None and hi is not None and None not in counts:
                half = (hi - lo) * (1.0 - ((1.0 - level) / 2.0) ** (1.0 / n))
                d.lower, d.upper = -half, half
        d.lower, d.upper = clip(d.lower, d.upper, difference_bounds(met.info.bounds))
    return d


def _paired_difference(
    t: EvalTable, met: Metric, split: str, skey: str, mi: int, ri: int, value: float,
    reps: Mapping[tuple[str, int, str, str], FloatArray],
    thresholds: Mapping[tuple[int, str], float | None], masks: SliceMasks, level: float,
    *, mcnemar: str, seed: int | None, terms: bool,
) -> Difference:
    from mlscope.compare.intervals import auc_difference_interval_of
    from mlscope.compare.paired import (
        delong_test,
        delong_test_of,
        delong_variance_of,
        mcnemar_counts,
        paired_bootstrap,
    )

    d = Difference(split=split, slice=skey, metric=met.id, model=t.models[mi],
                   reference=t.models[ri], value=value)
    rows = masks.rows(split)
    name = met.spec.name if met.spec is not None else None
    if (rows is not None and not t.has_weight and met.custom is None
            and met.error_index is None and name in ("roc_auc", "accuracy")):
        try:
            if name == "roc_auc" and t.task == "binary" and (
                    masks.size(split, skey) <= _DELONG_MAX_ROWS):
                mask = masks.mask(split, skey)
                pl_a, pl_b = masks.placements(split, mi, skey), masks.placements(split, ri, skey)
                if mask is not None and (pl_a is None or pl_b is None):
                    # Not computable: the raw-row functions raise what the note says.
                    delong_test(rows.y[mask], rows.scores.take(mi, mask),
                                rows.scores.take(ri, mask), level=level)
                if mask is not None and pl_a is not None and pl_b is not None:
                    # Each model's placements on the slice are sorted once and shared by
                    # every difference it is in: the same bits as delong_test and
                    # auc_difference_interval on the slice's rows.
                    r = delong_test_of(pl_a, pl_b, level=level)
                    aucs, cov = delong_variance_of([pl_a, pl_b])
                    # The interval: MOVER from logit-DeLong intervals of each AUC, inside
                    # [−1, 1] on any slice; the p-value and SE: DeLong's z-test.
                    d.lower, d.upper = auc_difference_interval_of(
                        aucs, cov, pl_a.n_pos, pl_a.n_pos + pl_a.n_neg, level=level)
                    d.p_value, d.test = r.p_value, "delong"
                    d.se, d.note = r.se, r.note or ""
                    d.detail = PairedTest(kind="delong", statistic=r.z, se=r.se,
                                          n_pos=r.n_pos, n_neg=r.n_neg)
                    if terms:
                        d.detail.var_a, d.detail.var_b = float(cov[0, 0]), float(cov[1, 1])
                        d.detail.cov = float(cov[0, 1])
                    return d
            if name == "accuracy":
                counts = masks.discordant(split, mi, ri, met, lambda m: _correct(
                    t, rows, m, met, thresholds))
                if counts is not None and skey in counts:
                    n10, n01, n = counts[skey]
                    r2 = mcnemar_counts(n10, n01, n, level=level, method=mcnemar)
                    d.lower, d.upper, d.p_value = r2.lower, r2.upper, r2.p_value
                    d.test, d.note = "mcnemar", r2.note or ""
                    d.detail = PairedTest(kind="mcnemar", statistic=r2.statistic, b=n10,
                                          c=n01, n=n, method=r2.method, requested=mcnemar)
                    # SE of the paired difference of proportions (slice gates' z-test).
                    d.se = math.sqrt(max((n10 + n01) / n - r2.diff ** 2, 0.0) / n)
                    return d
        except ValueError as exc:
            d.note = f"paired test not possible here ({exc}); bootstrap used"
    ra, rb = reps.get((split, mi, skey, met.id)), reps.get((split, ri, skey, met.id))
    if ra is not None and rb is not None:
        pb = paired_bootstrap(ra - rb, value, level=level)
        if pb.lower is not None and pb.upper is not None:
            d.lower, d.upper = pb.lower, pb.upper
        d.p_value = pb.p_value
        d.detail = PairedTest(kind="bootstrap", method="percentile paired bootstrap; "
                              "centred p-value", resamples=pb.n_replicates,
                              finite=pb.n_finite, seed=seed)
    return d


def _correct(t: EvalTable, rows: RowData, m: int, met: Metric,
             thresholds: Mapping[tuple[int, str], float | None]
             ) -> npt.NDArray[np.bool_] | None:
    """Whether each row is classified right, as ``accuracy`` counts it."""
    y = rows.y
    if t.task == "binary":
        thr: Any = met.params.get("threshold", 0.5)
        if met.spec is not None and met.spec.is_operating_point(dict(met.params)):
            thr = thresholds.get((m, met.id))  # chosen: already on the scores' scale
        elif thr is not None:
            # The charter's threshold is a probability; logits are compared with its logit.
            thr = threshold_on_scores(float(thr), t.score_type_of(m))
        if thr is None:
            return None
        return np.asarray((rows.scores[m] >= float(thr)) == (y == 1))
    if t.task == "multiclass":
        return np.asarray(np.argmax(rows.proba[m], axis=1) == y.astype(np.int64))
    return None


def blessed_model(ch: Charter, t: EvalTable, bdir: Path
             ) -> tuple[str | None, EvaluationResult | None, str]:
    """The blessed model: a model of this evaluation, or a stored result (unpaired)."""
    b = ch.blessed
    if b is None:
        return None, None, ""
    if isinstance(b, str):
        if b not in t.models:
            raise InputError(f"blessed: the model `{b}` is not in the data"
                             f"{did_you_mean(b, t.models)} (models: {', '.join(t.models)}); "
                             "name the model in production as the data names it")
        return b, None, "same rows"
    path = project_file(bdir, b.result, what="blessed.result")
    if not path.exists():
        raise InputError(f"blessed.result: {path} does not exist; give the result.json of "
                         "the run that evaluated the model in production")
    try:
        stored = EvaluationResult.from_json(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"blessed.result: {path} is not an mlscope result ({exc})") from None
    if b.model not in {m.name for m in stored.models}:
        names = [m.name for m in stored.models]
        raise InputError(f"blessed.model: `{b.model}` is not in {path.name}"
                         f"{did_you_mean(b.model, names)} (models: {', '.join(names)})")
    return None, stored, f"stored result {path.name}"
