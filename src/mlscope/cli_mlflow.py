"""``mlscope mlflow import`` and ``mlscope mlflow tag``: the MLflow bridge from the command
line (:mod:`mlscope.integrations.mlflow` does the work; this module reads the options and
prints what was done).
"""

from __future__ import annotations

from pathlib import Path

import click

from mlscope.errors import InputError

__all__ = ["mlflow_import_command", "mlflow_tag_command"]


def mlflow_import_command(tracking_uri: str, experiment: str, out_dir: Path, artifact: str,
                          id_column: str, score_column: str, classes: tuple[str, ...],
                          run_filter: str | None, labels: Path | None,
                          label: str | None) -> None:
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
    click.echo(runs.charter_snippet(relative_to=Path.cwd(), labels=labels, label=label))


def mlflow_tag_command(charter: Path, runs_path: Path, tracking_uri: str,
                       result_path: Path | None, prefix: str, register: str | None,
                       alias: str) -> None:
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
    click.echo(json.dumps(written, indent=2, default=str))
