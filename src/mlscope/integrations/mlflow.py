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

import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from mlscope.atomic import copy_atomic
from mlscope.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, LoggedModel, Run

    from mlscope.result import EvaluationResult

__all__ = ["INSTALL_HINT", "ImportedRun", "ImportedRuns", "import_runs", "write_decision"]

INSTALL_HINT = 'the MLflow integration needs MLflow: pip install "mlscope[mlflow]"'

# Suffix → reader; a CSV is converted so that every imported file is Parquet.
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv",
            ".csv.gz": "csv", ".tsv.gz": "tsv"}
# Tag values are capped by the tracking stores (8,000 characters in MLflow 3, 5,000 in
# older servers); a rule description or a list of reasons is cut well below that.
_MAX_TAG = 4000
# Every tag suffix write_decision may write: a stale one (a reason on a run that is now
# selected) is deleted so that the tags always describe the latest decision.
_TAG_KEYS = ("decision", "project", "rule", "rule.description", "split", "status",
             "evaluated_at", "version", "selected", "selected_run", "metric", "value",
             "interval", "rank", "score", "reason", "confidence", "chosen_share")
# Aliases MLflow reserves for itself (``latest``, ``v3``); checked before anything is
# written so that a bad alias cannot leave a half-written decision.
_RESERVED_ALIAS = re.compile(r"^(latest|[vV]\d+)$")
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]+$")


# -- what import_runs returns ------------------------------------------------------------
@dataclass(frozen=True)
class ImportedRun:
    """One MLflow run imported as one model.

    Attributes
    ----------
    model
        The model's name in the charter: the run's name, made an identifier and unique.
    run_id, run_name
        The MLflow run.
    path
        Absolute path of the predictions file written (always Parquet).
    score, classes
        The score column (binary, regression), or class → probability column (multiclass).
    params, metrics, tags
        The run's parameters, latest metric values and tags, as MLflow stores them.
    status
        The run's status (``FINISHED``, ``RUNNING``, ``FAILED``, ...).
    """

    model: str
    run_id: str
    run_name: str
    path: Path
    score: str | None
    classes: dict[str, str] | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    status: str

    def charter_entry(self, *, relative_to: str | Path | None = None) -> dict[str, Any]:
        """This model's ``data.predictions`` entry: ``{path, score}`` or ``{path, classes}``."""
        path = self.path
        if relative_to is not None:
            path = Path(os.path.relpath(self.path, Path(relative_to).expanduser().resolve()))
        entry: dict[str, Any] = {"path": path.as_posix()}
        if self.classes is not None:
            entry["classes"] = dict(self.classes)
        else:
            entry["score"] = self.score
        return entry


@dataclass(frozen=True)
class ImportedRuns:
    """The runs of one experiment, imported as the candidate models of a charter.

    Attributes
    ----------
    tracking_uri, experiment, experiment_id
        Where the runs came from.
    out_dir
        The folder the predictions files were written to (absolute).
    id_column
        The row id column of every predictions file: the charter's ``data.id``.
    runs
        Model name → :class:`ImportedRun`, oldest run first.
    """

    tracking_uri: str
    experiment: str
    experiment_id: str
    out_dir: Path
    id_column: str
    runs: dict[str, ImportedRun]

    @property
    def models(self) -> list[str]:
        """The model names, oldest run first."""
        return list(self.runs)

    def run(self, model: str) -> ImportedRun:
        """The run imported as ``model``."""
        if model not in self.runs:
            raise InputError(
                f"model `{model}` is not one of the imported runs{did_you_mean(model, self.runs)}"
                f" (models: {', '.join(self.runs)})"
            )
        return self.runs[model]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (paths as text), e.g. for a later ``mlscope mlflow tag``."""
        return {
            "tracking_uri": self.tracking_uri,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "out_dir": str(self.out_dir),
            "id_column": self.id_column,
            "runs": {m: {**asdict(r), "path": str(r.path)} for m, r in self.runs.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportedRuns:
        """The inverse of :meth:`to_dict`."""
        try:
            runs = {m: ImportedRun(**{**r, "path": Path(r["path"])})
                    for m, r in data["runs"].items()}
            return cls(tracking_uri=data["tracking_uri"], experiment=data["experiment"],
                       experiment_id=data["experiment_id"], out_dir=Path(data["out_dir"]),
                       id_column=data["id_column"], runs=runs)
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a record of imported MLflow runs: {exc!r}") from exc

    def charter_predictions(
        self, *, relative_to: str | Path | None = None
    ) -> dict[str, dict[str, Any]]:
        """The charter's ``data.predictions`` mapping, ``{model: {"path": ..., "score": ...}}``.

        Parameters
        ----------
        relative_to
            The charter's folder: paths are written relative to it, as the charter reads
            them. By default they are absolute.
        """
        return {m: r.charter_entry(relative_to=relative_to) for m, r in self.runs.items()}

    def charter_snippet(
        self,
        *,
        relative_to: str | Path | None = None,
        labels: str | Path | None = None,
        label: str | None = None,
    ) -> str:
        """YAML text for the charter's ``data`` section, to paste into a charter.

        Parameters
        ----------
        relative_to
            The charter's folder (paths relative to it); absolute paths by default.
        labels
            The labels file, written as given; left out (with a reminder) when not given.
        label
            The label column, written when given.
        """
        data: dict[str, Any] = {}
        if labels is not None:
            data["labels"] = Path(labels).as_posix()
        data["id"] = self.id_column
        if label is not None:
            data["label"] = label
        data["predictions"] = self.charter_predictions(relative_to=relative_to)
        head = [f"# {len(self.runs)} run(s) of MLflow experiment `{self.experiment}` "
                f"(id {self.experiment_id}) at {self.tracking_uri}"]
        head += [f"#   {m}: run {r.run_id} ({r.run_name})" for m, r in self.runs.items()]
        if labels is None or label is None:
            head.append("# add `labels:` (the file with ids, labels and splits) and `label:`")
        body = yaml.safe_dump({"data": data}, sort_keys=False, default_flow_style=False)
        return "\n".join(head) + "\n" + body


# -- import ------------------------------------------------------------------------------
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
    _require_mlflow()
    from mlflow.exceptions import MlflowException

    fmt = _format_of(predictions_artifact)
    if class_columns is not None and not class_columns:
        raise InputError("class_columns is empty: give class → probability column, or omit "
                         "it and give score_column")
    client = _client(tracking_uri)
    exp = _experiment(client, experiment, tracking_uri)
    try:
        found = _search_runs(client, exp.experiment_id, run_filter or "")
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
            model = _model_name(raw, taken)
            where = (f"predictions file `{predictions_artifact}` of run `{raw}` "
                     f"(run id {run.info.run_id})")
            local = _download(client, run, predictions_artifact, Path(tmp) / run.info.run_id,
                              shown=raw)
            parquet = _as_parquet(local, fmt, where)
            _check_columns(parquet, where, id_column=id_column, score_column=score_column,
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
    _require_mlflow()
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

    client = _client(tracking_uri, registry_uri)
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
        source = _model_source(client, current[winner], model_path)

    common = _common_tags(result, runs, prefix)
    written: dict[str, Any] = {}
    for model in matched:
        run = current[model]
        tags = {**common, **_model_tags(result, model, prefix)}
        tags = {k: v[:_MAX_TAG] for k, v in tags.items()}
        client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        ours = {f"{prefix}.{k}" for k in _TAG_KEYS}
        removed = sorted(k for k in run.data.tags if k in ours and k not in tags)
        for key in removed:
            client.delete_tag(run.info.run_id, key)
        written[model] = {"run_id": run.info.run_id, "tags": tags, "removed": removed}

    registered: dict[str, Any] | None = None
    if register is not None and winner is not None and source is not None:
        registered = _register(client, register, current[winner], source, alias=alias,
                               tags={k: v for k, v in written[winner]["tags"].items()
                                     if not k.endswith((".decision", ".reason"))})
    return {
        "selected": ({"model": winner, "run_id": runs.runs[winner].run_id}
                     if winner in runs.runs else None),
        "runs": written,
        "skipped": skipped,
        "registered": registered,
    }


# -- MLflow access -----------------------------------------------------------------------
def _require_mlflow() -> None:
    # MLflow 3 reports usage on import unless told not to; mlscope never sends anything.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{INSTALL_HINT} ({exc})") from exc


def _client(tracking_uri: str, registry_uri: str | None = None) -> MlflowClient:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    # MLflow creates a new, empty SQLite store for a path that does not exist: a typo in
    # the path would then read as "no such experiment" instead of "no such file".
    if tracking_uri.startswith("sqlite:///"):
        db = tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
        if db and db != ":memory:" and not Path(db).exists():
            raise InputError(f"tracking_uri {tracking_uri!r}: there is no MLflow database at "
                             f"{db}; check the path (sqlite:////abs/path/mlflow.db)")
    try:
        return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    except MlflowException as exc:
        raise InputError(f"cannot open the MLflow store {tracking_uri!r}: {exc.message}") \
            from exc


def _experiment(client: MlflowClient, name: str, uri: str) -> Experiment:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None and name.isdigit():
        try:
            exp = client.get_experiment(name)
        except MlflowException:
            exp = None
    if exp is None:
        names = _experiment_names(client)
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise InputError(f"experiment `{name}` is not in the MLflow store at {uri}"
                         f"{did_you_mean(name, names)} (experiments: {shown or 'none'})")
    if exp.lifecycle_stage == "deleted":
        raise InputError(f"experiment `{name}` (id {exp.experiment_id}) is deleted; restore "
                         f"it with `mlflow experiments restore -x {exp.experiment_id}`")
    return exp


def _experiment_names(client: MlflowClient) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        names.extend(e.name for e in page)
        token = page.token
        if not token:
            return names


def _search_runs(client: MlflowClient, experiment_id: str, run_filter: str) -> list[Run]:
    runs: list[Run] = []
    token: str | None = None
    while True:
        # Oldest first, so that a new run never renames the models imported before it.
        page = client.search_runs([experiment_id], filter_string=run_filter,
                                  order_by=["attributes.start_time ASC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _artifact_listing(client: MlflowClient, run_id: str, *, limit: int = 60) -> list[str]:
    """The run's artifact paths, breadth first (folders end with ``/``), at most ``limit``."""
    out: list[str] = []
    queue: list[str | None] = [None]
    while queue and len(out) < limit:
        for info in client.list_artifacts(run_id, queue.pop(0)):
            out.append(f"{info.path}/" if info.is_dir else info.path)
            if info.is_dir:
                queue.append(info.path)
    return out[:limit]


def _has_artifact(client: MlflowClient, run_id: str, path: str) -> bool:
    from mlflow.exceptions import MlflowException

    parent = str(PurePosixPath(path).parent)
    try:
        listing = client.list_artifacts(run_id, None if parent == "." else parent)
    except (MlflowException, OSError):
        return False
    return any(info.path == path for info in listing)


def _download(client: MlflowClient, run: Run, artifact: str, dst: Path, *, shown: str) -> Path:
    run_id = run.info.run_id
    path = PurePosixPath(artifact).as_posix()
    if not _has_artifact(client, run_id, path):
        have = _artifact_listing(client, run_id)
        files = [p for p in have if not p.endswith("/")]
        raise InputError(
            f"run `{shown}` (run id {run_id}) has no artifact `{path}`"
            f"{did_you_mean(path, files)} (its artifacts: {', '.join(have) or 'none'}); "
            "log the predictions with mlflow.log_artifact, or name the file with "
            "predictions_artifact"
        )
    dst.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(run_id, path, str(dst)))


def _model_source(client: MlflowClient, run: Run, model_path: str | None
                  ) -> tuple[str, str | None]:
    """``(source, logged model id)`` of what to register for ``run``."""
    from mlflow.exceptions import MlflowException

    root = run.info.artifact_uri.rstrip("/")
    run_id = run.info.run_id
    if model_path is not None:
        if model_path.startswith("models:/"):
            rest = model_path.removeprefix("models:/")
            if not _LOGGED_MODEL_ID.match(rest):
                return model_path, None  # a registered model's version: the registry resolves
            try:
                return _logged_source(client.get_logged_model(rest))
            except MlflowException as exc:
                raise InputError(f"model_path `{model_path}`: no such logged model in the "
                                 f"store ({exc.message})") from exc
        path = model_path.strip("/")
        if not _has_artifact(client, run_id, path):
            have = _artifact_listing(client, run_id)
            raise InputError(f"model_path `{path}` is not an artifact of run {run_id}"
                             f"{did_you_mean(path, [p.rstrip('/') for p in have])} "
                             f"(its artifacts: {', '.join(have) or 'none'})")
        return f"{root}/{path}", None
    # MLflow 3 keeps logged models apart from run artifacts; older stores do not have them.
    try:
        logged = list(client.search_logged_models(
            [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"))
    except (MlflowException, NotImplementedError, AttributeError):
        logged = []
    if len(logged) > 1:
        listed = ", ".join(f"models:/{m.model_id} ({m.name})" for m in logged)
        raise InputError(f"run {run_id} logged {len(logged)} models ({listed}); pass "
                         "model_path naming the one to register")
    if logged:
        return _logged_source(logged[0])
    # MLflow 2 style: a folder of run artifacts with an MLmodel file in it.
    folders = [info.path for info in client.list_artifacts(run_id) if info.is_dir]
    with_mlmodel = [f for f in folders if _has_artifact(client, run_id, f"{f}/MLmodel")]
    if len(with_mlmodel) > 1:
        raise InputError(f"run {run_id} has {len(with_mlmodel)} model folders "
                         f"({', '.join(with_mlmodel)}); pass model_path naming one")
    if with_mlmodel:
        return f"{root}/{with_mlmodel[0]}", None
    # No model at all (predictions made elsewhere): the version points at the run's
    # artifacts, which is what a deployment job would look up.
    return root, None


def _logged_source(model: LoggedModel) -> tuple[str, str | None]:
    # The version points at the logged model's artifacts rather than at `models:/<id>`: a
    # local store resolves that URI through MLflow's *global* tracking URI, not this
    # client's, so it would look in (or create) ./mlflow.db instead of the store given.
    return model.artifact_location, model.model_id


def _register(client: MlflowClient, name: str, run: Run, source: tuple[str, str | None], *,
              alias: str, tags: dict[str, str]) -> dict[str, Any]:
    from mlflow.exceptions import MlflowException

    uri, model_id = source
    run_id = run.info.run_id
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name)
    # Writing the same decision twice must not pile up versions of the same run.
    same = [v for v in client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
            if v.source == uri]
    if same:
        version = str(max(int(v.version) for v in same))
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    else:
        mv = client.create_model_version(name, uri, run_id=run_id, tags=dict(tags),
                                         model_id=model_id)
        version = str(mv.version)
    try:
        client.set_registered_model_alias(name, alias, version)
    except MlflowException as exc:
        raise InputError(f"cannot set alias `{alias}` on `{name}` version {version}: "
                         f"{exc.message}") from exc
    return {"name": name, "version": version, "alias": alias, "source": uri,
            "model_id": model_id, "new_version": not same}


# -- files -------------------------------------------------------------------------------
def _format_of(artifact: str) -> str:
    lower = artifact.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return _FORMATS[suffix]
    raise InputError(f"predictions_artifact `{artifact}` must be Parquet or CSV (ends with "
                     f"{', '.join(_FORMATS)})")


def _as_parquet(local: Path, fmt: str, where: str) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        return local
    delimiter = "\t" if fmt == "tsv" else ","
    try:
        table = pcsv.read_csv(local, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{where} cannot be read as {fmt.upper()}: {exc}") from exc
    out = local.with_name(local.name.split(".", 1)[0] + ".converted.parquet")
    pq.write_table(table, out)
    return out


def _check_columns(parquet: Path, where: str, *, id_column: str, score_column: str,
                   class_columns: dict[str, str] | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        columns = list(pq.read_schema(parquet).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{where} cannot be read as Parquet: {exc}") from exc
    needed = [("id column", id_column, "id_column")]
    if class_columns:
        needed += [(f"probability column for class `{c}`", col, "class_columns")
                   for c, col in class_columns.items()]
    else:
        needed.append(("score column", score_column, "score_column"))
    for what, column, option in needed:
        if column not in columns:
            raise InputError(f"{where} has no {what} `{column}`{did_you_mean(column, columns)}"
                             f" (columns: {', '.join(columns)}); pass {option} naming it")


def _model_name(raw: str, taken: set[str]) -> str:
    """An identifier from a run name, unique among ``taken`` ignoring case (DuckDB does)."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_") or "run"
    if base[0].isdigit():
        base = f"run_{base}"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name.lower())
    return name


# -- tags --------------------------------------------------------------------------------
def _num(x: float) -> str:
    return f"{x:.6g}"


def _key_metric(result: EvaluationResult) -> str | None:
    """The metric that best stands for the rule: what it optimizes, or weighs the most."""
    sel = result.charter.get("selection") or {}
    rule = sel.get("rule")
    names: list[str] = []
    if rule == "satisficing":
        names = [str(sel.get("optimize"))]
    elif rule == "weighted":
        weights = dict(sel.get("weights") or {})
        names = sorted(weights, key=lambda k: -abs(float(weights[k])))
    elif rule == "pareto":
        names = [str(m) for m in sel.get("metrics") or []]
    elif rule == "formula":
        from mlscope.formula import parse_formula

        try:
            names = list(parse_formula(str(sel.get("expression"))).names_in_order)
        except InputError:
            names = []
    ids = {m.id for m in result.metrics}
    return next((n for n in names if n in ids), None)


def _common_tags(result: EvaluationResult, runs: ImportedRuns, p: str) -> dict[str, str]:
    assert result.selection is not None
    primary = result.selection.primary
    winner = primary.winner
    tags = {
        f"{p}.project": result.project,
        f"{p}.rule": primary.rule,
        f"{p}.split": result.selection.split,
        f"{p}.status": result.status,
        f"{p}.evaluated_at": result.created_at,
        f"{p}.version": result.mlscope_version,
        f"{p}.selected": winner or "",
    }
    if primary.description:
        tags[f"{p}.rule.description"] = primary.description
    if winner is not None and winner in runs.runs:
        tags[f"{p}.selected_run"] = runs.runs[winner].run_id
    return tags


def _model_tags(result: EvaluationResult, model: str, p: str) -> dict[str, str]:
    assert result.selection is not None
    sel = result.selection
    primary = sel.primary
    winner = primary.winner
    tags: dict[str, str] = {}
    key = _key_metric(result)
    if key is not None:
        tags[f"{p}.metric"] = key
        try:
            v = result.value(key, model, split=sel.split)
        except KeyError:
            v = None
        if v is not None and v.value is not None:
            tags[f"{p}.value"] = _num(v.value)
            if v.lower is not None and v.upper is not None:
                tags[f"{p}.interval"] = (f"[{_num(v.lower)}, {_num(v.upper)}] "
                                         f"{result.interval.level:.0%}")
    row = next((r for r in primary.ranking if r.get("model") == model), None)
    if row is not None and row.get("rank") is not None:
        tags[f"{p}.rank"] = str(row["rank"])
    if row is not None and row.get("score") is not None:
        tags[f"{p}.score"] = _num(float(row["score"]))
    dropped = {d["model"]: list(d.get("reasons") or []) for d in primary.dropped}
    if winner is None:
        tags[f"{p}.decision"] = "no_decision"
        why = primary.note or (f"tied: {', '.join(primary.tied)}" if primary.tied
                               else "no model met the rule")
        tags[f"{p}.reason"] = "; ".join(dropped.get(model) or [why])
    elif model == winner:
        tags[f"{p}.decision"] = "selected"
    else:
        tags[f"{p}.decision"] = "not_selected"
        if dropped.get(model):
            tags[f"{p}.reason"] = "; ".join(dropped[model])
        else:
            eligible = sum(1 for r in primary.ranking if r.get("eligible"))
            rank = row.get("rank") if row is not None else None
            place = f"ranked {rank} of {eligible} eligible" if rank is not None else "eligible"
            tags[f"{p}.reason"] = f"{place} under the {primary.rule} rule; `{winner}` was selected"
    conf = sel.confidence
    if conf is not None:
        if model == winner and conf.winner_share is not None:
            tags[f"{p}.confidence"] = _num(conf.winner_share)
        if model in conf.chosen:
            tags[f"{p}.chosen_share"] = _num(conf.chosen[model])
    return tags
