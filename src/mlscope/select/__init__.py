"""Choose a model: apply the charter's selection rule, and show what other rules would pick.

Every rule reads a table of point estimates on the selection split (model → metric id →
value, ``None`` when undefined) and the metrics' directions from :class:`MetricInfo`;
nothing here assumes that higher is better. Each rule's decision is a
:class:`~mlscope.result.RuleOutcome` that says who won, who was dropped and why, and who
tied. :func:`select` applies the charter's rule and, side by side, one rule of every
other kind (configured, or derived from the charter) so a user can see when different
reasonable rules pick different models.

The rooms: :mod:`~mlscope.select.common` (types, ties, ranking rows, descriptions),
:mod:`~mlscope.select.rules` (the four rules and :func:`apply_rule`),
:mod:`~mlscope.select.choose` (:func:`select`, the alternatives and ``must_beat``) and
:mod:`~mlscope.select.confidence` (:func:`decision_confidence`).
"""

from mlscope.select.choose import derive_alternatives, select
from mlscope.select.common import (
    DERIVED_NOTE,
    NO_FORMULA_NOTE,
    RULE_KINDS,
    TIE_TOLERANCE,
    rule_metrics,
)
from mlscope.select.confidence import decision_confidence
from mlscope.select.rules import apply_rule

__all__ = [
    "DERIVED_NOTE",
    "NO_FORMULA_NOTE",
    "RULE_KINDS",
    "TIE_TOLERANCE",
    "apply_rule",
    "decision_confidence",
    "derive_alternatives",
    "rule_metrics",
    "select",
]

