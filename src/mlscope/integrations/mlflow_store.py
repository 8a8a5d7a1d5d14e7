"""MLflow access for :mod:`mlscope.integrations.mlflow`: opening the store, finding the
experiment and its runs, listing and downloading artifacts, and registering a model version.

MLflow is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlscope.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, LoggedModel, Run

INSTALL_HINT = 'the MLflow integration needs MLflow: pip install "mlscope[mlflow]"'

LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]+$")


def require_mlflow() -> None:
    # MLflow 3 reports usage on import unless told not to; mlscope never sends anything.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{INSTALL_HINT} ({exc})") from exc


def open_client(tracking_uri: str, registry_uri: str | None = None) -> MlflowClient:
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


def find_experiment(client: MlflowClient, name: str, uri: str) -> Experiment:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None and name.isdigit():
        try:
            exp = client.get_experiment(name)
        except MlflowException:
            exp = None
    if exp is None:
        names = experiment_names(client)
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise InputError(f"experiment `{name}` is not in the MLflow store at {uri}"
                         f"{did_you_mean(name, names)} (experiments: {shown or 'none'})")
    if exp.lifecycle_stage == "deleted":
        raise InputError(f"experiment `{name}` (id {exp.experiment_id}) is deleted; restore "
                         f"it with `mlflow experiments restore -x {exp.experiment_id}`")
    return exp


def experiment_names(client: MlflowClient) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        names.extend(e.name for e in page)
        token = page.token
        if not token:
            return names


def search_runs(client: MlflowClient, experiment_id: str, run_filter: str) -> list[Run]:
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


def artifact_listing(client: MlflowClient, run_id: str, *, limit: int = 60) -> list[str]:
    """The run's artifact paths, breadth first (folders end with ``/``), at most ``limit``."""
    out: list[str] = []
    queue: list[str | None] = [None]
    while queue and len(out) < limit:
        for info in client.list_artifacts(run_id, queue.pop(0)):
            out.append(f"{info.path}/" if info.is_dir else info.path)
            if info.is_dir:
                queue.append(info.path)
    return out[:limit]


def has_artifact(client: MlflowClient, run_id: str, path: str) -> bool:
    from mlflow.exceptions import MlflowException

    parent = str(PurePosixPath(path).parent)
    try:
        listing = client.list_artifacts(run_id, None if parent == "." else parent)
    except (MlflowException, OSError):
        return False
    return any(info.path == path for info in listing)


def download(client: MlflowClient, run: Run, artifact: str, dst: Path, *, shown: str) -> Path:
    run_id = run.info.run_id
    path = PurePosixPath(artifact).as_posix()
    if not has_artifact(client, run_id, path):
        have = artifact_listing(client, run_id)
        files = [p for p in have if not p.endswith("/")]
        raise InputError(
            f"run `{shown}` (run id {run_id}) has no artifact `{path}`"
            f"{did_you_mean(path, files)} (its artifacts: {', '.join(have) or 'none'}); "
            "log the predictions with mlflow.log_artifact, or name the file with "
            "predictions_artifact"
        )
    dst.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(run_id, path, str(dst)))


def model_source(client: MlflowClient, run: Run, model_path: str | None
                 ) -> tuple[str, str | None]:
    """``(source, logged model id)`` of what to register for ``run``."""
    from mlflow.exceptions import MlflowException

    root = run.info.artifact_uri.rstrip("/")
    run_id = run.info.run_id
    if model_path is not None:
        if model_path.startswith("models:/"):
            rest = model_path.removeprefix("models:/")
            if not LOGGED_MODEL_ID.match(rest):
                return model_path, None  # a registered model's version: the registry resolves
            try:
                return logged_source(client.get_logged_model(rest))
            except MlflowException as exc:
                raise InputError(f"model_path `{model_path}`: no such logged model in the "
                                 f"store ({exc.message})") from exc
        path = model_path.strip("/")
        if not has_artifact(client, run_id, path):
            have = artifact_listing(client, run_id)
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
        return logged_source(logged[0])
    # MLflow 2 style: a folder of run artifacts with an MLmodel file in it.
    folders = [info.path for info in client.list_artifacts(run_id) if info.is_dir]
    with_mlmodel = [f for f in folders if has_artifact(client, run_id, f"{f}/MLmodel")]
    if len(with_mlmodel) > 1:
        raise InputError(f"run {run_id} has {len(with_mlmodel)} model folders "
                         f"({', '.join(with_mlmodel)}); pass model_path naming one")
    if with_mlmodel:
        return f"{root}/{with_mlmodel[0]}", None
    # No model at all (predictions made elsewhere): the version points at the run's
    # artifacts, which is what a deployment job would look up.
    return root, None


def logged_source(model: LoggedModel) -> tuple[str, str | None]:
    # The version points at the logged model's artifacts rather than at `models:/<id>`: a
    # local store resolves that URI through MLflow's *global* tracking URI, not this
    # client's, so it would look in (or create) ./mlflow.db instead of the store given.
    return model.artifact_location, model.model_id


def register_model(client: MlflowClient, name: str, run: Run, source: tuple[str, str | None], *,
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
