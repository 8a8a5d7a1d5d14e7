"""The brief: a project's plan and its evidence, composed as plain data for a product owner.

:func:`compose_brief` gathers, from a charter and (optionally) a stored result, every fact
the brief shows — goal and decision, archetype, requirements and their evidence, baselines
and human level, feasibility and cost, failure modes and their slices, rollout and
monitoring, readiness and the open items. Every figure is copied from the result (or
computed from it by :func:`~mlscope.plan.feasibility.assess_feasibility`); where a figure is
missing, :attr:`Brief.wanting` says which command or charter key would provide it. Nothing
is formatted for a medium here: :mod:`mlscope.report.brief` renders markdown and HTML.

:func:`portfolio_brief` is the short brief of an inline portfolio entry (drivers only: no
charter, so no checklist can be checked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlscope.charter.planning import CHECKLIST, STAGES, Driver, FeasibilityDrivers, ImpactDrivers
from mlscope.charter.schema import Charter, SatisficingRule
from mlscope.plan.feasibility import assess_feasibility, requirement_targets
from mlscope.plan.portfolio import Project
from mlscope.plan.readiness import PlanCheck, plan_check
from mlscope.result import EvaluationResult, RequirementCheck

__all__ = ["ARCHETYPE_TEXT", "Brief", "Figure", "compose_brief", "portfolio_brief"]

#: What each archetype means for the model and the data, in one line.
ARCHETYPE_TEXT = {
    "software_2_0": "Software 2.0: the model replaces hand-written logic; its own outputs "
                    "and their outcomes feed the next model (the data flywheel).",
    "human_in_the_loop": "Human in the loop: a person sees each prediction and decides; "
                         "the model must be good enough to save effort, and corrections "
                         "are collected.",
    "autonomous": "Autonomous: predictions act with no one checking; the acceptable "
                  "failure rate, how it is guaranteed and the scope must be stated.",
}
_QUESTION = {
    "flywheel": "What does the data flywheel look like?",
    "good_enough": "How good must it be to save effort?",
    "corrections": "How are corrections collected?",
    "failure_rate": "Acceptable failure rate",
    "guarantee": "How is it guaranteed?",
    "scope": "Scope",
}


@dataclass
class Figure:
    """One measured figure: a value with its interval, from the result (never invented).

    ``lower``/``upper`` are ``None`` when the result has no interval (``--resamples 0``).
    """

    label: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    note: str = ""


@dataclass
class Brief:
    """Everything the brief shows, as plain data (JSON-ready through :meth:`to_dict`).

    Attributes
    ----------
    project, title
        The project's name and the brief's title.
    source
        Where the figures come from, in words (``"charter only"`` without a result).
    goal
        ``[(label, text)]``: problem, users, decision (only those the charter states).
    verdict
        ``{"kind", "headline", "model"}`` of the result's verdict, or ``None``.
    archetype, archetype_text, questions
        The archetype, its meaning, and its questions with the charter's answers
        (``None`` answer: not answered).
    requirements
        One row per requirement: ``metric``, ``slice``, ``bound``, ``model``, ``value``,
        ``lower``, ``upper``, ``met`` (``None`` values without a result).
    metric
        The metric baselines and human level are compared on (the optimised one).
    models
        :class:`Figure` per model on ``metric`` (candidates and baselines, each labelled
        with its kind).
    human
        :class:`Figure` per scored human rung.
    drivers
        ``[(group, driver, level or value, note)]``: impact and feasibility drivers.
    feasibility
        :meth:`~mlscope.plan.feasibility.Feasibility.to_dict` from the diagnosis' learning
        curve and the charter's label cost, or ``None``.
    failure_modes
        ``{"failure", "slice", "metric", "requirement", "checked", "value", "met"}`` each.
    deployment, rollout, monitoring
        ``[(key, value)]``; the rollout steps; ``{group: [metrics]}``.
    stages
        Readiness per stage (``stage``, ``ready``, ``total``, ``share``).
    found, missing
        Evidence found ``(item title, line)`` and missing or unverified
        ``(item title, what, fix)``.
    open_items
        ``(item title, note)`` of the checklist items left open.
    wanting
        Figures this brief lacks and what would provide each.
    """

    project: str
    title: str
    source: str
    goal: list[tuple[str, str]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    archetype: str | None = None
    archetype_text: str = ""
    questions: list[tuple[str, str | None]] = field(default_factory=list)
    requirements: list[dict[str, Any]] = field(default_factory=list)
    metric: str | None = None
    models: list[Figure] = field(default_factory=list)
    human: list[Figure] = field(default_factory=list)
    drivers: list[tuple[str, str, str, str]] = field(default_factory=list)
    feasibility: dict[str, Any] | None = None
    failure_modes: list[dict[str, Any]] = field(default_factory=list)
    deployment: list[tuple[str, str]] = field(default_factory=list)
    rollout: list[str] = field(default_factory=list)
    monitoring: dict[str, list[str]] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    found: list[tuple[str, str]] = field(default_factory=list)
    missing: list[tuple[str, str, str]] = field(default_factory=list)
    open_items: list[tuple[str, str]] = field(default_factory=list)
    wanting: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def _primary(ch: Charter) -> str:
    sel = ch.selection
    return sel.optimize if isinstance(sel, SatisficingRule) else ch.metrics[0].id


def _report_split(res: EvaluationResult) -> str | None:
    s = res.splits.get("report") or res.splits.get("selection")
    return str(s) if s else None


def _drivers(impact: ImpactDrivers, fea: FeasibilityDrivers) -> list[tuple[str, str, str,
                                                                            str]]:
    out: list[tuple[str, str, str, str]] = []
    for name in ImpactDrivers.model_fields:
        d = getattr(impact, name)
        out.append(("impact", name, d.level if d else "", (d.note or "") if d else ""))
    for name in FeasibilityDrivers.model_fields:
        v = getattr(fea, name)
        if isinstance(v, Driver):
            out.append(("feasibility", name, v.level, v.note or ""))
        elif v is None:
            out.append(("feasibility", name, "", ""))
        elif name == "label_cost":
            text = f"{v.per_item:g} {v.unit}".rstrip() + " per item" + (
                f", {v.per_week:g} per week" if v.per_week else "")
            out.append(("feasibility", name, text, ""))
        else:
            out.append(("feasibility", name, f"{v:,}" if isinstance(v, int) else str(v), ""))
    return out


def _evidence(b: Brief, check: PlanCheck) -> None:
    b.stages = [{"stage": s.stage, "ready": s.ready, "total": s.total,
                 "share": round(s.share, 4)} for s in check.stages]
    for it in check.items:
        b.found.extend((it.title, line) for line in it.found)
        b.missing.extend((it.title, g.what, g.fix) for g in it.missing)
        b.missing.extend((it.title, "unverified: " + g.what, g.fix) for g in it.unverified)
        if it.outcome == "open":
            b.open_items.append((it.title, it.note or CHECKLIST[it.key].question))


def _checks_shown(res: EvaluationResult) -> list[RequirementCheck]:
    """The requirement checks the brief shows: those of the model the verdict acts on (the
    rule it ships, the production model it keeps, the candidate nearest the requirements),
    else, as before a verdict existed, the selected model's (``result.requirements``)."""
    v = res.verdict
    if v is not None and v.model is not None:
        mine = [q for q in v.requirements if q.model == v.model]
        if mine:
            return mine
    return list(res.requirements)


def _requirements(b: Brief, ch: Charter, res: EvaluationResult | None) -> None:
    checks = _checks_shown(res) if res is not None else []
    if checks:
        for q in checks:
            b.requirements.append({"metric": q.metric, "slice": q.slice, "bound": q.bound,
                                   "model": q.model, "value": q.value, "lower": q.lower,
                                   "upper": q.upper, "met": q.met,
                                   "decided_on": q.decided_on, "certified": q.certified})
        return
    for mid, bound in ch.requirements.items():
        b.requirements.append({"metric": mid, "slice": "overall",
                               "bound": f"{bound.op} {bound.value:g}", "model": None,
                               "value": None, "lower": None, "upper": None, "met": None})
    for sr in ch.slice_requirements:
        b.requirements.append({"metric": sr.metric, "slice": sr.slice,
                               "bound": f"{sr.op} {sr.value:g}",
                               "model": None, "value": None, "lower": None, "upper": None,
                               "met": None})
    if b.requirements:
        b.wanting.append("requirement values: run `mlscope run` (then `mlscope plan "
                         "--result mlscope-out/run/result.json`)")
    else:
        b.wanting.append("no requirement is stated: write the bound the model must meet "
                         "under `requirements:`")


def _figures(b: Brief, ch: Charter, res: EvaluationResult) -> None:
    """Each model's value on the optimised metric, and the human rungs'."""
    split = _report_split(res)
    metric = b.metric or _primary(ch)
    kinds = {m.name: m.kind for m in res.models}
    bkind = {x.name: x.kind for x in res.baselines}
    for v in res.values:
        if v.split == split and v.slice == "overall" and v.metric == metric:
            kind = bkind.get(v.model) or kinds.get(v.model, "candidate")
            b.models.append(Figure(v.model, v.value, v.lower, v.upper, kind))
    shown = {f.label for f in b.models}
    for x in res.baselines:  # figures quoted from elsewhere (external baselines)
        if x.name not in shown and metric in x.values:
            b.models.append(Figure(x.name, x.values[metric], note=f"{x.kind}"
                                   + (f", from {x.source}" if x.source else "")))
    h = res.human
    if h is None:
        if not any(k == "human" for k in bkind.values()):
            b.wanting.append("human level: add a `kind: human` baseline (annotations of "
                             "people doing the task) and run `mlscope run`")
        return
    for rung in h.rungs:
        hv = rung.value(metric)
        if rung.scored and hv is not None and hv.value is not None:
            b.human.append(Figure(rung.name, hv.value, hv.lower, hv.upper,
                                  f"{rung.n_items} items"))
    if not b.human:
        b.wanting.append(f"human level on {metric}: the human baseline is not scored on "
                         "it (see the report's human-level section)")


def _curve(res: EvaluationResult) -> tuple[Any, str] | None:
    """The diagnosis' learning curve refitted from its stored points (the same seed, level
    and resamples: the fit and its bootstrap are those the diagnosis made)."""
    from mlscope.diagnose.curve_fit import fit_learning_curve

    dg = res.diagnosis
    lc = dg.learning_curve if dg is not None else None
    stored = (lc or {}).get("curve")
    if dg is None or not isinstance(stored, dict):
        return None
    info = res.metric_info(dg.metric)
    curve = fit_learning_curve(stored["sizes"], stored["values"],
                               direction=stored["direction"], bounds=info.bounds,
                               level=float(stored["level"]),
                               resamples=int(stored["resamples"]), seed=res.seed)
    return curve, str((lc or {}).get("source") or "measured points")


def _feasibility(b: Brief, ch: Charter, res: EvaluationResult | None) -> None:
    fea = ch.planning.feasibility
    if fea.label_cost is None:
        b.wanting.append("label cost: write `planning.feasibility.label_cost: {per_item:, "
                         "unit:, per_week:}` for money and weeks")
    got = _curve(res) if res is not None else None
    if got is None:
        b.wanting.append("rows, money and weeks per requirement: run `mlscope diagnose` "
                         "with `diagnosis.learning_curve` for a learning curve")
        return
    assert res is not None
    assert res.diagnosis is not None
    curve, source = got
    metric = res.diagnosis.metric
    human = next(((f.label, f.value) for f in b.human if f.value is not None
                  and b.metric == metric), None)
    rule = next(((f.label, f.value) for f in b.models if f.note == "rule"
                 and f.value is not None and b.metric == metric), None)
    b.feasibility = assess_feasibility(
        curve, metric=metric, requirements=requirement_targets(ch.requirements, metric),
        label_cost=fea.label_cost, labelled_rows=fea.labelled_rows,
        human=human, rule=rule, curve_source=source).to_dict()


def compose_brief(ch: Charter, result: EvaluationResult | None = None, *,
                  source: str | None = None, check: PlanCheck | None = None) -> Brief:
    """The brief of a charter, with figures from ``result`` when given.

    Parameters
    ----------
    ch
        The charter.
    result
        A stored result of the charter (its figures), or ``None``.
    source
        Where ``result`` came from, in words (a path, a store run).
    check
        The plan check already made (:func:`~mlscope.plan.plan_check`); made here if
        ``None``.

    Returns
    -------
    Brief
    """
    p = ch.planning
    check = check if check is not None else plan_check(ch, result)
    b = Brief(project=ch.project, title=f"{ch.project} — project brief",
              source=(f"charter and {source}" if source else "charter and a result")
              if result is not None else "charter only")
    b.goal = [(k, v) for k, v in (("Problem", p.problem), ("Users", p.users),
                                  ("Decision", p.decision)) if v]
    if not b.goal:
        b.wanting.append("the goal: write `planning.problem`, `planning.users` and "
                         "`planning.decision`")
    if result is not None and result.verdict is not None:
        b.verdict = {"kind": result.verdict.kind, "headline": result.verdict.headline,
                     "model": result.verdict.model}
    elif result is None:
        b.wanting.append("the verdict: run `mlscope run`")
    if p.archetype:
        from mlscope.charter.planning import ARCHETYPE_QUESTIONS

        b.archetype = p.archetype
        b.archetype_text = ARCHETYPE_TEXT[p.archetype]
        for key in ARCHETYPE_QUESTIONS[p.archetype]:
            ans = getattr(p.questions, key)
            b.questions.append((_QUESTION[key], None if ans is None else (
                f"{ans:g}" if isinstance(ans, float) else str(ans))))
    else:
        b.wanting.append("the archetype: write `planning.archetype` (software_2_0, "
                         "human_in_the_loop or autonomous)")
    b.metric = _primary(ch)
    _requirements(b, ch, result)
    if result is not None:
        _figures(b, ch, result)
    else:
        b.wanting.append("baselines' and human-level figures: run `mlscope run`")
    b.drivers = _drivers(p.impact, p.feasibility)
    _feasibility(b, ch, result)
    got = {(q.metric, q.slice): q for q in (_checks_shown(result) if result else [])}
    checked = {(r.metric, r.slice) for r in ch.slice_requirements}
    for fm in p.failure_modes:
        q = got.get((fm.metric or "", fm.slice or ""))
        b.failure_modes.append({
            "failure": fm.failure, "slice": fm.slice, "metric": fm.metric,
            "requirement": fm.requirement, "checked": (fm.metric, fm.slice) in checked,
            "value": q.value if q else None, "met": q.met if q else None})
    if p.deployment is not None:
        d = p.deployment
        b.deployment = [(k, f"{v:g}" if isinstance(v, float) else str(v))
                        for k, v in (("mode", d.mode), ("where", d.where),
                                     ("compute", d.compute),
                                     ("latency budget (ms)", d.latency_budget_ms),
                                     ("queries per second", d.qps),
                                     ("memory (MB)", d.memory_mb)) if v is not None]
    b.rollout = list(p.rollout)
    b.monitoring = {k: list(v) for k, v in p.monitoring.model_dump().items() if v}
    _evidence(b, check)
    return b


def portfolio_brief(project: Project) -> Brief:
    """The short brief of an inline portfolio entry: its note, archetype and drivers.

    Without a charter no checklist item can be checked: every driver given is listed as
    found (a person's statement), every driver left out as missing, and the charter
    itself as the first thing wanted.
    """
    b = Brief(project=project.name, title=f"{project.name} — project brief",
              source="portfolio entry (drivers only, no charter)")
    if project.note:
        b.goal = [("Problem", project.note)]
    if project.archetype:
        b.archetype = project.archetype
        b.archetype_text = ARCHETYPE_TEXT[project.archetype]
    for group, score in (("impact", project.impact), ("feasibility", project.feasibility)):
        for d in score.drivers:
            b.drivers.append((group, d.driver, d.given or "", d.note))
            if d.given is not None:
                b.found.append((f"{group} driver", f"{d.driver}: {d.given}"
                                + (f" — {d.note}" if d.note else "") + " (stated)"))
            else:
                b.missing.append((f"{group} driver",
                                  f"{d.driver} is not given: its score spans [0, 1]",
                                  f"give `{group}.{d.driver}` in the portfolio entry"))
    # No charter: every checklist item is unchecked; said once per stage, with the fix.
    for stage in STAGES:
        keys = [k for k, it in CHECKLIST.items() if it.stage == stage]
        b.stages.append({"stage": stage, "ready": 0, "total": len(keys), "share": 0.0})
        b.missing.append((f"{stage} checklist",
                          f"no charter: {len(keys)} items unchecked ({', '.join(keys)})",
                          "`mlscope init DATA` writes a charter with the planning checklist; "
                          "`mlscope plan CHARTER` then checks it against the evidence"))
    b.wanting.append("every figure (requirements, baselines, human level, feasibility): "
                     "write a charter and run `mlscope run` and `mlscope diagnose`")
    return b
