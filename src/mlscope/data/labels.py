"""Binary labels: which values are the positive class, one rule for every reader (the
DuckDB and Spark evaluation readers, the monitor's log)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from mlscope.errors import InputError

__all__ = ["AUTO_FALSE", "AUTO_TRUE", "FALSE_WORDS", "TRUE_WORDS", "LabelRule",
           "binary_label_rule", "is_positive_label", "label_text"]

# Text a binary label column may hold without `data.positive` (case-insensitive): 0/1 and
# true/false. Other words (yes/no, up/down) need `data.positive`: mlscope never guesses
# which class is positive. Shared with the Spark reader.
AUTO_TRUE = ("1", "1.0", "true")
AUTO_FALSE = ("0", "0.0", "false")
# What `data.positive: true` / `false` match (any case): a boolean column's values, and the
# words DuckDB's CSV sniffer reads as booleans (t/f, yes/no), which mlscope.data.csv_types
# keeps as words. `positive: yes` is `true` to YAML, so it matches `yes`.
TRUE_WORDS = (*AUTO_TRUE, "t", "yes")
FALSE_WORDS = (*AUTO_FALSE, "f", "no")


def _number(v: Any) -> bool:
    """A number that is not a boolean (Python's or NumPy's)."""
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_)


def is_positive_label(positive: Any, v: Any) -> bool:
    """Whether label value ``v`` is the charter's ``data.positive``: true/false (a
    boolean, or that text) match their words in any case (``yes`` under ``positive:
    yes``, which YAML reads as true; see :data:`TRUE_WORDS`), numbers match by value
    (``positive: 1`` is a label of ``1.0``), anything else as written. The rule every
    reader of labels applies (the SQL of :func:`binary_label_rule`, the monitor's log)."""
    pos = label_text(positive)
    if pos.lower() in ("true", "false"):
        return label_text(v).strip().lower() in (TRUE_WORDS if pos.lower() == "true"
                                            else FALSE_WORDS)
    if _number(positive) and _number(v):
        return float(v) == float(positive)
    return label_text(v) == pos


def label_text(v: Any) -> str:
    """A label value as text, booleans in lower case (as SQL writes them)."""
    return str(v).lower() if isinstance(v, bool) else str(v)


LabelRule = tuple[Literal["truth", "equals", "equals-number", "boolean", "number", "text"],
                  str]


def binary_label_rule(values: list[Any], positive: Any, file_label: str,
                      label_name: str) -> LabelRule:
    """How a binary label column's (at most four) distinct values map to 1, checked.

    Shared by the DuckDB and Spark readers, which each write the SQL for the rule:
    ``("truth", "true" | "false")`` the positive is true or false (a boolean, or the text
    ``true``/``false``): the values that are that truth value's words
    (:data:`TRUE_WORDS`, :data:`FALSE_WORDS`, any case) are positive;
    ``("equals-number", v)`` a number, matched by value (``positive: 1`` against labels
    ``0.0``/``1.0``: ``v`` is ``repr(float(positive))``); ``("equals", v)`` the positive
    as written; ``("boolean", "")``, ``("number", "")``
    and ``("text", "")`` 0/1 or true/false as booleans, numbers or text (1 and true are
    positive).

    Raises
    ------
    InputError
        Missing values, more than two values, a ``data.positive`` that is not a value, or
        two values that are not 0/1 or true/false without ``data.positive``.
    """
    if None in values:
        raise InputError(
            f"{file_label}: column `{label_name}` (label) has missing values; drop those rows "
            "or fill the label", key=("data", "label")
        )
    if len(values) > 2:
        raise InputError(
            f"{file_label}: column `{label_name}` has more than two values "
            f"({', '.join(map(repr, values[:4]))}, …) but the task is binary; use "
            "`task: multiclass` or map the labels to two values", key=("data", "label")
        )
    if positive is not None:
        pos = label_text(positive)
        if not any(is_positive_label(positive, v) for v in values):
            raise InputError(
                f"{file_label}: data.positive is {positive!r} but column `{label_name}` holds "
                f"{', '.join(map(repr, values))}"
                f"\nfix: set `data.positive` to the value that marks a positive case, one of "
                f"{', '.join(map(repr, values))}", key=("data", "positive")
            )
        if pos.lower() in ("true", "false"):
            return ("truth", pos.lower())
        if _number(positive) and all(_number(v) for v in values):
            return ("equals-number", repr(float(positive)))
        return ("equals", pos)
    as_text = {label_text(v).strip().lower() for v in values}
    if as_text <= {*AUTO_TRUE, *AUTO_FALSE}:
        if all(isinstance(v, bool) for v in values):
            return ("boolean", "")
        if all(isinstance(v, int | float) for v in values):
            return ("number", "")
        return ("text", "")
    raise InputError(
        f"{file_label}: column `{label_name}` (label) holds {', '.join(map(repr, values))}; "
        f"say which one is positive with `data.positive: {values[-1]!r}` in the charter",
        key=("data", "positive")
    )
