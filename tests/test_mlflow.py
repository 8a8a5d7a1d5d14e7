"""The MLflow round trip against a real local MLflow store (SQLite, no server, no network).

An experiment of three runs is logged from a seeded label table whose truth is known
(``gbdt`` separates the classes best, ``logistic-l2`` worst); the runs are imported as a
charter's predictions, evaluated, and the decision is written back and read with
``MlflowClient``. The store is built once per module and copied for each test that writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import mlscope
from mlscope.errors import InputError
from mlscope.integrations.mlflow import ImportedRuns, import_runs, write_decision
from mlscope.result import EvaluationResult

# MLflow decides whether to send usage telemetry when it is imported; a test must not.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402

pytestmark = [
    # MLflow 3.17's SQLite store still configures a SQLAlchemy loader that 2.1 deprecates.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]

N = 600
CLASSES = ["oak", "maple", "birch"]
# Run name, params, how well it separates the classes (logit shift per class), start time.
BINARY_RUNS = [
    ("logistic-l2", {"family": "linear", "C": "1.0"}, 0.3, 1_000),
    ("gbdt", {"family": "tree", "depth": "3"}, 1.2, 2_000),
    ("gbdt", {"family": "tree", "depth": "6"}, 0.8, 3_000),
]


@dataclass
class Store:
    """The template store: where it is and what was logged into it."""

    root: Path
    db: Path
    labels: Path
    multiclass_labels: Path
    run_ids: dict[str, str]  # "logistic-l2", "gbdt", "gbdt#2", "mc_a", "mc_b", ...

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.db}"


def _uri(db: Path) -> str:
    return f"sqlite:///{db}"


def _binary(rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": np.arange(10_000, 10_000 + N),
        "churned": rng.binomial(1, 0.3, size=N),
        "split": rng.choice(["validation", "test"], size=N),
    })


def _log_run(client: MlflowClient, exp: str, name: str, start: int, params: dict[str, str],
             files: dict[str, pd.DataFrame], tmp: Path) -> str:
    run = client.create_run(exp, run_name=name, start_time=start)
    rid = run.info.run_id
    for k, v in params.items():
        client.log_param(rid, k, v)
    for artifact, frame in files.items():
        local = tmp / rid / Path(artifact).name
        local.parent.mkdir(parents=True, exist_ok=True)
        if artifact.endswith(".csv"):
            frame.to_csv(local, index=False)
        else:
            frame.to_parquet(local, index=False)
        folder = str(Path(artifact).parent)
        client.log_artifact(rid, str(local), None if folder == "." else folder)
    client.set_terminated(rid)
    return rid


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("mlflow")
    db = root / "mlflow.db"
    db.touch()
    client = MlflowClient(tracking_uri=_uri(db))
    rng = np.random.default_rng(20240611)
    staging = root / "staging"
    ids: dict[str, str] = {}

    # Binary: three runs logging predictions.parquet; the first gbdt also logs a model
    # folder (an MLmodel file), which is what registration should point at.
    labels = _binary(rng)
    labels_path = root / "labels.parquet"
    labels.to_parquet(labels_path, index=False)
    exp = client.create_experiment("churn-models", artifact_location=str(root / "artifacts"))
    y = labels["churned"].to_numpy() * 2 - 1
    for name, params, strength, start in BINARY_RUNS:
        logit = strength * y + rng.normal(size=N)
        preds = pd.DataFrame({"customer_id": labels["customer_id"],
                              "score": 1 / (1 + np.exp(-logit))}).sample(frac=1, random_state=1)
        rid = _log_run(client, exp, name, start, params, {"predictions.parquet": preds}, staging)
        client.log_metric(rid, "train_auc", 0.5 + strength / 3)
        key = name if name not in ids else f"{name}#2"
        ids[key] = rid
    mlmodel = staging / "model" / "MLmodel"
    mlmodel.parent.mkdir(parents=True)
    mlmodel.write_text("flavors: {}\n", encoding="utf-8")
    client.log_artifacts(ids["gbdt"], str(mlmodel.parent), "model")

    # Multiclass: runs logging a CSV in a folder, one probability column per class.
    y3 = rng.choice(len(CLASSES), size=N, p=[0.5, 0.3, 0.2])
    mc_labels = pd.DataFrame({"id": np.arange(N), "species": np.array(CLASSES)[y3],
                              "split": rng.choice(["validation", "test"], size=N)})
    mc_path = root / "species.parquet"
    mc_labels.to_parquet(mc_path, index=False)
    mc = client.create_experiment("species", artifact_location=str(root / "species-artifacts"))
    for name, strength, start in [("mc_a", 2.5, 1_000), ("mc_b", 0.5, 2_000)]:
        logits = rng.normal(size=(N, 3))
        logits[np.arange(N), y3] += strength
        prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        frame = pd.DataFrame({"id": np.arange(N),
                              **{f"p_{c}": prob[:, i] for i, c in enumerate(CLASSES)}})
        ids[name] = _log_run(client, mc, name, start, {}, {"eval/preds.csv": frame}, staging)

    # One run with predictions, one without: an import must fail and write nothing.
    part = client.create_experiment("partial", artifact_location=str(root / "partial-art"))
    good = pd.DataFrame({"customer_id": labels["customer_id"], "score": 0.5})
    ids["ok"] = _log_run(client, part, "ok", 1_000, {}, {"predictions.parquet": good}, staging)
    ids["no_preds"] = _log_run(client, part, "no_preds", 2_000, {},
                               {"preds.parquet": good}, staging)
    return Store(root=root, db=db, labels=labels_path, multiclass_labels=mc_path, run_ids=ids)


@pytest.fixture
def store(template: Store, tmp_path: Path) -> str:
    """A private copy of the template store's database (artifacts stay shared, read-only)."""
    db = tmp_path / "mlflow.db"
    shutil.copyfile(template.db, db)
    return _uri(db)


def _charter(folder: Path, imported: ImportedRuns, labels: Path, **extra: Any) -> Path:
    # The labels live in the project, beside the imported predictions (a charter reads
    # only files inside its project).
    local = folder / labels.name
    if not local.exists():
        shutil.copyfile(labels, local)
    charter: dict[str, Any] = {
        "project": "churn",
        "task": "binary",
        "seed": 7,
        "data": {"labels": local.name, "id": imported.id_column, "label": "churned",
                 "split": "split",
                 "predictions": imported.charter_predictions(relative_to=folder)},
        "splits": {"selection": "validation", "report": "test", "train": None},
        "metrics": ["roc_auc", "average_precision", "brier"],
        "selection": {"rule": "satisficing", "optimize": "average_precision",
                      "constraints": {"roc_auc": ">= 0.75"}},
        "intervals": {"resamples": 40},
    }
    charter.update(extra)
    path = folder / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Evaluated:
    imported: ImportedRuns
    result: EvaluationResult


@pytest.fixture(scope="module")
def evaluated(template: Store, tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    """The binary experiment imported (read only) and evaluated once for the module."""
    folder = tmp_path_factory.mktemp("project")
    imported = import_runs(template.uri, experiment="churn-models", out_dir=folder / "preds",
                           id_column="customer_id")
    result = mlscope.evaluate(_charter(folder, imported, template.labels))
    return Evaluated(imported, result)


# -- import ------------------------------------------------------------------------------
def test_import_reads_runs_and_writes_parquet(template: Store, tmp_path: Path) -> None:
    imported = import_runs(template.uri, experiment="churn-models", out_dir=tmp_path / "p",
                           id_column="customer_id")
    # Oldest run first; names made identifiers and unique.
    assert imported.models == ["logistic_l2", "gbdt", "gbdt_2"]
    ids = template.run_ids
    assert [r.run_id for r in imported.runs.values()] == [ids["logistic-l2"], ids["gbdt"],
                                                          ids["gbdt#2"]]
    gbdt2 = imported.run("gbdt_2")
    assert gbdt2.run_name == "gbdt"
    assert gbdt2.params == {"family": "tree", "depth": "6"}
    assert gbdt2.metrics["train_auc"] == pytest.approx(0.5 + 0.8 / 3)
    assert gbdt2.status == "FINISHED"
    assert gbdt2.path == (tmp_path / "p" / "gbdt_2.parquet").resolve()
    frame = pd.read_parquet(gbdt2.path)
    assert list(frame.columns) == ["customer_id", "score"]
    assert len(frame) == N
    assert imported.charter_predictions(relative_to=tmp_path) == {
        m: {"path": f"p/{m}.parquet", "score": "score"} for m in imported.models}
    # The snippet is YAML a user can paste: the same mapping, plus the id and labels.
    snippet = imported.charter_snippet(relative_to=tmp_path, labels="labels.parquet",
                                       label="churned")
    assert ids["gbdt#2"] in snippet
    data = yaml.safe_load(snippet)["data"]
    assert data["labels"] == "labels.parquet"
    assert data["id"] == "customer_id"
    assert data["label"] == "churned"
    assert data["predictions"] == imported.charter_predictions(relative_to=tmp_path)
    assert "add `labels:`" in imported.charter_snippet()
    # A record a later command (`mlscope mlflow tag`) can read back.
    assert ImportedRuns.from_dict(json.loads(json.dumps(imported.to_dict()))) == imported


def test_import_with_a_run_filter(template: Store, tmp_path: Path) -> None:
    imported = import_runs(template.uri, experiment="churn-models", out_dir=tmp_path,
                           id_column="customer_id", run_filter="params.family = 'tree'")
    assert imported.models == ["gbdt", "gbdt_2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gbdt.parquet", "gbdt_2.parquet"]


def test_import_multiclass_csv_then_register_without_a_model(
        template: Store, store: str, tmp_path: Path) -> None:
    columns = {c: f"p_{c}" for c in CLASSES}
    imported = import_runs(template.uri, experiment="species", out_dir=tmp_path / "preds",
                           predictions_artifact="eval/preds.csv", class_columns=columns)
    assert imported.models == ["mc_a", "mc_b"]
    entry = imported.charter_predictions(relative_to=tmp_path)["mc_a"]
    assert entry == {"path": "preds/mc_a.parquet", "classes": columns}
    frame = pd.read_parquet(imported.run("mc_a").path)  # CSV converted to Parquet
    assert list(frame.columns) == ["id", *columns.values()]
    assert np.allclose(frame[list(columns.values())].sum(axis=1), 1.0)

    charter = _charter(tmp_path, imported, template.multiclass_labels,
                       project="species", task="multiclass",
                       metrics=["accuracy", "log_loss"],
                       selection={"rule": "satisficing", "optimize": "accuracy"})
    data = yaml.safe_load(charter.read_text(encoding="utf-8"))
    data["data"]["label"] = "species"
    charter.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = mlscope.evaluate(charter)
    assert result.winner == "mc_a"
    # A run with no model artifact: the version points at the run's artifact root.
    out = write_decision(store, result, imported, register="species", alias="prod")
    client = MlflowClient(tracking_uri=store)
    version = client.get_model_version_by_alias("species", "prod")
    run = client.get_run(template.run_ids["mc_a"])
    assert version.run_id == template.run_ids["mc_a"]
    assert version.source == run.info.artifact_uri == out["registered"]["source"]


# -- decision ----------------------------------------------------------------------------
def test_round_trip_tags_and_registers_the_winner(template: Store, store: str,
                                                  evaluated: Evaluated) -> None:
    result, imported = evaluated.result, evaluated.imported
    assert result.winner == "gbdt"
    out = write_decision(store, result, imported, register="churn-classifier")

    client = MlflowClient(tracking_uri=store)
    ids = template.run_ids
    win = client.get_run(ids["gbdt"]).data.tags
    assert win["mlscope.decision"] == "selected"
    assert win["mlscope.project"] == "churn"
    assert win["mlscope.rule"] == "satisficing"
    assert win["mlscope.metric"] == "average_precision"
    auc = result.value("average_precision", "gbdt")
    assert auc.value is not None
    assert float(win["mlscope.value"]) == pytest.approx(auc.value, rel=1e-5)
    assert win["mlscope.interval"].startswith("[")
    assert win["mlscope.interval"].endswith("95%")
    assert win["mlscope.selected_run"] == ids["gbdt"]
    assert "mlscope.reason" not in win
    assert result.selection is not None
    confidence = result.selection.confidence
    assert confidence is not None
    assert confidence.winner_share is not None
    assert float(win["mlscope.confidence"]) == pytest.approx(confidence.winner_share)

    weak = client.get_run(ids["logistic-l2"]).data.tags
    assert weak["mlscope.decision"] == "not_selected"
    assert "roc_auc" in weak["mlscope.reason"]  # dropped by the constraint, which is named
    second = client.get_run(ids["gbdt#2"]).data.tags
    assert second["mlscope.decision"] == "not_selected"
    assert second["mlscope.reason"].startswith("ranked 2 of 2 eligible")
    assert second["mlscope.selected"] == "gbdt"

    version = client.get_model_version_by_alias("churn-classifier", "champion")
    assert version.run_id == ids["gbdt"]
    assert version.source.endswith("/model")  # the run's MLmodel folder
    assert version.tags["mlscope.metric"] == "average_precision"
    assert out["selected"] == {"model": "gbdt", "run_id": ids["gbdt"]}
    assert out["registered"]["version"] == str(version.version)
    assert out["runs"]["gbdt_2"]["tags"] == {k: v for k, v in second.items()
                                             if k.startswith("mlscope.")}


def test_writing_again_reuses_the_version_and_drops_stale_tags(
        template: Store, store: str, evaluated: Evaluated) -> None:
    client = MlflowClient(tracking_uri=store)
    ids = template.run_ids
    client.set_tag(ids["gbdt"], "mlscope.reason", "left by an earlier decision")
    first = write_decision(store, evaluated.result, evaluated.imported, register="churn")
    again = write_decision(store, evaluated.result, evaluated.imported, register="churn")
    assert first["runs"]["gbdt"]["removed"] == ["mlscope.reason"]
    assert "mlscope.reason" not in client.get_run(ids["gbdt"]).data.tags
    assert first["registered"]["new_version"] is True
    assert again["registered"]["new_version"] is False
    assert again["registered"]["version"] == first["registered"]["version"]
    assert len(client.search_model_versions("name='churn'")) == 1


def test_registers_a_logged_model_and_honours_the_prefix(
        template: Store, store: str, evaluated: Evaluated, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow resolves `models:/<id>` through its global tracking URI, which would create an
    # mlflow.db in the working folder; registering must not touch it.
    monkeypatch.chdir(tmp_path)
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(template.run_ids["gbdt"])
    logged = client.create_logged_model(run.info.experiment_id,
                                        source_run_id=run.info.run_id, name="clf")
    out = write_decision(store, evaluated.result, evaluated.imported, tag_prefix="eval",
                         register="churn", alias="challenger")
    assert out["registered"]["source"] == logged.artifact_location
    assert out["registered"]["model_id"] == logged.model_id
    version = client.get_model_version_by_alias("churn", "challenger")
    assert version.run_id == run.info.run_id
    assert version.source == logged.artifact_location
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["eval.decision"] == "selected"
    assert not any(k.startswith("mlscope.") for k in tags)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]  # the copied store


def test_no_winner_is_tagged_and_refuses_to_register(
        template: Store, store: str, tmp_path: Path) -> None:
    imported = import_runs(template.uri, experiment="churn-models", out_dir=tmp_path / "p",
                           id_column="customer_id")
    result = mlscope.evaluate(_charter(
        tmp_path, imported, template.labels, intervals={"resamples": 0},
        selection={"rule": "satisficing", "optimize": "average_precision",
                   "constraints": {"roc_auc": ">= 0.999"}}))
    assert result.winner is None
    client = MlflowClient(tracking_uri=store)
    with pytest.raises(InputError, match=r"selected no model .*; nothing was written"):
        write_decision(store, result, imported, register="churn")
    assert "mlscope.decision" not in client.get_run(template.run_ids["gbdt"]).data.tags
    out = write_decision(store, result, imported)
    assert out["selected"] is None
    assert out["registered"] is None
    tags = client.get_run(template.run_ids["gbdt"]).data.tags
    assert tags["mlscope.decision"] == "no_decision"
    assert "0.999" in tags["mlscope.reason"]


def test_decision_errors_before_writing(store: str, evaluated: Evaluated) -> None:
    with pytest.raises(InputError, match="alias 'latest' is reserved"):
        write_decision(store, evaluated.result, evaluated.imported, register="m",
                       alias="latest")
    with pytest.raises(InputError, match="not an artifact of run"):
        write_decision(store, evaluated.result, evaluated.imported, register="m",
                       model_path="modle")
    other = ImportedRuns(tracking_uri=store, experiment="x", experiment_id="9",
                         out_dir=Path("."), id_column="id", runs={})
    with pytest.raises(InputError, match="none of the imported models"):
        write_decision(store, evaluated.result, other)
    client = MlflowClient(tracking_uri=store)
    assert client.search_registered_models() == []
    run = evaluated.imported.run("gbdt")
    assert "mlscope.decision" not in client.get_run(run.run_id).data.tags


# -- import errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"experiment": "churn-model"},
                     r"experiment `churn-model` is not in .* did you mean `churn-models`\?",
                     id="unknown-experiment"),
        pytest.param({"predictions_artifact": "preds.parquet"},
                     r"run `logistic-l2` \(run id \w+\) has no artifact `preds.parquet`; "
                     r"did you mean `predictions.parquet`\? \(its artifacts: "
                     r"predictions.parquet\)", id="missing-artifact"),
        pytest.param({"id_column": "row_id"},
                     r"of run `logistic-l2` .* has no id column `row_id` .*"
                     r"\(columns: customer_id, score\)", id="missing-id-column"),
        pytest.param({"score_column": "scor"},
                     r"has no score column `scor`; did you mean `score`\?",
                     id="missing-score-column"),
        pytest.param({"class_columns": {"yes": "p_yes"}},
                     r"no probability column for class `yes` `p_yes`", id="missing-class"),
        pytest.param({"run_filter": "params.depth = 3"},
                     r"run_filter .* is not a valid MLflow search filter", id="bad-filter"),
        pytest.param({"run_filter": "params.family = 'svm'"},
                     r"experiment `churn-models` has no runs matching", id="no-runs"),
        pytest.param({"predictions_artifact": "predictions.json"},
                     r"must be Parquet or CSV", id="unknown-format"),
    ],
)
def test_import_errors(template: Store, tmp_path: Path, options: dict[str, Any],
                       message: str) -> None:
    kwargs: dict[str, Any] = {"experiment": "churn-models", "id_column": "customer_id",
                              **options}
    with pytest.raises(InputError, match=message):
        import_runs(template.uri, out_dir=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_a_run_without_predictions_writes_nothing(template: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"run `no_preds` .* did you mean `preds.parquet`"):
        import_runs(template.uri, experiment="partial", out_dir=tmp_path / "out",
                    id_column="customer_id")
    assert not (tmp_path / "out").exists()


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nope" / "mlflow.db"
    with pytest.raises(InputError, match="there is no MLflow database at"):
        import_runs(_uri(db), experiment="x", out_dir=tmp_path)
    assert not db.exists()


def test_without_mlflow_the_error_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, evaluated: Evaluated) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(InputError, match=r'pip install "mlscope\[mlflow\]"'):
        import_runs("sqlite:///x.db", experiment="x", out_dir=tmp_path)
    with pytest.raises(InputError, match=r'pip install "mlscope\[mlflow\]"'):
        write_decision("sqlite:///x.db", evaluated.result, evaluated.imported)


def test_importing_the_module_does_not_import_mlflow() -> None:
    code = "import sys, mlscope.integrations.mlflow; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_cli_import_then_tag(template: Store, store: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mlscope.cli import main

    preds = tmp_path / "preds"
    r = CliRunner().invoke(main, ["mlflow", "import", store, "--experiment", "churn-models",
                                  "--out-dir", str(preds), "--id-column", "customer_id",
                                  "--labels", str(template.labels), "--label", "churned"])
    assert r.exit_code == 0, r.output
    assert "Imported 3 run(s)" in r.output
    # The snippet names the labels' split column (found by name in the labels file).
    snippet = yaml.safe_load(r.output[r.output.index("#"):])["data"]
    assert snippet["split"] == "split"
    assert snippet["label"] == "churned"
    imported = ImportedRuns.from_dict(json.loads((preds / "mlflow-runs.json").read_text()))
    charter = _charter(tmp_path, imported, template.labels)
    r = CliRunner().invoke(main, ["mlflow", "tag", str(charter), "--runs",
                                  str(preds / "mlflow-runs.json"), "--tracking-uri", store,
                                  "--register", "churn-classifier"])
    assert r.exit_code == 0, r.output
    # A summary a person reads; --json for scripts.
    assert r.output.startswith("Selected: gbdt (run ")
    assert "Registered churn-classifier version" in r.output
    assert "@champion" in r.output
    assert "{" not in r.output
    r = CliRunner().invoke(main, ["mlflow", "tag", str(charter), "--runs",
                                  str(preds / "mlflow-runs.json"), "--tracking-uri", store,
                                  "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["selected"]["model"] == "gbdt"
    client = MlflowClient(tracking_uri=store)
    version = client.get_model_version_by_alias("churn-classifier", "champion")
    assert version.run_id == template.run_ids["gbdt"]
    r = CliRunner().invoke(main, ["mlflow", "import", store, "--experiment", "churn-modles",
                                  "--out-dir", str(tmp_path / "x")])
    assert r.exit_code == 2
    assert "churn-models" in r.output
