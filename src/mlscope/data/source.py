"""Open the evaluation data named by a charter as one canonical DuckDB view, and check it.

The canonical view ``ev`` has one row per evaluated example and these columns:

``__id``, ``__split`` (VARCHAR), ``__label`` (0/1 for binary, DOUBLE for regression,
VARCHAR for multiclass, absent for ``errors``), ``__w`` (DOUBLE weight, 1 when the charter
names none), one ``__c{i}`` VARCHAR per slice column, one ``__p{i}`` BOOLEAN per named
predicate, and per model ``__s{m}`` (a score) or ``__s{m}_{k}`` (class ``k``'s probability)
and ``__e{e}_{m}`` for each user error column.

Every check a user's data can fail is made here, once, in a few aggregate queries, and
raised as an :class:`~mlscope.errors.InputError` naming the file, the column, a value and
the fix. The user's files are only ever read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import numpy.typing as npt

from mlscope.charter.predicate import check_where, shown
from mlscope.charter.schema import Charter
from mlscope.data.checks import (
    binary_label_sql,
    check_covered,
    check_rows,
    check_splits,
    check_time,
    check_unique,
    qi,
    ql,
    sniff_file,
)
from mlscope.data.checks import first_line as _first_line
from mlscope.data.columns import check_distinct_names
from mlscope.data.csv_types import csv_reader_sql
from mlscope.data.numeric import numeric_sql
from mlscope.data.table import EvalTable
from mlscope.errors import InputError, did_you_mean
from mlscope.paths import project_file
from mlscope.sql import connect, harden, lock, seal

if TYPE_CHECKING:
    # pandas costs ~0.2 s to import; only baselines need a DataFrame, so it is imported
    # where one is made (`attach_baselines`; `base_frame`'s fetchdf imports it itself).
    import pandas as pd

__all__ = [
    "DUCKDB_SUFFIXES",
    "EvalTable",
    "attach_baselines",
    "base_frame",
    "check_splits",
    "file_columns",
    "file_fingerprint",
    "open_evaluation",
    "qi",
    "ql",
    "read_file",
    "read_table",
]


class _Source:
    """A user's file or table registered as a DuckDB view, with its columns."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, label: str, sql: str) -> None:
        self.name = name
        self.label = label
        try:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {qi(name)} AS {sql}")
            desc = con.execute(f"DESCRIBE {qi(name)}").fetchall()
        except duckdb.Error as exc:
            raise InputError(f"cannot read {label}: {_first_line(exc)}") from None
        self.columns = [str(r[0]) for r in desc]
        self.types = {str(r[0]): str(r[1]) for r in desc}

    def need(self, column: str | None, role: str) -> str:
        if column is None:
            raise InputError(f"{self.label}: no column given for the {role}")
        if column not in self.columns:
            shown = ", ".join(self.columns[:12]) + (", …" if len(self.columns) > 12 else "")
            raise InputError(
                f"column `{column}` ({role}) is not in {self.label}"
                f"{did_you_mean(column, self.columns)} (columns: {shown})"
            )
        return f"{qi(self.name)}.{qi(column)}"


def _reader_sql(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    p = ql(str(path))
    if suffix in (".parquet", ".pq"):
        sniff_file(path, "parquet")
        return f"SELECT * FROM read_parquet({p})"
    if suffix in (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt"):
        sniff_file(path, "csv")
        try:
            return csv_reader_sql(con, path)  # yes/no kept as words, not booleans
        except duckdb.Error as exc:
            raise InputError(f"cannot read {path.name}: {_first_line(exc)}") from None
    raise InputError(
        f"cannot read {path.name}: unknown file type `{path.suffix}`; "
        "use a Parquet (.parquet) or CSV (.csv) file, or a DuckDB table (data.duckdb)"
    )


def _read_sealed(path: Path, what: str,
                 run: Callable[[duckdb.DuckDBPyConnection, str], Any]) -> Any:
    """``run(connection, reader SQL)`` on a sealed connection that may read only ``path``.
    A missing or unreadable file is an :class:`InputError` naming it."""
    if not path.exists():
        # A charter's data paths are relative to it; a log named on the command line is not.
        where = " (paths are relative to the charter)" if what == "data" else ""
        raise InputError(f"{what} file not found: {path}{where}")
    if not path.is_file():
        raise InputError(f"{what}: {path} is not a file")
    con = connect()
    try:
        seal(con, [path])
        sql = _reader_sql(con, path)
        check_distinct_names(con, path, [str(r[0]) for r in
                                         con.execute(f"DESCRIBE {sql}").fetchall()])
        return run(con, sql)
    except duckdb.Error as exc:
        raise InputError(f"cannot read {path.name}: {_first_line(exc)}") from None
    finally:
        con.close()


def file_columns(path: Path) -> list[str]:
    """The column names of a Parquet or CSV file (read on a sealed connection that may read
    only this file).

    Raises
    ------
    InputError
        The file is missing, of an unknown kind, or unreadable.
    """
    # fetchall, not a DataFrame: pandas is imported only where a frame is needed.
    rows = _read_sealed(path, "data", lambda con, sql: con.execute(f"DESCRIBE {sql}").fetchall())
    return [str(r[0]) for r in rows]


def read_file(path: Path, what: str = "data") -> pd.DataFrame:
    """A whole Parquet or CSV file as a DataFrame, read on a sealed connection that may read
    only this file (a production log for ``mlscope monitor``, an annotations file). No SQL
    of the user's runs.

    Raises
    ------
    InputError
        The file is missing, of an unknown kind, or unreadable.
    """
    frame: pd.DataFrame = _read_sealed(path, what, lambda con, sql: con.execute(sql).fetchdf())
    return frame


# A file with one of these suffixes is a DuckDB database: a log read from one names its table.
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")


def read_table(database: Path, table: str, what: str = "data") -> pd.DataFrame:
    """One whole table of a DuckDB database file (a production log kept in a warehouse
    file), attached read-only on a sealed connection that may read only that file.

    Raises
    ------
    InputError
        The database is missing or not a DuckDB file, or has no such table (with the
        tables it has).
    """
    if not database.is_file():
        raise InputError(f"{what}: DuckDB database not found: {database}")
    con = connect()
    try:
        try:
            con.execute(f"ATTACH {ql(str(database))} AS userdb (READ_ONLY)")
        except duckdb.Error as exc:
            raise InputError(f"cannot open {database.name} as a DuckDB database: "
                             f"{_first_line(exc)}") from None
        seal(con, [database])
        tables = [str(r[0]) for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'userdb' "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'userdb'"
        ).fetchall()]
        if table not in tables:
            raise InputError(f"{what}: table `{table}` is not in {database.name}"
                             f"{did_you_mean(table, tables)} (tables: "
                             f"{', '.join(sorted(tables)) or 'none'})")
        frame: pd.DataFrame = con.execute(f"SELECT * FROM userdb.{qi(table)}").fetchdf()
        return frame
    except duckdb.Error as exc:
        raise InputError(f"cannot read `{table}` from {database.name}: "
                         f"{_first_line(exc)}") from None
    finally:
        con.close()


def _file_source(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> _Source:
    if not path.exists():
        raise InputError(f"data file not found: {path} (paths are relative to the charter)")
    src = _Source(con, name, path.name, _reader_sql(con, path))
    check_distinct_names(con, path, src.columns)
    return src


def file_fingerprint(path: Path) -> dict[str, Any]:
    """The identity of an input file as the result records it: path, size, sampled SHA-256."""
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        # Content hash of the first and last MiB plus the size: cheap on large files and
        # still changes when the data does (a full hash of 10 GB would dominate the run).
        h.update(fh.read(1 << 20))
        if st.st_size > 2 << 20:
            fh.seek(-(1 << 20), 2)
            h.update(fh.read(1 << 20))
    h.update(str(st.st_size).encode())
    return {"path": str(path), "bytes": st.st_size, "sha256_sampled": h.hexdigest()[:16]}


def open_evaluation(
    charter: Charter, base_dir: Path, con: duckdb.DuckDBPyConnection | None = None
) -> EvalTable:
    """Register the charter's data as the canonical view ``ev`` and check it.

    Parameters
    ----------
    charter
        A validated charter.
    base_dir
        Directory that relative data paths are resolved against (the charter's folder).
    con
        DuckDB connection to use; a new in-memory one by default. Either way it is
        hardened and then sealed (:func:`mlscope.sql.seal`): once the charter's files are
        registered, no other file can be read or written on it and its settings are locked.

    Raises
    ------
    InputError
        For any problem with the data: a missing file or column, bad labels or scores,
        or a ``slices.where`` predicate that is not an allowed condition (checked before
        any SQL runs).
    """
    checked = check_where(charter.slices.where)
    con = connect() if con is None else harden(con)
    files: list[Path] = []  # every file the views read; the only ones left readable
    d = charter.data
    task = charter.task
    sources: list[dict[str, Any]] = []

    def path_of(p: str, what: str = "data") -> Path:
        # Only files inside the project: a charter must not read the runner's secrets.
        return project_file(base_dir, p, what=what)

    select: dict[str, str] = {}
    joins: list[str] = []
    models: list[str] = []
    classes: list[str] = [str(c) for c in d.classes] if d.classes else []
    errors = list(d.errors)
    model_files: dict[str, str] = {}  # model -> its predictions file, for messages
    narrow: dict[str, str] = {}  # score column of `ev` -> FLOAT where the file holds FLOAT

    # --- the base table: where ids, labels, splits, weights and slices come from --------
    if d.table is not None or d.duckdb is not None:
        if d.table is not None:
            tpath = path_of(d.table, "data.table")
            base = _file_source(con, "src", tpath)
            files.append(tpath)
            sources.append(file_fingerprint(tpath))
        else:
            assert d.duckdb is not None
            db = path_of(d.duckdb.database, "data.duckdb.database")
            if not db.exists():
                raise InputError(f"DuckDB database not found: {db}")
            files.append(db)
            try:
                con.execute(f"ATTACH {ql(str(db))} AS userdb (READ_ONLY)")
            except duckdb.Error as exc:
                raise InputError(f"cannot open DuckDB database {db}: {_first_line(exc)}") from None
            tables = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'userdb'"
            ).fetchall()]
            if d.duckdb.table not in tables:
                raise InputError(
                    f"table `{d.duckdb.table}` is not in {db.name}"
                    f"{did_you_mean(d.duckdb.table, tables)} (tables: {', '.join(tables)})"
                )
            base = _Source(
                con, "src", f"{db.name}:{d.duckdb.table}",
                f"SELECT * FROM userdb.{qi(d.duckdb.table)}",
            )
            sources.append(file_fingerprint(db) | {"table": d.duckdb.table})
    else:
        assert d.labels is not None
        assert d.predictions is not None
        lpath = path_of(d.labels, "data.labels")
        base = _file_source(con, "src", lpath)
        files.append(lpath)
        sources.append(file_fingerprint(lpath))

    src = "src"
    long_mode = d.long is not None
    if long_mode:
        assert d.long is not None
        mcol = base.need(d.long.model_column, "model column")
        idc = base.need(d.id, "row id (needed for a long table)")
        models = [str(r[0]) for r in con.execute(
            f"SELECT DISTINCT CAST({mcol} AS VARCHAR) FROM src WHERE {mcol} IS NOT NULL ORDER BY 1"
        ).fetchall()]
        if not models:
            raise InputError(f"{base.label}: the model column `{d.long.model_column}` is empty")
        dup = con.execute(
            f"SELECT CAST({idc} AS VARCHAR), CAST({mcol} AS VARCHAR), count(*) FROM src "
            f"GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        if dup:
            raise InputError(
                f"{base.label}: row id {dup[0][0]!r} appears {dup[0][2]} times for model "
                f"{dup[0][1]!r}; a long table needs one row per (`{d.id}`, "
                f"`{d.long.model_column}`). Remove the duplicates or fix the id column"
            )
        # One row per id; the per-model columns are joined back below.
        src = "base_rows"
        con.execute(
            "CREATE OR REPLACE TEMP VIEW base_rows AS "
            f"SELECT * EXCLUDE ({qi(d.long.model_column)}) "
            f"FROM src QUALIFY row_number() OVER (PARTITION BY {qi(d.id or '')} "
            f"ORDER BY {qi(d.long.model_column)}) = 1"
        )

    def col(c: str | None, role: str) -> str:
        expr = base.need(c, role)
        return expr.replace(f"{qi('src')}.", f"{qi(src)}.", 1) if src != "src" else expr

    if d.id is not None:
        select["__id"] = f"CAST({col(d.id, 'row id')} AS VARCHAR)"
        if not long_mode and d.predictions is None:
            # Ids name rows in messages and join baselines' predictions back: a repeated
            # id would silently count a row twice. (Long tables check (id, model) above;
            # labels + predictions check each file below.)
            check_unique(con, "src", col(d.id, "row id"), base.label, d.id,
                         "to name each row and join baselines' predictions to it")
    else:
        select["__id"] = "CAST(row_number() OVER () AS VARCHAR)"
    select["__split"] = (
        f"CAST({col(d.split, 'split')} AS VARCHAR)" if d.split else ql(charter.splits.selection)
    )
    select["__w"] = f"CAST({col(d.weight, 'weight')} AS DOUBLE)" if d.weight else "1.0::DOUBLE"
    if d.time is not None:
        # Not in `ev`: the stability stage reads it from the base rows (`base_sql`).
        check_time(con, src, col(d.time, "time, `data.time`"), base.types[d.time], base.label,
                   d.time, col(d.id, "row id") if d.id is not None else None)

    if task != "errors":
        lab = col(d.label, "label")
        if task == "binary":
            select["__label"] = binary_label_sql(
                con, base.label, lab, d.positive, src, select["__id"])
        elif task == "regression":
            select["__label"] = numeric_sql(
                con, qi(src), qi(src), d.label or "", base.types.get(d.label or "", ""),
                file_label=base.label, role="label", id_expr=d.id and col(d.id, "row id"))
        else:
            select["__label"] = f"CAST({lab} AS VARCHAR)"

    slice_cols = list(dict.fromkeys(
        list(charter.slices.columns) + [c for cross in charter.slices.crosses for c in cross]
    ))
    for i, c in enumerate(slice_cols):
        select[f"__c{i}"] = f"coalesce(CAST({col(c, 'slice')} AS VARCHAR), '(missing)')"

    # --- model scores ---------------------------------------------------------------------
    def score_exprs(m: int, ref: str, spec: str | dict[str, str], where_label: str,
                    types: dict[str, str], file_label: str) -> None:
        nonlocal classes

        def score(alias: str, column: str) -> None:
            view = qi("src") if long_mode else ref  # a long table's alias is a join's
            select[alias] = numeric_sql(con, view, ref, column, types.get(column, ""),
                                        file_label=file_label, role=f"scores of {where_label}",
                                        id_expr=None)
            if types.get(column, "").upper() == "FLOAT":
                narrow[alias] = "FLOAT"  # float32 values: exact as FLOAT, half the bytes

        if task == "multiclass":
            if not isinstance(spec, dict):
                raise InputError(
                    f"{where_label}: a multiclass model needs one probability column per class "
                    "(a mapping class: column)"
                )
            if not classes:
                classes = [str(k) for k in spec]
            if [str(k) for k in spec] != classes and set(map(str, spec)) != set(classes):
                raise InputError(
                    f"{where_label}: classes {sorted(map(str, spec))} differ from "
                    f"{sorted(classes)}; every model must score the same classes"
                )
            by_cls = {str(k): v for k, v in spec.items()}
            for k, cls in enumerate(classes):
                score(f"__s{m}_{k}", by_cls[cls])
        else:
            if isinstance(spec, dict):
                raise InputError(
                    f"{where_label}: a {task} model takes one score column, got a mapping"
                )
            # Scores are kept as given, logits included: mapping logits to probabilities
            # in float64 turns distinct large logits into ties (40 and 41 both give 1.0)
            # and changes every ranking metric. The metrics apply the link themselves
            # (`EvalTable.score_type_of`, mlscope.metrics.links).
            score(f"__s{m}", spec)

    if task != "errors":
        if d.models is not None:
            models = list(d.models)
            for m, name in enumerate(models):
                spec = d.models[name]
                for c in ([spec] if isinstance(spec, str) else list(spec.values())):
                    base.need(c, f"scores of model `{name}`")
                score_exprs(m, qi(src), spec, f"model `{name}`", base.types, base.label)
        elif long_mode:
            assert d.long is not None
            lspec: str | dict[str, str] = (
                (d.long.classes or {}) if task == "multiclass" else (d.long.score or ""))
            for c in ([lspec] if isinstance(lspec, str) else list(lspec.values())):
                base.need(c, "scores")
            for m, name in enumerate(models):
                alias = f"lm{m}"
                joins.append(
                    f"LEFT JOIN (SELECT * FROM src WHERE CAST({qi(d.long.model_column)} AS VARCHAR)"
                    f" = {ql(name)}) {alias}"
                    f" ON {alias}.{qi(d.id or '')} = {qi(src)}.{qi(d.id or '')}"
                )
                score_exprs(m, alias, lspec, f"model `{name}`", base.types, base.label)
        elif d.predictions is not None:
            models = list(d.predictions)
            idc = col(d.id, "row id (needed to join predictions)")
            why = "to join labels and predictions"
            check_unique(con, "src", idc, base.label, d.id or "", why)
            for m, (name, pf) in enumerate(d.predictions.items()):
                alias = f"pred{m}"
                ppath = path_of(pf.path, f"data.predictions.{name}")
                ps = _file_source(con, alias, ppath)
                files.append(ppath)
                sources.append(file_fingerprint(ppath) | {"model": name})
                pid = ps.need(d.id, "row id")
                check_unique(con, alias, pid, ps.label, d.id or "", why)
                check_covered(con, "src", idc, alias, pid, ps.label, name, base.label)
                model_files[name] = ps.label
                pspec: str | dict[str, str] = (pf.classes or {}) if task == "multiclass" else (
                    pf.score or "")
                for c in ([pspec] if isinstance(pspec, str) else list(pspec.values())):
                    ps.need(c, f"scores of model `{name}`")
                joins.append(f"LEFT JOIN {qi(alias)} ON {pid} = {idc}")
                score_exprs(m, qi(alias), pspec, f"model `{name}`", ps.types, ps.label)

    # --- user error columns ----------------------------------------------------------------
    for e, ename in enumerate(errors):
        espec = d.errors[ename]
        if isinstance(espec, dict):
            if not models:
                models = list(espec)
            missing = [m for m in models if m not in espec]
            if missing:
                raise InputError(
                    f"data.errors.{ename}: no column for model(s) {', '.join(missing)}"
                )
            for m, name in enumerate(models):
                select[f"__e{e}_{m}"] = f"CAST({col(espec[name], f'error {ename}')} AS DOUBLE)"
        else:
            if not long_mode:
                raise InputError(
                    f"data.errors.{ename}: give a mapping model: column (wide data); a single "
                    "column name is only meaningful for a long table"
                )
            base.need(espec, f"error {ename}")
            for m in range(len(models)):
                select[f"__e{e}_{m}"] = f"CAST(lm{m}.{qi(espec)} AS DOUBLE)"

    # Every file is registered: from here on nothing else can be read, written or loaded.
    # The configuration is locked once the data checks below have run (they switch
    # DuckDB's statistics-based optimizers off and on).
    seal(con, files, locked=False)

    # --- named predicates ------------------------------------------------------------------
    # What runs is the checked predicate as mlscope rendered it, never the charter's text.
    where = dict(charter.slices.where)
    for i, (wname, pred) in enumerate(checked.items()):
        try:
            con.execute(f"SELECT count(*) FILTER (WHERE ({pred.duckdb})) "
                        "FROM (SELECT * FROM src LIMIT 0)")
        except duckdb.Error as exc:
            raise InputError(
                f"slice `{wname}`: the predicate {shown(pred.text)} does not work on "
                f"{base.label}: {_first_line(exc)}. Write an SQL condition over its columns, "
                f"e.g. \"balance > 1500\""
            ) from None
        select[f"__p{i}"] = f"{qi(src)}.__mlscope_where{i}"

    # Predicates are evaluated inside the base relation (re-aliased under its own name) so
    # that their unqualified column names cannot clash with the joined prediction tables.
    preds = "".join(
        f", coalesce(({pred.duckdb}), false) AS __mlscope_where{i}"
        for i, pred in enumerate(checked.values())
    )
    body = ", ".join(f"{expr} AS {qi(alias)}" for alias, expr in select.items())
    sql = f"SELECT {body} FROM (SELECT *{preds} FROM {qi(src)}) AS {qi(src)} " + " ".join(joins)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW ev AS {sql}")
    except duckdb.Error as exc:
        raise InputError(f"cannot build the evaluation view: {_first_line(exc)}") from None

    base_parts = [f"{select['__id']} AS __id", f"{select['__split']} AS __split"]
    if "__label" in select:
        base_parts.append(f"{select['__label']} AS __label")
    base_sql = (f"SELECT {', '.join(base_parts)}, {qi(src)}.* "
                f"FROM (SELECT * FROM {qi(src)}) AS {qi(src)}")
    table = EvalTable(
        con=con, task=task, models=models, classes=classes, slice_columns=slice_cols,
        where=where, errors=errors, has_weight=d.weight is not None, splits=[], n_rows=0,
        sources=sources, base_sql=base_sql, base_label=base.label,
        base_columns=[c for c in base.columns if not c.startswith("__mlscope")],
        base_types=dict(base.types), view_sql=sql,
        kinds={m: "candidate" for m in models},
        score_type=charter.data.score_type if task == "binary" else "probability",
        narrow=narrow,
    )
    check_rows(table, charter, base.label, model_files)
    lock(con)
    return table


def base_frame(t: EvalTable, columns: Sequence[str] | None, *, role: str) -> pd.DataFrame:
    """The user's rows as a DataFrame: ``__id``, ``__split``, ``__label`` and ``columns``.

    ``columns`` None means every column of the base table. ``role`` names who needs the
    columns, for the error when one is missing.
    """
    if columns is not None:
        for c in columns:
            if c not in t.base_columns:
                shown = ", ".join(t.base_columns[:12]) + (", …" if len(t.base_columns) > 12
                                                           else "")
                raise InputError(
                    f"{role}: column `{c}` is not in {t.base_label}"
                    f"{did_you_mean(c, t.base_columns)} (columns: {shown})"
                )
        keep = ["__id", "__split"] + (["__label"] if t.task != "errors" else []) + [
            c for c in columns if c not in ("__id", "__split", "__label")]
        sql = f"SELECT {', '.join(qi(c) for c in keep)} FROM ({t.base_sql})"
    else:
        sql = t.base_sql
    try:
        return t.con.execute(sql).fetchdf()
    except duckdb.Error as exc:
        raise InputError(f"cannot read {t.base_label} for {role}: {_first_line(exc)}") from None


def attach_baselines(
    t: EvalTable, ids: npt.NDArray[Any], predictions: dict[str, npt.NDArray[np.float64]],
    kinds: dict[str, str],
) -> None:
    """Add baseline predictions to ``ev`` as more models, joined on the row id.

    ``predictions`` maps a baseline name to its predictions for the rows ``ids`` (binary,
    regression: ``(n,)``; multiclass: ``(n, K)`` in the order of ``t.classes``).
    """
    if not predictions:
        return
    frame: dict[str, Any] = {"__id": np.asarray(ids).astype(str)}
    m0 = len(t.models)
    for j, pred in enumerate(predictions.values()):
        m = m0 + j
        if t.task == "multiclass":
            for k in range(len(t.classes)):
                frame[t.score_col(m, k)] = np.asarray(pred[:, k], dtype=np.float64)
        else:
            frame[t.score_col(m)] = np.asarray(pred, dtype=np.float64)
    import pandas as pd

    df = pd.DataFrame(frame)
    t.con.register("__baseline_scores_df", df)
    t.con.execute("CREATE OR REPLACE TEMP TABLE __baseline_scores AS "
                  "SELECT * FROM __baseline_scores_df")
    t.con.unregister("__baseline_scores_df")
    cols = ", ".join(f"b.{qi(c)}" for c in frame if c != "__id")
    t.con.execute(f"CREATE OR REPLACE TEMP VIEW ev_core AS {t.view_sql}")
    t.con.execute(
        f"CREATE OR REPLACE TEMP VIEW ev AS SELECT c.*, {cols} FROM ev_core c "
        "LEFT JOIN __baseline_scores b ON c.__id = b.__id"
    )
    t.models.extend(predictions)
    t.kinds.update(kinds)
