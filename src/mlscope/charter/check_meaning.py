"""Layer 3 of the charter checks: what the sections that passed the schema mean.

Metrics known to the registry, references to metric ids, rules, baselines, slices, splits.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlscope.charter.bounds import check_metric_ranges
from mlscope.charter.check_base import (
    BASELINE_ADAPTER,
    DOCS,
    IDENT,
    RULE_ADAPTER,
    TASKS,
    AnyRule,
    Parts,
)
from mlscope.charter.check_data import DataChecks
from mlscope.charter.costs import COST_KEYS, EXAMPLES, TASK_KEYS, CostsSpec, cost_params
from mlscope.charter.guarantees import check_guarantees
from mlscope.charter.hitl import check_human_in_the_loop
from mlscope.charter.messages import closest, identifier, is_number, suggest_id
from mlscope.charter.pairs import check_compare
from mlscope.charter.planning import check_planning
from mlscope.charter.positions import ABSENT, KeyPath
from mlscope.charter.predicate import PredicateError, parse_predicate
from mlscope.charter.schema import (
    DataSpec,
    ExternalBaseline,
    FormulaRule,
    HumanBaseline,
    MetricEntry,
    ParetoRule,
    ReportSpec,
    SatisficingRule,
    SliceSpec,
    SplitSpec,
    WeightedRule,
    format_number,
    parse_bound,
)
from mlscope.charter.schema_paths import lenient, try_model
from mlscope.charter.slice_requirements import check_slice_requirements
from mlscope.charter.thresholds import check_threshold_refs, optimize_fix
from mlscope.errors import InputError, did_you_mean

__all__ = [
    "MeaningChecks",
]


class MeaningChecks(DataChecks):
    """Checks what the sections that passed the schema mean, together."""

    # --- layer 3: meaning --------------------------------------------------------------

    def partial(self) -> Parts:
        """Validate each section on its own so later checks can run on the valid ones."""
        raw = self.raw
        parts = Parts()
        task = raw.get("task")
        parts.task = task if task in TASKS else None
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
            parts.selection = lenient(RULE_ADAPTER.validate_python, raw["selection"])[0]
        alternatives = raw.get("alternatives")
        if isinstance(alternatives, list):
            for i, alt in enumerate(alternatives):
                r = lenient(RULE_ADAPTER.validate_python, alt)[0]
                if r is not None:
                    parts.alternatives.append((i, r))
        requirements = raw.get("requirements")
        if isinstance(requirements, dict):
            parts.requirements = [str(k) for k in requirements]
        baselines = raw.get("baselines")
        if isinstance(baselines, dict):
            for name, spec in baselines.items():
                b = lenient(BASELINE_ADAPTER.validate_python, spec)[0]
                if b is not None:
                    parts.baselines[str(name)] = b
        parts.complete_ids = isinstance(metrics, list)
        return parts

    def semantic(self, parts: Parts) -> None:
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
        costs = self.costs()
        if costs is not None and parts.task is not None and costs.form != parts.task:
            self.add(("costs",), f"`costs:` gives the costs of a {costs.form} task "
                     f"({', '.join(TASK_KEYS[costs.form])}); this task is `{parts.task}`"
                     + (f", whose costs are {', '.join(TASK_KEYS[parts.task])}"
                        if parts.task in TASK_KEYS else ""),
                     fix=f"write `{EXAMPLES[parts.task]}`" if parts.task in EXAMPLES
                     else "remove `costs:`")
        declared = parts.data.classes if parts.data is not None else None
        if costs is not None and costs.matrix is not None and declared:
            # With `data.classes` the labels are known before the data is read.
            # Imported here: the metrics package loads the whole registry, which the
            # report (it reads charters) must not pay for.
            from mlscope.metrics.task_costs import unknown_classes

            names = [str(c) for c in declared]
            for bad in unknown_classes(names, costs.matrix):
                self.add(("costs", "matrix"), f"`{bad}` is not one of `data.classes` "
                         f"({', '.join(names)}){did_you_mean(bad, names)}",
                         fix="write the labels as they appear in the data")
        check_metric_ranges(self, parts.metrics, parts.rules())
        check_guarantees(self, {e.id: e.metric for _, e in parts.metrics})
        check_planning(self, parts.ids if parts.complete_ids else None, parse_bound)
        check_slice_requirements(self, parts.ids if parts.complete_ids else None, parse_bound)
        check_human_in_the_loop(self, named if d is not None and (d.models or d.predictions)
                                else None)

    def check_diagnosis(self, parts: Parts) -> None:
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

    def check_gates(self, parts: Parts) -> None:
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

    def check_baselines(self, parts: Parts) -> None:
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
            if not IDENT.match(name):
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
            refs = rule.must_beat
            keyed = isinstance(refs, dict)
            for i, ref in enumerate(refs):
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
                self.add((*path, "must_beat", ref if keyed else i), why, fix=fix)

    def check_metrics(self, parts: Parts) -> None:
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
        if parts.task == "binary":  # elsewhere `threshold` is refused as such
            check_threshold_refs(self, parts.metrics)

    def has_key(self, path: KeyPath, key: str) -> bool:
        raw = self.raw_at(path)
        return isinstance(raw, dict) and key in raw

    def check_registry_metric(self, p: KeyPath, entry: MetricEntry, parts: Parts) -> None:
        assert entry.metric is not None
        assert parts.task is not None
        name = entry.metric
        where = (*p, "metric") if self.has_key(p, "metric") else p
        # Late, as the registry below: the charter layer loads the metrics' metadata only
        # when it checks a metric name (a report that reads a charter imports none of it).
        from mlscope.metrics.software import is_software_metric

        if is_software_metric(name):
            # A figure of `mlscope profile` (docs/profiling.md): no parameters, any task.
            if entry.params:
                self.add(self.param_path(p, next(iter(entry.params))),
                         f"software metric `{name}` takes no parameters (its figure is read "
                         "from the stored profile)", fix="remove the parameter")
            return
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
        costs = self.costs()
        keys = TASK_KEYS.get(parts.task or "binary", COST_KEYS)
        if costs is None and "costs" in self.raw and not set(keys) & set(entry.params):
            return  # the `costs:` section is broken; its own problems say how
        if costs is not None and costs.form != (parts.task or costs.form) \
                and not set(keys) & set(entry.params):
            return  # `costs:` is of another task; said once, on `costs:`
        try:
            with_costs = cost_params(entry.params, spec.params, costs, name,
                                     task=parts.task or "binary")
        except InputError as exc:
            msg, _, fix = str(exc).partition("\nfix: ")
            self.add(p, msg, fix=fix or None)
            return
        try:
            params = spec.resolve_params(with_costs, score_type=score_type,
                                         task=parts.task)
        except InputError as exc:
            msg = str(exc)
            m = re.search(r"parameter `([^`]+)`", msg)
            key = m.group(1) if m else None
            given = entry.params.get(key) if key is not None else None
            pspec = spec.params.get(key) if key is not None else None
            if pspec is not None and pspec.tasks is not None and parts.task is not None \
                    and parts.task not in pspec.tasks:
                fix = f"remove `{key}`"
            elif pspec is not None and key is not None and given is None:
                fix = (f"add `{key}: <a value on the scale of the scores>` or "
                       f"`{key}: optimize`")
            elif pspec is not None and pspec.no_optimize is not None and given == "optimize":
                fix = optimize_fix(parts.metrics, entry)
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
                fix = f"see the parameters of `{name}` in {DOCS}"
            self.add(self.param_path(p, key), msg, fix=fix)
            return
        if "error" in spec.params or error_metric:
            self.check_error_param(p, name, params.get("error", entry.params.get("error")),
                                   parts)

    def costs(self) -> CostsSpec | None:
        """The charter's `costs:` when valid (its own problems are reported by the schema)."""
        raw = self.raw.get("costs")
        return None if raw is None else try_model(CostsSpec, raw)

    def param_path(self, p: KeyPath, key: str | None) -> KeyPath:
        if key is None:
            return p
        if self.has_key((*p, "params"), key):
            return (*p, "params", key)
        return (*p, key) if self.has_key(p, key) else p

    def check_error_param(self, p: KeyPath, name: str, value: Any, parts: Parts) -> None:
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

    def check_references(self, parts: Parts) -> None:
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
            if not IDENT.match(name):
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

    def check_splits(self, parts: Parts) -> None:
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

