"""``mlscope mlflow import`` and ``mlscope mlflow tag``: the MLflow bridge from the command
line (:mod:`mlscope.integrations.mlflow` does the work; this module reads the options and
prints what was done).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlscope.errors import InputError

__all__ = ["mlflow_import_command", "mlflow_tag_command", "tag_summary"]


def mlflow_import_command(tracking_uri: str, experiment: str, out_dir: Path, artifact: str,
                          id_column: str, score_column: str, classes: tuple[str, ...],
                          run_filter: str | None, labels: Path | None,
                          label: str | None, split: str | None = None) -> None:
    """Import the runs, write ``out_dir/mlflow-runs.json`` and print a charter snippet."""
    import json

    from mlscope.integrations.mlflow import import_runs

    class_columns = None
    if classes:
        pairs = [c.split("=", 1) for c in classes]
        if any(len(p) != 2 for p in pairs):
            raise InputError("--class takes CLASS=COLUMN, e.g. --class cat=p_cat")
        class_columns = {k: v for k, v in pairs}
    runs = import_runs(tracking_uri, experiment=experiment, out_dir=out_dir,
                       predictions_artifact=artifact, id_column=id_column,
                       score_column=score_column, class_columns=class_columns,
                       run_filter=run_filter)
    from mlscope.atomic import write_atomic

    record = write_atomic(out_dir / "mlflow-runs.json", json.dumps(runs.to_dict(), indent=2))
    click.echo(f"Imported {len(runs.models)} run(s) from {experiment}: "
               f"{', '.join(runs.models)}; record: {record}")
    if split is None and labels is not None:
        split = _split_column(labels)
    click.echo(runs.charter_snippet(relative_to=Path.cwd(), labels=labels, label=label,
                                    split=split))


# Column names read as a split column when --split is not given (the labels file's own).
_SPLIT_NAMES = ("split", "fold", "partition", "subset", "set")


def _split_column(labels: Path) -> str | None:
    """The labels file's split column, found by name; None when it has none or cannot be
    read (the snippet then reminds the user to add ``split:``)."""
    from mlscope.data.propose import read_sample

    try:
        names = [str(c) for c in read_sample(labels).columns]
    except InputError:
        return None
    lower = {n.lower(): n for n in names}
    return next((lower[k] for k in _SPLIT_NAMES if k in lower), None)


def mlflow_tag_command(charter: Path, runs_path: Path, tracking_uri: str,
                       result_path: Path | None, prefix: str, register: str | None,
                       alias: str, as_json: bool = False) -> None:
    """Write the decision onto the runs of ``runs_path`` and print what was written."""
    import json

    from mlscope.integrations.mlflow import ImportedRuns, write_decision
    from mlscope.result import EvaluationResult

    if not runs_path.exists():
        raise InputError(f"--runs: {runs_path} does not exist; run `mlscope mlflow import` "
                         "first")
    runs = ImportedRuns.from_dict(json.loads(runs_path.read_text(encoding="utf-8")))
    if result_path is not None:
        result = EvaluationResult.from_json(result_path)
    else:
        from mlscope.evaluation import evaluate

        result = evaluate(charter)
    written = write_decision(tracking_uri, result, runs, tag_prefix=prefix,
                             register=register, alias=alias)
    if as_json:
        click.echo(json.dumps(written, indent=2, default=str))
        return
    for line in tag_summary(written, prefix):
        click.echo(line)


def tag_summary(written: dict[str, Any], prefix: str) -> list[str]:
    """What ``mlscope mlflow tag`` wrote, in a few lines a person reads (``--json`` gives
    the whole record)."""
    out = []
    sel = written.get("selected")
    out.append(f"Selected: {sel['model']} (run {sel['run_id']})" if sel
               else "No model selected: the runs are tagged with the decision's reason")
    for model, w in (written.get("runs") or {}).items():
        tags = w.get("tags") or {}
        decision = tags.get(f"{prefix}.decision", "")
        line = f"  {model} (run {w.get('run_id')}): {len(tags)} tags"
        if decision:
            line += f", {prefix}.decision = {decision}"
        if w.get("removed"):
            line += f"; removed {len(w['removed'])} stale tag(s)"
        out.append(line)
    for model in written.get("skipped") or []:
        out.append(f"  {model}: skipped (not an imported MLflow run)")
    reg = written.get("registered")
    if reg:
        out.append(f"Registered {reg.get('name')} version {reg.get('version')} with alias "
                   f"@{reg.get('alias')}")
    return out
