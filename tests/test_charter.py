"""The charter loader: a valid charter loads; each mistake is reported on its line, with a fix."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from mlscope.charter import (
    Charter,
    ValidationReport,
    charter_to_dict,
    load_charter,
    resolve_path,
    validate_charter,
)
from mlscope.charter.schema import Bound, SatisficingRule, WeightedRule
from mlscope.errors import CharterError, InputError, Problem

FULL = """\
project: churn-2024
task: binary
seed: 11
description: Which churn model do we ship?
data:
  table: data/eval.parquet
  id: row_id
  label: churned
  split: split
  weight: w
  positive: 1
  models:
    gbdt: p_gbdt
    logreg: p_logreg
splits:
  selection: validation
  report: test
slices:
  columns: [region, device]
  crosses:
    - [region, device]
  where:
    high_balance: "balance > 1500"
  min_size: 20
metrics:
  - roc_auc
  - average_precision
  - {metric: precision, threshold: 0.3}
  - {metric: recall, threshold: 0.3}
  - {id: r_at_p20, metric: recall_at_precision, precision: 0.2}
  - {id: f1_best, metric: f1, threshold: optimize}
selection:
  rule: satisficing
  optimize: r_at_p20
  constraints:
    precision: ">= 0.2"
  tie_break: roc_auc
alternatives:
  - {rule: weighted, weights: {roc_auc: 1, average_precision: 2}}
  - {rule: pareto, metrics: [precision, recall], tie_break: roc_auc}
requirements:
  roc_auc: ">= 0.7"
  precision: "> 0.15"
intervals:
  resamples: 500
  level: 0.9
planning:
  archetype: software_2_0
  deployment: batch
  latency_budget_ms: 200
  monitoring: [weekly roc_auc]
report:
  title: Churn model choice
  tradeoff: [recall, precision]
  slice_metric: roc_auc
"""


def registry_available() -> bool:
    """True once the metric definitions are importable (they are written separately)."""
    try:
        from mlscope.metrics.registry import get_metric

        get_metric("roc_auc")
    except ImportError:
        return False
    return True


needs_registry = pytest.mark.skipif(
    not registry_available(), reason="metric definitions not importable yet"
)


def write(tmp_path: Path, text: str, name: str = "mlscope.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line of ``text`` containing ``snippet``."""
    hits = [i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if snippet in line]
    assert len(hits) >= nth, f"{snippet!r} not in the charter text"
    return hits[nth - 1]


def edit(old: str, new: str, text: str = FULL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def problems(tmp_path: Path, text: str) -> list[Problem]:
    report = validate_charter(write(tmp_path, text))
    assert report.charter is None
    assert report.problems
    return report.problems


def only(probs: list[Problem], path: str) -> Problem:
    found = [p for p in probs if p.path == path]
    assert len(found) == 1, f"expected one problem at {path}, got {probs}"
    return found[0]


# --- a valid charter ---------------------------------------------------------------------


def test_full_binary_charter_loads(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    report = validate_charter(path)
    assert isinstance(report, ValidationReport)
    assert report.problems == [], [str(p) for p in report.problems]
    if registry_available():
        assert report.warnings == [], [str(w) for w in report.warnings]
    assert report.ok

    c = load_charter(path)
    assert isinstance(c, Charter)
    assert (c.project, c.task, c.seed) == ("churn-2024", "binary", 11)
    assert c.data.models == {"gbdt": "p_gbdt", "logreg": "p_logreg"}
    assert c.data.positive == 1
    assert c.metric_ids() == [
        "roc_auc", "average_precision", "precision", "recall", "r_at_p20", "f1_best",
    ]
    assert c.metrics[2].params == {"threshold": 0.3}
    assert c.metrics[4].params == {"precision": 0.2}
    assert c.metrics[5].params == {"threshold": "optimize"}
    assert isinstance(c.selection, SatisficingRule)
    assert c.selection.constraints == {"precision": Bound(op=">=", value=0.2)}
    assert isinstance(c.alternatives[0], WeightedRule)
    assert c.requirements["precision"].holds(0.2)
    assert not c.requirements["precision"].holds(0.1)
    assert c.slices.crosses == [["region", "device"]]
    assert c.slices.where == {"high_balance": "balance > 1500"}
    assert (c.intervals.resamples, c.intervals.level) == (500, 0.9)
    # The older one-word deployment and top-level budget move into `deployment`.
    assert c.planning.deployment is not None
    assert c.planning.deployment.mode == "batch"
    assert c.planning.deployment.latency_budget_ms == 200
    assert c.planning.monitoring.other == ["weekly roc_auc"]
    assert c.report.tradeoff == ["recall", "precision"]


def test_charter_to_dict_is_json_with_bounds_as_text(tmp_path: Path) -> None:
    c = load_charter(write(tmp_path, FULL))
    d = charter_to_dict(c)
    assert json.loads(json.dumps(d)) == d
    assert d["requirements"] == {"roc_auc": ">= 0.7", "precision": "> 0.15"}
    assert d["selection"]["constraints"] == {"precision": ">= 0.2"}
    assert d["selection"]["rule"] == "satisficing"
    assert d["metrics"][4] == {
        "id": "r_at_p20", "metric": "recall_at_precision", "custom": None, "direction": None,
        "params": {"precision": 0.2},
    }
    # Bounds read back exactly, also for values that %g would round.
    assert str(Bound(op="<=", value=0.123456789)) == "<= 0.123456789"
    assert str(Bound(op=">=", value=120.0)) == ">= 120"


def test_resolve_path_is_relative_to_the_charter(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    c = load_charter(path)
    assert c.data.table is not None
    assert resolve_path(path, c.data.table) == tmp_path.resolve() / "data" / "eval.parquet"
    assert resolve_path(tmp_path, "x.csv") == tmp_path.resolve() / "x.csv"
    absolute = tmp_path.resolve() / "elsewhere.parquet"
    assert resolve_path(path, str(absolute)) == absolute
    assert c.data.table == "data/eval.parquet"  # the model itself is not changed


def test_numbers_are_accepted_as_class_names(tmp_path: Path) -> None:
    text = """\
    project: digits
    task: multiclass
    data:
      table: eval.parquet
      label: digit
      classes: [0, 1, 2]
      models:
        cnn: {0: cnn_0, 1: cnn_1, 2: cnn_2}
    metrics: [accuracy]
    selection: {rule: satisficing, optimize: accuracy}
    """
    c = load_charter(write(tmp_path, text))
    assert c.data.classes == ["0", "1", "2"]
    assert c.data.models == {"cnn": {"0": "cnn_0", "1": "cnn_1", "2": "cnn_2"}}


def test_threshold_is_rejected_for_multiclass_accuracy(tmp_path: Path) -> None:
    text = """\
    project: digits
    task: multiclass
    data:
      table: eval.parquet
      label: digit
      models:
        cnn: {a: cnn_a, b: cnn_b}
    metrics:
      - {metric: accuracy, threshold: 0.7}
    selection: {rule: satisficing, optimize: accuracy}
    """
    probs = problems(tmp_path, text)
    (p,) = [q for q in probs if "threshold" in q.message]
    assert "multiclass" in p.message
    assert p.fix == "remove `threshold`"
    assert p.line == 9


# --- the file itself -------------------------------------------------------------------


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="charter not found") as info:
        load_charter(tmp_path / "nope.yaml")
    assert not isinstance(info.value, CharterError)
    report = validate_charter(tmp_path / "nope.yaml")
    assert report.charter is None
    assert "charter not found" in report.problems[0].message


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    text = """\
    project: churn
    task: binary
    data:
      table: eval.parquet
      label: churned: yes
    """
    path = write(tmp_path, text)
    with pytest.raises(CharterError) as info:
        load_charter(path)
    (p,) = info.value.problems
    assert p.line == 5
    assert p.file == str(path)
    assert "the file is not valid YAML (line 5, column 17)" in p.message
    assert "mapping values are not allowed here" in p.message
    assert p.fix is not None
    assert "quote" in p.fix
    assert f"{path}:5:" in str(info.value)


def test_unquoted_bound_is_a_yaml_error_with_a_quoting_fix(tmp_path: Path) -> None:
    text = edit('roc_auc: ">= 0.7"', "roc_auc: >= 0.7")
    (p,) = problems(tmp_path, text)
    assert p.line == line_of(text, "roc_auc: >= 0.7")
    assert "not valid YAML" in p.message
    assert p.fix is not None
    assert 'recall: ">= 0.3"' in p.fix


def test_tabs_are_explained(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, "project: x\ndata:\n\ttable: t\n")
    assert p.line == 3
    assert p.fix == "indent with spaces, not tabs"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the charter is empty"),
        ("# only a comment\n", "the charter is empty"),
        ("- project\n- task\n", "the top level of the charter must be a mapping"),
        ("just text\n", "the top level of the charter must be a mapping"),
    ],
)
def test_empty_or_not_a_mapping(tmp_path: Path, text: str, message: str) -> None:
    (p,) = problems(tmp_path, text)
    assert message in p.message
    assert p.fix


def test_key_written_twice(tmp_path: Path) -> None:
    text = edit("  id: row_id\n", "  id: row_id\n  label: target\n")
    p = only(problems(tmp_path, text), "data.label")
    first, again = line_of(text, "label: target"), line_of(text, "label: churned")
    assert p.line == again
    assert f"key `label` is written twice in `data` (lines {first} and {again})" in p.message


# --- schema errors in plain language ----------------------------------------------------


def test_unknown_keys_with_did_you_mean_at_each_level(tmp_path: Path) -> None:
    text = edit("project: churn-2024", "projet: churn-2024")
    text = edit("  table: data/eval.parquet", "  tabel: data/eval.parquet", text)
    text = edit("  min_size: 20", "  min_sise: 20", text)
    text = edit("    precision: \">= 0.2\"", "    precison: \">= 0.2\"", text)
    text = edit("  constraints:", "  constraint:", text)
    probs = problems(tmp_path, text)

    top = only(probs, "projet")
    assert top.line == line_of(text, "projet:")
    assert "unknown key `projet` at the top level; did you mean `project`?" in top.message
    assert "allowed keys: project, task, seed" in top.message
    assert top.fix == "rename it to `project`"
    # The key it should have been is not reported missing a second time.
    assert not [p for p in probs if "missing required key `project`" in p.message]

    data = only(probs, "data.tabel")
    assert data.line == line_of(text, "tabel:")
    assert "unknown key `tabel` in `data`; did you mean `table`?" in data.message
    assert "(allowed keys: table, duckdb, labels, predictions, id, label," in data.message
    assert data.fix == "rename it to `table`"

    slices = only(probs, "slices.min_sise")
    assert slices.line == line_of(text, "min_sise:")
    assert "did you mean `min_size`?" in slices.message

    rule = only(probs, "selection.constraint")
    assert rule.line == line_of(text, "constraint:")
    assert "unknown key `constraint` in `selection`; did you mean `constraints`?" in rule.message
    assert "allowed keys: split, tie_break, must_beat, rule, optimize, constraints" in rule.message


def test_unknown_key_three_levels_deep(tmp_path: Path) -> None:
    text = """\
    project: x
    task: binary
    data:
      table: eval.parquet
      id: row_id
      label: y
      long:
        model_colum: model
        score: s
    metrics: [roc_auc]
    selection: {rule: satisficing, optimize: roc_auc}
    """
    p = only(problems(tmp_path, text), "data.long.model_colum")
    assert p.line == 8
    assert "unknown key `model_colum` in `data.long`; did you mean `model_column`?" in p.message
    assert "(allowed keys: model_column, score, classes)" in p.message


# A small valid charter, for a test to add one section to (indented as the tests' text).
_SMALL = """\
    project: x
    task: binary
    data:
      table: eval.parquet
      id: row_id
      label: y
      models: {a: s}
    metrics: [roc_auc]
    selection: {rule: satisficing, optimize: roc_auc}
"""


def test_unknown_key_of_a_baseline_lists_its_kinds_keys(tmp_path: Path) -> None:
    # A baseline is a union tagged by `kind:` (not `rule:`): its keys were listed as
    # "(allowed keys: )".
    text = _SMALL + """\
    baselines:
      flip: {kind: rule, function: "rules:flip", expresion: "x > 0"}
      base: {kind: prior, sed: 3}
    """
    p = only(problems(tmp_path, text), "baselines.flip.expresion")
    assert "(allowed keys: kind, function, columns, description)" in p.message
    q = only(problems(tmp_path, text), "baselines.base.sed")
    assert "did you mean `seed`?" in q.message
    assert "(allowed keys: kind, " in q.message
    assert "seed" in q.message


def test_spelled_out_cost_keys_suggest_their_abbreviations(tmp_path: Path) -> None:
    text = _SMALL + """\
    costs: {unit: USD, false_positive: 1, false_negative: 5}
    """
    probs = problems(tmp_path, text)
    fp = only(probs, "costs.false_positive")
    assert "unknown key `false_positive` in `costs`; did you mean `fp`?" in fp.message
    assert fp.fix == "rename it to `fp`"
    assert only(probs, "costs.false_negative").fix == "rename it to `fn`"


def test_key_of_another_rule(tmp_path: Path) -> None:
    text = edit("  tie_break: roc_auc\n", "  tie_break: roc_auc\n  weights: {roc_auc: 1}\n")
    p = only(problems(tmp_path, text), "selection.weights")
    assert p.line == line_of(text, "weights: {roc_auc: 1}")
    assert "`weights` is not a key of rule `satisficing` (it belongs to rule weighted)" in p.message


def test_wrong_types(tmp_path: Path) -> None:
    text = edit("  resamples: 500", "  resamples: many")
    text = edit("  columns: [region, device]", "  columns: region", text)
    text = edit("seed: 11", "seed: 1.5", text)
    probs = problems(tmp_path, text)

    p = only(probs, "intervals.resamples")
    assert p.line == line_of(text, "resamples: many")
    assert p.message == "expected a whole number, got 'many'"
    assert p.fix == "write a whole number, e.g. 1000"

    p = only(probs, "slices.columns")
    assert p.line == line_of(text, "columns: region")
    assert p.message == "expected a list, got 'region'"
    assert p.fix == "write a list: [region]"

    p = only(probs, "seed")
    assert p.line == 3
    assert "expected a whole number, got 1.5" in p.message


def test_yaml_booleans_and_dates_get_a_quoting_fix(tmp_path: Path) -> None:
    text = edit("  selection: validation", "  selection: 2024-06-30")
    text = edit("project: churn-2024", "project: yes", text)
    probs = problems(tmp_path, text)
    p = only(probs, "splits.selection")
    assert p.line == line_of(text, "selection: 2024-06-30")
    assert p.message == "expected text, got 2024-06-30 (a date)"
    assert p.fix is not None
    assert p.fix.startswith('put it in quotes: "2024-06-30"')
    p = only(probs, "project")
    assert p.fix is not None
    assert p.fix.startswith('put it in quotes: "yes"')


def test_a_model_that_is_neither_a_column_nor_a_mapping(tmp_path: Path) -> None:
    text = edit("    logreg: p_logreg", "    logreg: [p_logreg]")
    p = only(problems(tmp_path, text), "data.models.logreg")
    assert p.line == line_of(text, "logreg: [p_logreg]")
    assert p.message == "expected text or a mapping, got [\"p_logreg\"] (a list)"
    assert p.fix is not None
    assert "`logreg: <score column>`" in p.fix


def test_literal_lists_allowed_values(tmp_path: Path) -> None:
    text = edit("task: binary", "task: binery")
    text = edit("  deployment: batch", "  deployment: nightly", text)
    probs = problems(tmp_path, text)
    p = only(probs, "task")
    assert p.line == 2
    assert p.message == (
        "must be one of binary, multiclass, regression, errors; got 'binery'; "
        "did you mean `binary`?"
    )
    assert p.fix == "write `task: binary`"
    p = only(probs, "planning.deployment")
    assert p.line == line_of(text, "deployment: nightly")
    assert "deployment 'nightly' is none of realtime, online, batch, streaming" in p.message


def test_bad_bound_string(tmp_path: Path) -> None:
    text = edit('    precision: ">= 0.2"', '    precision: "=> 0.2"')
    text = edit('  precision: "> 0.15"', "  precision: 0.15", text)
    probs = problems(tmp_path, text)

    p = only(probs, "selection.constraints.precision")
    assert p.line == line_of(text, '"=> 0.2"')
    assert p.message == (
        'a bound is written like ">= 0.6" or "<= 120" (one of >=, <=, >, <, then a number); '
        "got '=> 0.2'"
    )
    assert p.fix == 'write ">= 0.2"'

    p = only(probs, "requirements.precision")
    assert p.line == line_of(text, "precision: 0.15")
    assert "got 0.15" in p.message
    assert p.fix is not None
    assert '">= 0.15" (at least) or "<= 0.15" (at most)' in p.fix


def test_unknown_rule(tmp_path: Path) -> None:
    text = edit("  rule: satisficing", "  rule: satisfying")
    p = only(problems(tmp_path, text), "selection.rule")
    assert p.line == line_of(text, "rule: satisfying")
    assert p.message == (
        "rule must be one of satisficing, weighted, formula, pareto; got 'satisfying'; "
        "did you mean `satisficing`?"
    )
    assert p.fix == "write `rule: satisficing`"


def test_missing_rule_and_missing_key(tmp_path: Path) -> None:
    text = edit("  - {rule: pareto, metrics: [precision, recall], tie_break: roc_auc}",
                "  - {metrics: [precision, recall]}")
    text = edit("  optimize: r_at_p20\n", "", text)
    probs = problems(tmp_path, text)
    p = only(probs, "alternatives[1]")
    assert p.line == line_of(text, "- {metrics: [precision, recall]}")
    assert "a rule needs `rule:`, one of satisficing, weighted, formula, pareto" in p.message
    p = only(probs, "selection.optimize")
    assert p.line == text.splitlines().index("selection:") + 1
    assert p.message == "missing required key `optimize` in `selection`"
    assert p.fix is not None
    assert p.fix.startswith("add `optimize: <metric id>`")


def test_out_of_range_and_length(tmp_path: Path) -> None:
    text = edit("  level: 0.9", "  level: 1.5")
    text = edit("  tradeoff: [recall, precision]", "  tradeoff: [recall]", text)
    text = edit("metrics: [precision, recall]", "metrics: [precision]", text)
    probs = problems(tmp_path, text)
    p = only(probs, "intervals.level")
    assert (p.message, p.fix) == ("must be < 1.0, got 1.5", "use a value < 1.0")
    assert only(probs, "report.tradeoff").message == (
        "needs exactly 2 metric ids (x axis, then y axis), got 1"
    )
    p = only(probs, "alternatives[1].metrics")
    assert p.line == line_of(text, "rule: pareto")
    assert p.message == "a Pareto rule needs at least 2 metrics, got 1"


def test_misspelled_metric_key_in_an_entry(tmp_path: Path) -> None:
    text = edit("  - {metric: recall, threshold: 0.3}", "  - {metrc: recall, threshold: 0.3}")
    p = only(problems(tmp_path, text), "metrics[3].metrc")
    assert p.line == line_of(text, "metrc: recall")
    assert p.message == "unknown key `metrc` in a metric entry; did you mean `metric`?"


# --- meaning -----------------------------------------------------------------------------


def test_rule_naming_an_uncomputed_metric(tmp_path: Path) -> None:
    text = edit("  optimize: r_at_p20", "  optimize: precison")
    text = edit("{rule: pareto, metrics: [precision, recall], tie_break: roc_auc}",
                "{rule: pareto, metrics: [precision, recall], tie_break: f1}", text)
    text = edit("  slice_metric: roc_auc", "  slice_metric: log_loss", text)
    probs = problems(tmp_path, text)

    p = only(probs, "selection.optimize")
    assert p.line == line_of(text, "optimize: precison")
    assert p.message.startswith(
        "metric `precison` is not computed; did you mean `precision`? (computed: roc_auc, "
    )
    assert p.fix == "write `precision`, or add `precison` under `metrics:`"

    # `f1` is computed under the id `f1_best`: the hint says so.
    p = only(probs, "alternatives[1].tie_break")
    assert p.line == line_of(text, "tie_break: f1}")
    assert "did you mean `f1_best` (the id of the `f1` entry)?" in p.message

    p = only(probs, "report.slice_metric")
    assert p.line == line_of(text, "slice_metric: log_loss")
    assert p.fix == "name a computed metric id, or add `log_loss` under `metrics:`"


def test_formula_naming_an_uncomputed_metric(tmp_path: Path) -> None:
    pytest.importorskip("mlscope.formula")
    text = edit("  - {rule: weighted, weights: {roc_auc: 1, average_precision: 2}}",
                "  - {rule: formula, expression: \"(roc_auc + averge_precision) / 2\"}")
    p = only(problems(tmp_path, text), "alternatives[0].expression")
    assert p.line == line_of(text, "rule: formula")
    assert "metric `averge_precision` is not computed; did you mean `average_precision`?" in (
        p.message
    )


def test_formula_with_bad_syntax(tmp_path: Path) -> None:
    pytest.importorskip("mlscope.formula")
    text = edit("  - {rule: weighted, weights: {roc_auc: 1, average_precision: 2}}",
                "  - {rule: formula, expression: \"roc_auc + * 2\"}")
    p = only(problems(tmp_path, text), "alternatives[0].expression")
    assert p.line == line_of(text, "rule: formula")
    assert p.fix is not None
    assert "arithmetic expression over metric ids" in p.fix


@needs_registry
def test_unknown_metric_name(tmp_path: Path) -> None:
    text = edit("  - average_precision", "  - average_precison")
    text = edit("  - roc_auc\n", "  - roc_auc\n  - {metric: mean_absolute_error}\n", text)
    probs = problems(tmp_path, text)
    # The rules that name `average_precision` are not reported: fixing the name fixes them.
    assert len(probs) == 2
    p = only(probs, "metrics[2]")
    assert p.line == line_of(text, "- average_precison")
    assert p.message.startswith(
        "unknown metric `average_precison`; did you mean `average_precision`? "
        "(metrics for task binary: "
    )
    assert p.fix == "write `average_precision`"
    p = only(probs, "metrics[1].metric")
    assert p.line == line_of(text, "mean_absolute_error")
    assert "metric `mean_absolute_error`" in p.message


@needs_registry
def test_bad_metric_parameters(tmp_path: Path) -> None:
    text = edit("  - {metric: precision, threshold: 0.3}", "  - {metric: precision, treshold: 0.3}")
    text = edit("  - {metric: recall, threshold: 0.3}", "  - {metric: recall, threshold: 1.5}",
                text)
    probs = problems(tmp_path, text)
    p = only(probs, "metrics[2].treshold")
    assert p.line == line_of(text, "treshold: 0.3")
    assert "metric `precision` has no parameter `treshold`; did you mean `threshold`?" in p.message
    assert p.fix == "rename it to `threshold`"
    p = only(probs, "metrics[3].threshold")
    assert p.line == line_of(text, "threshold: 1.5")
    assert "metric `recall` parameter `threshold`" in p.message
    assert "1.5" in p.message


def test_duplicate_metric_ids(tmp_path: Path) -> None:
    text = edit("  - {metric: recall, threshold: 0.3}\n",
                "  - {metric: recall, threshold: 0.3}\n  - {metric: precision, threshold: 0.5}\n")
    p = only(problems(tmp_path, text), "metrics[4]")
    first = line_of(text, "{metric: precision, threshold: 0.3}")
    assert p.line == line_of(text, "{metric: precision, threshold: 0.5}")
    assert p.message == (
        f"metric id `precision` is used twice (line {first} and here); rules and reports "
        "name metrics by id"
    )
    assert p.fix == "give this entry its own id, e.g. `id: precision_0_5`"


def test_two_data_sources(tmp_path: Path) -> None:
    text = edit("  id: row_id\n", "  duckdb: {database: eval.duckdb, table: scores}\n"
                "  id: row_id\n")
    p = only(problems(tmp_path, text), "data.duckdb")
    assert p.line == line_of(text, "duckdb: {database")
    assert p.message == "two data sources: `table` and `duckdb`; mlscope reads exactly one"
    assert p.fix == "keep one data source and remove the other(s)"


def test_no_data_source_and_no_models(tmp_path: Path) -> None:
    text = """\
    project: x
    task: binary
    data:
      label: y
    metrics: [roc_auc]
    selection: {rule: satisficing, optimize: roc_auc}
    """
    probs = problems(tmp_path, text)
    messages = sorted(p.message for p in probs)
    assert messages == ["no data source", "no models: the scores of the models are not given"]
    assert {p.line for p in probs} == {3}


def test_labels_and_predictions(tmp_path: Path) -> None:
    text = """\
    project: x
    task: binary
    data:
      labels: labels.parquet
      label: y
      models: {a: p_a}
      predictions:
        a: {path: a.parquet}
        b: {path: b.parquet, score: p}
    metrics: [roc_auc]
    selection: {rule: satisficing, optimize: roc_auc}
    """
    probs = problems(tmp_path, text)
    joined = only([p for p in probs if "id" in p.message], "data.predictions")
    assert joined.line == 7
    assert joined.fix is not None
    assert "add `id:" in joined.fix
    two = only([p for p in probs if "two ways" in p.message], "data.predictions")
    assert two.message == "models are given two ways: `models` and `predictions`"
    score = only(probs, "data.predictions.a")
    assert score.line == 8
    assert "a binary predictions file needs `score`" in score.message


def test_shape_of_models_per_task(tmp_path: Path) -> None:
    text = """\
    project: x
    task: multiclass
    data:
      table: eval.parquet
      label: y
      score_type: logit
      classes: [cat, dog]
      models:
        a: {cat: a_cat, dog: a_dog}
        b: {cat: b_cat, bird: b_bird}
        c: p_c
    metrics: [accuracy]
    selection: {rule: satisficing, optimize: accuracy}
    """
    probs = problems(tmp_path, text)
    assert only(probs, "data.score_type").message == (
        "`score_type: logit` only applies to a binary task (this is multiclass)"
    )
    p = only(probs, "data.models.b")
    assert p.line == 10
    assert "classes ['bird', 'cat'] differ from ['cat', 'dog']" in p.message
    p = only(probs, "data.models.c")
    assert p.line == 11
    assert "needs one probability column per class" in p.message


def test_errors_task_takes_models_from_errors(tmp_path: Path) -> None:
    text = """\
    project: pose
    task: errors
    data:
      table: eval.parquet
      models: {v1: x}
      errors:
        position_cm: {v1: pos_v1, v2: pos_v2}
        angle_deg: {v1: ang_v1}
    metrics:
      - {id: pos_mean, metric: error_mean, error: position_cm}
    selection: {rule: satisficing, optimize: pos_mean}
    """
    probs = problems(tmp_path, text)
    assert "label" not in " ".join(p.message for p in probs)  # no label for errors
    assert only(probs, "data.models").line == 5
    p = only(probs, "data.errors.angle_deg")
    assert p.line == 8
    assert "no column for model(s) v2" in p.message


@needs_registry
def test_error_metric_names_an_error_column(tmp_path: Path) -> None:
    text = """\
    project: pose
    task: errors
    data:
      table: eval.parquet
      errors:
        position_cm: {v1: pos_v1, v2: pos_v2}
    metrics:
      - {id: pos_mean, metric: error_mean, error: positon_cm}
    selection: {rule: satisficing, optimize: pos_mean}
    """
    p = only(problems(tmp_path, text), "metrics[0].error")
    assert p.line == 8
    assert "names no column under `data.errors`; did you mean `position_cm`?" in p.message


def test_weights_and_self_constraint(tmp_path: Path) -> None:
    text = edit("{rule: weighted, weights: {roc_auc: 1, average_precision: 2}}",
                "{rule: weighted, weights: {roc_auc: -1, average_precision: 2}}")
    text = edit("    precision: \">= 0.2\"", "    r_at_p20: \">= 0.2\"", text)
    probs = problems(tmp_path, text)
    p = only(probs, "alternatives[0].weights.roc_auc")
    assert "weights must be non-negative" in p.message
    p = only(probs, "selection.constraints.r_at_p20")
    assert p.line == line_of(text, 'r_at_p20: ">= 0.2"')
    assert p.message == "a constraint on the optimized metric `r_at_p20` itself"

    zero = edit("{roc_auc: 1, average_precision: 2}", "{roc_auc: 0}")
    assert only(problems(tmp_path, zero), "alternatives[0].weights").message == (
        "the weights sum to 0"
    )


def test_slices(tmp_path: Path) -> None:
    text = edit("    - [region, device]", "    - [region]")
    text = edit('    high_balance: "balance > 1500"',
                '    high balance: "balance > 1500"\n    empty: " "', text)
    probs = problems(tmp_path, text)
    p = only(probs, "slices.crosses[0]")
    assert p.line == line_of(text, "- [region]")
    assert p.message == "a cross needs at least 2 columns, got ['region']"
    p = only(probs, "slices.where.high balance")
    assert "must be an identifier" in p.message
    assert p.fix == "rename it, e.g. `high_balance`"
    p = only(probs, "slices.where.empty")
    assert p.line == line_of(text, 'empty: " "')
    assert p.message == "the predicate of slice `empty` is empty"


def test_many_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = edit("  table: data/eval.parquet", "  tabel: data/eval.parquet")
    text = edit("  rule: satisficing", "  rule: satisficing\n  optimise: x", text)
    text = edit("  roc_auc: \">= 0.7\"", "  roc_auc: \"at least 0.7\"", text)
    text = edit("  slice_metric: roc_auc", "  slice_metric: roc_acu", text)
    text = edit("  resamples: 500", "  resamples: -3", text)
    path = write(tmp_path, text)
    with pytest.raises(CharterError) as info:
        load_charter(path)
    got = {(p.path, p.line) for p in info.value.problems}
    assert got == {
        ("data.tabel", line_of(text, "tabel:")),
        ("selection.optimise", line_of(text, "optimise: x")),
        ("requirements.roc_auc", line_of(text, "at least 0.7")),
        ("intervals.resamples", line_of(text, "resamples: -3")),
        ("report.slice_metric", line_of(text, "slice_metric: roc_acu")),
    }
    # Problems come in file order, and the message lists each with file and line.
    lines = [p.line or 0 for p in info.value.problems]
    assert lines == sorted(lines)
    assert str(info.value).startswith("5 problem(s) in the charter:")
    assert f"{path}:{line_of(text, 'tabel:')}: data.tabel: unknown key `tabel`" in str(info.value)
    fixes = {p.path: p.fix for p in info.value.problems}
    assert fixes["requirements.roc_auc"] == 'write ">= 0.7"'
    assert fixes["report.slice_metric"] == "write `roc_auc`, or add `roc_acu` under `metrics:`"


def test_selection_on_the_report_split_is_a_warning(tmp_path: Path) -> None:
    text = edit("  tie_break: roc_auc\n", "  tie_break: roc_auc\n  split: test\n")
    report = validate_charter(write(tmp_path, text))
    assert report.problems == []
    assert report.charter is not None
    warned = [w for w in report.warnings if w.path == "selection.split"]
    assert len(warned) == 1
    assert warned[0].line == line_of(text, "split: test")
    assert "selects on split `test`, which is also the report split" in warned[0].message
    load_charter(write(tmp_path, text))  # a warning does not stop loading

    both = edit("  selection: validation", "  selection: test")
    report = validate_charter(write(tmp_path, both))
    assert report.problems == []
    assert [w.path for w in report.warnings if "report split" in w.message] == [
        "splits.selection"
    ]


# --- the documented examples are valid --------------------------------------------------


def _doc_examples() -> list[str]:
    doc = Path(__file__).resolve().parent.parent / "docs" / "charter.md"
    if not doc.exists():
        return []
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    return [b for b in blocks if b.startswith("project:")]


@pytest.mark.parametrize("example", _doc_examples())
def test_documented_examples_are_valid(tmp_path: Path, example: str) -> None:
    report = validate_charter(write(tmp_path, example))
    assert report.problems == [], [str(p) for p in report.problems]
    if registry_available() and _formula_available():
        assert report.warnings == [], [str(w) for w in report.warnings]


def _formula_available() -> bool:
    try:
        import mlscope.formula  # noqa: F401
    except ImportError:
        return False
    return True
