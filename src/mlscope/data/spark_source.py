"""Open the evaluation data named by a charter as one canonical Spark DataFrame, and check it.

The Spark counterpart of :mod:`mlscope.data.source`: the charter's ``data.table`` (a
Parquet or CSV path, a folder of Parquet files, a cluster URI such as ``s3a://…``, or a
table of the Spark catalog written ``spark:db.table``) becomes one DataFrame with the
canonical columns of the DuckDB view ``ev`` (``__id``, ``__split``, ``__label``, ``__w``,
``__c{i}``, ``__p{i}``, ``__s{m}``, ``__e{e}_{m}``) plus ``__row``, a row number in the
order Spark reads the rows. Nothing is collected: every row check is one aggregate query
whose answer (a few counts and one example id per check) is all that reaches the driver.

Only the wide layout is read this way: ``data.table`` with ``models`` (binary,
regression) and/or ``errors`` (a mapping model → column). Other layouts raise an
:class:`~mlscope.errors.InputError` saying what is supported.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from mlscope.charter.predicate import check_where, shown
from mlscope.charter.schema import Charter
from mlscope.data.checks import (
    check_splits,
    raise_row_problems,
    score_type_hint,
    sniff_file,
)
from mlscope.data.checks import first_line as _first_line
from mlscope.data.labels import AUTO_TRUE, FALSE_WORDS, TRUE_WORDS, binary_label_rule
from mlscope.data.source import EvalTable, file_fingerprint
from mlscope.errors import InputError, did_you_mean
from mlscope.paths import project_file
from mlscope.sql import connect, seal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "DEFAULT_MASTER",
    "SPARK_PREFIX",
    "SparkEvalTable",
    "get_session",
    "open_spark_evaluation",
    "sq",
    "sql_str",
]

SPARK_PREFIX = "spark:"
DEFAULT_MASTER = "local[2]"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
_T = TypeVar("_T")
# pyspark warns at start-up about pandas versions; mlscope never converts to pandas.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"
_SUPPORTED = (
    "engine spark reads the wide layout: `data.table` (a Parquet/CSV path or "
    "`spark:<db>.<table>`) with `models` (binary, regression) and/or `errors` "
    "(a mapping model: column)"
)


def sq(name: str) -> str:
    """Quote a Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def sql_str(value: str) -> str:
    """Quote a Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class SparkEvalTable(EvalTable):
    """An :class:`~mlscope.data.source.EvalTable` whose rows live in Spark.

    ``frame`` is the canonical DataFrame (the columns of the DuckDB view ``ev``, plus
    ``__row``); ``con`` is an empty DuckDB connection, kept only so that the type is an
    ``EvalTable``: nothing is registered in it. ``label_mean`` is the mean label of every
    row (regression), computed with the checks.
    """

    session: SparkSession | None = None
    frame: DataFrame | None = None
    label_mean: float = 0.0
    label: str = ""

    @property
    def df(self) -> DataFrame:
        """The canonical DataFrame."""
        assert self.frame is not None
        return self.frame

    @property
    def spark(self) -> SparkSession:
        """The Spark session the frame belongs to."""
        assert self.session is not None
        return self.session


def _empty_connection() -> duckdb.DuckDBPyConnection:
    """The placeholder DuckDB connection of a SparkEvalTable, hardened and sealed."""
    con = connect()
    seal(con, [])
    return con


def spark_errors() -> tuple[type[BaseException], ...]:
    """Exception types a Spark query on user data raises (analysis and execution)."""
    from pyspark.errors import PySparkException

    errs: list[type[BaseException]] = [PySparkException]
    try:
        from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]

        errs.append(Py4JJavaError)
    except ImportError:  # pragma: no cover - Spark Connect clients have no py4j
        pass
    return tuple(errs)


@contextmanager
def quiet_errors() -> Iterator[None]:
    """Keep pyspark from logging the errors mlscope turns into InputErrors itself.

    pyspark logs every query error with its stack (loggers ``SQLQueryContextLogger`` and
    ``DataFrameQueryContextLogger``) before raising it; the InputError says it better.
    """
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # pragma: no cover - pyspark < 4
        yield
        return
    loggers = [PySparkLogger.getLogger(n)
               for n in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was


def run_spark(fn: Callable[[], _T], what: str) -> _T:
    """Run a Spark action, turning a Spark error on the user's data into an InputError."""
    try:
        with quiet_errors():
            return fn()
    except spark_errors() as exc:
        raise InputError(f"{what}: {_first_line(exc)}") from None


def get_session(master: str | None = None) -> SparkSession:
    """The active Spark session, or a new one for ``master`` (default ``local[2]``).

    A new session is made for evaluation: few shuffle partitions (the aggregates are
    small), no UI, Arrow transfers, Spark logging off below FATAL. ``master`` may also be a
    Spark Connect address (``sc://host:15002``).

    Raises
    ------
    InputError
        When pyspark is not installed or Java cannot be found.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError(
            "engine spark needs pyspark: pip install \"mlscope[spark]\" (and Java 17+ for a "
            "local session)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder: Any = SparkSession.builder
    if master is not None and master.startswith("sc://"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PANDAS_WARNING, FutureWarning)
            return builder.remote(master).getOrCreate()  # type: ignore[no-any-return]
    if active is not None:
        return active
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise InputError(
            "engine spark with a local session needs Java 17+ (no `java` on PATH and "
            "JAVA_HOME is not set); install a JDK, or pass a session: "
            "mlscope.evaluate(..., engine=\"spark\", spark=<SparkSession>)"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _PANDAS_WARNING, FutureWarning)
        session: SparkSession = (
            builder.master(master or DEFAULT_MASTER)
            .appName("mlscope")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
    # Spark logs every failed query at ERROR; mlscope reports them as InputErrors itself.
    session.sparkContext.setLogLevel("FATAL")
    return session


def check_layout(charter: Charter) -> None:
    """Raise an InputError unless the charter's data layout can be read by Spark."""
    d = charter.data
    if charter.task == "multiclass":
        raise InputError(f"engine spark does not evaluate multiclass tasks yet; {_SUPPORTED}. "
                         "Use --engine duckdb (out of core) or numpy")
    if d.table is None:
        used = "`duckdb`" if d.duckdb is not None else "`labels` + `predictions`"
        raise InputError(f"engine spark cannot read data given as {used}; {_SUPPORTED}")
    if d.long is not None:
        raise InputError(f"engine spark cannot read a long table (`data.long`); {_SUPPORTED}")
    custom = [m.id for m in charter.metrics if m.custom is not None]
    if custom:
        raise InputError(
            f"custom metric(s) {', '.join(custom)} need every row in memory, which engine "
            "spark never collects; drop them or use --engine numpy/duckdb"
        )


def _read(session: SparkSession, table: str, base_dir: Path) -> tuple[DataFrame, str,
                                                                       dict[str, Any]]:
    """The user's table as a DataFrame, its label for messages, and its fingerprint."""
    if table.startswith(SPARK_PREFIX):
        name = table[len(SPARK_PREFIX):].strip()
        if not name:
            raise InputError(f"data.table {table!r}: name a catalog table after `spark:`, "
                             "e.g. `spark:analytics.eval_scores`")
        label = f"spark:{name}"
        exists = run_spark(lambda: session.catalog.tableExists(name),
                           f"cannot look up {label} in the Spark catalog")
        if not exists:
            db, _, short = name.rpartition(".")
            try:
                tables = [t.name for t in session.catalog.listTables(db or None)]
            except spark_errors():
                tables = []
            shown = ", ".join(sorted(tables)[:12]) or "none"
            where = f"database `{db}`" if db else "the current database"
            raise InputError(
                f"table `{name}` is not in the Spark catalog{did_you_mean(short, tables)} "
                f"(tables in {where}: {shown}); write `table: spark:<database>.<table>` "
                "for a catalog table, or a path for a file"
            )
        return (run_spark(lambda: session.table(name), f"cannot read {label}"), label,
                {"table": label})
    remote = bool(_URI.match(table))
    path = Path(table) if remote else project_file(base_dir, table, what="data.table")
    label = table if remote else path.name
    if not remote and not path.exists():
        raise InputError(f"data file not found: {path} (paths are relative to the charter; "
                         "write `spark:<database>.<table>` for a table of the Spark catalog)")
    low = table.lower()
    kind = "parquet"
    if low.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
        kind = "csv"
    elif not (low.endswith((".parquet", ".pq")) or (not remote and path.is_dir())
              or (remote and "." not in low.rstrip("/").rsplit("/", 1)[-1])):
        raise InputError(
            f"cannot read {label}: unknown file type `{Path(table).suffix}`; use a Parquet "
            "(.parquet, or a folder of Parquet files) or CSV (.csv) file, or a catalog table "
            "(`spark:<database>.<table>`)"
        )
    if not remote and not path.is_dir():
        sniff_file(path, kind)
    uri = table if remote else str(path)
    reader = session.read
    if kind == "csv":
        sep = "\t" if ".tsv" in low else ","
        df = run_spark(lambda: reader.csv(uri, header=True, inferSchema=True, sep=sep),
                       f"cannot read {label}")
    else:
        df = run_spark(lambda: reader.parquet(uri), f"cannot read {label}")
    if remote:
        fp: dict[str, Any] = {"path": table}
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        fp = {"path": str(path), "files": len(files), "bytes": sum(p.stat().st_size
                                                                   for p in files)}
    else:
        fp = file_fingerprint(path)
    return df, label, fp


def _binary_label_expr(
    src: DataFrame, label: str, column: str, positive: Any, id_expr: str
) -> str:
    from pyspark.sql import functions as F

    col = sq(column)
    values = [r[0] for r in run_spark(
        lambda: src.select(F.col(col)).distinct().orderBy(F.col(col).asc_nulls_first())
        .limit(4).collect(),
        f"cannot read {label}")]
    if any(isinstance(v, float) and v != v for v in values):  # NaN
        row = run_spark(lambda: src.selectExpr(
            f"count_if(isnan({col})) AS n",
            f"min(CASE WHEN isnan({col}) THEN {id_expr} END) AS ex").collect()[0],
            f"cannot read {label}")
        raise InputError(
            f"{label}: column `{column}` (label) is NaN in {row['n']} rows (e.g. row id "
            f"{row['ex']}); drop those rows or fill the label"
        )
    kind, value = binary_label_rule(values, positive, label, column)
    if kind == "equals":
        return f"CAST(CAST({col} AS STRING) = {sql_str(value)} AS INT)"
    if kind == "equals-number":
        return f"CAST(CAST({col} AS DOUBLE) = {value} AS INT)"
    # 0/1 or true/false as booleans, numbers or text, and `positive: true`/`false` (their
    # words: yes/no, t/f too): Spark reads each through its text, as the DuckDB reader.
    words = (AUTO_TRUE if kind != "truth" else TRUE_WORDS if value == "true"
             else FALSE_WORDS)
    return (f"CAST(lower(trim(CAST({col} AS STRING))) IN "
            f"({', '.join(sql_str(w) for w in words)}) AS INT)")


def open_spark_evaluation(
    charter: Charter, base_dir: Path, session: SparkSession | str | None = None
) -> SparkEvalTable:
    """Build the canonical DataFrame for the charter's data in Spark and check it.

    Parameters
    ----------
    charter
        A validated charter with the wide layout (``data.table`` + ``models``/``errors``).
    base_dir
        Directory that relative data paths are resolved against (the charter's folder).
    session
        A SparkSession, a master URL for a new one (``local[4]``, ``spark://…``,
        ``sc://…``), or None: the active session, else a new ``local[2]`` one.

    Returns
    -------
    SparkEvalTable
        The table description with ``frame`` (lazy) and the checked facts (rows, splits).

    Raises
    ------
    InputError
        For an unsupported layout or any problem with the data: a missing table or column
        (with a "did you mean"), bad labels, scores out of range, NaN or infinite values.
    """
    check_layout(charter)
    checked = check_where(charter.slices.where)  # before Spark starts or reads anything
    spark = session if session is not None and not isinstance(session, str) else (
        get_session(session))
    d = charter.data
    task = charter.task
    assert d.table is not None
    src, label, fp = _read(spark, d.table, base_dir)
    columns = list(src.columns)

    def need(column: str | None, role: str) -> str:
        if column is None:
            raise InputError(f"{label}: no column given for the {role}")
        if column not in columns:
            shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
            raise InputError(
                f"column `{column}` ({role}) is not in {label}"
                f"{did_you_mean(column, columns)} (columns: {shown})"
            )
        return sq(column)

    numeric: dict[str, str] = {}  # column -> role, for columns read as numbers

    def num(column: str | None, role: str) -> str:
        expr = need(column, role)
        assert column is not None
        numeric.setdefault(column, role)
        return expr

    select: dict[str, str] = {}
    select["__row"] = "__mlscope_row"
    select["__id"] = (f"CAST({need(d.id, 'row id')} AS STRING)" if d.id is not None
                      else "CAST(__mlscope_row + 1 AS STRING)")
    select["__split"] = (f"CAST({need(d.split, 'split')} AS STRING)" if d.split
                         else sql_str(charter.splits.selection))
    select["__w"] = (f"CAST({num(d.weight, 'weight')} AS DOUBLE)" if d.weight
                     else "CAST(1.0 AS DOUBLE)")
    if task != "errors":
        if task == "binary":
            need(d.label, "label")
            assert d.label is not None
            select["__label"] = _binary_label_expr(src, label, d.label, d.positive,
                                                   select["__id"])
        else:
            select["__label"] = f"CAST({num(d.label, 'label')} AS DOUBLE)"
    slice_cols = list(dict.fromkeys(
        list(charter.slices.columns) + [c for cross in charter.slices.crosses for c in cross]
    ))
    for i, c in enumerate(slice_cols):
        select[f"__c{i}"] = f"coalesce(CAST({need(c, 'slice')} AS STRING), '(missing)')"

    models: list[str] = []
    if task != "errors":
        if d.models is None:
            raise InputError(f"engine spark needs `data.models`; {_SUPPORTED}")
        models = list(d.models)
        for m, name in enumerate(models):
            spec = d.models[name]
            if isinstance(spec, dict):
                raise InputError(
                    f"model `{name}`: a {task} model takes one score column, got a mapping"
                )
            # Kept as given, logits included (see mlscope.data.source): the metrics apply
            # the link, so that distinct large logits never become ties.
            select[f"__s{m}"] = f"CAST({num(spec, f'scores of model `{name}`')} AS DOUBLE)"
    errors = list(d.errors)
    for e, ename in enumerate(errors):
        espec = d.errors[ename]
        if not isinstance(espec, dict):
            raise InputError(
                f"data.errors.{ename}: give a mapping model: column (wide data); a single "
                "column name is only meaningful for a long table"
            )
        if not models:
            models = list(espec)
        missing = [m for m in models if m not in espec]
        if missing:
            raise InputError(f"data.errors.{ename}: no column for model(s) {', '.join(missing)}")
        for m, name in enumerate(models):
            select[f"__e{e}_{m}"] = (
                f"CAST({num(espec[name], f'error {ename}')} AS DOUBLE)")

    _check_text_numbers(src, label, numeric)
    if d.id is not None:
        _check_unique(src, label, d.id)

    from pyspark.sql import functions as F

    base = src.withColumn("__mlscope_row", F.monotonically_increasing_id())
    where = dict(charter.slices.where)
    preds: list[str] = []
    # The checked predicate as mlscope rendered it for Spark SQL (its own quoting of names
    # and strings), never the charter's text.
    for i, (wname, checked_pred) in enumerate(checked.items()):
        pred = checked_pred.text
        expr = f"coalesce(({checked_pred.spark}), false) AS __mlscope_where{i}"
        try:
            with quiet_errors():
                _ = base.selectExpr(expr).schema  # analysis: names and types
        except spark_errors() as exc:
            raise InputError(
                f"slice `{wname}`: the predicate {shown(pred)} does not work on {label}: "
                f"{_first_line(exc)}. Write a Spark SQL condition over its columns, e.g. "
                f"\"balance > 1500\""
            ) from None
        preds.append(expr)
        select[f"__p{i}"] = f"__mlscope_where{i}"
    if preds:
        base = base.selectExpr("*", *preds)
    exprs = [f"{expr} AS {sq(alias)}" for alias, expr in select.items()]
    frame = run_spark(lambda: base.selectExpr(*exprs),
                      f"cannot build the evaluation table from {label}")
    _ = run_spark(lambda: frame.schema, f"cannot build the evaluation table from {label}")

    table = SparkEvalTable(
        con=_empty_connection(), task=task, models=models, classes=[], slice_columns=slice_cols,
        where=where, errors=errors, has_weight=d.weight is not None, splits=[], n_rows=0,
        sources=[fp], session=spark, frame=frame, label=label,
        score_type=d.score_type if task == "binary" else "probability",
    )
    _check_rows(table, charter, label)
    return table


def _check_text_numbers(src: DataFrame, label: str, numeric: dict[str, str]) -> None:
    """Text columns read as numbers: every value must parse (one query, only if any)."""
    types = dict(src.dtypes)
    text = [c for c in numeric if types.get(c) == "string"]
    if not text:
        return
    aggs = []
    for i, c in enumerate(text):
        bad = f"try_cast({sq(c)} AS DOUBLE) IS NULL AND {sq(c)} IS NOT NULL"
        aggs += [f"count_if({bad}) AS bad{i}", f"min(CASE WHEN {bad} THEN {sq(c)} END) AS ex{i}"]
    row = run_spark(lambda: src.selectExpr(*aggs).collect()[0], f"cannot read {label}")
    for i, c in enumerate(text):
        if row[f"bad{i}"]:
            raise InputError(
                f"{label}: column `{c}` ({numeric[c]}) holds text that is not a number in "
                f"{row[f'bad{i}']} rows (e.g. {row[f'ex{i}']!r}); point the charter at a numeric "
                "column or fix the values"
            )


def _check_unique(src: DataFrame, label: str, column: str) -> None:
    """Every id must appear once: one aggregate query (two when some repeat)."""
    from pyspark.sql import functions as F

    dups = src.groupBy(F.col(sq(column)).cast("string").alias("id")).count().where("count > 1")
    top = run_spark(lambda: dups.orderBy(F.desc("count"), F.asc_nulls_first("id")).limit(3)
                    .collect(), f"cannot read {label}")
    if not top:
        return
    total = run_spark(dups.count, f"cannot read {label}")
    shown = ", ".join(("(missing)" if r["id"] is None else repr(r["id"]))
                      + f" appears {r['count']} times" for r in top)
    raise InputError(
        f"{label}: column `{column}` (row id) must hold unique ids, but {total} ids appear "
        f"more than once: {shown}{', …' if total > len(top) else ''}. Ids must be unique to "
        "name each row; remove the duplicate rows, or set `data.id` to a unique column"
    )


def _span(t: SparkEvalTable, column: str) -> Any:
    """The row of ``min`` (``lo``) and ``max`` (``hi``) of a column, for a message."""
    return t.df.selectExpr(f"min({column}) AS lo", f"max({column}) AS hi").collect()[0]


def _check_rows(t: SparkEvalTable, charter: Charter, label: str) -> None:
    """One aggregate query over the canonical frame for every row-level check."""
    inf = "CAST('Infinity' AS DOUBLE)"
    checks: list[tuple[str, str, str]] = []  # (what, condition for a bad row, message)
    range_cols: dict[int, str] = {}  # check index -> binary score column
    for m, name in enumerate(t.models):
        cols = [(t.score_col(m), "score")] if t.task != "errors" else []
        for c, what in cols:
            checks.append((f"model `{name}` {what}",
                           f"{c} IS NULL OR isnan({c}) OR abs({c}) = {inf}",
                           "is missing, NaN or infinite"))
            if t.task == "binary" and t.score_type_of(m) == "probability":
                range_cols[len(checks)] = c
                # Finite values only: Spark orders NaN above every number, and a NaN or
                # infinite score has its own check above.
                checks.append((f"model `{name}` {what}",
                               f"NOT isnan({c}) AND abs({c}) != {inf} AND ({c} < 0 OR {c} > 1)",
                               "is outside [0, 1] (probabilities expected)"))
        for e, ename in enumerate(t.errors):
            c = t.error_col(e, m)
            checks.append((f"model `{name}` error `{ename}`",
                           f"{c} IS NULL OR isnan({c}) OR abs({c}) = {inf}",
                           "is missing, NaN or infinite"))
    if t.has_weight:
        checks.append(("weight", f"__w IS NULL OR isnan(__w) OR abs(__w) = {inf} OR __w < 0",
                       "is missing, NaN, infinite or negative"))
    if t.task == "regression":
        checks.append(("label", f"__label IS NULL OR isnan(__label) OR abs(__label) = {inf}",
                       "is missing, NaN or infinite"))
    aggs = ["count(*) AS n", "sort_array(collect_set(__split)) AS splits",
            ("avg(__label)" if t.task == "regression" else "CAST(NULL AS DOUBLE)") + " AS mean"]
    for i, (_, cond, _) in enumerate(checks):
        aggs.append(f"count_if({cond}) AS bad{i}")
        # The smallest bad id, with its split (structs compare field by field).
        aggs.append(f"min(CASE WHEN {cond} THEN struct(__id, __split) END) AS ex{i}")
    row = run_spark(lambda: t.df.selectExpr(*aggs).collect()[0], f"cannot read {label}")
    t.n_rows = int(row["n"])
    if t.n_rows == 0:
        raise InputError(f"{label} has no rows")
    found: list[str] = []  # every failing check, as DuckDB's checks list them
    for i, (what, _, msg) in enumerate(checks):
        bad, example = row[f"bad{i}"], row[f"ex{i}"]
        if bad:
            fix = "Fix the file; mlscope never guesses a value"
            if i in range_cols:
                got = run_spark(partial(_span, t, range_cols[i]), f"cannot read {label}")
                fix = score_type_hint(float(got["lo"] or 0.0), float(got["hi"] or 0.0))
            found.append(f"{label}: {what} {msg} in {bad:,} of {t.n_rows:,} rows (e.g. row id "
                         f"{example[0]}, split {example[1]}). {fix}")
    raise_row_problems(found)
    t.label_mean = float(row["mean"]) if row["mean"] is not None else 0.0
    t.splits = sorted(str(s) for s in row["splits"])
    check_splits(t, charter, label)
