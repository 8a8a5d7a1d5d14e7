"""A new project's charter as commented YAML, from what ``mlscope init`` proposes.

:class:`Proposal` holds the roles of the data's columns and the project's task;
:func:`render_charter` writes the charter: every section explained in a comment, the
metrics and the selection rule that suit the task, and a ``planning:`` section whose
checklist items are all ``open`` (docs/charter.md#planning), so that ``mlscope validate``
passes and the next steps are written in the file itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from mlscope.charter.planning import CHECKLIST

__all__ = ["DEFAULT_METRICS", "Proposal", "render_charter"]

InitTask = Literal["binary", "multiclass", "regression"]

# Per task: the metrics a new charter computes and the one the selection rule optimises.
# Binary metrics on probabilities add log loss and Brier (probability quality); on raw
# scores they are undefined, so only the ranking and thresholded ones are kept.
DEFAULT_METRICS: dict[str, tuple[list[Any], str]] = {
    "binary": (["roc_auc", "average_precision", "log_loss", "brier",
                {"id": "f1_best", "metric": "f1", "threshold": "optimize"}], "roc_auc"),
    "binary_scores": (["roc_auc", "average_precision",
                       {"id": "f1_best", "metric": "f1", "threshold": "optimize"}], "roc_auc"),
    "multiclass": (["accuracy", "f1_macro", "log_loss", "recall_macro"], "f1_macro"),
    "regression": (["mae", "rmse", "r2", "p90_absolute_error"], "mae"),
}


@dataclass
class Proposal:
    """What a new charter says about its data: each column's role and the task.

    Attributes
    ----------
    project
        The project's name.
    table
        The data file, as the charter writes it (relative to the charter's folder).
    task
        ``binary``, ``multiclass`` or ``regression``.
    label
        The label column.
    models
        Model name → score column (binary, regression) or class → probability column
        (multiclass).
    id, split, positive
        The row id column, the split column and the positive class (binary), if any.
    split_roles
        ``selection``, ``report`` and ``train`` → the split value playing that role.
    score_type
        ``probability`` (scores in [0, 1]) or ``score``.
    slices
        Columns to evaluate separately.
    metric
        The metric the selection rule optimises (one of the metrics computed).
    notes
        How each role was found, written as comments in the charter.
    """

    project: str
    table: str
    task: InitTask
    label: str
    models: dict[str, str | dict[str, str]]
    id: str | None = None
    split: str | None = None
    positive: str | int | bool | None = None
    split_roles: dict[str, str | None] = field(default_factory=dict)
    score_type: Literal["probability", "score"] = "probability"
    slices: list[str] = field(default_factory=list)
    metric: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def metrics(self) -> tuple[list[Any], str]:
        """The metrics to compute and the one to optimise."""
        key = ("binary_scores" if self.task == "binary" and self.score_type != "probability"
               else self.task)
        entries, best = DEFAULT_METRICS[key]
        entries = list(entries)
        ids = [e if isinstance(e, str) else e["id"] for e in entries]
        metric = self.metric or best
        if metric not in ids:
            entries.append(metric)
        return entries, metric


def _y(value: Any) -> str:
    """A scalar as YAML flow text: JSON is valid YAML, and quotes whatever needs it."""
    if isinstance(value, str) and value and value.replace("_", "").isalnum() and not (
            value.lower() in {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}
            or value[0].isdigit()):
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_y(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _y(value)


def _note(p: Proposal, key: str) -> str:
    return f"  # {p.notes[key]}" if key in p.notes else ""


def render_charter(p: Proposal) -> str:
    """The charter for ``p`` as commented YAML.

    Parameters
    ----------
    p
        The proposal (after the user's answers and flags).

    Returns
    -------
    str
        The charter's text; ``mlscope validate`` accepts it when the columns exist.
    """
    metrics, optimize = p.metrics()
    out: list[str] = [
        f"# Charter of {p.project}, written by `mlscope init` from {p.table}.",
        "# It says what the models are judged on before anyone looks at their numbers.",
        "# Next: check the roles below, write the planning section, then",
        "#   mlscope validate <this file>   # every problem with its line and the fix",
        "#   mlscope run <this file>        # every metric, per slice, with intervals",
        "# Every key: docs/charter.md.",
        f"project: {_y(p.project)}",
        f"task: {p.task}{_note(p, 'task')}",
        "",
        "data:",
        f"  table: {_y(p.table)}  # relative to this file",
    ]
    if p.id:
        out.append(f"  id: {_y(p.id)}{_note(p, 'id')}")
    out.append(f"  label: {_y(p.label)}{_note(p, 'label')}")
    if p.split:
        out.append(f"  split: {_y(p.split)}{_note(p, 'split')}")
    if p.task == "binary" and p.positive is not None:
        out.append(f"  positive: {_y(p.positive)}{_note(p, 'positive')}")
    if p.task == "binary" and p.score_type != "probability":
        out.append(f"  score_type: {p.score_type}  # the scores are not all in [0, 1]")
    out.append(f"  models:{_note(p, 'models')}")
    out += [f"    {_y(name)}: {_flow(col)}" for name, col in p.models.items()]
    roles = p.split_roles
    out += ["", "splits:  # which value of the split column plays which role",
            f"  selection: {_flow(roles.get('selection'))}  # the model is chosen here",
            f"  report: {_flow(roles.get('report'))}  # requirements are checked here",
            f"  train: {_flow(roles.get('train'))}  # shown for reference (over-fitting)"]
    out += ["", "slices:  # subgroups evaluated separately; add `where:` for SQL conditions",
            f"  columns: {_flow(p.slices)}", "  min_size: 30  # smaller slices: \"too small\"",
            "", "metrics:"]
    out += [f"  - {_flow(m)}" for m in metrics]
    out += ["", "selection:  # how one model is chosen (docs/charter.md#selection-and-"
            "alternatives)", "  rule: satisficing", f"  optimize: {optimize}",
            "  # constraints: {<metric>: \">= value\"}   # what every candidate must reach",
            "", "# requirements:  # what the chosen model must reach on the report split",
            f"#   {optimize}: \"{'<=' if p.task == 'regression' else '>='} <value>\"",
            ""]
    out += _baselines(p)
    out += ["intervals: {level: 0.95, resamples: 1000}  # bootstrap intervals", ""]
    out += _planning()
    return "\n".join(out) + "\n"


def _baselines(p: Proposal) -> list[str]:
    """A trivial baseline, the floor every model must clear: fitted on the train split, so
    proposed only when there is one (else left as a comment that says so). Without it,
    the verdict cannot tell a model that learned nothing from one that did."""
    name = "prior" if "prior" not in p.models else "baseline_prior"
    what = "mean label" if p.task == "regression" else "class frequencies"
    line = f"  {name}: {{kind: prior}}  # the train split's {what}, for every row"
    head = "baselines:  # \"learned nothing\": each model must beat it (docs/baselines.md)"
    if p.split_roles.get("train"):
        return [head, line, ""]
    return ["# " + head + "; needs a train split (splits.train)", "# " + line.lstrip(), ""]


def _planning() -> list[str]:
    out = [
        "planning:  # the project before the model (docs/charter.md#planning)",
        "  # problem: <the problem the prediction solves>",
        "  # users: <who acts on the predictions>",
        "  # decision: <the decision each prediction feeds>",
        "  # archetype: software_2_0 | human_in_the_loop | autonomous",
        "  # impact: {cheap_prediction: high, removing_friction: low, automating_pipeline: "
        "medium}",
        "  # feasibility: {labelled_rows: <n>, label_cost: {per_item: <cost>, unit: EUR}}",
        "  # deployment: {mode: batch, where: cloud}",
        "  # failure_modes: [{failure: <what goes wrong>, slice: <slice>, metric: <metric>, "
        "requirement: \">= <value>\"}]",
        "  checklist:  # each item: answered, open, or \"not applicable: <why>\"",
    ]
    out += [f"    {key}: open  # {item.question}" for key, item in CHECKLIST.items()]
    return out
