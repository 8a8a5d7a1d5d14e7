"""The charter's ``guarantees:`` section: requirements decided on a confidence bound, and
thresholds chosen so that a requirement holds with a stated probability.

::

    guarantees:
      decide_on: bound          # every requirement: met only when its (1 − δ) bound clears it
      delta: 0.05
      thresholds:               # risk-controlled operating thresholds (binary task)
        precision: {at_least: 0.9}
        recall: {at_least: 0.95, delta: 0.1, slices: true}

A single requirement can also be decided on its bound:
``requirements: {precision: {bound: ">= 0.9", decide_on: bound}}``. See docs/deciding.md.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["EXACT_RATES", "THRESHOLD_RISKS", "GuaranteesSpec", "ThresholdGuaranteeSpec",
           "check_guarantees"]

KeyPath = tuple[str | int, ...]

# Registry metrics that are a share of some rows at a fixed threshold: a requirement on
# them gets the exact Clopper–Pearson bound (their trials: mlscope.engine.bounded).
EXACT_RATES = frozenset({"accuracy", "positive_rate", "recall", "specificity", "precision"})

# Threshold guarantees: the metric, the side its requirement is on, and the error it
# controls (a share of the trials of the named kind).
THRESHOLD_RISKS: dict[str, tuple[Literal["at_least", "at_most"], str]] = {
    "precision": ("at_least", "negatives among the flagged rows (false discovery rate)"),
    "fdr": ("at_most", "negatives among the flagged rows"),
    "recall": ("at_least", "positives not flagged (false negative rate)"),
    "fnr": ("at_most", "positives not flagged"),
    "specificity": ("at_least", "negatives flagged (false positive rate)"),
    "fpr": ("at_most", "negatives flagged"),
}


def _delta(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"`delta` is the chance the guarantee may fail and lies strictly "
                         f"between 0 and 1, got {value!r}; write e.g. `delta: 0.05` (holds "
                         "with probability 95%)")
    return float(value)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdGuaranteeSpec(_Spec):
    """One risk-controlled threshold: ``at_least`` (precision, recall, specificity) or
    ``at_most`` (fdr, fnr, fpr), its ``delta`` (default: the section's), ``slices: true``
    to hold it in every slice at once (Bonferroni over the slices), and the ``model``
    (default: the selected one)."""

    at_least: float | None = None
    at_most: float | None = None
    delta: float | None = None
    slices: bool = False
    model: str | None = None

    _check_delta = field_validator("delta", mode="before")(
        lambda cls, v: None if v is None else _delta(v))

    @model_validator(mode="after")
    def _check(self) -> ThresholdGuaranteeSpec:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of `at_least: <target>` or `at_most: <target>`")
        target = self.at_least if self.at_least is not None else self.at_most
        assert target is not None
        if not 0.0 < target < 1.0:
            raise ValueError(f"the target is a rate strictly between 0 and 1, got {target}; "
                             "write a fraction (e.g. 0.9 for 90%)")
        return self

    @property
    def target(self) -> float:
        return float(self.at_least if self.at_least is not None else self.at_most or 0.0)


class GuaranteesSpec(_Spec):
    """Requirements decided on the (1 − ``delta``) confidence bound (``decide_on:
    bound``) and risk-controlled thresholds."""

    decide_on: Literal["point", "bound"] = "point"
    delta: float = 0.05
    thresholds: dict[str, ThresholdGuaranteeSpec] = {}

    _check_delta = field_validator("delta", mode="before")(lambda cls, v: _delta(v))


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None: ...


def check_guarantees(report: _Reporter, metrics: dict[str, str | None]) -> None:
    """Report requirements decided on a bound that cannot carry one, and threshold
    guarantees on a metric or task that has none.

    Parameters
    ----------
    report
        Receives the problems (``add``); ``raw`` is the charter as read.
    metrics
        Each metric id that passed the schema: its registry name (None: a custom metric).
    """
    raw = report.raw
    section = raw.get("guarantees")
    section = section if isinstance(section, dict) else {}
    intervals = raw.get("intervals")
    resamples = intervals.get("resamples", 1) if isinstance(intervals, dict) else 1
    default = section.get("decide_on", "point")
    requirements = raw.get("requirements")
    for mid, value in (requirements.items() if isinstance(requirements, dict) else ()):
        own = value.get("decide_on") if isinstance(value, dict) else None
        if (own or default) != "bound" or str(mid) not in metrics:
            continue
        name = metrics[str(mid)]
        if name in EXACT_RATES or resamples:
            continue
        where = (("requirements", mid, "decide_on") if own is not None
                 else ("guarantees", "decide_on"))
        report.add(where, f"`{mid}` cannot be decided on its bound: it is not a rate with "
                          "an exact bound and intervals are off (`intervals.resamples: 0`)",
                   fix="turn intervals on (e.g. `intervals: {resamples: 1000}`), or decide "
                       f"`{mid}` on its point (`decide_on: point`)")
    thresholds = section.get("thresholds")
    if not isinstance(thresholds, dict):
        return
    task = raw.get("task")
    for key, spec in thresholds.items():
        path: KeyPath = ("guarantees", "thresholds", key)
        if task != "binary":
            report.add(path, f"risk-controlled thresholds are for the binary task, not "
                             f"`{task}`", fix="remove `guarantees.thresholds`")
            continue
        if key not in THRESHOLD_RISKS:
            report.add(path, f"`{key}` has no risk-controlled threshold",
                       fix="use one of " + ", ".join(f"`{k}`" for k in THRESHOLD_RISKS))
            continue
        side = THRESHOLD_RISKS[str(key)][0]
        other = "at_most" if side == "at_least" else "at_least"
        if isinstance(spec, dict) and other in spec:
            report.add((*path, other), f"`{key}` is held {side.replace('_', ' ')} a target",
                       fix=f"write `{side}: <target>`")
