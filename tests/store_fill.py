"""Fill an SQLite store with many runs fast, for the store's scale test and its benchmark.

``benchmarks/bench_store.py`` times reads on a store filled this way; the unit suite
checks, on a smaller one, how those reads are made (one query each, from an index).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from mlscope.result import EvaluationResult
from mlscope.store import Store
from mlscope.store import store as store_mod
from mlscope.store.schema import VALUES_TABLE

__all__ = ["PROJECT", "bulk_fill"]

PROJECT = "big"


def bulk_fill(path: Path, res: EvaluationResult, *, n_runs: int, n_models: int,
              n_metrics: int) -> None:
    """Write ``n_runs`` runs of project :data:`PROJECT` straight into the store at
    ``path`` (not through ``save``): each with every model × metric on two splits.

    Saving through the store would serialise and compress the same result ``n_runs``
    times, which is not what the reads under test depend on.
    """
    Store.open(path).close()  # create the schema
    models = [f"model_{i:02d}" for i in range(n_models)]
    metrics = [f"metric_{i}" for i in range(n_metrics)]
    rec = store_mod.run_record(res, command="mlscope run", charter_text=None, note=None)
    rec |= {"project": PROJECT, "models": json.dumps(models), "n_models": n_models,
            "metrics": json.dumps(metrics), "result": b"", "changes": "[]"}
    rng = np.random.default_rng(0)
    values = iter(rng.random(n_runs * n_models * n_metrics * 2).tolist())
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.insert(store_mod.runs_table),
                     [{**rec, "id": i + 1} for i in range(n_runs)])
    engine.dispose()
    # Plain sqlite3 tuples: several times faster than dicts through SQLAlchemy Core.
    rows = [
        (r + 1, PROJECT, s, m, k, "candidate", t, v, v - 0.1, v + 0.1)
        for r in range(n_runs) for s in ("validation", "test")
        for k, m in enumerate(models) for t in metrics for v in (next(values),)
    ]
    with closing(sqlite3.connect(path)) as con, con:
        con.executemany(f"INSERT INTO {VALUES_TABLE} (run_id, project, split, model, position, "
                        "kind, metric, value, lower, upper) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
