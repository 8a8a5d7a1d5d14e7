"""Shared fixtures: small evaluation tables with known truth, generated and seeded."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests import store_backends
from tests.kernel_calls import CountingKernels

# The batch commands tune glibc's allocator for the rest of the process (mlscope.malloc);
# the test process is long-lived and also measures memory (mlscope profile), so it keeps
# the C library's defaults. tests/test_malloc.py checks the tuning in fresh processes.
os.environ.setdefault("MLSCOPE_MALLOC", "system")


def binary_frame(n: int = 600, seed: int = 0, grid: int = 20) -> pd.DataFrame:
    """A binary evaluation table: 3 models of differing quality, two slice columns.

    Scores are rounded to a grid so that ties are common (exactness is tested with ties).
    """
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    latent = y * 1.0 + rng.normal(size=n)
    df = pd.DataFrame({
        "row_id": np.arange(n),
        "label": y.astype(int),
        "split": rng.choice(["train", "validation", "test"], size=n, p=[0.2, 0.4, 0.4]),
        "region": rng.choice(["north", "south", "east", "west"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
        "device": rng.choice(["ios", "android", "web"], size=n),
        "balance": rng.gamma(2.0, 800.0, size=n).round(0),
    })
    for name, noise in (("good", 0.6), ("fair", 1.2), ("weak", 3.0)):
        s = 1 / (1 + np.exp(-(latent + rng.normal(scale=noise, size=n))))
        df[f"p_{name}"] = np.round(s * grid) / grid
    return df


def base_charter(table: str = "eval.parquet", **over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "test-project",
        "task": "binary",
        "seed": 7,
        "data": {
            "table": table,
            "id": "row_id",
            "label": "label",
            "split": "split",
            "models": {"good": "p_good", "fair": "p_fair", "weak": "p_weak"},
        },
        "slices": {
            "columns": ["region", "device"],
            "crosses": [["region", "device"]],
            "where": {"rich": "balance > 2000"},
            "min_size": 10,
        },
        "metrics": [
            "roc_auc", "average_precision", "log_loss", "brier",
            "precision", "recall", "accuracy",
            {"metric": "f1", "threshold": "optimize", "id": "f1_best"},
        ],
        "selection": {"rule": "satisficing", "optimize": "precision",
                      "constraints": {"recall": ">= 0.3"}},
        "requirements": {"roc_auc": ">= 0.6"},
        "intervals": {"resamples": 50},
    }
    for k, v in over.items():
        c[k] = v
    return c


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write a table and a charter into ``tmp_path``; returns the charter path."""

    def make(df: pd.DataFrame | None = None, charter: dict[str, Any] | None = None,
             name: str = "eval.parquet") -> Path:
        frame = binary_frame() if df is None else df
        path = tmp_path / name
        if name.endswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        ch = base_charter(name) if charter is None else charter
        cpath = tmp_path / "mlscope.yaml"
        cpath.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
        return cpath

    return make


# -- the store's backends ----------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[store_backends.Cluster]:
    """A PostgreSQL server for the session (see ``tests/store_backends.py``): skips the
    test when there is none, or fails it under ``MLSCOPE_TEST_POSTGRES=require``."""
    try:
        cluster = store_backends.start_cluster()
    except store_backends.PostgresUnavailable as exc:
        if store_backends.required():
            pytest.fail(f"PostgreSQL is required ({store_backends.REQUIRE_ENV}) but: {exc}")
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        yield cluster
    finally:
        store_backends.stop_cluster(cluster)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database for a store: an SQLite file, or a new database
    on the PostgreSQL server (dropped after the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    with store_backends.fresh_database(cluster) as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingKernels]:
    """The compiled metric kernels installed, counting their calls, for one test (skipped
    without numba); the process's own choice restored afterwards."""
    pytest.importorskip("numba")
    from mlscope.engine import kernels
    from mlscope.metrics import fast

    monkeypatch.delenv("MLSCOPE_KERNEL", raising=False)
    was = fast.current()
    k = CountingKernels(kernels)
    fast.install(k)  # type: ignore[arg-type]
    try:
        yield k
    finally:
        if was is None:
            fast.uninstall()
        else:
            fast.install(was)
