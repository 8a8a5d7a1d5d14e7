"""MLflow in and out: an experiment's runs become a charter's predictions, and the decision
goes back onto the runs.

:func:`import_runs` reads the runs of one MLflow experiment (their params, metrics and
tags) and downloads each run's predictions artifact into a folder as ``<model>.parquet``;
the :class:`ImportedRuns` it returns gives the charter's ``data.predictions`` mapping.
After ``mlscope.evaluate``, :func:`write_decision` tags the selected run and the other
candidates with the decision and its reasons, and can register the selected run's model
and point an alias (``champion``) at that version.

MLflow is an optional extra (``pip install "mlscope[mlflow]"``, which installs
``mlflow-skinny``): it is imported inside the functions, so importing this module costs
nothing and a missing MLflow is reported as an :class:`~mlscope.errors.InputError` with
the install command. Any tracking URI MLflow understands works; the tests use a local
SQLite store (``sqlite:///path/mlflow.db``) with no server.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlscope.atomic import copy_atomic
from mlscope.errors import InputError
from mlscope.integrations.mlflow_files import as_parquet, check_columns, format_of, model_name
from mlscope.integrations.mlflow_runs import ImportedRun, ImportedRuns
from mlscope.integrations.mlflow_store import (
    INSTALL_HINT,
    download,
    find_experiment,
    model_source,
    open_client,
    register_model,
    require_mlflow,
    search_runs,
)
from mlscope.integrations.mlflow_tags import MAX_TAG, TAG_KEYS, common_tags, model_tags

if TYPE_CHECKING:
    from mlflow.entities import Run

    from mlscope.result import EvaluationResult

__all__ = ["INSTALL_HINT", "ImportedRun", "ImportedRuns", "import_runs", "write_decision"]

# Aliases MLflow reserves for itself (``latest``, ``v3``); checked before anything is
# written so that a bad alias cannot leave a half-written decision.
_RESERVED_ALIAS = re.compile(r"^(latest|[vV]\d+)$")


# -- what import_runs returns ------------------------------------------------------------
def import_runs(
    tracking_uri: str,
    *,
    experiment: str,
    out_dir: str | Path,
    predictions_artifact: str = "predictions.parquet",
    id_column: str = "id",
    score_column: str = "score",
    class_columns: dict[str, str] | None = None,
    run_filter: str | None = None,
    name_tag: str = "mlflow.runName",
) -> ImportedRuns:
    """Import an MLflow experiment's runs as candidate models.

    Each run (oldest first) becomes one model named after its ``name_tag`` (the run name by
    default), made an identifier (``knn-v2`` → ``knn_v2``) and unique (``gbdt``,
    ``gbdt_2``, ignoring case). Its predictions artifact (Parquet or CSV, one row per
    evaluation row) is downloaded, checked for the id and score columns, and written to
    ``out_dir/<model>.parquet``; nothing is written unless every run passes.

    Parameters
    ----------
    tracking_uri
        Where MLflow keeps the runs: ``sqlite:///path/mlflow.db``, ``http://host:5000``, ...
    experiment
        The experiment's name (or its id).
    out_dir
        The folder for the predictions files; created if missing, files replaced.
    predictions_artifact
        The artifact path of the predictions in every run (``.parquet``, ``.pq``, ``.csv``,
        ``.tsv``, optionally ``.gz`` for text); may be in a folder (``eval/preds.csv``).
    id_column
        The row id column of the predictions: the charter's ``data.id``, joined to the
        labels.
    score_column
        The score column (binary: a probability or a logit; regression: the prediction).
    class_columns
        Multiclass: class → probability column; replaces ``score_column``.
    run_filter
        An MLflow search filter, e.g. ``"attributes.status = 'FINISHED' and
        params.family = 'tree'"``; all runs of the experiment by default.
    name_tag
        The run tag that names the model; runs without it fall back to the run name.

    Returns
    -------
    ImportedRuns
        The models, their runs and files; see :meth:`ImportedRuns.charter_predictions`.

    Raises
    ------
    InputError
        When MLflow is not installed, the store or experiment does not exist (with a "did
        you mean"), the filter is invalid or matches no run, a run lacks the artifact
        (naming the run and the artifacts it has), or a predictions file lacks a column.
    """
    require_mlflow()
    from mlflow.exceptions import MlflowException

    fmt = format_of(predictions_artifact)
    if class_columns is not None and not class_columns:
        raise InputError("class_columns is empty: give class → probability column, or omit "
                         "it and give score_column")
    client = open_client(tracking_uri)
    exp = find_experiment(client, experiment, tracking_uri)
    try:
        found = search_runs(client, exp.experiment_id, run_filter or "")
    except MlflowException as exc:
        if not run_filter:
            raise
        raise InputError(f"run_filter {run_filter!r} is not a valid MLflow search filter: "
                         f"{exc.message}") from exc
    if not found:
        which = f" matching {run_filter!r}" if run_filter else ""
        raise InputError(f"experiment `{exp.name}` has no runs{which} at {tracking_uri}")

    out = Path(out_dir).expanduser().resolve()
    taken: set[str] = set()
    staged: list[tuple[str, Run, Path]] = []
    with tempfile.TemporaryDirectory(prefix="mlscope-mlflow-") as tmp:
        # First download and check every run, then write: a bad run leaves out_dir as it was.
        for run in found:
            raw = run.data.tags.get(name_tag) or run.info.run_name or run.info.run_id[:8]
            model = model_name(raw, taken)
            where = (f"predictions file `{predictions_artifact}` of run `{raw}` "
                     f"(run id {run.info.run_id})")
            local = download(client, run, predictions_artifact, Path(tmp) / run.info.run_id,
                             shown=raw)
            parquet = as_parquet(local, fmt, where)
            check_columns(parquet, where, id_column=id_column, score_column=score_column,
                          class_columns=class_columns)
            staged.append((model, run, parquet))
        out.mkdir(parents=True, exist_ok=True)
        imported: dict[str, ImportedRun] = {}
        for model, run, parquet in staged:
            dest = out / f"{model}.parquet"
            copy_atomic(parquet, dest)  # a killed import never leaves a truncated file
            imported[model] = ImportedRun(
                model=model,
                run_id=run.info.run_id,
                run_name=run.info.run_name or run.data.tags.get("mlflow.runName", ""),
                path=dest,
                score=None if class_columns else score_column,
                classes=dict(class_columns) if class_columns else None,
                params=dict(run.data.params),
                metrics=dict(run.data.metrics),
                tags=dict(run.data.tags),
                status=str(run.info.status),
            )
    return ImportedRuns(tracking_uri=tracking_uri, experiment=exp.name,
                        experiment_id=str(exp.experiment_id), out_dir=out,
                        id_column=id_column, runs=imported)


# -- decision ----------------------------------------------------------------------------
def write_decision(
    tracking_uri: str,
    result: EvaluationResult,
    runs: ImportedRuns,
    *,
    tag_prefix: str = "mlscope",
    register: str | None = None,
    alias: str = "champion",
    model_path: str | None = None,
    registry_uri: str | None = None,
) -> dict[str, Any]:
    """Write the primary rule's decision onto the runs, and optionally register the winner.

    Every imported run that is a candidate in ``result`` gets tags under ``tag_prefix``:
    ``decision`` (``selected``, ``not_selected`` or ``no_decision``), ``project``,
    ``rule`` (and ``rule.description``), ``split``, ``status``, ``selected`` and
    ``selected_run``, the key metric (``metric``, ``value``, ``interval``), ``rank`` and
    ``score`` under the rule, ``reason`` (why a model was not selected: the rule's dropped
    reasons, or its rank), and, when the decision's bootstrap confidence was computed,
    ``confidence`` (the winner's share of resamples) and ``chosen_share`` (each model's).
    Tags of an earlier decision that no longer apply are removed.

    Parameters
    ----------
    tracking_uri
        The MLflow store the runs are in (the one given to :func:`import_runs`).
    result
        The evaluation of a charter whose predictions came from ``runs``.
    runs
        What :func:`import_runs` returned.
    tag_prefix
        The prefix of every tag key (``mlscope.decision``, ...).
    register
        A registered model name: the selected run's model is registered under it (the
        registered model is created if missing; a version of the same run and source is
        reused) and ``alias`` is pointed at that version.
    alias
        The alias to set on the registered version.
    model_path
        What to register: an artifact path in the run (``model``) or ``models:/<id>``. By
        default the run's logged model, else its one artifact folder holding an
        ``MLmodel`` file, else the run's artifact root.
    registry_uri
        The model registry, when it is not the tracking store.

    Returns
    -------
    dict
        ``selected`` (``{"model", "run_id"}`` or None), ``runs`` (model → ``{"run_id",
        "tags", "removed"}``), ``skipped`` (imported models not in the result) and
        ``registered`` (``{"name", "version", "alias", "source", "model_id",
        "new_version"}`` or None).

    Raises
    ------
    InputError
        Before anything is written: when the result has no selection, no imported model
        is a candidate in it, a run is not in the store, the alias is reserved, or
        ``register`` is given but no imported run was selected or its model is ambiguous.
    """
    require_mlflow()
    from mlflow.entities import RunTag
    from mlflow.exceptions import MlflowException

    if result.selection is None:
        raise InputError("the result has no selection: evaluate a charter with `selection:`")
    prefix = tag_prefix.strip().rstrip(".")
    if not prefix:
        raise InputError("tag_prefix is empty; give e.g. `mlscope`")
    primary = result.selection.primary
    winner = primary.winner
    candidates = [m.name for m in result.models if m.kind == "candidate"]
    matched = [m for m in runs.models if m in candidates]
    skipped = [m for m in runs.models if m not in candidates]
    if not matched:
        raise InputError(
            f"none of the imported models ({', '.join(runs.models)}) is a candidate in the "
            f"result ({', '.join(candidates) or 'none'}); evaluate a charter whose "
            "data.predictions came from these runs (ImportedRuns.charter_predictions)"
        )
    if register is not None:
        if not register.strip() or "'" in register:
            raise InputError(f"register={register!r} is not a usable registered model name")
        if _RESERVED_ALIAS.match(alias) or not alias.strip():
            raise InputError(f"alias {alias!r} is reserved or empty in MLflow (`latest` and "
                             "`v<number>` are its own); choose another, e.g. `champion`")
        if winner is None:
            raise InputError(
                f"cannot register `{register}`: the {primary.rule} rule selected no model"
                f"{' (' + primary.note + ')' if primary.note else ''}; nothing was written"
            )
        if winner not in runs.runs:
            raise InputError(
                f"cannot register `{register}`: the selected model `{winner}` is not one of "
                f"the imported MLflow runs ({', '.join(runs.models)}); nothing was written"
            )

    client = open_client(tracking_uri, registry_uri)
    current: dict[str, Run] = {}
    for model in matched:
        run_id = runs.runs[model].run_id
        try:
            current[model] = client.get_run(run_id)
        except MlflowException as exc:
            raise InputError(
                f"run {run_id} (model `{model}`) is not in the MLflow store at {tracking_uri}; "
                "give write_decision the store that import_runs read"
            ) from exc
    source: tuple[str, str | None] | None = None
    if register is not None and winner is not None:
        source = model_source(client, current[winner], model_path)

    common = common_tags(result, runs, prefix)
    written: dict[str, Any] = {}
    for model in matched:
        run = current[model]
        tags = {**common, **model_tags(result, model, prefix)}
        tags = {k: v[:MAX_TAG] for k, v in tags.items()}
        client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        ours = {f"{prefix}.{k}" for k in TAG_KEYS}
        removed = sorted(k for k in run.data.tags if k in ours and k not in tags)
        for key in removed:
            client.delete_tag(run.info.run_id, key)
        written[model] = {"run_id": run.info.run_id, "tags": tags, "removed": removed}

    registered: dict[str, Any] | None = None
    if register is not None and winner is not None and source is not None:
        registered = register_model(client, register, current[winner], source, alias=alias,
                                    tags={k: v for k, v in written[winner]["tags"].items()
                                          if not k.endswith((".decision", ".reason"))})
    return {
        "selected": ({"model": winner, "run_id": runs.runs[winner].run_id}
                     if winner in runs.runs else None),
        "runs": written,
        "skipped": skipped,
        "registered": registered,
    }
