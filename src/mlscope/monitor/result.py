"""The result of ``mlscope monitor``: every window, every check, the alerts and their reasons.

Plain dataclasses; :meth:`MonitorResult.to_dict` is what ``monitor.json`` holds
(``schema: mlscope.monitor/1``), written atomically by :meth:`MonitorResult.write`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlscope.atomic import write_atomic

__all__ = ["SCHEMA", "BackTest", "Check", "Estimate", "MonitorResult", "Performance", "Window"]

SCHEMA = "mlscope.monitor/1"


def _clean(x: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


@dataclass
class Check:
    """One check of one window.

    ``kind`` is one of ``shift`` (a feature's distribution), ``score_shift``, ``missing``,
    ``null_score``, ``out_of_range``, ``new_category``, ``positive_rate``, ``feedback``,
    ``volume``, ``back_test``, ``requirement``; multiclass: ``predicted_share``,
    ``label_share``; regression: ``label_shift``, ``performance`` (a realised metric worse
    than the reference's). ``value`` is the window's figure, ``reference`` the
    reference's; ``effects`` the effect sizes and ``gates`` their alert gates; ``p`` the
    test's p-value and ``q`` its Benjamini–Hochberg q-value within the window. ``alert`` is
    true when q < the charter's q **and** an effect reaches its gate.
    """

    kind: str
    column: str
    slice: str
    n: int
    value: float | None
    reference: float | None
    effects: dict[str, float] = field(default_factory=dict)
    gates: dict[str, float] = field(default_factory=dict)
    test: str | None = None
    p: float | None = None
    q: float | None = None
    gate_met: bool = False
    alert: bool = False
    reason: str = ""


@dataclass
class Estimate:
    """A metric estimated without labels (CBPE: expected confusion counts from calibrated
    scores), its interval (a parametric bootstrap drawing labels ~ Bernoulli(score), so it
    covers the realised value's sampling error), and the realised value once labels exist."""

    metric: str
    estimate: float | None
    low: float | None
    high: float | None
    realised: float | None = None
    inside: bool | None = None
    # The metric's value on the reference (regression: what the realised value is compared
    # with); None where not computed.
    reference: float | None = None


@dataclass
class Performance:
    """One model's performance in one window, before (and after) labels."""

    model: str
    threshold: float | None
    estimates: list[Estimate]
    # Binary only: the positive share from calibrated scores (CBPE) and from label shift.
    prior_cbpe: Estimate | None = None
    prior_bbse: Estimate | None = None
    labelled: int = 0
    domain_auc: float | None = None
    trustworthy: bool = True
    reasons: list[str] = field(default_factory=list)
    # The first metric's estimate in each slice level with enough rows (``column=level``).
    slices: dict[str, Estimate] = field(default_factory=dict)
    # Binary: BBSE's positive share in each slice level with enough rows.
    slices_label_shift: dict[str, Estimate] = field(default_factory=dict)
    # How the numbers come: ``cbpe`` (label-free, binary), ``cbpe-multiclass`` or
    # ``realised`` (regression: no label-free estimate); ``note`` says it in words.
    estimator: str = "cbpe"
    note: str = ""


@dataclass
class Window:
    """One window of the log: its span, rows, checks, performance and alerts."""

    index: int
    start: str
    end: str
    rows: int
    checks: list[Check] = field(default_factory=list)
    performance: list[Performance] = field(default_factory=list)

    @property
    def alerts(self) -> list[Check]:
        return [c for c in self.checks if c.alert]

    @property
    def status(self) -> str:
        if self.alerts:
            return "alert"
        if any(not p.trustworthy for p in self.performance):
            return "untrusted"
        return "ok"


@dataclass
class BackTest:
    """How often the realised metric fell inside the estimate's interval, over the windows
    with labels. ``failed``: the estimator stopped being trusted (a realised value far
    outside the interval, or outside it in most of the last labelled windows:
    :data:`mlscope.monitor.run.RECENT_MISSES` of :data:`~mlscope.monitor.run.RECENT`);
    ``p``: the exact binomial test of all the misses against the interval's level."""

    model: str
    metric: str
    windows: int
    outside: int
    level: float
    p: float | None
    failed: bool


@dataclass
class MonitorResult:
    """Everything ``mlscope monitor`` found."""

    project: str
    charter: str
    log: dict[str, Any]
    reference: dict[str, Any]
    window: dict[str, Any]
    models: dict[str, dict[str, Any]]
    gates: dict[str, float]
    seed: int
    windows: list[Window]
    back_tests: list[BackTest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The shadow gate (mlscope.monitor.rollout_gate.Rollout) when a candidate is named.
    rollout: Any = None

    @property
    def alerting(self) -> list[Window]:
        return [w for w in self.windows if w.alerts]

    @property
    def exit_code(self) -> int:
        """1 when any window raised an alert or the shadow gate does not promote, else 0."""
        held = self.rollout is not None and self.rollout.decision != "PROMOTE"
        return 1 if self.alerting or held else 0

    def to_dict(self) -> dict[str, Any]:
        windows = []
        for w in self.windows:
            d = asdict(w)
            d["status"] = w.status
            d["alerts"] = [asdict(c) for c in w.alerts]
            windows.append(d)
        out: dict[str, Any] = _clean({
            "schema": SCHEMA, "project": self.project, "charter": self.charter,
            "log": self.log, "reference": self.reference, "window": self.window,
            "models": self.models, "gates": self.gates, "seed": self.seed,
            "summary": {"windows": len(self.windows), "alerting": len(self.alerting),
                        "untrusted": sum(w.status == "untrusted" for w in self.windows),
                        "exit_code": self.exit_code},
            "windows": windows,
            "back_tests": [asdict(b) for b in self.back_tests],
            "warnings": list(self.warnings),
        })
        if self.rollout is not None:
            out["rollout"] = _clean(self.rollout.to_dict())
        return out

    def to_json(self) -> str:
        """``monitor.json``'s text. Strict JSON, as ``result.json``: :meth:`to_dict` has
        turned NaN and infinity into null, and ``allow_nan=False`` refuses any left."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, folder: Path) -> Path:
        """Write ``monitor.json`` into ``folder`` (atomically); returns its path."""
        return write_atomic(Path(folder) / "monitor.json", self.to_json())
