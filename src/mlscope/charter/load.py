"""Load a charter from YAML and check it, reporting every problem with file, line and fix.

Three layers of checks, all collected before anything is raised:

1. **YAML**: syntax errors (with line and column), an empty file, a top level that is not
   a mapping, a key written twice in the same mapping.
2. **Schema**: pydantic's errors, rewritten in plain language (unknown keys with "did you
   mean" and the keys allowed at that level, the allowed values of a choice, the expected
   form of a bound) and placed on the line where the key is written.
3. **Meaning**: one data source, models given one way and in the shape the task needs,
   metric names and parameters known to the registry, unique metric ids, every metric id
   that a rule, requirement or report names is computed, weights that can be averaged,
   well-formed slices. Selecting on the report split is a warning, not an error.

Sections that fail the schema are left out of the later checks; the other sections are
still checked, so one run shows every problem.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from mlscope.charter.bounds import check_metric_ranges
from mlscope.charter.pairs import check_compare
from mlscope.charter.predicate import PredicateError, parse_predicate
from mlscope.charter.schema import (
    _BOUND,
    Baseline,
    Bound,
    Charter,
    DataSpec,
    ExternalBaseline,
    FormulaRule,
    HumanBaseline,
    MetricEntry,
    ParetoRule,
    ReportSpec,
    Rule,
    SatisficingRule,
    SliceSpec,
    SplitSpec,
    WeightedRule,
    format_number,
)
from mlscope.charter.yaml_safe import (
    CharterLoader,
    YamlLimitError,
    ascii_identifier,
    read_charter_text,
)
from mlscope.errors import CharterError, InputError, Problem, did_you_mean

__all__ = [
    "ValidationReport",
    "charter_to_dict",
    "load_charter",
    "resolve_path",
    "validate_charter",
]

Key = str | int
KeyPath = tuple[Key, ...]
AnyRule = SatisficingRule | WeightedRule | FormulaRule | ParetoRule

_RULE_ADAPTER: TypeAdapter[AnyRule] = TypeAdapter(Rule)
_BASELINE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Baseline)
_BOUNDS_ADAPTER: TypeAdapter[dict[str, Bound]] = TypeAdapter(dict[str, Bound])
_RULE_NAMES = ("satisficing", "weighted", "formula", "pareto")
_RULE_CLASSES: tuple[type[BaseModel], ...] = (
    SatisficingRule, WeightedRule, FormulaRule, ParetoRule,
)
_TASKS = ("binary", "multiclass", "regression", "errors")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOCS = "docs/charter.md"


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """The outcome of checking a charter.

    Attributes
    ----------
    charter
        The typed charter when it has no problems, else ``None``.
    problems
        Every problem found, in file order; empty when the charter is valid.
    warnings
        Things that are allowed but probably unintended (e.g. selecting on the report
        split).
    """

    charter: Charter | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the charter is valid (warnings allowed)."""
        return self.charter is not None and not self.problems


def validate_charter(path: str | Path) -> ValidationReport:
    """Check a charter file and report every problem; never raises for charter problems.

    Parameters
    ----------
    path
        The charter's YAML file.

    Returns
    -------
    ValidationReport
        ``charter`` (``None`` unless valid), ``problems`` and ``warnings``, each a
        :class:`~mlscope.errors.Problem` naming the file, the line, the dotted path in the
        charter, what was received and the fix. A missing file is reported as a problem.
    """
    return _validate(path)[0]


def load_charter(path: str | Path) -> Charter:
    """Read, validate and check a charter file.

    Parameters
    ----------
    path
        The charter's YAML file.

    Returns
    -------
    Charter
        The typed charter. Relative data paths in it are relative to the charter's folder:
        resolve them with :func:`resolve_path`.

    Raises
    ------
    InputError
        When the file does not exist or cannot be read.
    CharterError
        When the charter has problems; ``.problems`` lists every one of them.
    """
    report, unreadable = _validate(path)
    if unreadable is not None:
        raise InputError(str(unreadable))
    if report.problems or report.charter is None:
        raise CharterError(report.problems)
    return report.charter


def resolve_path(charter_path: str | Path, p: str | Path) -> Path:
    """Resolve a path written in a charter against the charter's folder.

    Parameters
    ----------
    charter_path
        The charter file (or the folder it is in).
    p
        A path from the charter, e.g. ``data.table``; ``~`` is expanded.

    Returns
    -------
    Path
        ``p`` itself when absolute, else ``p`` under the charter's folder.
    """
    q = Path(p).expanduser()
    if q.is_absolute():
        return q
    base = Path(charter_path).expanduser().resolve()
    if not base.is_dir():
        base = base.parent
    return base / q


def charter_to_dict(charter: Charter) -> dict[str, Any]:
    """The charter as plain JSON-safe data, for embedding into results.

    Parameters
    ----------
    charter
        A charter.

    Returns
    -------
    dict
        Every key with its value (defaults filled in); bounds written as in the charter
        (``">= 0.6"``); dates as ISO text; non-finite numbers as text.
    """
    out = _jsonable(charter)
    assert isinstance(out, dict)
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, Bound):
        return str(x)
    if isinstance(x, BaseModel):
        return {name: _jsonable(getattr(x, name)) for name in type(x).model_fields}
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [_jsonable(v) for v in x]
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if x is None or isinstance(x, str | int | bool):
        return x
    if isinstance(x, dt.date | dt.datetime | dt.time):
        return x.isoformat()
    return str(x)


# --------------------------------------------------------------------------------------
# Reading YAML with the line of every key
# --------------------------------------------------------------------------------------


@dataclass
class _Yaml:
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


def _index(root: yaml.Node) -> tuple[dict[KeyPath, int], dict[KeyPath, str],
                                     list[tuple[KeyPath, int, int]]]:
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


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
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
# The checker
# --------------------------------------------------------------------------------------


def _validate(path: str | Path) -> tuple[ValidationReport, Problem | None]:
    """Check ``path``; the second value is set when the file itself cannot be read."""
    file = str(path)
    text, prob, unreadable = read_charter_text(Path(path).expanduser(), file)
    if text is None:
        assert prob is not None
        return ValidationReport(None, [prob]), prob if unreadable else None

    loader = CharterLoader(text)  # the limits of yaml_safe, enforced while composing
    try:
        root = loader.get_single_node()
        if root is None:
            return ValidationReport(None, [Problem(
                "the charter is empty", file=file,
                fix="write at least project, task, data, metrics and selection (see the "
                f"examples in {_DOCS})",
            )]), None
        lines, texts, dups = _index(root)
        data = loader.construct_document(root)
    except YamlLimitError as exc:
        return ValidationReport(None, [exc.problem(file)]), None
    except yaml.YAMLError as exc:
        return ValidationReport(None, [_yaml_problem(exc, file)]), None
    finally:
        loader.dispose()

    if not isinstance(data, dict):
        return ValidationReport(None, [Problem(
            f"the top level of the charter must be a mapping of keys (project:, task:, "
            f"data:, ...), got {_show(data)}{_kind_suffix(data)}",
            file=file, line=root.start_mark.line + 1,
            fix="start each top-level key at the beginning of a line, e.g. `project: churn`",
        )]), None

    checker = _Checker(file, _Yaml(data, lines, texts, dups))
    return checker.run(), None


class _Checker:
    """Collects the problems and warnings of one charter."""

    def __init__(self, file: str, doc: _Yaml) -> None:
        self.file = file
        self.doc = doc
        self.raw: dict[Any, Any] = doc.data
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._registry_note = False
        # Keys that an "unknown key, did you mean" problem already tells the user to add.
        self.renamed: set[KeyPath] = set()
        # Metric ids that will exist once a misspelled metric name is corrected as suggested.
        self.corrected_ids: set[str] = set()

    # --- recording -------------------------------------------------------------------

    def line(self, path: KeyPath) -> int | None:
        p = tuple(_norm(k) for k in path)
        while p:
            if p in self.doc.lines:
                return self.doc.lines[p]
            p = p[:-1]
        return None

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None:
        """Record a problem at ``path``; its line is that of ``at`` when given."""
        line = self.line(path if at is None else at)
        self.problems.append(Problem(message, file=self.file, line=line,
                                     fix=fix, path=_dotted(path) or None))

    def warn(self, path: KeyPath, message: str, fix: str | None = None) -> None:
        self.warnings.append(Problem(message, file=self.file, line=self.line(path),
                                     fix=fix, path=_dotted(path) or None))

    def raw_at(self, path: KeyPath) -> Any:
        cur: Any = self.raw
        for el in path:
            if isinstance(cur, dict):
                k = _find_key(cur, el)
                if k is _ABSENT:
                    return _ABSENT
                cur = cur[k]
            elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
                cur = cur[el]
            else:
                return _ABSENT
        return cur

    # --- the run ---------------------------------------------------------------------

    def run(self) -> ValidationReport:
        for path, first, again in self.doc.duplicates:
            parent = _dotted(path[:-1])
            self.add(
                path,
                f"key `{path[-1]}` is written twice "
                f"{'in `' + parent + '`' if parent else 'at the top level'} (lines {first} "
                f"and {again}); YAML keeps only the last one",
                fix="merge the two into one key, or remove one of them",
            )
        charter: Charter | None = None
        try:
            charter = Charter.model_validate(self.raw)
        except ValidationError as exc:
            self.schema_problems(exc.errors())
        parts = _Parts.of(charter) if charter is not None else self.partial()
        self.semantic(parts)
        self.problems.sort(key=lambda p: (p.line or 0))
        self.warnings = list({str(w): w for w in self.warnings}.values())
        self.warnings.sort(key=lambda p: (p.line or 0))
        return ValidationReport(
            charter if not self.problems else None, self.problems, self.warnings
        )

    # --- layer 2: pydantic's errors in plain language --------------------------------

    def schema_problems(self, errors: list[ErrorDetails]) -> None:
        items: list[tuple[ErrorDetails, KeyPath, int | None]] = []
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "missing" and loc:
                parent, union_at = _project(loc[:-1], self.raw)
                items.append((err, (*parent, str(loc[-1])), None))
            else:
                path, union_at = _project(loc, self.raw)
                items.append((err, path, union_at))

        # A value that matches no member of a union (`str | dict[str, str]`) gets one error
        # per member. When one member got further (an error inside the mapping), only its
        # errors are kept; otherwise the members' expectations are merged into one problem.
        by_node: dict[KeyPath, list[int]] = {}
        for i, (_, path, union_at) in enumerate(items):
            if union_at is not None:
                by_node.setdefault(path[:union_at], []).append(i)
        skip: set[int] = set()
        merged: list[tuple[KeyPath, list[ErrorDetails]]] = []
        for node, idx in by_node.items():
            shallow = [i for i in idx if items[i][1] == node and items[i][0]["type"] in _EXPECTED]
            if len(shallow) == len(idx) and len(shallow) > 1:
                merged.append((node, [items[i][0] for i in shallow]))
                skip.update(shallow)
            elif len(shallow) < len(idx):
                skip.update(shallow)

        renamed = self.renamed
        for i, (err, path, _) in enumerate(items):
            if i not in skip and err["type"] == "extra_forbidden":
                best = _best(str(path[-1]), self.allowed_keys(tuple(err["loc"])[:-1]))
                if best:
                    renamed.add((*path[:-1], best))
        for i, (err, path, _) in enumerate(items):
            if i in skip or (err["type"] == "missing" and path in renamed):
                continue
            self.schema_problem(err, path)
        for node, errs in merged:
            wanted = _either(list(dict.fromkeys(_EXPECTED[e["type"]] for e in errs)))
            value = errs[0].get("input")
            self.add(node, f"expected {wanted}, got {_show(value)}{_kind_suffix(value)}",
                     fix=self.type_fix(node, value, wanted))

    def allowed_keys(self, loc: tuple[Any, ...]) -> list[str]:
        model = _model_at(loc)
        return list(model.model_fields) if model is not None else []

    def schema_problem(self, err: ErrorDetails, path: KeyPath) -> None:
        kind = err["type"]
        value = err.get("input")
        ctx = err.get("ctx") or {}
        loc = tuple(err["loc"])
        where = _dotted(path[:-1])

        if kind == "extra_forbidden":
            key = str(path[-1])
            model = _model_at(loc[:-1])
            allowed = list(model.model_fields) if model is not None else []
            if model in _RULE_CLASSES:
                owners = [_rule_name(c) for c in _RULE_CLASSES if key in c.model_fields]
                if owners:
                    this = _rule_name(model)
                    self.add(path, f"`{key}` is not a key of rule `{this}` (it belongs to "
                             f"rule {', '.join(owners)}); keys of `{this}`: "
                             f"{', '.join(allowed)}",
                             fix=f"remove `{key}`, or change the rule to `{owners[0]}`")
                    return
            level = f"in `{where}`" if where else "at the top level"
            best = _best(key, allowed)
            self.add(
                path,
                f"unknown key `{key}` {level}{did_you_mean(key, allowed)} "
                f"(allowed keys: {', '.join(allowed)})",
                fix=f"rename it to `{best}`" if best else "remove it, or use one of the "
                "allowed keys",
            )
        elif kind == "missing":
            key = str(path[-1])
            self.add(path,
                     f"missing required key `{key}`" + (f" in `{where}`" if where else ""),
                     fix=_MISSING_FIX.get(key, f"add `{key}:` under `{where or 'the top level'}`"),
                     at=path[:-1])
        elif kind == "union_tag_invalid":
            given = self.raw_at((*path, "rule"))
            tag = given if isinstance(given, str) else str(ctx.get("tag", ""))
            best = _best(tag, _RULE_NAMES)
            self.add((*path, "rule"),
                     f"rule must be one of {', '.join(_RULE_NAMES)}; got "
                     f"{_show(given) if given is not _ABSENT else repr(tag)}"
                     f"{did_you_mean(tag, _RULE_NAMES)}",
                     fix=f"write `rule: {best}`" if best else
                     f"use one of {', '.join(_RULE_NAMES)} (see {_DOCS})")
        elif kind == "union_tag_not_found":
            keys = [str(k) for k in value] if isinstance(value, dict) else []
            typo = next((k for k in keys if _best(k, ["rule"])), None)
            head = f"unknown key `{typo}`; did you mean `rule`? " if typo else ""
            self.add(path, f"{head}a rule needs `rule:`, one of {', '.join(_RULE_NAMES)}",
                     fix=f"rename `{typo}` to `rule`" if typo else
                     "add `rule: satisficing` (or weighted, formula, pareto) with that "
                     "rule's keys")
        elif kind == "literal_error":
            allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            shown = _show(value)
            best = _best(str(value), allowed) if isinstance(value, str) else None
            self.add(path,
                     f"must be one of {', '.join(allowed)}; got {shown}"
                     f"{did_you_mean(str(value), allowed) if isinstance(value, str) else ''}",
                     fix=f"write `{path[-1]}: {best}`" if best else
                     f"use one of {', '.join(allowed)}")
        elif kind == "value_error":
            self.value_error(path, str(ctx.get("error", err["msg"])), value)
        elif kind in ("model_type", "model_attributes_type") and _is_metric_entry(path):
            self.add(path, "a metric entry is a metric name or a mapping with `metric:` "
                     f"(or `custom:`), got {_show(value)}{_kind_suffix(value)}",
                     fix="write e.g. `- roc_auc` or `- {metric: precision, threshold: 0.3}`")
        elif kind in ("model_type", "model_attributes_type") and _is_rule(path):
            rule_hint = value if isinstance(value, str) and value in _RULE_NAMES else "satisficing"
            self.add(path, "a rule is a mapping with `rule:` and that rule's keys, got "
                     f"{_show(value)}{_kind_suffix(value)}",
                     fix=f"write e.g. `{{rule: {rule_hint}, ...}}` with the keys of that rule "
                     f"(see {_DOCS})")
        elif kind in _EXPECTED:
            wanted = _EXPECTED[kind]
            self.add(path, f"expected {wanted}, got {_show(value)}{_kind_suffix(value)}",
                     fix=self.type_fix(path, value, wanted))
        elif kind in _COMPARE:
            op, key = _COMPARE[kind]
            limit = ctx.get(key)
            self.add(path, f"must be {op} {limit}, got {_show(value)}",
                     fix=f"use a value {op} {limit}")
        elif kind in ("too_short", "too_long"):
            self.length_problem(path, kind, ctx, value)
        else:
            msg = str(err["msg"])
            self.add(path, f"{msg[:1].lower()}{msg[1:]}, got {_show(value)}",
                     fix=f"see `{_dotted(path)}` in {_DOCS}")

    def type_fix(self, path: KeyPath, value: Any, wanted: str) -> str:
        text = self.doc.texts.get(tuple(_norm(k) for k in path))
        if value is None:
            return "write a value after the colon, or remove the key"
        if len(path) == 3 and path[:2] == ("data", "models"):
            return (f"write `{path[2]}: <score column>` (binary, regression) or "
                    f"`{path[2]}: {{class: column, ...}}` (multiclass)")
        if "text" in wanted and isinstance(value, bool | dt.date) and text is not None:
            return f"put it in quotes: \"{text}\" (YAML reads {text} as "\
                   f"{'true/false' if isinstance(value, bool) else 'a date'})"
        if wanted == "a list":
            if isinstance(value, str):
                return f"write a list: [{value}]"
            return "write a list, e.g. [a, b] or one `- item` per line"
        if "mapping" in wanted:
            if isinstance(value, str) and path == ("data", "models"):
                return "map each model to its score column: `models: {model_a: p_a, ...}`"
            return "write its keys indented below it (key: value per line), or {key: value}"
        if wanted == "a whole number":
            return "write a whole number, e.g. 1000"
        if wanted in ("a number", "a finite number"):
            return "write a number without quotes, e.g. 0.95"
        if wanted == "true/false":
            return "write true or false"
        if isinstance(value, list | dict):
            return "give a single value, not a list or a mapping (check the indentation)"
        return f"write {wanted}"

    def length_problem(self, path: KeyPath, kind: str, ctx: dict[str, Any], value: Any) -> None:
        n = len(value) if isinstance(value, list | dict | str) else ctx.get("actual_length")
        key = _dotted(path)
        if key == "report.tradeoff":
            self.add(path, f"needs exactly 2 metric ids (x axis, then y axis), got {n}",
                     fix="write e.g. `tradeoff: [recall, precision]`")
        elif key == "metrics":
            self.add(path, "needs at least one metric",
                     fix="list metrics, e.g. `metrics: [roc_auc, average_precision]`")
        elif path and path[-1] == "metrics" and _is_rule(path[:-1]):
            self.add(path, f"a Pareto rule needs at least 2 metrics, got {n}",
                     fix="list two or more metric ids, e.g. `metrics: [recall, precision]`")
        elif kind == "too_short":
            need = ctx.get("min_length")
            self.add(path, f"needs at least {need} item(s), got {n}",
                     fix=f"give at least {need} item(s)")
        else:
            most = ctx.get("max_length")
            self.add(path, f"takes at most {most} item(s), got {n}",
                     fix=f"give at most {most} item(s)")

    def value_error(self, path: KeyPath, message: str, value: Any) -> None:
        message = message.removeprefix("Value error, ")
        if message.startswith("a bound is written like"):
            self.add(path, message, fix=_bound_fix(value))
            return
        if message.startswith("give exactly one of `metric`") and isinstance(value, dict):
            if "metric" in value and "custom" in value:
                self.add(path, "a metric entry has both `metric` and `custom`",
                         fix="keep `metric:` for a registry metric or `custom:` for your own "
                         "function, not both")
                return
            keys = [str(k) for k in value]
            for k in keys:
                best = _best(k, ["metric", "custom", "direction"])
                if best:
                    self.add((*path, k),
                             f"unknown key `{k}` in a metric entry; did you mean `{best}`?",
                             fix=f"rename it to `{best}`")
                    return
            self.add(path, f"a metric entry needs `metric:` (a registry name) or `custom:` "
                     f"(module:function), got {_show(value)}",
                     fix="add e.g. `metric: precision`")
            return
        if message.startswith("custom metric must be written"):
            self.add((*path, "custom"), message,
                     fix="write `custom: my_metrics:expected_cost` (a file my_metrics.py "
                     "next to the charter, defining expected_cost)")
            return
        if message.startswith("a custom metric needs `direction"):
            self.add(path, "a custom metric needs `direction:` (is higher or lower better?)",
                     fix="add `direction: higher` or `direction: lower`")
            return
        if message.startswith("metric id"):
            self.add(path, message.split("; set `id:`")[0],
                     fix="set `id:` to a name of letters, digits and _ , e.g. `id: cost_fn`")
            return
        self.add(path, message, fix=f"see `{_dotted(path)}` in {_DOCS}")

    # --- layer 3: meaning --------------------------------------------------------------

    def partial(self) -> _Parts:
        """Validate each section on its own so later checks can run on the valid ones."""
        raw = self.raw
        parts = _Parts()
        task = raw.get("task")
        parts.task = task if task in _TASKS else None
        parts.data, parts.data_broken = _lenient(DataSpec.model_validate,
                                                 raw.get("data", _ABSENT))
        parts.splits = _lenient(SplitSpec.model_validate, raw.get("splits") or {})[0]
        parts.slices = _lenient(SliceSpec.model_validate, raw.get("slices") or {})[0]
        parts.report = _lenient(ReportSpec.model_validate, raw.get("report") or {})[0]
        metrics = raw.get("metrics")
        if isinstance(metrics, list):
            for i, entry in enumerate(metrics):
                m = _try(MetricEntry, entry)
                if m is not None:
                    parts.metrics.append((i, m))
                    parts.ids.append(m.id)
                elif isinstance(entry, str):
                    parts.ids.append(entry)
                elif isinstance(entry, dict):
                    guess = entry.get("id") or entry.get("metric") or entry.get("custom")
                    if isinstance(guess, str):
                        parts.ids.append(guess)
        if "selection" in raw:
            parts.selection = _lenient(_RULE_ADAPTER.validate_python, raw["selection"])[0]
        alternatives = raw.get("alternatives")
        if isinstance(alternatives, list):
            for i, alt in enumerate(alternatives):
                r = _lenient(_RULE_ADAPTER.validate_python, alt)[0]
                if r is not None:
                    parts.alternatives.append((i, r))
        requirements = raw.get("requirements")
        if isinstance(requirements, dict):
            parts.requirements = [str(k) for k in requirements]
        baselines = raw.get("baselines")
        if isinstance(baselines, dict):
            for name, spec in baselines.items():
                b = _lenient(_BASELINE_ADAPTER.validate_python, spec)[0]
                if b is not None:
                    parts.baselines[str(name)] = b
        parts.complete_ids = isinstance(metrics, list)
        return parts

    def semantic(self, parts: _Parts) -> None:
        if parts.data is not None:
            self.check_data(parts.task, parts.data, parts.data_broken)
        self.check_metrics(parts)
        self.check_references(parts)
        for path, rule in parts.rules():
            self.check_rule(path, rule)
        if parts.slices is not None:
            self.check_slices(parts.slices)
        if parts.splits is not None:
            self.check_splits(parts)
        self.check_baselines(parts)
        self.check_gates(parts)
        d = parts.data
        named = list(d.models or d.predictions or {}) if d is not None else []
        raw_baselines = self.raw.get("baselines")
        named += [str(k) for k in raw_baselines] if isinstance(raw_baselines, dict) else []
        check_compare(self, named if d is not None and (d.models or d.predictions) else None)
        self.check_diagnosis(parts)
        check_metric_ranges(self, parts.metrics, parts.rules())

    def check_diagnosis(self, parts: _Parts) -> None:
        raw = self.raw.get("diagnosis")
        if not isinstance(raw, dict):
            return
        ids = parts.ids
        refs = [("metric", raw.get("metric"))] + [
            (("budgets", i), b) for i, b in enumerate(raw.get("budgets") or [])]
        for key, ref in refs:
            if isinstance(ref, str) and parts.complete_ids and ref not in ids:
                path = ("diagnosis", *(key if isinstance(key, tuple) else (key,)))
                self.add(path, f"metric `{ref}` is not computed{did_you_mean(ref, ids)} "
                         f"(computed: {', '.join(ids)})",
                         fix="name a metric listed under `metrics:`")
        lc = raw.get("learning_curve")
        if isinstance(lc, dict) and isinstance(lc.get("refit"), str):
            name = lc["refit"]
            learned = [n for n, b in parts.baselines.items()
                       if getattr(b, "kind", None) in ("logistic", "linear", "gbdt")]
            if name not in learned:
                self.add(("diagnosis", "learning_curve", "refit"),
                         f"`{name}` is not a learned baseline{did_you_mean(name, learned)} "
                         f"(learned baselines: {', '.join(learned) or 'none'})",
                         fix="name a `logistic`, `linear` or `gbdt` baseline under "
                         "`baselines:`, or give measured `sizes` and `values`")

    def check_gates(self, parts: _Parts) -> None:
        raw = self.raw
        gates = raw.get("gates")
        if isinstance(gates, dict) and parts.complete_ids:
            for k in gates:
                if str(k) not in parts.ids:
                    self.add(("gates", k), f"a gate on metric `{k}`, which is not computed"
                             f"{did_you_mean(str(k), parts.ids)} (computed: "
                             f"{', '.join(parts.ids)})",
                             fix="gate a metric listed under `metrics:`, or add it there")
        if gates and raw.get("blessed") is None:
            self.add(("gates",), "gates compare a candidate with the blessed model, and the "
                     "charter names none",
                     fix="set `blessed:` to the model in production (a model of the data, or "
                     "`{result: path/to/result.json, model: name}`)")
        blessed = raw.get("blessed")
        d = parts.data
        if isinstance(blessed, str) and d is not None and (d.models or d.predictions):
            models = list(d.models or d.predictions or {})
            if blessed not in models:
                self.add(("blessed",), f"the blessed model `{blessed}` is not a model of the "
                         f"data{did_you_mean(blessed, models)} (models: {', '.join(models)})",
                         fix="name the model in production as it appears under data.models, "
                         "or give `{result: path/to/result.json, model: name}`")

    def check_baselines(self, parts: _Parts) -> None:
        task = parts.task
        d = parts.data
        models: list[str] = []
        if d is not None:
            models = list(d.models or d.predictions or {})
        humans = [n for n, b in parts.baselines.items() if isinstance(b, HumanBaseline)]
        for name in humans[1:]:
            self.add(("baselines", name), f"a second human-level baseline (`{humans[0]}` "
                     "is the first)", fix="give all annotators' labels in one `human` baseline")
        for name, b in parts.baselines.items():
            p: KeyPath = ("baselines", name)
            if not _IDENT.match(name):
                self.add(p, f"baseline name {name!r} must be an identifier (letters, digits, _)",
                         fix="rename it, e.g. `logistic_baseline`")
            if name in models:
                self.add(p, f"baseline `{name}` has the name of a model under data.models",
                         fix=f"rename the baseline, e.g. `{name}_baseline`")
            kind = b.kind
            wrong: str | None = None
            if task == "errors" and kind != "external":
                wrong = ("an errors-only charter has no label, so only `external` figures "
                         "can serve as baselines")
            elif task in ("binary", "multiclass") and kind in ("mean", "median", "linear"):
                wrong = {"mean": "use `prior` (the training class frequencies)",
                         "median": "use `prior` or `majority`",
                         "linear": "use `logistic`"}[kind]
                wrong = f"`{kind}` is a regression baseline; for a {task} task {wrong}"
            elif task == "regression" and kind in ("majority", "logistic"):
                alt = {"majority": "`mean` or `median`", "logistic": "`linear`"}[kind]
                wrong = f"`{kind}` is a classification baseline; for regression use {alt}"
            if wrong is not None:
                self.add((*p, "kind"), wrong, fix="change `kind:` or remove the baseline")
            if isinstance(b, ExternalBaseline) and parts.complete_ids:
                for k in b.values:
                    if k not in parts.ids:
                        self.add((*p, "values", k), f"metric `{k}` is not computed"
                                 f"{did_you_mean(k, parts.ids)} (computed: "
                                 f"{', '.join(parts.ids)})",
                                 fix="name a metric id under `metrics:` (an external figure "
                                 "is compared with the same metric)")
            if isinstance(b, HumanBaseline) and d is not None and d.id is None:
                self.add(("data", "id"), "a human baseline matches annotations to rows by "
                         "`data.id`, which is not set",
                         fix="set `data.id` to the column that identifies each item")
            if (isinstance(b, HumanBaseline) and b.annotations.path is None
                    and d is not None and d.table is None and d.duckdb is None):
                self.add((*p, "annotations", "path"), "annotator columns are read from the "
                         "data table, but this charter has no `data.table`",
                         fix="give `annotations.path`: the file with the annotators' labels")
        model_like = {n for n, b in parts.baselines.items()
                      if not isinstance(b, HumanBaseline | ExternalBaseline)}
        for path, rule in parts.rules():
            for i, ref in enumerate(rule.must_beat):
                if ref in model_like:
                    continue
                if ref in parts.baselines:
                    why = (f"`{ref}` is a {parts.baselines[ref].kind} baseline, which gives "
                           "figures rather than predictions")
                    fix = ("name a baseline that predicts (trivial, learned or rule); put the "
                           "figure under `requirements:` to hold the model to it")
                else:
                    why = (f"`{ref}` is not a baseline{did_you_mean(ref, list(model_like))}"
                           f" (baselines: {', '.join(sorted(model_like)) or 'none'})")
                    fix = "name a baseline listed under `baselines:`"
                self.add((*path, "must_beat", i), why, fix=fix)

    def check_data(self, task: str | None, d: DataSpec, broken: frozenset[str]) -> None:
        here: KeyPath = ("data",)

        def has(key: str) -> bool:
            # A key whose value failed the schema is present, shape unknown.
            return (getattr(d, key) is not None or key in broken
                    or (*here, key) in self.renamed)

        sources = [k for k in ("table", "duckdb", "labels") if has(k)]
        if not sources and not has("predictions"):
            self.add(here, "no data source",
                     fix="give exactly one of `table: eval.parquet` (a Parquet or CSV file), "
                     "`duckdb: {database: eval.duckdb, table: predictions}`, or `labels:` "
                     "with `predictions:` (one file per model)")
        elif len(sources) > 1:
            named = {"table": "`table`", "duckdb": "`duckdb`",
                     "labels": "`labels` + `predictions`"}
            self.add((*here, sources[1]),
                     f"two data sources: {named[sources[0]]} and {named[sources[1]]}"
                     + (f" and {named[sources[2]]}" if len(sources) > 2 else "")
                     + "; mlscope reads exactly one",
                     fix="keep one data source and remove the other(s)")
        if d.predictions is not None and not has("labels"):
            self.add((*here, "predictions"),
                     "`predictions` only works with `labels`: the file with the labels, "
                     "splits and slice columns that each predictions file is joined to",
                     fix="add `labels: labels.parquet`, or, when the scores are in the "
                     "table, give them under `models:` instead")
        if d.labels is not None and not has("predictions"):
            self.add((*here, "labels"),
                     "`labels` needs `predictions`: one file per model, joined on `id`",
                     fix="add `predictions: {model_a: {path: a.parquet, score: p}}`, or use "
                     "`table:` when the scores are in the same file")
        if d.predictions is not None and not has("id"):
            self.add((*here, "predictions"),
                     "`predictions` are joined to the labels on the row id, but `id` is "
                     "not given",
                     fix="add `id: <row id column>` under `data` (the column must be in "
                     "the labels file and in every predictions file)")
        if d.long is not None and not has("id"):
            self.add((*here, "long"),
                     "a long table (one row per row id and model) needs `id`",
                     fix="add `id: <row id column>` under `data`")

        if task is None:
            return
        ways = [k for k in ("models", "long", "predictions") if has(k)]
        if task == "errors":
            for k in ("models", "predictions"):
                if getattr(d, k) is not None:
                    self.add((*here, k),
                             f"task `errors` takes its models from `data.errors`; `{k}` "
                             "would be ignored",
                             fix=f"remove `{k}` and, per error, map each model to its "
                             "column: `errors: {position_cm: {model_a: pos_a, ...}}`")
            if not d.errors:
                self.add(here, "task `errors` needs `errors:` under `data`: per error, a "
                         "mapping model: column",
                         fix="add e.g. `errors: {position_cm: {model_a: pos_err_a, "
                         "model_b: pos_err_b}}`")
        else:
            if not ways:
                self.add(here, "no models: the scores of the models are not given",
                         fix="add `models: {model_a: score_column_a, ...}` (one column per "
                         "model), `long:` (one row per model) or `predictions:` (one file "
                         "per model)")
            elif len(ways) > 1:
                self.add((*here, ways[1]),
                         f"models are given two ways: `{ways[0]}` and `{ways[1]}`",
                         fix=f"give the models one way: keep `{ways[0]}` or `{ways[1]}`")
            if not has("label"):
                self.add(here, f"`label` is required for a {task} task: the column with "
                         "the true value",
                         fix="add `label: <column>` under `data`")
        self.check_scores(task, d)
        self.check_errors(task, d)
        if d.score_type != "probability" and task != "binary":
            self.add((*here, "score_type"),
                     f"`score_type: {d.score_type}` only applies to a binary task (this is "
                     f"{task})", fix="remove `score_type`")
        if d.positive is not None and task != "binary":
            self.add((*here, "positive"),
                     f"`positive` only applies to a binary task (this is {task})",
                     fix="remove `positive`")

    def check_scores(self, task: str, d: DataSpec) -> None:
        here: KeyPath = ("data",)
        if task == "multiclass":
            want = [str(c) for c in d.classes] if d.classes else None
            ref = "`data.classes`" if want else None
            for name, spec in (d.models or {}).items():
                p = (*here, "models", name)
                if isinstance(spec, str):
                    self.add(p, f"a multiclass model needs one probability column per class, "
                             f"got the single column {spec!r}",
                             fix=f"write `{name}: {{class_a: {name}_a, class_b: {name}_b}}`")
                    continue
                got = [str(k) for k in spec]
                if want is None:
                    want, ref = got, f"model `{name}`"
                elif set(got) != set(want):
                    self.add(p, f"classes {sorted(got)} differ from {sorted(want)} "
                             f"({ref}); every model must score the same classes",
                             fix="map exactly the same class names to columns in every model")
            if d.long is not None:
                p = (*here, "long")
                if d.long.classes is None:
                    self.add(p, "a multiclass long table needs `classes`: a mapping class: "
                             "probability column",
                             fix="add `classes: {cat: p_cat, dog: p_dog}` under `long`")
                if d.long.score is not None:
                    self.add((*p, "score"), "`score` is for binary and regression tasks; "
                             "a multiclass task reads `classes`",
                             fix="replace `score` with `classes: {class: column, ...}`")
            for name, pf in (d.predictions or {}).items():
                p = (*here, "predictions", name)
                if pf.classes is None:
                    self.add(p, f"model `{name}`: a multiclass predictions file needs "
                             "`classes`: a mapping class: probability column",
                             fix="add `classes: {cat: p_cat, dog: p_dog}`")
                if pf.score is not None:
                    self.add((*p, "score"), "`score` is for binary and regression tasks; "
                             "a multiclass task reads `classes`",
                             fix="replace `score` with `classes: {class: column, ...}`")
        elif task in ("binary", "regression"):
            for name, spec in (d.models or {}).items():
                if isinstance(spec, dict):
                    self.add((*here, "models", name),
                             f"a {task} model takes one score column, got a mapping",
                             fix=f"write `{name}: <score column>`")
            if d.long is not None:
                p = (*here, "long")
                if d.long.score is None:
                    self.add(p, f"a {task} long table needs `score`: the score column",
                             fix="add `score: <score column>` under `long`")
                if d.long.classes is not None:
                    self.add((*p, "classes"), f"`classes` is for a multiclass task (this is "
                             f"{task})", fix="remove `classes`; name the column in `score`")
            for name, pf in (d.predictions or {}).items():
                p = (*here, "predictions", name)
                if pf.score is None:
                    self.add(p, f"model `{name}`: a {task} predictions file needs `score`: "
                             "the score column", fix="add `score: <score column>`")
                if pf.classes is not None:
                    self.add((*p, "classes"), f"`classes` is for a multiclass task (this is "
                             f"{task})", fix="remove `classes`; name the column in `score`")

    def check_errors(self, task: str, d: DataSpec) -> None:
        models: list[str] | None = None
        origin = ""
        if task != "errors" and d.models is not None:
            models, origin = list(d.models), "`models`"
        elif task != "errors" and d.predictions is not None:
            models, origin = list(d.predictions), "`predictions`"
        for ename, spec in d.errors.items():
            p: KeyPath = ("data", "errors", ename)
            if isinstance(spec, str):
                if d.long is None:
                    self.add(p, f"error `{ename}` names one column ({spec!r}); that only works "
                             "with a long table (one row per model)",
                             fix=f"map each model to its column: `{ename}: {{model_a: "
                             f"{spec}_a, model_b: {spec}_b}}`")
                continue
            if d.long is not None:
                self.add(p, f"with a long table, error `{ename}` is one column (each row "
                         "belongs to one model), got a mapping",
                         fix=f"write `{ename}: <error column>`")
                continue
            got = [str(k) for k in spec]
            if models is None:
                models, origin = got, f"error `{ename}`"
                continue
            missing = [m for m in models if m not in got]
            extra = [m for m in got if m not in models]
            if missing:
                self.add(p, f"error `{ename}` has no column for model(s) "
                         f"{', '.join(missing)} (models from {origin}: {', '.join(models)})",
                         fix=f"add `{missing[0]}: <column>` under `{ename}`")
            for m in extra:
                self.add((*p, m), f"error `{ename}` names model `{m}`, which is not among "
                         f"the models from {origin}{did_you_mean(m, models)}",
                         fix=f"use the model names of {origin}: {', '.join(models)}")

    def check_metrics(self, parts: _Parts) -> None:
        seen: dict[str, int] = {}
        for i, entry in parts.metrics:
            p: KeyPath = ("metrics", i)
            if entry.id in seen:
                suggestion = _suggest_id(entry, set(parts.ids))
                first = self.line(("metrics", seen[entry.id]))
                self.add((*p, "id") if self.has_key(p, "id") else p,
                         f"metric id `{entry.id}` is used twice (line {first} and here); "
                         "rules and reports name metrics by id",
                         fix=f"give this entry its own id, e.g. `id: {suggestion}`")
            else:
                seen[entry.id] = i
            if entry.metric is not None and parts.task is not None:
                self.check_registry_metric(p, entry, parts)

    def has_key(self, path: KeyPath, key: str) -> bool:
        raw = self.raw_at(path)
        return isinstance(raw, dict) and key in raw

    def check_registry_metric(self, p: KeyPath, entry: MetricEntry, parts: _Parts) -> None:
        assert entry.metric is not None
        assert parts.task is not None
        name = entry.metric
        where = (*p, "metric") if self.has_key(p, "metric") else p
        error_metric = parts.task == "errors" or name.startswith("error_")
        reg_task = "error" if error_metric else parts.task
        try:
            from mlscope.metrics.registry import REGISTRY, get_metric, metrics_for_task

            spec = get_metric(name, task=reg_task)
        except ImportError as exc:
            if not self._registry_note:
                self._registry_note = True
                self.warn(p, f"metric names and parameters were not checked: the metric "
                          f"registry could not be loaded ({exc})")
            return
        except InputError:
            pool = [s.name for s in metrics_for_task(reg_task)]
            best = _best(name, pool)
            listed = ", ".join(sorted(pool))
            known = REGISTRY.get(name)
            if known is None:
                if best is not None and entry.id == name:
                    self.corrected_ids.add(best)
                self.add(where, f"unknown metric `{name}`{did_you_mean(name, pool)} (metrics "
                         f"for task {parts.task}: {listed})",
                         fix=f"write `{best}`" if best else "use one of the metrics listed")
            else:
                self.add(where, f"metric `{name}` does not apply to task `{parts.task}` (it "
                         f"applies to: {', '.join(sorted(known.tasks))})"
                         f"{did_you_mean(name, pool)}",
                         fix=f"write `{best}`" if best else
                         f"use a metric for task {parts.task}: {listed}")
            return
        if parts.task == "multiclass" and "threshold" in entry.params:
            self.add(self.param_path(p, "threshold"),
                     f"`threshold` does not apply to `{name}` in a multiclass task (the "
                     "prediction is the highest-scored class)",
                     fix="remove `threshold`")
            return
        score_type = (parts.data.score_type if parts.data is not None
                      and parts.task == "binary" else "probability")
        if score_type == "score" and spec.needs_probability:
            self.add(where, f"metric `{name}` needs probabilities, but `data.score_type: "
                     "score` says the scores only rank rows",
                     fix="remove this metric, or give probabilities (`score_type: "
                     "probability`) or logits (`score_type: logit`)")
            return
        try:
            params = spec.resolve_params(entry.params, score_type=score_type)
        except InputError as exc:
            msg = str(exc)
            m = re.search(r"parameter `([^`]+)`", msg)
            key = m.group(1) if m else None
            given = entry.params.get(key) if key is not None else None
            pspec = spec.params.get(key) if key is not None else None
            if pspec is not None and key is not None and given is None:
                fix = (f"add `{key}: <a value on the scale of the scores>` or "
                       f"`{key}: optimize`")
            elif pspec is not None and pspec.only_optimize is not None:
                fixed = "precision" if name == "precision_at_recall" else "recall"
                fix = (f"remove `{key}`, or use `metric: {fixed}, threshold: {given}` for "
                       f"the {fixed} at that fixed threshold")
            elif key is not None and isinstance(given, str) and _is_number(given):
                fix = f"remove the quotes: `{key}: {given.strip()}`"  # quoted, it is text
            elif key is not None and key in spec.params:
                fix = f"set `{key}` to a valid value ({spec.params[key].doc})"
            elif key is not None:
                best = _best(key, list(spec.params))
                fix = (f"rename it to `{best}`" if best else
                       f"remove it (parameters of `{name}`: {', '.join(spec.params) or 'none'})")
            else:
                fix = f"see the parameters of `{name}` in {_DOCS}"
            self.add(self.param_path(p, key), msg, fix=fix)
            return
        if "error" in spec.params or error_metric:
            self.check_error_param(p, name, params.get("error", entry.params.get("error")),
                                   parts)

    def param_path(self, p: KeyPath, key: str | None) -> KeyPath:
        if key is None:
            return p
        if self.has_key((*p, "params"), key):
            return (*p, "params", key)
        return (*p, key) if self.has_key(p, key) else p

    def check_error_param(self, p: KeyPath, name: str, value: Any, parts: _Parts) -> None:
        if parts.data is None:
            return
        errors = list(parts.data.errors)
        if not errors:
            self.add(p, f"metric `{name}` reads a user error column, but `data.errors` is "
                     "empty", fix="add `errors: {position_cm: {model_a: col_a, ...}}` under "
                     "`data` and name it here with `error: position_cm`")
        elif value is None:
            self.add(p, f"metric `{name}` needs `error:`, the name of one of data.errors "
                     f"({', '.join(errors)})", fix=f"add `error: {errors[0]}`")
        elif str(value) not in errors:
            best = _best(str(value), errors)
            self.add(self.param_path(p, "error"),
                     f"`error: {value}` names no column under `data.errors`"
                     f"{did_you_mean(str(value), errors)} (errors: {', '.join(errors)})",
                     fix=f"write `error: {best}`" if best else
                     f"use one of: {', '.join(errors)}")

    def check_references(self, parts: _Parts) -> None:
        if not parts.complete_ids:
            return
        ids = list(dict.fromkeys(parts.ids))
        by_metric: dict[str, list[str]] = {}
        for _, e in parts.metrics:
            if e.metric is not None and e.metric != e.id:
                by_metric.setdefault(e.metric, []).append(e.id)
        refs: list[tuple[KeyPath, str]] = []
        for path, rule in parts.rules():
            refs.extend(self.rule_refs(path, rule))
        refs.extend((("requirements", k), k) for k in parts.requirements)
        if parts.report is not None:
            refs.extend((("report", "tradeoff", i), m)
                        for i, m in enumerate(parts.report.tradeoff or []))
            if parts.report.slice_metric is not None:
                refs.append((("report", "slice_metric"), parts.report.slice_metric))
        for path, ref in refs:
            if ref in ids or ref in self.corrected_ids:
                continue
            alias = by_metric.get(ref)
            if alias:
                hint = f"; did you mean `{alias[0]}` (the id of the `{ref}` entry)?"
                best: str | None = alias[0]
            else:
                hint = did_you_mean(ref, ids)
                best = _best(ref, ids)
            self.add(path, f"metric `{ref}` is not computed{hint} "
                     f"(computed: {', '.join(ids) or 'none'})",
                     fix=(f"write `{best}`, or " if best else "name a computed metric id, or ")
                     + f"add `{ref}` under `metrics:`")

    def rule_refs(self, path: KeyPath, rule: AnyRule) -> list[tuple[KeyPath, str]]:
        refs: list[tuple[KeyPath, str]] = []
        if isinstance(rule, SatisficingRule):
            refs.append(((*path, "optimize"), rule.optimize))
            refs.extend(((*path, "constraints", k), k) for k in rule.constraints)
        elif isinstance(rule, WeightedRule):
            refs.extend(((*path, "weights", k), k) for k in rule.weights)
        elif isinstance(rule, ParetoRule):
            refs.extend(((*path, "metrics", i), m) for i, m in enumerate(rule.metrics))
        elif isinstance(rule, FormulaRule):
            names = self.formula_names(path, rule)
            refs.extend(((*path, "expression"), n) for n in names)
        if rule.tie_break is not None:
            refs.append(((*path, "tie_break"), rule.tie_break))
        return refs

    def formula_names(self, path: KeyPath, rule: FormulaRule) -> list[str]:
        try:
            from mlscope.formula import parse_formula
        except ImportError as exc:
            self.warn((*path, "expression"),
                      f"the formula was not checked: the formula parser could not be loaded "
                      f"({exc})")
            return []
        try:
            formula = parse_formula(rule.expression)
        except ValueError as exc:  # InputError, or any parse failure
            self.add((*path, "expression"), str(exc),
                     fix="write an arithmetic expression over metric ids, e.g. "
                     "`(ap_a + ap_b) / 2` or `5 * fn_rate + fp_rate`")
            return []
        return sorted(formula.names)

    def check_rule(self, path: KeyPath, rule: AnyRule) -> None:
        if isinstance(rule, WeightedRule):
            for k, w in rule.weights.items():
                if w < 0 or not math.isfinite(w):
                    self.add((*path, "weights", k), f"weight of `{k}` is {format_number(w)}; "
                             "weights must be non-negative numbers",
                             fix="use a weight >= 0; the direction (higher or lower is better) "
                             "comes from the metric, not from the sign")
            total = sum(w for w in rule.weights.values() if math.isfinite(w))
            if total <= 0 and all(w >= 0 for w in rule.weights.values()):
                self.add((*path, "weights"),
                         "the weights sum to 0" if rule.weights else "no weights given",
                         fix="give at least one metric a positive weight, e.g. "
                         "`weights: {recall: 2, precision: 1}`")
        elif isinstance(rule, SatisficingRule) and rule.optimize in rule.constraints:
            self.add((*path, "constraints", rule.optimize),
                     f"a constraint on the optimized metric `{rule.optimize}` itself",
                     fix=f"optimize another metric, or remove the constraint (to require "
                     f"`{rule.optimize}` {rule.constraints[rule.optimize]} of the chosen "
                     "model, put it under `requirements:`)")
        elif isinstance(rule, ParetoRule):
            seen: set[str] = set()
            for i, m in enumerate(rule.metrics):
                if m in seen:
                    self.add((*path, "metrics", i), f"metric `{m}` is listed twice",
                             fix="list each metric once")
                seen.add(m)

    def check_slices(self, s: SliceSpec) -> None:
        for i, cross in enumerate(s.crosses):
            p: KeyPath = ("slices", "crosses", i)
            if len(cross) < 2:
                self.add(p, f"a cross needs at least 2 columns, got {cross}",
                         fix="list two or more columns, e.g. [region, device]; put a single "
                         "column under `slices.columns`")
            elif len(set(cross)) < len(cross):
                self.add(p, f"a column is repeated in the cross {cross}",
                         fix="list each column once")
        for name, pred in s.where.items():
            p = ("slices", "where", name)
            if not _IDENT.match(name):
                self.add(p, f"slice name {name!r} must be an identifier (ASCII letters, "
                         "digits, _; not starting with a digit)",
                         fix=f"rename it, e.g. `{_identifier(name)}`")
            if not pred.strip():
                self.add(p, f"the predicate of slice `{name}` is empty",
                         fix="write an SQL condition over the table's columns, e.g. "
                         "\"balance > 1500\"")
                continue
            try:  # untrusted SQL: only an allow-listed condition passes (predicate.py)
                parse_predicate(pred)
            except PredicateError as exc:
                self.add(p, str(exc), fix="write one condition over the table's columns, "
                         "e.g. \"balance > 1500\"")

    def check_splits(self, parts: _Parts) -> None:
        splits = parts.splits
        assert splits is not None
        if splits.report is None:
            return
        for path, rule in parts.rules():
            chosen = rule.split or splits.selection
            if chosen != splits.report:
                continue
            at = (*path, "split") if rule.split else ("splits", "selection")
            self.warn(at, f"the rule selects on split `{chosen}`, which is also the report "
                      "split; the chosen model's reported numbers will be optimistic",
                      fix="select on a validation split and keep the report split for the "
                      "final numbers (set `splits.selection` or the rule's `split`)")


@dataclass
class _Parts:
    """The sections that passed the schema (all of them when the charter is valid)."""

    task: str | None = None
    data: DataSpec | None = None
    data_broken: frozenset[str] = frozenset()
    splits: SplitSpec | None = None
    slices: SliceSpec | None = None
    report: ReportSpec | None = None
    metrics: list[tuple[int, MetricEntry]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    complete_ids: bool = True
    selection: AnyRule | None = None
    alternatives: list[tuple[int, AnyRule]] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    baselines: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, c: Charter) -> _Parts:
        return cls(
            task=c.task, data=c.data, splits=c.splits, slices=c.slices, report=c.report,
            metrics=list(enumerate(c.metrics)), ids=c.metric_ids(), selection=c.selection,
            alternatives=list(enumerate(c.alternatives)), requirements=list(c.requirements),
            baselines=dict(c.baselines),
        )

    def rules(self) -> list[tuple[KeyPath, AnyRule]]:
        out: list[tuple[KeyPath, AnyRule]] = []
        if self.selection is not None:
            out.append((("selection",), self.selection))
        out.extend((("alternatives", i), r) for i, r in self.alternatives)
        return out


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


def _try(model: type[_M], value: Any) -> _M | None:
    if value is _ABSENT:
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _lenient(validate: Callable[[Any], _T], value: Any) -> tuple[_T | None, frozenset[str]]:
    """Validate ``value``; failing that, again without the keys that had errors.

    Returns the result (``None`` when even that fails) and the keys left out, so that
    checks of a section can still run on its valid keys.
    """
    if value is _ABSENT:
        return None, frozenset()
    try:
        return validate(value), frozenset()
    except ValidationError as exc:
        if not isinstance(value, dict):
            return None, frozenset()
        bad = set()
        for err in exc.errors():
            path, _ = _project(tuple(err["loc"]), value)
            if path and err["type"] != "missing":
                bad.add(str(path[0]))
        if not bad:
            return None, frozenset()
        try:
            return validate({k: v for k, v in value.items() if str(k) not in bad}), frozenset(bad)
        except ValidationError:
            return None, frozenset(bad)


def _norm(k: Key) -> Key:
    return k if isinstance(k, int) and not isinstance(k, bool) else str(k)


def _find_key(d: dict[Any, Any], el: Any) -> Any:
    if el in d and not isinstance(el, bool):
        return el
    for k in d:
        if str(k) == str(el):
            return k
    return _ABSENT


def _project(loc: tuple[Any, ...], data: Any) -> tuple[KeyPath, int | None]:
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
            k = _find_key(cur, el)
            if k is not _ABSENT:
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


def _members(tp: Any) -> list[Any]:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        out: list[Any] = []
        for a in get_args(tp):
            out.extend(_members(a))
        return [a for a in out if a is not NoneType]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _rule_name(model: Any) -> str:
    field_ = model.model_fields.get("rule")
    if field_ is None:
        return ""
    args = get_args(field_.annotation)
    return str(args[0]) if args else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema model at a pydantic location (which names rule tags)."""
    tp: Any = Charter
    for el in loc:
        nxt: Any = None
        for m in _members(tp):
            if _is_model(m):
                if isinstance(el, str) and el in m.model_fields:
                    nxt = m.model_fields[el].annotation
                    break
            elif get_origin(m) is dict:
                nxt = get_args(m)[1]
                break
            elif get_origin(m) is list and isinstance(el, int):
                nxt = get_args(m)[0]
                break
        if nxt is None:
            tagged = [m for m in _members(tp) if _is_model(m) and _rule_name(m) == el]
            if not tagged:
                return None
            nxt = tagged[0]
        tp = nxt
    models = [m for m in _members(tp) if _is_model(m)]
    return models[0] if len(models) == 1 else None


def _dotted(path: KeyPath) -> str:
    out = ""
    for el in path:
        if isinstance(el, int) and not isinstance(el, bool):
            out += f"[{el}]"
        else:
            out += ("." if out else "") + str(el)
    return out


def _is_metric_entry(path: KeyPath) -> bool:
    return len(path) == 2 and path[0] == "metrics" and isinstance(path[1], int)


def _is_rule(path: KeyPath) -> bool:
    return path == ("selection",) or (
        len(path) == 2 and path[0] == "alternatives" and isinstance(path[1], int)
    )


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _best(word: str, choices: Any) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def _show(v: Any) -> str:
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


def _kind_suffix(v: Any) -> str:
    if isinstance(v, bool):
        return " (true/false)"
    if isinstance(v, list):
        return " (a list)"
    if isinstance(v, dict):
        return " (a mapping)"
    if isinstance(v, dt.date | dt.datetime | dt.time):
        return " (a date)"
    return ""


def _bound_fix(value: Any) -> str:
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
        if _BOUND.match(fixed):
            return f"write \"{fixed}\""
    return example


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _suggest_id(entry: MetricEntry, taken: set[str]) -> str:
    base = entry.metric or entry.id
    bits = [re.sub(r"[^A-Za-z0-9]+", "_", str(v)).strip("_") for v in entry.params.values()]
    cand = "_".join([base, *[b for b in bits if b]]) if bits else f"{base}_2"
    cand = _identifier(cand)
    n = 2
    out = cand
    while out in taken:
        out = f"{cand}_{n}"
        n += 1
    return out


def _identifier(name: str) -> str:
    return ascii_identifier(name)  # accents dropped, so the suggestion reads as written


_EXPECTED: dict[str, str] = {
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

_COMPARE: dict[str, tuple[Literal[">", ">=", "<", "<="], str]] = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}

_MISSING_FIX: dict[str, str] = {
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
