"""Layer 3 of the charter checks, for the ``data`` section.

One data source, and models given one way and in the shape the task needs.
"""

from __future__ import annotations

from mlscope.charter.check_base import CheckerBase
from mlscope.charter.positions import KeyPath
from mlscope.charter.schema import (
    DataSpec,
)
from mlscope.errors import did_you_mean

__all__ = [
    "DataChecks",
]


class DataChecks(CheckerBase):
    """Checks the meaning of the ``data`` section."""

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

