"""Read charter YAML with the line of every key, and map locations onto that data.

YAML syntax errors become problems with line, column and a fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from mlscope.errors import Problem

__all__ = [
    "ABSENT",
    "Key",
    "KeyPath",
    "YamlDoc",
    "dotted",
    "find_key",
    "index_yaml",
    "norm_key",
    "project_loc",
    "yaml_problem",
]

Key = str | int
KeyPath = tuple[Key, ...]  # a key's place in the charter, e.g. ("metrics", 0, "params")

# --------------------------------------------------------------------------------------
# Reading YAML with the line of every key
# --------------------------------------------------------------------------------------


@dataclass
class YamlDoc:
    """A charter's YAML data with where each key is written.

    Attributes
    ----------
    data
        The data as YAML reads it.
    lines
        The 1-based line of each key or list item, by key path.
    texts
        The text of each scalar as written, by key path.
    duplicates
        ``(path, first line, repeated line)`` of each key written twice in one mapping.
    """

    data: Any
    lines: dict[KeyPath, int]  # where each key (or list item) is written, 1-based
    texts: dict[KeyPath, str]  # the scalar text as written, for "put it in quotes" fixes
    duplicates: list[tuple[KeyPath, int, int]]  # (path, first line, repeated line)


def _key_text(node: yaml.Node, constructor: yaml.constructor.SafeConstructor) -> str:
    if isinstance(node, yaml.ScalarNode):
        try:
            return str(constructor.construct_object(node))
        except yaml.YAMLError:
            return str(node.value)
    return str(node.value)


def index_yaml(root: yaml.Node) -> tuple[dict[KeyPath, int], dict[KeyPath, str],
                                         list[tuple[KeyPath, int, int]]]:
    """Index a composed YAML document by key path.

    Parameters
    ----------
    root
        The document's root node.

    Returns
    -------
    tuple
        The line of each key or list item, the text of each scalar, and the keys written
        twice in one mapping as ``(path, first line, repeated line)``.
    """
    lines: dict[KeyPath, int] = {}
    texts: dict[KeyPath, str] = {}
    dups: list[tuple[KeyPath, int, int]] = []
    constructor = yaml.constructor.SafeConstructor()
    stack: list[tuple[KeyPath, yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if len(path) > 64:  # a recursive alias; nothing a charter needs
            continue
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                key = _key_text(k, constructor)
                if key == "<<":  # a merge key: the merged keys keep their anchor's lines
                    continue
                line = k.start_mark.line + 1
                p = (*path, key)
                if key in first:
                    dups.append((p, first[key], line))
                else:
                    first[key] = line
                lines[p] = line
                stack.append((p, v))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                p = (*path, i)
                lines[p] = v.start_mark.line + 1
                stack.append((p, v))
        elif isinstance(node, yaml.ScalarNode) and path:
            texts[path] = str(node.value)
    return lines, texts, dups


_YAML_HINTS = (
    ("found character '\\t'", "indent with spaces, not tabs"),
    ("chomping or indentation indicators",
     "put values that start with > or | in quotes, e.g. recall: \">= 0.3\" (unquoted, "
     "YAML reads > and | as the start of a block of text)"),
    ("mapping values are not allowed",
     "quote a value that contains \": \", and indent the keys of one section equally"),
    ("could not find expected ':'", "add the missing `:` after the key, or close the quote"),
    ("expected ',' or ']'", "close the list: every [ needs a matching ]"),
    ("expected ',' or '}'", "close the mapping: every { needs a matching }"),
    ("found undefined alias", "define the anchor (&name) before using it (*name)"),
    ("found unhashable key", "keys must be plain names, not lists or mappings"),
    ("expected a single document", "keep one YAML document per charter (remove `---`)"),
    ("found unexpected end of stream", "close the quote"),
    ("found unknown escape character", "use single quotes for text with backslashes"),
)


def yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    """The problem for a YAML syntax error, with line, column and a fix.

    Parameters
    ----------
    exc
        The error YAML raised.
    file
        The charter file, for the problem's location.

    Returns
    -------
    Problem
        What is wrong, where, and a fix for the common mistakes.
    """
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return Problem(f"the file is not valid YAML: {exc}", file=file,
                       fix="check the indentation, quotes and brackets")
    mark = exc.problem_mark
    line, col = mark.line + 1, mark.column + 1
    what = exc.problem or "syntax error"
    if exc.context:
        ctx_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
        what += f" ({exc.context}" + (
            f" that starts on line {ctx_line})" if ctx_line and ctx_line != line else ")"
        )
    fix = next((hint for needle, hint in _YAML_HINTS if needle in str(exc)), None)
    fix = fix or f"check the indentation, quotes and brackets on line {line} and just before"
    return Problem(
        f"the file is not valid YAML (line {line}, column {col}): {what}",
        file=file, line=line, fix=fix,
    )


# --------------------------------------------------------------------------------------
# Locations in the data
# --------------------------------------------------------------------------------------


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()  # what a key path leads to when nothing is written there


def norm_key(k: Key) -> Key:
    """A key path element as the line index keys it: ints stay ints, the rest text.

    Parameters
    ----------
    k
        A key or list index.

    Returns
    -------
    Key
        ``k`` itself when an int (not a bool), else ``str(k)``.
    """
    return k if isinstance(k, int) and not isinstance(k, bool) else str(k)


def find_key(d: dict[Any, Any], el: Any) -> Any:
    """The key of ``d`` that ``el`` names, compared as text when not found as is.

    Parameters
    ----------
    d
        A mapping read from YAML.
    el
        A key, e.g. from pydantic's error location.

    Returns
    -------
    Any
        The key as it is in ``d``, or :data:`ABSENT`.
    """
    if el in d and not isinstance(el, bool):
        return el
    for k in d:
        if str(k) == str(el):
            return k
    return ABSENT


def project_loc(loc: tuple[Any, ...], data: Any) -> tuple[KeyPath, int | None]:
    """Map pydantic's error location onto the YAML data.

    Union members (``str``, ``dict[str,str]``) and rule tags appear in pydantic's
    locations but not in the file; they are dropped. Returns the path and where the first
    one was dropped (``None`` when nothing was).
    """
    path: list[Key] = []
    cur = data
    union_at: int | None = None
    for el in loc:
        if isinstance(cur, dict):
            k = find_key(cur, el)
            if k is not ABSENT:
                path.append(str(k))
                cur = cur[k]
                continue
        elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
            path.append(el)
            cur = cur[el]
            continue
        if union_at is None:
            union_at = len(path)
    return tuple(path), union_at


def dotted(path: KeyPath) -> str:
    """A key path as dotted text, e.g. ``metrics[0].params``.

    Parameters
    ----------
    path
        A key path.

    Returns
    -------
    str
        The path with keys joined by ``.`` and list indices in brackets.
    """
    out = ""
    for el in path:
        if isinstance(el, int) and not isinstance(el, bool):
            out += f"[{el}]"
        else:
            out += ("." if out else "") + str(el)
    return out


