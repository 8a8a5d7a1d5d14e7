"""The human-level result: plain data, importable without the metric engine.

:mod:`mlscope.baselines.human` computes it; :class:`~mlscope.result.EvaluationResult`
stores it, and the report reads it, without importing NumPy-heavy code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mlscope.result.decode import decode_dataclass

__all__ = [
    "Agreement", "HumanLevel", "HumanMetricSpec", "HumanRung", "HumanValue",
    "ModelOnHumanItems", "RungKind",
]

RungKind = Literal["single", "majority", "model_based", "aggregate", "expert"]


@dataclass(frozen=True)
class HumanMetricSpec:
    """A metric to compute on the ladder.

    Attributes
    ----------
    id
        The charter's metric id (the key of every value in the result).
    name
        The mlscope registry name, e.g. ``"accuracy"``, ``"roc_auc"``, ``"mae"``.
    params
        The metric's parameters, e.g. ``{"threshold": 0.5}``; missing ones take the
        registry's defaults.
    """

    id: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class HumanValue:
    """One metric on one rung (or one model on a rung's items).

    Attributes
    ----------
    metric
        The metric id.
    value
        The point estimate: the mean over the rung's units (annotators, or draws) on which
        the metric is defined; ``None`` when it is defined on none.
    lower, upper
        Percentile bootstrap interval over items, or ``None``.
    spread
        Standard deviation (ddof 1) of the unit values: over annotators for the single
        annotator rung, over draws for a majority rung; ``None`` with fewer than 2 units.
    minimum, maximum
        Smallest and largest unit value.
    n_units
        Units the value is the mean of.
    undefined
        Why there is no value, or ``None``.
    """

    metric: str
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    spread: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    n_units: int = 0
    undefined: str | None = None


@dataclass
class HumanRung:
    """One rung of the ladder.

    ``kind`` is ``"single"``, ``"majority"``, ``"model_based"`` (Dawid–Skene),
    ``"aggregate"`` (median of annotators, regression) or ``"expert"`` (the gold reference,
    never scored). ``eligible`` is True when the rung was scored on at least ``min_items``
    items and can therefore be the human-level baseline.
    """

    name: str
    kind: RungKind
    k: int | None
    n_items: int
    values: list[HumanValue]
    scored: bool
    eligible: bool
    note: str = ""

    def value(self, metric: str) -> HumanValue | None:
        """The value of metric id ``metric``, or ``None``."""
        return next((v for v in self.values if v.metric == metric), None)


@dataclass
class ModelOnHumanItems:
    """A model scored exactly as a rung was: same items, references and averaging."""

    model: str
    rung: str
    n_items: int
    values: list[HumanValue]

    def value(self, metric: str) -> HumanValue | None:
        """The value of metric id ``metric``, or ``None``."""
        return next((v for v in self.values if v.metric == metric), None)


@dataclass
class Agreement:
    """Agreement between annotators, over every annotated item.

    ``percent_agreement`` and ``fleiss_kappa`` are ``None`` for regression; ``notes`` say
    why any value is missing. ``warning`` is set when alpha is below
    :data:`ALPHA_TENTATIVE`.
    """

    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    percent_agreement: float | None
    n_items: int
    n_annotators: int
    labels_per_item: float
    level: Literal["nominal", "interval"]
    warning: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class HumanLevel:
    """Everything :func:`human_ladder` computed.

    Attributes
    ----------
    rungs
        In ladder order: single annotator, majority of k (ascending k), the all-annotator
        aggregate, and the expert panel when the reference is gold.
    typical_human
        The rung that stands for a typical human (always the single annotator rung).
    best
        Metric id -> name of the eligible rung with the best value in the metric's
        direction (the human-level baseline for that metric), or ``None``.
    per_annotator
        Annotator -> metric id -> value on their own items (``None`` where undefined);
        annotators below ``min_items`` are listed too but not counted in the rung.
    annotator_items
        Annotator -> number of items they were scored on.
    models
        One entry per model and scored rung.
    aggregate_labels
        Item -> the all-annotator aggregate's label (Dawid–Skene's most probable class, or
        the median for regression); empty when the aggregate was skipped.
    """

    task: str
    reference_kind: str
    rungs: list[HumanRung]
    typical_human: str
    best: dict[str, str | None]
    per_annotator: dict[str, dict[str, float | None]]
    annotator_items: dict[str, int]
    models: list[ModelOnHumanItems]
    agreement: Agreement
    aggregate_labels: dict[str, str | float]
    warnings: list[str]
    notes: list[str]
    seed: int
    resamples: int
    level: float

    def rung(self, name: str) -> HumanRung:
        """The rung called ``name``."""
        for r in self.rungs:
            if r.name == name:
                return r
        known = ", ".join(r.name for r in self.rungs)
        raise KeyError(f"no rung {name!r} (rungs: {known})")

    def model(self, model: str, rung: str) -> ModelOnHumanItems:
        """Model ``model`` scored on the items of rung ``rung``."""
        for m in self.models:
            if m.model == model and m.rung == rung:
                return m
        raise KeyError(f"model {model!r} was not scored on rung {rung!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HumanLevel:
        """Rebuild from :meth:`to_dict` output (e.g. after a JSON round trip)."""
        return decode_dataclass(cls, data)
