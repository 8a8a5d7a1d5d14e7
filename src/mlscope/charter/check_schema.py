"""Layer 2 of the charter checks.

Pydantic's errors rewritten in plain language and placed on the line of the key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic_core import ErrorDetails

from mlscope.charter.check_base import DOCS, RULE_CLASSES, RULE_NAMES, CheckerBase
from mlscope.charter.messages import (
    COMPARE,
    EXPECTED,
    MISSING_FIX,
    bound_fix,
    closest,
    either,
    kind_suffix,
    show,
)
from mlscope.charter.positions import ABSENT, KeyPath, dotted, norm_key, project_loc
from mlscope.charter.schema_paths import is_metric_entry, is_rule, model_at, rule_name
from mlscope.errors import did_you_mean

__all__ = [
    "SchemaChecks",
]


# Keys spelled out in full where the charter abbreviates them (difflib finds no match:
# `false_positive` is far from `fp`).
_SPELLED = {"false_positive": "fp", "false_positives": "fp", "false_negative": "fn",
            "false_negatives": "fn", "true_positive": "tp", "true_positives": "tp",
            "true_negative": "tn", "true_negatives": "tn"}


class SchemaChecks(CheckerBase):
    """Turns pydantic's errors into problems."""

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
            if model in RULE_CLASSES:
                owners = [rule_name(c) for c in RULE_CLASSES if key in c.model_fields]
                if owners:
                    this = rule_name(model)
                    self.add(path, f"`{key}` is not a key of rule `{this}` (it belongs to "
                             f"rule {', '.join(owners)}); keys of `{this}`: "
                             f"{', '.join(allowed)}",
                             fix=f"remove `{key}`, or change the rule to `{owners[0]}`")
                    return
            level = f"in `{where}`" if where else "at the top level"
            spelled = _SPELLED.get(key.lower())
            best = spelled if spelled in allowed else closest(key, allowed)
            hint = f"; did you mean `{spelled}`?" if spelled in allowed else did_you_mean(
                key, allowed)
            self.add(
                path,
                f"unknown key `{key}` {level}{hint} "
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
            best = closest(tag, RULE_NAMES)
            self.add((*path, "rule"),
                     f"rule must be one of {', '.join(RULE_NAMES)}; got "
                     f"{show(given) if given is not ABSENT else repr(tag)}"
                     f"{did_you_mean(tag, RULE_NAMES)}",
                     fix=f"write `rule: {best}`" if best else
                     f"use one of {', '.join(RULE_NAMES)} (see {DOCS})")
        elif kind == "union_tag_not_found":
            keys = [str(k) for k in value] if isinstance(value, dict) else []
            typo = next((k for k in keys if closest(k, ["rule"])), None)
            head = f"unknown key `{typo}`; did you mean `rule`? " if typo else ""
            self.add(path, f"{head}a rule needs `rule:`, one of {', '.join(RULE_NAMES)}",
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
            rule_hint = value if isinstance(value, str) and value in RULE_NAMES else "satisficing"
            self.add(path, "a rule is a mapping with `rule:` and that rule's keys, got "
                     f"{show(value)}{kind_suffix(value)}",
                     fix=f"write e.g. `{{rule: {rule_hint}, ...}}` with the keys of that rule "
                     f"(see {DOCS})")
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
                     fix=f"see `{dotted(path)}` in {DOCS}")

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
        if "\nfix: " in message:  # a validator that knows the fix says it (costs.py)
            text, fix = message.split("\nfix: ", 1)
            self.add(path, text, fix=fix)
            return
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
        self.add(path, message, fix=f"see `{dotted(path)}` in {DOCS}")

