"""The charter's ``monitor:`` section: the same charter in production (``mlscope monitor``).

::

    monitor:
      timestamp: served_at          # when each logged row was scored
      model: gbdt                   # the model in production (its score column: data.models)
      label: purchase               # optional: late labels, where they have arrived
      features: [car_policies, income]   # default: the slice columns and baseline features
      window: {by: time, every: 1d}      # or {by: count, rows: 500}, or {by: auto}
      reference: test               # a split of data.table (default: splits.report)
      threshold: 0.1                # the operating threshold (default: from the metrics)
      alert: {psi: 0.2, js: 0.1, q: 0.05}
      feedback:                     # optional user-feedback columns (0/1 per row)
        redo: {at_most: 0.15}
      candidate: gbdt_v2            # optional: a new model in shadow (its score logged too)
      # or a canary / blue-green rollout (one model serves each row):
      # candidate: {model: gbdt_v2, mode: canary, arm: served_by}
      # candidate: {model: gbdt_v2, mode: blue_green, switch: "2026-03-01T00:00:00Z"}

Every key is documented in docs/charter.md and docs/monitoring.md.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AlertSpec", "CandidateSpec", "FeedbackSpec", "MonitorSpec", "WindowSpec",
           "parse_every"]

_EVERY = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w)\s*$")
_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_every(text: str) -> int:
    """Seconds in a window length such as ``1d``, ``6h``, ``30min``, ``2w``.

    Raises
    ------
    ValueError
        The text is not a whole number followed by ``s``, ``min``, ``h``, ``d`` or ``w``.
    """
    m = _EVERY.match(str(text))
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f"`every: {text}` is not a window length; write a whole number and "
                         "a unit: `30min`, `6h`, `1d` or `1w` (s, min, h, d, w)")
    return int(m.group(1)) * _SECONDS[m.group(2)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSpec(_Spec):
    """How the log is cut into windows: by ``time`` (``every``), by ``count`` (``rows``),
    or ``auto`` (enough rows that the expected accuracy's 95% interval is at most
    ± ``half_width``; docs/monitoring.md gives the rule)."""

    by: Literal["time", "count", "auto"] = "auto"
    every: str | None = None
    rows: int | None = Field(default=None, ge=20, le=10_000_000)
    half_width: float = Field(default=0.03, gt=0.0, lt=0.5)

    @model_validator(mode="after")
    def _check(self) -> WindowSpec:
        if self.by == "time":
            if self.every is None:
                raise ValueError("a time window needs its length: write `every: 1d` "
                                 "(or 6h, 30min, 1w)")
            parse_every(self.every)
        elif self.every is not None:
            raise ValueError(f"`every` is for `by: time`, and this window is `by: {self.by}`; "
                             "remove `every` or write `by: time`")
        if self.by == "count" and self.rows is None:
            raise ValueError("a count window needs its size: write `rows: 500`")
        if self.by != "count" and self.rows is not None:
            raise ValueError(f"`rows` is for `by: count`, and this window is `by: {self.by}`; "
                             "remove `rows` or write `by: count`")
        return self

    @property
    def seconds(self) -> int | None:
        """The window length in seconds (time windows), else None."""
        return parse_every(self.every) if self.every is not None else None


class AlertSpec(_Spec):
    """When a check raises an alert: its test's Benjamini–Hochberg q-value is below ``q``
    **and** its effect size reaches the gate (so that a large window alone never alerts)."""

    q: float = Field(default=0.05, gt=0.0, lt=0.5)
    psi: float = Field(default=0.2, gt=0.0)
    js: float = Field(default=0.1, gt=0.0, le=1.0)
    wasserstein: float = Field(default=0.25, gt=0.0)
    missing: float = Field(default=0.05, gt=0.0, le=1.0)
    out_of_range: float = Field(default=0.02, gt=0.0, le=1.0)
    new_category: float = Field(default=0.02, gt=0.0, le=1.0)
    positive_rate: float = Field(default=0.05, gt=0.0, le=1.0)
    volume: float = Field(default=0.5, gt=0.0, lt=1.0)
    domain_auc: float = Field(default=0.75, gt=0.5, lt=1.0)
    calibration: float = Field(default=0.05, gt=0.0, lt=1.0)
    # Regression, once labels arrive: a realised metric alerts when its interval's nearer
    # bound is worse than the reference's value by this share of it (0.1: 10% worse).
    performance: float = Field(default=0.1, gt=0.0, lt=10.0)


class FeedbackSpec(_Spec):
    """A user-feedback column (0/1 per row: a redo, a switch to typing): its rate per
    window, with an optional bound that raises an alert when the rate crosses it."""

    at_most: float | None = Field(default=None, ge=0.0, le=1.0)
    at_least: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one(self) -> FeedbackSpec:
        if self.at_most is not None and self.at_least is not None:
            raise ValueError("give at most one of `at_most` and `at_least`")
        return self


class CandidateSpec(_Spec):
    """A new model rolled out beside the production model, decided PROMOTE / HOLD /
    ROLL BACK with the charter's ``gates:`` (docs/monitoring.md#rollout-gates).

    ``mode`` says how the traffic is shared:

    * ``shadow`` (default): both models score every row (paired figures); ``score`` is
      the candidate's column in the log (default: its column in ``data.models``);
    * ``canary``: each row is served by ONE model, named in the log column ``arm`` (its
      values are the two model names); unpaired figures;
    * ``blue_green``: production serves every row before ``switch`` (an ISO 8601 time),
      the candidate every row from it on; unpaired figures, confounded with time.

    In ``canary`` and ``blue_green`` the serving model's score is in the production
    model's score column unless ``score`` names a separate column for the candidate's
    rows. ``min_effect`` is the true improvement the minimum-rows (power) calculation
    assumes for an ``improve`` gate (and for a ``regress: 0`` gate).
    """

    model: str
    score: str | None = None
    mode: Literal["shadow", "canary", "blue_green"] = "shadow"
    arm: str | None = None
    switch: str | None = None
    min_effect: float = Field(default=0.02, gt=0.0, lt=1.0)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        # `blue-green` as people write it.
        return "blue_green" if value in ("blue-green", "bluegreen") else value

    @field_validator("switch", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        # YAML reads an unquoted ISO time as a datetime; keep the text form.
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    @model_validator(mode="after")
    def _check(self) -> CandidateSpec:
        if self.mode == "canary" and not self.arm:
            raise ValueError("a canary names the log column that says which model served "
                             "each row: write `arm: <column>` (its values: the two model "
                             "names)")
        if self.mode != "canary" and self.arm is not None:
            raise ValueError(f"`arm` is for `mode: canary`, and this rollout is "
                             f"`mode: {self.mode}`; remove `arm` or write `mode: canary`")
        if self.mode == "blue_green" and not self.switch:
            raise ValueError("a blue-green rollout needs its cut-over time: write "
                             "`switch: 2026-03-01T00:00:00Z` (the first time the candidate "
                             "served)")
        if self.mode != "blue_green" and self.switch is not None:
            raise ValueError(f"`switch` is for `mode: blue_green`, and this rollout is "
                             f"`mode: {self.mode}`; remove `switch` or write "
                             "`mode: blue_green`")
        return self


class MonitorSpec(_Spec):
    """The ``monitor:`` section: which log columns are what, the windows, the reference and
    the alert gates."""

    timestamp: str
    model: str | None = None
    score: str | dict[str, str] | None = None
    label: str | None = None
    features: list[str] | None = None
    window: WindowSpec = Field(default_factory=WindowSpec)
    reference: str | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    alert: AlertSpec = Field(default_factory=AlertSpec)
    feedback: dict[str, FeedbackSpec] = Field(default_factory=dict)
    resamples: int = Field(default=200, ge=50, le=10_000)
    candidate: CandidateSpec | None = None

    @field_validator("candidate", mode="before")
    @classmethod
    def _candidate(cls, value: Any) -> Any:
        # `candidate: gbdt_v2` names the model; its log column is its data.models column.
        if isinstance(value, str):
            return {"model": value}
        return value

    @field_validator("feedback", mode="before")
    @classmethod
    def _feedback(cls, value: Any) -> Any:
        # `feedback: [redo, switched]` (rates only) is accepted as a list of columns.
        if isinstance(value, list):
            return {str(c): {} for c in value}
        return value

    @model_validator(mode="after")
    def _check(self) -> MonitorSpec:
        if self.model is None and self.score is None:
            raise ValueError("name the model in production: `model: <a model of data.models>` "
                             "(or its score column in the log: `score: <column>`)")
        if isinstance(self.score, dict) and self.model is not None:
            raise ValueError("`score` maps several models to their columns; remove `model` "
                             "(or give `score` as one column)")
        if self.candidate is not None and isinstance(self.score, dict):
            raise ValueError("`candidate` is compared with the one model in production; "
                             "give `model` (not a `score` mapping of several models)")
        if self.candidate is not None and self.candidate.model == self.model:
            raise ValueError(f"`candidate: {self.candidate.model}` is the model in production "
                             "itself; name the new model served in shadow")
        if self.features is not None and not self.features:
            raise ValueError("`features` is empty; list the columns to watch, or remove the "
                             "key (default: the slice columns and baseline features)")
        return self

    def watches(self, task: str = "binary") -> list[str]:
        """What ``mlscope monitor`` watches with this section for a ``task``'s model, in
        words (the plan's evidence for its monitoring item)."""
        feats = ", ".join(self.features) if self.features else (
            "the slice columns and baseline features")
        if isinstance(self.score, dict):
            models = ", ".join(self.score)
        else:
            models = self.model or f"the score `{self.score}`"
        output = {"multiclass": "each class's probability shift and the predicted classes' "
                                "shares",
                  "regression": "the prediction's shift"}.get(
            task, "the score's shift and the positive rate at the operating threshold")
        measured = f"measured once `{self.label}` arrives" if self.label else ""
        ml = ("ML: the charter's metrics " + (measured or "not measured: no `label` column")
              + " (a regression has no estimate before labels)" if task == "regression"
              else "ML: the charter's metrics estimated before labels"
              + (f", {measured}" if measured else ""))
        out = [f"input: {feats} (shift, missing values, new values, volume)",
               f"output: {models}: {output}", ml]
        if self.feedback:
            out.append("user feedback: " + ", ".join(self.feedback))
        if self.candidate is not None:
            out.append(f"rollout: {self.candidate.model} ({self.candidate.mode}) gated "
                       "against the model in production")
        return out
