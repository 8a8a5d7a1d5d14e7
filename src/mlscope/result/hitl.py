"""Human in the loop in the result (``result.human_in_the_loop``): a deferral rule
certified on the calibration rows and read on the report rows, the risk–coverage curve
with its simultaneous band, and top-k suggestion accuracy.

Plain data, written by :mod:`mlscope.pipeline.hitl`; see docs/deciding.md. A result file
is untrusted input, so the classes check their fields when rebuilt (``__post_init__``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CoveragePoint", "DeferralSlice", "HumanInTheLoop", "TopKAccuracy"]


def _share(name: str, v: Any, *, nullable: bool = True) -> None:
    if v is None and nullable:
        return
    if (isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v)
            or not 0.0 <= v <= 1.0):
        raise ValueError(f"human_in_the_loop: `{name}` must be a share in [0, 1], got {v!r}")


def _count(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"human_in_the_loop: `{name}` must be a count, got {v!r}")


@dataclass
class DeferralSlice:
    """The rule on one slice (``overall`` or a slice key).

    Calibration: rows, decided rows, wrong decisions and the certified (1 − δ) upper
    bound of the error on the decided. Report: the same counts, the error on the decided
    and the deferral rate with their exact two-sided (1 − δ) intervals, and the human
    decisions saved per 1,000 cases (the automated share × 1,000) with its interval.
    """

    slice: str
    n_calibration: int
    decided_calibration: int
    errors_calibration: int
    certified_error: float | None
    n_report: int = 0
    decided_report: int = 0
    errors_report: int = 0
    error: float | None = None
    error_lower: float | None = None
    error_upper: float | None = None
    defer: float | None = None
    defer_lower: float | None = None
    defer_upper: float | None = None
    saved_per_1000: float | None = None
    saved_lower: float | None = None
    saved_upper: float | None = None

    def __post_init__(self) -> None:
        for name in ("n_calibration", "decided_calibration", "errors_calibration",
                     "n_report", "decided_report", "errors_report"):
            _count(name, getattr(self, name))
        for name in ("certified_error", "error", "error_lower", "error_upper", "defer",
                     "defer_lower", "defer_upper"):
            _share(name, getattr(self, name))
        for name in ("saved_per_1000", "saved_lower", "saved_upper"):
            v = getattr(self, name)
            if v is not None:
                _share(name, v / 1000.0 if isinstance(v, int | float)
                       and not isinstance(v, bool) else v)


@dataclass
class CoveragePoint:
    """One point of the risk–coverage curve on the report rows: the confidence level
    ``lam``, the share decided, the error among the decided and the band's bounds
    (simultaneous over every point of every curve)."""

    slice: str
    lam: float
    coverage: float
    decided: int
    risk: float | None
    lower: float | None
    upper: float | None

    def __post_init__(self) -> None:
        _count("decided", self.decided)
        for name in ("lam", "coverage", "risk", "lower", "upper"):
            _share(name, getattr(self, name), nullable=name not in ("lam", "coverage"))


@dataclass
class TopKAccuracy:
    """Multiclass: the share of report rows whose class is among the ``k`` most probable,
    with its exact two-sided (1 − δ) interval."""

    k: int
    accuracy: float | None
    lower: float | None
    upper: float | None
    n: int

    def __post_init__(self) -> None:
        _count("n", self.n)
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"human_in_the_loop: `k` must be at least 1, got {self.k!r}")
        for name in ("accuracy", "lower", "upper"):
            _share(name, getattr(self, name))


@dataclass
class HumanInTheLoop:
    """The deferral rule of the charter's ``human_in_the_loop:`` section.

    ``lam`` is the certified confidence level (None: ``message`` says what is
    infeasible and about how many more labelled rows, ``more_rows``, would do); binary:
    ``accept_at``/``reject_at`` are the two thresholds (accept when the score is at or
    above the first, reject at or below the second, defer between) around ``threshold``.
    ``defer_ok`` says whether the deferral limit holds on its (1 − δ/2) upper bound (None
    without a limit). ``lines`` are the verdict section's sentences.
    """

    model: str
    task: str
    max_error: float
    delta: float
    calibration_split: str
    report_split: str | None
    procedure: str
    delta_used: float
    lam: float | None
    max_defer: float | None = None
    threshold: float | None = None
    accept_at: float | None = None
    reject_at: float | None = None
    defer_ok: bool | None = None
    message: str = ""
    more_rows: int | None = None
    slices: list[DeferralSlice] = field(default_factory=list)
    curve: list[CoveragePoint] = field(default_factory=list)
    band_delta: float | None = None
    top_k: list[TopKAccuracy] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("max_error", "delta", "delta_used"):
            v = getattr(self, name)
            _share(name, v, nullable=False)
        for name in ("lam", "max_defer", "threshold", "accept_at", "reject_at", "band_delta"):
            _share(name, getattr(self, name))
        if self.more_rows is not None:
            _count("more_rows", self.more_rows)
        if self.defer_ok is not None and not isinstance(self.defer_ok, bool):
            raise ValueError(f"human_in_the_loop: `defer_ok` must be true, false or null, "
                             f"got {self.defer_ok!r}")
        if not isinstance(self.lines, list) or not all(isinstance(s, str) for s in self.lines):
            raise ValueError("human_in_the_loop: `lines` must be a list of strings")

    def overall(self) -> DeferralSlice | None:
        """The overall rows' figures."""
        return next((s for s in self.slices if s.slice == "overall"), None)
