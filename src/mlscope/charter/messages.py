"""The words of charter problems: values shown as written, "did you mean", and fixes."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Literal

from mlscope.charter.schema import BOUND_PATTERN, MetricEntry, format_number
from mlscope.charter.yaml_safe import ascii_identifier

__all__ = [
    "COMPARE",
    "EXPECTED",
    "MISSING_FIX",
    "bound_fix",
    "closest",
    "either",
    "identifier",
    "is_number",
    "kind_suffix",
    "show",
    "suggest_id",
]


def either(words: list[str]) -> str:
    """Words joined as "a, b or c".

    Parameters
    ----------
    words
        At least one word.

    Returns
    -------
    str
        The words, the last joined with "or".
    """
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def closest(word: str, choices: Any) -> str | None:
    """The choice closest to ``word``, for "did you mean".

    Parameters
    ----------
    word
        What was written.
    choices
        The allowed values.

    Returns
    -------
    str or None
        The closest choice, or ``None`` when none is close.
    """
    import difflib

    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def show(v: Any) -> str:
    """A value as short text for a message ("nothing", "true", quoted text, ...).

    Parameters
    ----------
    v
        A value read from the charter.

    Returns
    -------
    str
        At most 60 characters.
    """
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v) if len(v) <= 60 else repr(v[:57] + "...")
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dt.date | dt.datetime | dt.time):
        return v.isoformat()
    try:
        s = json.dumps(v, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


def kind_suffix(v: Any) -> str:
    """What kind of value ``v`` is, e.g. " (a list)", when its text does not say.

    Parameters
    ----------
    v
        A value read from the charter.

    Returns
    -------
    str
        The suffix, or ``""``.
    """
    if isinstance(v, bool):
        return " (true/false)"
    if isinstance(v, list):
        return " (a list)"
    if isinstance(v, dict):
        return " (a mapping)"
    if isinstance(v, dt.date | dt.datetime | dt.time):
        return " (a date)"
    return ""


def bound_fix(value: Any) -> str:
    """The fix for a bound that is not written like ``">= 0.6"``.

    Parameters
    ----------
    value
        The bound as read.

    Returns
    -------
    str
        The corrected bound when the direction and number can be read, else an example.
    """
    example = "write e.g. \">= 0.6\" (at least) or \"<= 120\" (at most), in quotes"
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = format_number(float(value))
        return f"add the direction: \">= {v}\" (at least) or \"<= {v}\" (at most), in quotes"
    if not isinstance(value, str):
        return example
    num = re.search(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value)
    s = value.replace(" ", "").lower()
    op = None
    for needles, o in (((">=", "=>", "≥", "atleast", "min"), ">="),
                       (("<=", "=<", "≤", "atmost", "max"), "<="),
                       ((">",), ">"), (("<",), "<")):
        if any(n in s for n in needles):
            op = o
            break
    if num is not None and op is not None:
        fixed = f"{op} {num.group(0)}"
        if BOUND_PATTERN.match(fixed):
            return f"write \"{fixed}\""
    return example


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a finite number.

    Parameters
    ----------
    text
        Text as written in the charter.

    Returns
    -------
    bool
        True when ``float(text)`` is finite.
    """
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def suggest_id(entry: MetricEntry, taken: set[str]) -> str:
    """A metric id for ``entry`` that is not yet taken, for a duplicate-id fix.

    Parameters
    ----------
    entry
        The metric entry.
    taken
        The ids in use.

    Returns
    -------
    str
        The metric name with its parameters, or a number, appended.
    """
    base = entry.metric or entry.id
    bits = [re.sub(r"[^A-Za-z0-9]+", "_", str(v)).strip("_") for v in entry.params.values()]
    cand = "_".join([base, *[b for b in bits if b]]) if bits else f"{base}_2"
    cand = identifier(cand)
    n = 2
    out = cand
    while out in taken:
        out = f"{cand}_{n}"
        n += 1
    return out


def identifier(name: str) -> str:
    """``name`` as an ASCII identifier.

    Parameters
    ----------
    name
        Any text.

    Returns
    -------
    str
        An identifier suggested in a fix.
    """
    return ascii_identifier(name)  # accents dropped, so the suggestion reads as written


# What pydantic's type errors expect, in plain words.
EXPECTED: dict[str, str] = {
    "string_type": "text",
    "string_sub_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true/false",
    "bool_parsing": "true/false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

# Pydantic's comparison errors: the operator and the constraint's name.
COMPARE: dict[str, tuple[Literal[">", ">=", "<", "<="], str]] = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}

# The fix for a required key that is missing, by key.
MISSING_FIX: dict[str, str] = {
    "project": "add `project: <name>` at the top level",
    "task": "add `task: binary` (or multiclass, regression, errors) at the top level",
    "data": "add a `data:` section: where the rows are (`table:`) and what the columns "
    "mean (`label:`, `models:`, ...)",
    "metrics": "add `metrics:` with the metrics to compute, e.g. `metrics: [roc_auc]`",
    "selection": "add `selection:` with the rule that picks a model, e.g. "
    "`selection: {rule: satisficing, optimize: roc_auc}`",
    "rule": "add `rule:` (satisficing, weighted, formula or pareto)",
    "optimize": "add `optimize: <metric id>`: the metric the satisficing rule maximizes "
    "(or minimizes, for a lower-is-better metric)",
    "weights": "add `weights: {<metric id>: <weight>, ...}`",
    "expression": "add `expression:` over metric ids, e.g. `(ap_a + ap_b) / 2`",
    "database": "add `database: <file.duckdb>`",
    "table": "add `table: <table name>`",
    "path": "add `path: <predictions file>`",
    "model_column": "add `model_column: <column naming the model of each row>`",
    "op": "write the bound as text, e.g. \">= 0.6\"",
    "value": "write the bound as text, e.g. \">= 0.6\"",
}
