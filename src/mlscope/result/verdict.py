"""The launch verdict: one answer per run to "should we ship, and what?".

Written by the verdict stage (:mod:`mlscope.pipeline.verdict`, the ladder in
:mod:`mlscope.compare.launch`); the decision table is in ``docs/deciding.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mlscope.result.requirements import RequirementCheck

__all__ = ["RECOMMENDING", "VERDICT_KINDS", "Verdict", "VerdictKind", "VerdictReason",
           "model_role"]

VerdictKind = Literal["ship", "keep_production", "ship_rule", "not_good_enough", "undecided"]
VERDICT_KINDS: tuple[str, ...] = ("ship", "keep_production", "ship_rule", "not_good_enough",
                                  "undecided")
#: The verdicts that recommend their ``model``; the others name one without recommending it.
RECOMMENDING = frozenset({"ship", "keep_production", "ship_rule"})


def model_role(kind: str, nearest: bool = True) -> str:
    """What a verdict of ``kind`` makes of its ``model``, as every renderer marks it:
    ``recommended``, ``nearest to the requirements`` (not good enough, where it names the
    nearest missed requirement; else ``selected, not recommended``: the selected model
    does not beat a trivial or ``must_beat`` baseline) or ``selected, not decided``
    (undecided: the rule's pick on the selection split, which need not lead on the
    verdict's split)."""
    if kind in RECOMMENDING:
        return "recommended"
    if kind == "not_good_enough" and not nearest:
        return "selected, not recommended"
    return {"not_good_enough": "nearest to the requirements",
            "undecided": "selected, not decided"}.get(kind, "named by the verdict")


@dataclass
class VerdictReason:
    """One reason behind the verdict, in words, with the figures it rests on.

    ``figures`` holds the numbers the sentence quotes (``value``, ``lower``, ``upper``,
    ``margin``, ``rows`` …), so a reader or a tool can check them without parsing text.
    """

    text: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    """Should we ship, and what: the first thing every renderer shows.

    ``kind`` is ``ship`` (``model``, the selected candidate), ``keep_production``
    (``model``, the blessed model), ``ship_rule`` (``model``, a rule or simple baseline
    no candidate beats beyond its paired interval, which meets every requirement),
    ``not_good_enough`` (``model`` the one nearest to the requirements, ``nearest`` its
    nearest missed requirement) or ``undecided`` (the intervals are too wide:
    ``rows_needed`` more labelled rows, about, would decide it). ``requirements`` are the
    requirement checks of every candidate and predicting baseline on ``split``;
    ``exit_code`` is the run's (``mlscope run``). ``sections`` is room for what other
    stages add to the verdict (``costs``, ``guarantees``, ``scope``): a title's lines.
    """

    kind: VerdictKind
    headline: str
    model: str | None
    metric: str | None
    split: str | None
    reasons: list[VerdictReason] = field(default_factory=list)
    requirements: list[RequirementCheck] = field(default_factory=list)
    nearest: RequirementCheck | None = None
    rows_needed: int | None = None
    next_step: str | None = None
    margins: dict[str, float] = field(default_factory=dict)
    exit_code: int = 1
    sections: dict[str, list[str]] = field(default_factory=dict)
