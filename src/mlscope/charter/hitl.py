"""The charter's ``human_in_the_loop:`` section: the model decides the cases where it is
confident and defers the rest to people, under a certified error on what it decides.

::

    human_in_the_loop:
      model: logistic     # default: the selected model (else the best-ranked)
      max_error: 0.02     # error allowed on the cases the model decides
      max_defer: 0.5      # optional: the share that may go to people (joint constraint)
      delta: 0.05         # default: guarantees.delta, else 0.05
      threshold: 0.5      # binary: the decision threshold the confidence is measured from
      slices: true        # hold the error in every slice at once
      top_k: [1, 2, 3]    # multiclass: accuracy of the k most probable classes as suggestions

Binary and multiclass tasks. See docs/deciding.md, "Human in the loop".
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlscope.errors import did_you_mean

__all__ = ["HumanInTheLoopSpec", "check_human_in_the_loop"]

KeyPath = tuple[str | int, ...]

_Rate = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _rate(name: str, example: str, what: str) -> Any:
    def check(value: Any) -> Any:
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not 0 < value < 1):
            raise ValueError(f"`{name}` is {what} and lies strictly between 0 and 1, got "
                             f"{value!r}; write e.g. `{name}: {example}`")
        return float(value)
    return check


class HumanInTheLoopSpec(BaseModel):
    """Selective prediction: ``max_error`` on the decided cases (certified with
    probability ≥ 1 − ``delta``), an optional ``max_defer`` on the share deferred, the
    binary decision ``threshold`` (default 0.5), ``slices`` (every slice at once) and
    the multiclass ``top_k`` suggestion accuracies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    max_error: _Rate
    max_defer: _Rate | None = None
    delta: _Rate | None = None
    threshold: _Rate | None = None
    slices: bool = False
    top_k: list[Annotated[int, Field(strict=True)]] = Field(default_factory=lambda: [1, 2, 3])

    _max_error = field_validator("max_error", mode="before")(
        lambda cls, v: _rate("max_error", "0.02", "the error rate allowed on the cases the "
                             "model decides")(v))
    _max_defer = field_validator("max_defer", mode="before")(
        lambda cls, v: None if v is None else _rate(
            "max_defer", "0.5", "the share of cases that may go to people")(v))
    _delta = field_validator("delta", mode="before")(
        lambda cls, v: None if v is None else _rate(
            "delta", "0.05", "the chance the guarantee may fail")(v))
    _threshold = field_validator("threshold", mode="before")(
        lambda cls, v: None if v is None else _rate(
            "threshold", "0.5", "the probability at which a case is called positive")(v))

    @field_validator("top_k")
    @classmethod
    def _ks(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 for k in value):
            raise ValueError(f"`top_k` lists how many suggestions a person sees, each at "
                             f"least 1, got {value!r}; write e.g. `top_k: [1, 2, 3]`")
        return sorted(set(value))


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None: ...


def check_human_in_the_loop(report: _Reporter, models: list[str] | None) -> None:
    """Report a ``human_in_the_loop:`` section on a task without class decisions, a
    ``model`` not among ``models`` (the charter's models and baselines; None: unknown
    until the data are read), and ``threshold`` or ``top_k`` on the task they do not
    apply to."""
    raw = report.raw
    section = raw.get("human_in_the_loop")
    if not isinstance(section, dict):
        return
    task = raw.get("task")
    if task not in ("binary", "multiclass"):
        report.add(("human_in_the_loop",), f"deferring uncertain cases to people needs "
                   f"class decisions (binary or multiclass), not the `{task}` task",
                   fix="remove `human_in_the_loop:`")
        return
    model = section.get("model")
    if isinstance(model, str) and models is not None and model not in models:
        report.add(("human_in_the_loop", "model"), f"`{model}` is not a model of the "
                   f"charter{did_you_mean(model, models)}",
                   fix="name one of " + ", ".join(f"`{m}`" for m in models)
                   + " (or leave `model` out: the selected model)")
    if task == "binary" and "top_k" in section:
        report.add(("human_in_the_loop", "top_k"), "top-k suggestions are for the "
                   "multiclass task", fix="remove `top_k`")
    if task == "multiclass" and "threshold" in section:
        report.add(("human_in_the_loop", "threshold"), "a multiclass decision is the most "
                   "probable class, with no threshold", fix="remove `threshold`")
