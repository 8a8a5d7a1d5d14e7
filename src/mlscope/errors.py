"""Exceptions and warnings raised by mlscope.

Every error a user can cause derives from :class:`InputError`, which is also a
:class:`ValueError`, so callers can catch either. The CLI turns an ``InputError`` into a
message without a traceback and exit code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CharterError",
    "InputError",
    "MlscopeError",
    "Problem",
    "UndefinedMetricWarning",
    "did_you_mean",
]


class MlscopeError(Exception):
    """Root of every exception mlscope raises on purpose."""


class InputError(ValueError, MlscopeError):
    """A problem with what the user gave: a file, a column, a value, an option.

    ``key``, when given, is the charter key the problem concerns (``("data", "positive")``),
    so that ``mlscope validate`` can name its line. ``parts``, when given, are the several
    problems the message lists, each whole, for ``validate`` to list one by one.
    """

    def __init__(self, *args: object, key: tuple[str | int, ...] | None = None,
                 parts: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.key = key
        self.parts = parts


class Problem:
    """One problem found in a charter, with where it is and how to fix it.

    Parameters
    ----------
    message
        What is wrong, naming the value received.
    file
        The file the problem is in, if any.
    line
        1-based line number in ``file``, if known.
    fix
        What to do about it.
    path
        The dotted location in the charter, e.g. ``selection.optimize``.
    """

    __slots__ = ("file", "fix", "line", "message", "path")

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        fix: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.fix = fix
        self.path = path

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        at = f"{self.path}: " if self.path else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}{at}{self.message}{fix}"

    def __repr__(self) -> str:
        return f"Problem({str(self)!r})"

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "fix": self.fix,
            "path": self.path,
        }


class CharterError(InputError):
    """A charter that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = f"{len(problems)} problem(s) in the charter:" if len(problems) > 1 else ""
        body = "\n".join(f"  - {p}" if head else str(p) for p in problems)
        super().__init__(f"{head}\n{body}" if head else body)


class UndefinedMetricWarning(UserWarning):
    """A metric has no value on some data (an empty slice, one class present, ...)."""


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 1) -> str:
    """Return ``"; did you mean `x`?"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
