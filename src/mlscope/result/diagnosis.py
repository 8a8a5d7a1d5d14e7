"""The diagnosis as plain data: stored in the result, read by the report and the terminal.

Nothing here imports the metric engine, so rendering a stored result stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Diagnosis", "Gap", "NextStep", "SanityCheck", "SplitValue", "WeakSlice",
]

GapName = Literal["avoidable_bias", "variance", "mismatch", "variance_or_mismatch",
                  "validation_overfit"]


@dataclass
class SplitValue:
    """The diagnosed metric on one split (or the upper baseline), with its interval."""

    role: str  # "baseline", "train", "train_dev", "validation", "test"
    split: str | None
    value: float | None
    lower: float | None = None
    upper: float | None = None
    error: float | None = None  # oriented so that higher is worse (see Diagnosis.error_note)
    note: str = ""


@dataclass
class Gap:
    """One of the four gaps of the engineering loop, in the metric's units.

    ``value`` is how much worse the later stage is than the earlier one (positive: worse);
    it *counts* when it exceeds both the practical ``margin`` and its uncertainty (the
    interval's lower end is above 0).
    """

    name: GapName
    label: str
    frm: str  # the earlier stage (e.g. "baseline")
    to: str  # the later stage (e.g. "train")
    value: float | None
    lower: float | None
    upper: float | None
    margin: float
    counts: bool
    reason: str = ""


@dataclass
class NextStep:
    """A recommendation, in the order practitioners fix things, with the figures behind it."""

    area: str  # "sanity", "underfitting", "overfitting", "mismatch", "validation", ...
    title: str
    evidence: str
    actions: list[str] = field(default_factory=list)


@dataclass
class SanityCheck:
    check: str
    ok: bool
    severity: Literal["info", "warning", "error"]
    message: str


@dataclass
class WeakSlice:
    """A slice where the model is significantly worse than overall."""

    slice: str
    split: str
    n_rows: int
    value: float
    overall: float
    gap: float  # oriented: positive = worse than overall (than `expected` when set)
    lower: float | None
    upper: float | None
    p_value: float
    adjusted_p: float
    harm: float  # share of rows × gap: how much of the overall error the slice carries
    significant: bool
    # What the slice is compared with when it is not the overall value: for a binary
    # model, the metric at the slice's base rate (docs/diagnosis.md, "Weak slices").
    expected: float | None = None
    positives: int | None = None
    negatives: int | None = None


@dataclass
class Diagnosis:
    """What holds the model back, and what to try next (``mlscope diagnose``)."""

    model: str
    metric: str
    direction: Literal["higher", "lower"]
    margin: float
    error_note: str
    values: list[SplitValue]
    gaps: list[Gap]
    bottleneck: str | None
    steps: list[NextStep]
    sanity: list[SanityCheck]
    weak_slices: list[WeakSlice] = field(default_factory=list)
    slices_tested: int = 0
    slices_method: str = ""  # what each slice was compared with
    # Slices not judged and why (too few positives or negatives, metric undefined).
    slices_unjudged: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, Any] = field(default_factory=dict)  # FP/FN prevalence and examples
    rare_classes: list[dict[str, Any]] = field(default_factory=list)
    focus: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    learning_curve: dict[str, Any] | None = None
    upper_kind: str | None = None  # "human", "published", "previous", "learned", ...
    weak_evidence: bool = False
    notes: list[str] = field(default_factory=list)
