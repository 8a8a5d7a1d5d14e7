"""The charter: one YAML file per project, typed.

Unknown keys are errors (``extra="forbid"``); the loader turns pydantic's errors into
problems with file, line, "did you mean" and a fix.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from mlscope.charter.baselines_schema import (
    LEARNED_KINDS,
    TRIVIAL_KINDS,
    AnnotationsSpec,
    Baseline,
    ExternalBaseline,
    HumanBaseline,
    LearnedBaseline,
    RuleBaseline,
    TrivialBaseline,
)
from mlscope.charter.costs import CostsSpec
from mlscope.charter.guarantees import GuaranteesSpec
from mlscope.charter.hitl import HumanInTheLoopSpec
from mlscope.charter.monitor import MonitorSpec
from mlscope.charter.planning import PlanningSpec
from mlscope.charter.profile_spec import ProfileSpec
from mlscope.charter.strict import StrictModel

__all__ = [
    "BOUND_PATTERN",
    "LEARNED_KINDS",
    "TRIVIAL_KINDS",
    "AnnotationsSpec",
    "Baseline",
    "BlessedResult",
    "Bound",
    "Charter",
    "CompareSpec",
    "DataSpec",
    "DiagnosisSpec",
    "DuckDBTable",
    "ExternalBaseline",
    "FormulaRule",
    "Gate",
    "HumanBaseline",
    "IntervalSpec",
    "LearnedBaseline",
    "LearningCurveSpec",
    "LongSpec",
    "MetricEntry",
    "ParetoRule",
    "PlanningSpec",
    "PredictionFile",
    "ReportSpec",
    "Rule",
    "RuleBaseline",
    "SatisficingRule",
    "SliceRequirement",
    "SliceSpec",
    "SplitSpec",
    "TrivialBaseline",
    "WeightedRule",
    "format_number",
    "parse_bound",
]

Task = Literal["binary", "multiclass", "regression", "errors"]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A bound as the charter writes it (">= 0.8"): the operator and the number.
BOUND_PATTERN = re.compile(r"^\s*(>=|<=|>|<)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")




class Bound(StrictModel):
    """A one-sided bound on a metric, written ``">= 0.6"`` in the charter."""

    op: Literal[">=", "<=", ">", "<"]
    value: float
    decide_on: Literal["point", "bound"] | None = None  # requirements: docs/deciding.md

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        # Parsing here (not in the containing model) gives each bound its own error
        # location, so that every bad bound is reported on its own line.
        extra: dict[str, Any] = {}
        if isinstance(value, dict) and isinstance(value.get("bound"), str):  # {bound:, …}
            extra, value = {k: v for k, v in value.items() if k != "bound"}, value["bound"]
        if isinstance(value, str):
            m = BOUND_PATTERN.match(value)
            if m is None:
                raise ValueError(_bound_help(value))
            return {"op": m.group(1), "value": float(m.group(2)), **extra}
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(_bound_help(value))
        return value

    def holds(self, x: float) -> bool:
        return {
            ">=": x >= self.value,
            "<=": x <= self.value,
            ">": x > self.value,
            "<": x < self.value,
        }[self.op]

    def margin(self, x: float) -> float:
        """Signed distance to the bound: positive when met, negative when missed."""
        return x - self.value if self.op in (">=", ">") else self.value - x

    def __str__(self) -> str:
        return f"{self.op} {format_number(self.value)}"


class SliceRequirement(Bound):
    """A requirement on a metric in one slice: ``{metric: roc_auc, slice: no_car_policy,
    bound: ">= 0.6"}`` (docs/charter.md#slice_requirements). Checked, gated and reported
    like an overall requirement, on the point estimate; a slice too small to measure
    leaves it undefined, and not met."""

    metric: str
    slice: str
    decide_on: Literal["point"] | None = None


def format_number(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (``0.6``, ``120``, ``1e-07``)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def _bound_help(value: Any) -> str:
    return (
        f"a bound is written like \">= 0.6\" or \"<= 120\" (one of >=, <=, >, <, then a "
        f"number); got {value!r}"
    )


def parse_bound(value: Any) -> Bound:
    """Parse ``">= 0.6"`` (or a Bound, or ``{op:, value:}``) into a :class:`Bound`."""
    if isinstance(value, Bound):
        return value
    if isinstance(value, dict):
        return Bound(**value)
    if isinstance(value, str):
        m = BOUND_PATTERN.match(value)
        if m:
            return Bound(op=m.group(1), value=float(m.group(2)))
    raise ValueError(_bound_help(value))


class DuckDBTable(StrictModel):
    """A table inside a DuckDB database file."""

    database: str
    table: str


class PredictionFile(StrictModel):
    """One model's predictions in its own file, joined to the labels on the row id.

    ``score`` names the score column (binary, regression); ``classes`` maps each class to
    its probability column (multiclass).
    """

    path: str
    score: str | None = None
    classes: dict[str, str] | None = None


class LongSpec(StrictModel):
    """Predictions as a long table: one row per (row id, model)."""

    model_column: str
    score: str | None = None
    classes: dict[str, str] | None = None


class DataSpec(StrictModel):
    """Where the evaluation rows are and what each column means.

    Exactly one source: ``table`` (Parquet or CSV), ``duckdb`` (a table in a DuckDB file),
    or ``labels`` with ``predictions`` (one file per model, joined on ``id``). Models are
    given as ``models`` (wide: one score column per model, or per model a mapping
    class → column for multiclass) or ``long``.
    """

    table: str | None = None
    duckdb: DuckDBTable | None = None
    labels: str | None = None
    predictions: dict[str, PredictionFile] | None = None

    id: str | None = None
    label: str | None = None
    split: str | None = None
    weight: str | None = None
    # When each row happened (a date, a timestamp or a number): the run measures each
    # split's time range and the label's drift between them (docs/planning.md).
    time: str | None = None
    positive: str | int | bool | None = None
    score_type: Literal["probability", "logit", "score"] = "probability"
    classes: list[str] | None = None

    models: dict[str, str | dict[str, str]] | None = None
    long: LongSpec | None = None
    errors: dict[str, str | dict[str, str]] = Field(default_factory=dict)


class SplitSpec(StrictModel):
    """Which value of the split column plays which role."""

    selection: str = "validation"
    report: str | None = "test"
    train: str | None = "train"
    # Rows from the training distribution never trained on: tells overfitting apart from
    # distribution mismatch in `mlscope diagnose`.
    train_dev: str | None = None


class SliceSpec(StrictModel):
    """Slices: by column values, crossed columns, and named SQL predicates."""

    columns: list[str] = Field(default_factory=list)
    crosses: list[list[str]] = Field(default_factory=list)
    where: dict[str, str] = Field(default_factory=dict)
    min_size: int = Field(default=30, ge=1)


class MetricEntry(StrictModel):
    """One metric to compute: a registry metric with parameters, or a custom function.

    In YAML an entry is a metric name (``roc_auc``), or a mapping with ``metric`` (or
    ``custom``), an optional ``id`` (used by rules and formulas) and parameters inline::

        - {metric: precision, threshold: 0.3}
        - {id: r_at_p20, metric: recall_at_precision, precision: 0.2}
        - {id: cost, custom: "project_metrics:expected_cost", direction: lower}
    """

    id: str
    metric: str | None = None
    custom: str | None = None
    direction: Literal["higher", "lower"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"id": value, "metric": value}
        if isinstance(value, dict) and "params" not in value:
            reserved = {"id", "metric", "custom", "direction"}
            out = {k: v for k, v in value.items() if k in reserved}
            out["params"] = {k: v for k, v in value.items() if k not in reserved}
            if "id" not in out:
                out["id"] = out.get("metric") or out.get("custom", "")
            return out
        return value

    @model_validator(mode="after")
    def _check(self) -> MetricEntry:
        if (self.metric is None) == (self.custom is None):
            raise ValueError("give exactly one of `metric` (a registry name) or `custom`")
        if self.custom is not None:
            if ":" not in self.custom:
                raise ValueError(
                    f"custom metric must be written `module:function`, got {self.custom!r}"
                )
            if self.direction is None:
                raise ValueError("a custom metric needs `direction: higher` or `lower`")
        if not _IDENT.match(self.id):
            raise ValueError(
                f"metric id {self.id!r} must be an identifier (letters, digits, _) so that "
                "rules and formulas can name it; set `id:` explicitly"
            )
        return self


class _RuleBase(StrictModel):
    split: str | None = None
    tie_break: str | None = None
    # Baselines (names under `baselines:`) the chosen model must beat under this rule: a
    # list, or a mapping to a margin in the optimised metric's units (docs/deciding.md).
    must_beat: list[str] | dict[str, float] = Field(default_factory=list)

    def must_beat_margins(self) -> dict[str, float]:
        """Each baseline named by ``must_beat`` with its margin (0 when a list names it)."""
        if isinstance(self.must_beat, dict):
            return {k: float(v) for k, v in self.must_beat.items()}
        return {k: 0.0 for k in self.must_beat}


class SatisficingRule(_RuleBase):
    """Optimize one metric among the models that meet every constraint."""

    rule: Literal["satisficing"]
    optimize: str
    constraints: dict[str, Bound] = Field(default_factory=dict)


class WeightedRule(_RuleBase):
    """Weighted average of metrics after putting them on a common scale.

    ``scale``: ``minmax`` (default) maps each metric across the candidates to [0, 1] with 1
    the best value in that metric's direction; ``rank`` uses the rank (1 best, 0 worst);
    ``raw`` uses the values as they are, negated for lower-is-better metrics.
    """

    rule: Literal["weighted"]
    weights: dict[str, float]
    scale: Literal["minmax", "rank", "raw"] = "minmax"


class FormulaRule(_RuleBase):
    """An arithmetic expression over metric ids, with a stated direction."""

    rule: Literal["formula"]
    expression: str
    direction: Literal["higher", "lower"] = "higher"
    name: str = "formula"


class ParetoRule(_RuleBase):
    """The non-dominated set over named metrics; ``tie_break`` picks one from the front."""

    rule: Literal["pareto"]
    metrics: list[str] = Field(min_length=2)


Rule = Annotated[
    SatisficingRule | WeightedRule | FormulaRule | ParetoRule, Field(discriminator="rule")
]


class IntervalSpec(StrictModel):
    """Bootstrap confidence intervals; ``resamples: 0`` turns them off."""

    method: Literal["percentile"] = "percentile"
    level: float = Field(default=0.95, gt=0.5, lt=1.0)
    resamples: int = Field(default=1000, ge=0, le=100_000)
    # How a large binary split is resampled: see mlscope.engine.bucketed and
    # docs/computation.md. `auto` uses buckets from BUCKET_MIN_ROWS rows on.
    resampling: Literal["auto", "rows", "buckets"] = "auto"
    buckets: int = Field(default=256, ge=20, le=100_000)
    bins: int = Field(default=512, ge=16, le=100_000)


class BlessedResult(StrictModel):
    """The model in production as a stored result (``result.json`` of an earlier run)."""

    result: str
    model: str


class CompareSpec(StrictModel):
    """Pairs of models (or baselines) to compare with paired tests, beyond the selected
    and the blessed model: ``pairs: [[a, b], …]`` reports ``a − b``. ``mcnemar`` picks the
    tail of McNemar's test for accuracy in these pairs (``auto``: mid-p below 25
    discordant pairs, else the uncorrected chi-square)."""

    pairs: list[tuple[str, str]] = Field(default_factory=list)
    mcnemar: Literal["auto", "mid-p", "exact", "chi2", "chi2-cc"] = "auto"

    @field_validator("pairs", mode="before")
    @classmethod
    def _two_names(cls, value: Any) -> Any:
        # Said here in words: pydantic's tuple error ("missing required key `1`") reads as
        # if the pair were a mapping.
        if isinstance(value, list):
            for i, pair in enumerate(value):
                if not (isinstance(pair, list | tuple) and len(pair) == 2):
                    raise ValueError(f"pair {i} is {pair!r}: each pair is `[a, b]`, two "
                                     "model names (a − b is tested)")
        return value


class Gate(StrictModel):
    """A gate on one metric against the blessed model.

    ``improve: δ`` (superiority): the candidate must be better by at least δ;
    ``regress: δ`` (non-inferiority): it may be worse by at most δ. Both are decided on the
    interval bound, not the point estimate; ``relative: true`` reads δ as a share of the
    blessed model's value. ``slices: true`` also checks every slice, failing a slice only on
    significant evidence of a regression beyond δ, with the false-discovery rate across
    slices held at ``fdr``.
    """

    improve: float | None = None
    regress: float | None = None
    relative: bool = False
    slices: bool = False
    fdr: float = Field(default=0.05, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check(self) -> Gate:
        if (self.improve is None) == (self.regress is None):
            raise ValueError("give exactly one of `improve: δ` (must be better by at least δ) "
                             "or `regress: δ` (may be worse by at most δ)")
        if self.improve is not None and self.improve < 0:
            raise ValueError(f"`improve` is a margin the candidate must gain and must be >= 0, "
                             f"got {self.improve}; to allow a regression write "
                             f"`regress: {-self.improve:g}`")
        if self.regress is not None and self.regress < 0:
            raise ValueError(f"`regress` is the largest allowed loss and must be >= 0, got "
                             f"{self.regress}; to require an improvement write "
                             f"`improve: {-self.regress:g}`")
        return self

    @property
    def margin(self) -> float:
        return float(self.improve if self.improve is not None else self.regress or 0.0)

    @property
    def kind(self) -> Literal["superiority", "non-inferiority"]:
        return "superiority" if self.improve is not None else "non-inferiority"


class LearningCurveSpec(StrictModel):
    """Metric values at several training-set sizes: measured for a model (``sizes``,
    ``values`` and ``model``, the model they were measured for: the diagnosed one when
    left out), or made by refitting a learned baseline on growing subsets of the training
    split (``refit: <baseline name>``), a stand-in for the diagnosed model. With both, the
    measured points are used when they are of the diagnosed model, the stand-in otherwise.
    """

    sizes: list[int] | None = None
    values: list[float] | None = None
    model: str | None = None
    refit: str | None = None
    fractions: list[float] | None = None

    @model_validator(mode="after")
    def _check(self) -> LearningCurveSpec:
        given = self.sizes is not None or self.values is not None
        if not given and self.refit is None:
            raise ValueError("give `sizes` and `values` (measured for the model), or `refit: "
                             "<learned baseline>` (mlscope refits it on growing subsets)")
        if self.model is not None and not given:
            raise ValueError("`model` names the model the measured `sizes` and `values` "
                             "are of; give them too")
        if given and (self.sizes is None or self.values is None
                      or len(self.sizes) != len(self.values)):
            raise ValueError("`sizes` and `values` must both be given, with one value per size")
        return self


class DiagnosisSpec(StrictModel):
    """How ``mlscope diagnose`` reads the project: the metric, the practical margin, the
    training history, the learning curve and the operational (budget) metrics."""

    metric: str | None = None
    margin: float | None = Field(default=None, ge=0)
    history: str | None = None
    learning_curve: LearningCurveSpec | None = None
    budgets: list[str] = Field(default_factory=list)
    fdr: float = Field(default=0.05, gt=0.0, lt=1.0)
    examples: int = Field(default=5, ge=0, le=100)


class ReportSpec(StrictModel):
    """What the report draws: the trade-off pair and the metric shown per slice."""

    title: str | None = None
    tradeoff: list[str] | None = Field(default=None, min_length=2, max_length=2)
    slice_metric: str | None = None


class Charter(StrictModel):
    """A project's charter: the task, the data, the metrics and how a model is chosen."""

    project: str
    task: Task
    seed: int = 0
    description: str | None = None
    data: DataSpec
    splits: SplitSpec = Field(default_factory=SplitSpec)
    slices: SliceSpec = Field(default_factory=SliceSpec)
    metrics: list[MetricEntry] = Field(min_length=1)
    selection: Rule
    alternatives: list[Rule] = Field(default_factory=list)
    requirements: dict[str, Bound] = Field(default_factory=dict)
    slice_requirements: list[SliceRequirement] = Field(default_factory=list)
    guarantees: GuaranteesSpec | None = None
    baselines: dict[str, Baseline] = Field(default_factory=dict)
    blessed: str | BlessedResult | None = None
    gates: dict[str, Gate] = Field(default_factory=dict)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    diagnosis: DiagnosisSpec = Field(default_factory=DiagnosisSpec)
    intervals: IntervalSpec = Field(default_factory=IntervalSpec)
    planning: PlanningSpec = Field(default_factory=PlanningSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    costs: CostsSpec | None = None
    human_in_the_loop: HumanInTheLoopSpec | None = None
    monitor: MonitorSpec | None = None
    # The artifact of each model for `mlscope profile` (docs/profiling.md).
    profile: ProfileSpec | None = None

    def metric_ids(self) -> list[str]:
        return [m.id for m in self.metrics]
