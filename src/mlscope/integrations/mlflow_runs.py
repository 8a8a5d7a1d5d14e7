"""What :func:`mlscope.integrations.mlflow.import_runs` returns: the runs of one MLflow
experiment imported as the candidate models of a charter."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from mlscope.errors import InputError, did_you_mean

__all__ = ["ImportedRun", "ImportedRuns"]


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
        split: str | None = None,
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
        split
            The labels file's split column, written when given (else a reminder).
        """
        data: dict[str, Any] = {}
        if labels is not None:
            data["labels"] = Path(labels).as_posix()
        data["id"] = self.id_column
        if label is not None:
            data["label"] = label
        if split is not None:
            data["split"] = split
        data["predictions"] = self.charter_predictions(relative_to=relative_to)
        head = [f"# {len(self.runs)} run(s) of MLflow experiment `{self.experiment}` "
                f"(id {self.experiment_id}) at {self.tracking_uri}"]
        head += [f"#   {m}: run {r.run_id} ({r.run_name})" for m, r in self.runs.items()]
        if labels is None or label is None:
            head.append("# add `labels:` (the file with ids, labels and splits) and `label:`")
        if split is None:
            head.append("# add `split:` (the labels' split column), or every row is "
                        "evaluated as one split")
        body = yaml.safe_dump({"data": data}, sort_keys=False, default_flow_style=False)
        return "\n".join(head) + "\n" + body


# -- import ------------------------------------------------------------------------------
