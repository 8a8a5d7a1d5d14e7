"""Evidence, not claims: each planning checklist item checked against the charter (and,
when given, a stored result).

Every item of :data:`mlscope.charter.planning.CHECKLIST` has a checker here
(:data:`CHECKERS`): it lists the evidence found, what is missing (each with the fix) and
what is stated but cannot be verified (a latency budget with no measured latency: never
silently met). The item's outcome follows from those lists, not from what the checklist
claims; a claim the evidence does not back is flagged. Items only a person can answer
(``evidence: None`` in the registry: buy-in, logging, security and privacy) are
*attested* when answered.

Pure: reads a :class:`~mlscope.charter.schema.Charter` and an optional
:class:`~mlscope.result.EvaluationResult`; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from mlscope.charter.planning import CHECKLIST, ChecklistItem
from mlscope.charter.schema import (
    Charter,
    ExternalBaseline,
    HumanBaseline,
    LearnedBaseline,
    RuleBaseline,
    SatisficingRule,
    TrivialBaseline,
)
from mlscope.errors import did_you_mean
from mlscope.metrics.registry import REGISTRY
from mlscope.result import EvaluationResult

__all__ = ["CHECKERS", "READY", "Findings", "Gap", "ItemEvidence", "Outcome", "check_items"]

Outcome = Literal["evidence", "partial", "missing", "unverified", "not_applicable",
                  "attested", "open"]
# Outcomes that count towards a stage's readiness.
READY: frozenset[str] = frozenset({"evidence", "not_applicable", "attested"})


@dataclass
class Gap:
    """Something missing or unverified, and how to supply it."""

    what: str
    fix: str


@dataclass
class Findings:
    """What a checker found: evidence, gaps, unverified statements, or why the item does
    not apply to this project (``na``)."""

    found: list[str] = field(default_factory=list)
    missing: list[Gap] = field(default_factory=list)
    unverified: list[Gap] = field(default_factory=list)
    na: str | None = None


@dataclass
class ItemEvidence:
    """One checklist item: what the charter claims and what the evidence says.

    ``claimed`` is the checklist's status (``answered``, ``open``, ``not_applicable``;
    an item left out is ``open``); ``outcome`` is decided from the evidence; ``flags``
    say where the claim and the evidence disagree.
    """

    key: str
    title: str
    stage: str
    question: str
    claimed: str
    note: str
    checkable: bool
    outcome: Outcome
    found: list[str] = field(default_factory=list)
    missing: list[Gap] = field(default_factory=list)
    unverified: list[Gap] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Whether the item counts towards its stage's readiness."""
        return self.outcome in READY


@dataclass
class _Ctx:
    ch: Charter
    result: EvaluationResult | None

    @property
    def plan(self):  # type: ignore[no-untyped-def]
        return self.ch.planning

    def primary(self) -> str:
        sel = self.ch.selection
        if isinstance(sel, SatisficingRule):
            return sel.optimize
        return self.ch.metrics[0].id

    def report_split(self) -> str | None:
        if self.result is None:
            return None
        s = self.result.splits.get("report") or self.result.splits.get("selection")
        return str(s) if s else None

    def figure(self, model: str, metric: str, slice_: str = "overall") -> float | None:
        """``metric`` of ``model`` on the result's report split, or None."""
        split = self.report_split()
        if self.result is None or split is None:
            return None
        return next((v.value for v in self.result.values if v.model == model
                     and v.metric == metric and v.split == split and v.slice == slice_),
                    None)


def _fmt(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4g}"


# -- planning ------------------------------------------------------------------------
def _datasets(c: _Ctx) -> Findings:
    f = Findings()
    d = c.ch.data
    source = d.table or (d.duckdb.table if d.duckdb else None) or d.labels
    f.found.append(f"data source: {source}")
    if d.split:
        f.found.append(f"split column `{d.split}`")
    else:
        f.missing.append(Gap("no split column: every row is evaluated together",
                             "name the split column under `data.split`"))
    if c.result is not None:
        per = c.result.data.get("rows_per_split") if isinstance(c.result.data, dict) else None
        if isinstance(per, dict):
            f.found.append("rows per split: " + ", ".join(f"{k} {v:,}" for k, v in per.items()))
    return f


def _labelling(c: _Ctx) -> Findings:
    f = Findings()
    p = c.plan
    if p.labeling:
        f.found.append(f"labeling: {p.labeling}")
    else:
        f.missing.append(Gap("how labels are obtained is not stated",
                             "write `planning.labeling: <how and when labels become known>`"))
    cost = p.feasibility.label_cost
    if cost is not None:
        f.found.append(f"label cost {cost.per_item:g} {cost.unit}".rstrip() + " per item"
                       + (f", {cost.per_week:g} per week" if cost.per_week else ""))
    else:
        f.missing.append(Gap("the label cost is not stated",
                             "write `planning.feasibility.label_cost: {per_item:, unit:, "
                             "per_week:}`"))
    return f


def _metadata(c: _Ctx) -> Findings:
    f = Findings()
    s = c.ch.slices
    if s.columns or s.crosses or s.where:
        f.found.append("metadata kept for slicing: "
                       + ", ".join([*s.columns, *s.where]) if (s.columns or s.where)
                       else "crossed slice columns")
    else:
        f.missing.append(Gap("no metadata column is used", "name segment columns under "
                                                           "`slices.columns`"))
    _stability(c, f)
    return f


def _stability(c: _Ctx, f: Findings) -> None:
    """Data stability: the splits' order in time and the label's drift between the
    selection and report splits, measured by a run when ``data.time`` is given."""
    stab = c.plan.feasibility.data_stability
    stated = f" (stated {stab.level})" if stab else ""
    column = c.ch.data.time
    if column is None:
        f.unverified.append(Gap(
            "data stability" + stated + ": drift between the splits' time ranges is not "
            "measured — the charter names no time column",
            "add `data.time: <column>` (when each row happened) and run `mlscope run`"))
        return
    data = c.result.data if c.result is not None and isinstance(c.result.data, dict) else {}
    found = data.get("time")
    if not isinstance(found, dict):
        f.unverified.append(Gap(
            "data stability" + stated + f": `data.time: {column}` is named but not measured",
            "run `mlscope run` to measure it, and pass its result to `mlscope plan`"))
        return
    splits = found.get("splits") or {}
    ranges = ", ".join(f"{n} {s.get('start')} – {s.get('end')}"
                       for n in found.get("order") or [] if isinstance(s := splits.get(n), dict))
    if found.get("ordered"):
        f.found.append(f"the splits are ordered in time by `{column}`: {ranges}")
    else:
        f.missing.append(Gap(f"the splits are not ordered in time by `{column}`: "
                             f"{found.get('overlap')}",
                             "re-split by time: train on the earliest rows, select on later "
                             "ones and report on the latest"))
    drift = found.get("drift")
    if isinstance(drift, dict):
        if drift.get("drifts"):
            f.missing.append(Gap(str(drift.get("text")),
                                 "find what changed between the periods (the population, "
                                 "the labelling, a seasonal effect); select and report on "
                                 "rows of the period the model will serve"))
        else:
            f.found.append(str(drift.get("text")))


def _literature(c: _Ctx) -> Findings:
    f = Findings()
    pub = c.plan.feasibility.published_results
    if pub:
        f.found.append(f"published results: {pub}")
    ext = [n for n, b in c.ch.baselines.items() if isinstance(b, ExternalBaseline)]
    if ext:
        f.found.append("external figures under `baselines:`: " + ", ".join(ext))
    if not pub and not ext:
        f.missing.append(Gap("no published result is cited",
                             "write `planning.feasibility.published_results`, or add the "
                             "figure as an `external` baseline"))
    return f


# -- evaluation ----------------------------------------------------------------------
def _human_level(c: _Ctx) -> Findings:
    f = Findings()
    humans = [n for n, b in c.ch.baselines.items() if isinstance(b, HumanBaseline)]
    if not humans:
        f.missing.append(Gap("no human baseline", "add a `kind: human` baseline under "
                                                  "`baselines:` (annotations of people doing "
                                                  "the task)"))
        return f
    f.found.append("human baseline: " + ", ".join(humans))
    h = c.result.human if c.result is not None else None
    if h is not None:
        # The optimised metric when people are scored on it, else the charter's first
        # metric that they are (a threshold metric may not apply to their labels).
        scored = [r for r in h.rungs if r.scored]
        have = [m for m in [c.primary(), *c.ch.metric_ids()]
                if any((v := r.value(m)) is not None and v.value is not None for r in scored)]
        metric = have[0] if have else c.primary()
        for rung in h.rungs:
            v = rung.value(metric)
            if rung.scored and v is not None and v.value is not None:
                f.found.append(f"{rung.name}: {metric} {_fmt(v.value)} on {rung.n_items} items")
    return f


def _quick(c: _Ctx) -> Findings:
    f = Findings()
    kinds = {"trivial": TrivialBaseline, "learned": LearnedBaseline, "rule": RuleBaseline}
    have = {k: [n for n, b in c.ch.baselines.items() if isinstance(b, t)]
            for k, t in kinds.items()}
    for k, names in have.items():
        if names:
            f.found.append(f"{k} baselines: " + ", ".join(
                n + (f" ({c.primary()} {_fmt(c.figure(n, c.primary()))})"
                     if c.result is not None else "") for n in names))
    if not have["rule"] and not have["learned"]:
        f.missing.append(Gap("no rule or simple learned baseline",
                             "add `kind: rule` (a hand-written rule) or `kind: logistic` "
                             "under `baselines:`"))
    return f


def _older(c: _Ctx) -> Findings:
    f = Findings()
    b = c.ch.blessed
    if b is not None:
        name = b if isinstance(b, str) else b.model
        f.found.append(f"blessed (in production): {name}"
                       + (f", {c.primary()} {_fmt(c.figure(name, c.primary()))}"
                          if c.result is not None else ""))
    ext = [n for n, x in c.ch.baselines.items() if isinstance(x, ExternalBaseline)]
    if ext and b is None:
        f.found.append("external figures: " + ", ".join(ext))
    if b is None and not ext:
        f.missing.append(Gap("the system in place today is not measured",
                             "name it under `blessed:` (a model of the data or a stored "
                             "result), or give its figures as an `external` baseline"))
    return f


def _failure_modes(c: _Ctx) -> Findings:
    f = Findings()
    modes = c.plan.failure_modes
    if not modes:
        f.missing.append(Gap("no failure mode is written down",
                             "list them under `planning.failure_modes` ({failure, slice, "
                             "metric})"))
        return f
    checked = {(r.metric, r.slice): r for r in c.ch.slice_requirements}
    got = {(q.metric, q.slice): q for q in (c.result.requirements if c.result else [])
           if q.slice != "overall"}
    for fm in modes:
        head = f"“{fm.failure}”"
        if not fm.slice or not fm.metric:
            f.missing.append(Gap(f"{head} is mapped to no slice and metric",
                                 "give it `slice:` and `metric:`"))
            continue
        req = checked.get((fm.metric, fm.slice))
        if req is None:
            stated = f" (it states {fm.requirement}, unchecked)" if fm.requirement else ""
            f.missing.append(Gap(
                f"{head}: {fm.metric} in {fm.slice} has no checked requirement{stated}",
                f"add `{{metric: {fm.metric}, slice: \"{fm.slice}\", bound: "
                f"\"{fm.requirement or '>= …'}\"}}` under `slice_requirements:`"))
            continue
        line = f"{head}: {fm.metric} {req} in {fm.slice}, checked"
        q = got.get((fm.metric, fm.slice))
        if q is not None:
            line += (f"; {q.model} {_fmt(q.value)}, "
                     + ("met" if q.met else "NOT met" + (f" ({q.undefined})"
                                                        if q.undefined else "")))
        f.found.append(line)
    return f


def _slices(c: _Ctx) -> Findings:
    f = Findings()
    s = c.ch.slices
    named = [*s.columns, *(" × ".join(x) for x in s.crosses), *s.where]
    if not named:
        f.missing.append(Gap("no slice is defined", "name columns under `slices.columns` "
                                                    "or predicates under `slices.where`"))
        return f
    f.found.append("slices: " + ", ".join(named))
    if c.ch.slice_requirements:
        f.found.append(f"{len(c.ch.slice_requirements)} per-slice requirement(s)")
    if c.result is not None:
        split = c.report_split() or ""
        small = [x.key for x in c.result.slices if x.kind != "overall"
                 and x.sizes.get(split, 0) < s.min_size]
        f.found.append(f"{len(c.result.slices) - 1} slice cells measured on {split}"
                       + (f"; {len(small)} below min_size {s.min_size}" if small else ""))
    return f


_ERROR_KINDS = re.compile(r"(?<!average_)precision|recall|fpr|tpr|specificity|sensitivity|"
                          r"false_|true_|ppv|npv")


def _names(c: _Ctx) -> list[str]:
    return [m.metric or "" for m in c.ch.metrics]


def _fp_fn(c: _Ctx) -> Findings:
    f = Findings()
    if c.ch.task == "regression":
        f.found.append("regression: errors are over- and under-predictions")
    if c.ch.costs is not None:
        f.found.append("costs: section prices each kind of error")
    kinds = [m.id for m in c.ch.metrics if m.metric and _ERROR_KINDS.search(m.metric)]
    if kinds:
        f.found.append("metrics of each kind of error: " + ", ".join(kinds))
    if c.ch.costs is None and not kinds:
        f.missing.append(Gap("neither the costs of errors nor their rates are measured",
                             "add `costs:` (what a false positive and a false negative "
                             "cost), or precision and recall under `metrics:`"))
    return f


_RARE = re.compile(r"average_precision|pr_auc|recall|precision|balanced|macro|per_class|"
                   r"f1|mcc")


def _rare(c: _Ctx) -> Findings:
    f = Findings()
    if c.ch.task in ("regression", "errors"):
        f.na = f"a {c.ch.task} task has no classes"
        return f
    fit = [m.id for m in c.ch.metrics if m.metric and _RARE.search(m.metric)]
    if fit:
        f.found.append("metrics that see the rare class: " + ", ".join(fit))
    else:
        f.missing.append(Gap("only metrics a majority class dominates",
                             "add average_precision or recall (binary), or a per-class / "
                             "macro metric (multiclass) under `metrics:`"))
    return f


# -- deployment ----------------------------------------------------------------------
def _mode(c: _Ctx) -> Findings:
    d = c.plan.deployment
    if d is not None and d.mode:
        return Findings(found=[f"deployment.mode: {d.mode}"])
    return Findings(missing=[Gap("the serving mode is not stated",
                                 "write `planning.deployment.mode: realtime | batch | "
                                 "streaming`")])


def _where(c: _Ctx) -> Findings:
    d = c.plan.deployment
    if d is not None and d.where:
        return Findings(found=[f"deployment.where: {d.where}"])
    return Findings(missing=[Gap("where the model runs is not stated",
                                 "write `planning.deployment.where: cloud | edge | "
                                 "on_premise`")])


# What each budget is measured by: metric ids or custom functions naming these words.
_MEASURES = {"latency_budget_ms": ("latency", r"latency|_ms\b|millis"),
             "qps": ("throughput", r"qps|throughput|rps|per_second"),
             "memory_mb": ("memory", r"memory|_mb\b|ram")}


def _budget(c: _Ctx, key: str, budget: float, f: Findings) -> None:
    word, pattern = _MEASURES[key]
    rx = re.compile(pattern)
    measured = [m.id for m in c.ch.metrics if rx.search(m.id) or rx.search(m.custom or "")]
    unit = {"latency_budget_ms": "ms", "qps": "QPS", "memory_mb": "MB"}[key]
    if not measured:
        f.unverified.append(Gap(
            f"{key} {budget:g} {unit}: no {word} is measured — unverified, not met",
            f"add a custom metric measuring {word} (e.g. `{{id: {word}_{unit.lower()}, "
            f"custom: \"project_metrics:{word}\", direction: "
            f"{'higher' if key == 'qps' else 'lower'}}}`) and list it under "
            "`diagnosis.budgets`"))
        return
    mid = measured[0]
    winner = c.result.winner if c.result is not None else None
    value = c.figure(winner, mid) if winner else None
    if value is None:
        f.unverified.append(Gap(f"{key} {budget:g} {unit}: measured by `{mid}`, no figure "
                                "given", "run the evaluation and pass `--result`"))
        return
    ok = value >= budget if key == "qps" else value <= budget
    if ok:
        f.found.append(f"{key} {budget:g} {unit}: {winner}'s {mid} {_fmt(value)}, within")
    else:
        f.missing.append(Gap(f"{key} {budget:g} {unit}: {winner}'s {mid} {_fmt(value)} "
                             "exceeds the budget", "a faster or smaller model, or a budget "
                                                   "the product can live with"))


def _compute(c: _Ctx) -> Findings:
    f = Findings()
    d = c.plan.deployment
    if d is not None and d.compute:
        f.found.append(f"deployment.compute: {d.compute}")
    else:
        f.missing.append(Gap("the serving compute is not stated",
                             "write `planning.deployment.compute`"))
    if d is not None and d.memory_mb is not None:
        _budget(c, "memory_mb", d.memory_mb, f)
    return f


def _latency(c: _Ctx) -> Findings:
    f = Findings()
    d = c.plan.deployment
    budgets = [(k, getattr(d, k)) for k in ("latency_budget_ms", "qps")
               if d is not None and getattr(d, k) is not None]
    if not budgets:
        f.missing.append(Gap("no latency or QPS budget", "write `planning.deployment."
                                                         "latency_budget_ms` and `qps`"))
    for k, v in budgets:
        _budget(c, k, v, f)
    return f


def _provenance(c: _Ctx) -> Findings:
    if c.result is None:
        return Findings(unverified=[Gap("the data fingerprints are in each result",
                                        "pass `--result` to check them")])
    src = c.result.data.get("sources") if isinstance(c.result.data, dict) else None
    prints = [s for s in src or [] if isinstance(s, dict) and s.get("sha256_sampled")]
    if prints:
        return Findings(found=[f"{len(prints)} data source(s) fingerprinted in the result "
                               f"(run {c.result.run_id or 'of ' + c.result.created_at})"])
    return Findings(missing=[Gap("the result records no data fingerprint",
                                 "re-run with this version of mlscope")])


def _rollout(c: _Ctx) -> Findings:
    f = Findings()
    stages = c.plan.rollout
    if not stages:
        f.missing.append(Gap("no rollout plan", "write `planning.rollout` (new_product, "
                                                "shadow, replacement, canary, blue_green)"))
        return f
    f.found.append("rollout: " + " → ".join(stages))
    if ({"replacement", "shadow", "canary", "blue_green"} & set(stages)
            and c.ch.blessed is None):
        f.missing.append(Gap("the rollout replaces a system that is not measured",
                             "name the system in production under `blessed:` so that "
                             "`mlscope check` gates the replacement"))
    return f


# -- monitoring ----------------------------------------------------------------------
def _monitoring(c: _Ctx) -> Findings:
    f = Findings()
    m = c.plan.monitoring
    if c.ch.monitor is not None:  # what `mlscope monitor` watches with the charter's section
        f.found.extend(f"`monitor:` watches {w}" for w in c.ch.monitor.watches(c.ch.task))
    if not m.all():
        if not f.found:
            f.missing.append(Gap("nothing is monitored", "list what is watched under "
                                 "`planning.monitoring`, or add a `monitor:` section"))
        return f
    ids = c.ch.metric_ids()
    known = set(ids) | set(REGISTRY)
    for name in m.ml:
        if name in known:
            f.found.append(f"ML metric `{name}` " + ("computed" if name in ids
                                                     else "in the registry"))
        else:
            f.missing.append(Gap(f"ML metric `{name}` is no metric{did_you_mean(name, ids)}",
                                 "name a metric id under `metrics:` or a registry metric"))
    kinds = [k for k in ("software", "input", "output", "business", "other")
             if getattr(m, k)]
    if kinds:
        f.found.append("stated (not checkable): " + ", ".join(
            f"{k} {len(getattr(m, k))}" for k in kinds))
    if not m.ml and c.ch.monitor is None:
        f.missing.append(Gap("no ML metric is monitored",
                             "name the metrics watched in production under "
                             "`planning.monitoring.ml`"))
    return f


CHECKERS: dict[str, Callable[[_Ctx], Findings]] = {
    "datasets": _datasets, "labelling_strategy": _labelling, "metadata": _metadata,
    "human_level": _human_level, "literature": _literature, "quick_baselines": _quick,
    "older_system": _older, "failure_modes": _failure_modes, "slices": _slices,
    "fp_fn": _fp_fn, "rare_classes": _rare, "realtime_or_batch": _mode,
    "cloud_or_edge": _where, "compute": _compute, "latency_qps": _latency,
    "provenance_lineage": _provenance, "rollout": _rollout, "monitoring": _monitoring,
}


def _outcome(item: ChecklistItem, claimed: str, f: Findings | None) -> Outcome:
    if f is None:
        return "attested" if claimed == "answered" else (
            "not_applicable" if claimed == "not_applicable" else "open")
    if f.na is not None or claimed == "not_applicable":
        return "not_applicable"
    if f.missing:
        return "partial" if f.found else "missing"
    if f.unverified:
        return "unverified"
    return "evidence"


def check_items(ch: Charter, result: EvaluationResult | None = None) -> list[ItemEvidence]:
    """Every checklist item (registry order) with its evidence, gaps and outcome.

    Parameters
    ----------
    ch
        The charter.
    result
        A stored result of this charter, for figures (human level, baselines, per-slice
        requirements, measured budgets, data fingerprints); ``None`` checks the charter
        alone.

    Returns
    -------
    list of ItemEvidence
        One per :data:`CHECKLIST` item.
    """
    ctx = _Ctx(ch, result)
    out = []
    for key, item in CHECKLIST.items():
        ans = ch.planning.checklist.get(key)
        claimed = ans.status if ans is not None else "open"
        note = (ans.note or "") if ans is not None else ""
        checker = CHECKERS.get(key)
        f = checker(ctx) if checker is not None else None
        outcome = _outcome(item, claimed, f)
        ev = ItemEvidence(key=key, title=item.title, stage=item.stage,
                          question=item.question, claimed=claimed, note=note,
                          checkable=checker is not None, outcome=outcome)
        if f is not None:
            ev.found, ev.missing, ev.unverified = f.found, f.missing, f.unverified
            if outcome == "not_applicable":
                ev.missing = []  # moot: the item does not apply (reason in `note`)
            if f.na is not None and not note:
                ev.note = f.na
            if claimed == "answered" and outcome in ("missing", "partial", "unverified"):
                ev.flags.append("claimed answered, but the evidence is "
                                + ("incomplete" if outcome == "partial" else outcome))
            if claimed == "not_applicable" and (f.found or f.unverified) and f.na is None:
                ev.flags.append(f"claimed not applicable ({note}), yet the charter states "
                                + "; ".join([*f.found, *(g.what for g in f.unverified)]))
        out.append(ev)
    return out
