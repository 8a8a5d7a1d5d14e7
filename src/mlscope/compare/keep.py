"""When the selection rule picks the blessed model: keep it, and compare the runner-up.

Keeping the model in production is a normal outcome, not an error: nothing is shipped, the
best other candidate under the rule (the runner-up) is compared with the blessed model so
that a reader sees how close it came, and the verdict rests on the blessed model meeting
the requirements. Naming the blessed model itself as the candidate is a mistake, though:
it cannot be compared with itself (:class:`CandidateIsBlessed`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from mlscope.errors import InputError

__all__ = ["KEEP_REASON", "NO_RUNNER_UP", "CandidateIsBlessed", "keep_sentence", "runner_up"]

KEEP_REASON = "no candidate beats it under the charter's rule"
"""Why the blessed model stays, in every output."""

NO_RUNNER_UP = "(none)"
"""The candidate of a keep verdict when no other candidate is eligible under the rule."""


class CandidateIsBlessed(InputError):
    """The candidate to check is the blessed model itself.

    The message is worded for the Python API (``candidate=``); the CLI rewords it for
    ``--candidate``.
    """

    def __init__(self, candidate: str) -> None:
        self.candidate = candidate
        super().__init__(
            f"candidate={candidate!r} is the blessed model itself: a candidate is compared "
            "with the blessed model, not with itself; pass another model as candidate=, or "
            "candidate=None to check the model the selection rule picks (when that is the "
            "blessed model, the verdict is to keep it)")


def keep_sentence(blessed: str) -> str:
    """The one sentence every output uses when the rule picks the blessed model."""
    return f"keep {blessed}: {KEEP_REASON}"


def runner_up(ranking: Sequence[Mapping[str, Any]], blessed: str,
              candidates: Collection[str]) -> str | None:
    """The best other candidate under the rule: the first eligible model of the rule's
    ranking that is neither the blessed model nor a baseline; None when there is none.

    The ranking, not a second run of the rule without the blessed model, defines it: that
    is the order the report shows, so the outputs name the same runner-up.
    """
    for row in ranking:
        model = str(row.get("model"))
        if row.get("eligible") and model != blessed and model in candidates:
            return model
    return None
