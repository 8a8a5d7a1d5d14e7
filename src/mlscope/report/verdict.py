"""The verdict of ``mlscope check`` as the renderers lead with it.

After ``check`` the gate verdict decides the exit code, so it is the first thing the
terminal, the HTML report and the dashboard show, with that one exit code; the run's own
summary below it states none. After ``run`` a verdict that keeps the blessed model is shown
as part of the decision ("keep ridge: no candidate beats it under the charter's rule").
"""

from __future__ import annotations

from typing import Any

from mlscope.compare.check import (
    compared_line,
    exit_meaning,
    headline,
    verdict_lines,
)
from mlscope.compare.keep import keep_sentence
from mlscope.result import EvaluationResult

__all__ = ["is_check", "is_check_command", "keep_lines", "verdict_view"]


def is_check(result: EvaluationResult) -> bool:
    """Whether ``result`` holds the outputs of ``mlscope check`` (its verdict decides)."""
    return result.command == "check" and result.check is not None


def is_check_command(command: str) -> bool:
    """Whether a stored run's command is ``check`` (``check``, ``mlscope check …``)."""
    words = command.split()
    if words[:1] == ["mlscope"]:
        words = words[1:]
    return words[:1] == ["check"]


def verdict_view(result: EvaluationResult) -> dict[str, Any] | None:
    """The verdict box of a ``check`` result: head, lines, the exit code; else None."""
    c = result.check
    if c is None or not is_check(result):
        return None
    word = (f"keep {c.blessed}" if c.keep else "pass") if c.passed else "fail"
    return {
        "passed": c.passed,
        "css": "ok" if c.passed else "bad",
        "title": f"mlscope check: {word}",
        "headline": headline(c),
        "lines": verdict_lines(c)[1:],
        "exit_code": c.exit_code,
        "exit_meaning": exit_meaning(c),
    }


def keep_lines(result: EvaluationResult) -> list[str]:
    """The keep sentence and what was compared, when the rule picked the blessed model."""
    c = result.check
    if c is None or not c.keep or c.blessed is None:
        return []
    return [keep_sentence(c.blessed), compared_line(c)]
