"""``mlscope validate``'s data checks: open the charter's data and report every problem
at once, each at the charter key it concerns, with the fix.

Two passes. First every file the charter names is opened and every column it names is
looked for, all of them, so that a misspelt label, id, split, slice and score column are
reported together (a run stops at the first). Then, when every file and column is there,
the data are opened as a run opens them and the values checked (labels against
``data.positive``, splits, scores); that pass stops at its first problem, which is
reported at its key when the check names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlscope.charter.schema import Charter
from mlscope.data.source import file_columns, open_evaluation
from mlscope.data.table import EvalTable
from mlscope.errors import InputError, did_you_mean
from mlscope.paths import project_file

__all__ = ["DataProblem", "inspect_data"]


@dataclass
class DataProblem:
    """One problem with the data: the charter key it concerns (``data.label``,
    ``slices.columns[1]``; None when no key is to blame), what is wrong and the fix."""

    key: tuple[str | int, ...] | None
    message: str
    fix: str | None = None


Need = tuple[tuple[str | int, ...], str, str]  # (charter key, the column, its role)


def _needs_of_table(ch: Charter) -> list[Need]:
    """The columns the base table must hold (table, or labels file)."""
    d = ch.data
    out: list[Need] = []
    for key, column, role in (("id", d.id, "row id"), ("label", d.label, "label"),
                              ("split", d.split, "split"), ("weight", d.weight, "weight"),
                              ("time", d.time, "time")):
        if column is not None:
            out.append((("data", key), column, role))
    for i, col in enumerate(ch.slices.columns):
        out.append((("slices", "columns", i), col, "slice"))
    for i, cross in enumerate(ch.slices.crosses):
        for j, col in enumerate(cross):
            out.append((("slices", "crosses", i, j), col, "slice"))
    for name, ecol in (d.errors or {}).items():
        ecols = list(ecol.values()) if isinstance(ecol, dict) else [ecol]
        out.extend((("data", "errors", name), c, f"error column of {name}") for c in ecols)
    if d.table is not None:
        for model, mcol in (d.models or {}).items():
            if isinstance(mcol, dict):
                out.extend((("data", "models", model, cls), c, f"score of {model}, class {cls}")
                           for cls, c in mcol.items())
            else:
                out.append((("data", "models", model), mcol, f"score of {model}"))
    return out


def _columns(base_dir: Path, rel: str, key: tuple[str | int, ...],
             problems: list[DataProblem]) -> list[str] | None:
    try:
        path = project_file(base_dir, rel, what=".".join(map(str, key)))
        return file_columns(path)
    except InputError as exc:
        problems.append(DataProblem(key, str(exc), "point the key at a readable Parquet or "
                                    "CSV file (paths are relative to the charter)"))
        return None


def _missing(columns: list[str], needs: list[Need], file: str,
             problems: list[DataProblem]) -> None:
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    for key, column, role in needs:
        if column not in columns:
            problems.append(DataProblem(
                key, f"column `{column}` ({role}) is not in {file}"
                     f"{did_you_mean(column, columns)}",
                f"name one of its columns: {shown}"))


def _column_problems(ch: Charter, base_dir: Path) -> list[DataProblem]:
    d = ch.data
    problems: list[DataProblem] = []
    base_rel, base_key = ((d.table, ("data", "table")) if d.table is not None
                          else (d.labels, ("data", "labels")) if d.labels is not None
                          else (None, None))
    if base_rel is None or base_key is None:
        return problems  # a DuckDB table or long data: the run's own checks below
    cols = _columns(base_dir, base_rel, base_key, problems)
    if cols is not None:
        _missing(cols, _needs_of_table(ch), Path(base_rel).name, problems)
    for model, pf in (d.predictions or {}).items():
        key: tuple[str | int, ...] = ("data", "predictions", model, "path")
        pcols = _columns(base_dir, pf.path, key, problems)
        if pcols is None:
            continue
        needs: list[Need] = []
        if d.id is not None:
            needs.append((("data", "id"), d.id, f"row id in {model}'s predictions"))
        if pf.score is not None:
            needs.append((("data", "predictions", model, "score"), pf.score,
                          f"score of {model}"))
        for cls, col in (pf.classes or {}).items():
            needs.append((("data", "predictions", model, "classes", cls), col,
                          f"score of {model}, class {cls}"))
        _missing(pcols, needs, Path(pf.path).name, problems)
    return problems


def inspect_data(ch: Charter, base_dir: Path) -> tuple[list[DataProblem], EvalTable | None]:
    """Every problem with the charter's data (empty when there is none) and, when the data
    opened, the table (its rows, splits and models, for the summary; the caller closes
    its connection).

    Parameters
    ----------
    ch
        A valid charter.
    base_dir
        The charter's folder (data paths are relative to it).
    """
    problems = _column_problems(ch, base_dir)
    if problems:
        return problems, None
    try:
        table = open_evaluation(ch, base_dir)
    except InputError as exc:
        out = []
        for text in exc.parts or (str(exc),):
            message, _, fix = text.partition("\nfix: ")
            out.append(DataProblem(exc.key, message, fix or None))
        return out, None
    return [], table
