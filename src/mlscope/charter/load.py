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

Reading YAML with positions lives in :mod:`~mlscope.charter.positions`, the words of
problems in :mod:`~mlscope.charter.messages`, schema lookups in
:mod:`~mlscope.charter.schema_paths`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from mlscope.charter.bounds import check_metric_ranges
from mlscope.charter.messages import (
    COMPARE,
    EXPECTED,
    MISSING_FIX,
    bound_fix,
    closest,
    either,
    identifier,
    is_number,
    kind_suffix,
    show,
    suggest_id,
)
from mlscope.charter.pairs import check_compare
from mlscope.charter.positions import (
    ABSENT,
    YamlDoc,
    dotted,
    find_key,
    index_yaml,
    norm_key,
    project_loc,
    yaml_problem,
)
from mlscope.charter.positions import Key as Key
from mlscope.charter.positions import KeyPath as KeyPath
from mlscope.charter.predicate import PredicateError, parse_predicate
from mlscope.charter.schema import (
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
from mlscope.charter.schema_paths import (
    is_metric_entry,
    is_rule,
    lenient,
    model_at,
    rule_name,
    try_model,
)
from mlscope.charter.yaml_safe import (
    CharterLoader,
    YamlLimitError,
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
        lines, texts, dups = index_yaml(root)
        data = loader.construct_document(root)
    except YamlLimitError as exc:
        return ValidationReport(None, [exc.problem(file)]), None
    except yaml.YAMLError as exc:
        return ValidationReport(None, [yaml_problem(exc, file)]), None
    finally:
        loader.dispose()

    if not isinstance(data, dict):
        return ValidationReport(None, [Problem(
            f"the top level of the charter must be a mapping of keys (project:, task:, "
            f"data:, ...), got {show(data)}{kind_suffix(data)}",
            file=file, line=root.start_mark.line + 1,
            fix="start each top-level key at the beginning of a line, e.g. `project: churn`",
        )]), None

    checker = _Checker(file, YamlDoc(data, lines, texts, dups))
    return checker.run(), None


class _Checker:
    """Collects the problems and warnings of one charter."""

    def __init__(self, file: str, doc: YamlDoc) -> None:
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
        p = tuple(norm_key(k) for k in path)
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
                                     fix=fix, path=dotted(path) or None))

    def warn(self, path: KeyPath, message: str, fix: str | None = None) -> None:
        self.warnings.append(Problem(message, file=self.file, line=self.line(path),
                                     fix=fix, path=dotted(path) or None))

    def raw_at(self, path: KeyPath) -> Any:
        cur: Any = self.raw
        for el in path:
            if isinstance(cur, dict):
                k = find_key(cur, el)
                if k is ABSENT:
                    return ABSENT
                cur = cur[k]
            elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
                cur = cur[el]
            else:
                return ABSENT
        return cur

    # --- the run ---------------------------------------------------------------------

    def run(self) -> ValidationReport:
        for path, first, again in self.doc.duplicates:
            parent = dotted(path[:-1])
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
                parent, union_at = project_loc(loc[:-1], self.raw)
                items.append((err, (*parent, str(loc[-1])), None))
            else:
                path, union_at = project_loc(loc, self.raw)
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
            shallow = [i for i in idx if items[i][1] == node and items[i][0]["type"] in EXPECTED]
            if len(shallow) == len(idx) and len(shallow) > 1:
                merged.append((node, [items[i][0] for i in shallow]))
                skip.update(shallow)
            elif len(shallow) < len(idx):
                skip.update(shallow)

        renamed = self.renamed
        for i, (err, path, _) in enumerate(items):
            if i not in skip and err["type"] == "extra_forbidden":
                best = closest(str(path[-1]), self.allowed_keys(tuple(err["loc"])[:-1]))
                if best:
                    renamed.add((*path[:-1], best))
        for i, (err, path, _) in enumerate(items):
            if i in skip or (err["type"] == "missing" and path in renamed):
                continue
            self.schema_problem(err, path)
        for node, errs in merged:
            wanted = either(list(dict.fromkeys(EXPECTED[e["type"]] for e in errs)))
            value = errs[0].get("input")
            self.add(node, f"expected {wanted}, got {show(value)}{kind_suffix(value)}",
                     fix=self.type_fix(node, value, wanted))

    def allowed_keys(self, loc: tuple[Any, ...]) -> list[str]:
        model = model_at(loc)
        return list(model.model_fields) if model is not None else []

    def schema_problem(self, err: ErrorDetails, path: KeyPath) -> None:
        kind = err["type"]
        value = err.get("input")
        ctx = err.get("ctx") or {}
        loc = tuple(err["loc"])
        where = dotted(path[:-1])

        if kind == "extra_forbidden":
            key = str(path[-1])
            model = model_at(loc[:-1])
            allowed = list(model.model_fields) if model is not None else []
            if model in _RULE_CLASSES:
                owners = [rule_name(c) for c in _RULE_CLASSES if key in c.model_fields]
                if owners:
                    this = rule_name(model)
                    self.add(path, f"`{key}` is not a key of rule `{this}` (it belongs to "
                             f"rule {', '.join(owners)}); keys of `{this}`: "
                             f"{', '.join(allowed)}",
                             fix=f"remove `{key}`, or change the rule to `{owners[0]}`")
                    return
            level = f"in `{where}`" if where else "at the top level"
            best = closest(key, allowed)
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
                     fix=MISSING_FIX.get(key, f"add `{key}:` under `{where or 'the top level'}`"),
                     at=path[:-1])
        elif kind == "union_tag_invalid":
            given = self.raw_at((*path, "rule"))
            tag = given if isinstance(given, str) else str(ctx.get("tag", ""))
            best = closest(tag, _RULE_NAMES)
            self.add((*path, "rule"),
                     f"rule must be one of {', '.join(_RULE_NAMES)}; got "
                     f"{show(given) if given is not ABSENT else repr(tag)}"
                     f"{did_you_mean(tag, _RULE_NAMES)}",
                     fix=f"write `rule: {best}`" if best else
                     f"use one of {', '.join(_RULE_NAMES)} (see {_DOCS})")
        elif kind == "union_tag_not_found":
            keys = [str(k) for k in value] if isinstance(value, dict) else []
            typo = next((k for k in keys if closest(k, ["rule"])), None)
            head = f"unknown key `{typo}`; did you mean `rule`? " if typo else ""
            self.add(path, f"{head}a rule needs `rule:`, one of {', '.join(_RULE_NAMES)}",
                     fix=f"rename `{typo}` to `rule`" if typo else
                     "add `rule: satisficing` (or weighted, formula, pareto) with that "
                     "rule's keys")
        elif kind == "literal_error":
            allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            shown = show(value)
            best = closest(str(value), allowed) if isinstance(value, str) else None
            self.add(path,
                     f"must be one of {', '.join(allowed)}; got {shown}"
                     f"{did_you_mean(str(value), allowed) if isinstance(value, str) else ''}",
                     fix=f"write `{path[-1]}: {best}`" if best else
                     f"use one of {', '.join(allowed)}")
        elif kind == "value_error":
            self.value_error(path, str(ctx.get("error", err["msg"])), value)
        elif kind in ("model_type", "model_attributes_type") and is_metric_entry(path):
            self.add(path, "a metric entry is a metric name or a mapping with `metric:` "
                     f"(or `custom:`), got {show(value)}{kind_suffix(value)}",
                     fix="write e.g. `- roc_auc` or `- {metric: precision, threshold: 0.3}`")
        elif kind in ("model_type", "model_attributes_type") and is_rule(path):
            rule_hint = value if isinstance(value, str) and value in _RULE_NAMES else "satisficing"
            self.add(path, "a rule is a mapping with `rule:` and that rule's keys, got "
                     f"{show(value)}{kind_suffix(value)}",
                     fix=f"write e.g. `{{rule: {rule_hint}, ...}}` with the keys of that rule "
                     f"(see {_DOCS})")
        elif kind in EXPECTED:
            wanted = EXPECTED[kind]
            self.add(path, f"expected {wanted}, got {show(value)}{kind_suffix(value)}",
                     fix=self.type_fix(path, value, wanted))
        elif kind in COMPARE:
            op, key = COMPARE[kind]
            limit = ctx.get(key)
            self.add(path, f"must be {op} {limit}, got {show(value)}",
                     fix=f"use a value {op} {limit}")
        elif kind in ("too_short", "too_long"):
            self.length_problem(path, kind, ctx, value)
        else:
            msg = str(err["msg"])
            self.add(path, f"{msg[:1].lower()}{msg[1:]}, got {show(value)}",
                     fix=f"see `{dotted(path)}` in {_DOCS}")

    def type_fix(self, path: KeyPath, value: Any, wanted: str) -> str:
        text = self.doc.texts.get(tuple(norm_key(k) for k in path))
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
        key = dotted(path)
        if key == "report.tradeoff":
            self.add(path, f"needs exactly 2 metric ids (x axis, then y axis), got {n}",
                     fix="write e.g. `tradeoff: [recall, precision]`")
        elif key == "metrics":
            self.add(path, "needs at least one metric",
                     fix="list metrics, e.g. `metrics: [roc_auc, average_precision]`")
        elif path and path[-1] == "metrics" and is_rule(path[:-1]):
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
            self.add(path, message, fix=bound_fix(value))
            return
        if message.startswith("give exactly one of `metric`") and isinstance(value, dict):
            if "metric" in value and "custom" in value:
                self.add(path, "a metric entry has both `metric` and `custom`",
                         fix="keep `metric:` for a registry metric or `custom:` for your own "
                         "function, not both")
                return
            keys = [str(k) for k in value]
            for k in keys:
                best = closest(k, ["metric", "custom", "direction"])
                if best:
                    self.add((*path, k),
                             f"unknown key `{k}` in a metric entry; did you mean `{best}`?",
                             fix=f"rename it to `{best}`")
                    return
            self.add(path, f"a metric entry needs `metric:` (a registry name) or `custom:` "
                     f"(module:function), got {show(value)}",
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
        self.add(path, message, fix=f"see `{dotted(path)}` in {_DOCS}")

    # --- layer 3: meaning --------------------------------------------------------------

    def partial(self) -> _Parts:
        """Validate each section on its own so later checks can run on the valid ones."""
        raw = self.raw
        parts = _Parts()
        task = raw.get("task")
        parts.task = task if task in _TASKS else None
        parts.data, parts.data_broken = lenient(DataSpec.model_validate,
                                                 raw.get("data", ABSENT))
        parts.splits = lenient(SplitSpec.model_validate, raw.get("splits") or {})[0]
        parts.slices = lenient(SliceSpec.model_validate, raw.get("slices") or {})[0]
        parts.report = lenient(ReportSpec.model_validate, raw.get("report") or {})[0]
        metrics = raw.get("metrics")
        if isinstance(metrics, list):
            for i, entry in enumerate(metrics):
                m = try_model(MetricEntry, entry)
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
            parts.selection = lenient(_RULE_ADAPTER.validate_python, raw["selection"])[0]
        alternatives = raw.get("alternatives")
        if isinstance(alternatives, list):
            for i, alt in enumerate(alternatives):
                r = lenient(_RULE_ADAPTER.validate_python, alt)[0]
                if r is not None:
                    parts.alternatives.append((i, r))
        requirements = raw.get("requirements")
        if isinstance(requirements, dict):
            parts.requirements = [str(k) for k in requirements]
        baselines = raw.get("baselines")
        if isinstance(baselines, dict):
            for name, spec in baselines.items():
                b = lenient(_BASELINE_ADAPTER.validate_python, spec)[0]
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
                suggestion = suggest_id(entry, set(parts.ids))
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
            best = closest(name, pool)
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
            elif key is not None and isinstance(given, str) and is_number(given):
                fix = f"remove the quotes: `{key}: {given.strip()}`"  # quoted, it is text
            elif key is not None and key in spec.params:
                fix = f"set `{key}` to a valid value ({spec.params[key].doc})"
            elif key is not None:
                best = closest(key, list(spec.params))
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
            best = closest(str(value), errors)
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
                best = closest(ref, ids)
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
                         fix=f"rename it, e.g. `{identifier(name)}`")
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
