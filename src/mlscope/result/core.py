"""The result's main dataclasses: :class:`EvaluationResult` and its parts.

Re-exported by :mod:`mlscope.result`, which describes the package; the human-level ladder
and the diagnosis live beside it (:mod:`~mlscope.result.human`,
:mod:`~mlscope.result.diagnosis`).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlscope.atomic import write_atomic
from mlscope.result.calibration import ReliabilityCurve
from mlscope.result.decode import decode_dataclass
from mlscope.result.diagnosis import Diagnosis
from mlscope.result.guarantees import ThresholdGuarantee
from mlscope.result.hitl import HumanInTheLoop
from mlscope.result.human import HumanLevel
from mlscope.result.requirements import RequirementCheck
from mlscope.result.scope import Scope
from mlscope.result.verdict import Verdict

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FLAGS_NONE",
    "OVERALL",
    "SCHEMA_VERSION",
    "BaselineInfo",
    "CheckResult",
    "ConfusionMatrix",
    "ConstraintCheck",
    "DecisionConfidence",
    "Difference",
    "EvaluationResult",
    "GateCheck",
    "IntervalInfo",
    "MetricInfo",
    "MetricValue",
    "ModelInfo",
    "PairComparison",
    "PairedTest",
    "RequirementCheck",
    "RuleOutcome",
    "Selection",
    "SliceInfo",
    "Standing",
    "ThresholdChoice",
    "new_run_id",
]

SCHEMA_VERSION = "mlscope.result/1"
OVERALL = "overall"


@dataclass
class MetricInfo:
    """A metric as the charter asked for it (``id``) and as the registry defines it."""

    id: str
    name: str
    label: str
    direction: Literal["higher", "lower"]
    params: dict[str, Any]
    description: str
    bounds: tuple[float | None, float | None] = (None, None)
    operating_point: bool = False
    custom: bool = False


@dataclass
class ModelInfo:
    """A model in the result: a ``candidate``, or a ``baseline`` of some ``family``
    (``trivial``, ``learned``, ``rule``; see :class:`BaselineInfo`)."""

    name: str
    kind: Literal["candidate", "baseline"] = "candidate"
    family: str | None = None


@dataclass
class BaselineInfo:
    """One baseline from the charter: how it was made, or the figures it gives.

    ``family`` places it on the ladder: ``trivial`` → ``learned`` → ``rule`` →
    (candidates) → ``human`` → ``external``. ``fit`` records how a trivial or learned
    baseline was fitted (split, rows, seed, features, seconds) or which rule ran.
    ``values``/``source``/``data``/``same_data``/``role`` describe an external figure.
    """

    name: str
    kind: str
    family: str
    description: str | None = None
    fit: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    source: str | None = None
    data: str | None = None
    same_data: bool = True
    role: str | None = None


@dataclass
class Standing:
    """Where one model stands on one metric, between the trivial and the upper baseline.

    ``gap_closed`` = (model − trivial) / (upper − trivial): 0 is no better than the best
    trivial baseline, 1 reaches the upper baseline (human level, or the best available),
    above 1 passes it. ``lower``/``upper_ci`` is its bootstrap interval (the same resamples
    as the metrics; a human or external upper value is held fixed). ``vs_trivial`` is
    ``model − trivial`` with its paired interval; ``flag`` is set when the model does not
    beat the trivial baseline by more than that interval, ``flag_cause`` says why.

    Only a comparable figure is the ceiling: an external figure measured on other data is a
    reference line, and a human level is compared with the model and the trivial baseline
    scored on the same annotated items (``gap_rows``, ``gap_model_value``,
    ``gap_trivial_value``); ``ceiling_note`` says which ceiling was used and why.
    """

    split: str
    model: str
    metric: str
    trivial: str | None
    trivial_value: float | None
    upper: str | None
    upper_family: str | None
    upper_value: float | None
    gap_closed: float | None
    lower: float | None = None
    upper_ci: float | None = None
    vs_trivial: float | None = None
    vs_trivial_lower: float | None = None
    vs_trivial_upper: float | None = None
    flag: str | None = None
    note: str = ""
    # Which ceiling was used and why the others were not (a sentence for the report).
    ceiling_note: str = ""
    # When the gap is measured on other rows than ``vs_trivial`` (the annotated items of a
    # human level): how many, and the model's and the trivial baseline's values there.
    gap_rows: int | None = None
    gap_model_value: float | None = None
    gap_trivial_value: float | None = None
    # Why ``flag`` is set: "calibration", "few_rows", "no_skill" or "worse".
    flag_cause: str | None = None


@dataclass
class SliceInfo:
    """One slice: ``key`` is how it is shown (``region=north``, ``region=north × device=ios``).

    ``kind`` is ``overall``, ``column``, ``cross`` or ``where`` (a named SQL predicate).
    ``sizes`` gives the number of rows per split; a slice smaller than ``min_size`` on a
    split is reported as too small there and its metrics are left undefined.
    """

    key: str
    kind: Literal["overall", "column", "cross", "where"]
    columns: list[str]
    values: list[str]
    definition: str
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class MetricValue:
    """One number: a metric for a model on a split and slice, with its interval.

    ``value`` is None exactly when the metric is undefined there, and ``undefined`` then
    says why. ``lower``/``upper`` are None when intervals are off or could not be formed.
    ``error_bound`` is None for an exact value; in binned mode it bounds
    ``|value − exact value|`` (0 where binning leaves the metric exact).
    """

    split: str
    model: str
    slice: str
    metric: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    undefined: str | None = None
    n_rows: int = 0
    error_bound: float | None = None


@dataclass
class Difference:
    """``model − reference`` for one metric on the same rows (paired), with a test.

    ``test`` names how the interval and ``p_value`` (two-sided, H0: no difference) were
    computed: ``delong`` (ROC AUC), ``mcnemar`` (accuracy) or ``bootstrap`` (every other
    metric: the same resamples for both models).
    """

    split: str
    slice: str
    metric: str
    model: str
    reference: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    p_value: float | None = None
    test: str = "bootstrap"
    note: str = ""
    # Standard error of the difference by ``test`` (DeLong's; for McNemar the paired
    # difference of proportions' from the discordant counts); None for the bootstrap,
    # whose slice tests take the replicates' standard deviation instead.
    se: float | None = None
    # Benjamini–Hochberg across the slices of one (split, metric) in a pair comparison;
    # None overall and in the differences against the selected/blessed model.
    adjusted_p: float | None = None
    detail: PairedTest | None = None


@dataclass
class PairedTest:
    """The statistic behind a :class:`Difference`'s p-value and interval, and its inputs.

    ``kind`` is ``delong``, ``mcnemar`` or ``bootstrap``; the fields of the other kinds
    stay None.

    * DeLong: ``statistic`` is Z = diff / ``se``; ``n_pos``, ``n_neg`` the class counts;
      in pair comparisons also ``var_a``, ``var_b`` and ``cov``, DeLong's variances of the
      two AUCs and their covariance (``se² = var_a + var_b − 2·cov``).
    * McNemar: ``b`` rows only the model gets right, ``c`` rows only the reference does,
      ``n`` rows; ``method`` the tail used (``mid-p``, ``exact``, ``chi2``, ``chi2-cc``)
      and ``requested`` what was asked (``auto`` picks mid-p below 25 discordant pairs,
      else chi2); ``statistic`` is (b − c)² / (b + c) for the chi-square methods (with
      |b − c| − 1 for ``chi2-cc``), min(b, c) for the binomial ones.
    * Bootstrap: ``method`` names the interval and p-value, ``resamples`` (B) the
      replicates, ``finite`` those where the metric was defined, ``seed`` their seed.
    """

    kind: str
    statistic: float | None = None
    se: float | None = None
    var_a: float | None = None
    var_b: float | None = None
    cov: float | None = None
    n_pos: int | None = None
    n_neg: int | None = None
    b: int | None = None
    c: int | None = None
    n: int | None = None
    method: str | None = None
    requested: str | None = None
    resamples: int | None = None
    finite: int | None = None
    seed: int | None = None


@dataclass
class PairComparison:
    """``model − reference`` on the same rows: every metric, split and slice.

    Asked for by the charter's ``compare.pairs`` or by ``mlscope compare``. Each
    difference carries its test's statistic (``detail``); on the slices the p-values are
    also adjusted by Benjamini–Hochberg across the slices of the same split and metric.
    """

    model: str
    reference: str
    mcnemar: str
    splits: list[str]
    differences: list[Difference]


@dataclass
class GateCheck:
    """One gate against the blessed model, on one slice.

    ``oriented`` values are signed so that positive is better (for a lower-is-better metric
    the difference is negated). Overall, the gate passes when the interval's oriented lower
    bound clears ``bound`` (``+δ`` to improve by at least δ, ``−δ`` to regress by at most
    δ). On a slice it fails only on significant evidence of a regression beyond ``δ``:
    ``p_value`` (one-sided) after Benjamini–Hochberg across the slices (``adjusted_p``).
    """

    metric: str
    kind: Literal["superiority", "non-inferiority"]
    margin: float
    relative: bool
    split: str
    slice: str
    candidate: str
    blessed: str
    candidate_value: float | None
    blessed_value: float | None
    difference: float | None
    lower: float | None
    upper: float | None
    bound: float
    oriented_lower: float | None
    passed: bool
    p_value: float | None = None
    adjusted_p: float | None = None
    reason: str = ""
    # Slices only: how ``p_value`` was computed (mlscope.compare.slice_gate: ``delong-z``,
    # ``mcnemar-z``, ``mcnemar-one-sided``, ``bootstrap-se-z``), the standard error it
    # used, the smallest oriented regression the slice detects with 80 % power at the
    # gate's false-discovery rate (``mde``), and whether the metric's range leaves room
    # for it (``can_fail`` False: the slice is too small for its gate).
    test: str = ""
    se: float | None = None
    mde: float | None = None
    can_fail: bool | None = None


@dataclass
class CheckResult:
    """The verdict of ``mlscope check``: a candidate against the blessed model and the
    requirements. ``exit_code`` is 0 when every gate and requirement passes, else 1.

    ``role`` says how the candidate was chosen: ``"selected"`` (by the rule), ``"given"``
    (``--candidate``) or ``"runner-up"``. ``keep`` is True when the rule selected the
    blessed model itself: nothing is shipped, the runner-up (the best other eligible
    candidate; ``"(none)"`` when there is none) is compared with it for information, its
    gates decide nothing, and the verdict passes when the blessed model meets the
    requirements (``requirements`` are then the blessed model's).
    """

    candidate: str
    blessed: str | None
    blessed_source: str
    split: str
    passed: bool
    gates: list[GateCheck]
    requirements: list[RequirementCheck]
    failures: list[str]
    exit_code: int
    paired: bool = True
    note: str = ""
    keep: bool = False
    role: str = ""


@dataclass
class ThresholdChoice:
    """An operating threshold chosen on the selection split and carried to the others."""

    model: str
    metric: str
    threshold: float | None
    chosen_on: str
    note: str = ""


FLAGS_NONE = "above every score"  # how a ThresholdChoice's note starts: it flags no row


@dataclass
class ConstraintCheck:
    metric: str
    bound: str
    value: float | None
    met: bool
    margin: float | None


@dataclass
class RuleOutcome:
    """What one selection rule decides.

    ``ranking`` lists every model in order with its ``score`` under this rule (None when
    not scored) and whether it is ``eligible``; ``dropped`` gives each model that could
    not win and the reasons; ``tied`` names models sharing the best score (then ``winner``
    is None unless a tie-break decided).
    """

    rule: Literal["satisficing", "weighted", "formula", "pareto"]
    description: str
    winner: str | None
    ranking: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    tied: list[str] = field(default_factory=list)
    front: list[str] = field(default_factory=list)
    configured: bool = True
    note: str = ""


@dataclass
class DecisionConfidence:
    """How sure the primary rule's decision is, over bootstrap resamples of the rows.

    The rule (constraints and ``must_beat`` included) is applied to each resample's metric
    values; ``chosen`` is the share of resamples in which each candidate wins (the rest
    ended without a winner: ``no_decision``, of which ``tied`` the share where candidates
    tied at the top and the rule's ``tie_break`` did not separate them, the others where
    no model was eligible). ``flips`` is the share in which the winner
    differs from the decision on the actual data. ``constraints`` gives, per candidate and
    constraint metric, the share of resamples in which the constraint holds.
    """

    resamples: int
    chosen: dict[str, float]
    no_decision: float
    winner: str | None
    winner_share: float | None
    runner_up: str | None
    runner_up_share: float | None
    flips: float | None
    constraints: dict[str, dict[str, float]] = field(default_factory=dict)
    note: str = ""
    tied: float = 0.0

    def no_winner_parts(self) -> list[tuple[str, float]]:
        """Why resamples ended without a winner, as every renderer words it:
        ``("tied", share)`` and ``("no model eligible", share)``, those above 0 (a result
        written before ``tied`` existed counts every one as not eligible)."""
        tied = min(max(self.tied, 0.0), self.no_decision)
        parts = [("tied", tied), ("no model eligible", self.no_decision - tied)]
        return [(label, share) for label, share in parts if share > 1e-12]


@dataclass
class Selection:
    split: str
    primary: RuleOutcome
    alternatives: list[RuleOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    confidence: DecisionConfidence | None = None


@dataclass
class IntervalInfo:
    method: str
    level: float
    resamples: int
    seed: int
    note: str = ""


@dataclass
class ConfusionMatrix:
    """Weighted counts of ``[true class][predicted class]`` for one model on one split.

    Multiclass only; the predicted class is the arg-max of the model's scores (the first
    class in ``classes`` order on a tie), as for ``accuracy``.
    """

    split: str
    model: str
    classes: list[str]
    counts: list[list[float]]


@dataclass
class EvaluationResult:
    """Everything an evaluation produced; see ``docs/result-schema.md``."""

    project: str
    task: str
    seed: int
    created_at: str
    mlscope_version: str
    charter_path: str | None
    charter: dict[str, Any]
    data: dict[str, Any]
    interval: IntervalInfo
    splits: dict[str, str | None]
    models: list[ModelInfo]
    metrics: list[MetricInfo]
    slices: list[SliceInfo]
    values: list[MetricValue]
    thresholds: list[ThresholdChoice]
    differences: list[Difference]
    selection: Selection | None
    requirements: list[RequirementCheck]
    warnings: list[str]
    status: Literal["requirements_met", "requirements_not_met", "no_decision"]
    exit_code: int
    timings: dict[str, float] = field(default_factory=dict)
    confusion: list[ConfusionMatrix] = field(default_factory=list)
    baselines: list[BaselineInfo] = field(default_factory=list)
    standings: list[Standing] = field(default_factory=list)
    human: HumanLevel | None = None
    check: CheckResult | None = None
    diagnosis: Diagnosis | None = None
    comparisons: list[PairComparison] = field(default_factory=list)
    guarantees: list[ThresholdGuarantee] = field(default_factory=list)
    # Binary only: each model's reliability curve (result/calibration.py); empty before.
    reliability: list[ReliabilityCurve] = field(default_factory=list)
    # Unique per evaluation and stamped into every output file of the run (report.html,
    # check.md), so a reader can tell that the files in a folder belong together. None in
    # results written before it existed.
    run_id: str | None = None
    # The CLI command whose outputs these are (run, evaluate, check, diagnose); None from
    # the Python API. After ``check`` the verdict decides: ``exit_code`` is the verdict's.
    command: str | None = None
    # The launch verdict (docs/deciding.md); None in results written before it existed.
    verdict: Verdict | None = None
    # Where the recommended model meets every requirement with family-wise confidence
    # (result/scope.py); None without requirements, and in results written before it.
    scope: Scope | None = None
    # The deferral rule of the charter's `human_in_the_loop:` (result/hitl.py); None when
    # the charter has none.
    human_in_the_loop: HumanInTheLoop | None = None
    schema: str = SCHEMA_VERSION

    # -- lookups ---------------------------------------------------------------------
    def value(
        self, metric: str, model: str, *, split: str | None = None, slice: str = OVERALL
    ) -> MetricValue:
        """The :class:`MetricValue` for ``metric`` and ``model`` (selection split by default)."""
        split = split or str(self.splits["selection"])
        for v in self.values:
            if v.metric == metric and v.model == model and v.split == split and v.slice == slice:
                return v
        raise KeyError(f"no value for metric={metric} model={model} split={split} slice={slice}")

    def metric_info(self, metric: str) -> MetricInfo:
        for m in self.metrics:
            if m.id == metric:
                return m
        raise KeyError(metric)

    @property
    def winner(self) -> str | None:
        return self.selection.primary.winner if self.selection else None

    def to_frame(self) -> pd.DataFrame:
        """Every metric value as a tidy table (:func:`mlscope.result.frame.to_frame`)."""
        from mlscope.result.frame import to_frame

        return to_frame(self)

    def _repr_html_(self) -> str:
        # What a notebook shows for a result: the verdict and the overall values.
        from mlscope.result.frame import summary_html

        return summary_html(self)

    # -- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data (tuples become lists), as written by :meth:`to_json`."""
        out: dict[str, Any] = _plain(self)
        return out

    def to_json(self, path: str | Path | None = None, *, indent: int = 2) -> str:
        """The result as JSON text; written to ``path`` too when given.

        The file is replaced atomically (:func:`mlscope.atomic.write_atomic`): a reader, or
        a process killed while writing, never sees a partial file.
        """
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=str)
        if path is not None:
            write_atomic(Path(path), text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise ValueError(
                f"result schema {schema!r} is not supported by this mlscope "
                f"(expects {SCHEMA_VERSION!r})"
            )
        return decode_dataclass(cls, data)

    @classmethod
    def from_json(cls, path: str | Path) -> EvaluationResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def new_run_id() -> str:
    """A new, unique :attr:`EvaluationResult.run_id` (32 hexadecimal digits)."""
    return uuid.uuid4().hex

_ATOMS = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(obj: Any) -> Any:
    """``dataclasses.asdict`` with tuples turned into lists, in one walk: the same data
    (fields in order, leaves deep-copied), without asdict's generic per-value dispatch,
    which made writing a result's JSON cost more than a small evaluation."""
    if isinstance(obj, _ATOMS):
        return obj  # deepcopy returns these unchanged
    cls = type(obj)
    if hasattr(cls, "__dataclass_fields__") and not isinstance(obj, type):
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(obj))
        return {name: _plain(getattr(obj, name)) for name in names}
    if isinstance(obj, dict):
        # asdict copies the keys (never dataclasses: they would not hash as dicts).
        return {k if isinstance(k, _ATOMS) else copy.deepcopy(k): _plain(v)
                for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return copy.deepcopy(obj)
