"""Data stability: each split's time range and label summary, read with one query when the
charter names ``data.time``, and judged by :func:`mlscope.compare.stability.stability`.

The finding goes into ``result.data["time"]`` (through ``run.data``); split ranges that
overlap or come out of order, and a label that drifts between the selection and the
report split, add a warning each.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import duckdb

from mlscope.compare.stability import SplitTime, stability
from mlscope.data.checks import first_line, qi, time_sql
from mlscope.errors import InputError
from mlscope.pipeline.types import Run, RunPlan

__all__ = ["data_stability"]


def _plain(x: Any) -> Any:
    # DECIMAL columns come back as Decimal, which JSON cannot hold.
    return float(x) if isinstance(x, Decimal) else x


def data_stability(run: Run, plan: RunPlan) -> None:
    """Measure the splits' time ranges and the label's drift when ``data.time`` is given
    (``run.data["time"]``); the Spark engine does not read it yet (a warning says so)."""
    ch, t = run.charter, run.table
    column = ch.data.time
    if column is None:
        return
    if run.engine.name == "spark":
        run.warnings.append(f"`data.time: {column}` is not read by the spark engine: data "
                            "stability is not measured; run with the numpy or duckdb engine")
        return
    t0 = time.perf_counter()
    expr = time_sql(qi(column), t.base_types.get(column, ""))
    if expr is None:  # the opener has checked the type; kept for a table built by hand
        raise InputError(f"column `{column}` (time, `data.time`) is not a date, timestamp "
                         "or number", key=("data", "time"))
    numeric = t.task in ("binary", "regression")
    label = "avg(__label), var_samp(__label)" if numeric else "NULL, NULL"
    try:
        rows = t.con.execute(
            f"SELECT __split, min({expr}), max({expr}), count(*), count({expr}), {label} "
            f"FROM ({t.base_sql}) GROUP BY __split ORDER BY __split").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"cannot read the time column `{column}`: {first_line(exc)}") from None
    splits = {str(r[0]): SplitTime(start=_plain(r[1]), end=_plain(r[2]), rows=int(r[3]),
                                   missing=int(r[3]) - int(r[4]),
                                   label_mean=None if r[5] is None else float(r[5]),
                                   label_var=None if r[6] is None else float(r[6]))
              for r in rows}
    order = [s for s in dict.fromkeys([ch.splits.train, plan.selection_split,
                                       plan.report_split]) if s is not None]
    found = stability(column, splits, order, plan.selection_split, plan.report_split, t.task)
    run.data["time"] = found
    if found["overlap"]:
        run.warnings.append(f"the splits are not ordered in time by `{column}`: "
                            f"{found['overlap']}; a model selected on rows from its own "
                            "training period, or reported on them, looks better than it will")
    drift = found["drift"]
    if drift is not None and drift["drifts"]:
        run.warnings.append(drift["text"] + "; the report split's figures describe a "
                            "different population than selection saw")
    run.timings["stability"] = time.perf_counter() - t0
