"""The charter's ``planning:`` section: the project before the model, typed.

What the prediction is for (``problem``, ``users``, ``decision``), the archetype and its own
questions, the impact and feasibility drivers, how the model will be deployed, rolled out
and monitored, the failure modes brainstormed up front (each mapped to a slice, a metric
and a per-slice requirement), and the planning checklist: every item of
:data:`CHECKLIST` answered, open, or not applicable with the reason.

The checklist registry is the one place the items are defined: the schema accepts exactly
its keys, and later stages (``mlscope plan``, readiness, the brief) read each item's title,
stage and the evidence mlscope can check it against from it.

Older charters wrote ``archetype`` as free text, ``deployment`` as one word, and
``latency_budget_ms``, ``throughput_rps`` and ``monitoring`` (a list) directly under
``planning``: the one-word deployment, the two budgets and the list are still read (they
move into ``deployment`` and ``monitoring.other``); free text in ``archetype`` that names
no archetype is refused with the fix (move it to ``problem``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from mlscope.charter.strict import StrictModel
from mlscope.errors import did_you_mean

__all__ = [
    "ARCHETYPES",
    "ARCHETYPE_QUESTIONS",
    "CHECKLIST",
    "STAGES",
    "ArchetypeQuestions",
    "ChecklistAnswer",
    "ChecklistItem",
    "DeploymentSpec",
    "Driver",
    "FailureMode",
    "FeasibilityDrivers",
    "ImpactDrivers",
    "LabelCost",
    "MonitoringSpec",
    "PlanningSpec",
    "check_planning",
    "normalize_archetype",
]

Stage = Literal["planning", "evaluation", "deployment", "monitoring"]
STAGES: tuple[Stage, ...] = ("planning", "evaluation", "deployment", "monitoring")


@dataclass(frozen=True)
class ChecklistItem:
    """One item of the planning checklist.

    Attributes
    ----------
    key
        The charter key (``planning.checklist.<key>``).
    title
        A short title for reports and the brief.
    question
        The question the item asks.
    stage
        The readiness stage it counts towards.
    evidence
        What in the charter or its results mlscope can check the answer against; ``None``
        when only a person can answer it.
    """

    key: str
    title: str
    question: str
    stage: Stage
    evidence: str | None = None


def _items(*rows: tuple[str, str, str, Stage, str | None]) -> dict[str, ChecklistItem]:
    return {r[0]: ChecklistItem(*r) for r in rows}


# The planning checklist, in the order a project meets it. Keys are stable: charters and
# stored results name them.
CHECKLIST: dict[str, ChecklistItem] = _items(
    ("datasets", "Datasets", "Which data sets exist, and are they enough?", "planning",
     "data.table (or labels) with its rows per split"),
    ("labelling_strategy", "Labelling strategy", "How are labels obtained, at what cost?",
     "planning", "planning.labeling and planning.feasibility.label_cost"),
    ("metadata", "Metadata", "Which metadata (time, source, segment) is kept with each row?",
     "planning", "slices.columns and a time column"),
    ("human_level", "Human-level performance", "How well does a person do the task?",
     "evaluation", "a human baseline under baselines:"),
    ("literature", "Literature", "What do published results reach on similar problems?",
     "planning", "planning.feasibility.published_results"),
    ("quick_baselines", "Quick-and-dirty baselines",
     "What do a rule and a simple model reach?", "evaluation",
     "trivial, rule or learned baselines under baselines:"),
    ("older_system", "The older system", "What does the system in place today reach?",
     "evaluation", "blessed: or an external baseline"),
    ("failure_modes", "Failure modes", "How might the system go wrong, and for whom?",
     "evaluation", "planning.failure_modes, each with a slice, a metric and a requirement"),
    ("slices", "Slices", "Which subgroups must work?", "evaluation", "slices:"),
    ("fp_fn", "False positives and negatives",
     "What does each kind of error cost?", "evaluation",
     "costs: or metrics of each kind of error (precision, recall)"),
    ("rare_classes", "Rare classes", "Which classes are rare, and are they measured?",
     "evaluation", "per-class metrics or recall of the rare class"),
    ("buy_in", "Buy-in", "Do the product owner and the users agree on the goal?",
     "planning", None),
    ("realtime_or_batch", "Realtime or batch", "Are predictions served live or in batches?",
     "deployment", "planning.deployment.mode"),
    ("cloud_or_edge", "Cloud or edge", "Where does the model run?", "deployment",
     "planning.deployment.where"),
    ("compute", "Compute", "What compute does serving need and have?", "deployment",
     "planning.deployment.compute and memory_mb"),
    ("latency_qps", "Latency and QPS", "How fast, and how many predictions per second?",
     "deployment", "planning.deployment budgets against measured metrics"),
    ("logging", "Logging", "What is logged per prediction?", "monitoring", None),
    ("security_privacy", "Security and privacy", "Who may see the data and the predictions?",
     "deployment", None),
    ("provenance_lineage", "Provenance and lineage",
     "Can each prediction be traced to its data and model?", "deployment",
     "the result's data fingerprints"),
    ("rollout", "Rollout", "New product, shadow, replacement, canary or blue-green?",
     "deployment", "planning.rollout"),
    ("monitoring", "Monitoring", "Which software, input, output, ML and business metrics "
     "are watched?", "monitoring", "planning.monitoring, ML metrics among metrics:"),
)

ARCHETYPES: tuple[str, ...] = ("software_2_0", "human_in_the_loop", "autonomous")
# Each archetype's own questions (keys of `planning.questions`).
ARCHETYPE_QUESTIONS: dict[str, tuple[str, ...]] = {
    "software_2_0": ("flywheel",),
    "human_in_the_loop": ("good_enough", "corrections"),
    "autonomous": ("failure_rate", "guarantee", "scope"),
}
# Spellings of the archetypes an older charter or a person may write.
_ARCHETYPE_ALIASES = {
    "software_2_0": "software_2_0", "software2_0": "software_2_0", "software_2": "software_2_0",
    "software2": "software_2_0", "sw_2_0": "software_2_0",
    "human_in_the_loop": "human_in_the_loop", "hitl": "human_in_the_loop",
    "human_in_loop": "human_in_the_loop",
    "autonomous": "autonomous", "autonomous_system": "autonomous", "fully_autonomous":
    "autonomous",
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def normalize_archetype(value: str) -> str | None:
    """The archetype ``value`` names (``"Human in the loop"`` → ``human_in_the_loop``).

    Parameters
    ----------
    value
        The text written in the charter.

    Returns
    -------
    str or None
        One of :data:`ARCHETYPES`, or ``None`` when ``value`` names none of them.
    """
    return _ARCHETYPE_ALIASES.get(_norm(value))


def _archetype(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    found = normalize_archetype(value)
    if found is not None:
        return found
    hint = did_you_mean(_norm(value), list(ARCHETYPES))
    free = " " in value.strip()
    raise ValueError(
        f"unknown archetype {value!r}{hint}; the archetype is one of "
        f"{', '.join(ARCHETYPES)}\nfix: "
        + ("move this description to `problem:` and write " if free else "write ")
        + "`archetype: software_2_0` (the model replaces hand-written logic), "
        "`human_in_the_loop` (a person acts on or corrects each prediction) or "
        "`autonomous` (predictions act without review)")


Level = Literal["low", "medium", "high"]
_LEVELS = ("low", "medium", "high")


class Driver(StrictModel):
    """A driver's level (``low``, ``medium``, ``high``) and a note saying why.

    Written ``high`` or ``{level: high, note: "..."}``.
    """

    level: Level
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in _LEVELS:
                raise ValueError(
                    f"a driver is low, medium or high, got {value!r}"
                    f"{did_you_mean(value, list(_LEVELS))}\nfix: write e.g. `high` or "
                    "`{level: high, note: why}`")
            return {"level": value}
        return value


class ImpactDrivers(StrictModel):
    """Where the value of the prediction comes from."""

    cheap_prediction: Driver | None = None
    removing_friction: Driver | None = None
    automating_pipeline: Driver | None = None


class LabelCost(StrictModel):
    """What one label costs and how many can be had per week."""

    per_item: float = Field(ge=0, allow_inf_nan=False)
    unit: str = ""
    per_week: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class FeasibilityDrivers(StrictModel):
    """How hard the project is: data, labels, difficulty and the accuracy it needs."""

    labelled_rows: int | None = Field(default=None, ge=0)
    label_cost: LabelCost | None = None
    data_stability: Driver | None = None
    published_results: str | None = None
    human_can_do: Literal["yes", "partly", "no"] | None = None
    accuracy_requirement: Driver | None = None
    cost_of_errors: Driver | None = None

    @field_validator("human_can_do", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        # YAML reads a bare yes/no as true/false.
        return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


class ArchetypeQuestions(StrictModel):
    """The archetype's own questions (:data:`ARCHETYPE_QUESTIONS` says whose is which)."""

    flywheel: str | None = None
    good_enough: str | None = None
    corrections: str | None = None
    failure_rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    guarantee: str | None = None
    scope: str | None = None


_MODES = {"realtime": "realtime", "online": "realtime", "batch": "batch",
          "streaming": "streaming"}
_WHERE = ("cloud", "edge", "on_premise")


class DeploymentSpec(StrictModel):
    """How predictions are served: mode, place, budgets and compute.

    ``deployment: batch`` (one word, as older charters write it) reads as ``{mode: batch}``;
    ``online`` as ``realtime``; ``edge`` as ``{where: edge}``.
    """

    mode: Literal["realtime", "batch", "streaming"] | None = None
    where: Literal["cloud", "edge", "on_premise"] | None = None
    latency_budget_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    qps: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    memory_mb: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    compute: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_word(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = _norm(value)
        if word in _MODES:
            return {"mode": _MODES[word]}
        if word in _WHERE:
            return {"where": word}
        allowed = [*_MODES, *_WHERE]
        raise ValueError(
            f"deployment {value!r} is none of {', '.join(allowed)}"
            f"{did_you_mean(word, allowed)}\nfix: write e.g. `deployment: {{mode: batch, "
            "where: cloud}` (mode: realtime, batch or streaming; where: cloud, edge or "
            "on_premise)")

    def label(self) -> str:
        """One line for reports, e.g. ``"batch, cloud, ≤ 200 ms"``."""
        bits: list[str] = [b for b in (self.mode, self.where) if b]
        if self.latency_budget_ms is not None:
            bits.append(f"≤ {self.latency_budget_ms:g} ms")
        if self.qps is not None:
            bits.append(f"{self.qps:g} QPS")
        return ", ".join(bits)


Rollout = Literal["new_product", "shadow", "replacement", "canary", "blue_green"]


class MonitoringSpec(StrictModel):
    """What is watched after deployment, by kind; ``other``: an older charter's plain list."""

    software: list[str] = Field(default_factory=list)
    input: list[str] = Field(default_factory=list)
    output: list[str] = Field(default_factory=list)
    ml: list[str] = Field(default_factory=list)
    business: list[str] = Field(default_factory=list)
    other: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        return {"other": value} if isinstance(value, list) else value

    def all(self) -> list[str]:
        """Every monitored quantity, kinds in order."""
        return [*self.software, *self.input, *self.output, *self.ml, *self.business,
                *self.other]


class FailureMode(StrictModel):
    """A way the system might go wrong, the slice where it would show, the metric that
    would show it and the requirement on that metric in that slice.

    ``requirement`` is a bound as the charter writes it (``">= 0.6"``); the charter's
    loader checks it (:func:`check_planning`) and ``schema.parse_bound`` reads it.
    """

    failure: str
    slice: str | None = None
    metric: str | None = None
    requirement: str | None = None


Status = Literal["answered", "open", "not_applicable"]
_STATUS_WORDS = {"answered": "answered", "done": "answered", "open": "open",
                 "todo": "open", "not_applicable": "not_applicable", "n_a": "not_applicable",
                 "na": "not_applicable"}
_ANSWER_FORMS = "`answered`, `open` or `not applicable: <why>`"


class ChecklistAnswer(StrictModel):
    """The state of a checklist item: answered, open, or not applicable (with the reason).

    Written ``answered``, ``open``, ``"not applicable: <why>"``, or
    ``{status: answered, note: "..."}``.
    """

    status: Status
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            head, sep, why = value.partition(":")
            status = _STATUS_WORDS.get(_norm(head))
            if status is None:
                raise ValueError(
                    f"a checklist answer is {_ANSWER_FORMS}, got {value!r}"
                    f"{did_you_mean(_norm(head), ['answered', 'open', 'not_applicable'])}"
                    f"\nfix: write one of {_ANSWER_FORMS}")
            value = {"status": status, **({"note": why.strip()} if sep else {})}
        elif not isinstance(value, Mapping):
            raise ValueError(f"a checklist answer is {_ANSWER_FORMS} or {{status:, note:}}, "
                             f"got {value!r}\nfix: write one of {_ANSWER_FORMS}")
        elif isinstance(value.get("status"), str):
            value = {**value, "status": _STATUS_WORDS.get(_norm(value["status"]),
                                                          value["status"])}
        if (isinstance(value, Mapping) and value.get("status") == "not_applicable"
                and not str(value.get("note") or "").strip()):
            raise ValueError(
                "`not applicable` needs the reason\nfix: write `not applicable: <why>`, "
                "e.g. `not applicable: batch scoring, no latency budget`")
        return value


def _checklist_key(key: str) -> str:
    if key not in CHECKLIST:
        best = did_you_mean(key, list(CHECKLIST))
        raise ValueError(
            f"unknown checklist item `{key}`{best} (items: {', '.join(CHECKLIST)})"
            f"\nfix: {'rename it as suggested' if best else 'use one of the items listed'}; "
            "the items are fixed (docs/charter.md#planning)")
    return key


ChecklistKey = Annotated[str, AfterValidator(_checklist_key)]


_OLD_BUDGETS = ("latency_budget_ms", "throughput_rps")


class PlanningSpec(StrictModel):
    """The project before the model: goal, archetype, drivers, deployment, rollout,
    monitoring, failure modes and the planning checklist (docs/charter.md#planning)."""

    problem: str | None = None
    users: str | None = None
    decision: str | None = None
    archetype: Literal["software_2_0", "human_in_the_loop", "autonomous"] | None = None
    questions: ArchetypeQuestions = Field(default_factory=ArchetypeQuestions)
    impact: ImpactDrivers = Field(default_factory=ImpactDrivers)
    feasibility: FeasibilityDrivers = Field(default_factory=FeasibilityDrivers)
    deployment: DeploymentSpec | None = None
    rollout: list[Rollout] = Field(default_factory=list)
    labeling: str | None = None
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    failure_modes: list[FailureMode] = Field(default_factory=list)
    checklist: dict[ChecklistKey, ChecklistAnswer] = Field(default_factory=dict)

    @field_validator("archetype", mode="before")
    @classmethod
    def _known_archetype(cls, value: Any) -> Any:
        return _archetype(value)

    @field_validator("rollout", mode="before")
    @classmethod
    def _rollout_list(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list):
            return [_norm(v) if isinstance(v, str) else v for v in items]
        return value

    @model_validator(mode="before")
    @classmethod
    def _older_budgets(cls, value: Any) -> Any:
        # `latency_budget_ms` and `throughput_rps` were written directly under `planning`:
        # they move into `deployment`, the one place later stages read budgets from.
        if not isinstance(value, dict) or not set(_OLD_BUDGETS) & set(value):
            return value
        out = dict(value)
        dep = out.get("deployment")
        if isinstance(dep, str):
            try:
                dep = DeploymentSpec.model_validate(dep).model_dump(exclude_none=True)
            except ValidationError:
                # Left as written: its own error is reported at `deployment`'s line.
                return {k: v for k, v in out.items() if k not in _OLD_BUDGETS}
        dep = dict(dep) if isinstance(dep, dict) else {} if dep is None else dep
        if not isinstance(dep, dict):
            return {k: v for k, v in out.items() if k not in _OLD_BUDGETS}
        for old, new in (("latency_budget_ms", "latency_budget_ms"), ("throughput_rps", "qps")):
            if old in out:
                given = out.pop(old)
                if new in dep and dep[new] != given:
                    raise ValueError(
                        f"`planning.{old}` ({given}) and `planning.deployment.{new}` "
                        f"({dep[new]}) disagree\nfix: keep only `deployment.{new}`")
                dep[new] = given
        out["deployment"] = dep
        return out

    def open_items(self) -> list[str]:
        """The checklist items not answered: open, or never mentioned (registry order)."""
        return [k for k in CHECKLIST if k not in self.checklist
                or self.checklist[k].status == "open"]


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: tuple[Any, ...], message: str, fix: str | None = None, *,
            at: tuple[Any, ...] | None = None) -> None: ...


def _slice_known(name: str, columns: set[str], where: set[str]) -> bool:
    if name == "overall" or name in where or name in columns:
        return True
    parts = [p.strip() for p in name.split("×")]
    return all("=" in p and p.split("=", 1)[0].strip() in columns for p in parts)


def check_planning(report: _Reporter, metric_ids: list[str] | None,
                   parse_bound: Callable[[Any], object]) -> None:
    """Check what the schema cannot: questions of another archetype, and failure modes
    naming a metric that is not computed, a slice that is not defined, or a requirement
    that is not a bound.

    Parameters
    ----------
    report
        Receives the problems (``add``); ``raw`` is the charter as read.
    metric_ids
        The metric ids computed, or ``None`` when the metrics did not pass the schema
        (metric names are then not checked).
    parse_bound
        Reads a bound (``schema.parse_bound``: the schema imports this module), raising
        ``ValueError`` with the form of a bound.
    """
    raw = report.raw
    plan = raw.get("planning")
    if not isinstance(plan, dict):
        return
    arch = plan.get("archetype")
    arch = normalize_archetype(arch) if isinstance(arch, str) else None
    questions = plan.get("questions")
    if arch is not None and isinstance(questions, dict):
        own = ARCHETYPE_QUESTIONS[arch]
        for q in questions:
            owner = next((a for a, qs in ARCHETYPE_QUESTIONS.items() if q in qs), None)
            if owner is not None and owner != arch:
                report.add(("planning", "questions", q),
                           f"`{q}` is a question of the `{owner}` archetype; this project "
                           f"is `{arch}`, whose questions are {', '.join(own)}",
                           fix=f"answer {', '.join(f'`{k}`' for k in own)} instead, or "
                               f"change `archetype:` to `{owner}`")
    slices = raw.get("slices")
    slices = slices if isinstance(slices, dict) else {}
    columns = {str(c) for c in slices.get("columns") or [] if isinstance(c, str)}
    columns |= {str(c) for cross in slices.get("crosses") or [] if isinstance(cross, list)
                for c in cross if isinstance(c, str)}
    where = {str(k) for k in (slices.get("where") or {})} if isinstance(
        slices.get("where"), dict) else set()
    modes = plan.get("failure_modes")
    for i, fm in enumerate(modes if isinstance(modes, list) else []):
        if not isinstance(fm, dict):
            continue
        metric, sl = fm.get("metric"), fm.get("slice")
        if isinstance(metric, str) and metric_ids is not None and metric not in metric_ids:
            report.add(("planning", "failure_modes", i, "metric"),
                       f"metric `{metric}` is not computed{did_you_mean(metric, metric_ids)} "
                       f"(computed: {', '.join(metric_ids)})",
                       fix="name a metric id listed under `metrics:`, or add the metric there")
        req = fm.get("requirement")
        if req is not None:
            try:
                parse_bound(req)
            except (ValueError, TypeError) as exc:
                report.add(("planning", "failure_modes", i, "requirement"), str(exc),
                           fix="write the requirement on the metric in that slice in quotes, "
                               "e.g. `requirement: \">= 0.6\"`")
        if isinstance(sl, str) and not _slice_known(sl, columns, where):
            known = sorted(columns | where)
            report.add(("planning", "failure_modes", i, "slice"),
                       f"slice `{sl}` is not defined{did_you_mean(sl, known)} (slices: "
                       f"{', '.join(known) or 'none'})",
                       fix="name a `slices.where` name, a `slices.columns` column, or "
                           "`column=value`; or define the slice under `slices:`")
