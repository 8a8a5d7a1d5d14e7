"""The charter's ``baselines:``: trivial, learned, rule, human-level and external figures."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mlscope.charter.strict import StrictModel

__all__ = [
    "LEARNED_KINDS",
    "TRIVIAL_KINDS",
    "AnnotationsSpec",
    "Baseline",
    "ExternalBaseline",
    "HumanBaseline",
    "LearnedBaseline",
    "RuleBaseline",
    "TrivialBaseline",
]


class TrivialBaseline(StrictModel):
    """A baseline that needs no features: it only looks at the training labels.

    ``prior``: the training class frequencies as probabilities (regression: the training
    mean, "the average of the outputs in the training data"); ``majority``: the most
    frequent training class; ``stratified``: a random class per row drawn with the training
    frequencies (seeded); ``mean`` and ``median``: of the training outputs (regression).
    """

    kind: Literal["prior", "majority", "stratified", "mean", "median"]
    fit_on: str | None = None
    seed: int | None = None
    description: str | None = None


class LearnedBaseline(StrictModel):
    """A simple model fitted by mlscope on the training split and named feature columns.

    ``logistic`` (classification) and ``linear`` (regression) standardise numeric features
    and one-hot encode categorical ones; ``gbdt`` is scikit-learn's histogram gradient
    boosting. ``params`` go to the scikit-learn estimator.
    """

    kind: Literal["logistic", "linear", "gbdt"]
    features: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    fit_on: str | None = None
    seed: int | None = None
    description: str | None = None


class RuleBaseline(StrictModel):
    """The user's own heuristic: ``module:function`` in the project directory.

    The function is called once with a DataFrame of every evaluation row (``columns``, or
    every column of the data table) and returns scores or labels, one per row.
    """

    kind: Literal["rule"]
    function: str
    columns: list[str] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> RuleBaseline:
        if ":" not in self.function:
            raise ValueError(
                f"a rule must be written `module:function`, got {self.function!r}")
        return self


class AnnotationsSpec(StrictModel):
    """Where the annotators' labels are.

    Wide: ``columns`` lists one column per annotator (an empty cell = not labelled).
    Long: one row per (item, annotator) with ``item``, ``annotator`` and ``label`` columns.
    ``path`` is a Parquet or CSV file (relative to the charter); by default the wide
    columns are read from the data table itself. Items are matched to ``data.id``.
    """

    path: str | None = None
    columns: list[str] | None = None
    item: str | None = None
    annotator: str | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _check(self) -> AnnotationsSpec:
        long = self.annotator is not None or self.label is not None
        if self.columns is None and not long:
            raise ValueError("give `columns` (one column per annotator) or `annotator` and "
                             "`label` (a long table)")
        if self.columns is not None and long:
            raise ValueError("give either `columns` (wide) or `annotator`/`label` (long), "
                             "not both")
        if long and (self.annotator is None or self.label is None or self.path is None):
            raise ValueError("a long annotation table needs `path`, `annotator` and `label` "
                             "(and `item` when its id column is not named like data.id)")
        if self.columns is not None and len(self.columns) < 2:
            raise ValueError("at least 2 annotator columns are needed to say anything about "
                             "human level")
        return self


class HumanBaseline(StrictModel):
    """Human-level performance from annotators' labels (see docs/human-level.md).

    ``reference``: ``gold`` when the data's labels are independent of these annotators
    (experts, later outcomes); ``from_annotators`` when the labels were derived from the
    same annotators (each human is then scored leave-one-out).
    """

    kind: Literal["human"]
    annotations: AnnotationsSpec
    reference: Literal["gold", "from_annotators"] = "gold"
    split: str | None = None
    panel_sizes: list[Annotated[int, Field(ge=1)]] | None = None
    min_items: int = Field(default=30, ge=1)
    description: str | None = None


class ExternalBaseline(StrictModel):
    """A figure from elsewhere: a published result, a requirement or a previous system.

    Shown as a reference line, never given an interval; flagged when ``same_data`` is false.
    """

    kind: Literal["external"]
    values: dict[str, float] = Field(min_length=1)
    source: str
    data: str
    same_data: bool = False
    role: Literal["published", "requirement", "previous"] = "published"
    description: str | None = None


Baseline = Annotated[
    TrivialBaseline | LearnedBaseline | RuleBaseline | HumanBaseline | ExternalBaseline,
    Field(discriminator="kind"),
]

TRIVIAL_KINDS = ("prior", "majority", "stratified", "mean", "median")
LEARNED_KINDS = ("logistic", "linear", "gbdt")
