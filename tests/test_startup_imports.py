"""Start-up: mlscope imports only what the charter uses.

Each check runs in a fresh interpreter (a subprocess), because this test process has long
since imported pandas, scipy and the rest. The checks name modules, never times: what a
command imports is what decides its start-up, and it does not depend on how busy the
machine is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import base_charter

SRC = Path(__file__).resolve().parents[1] / "src"

# Heavy libraries that an evaluation of candidates alone (no baselines, probability scores)
# never needs: each costs 0.1–0.3 s of start-up (torch, for mlscope.losses only, more).
# numba: the optional compiled kernel, imported only for large tables (engine.kernel_choice).
HEAVY = ("pandas", "scipy", "sklearn", "matplotlib", "statsmodels", "mlscope.baselines",
         "torch", "mlscope.losses", "numba", "mlscope.engine.kernels")


def _loaded(code: str, cwd: Path) -> set[str]:
    """The top-level and mlscope modules in ``sys.modules`` after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _imported(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def _plain_charter() -> dict[str, object]:
    """A charter without baselines or ``where:`` slices, on probability scores."""
    ch = base_charter()
    ch["slices"] = {"columns": ["region", "device"], "min_size": 10}
    ch["intervals"] = {"resamples": 20}
    return ch


def test_import_mlscope_is_light(tmp_path: Path) -> None:
    loaded = _loaded("import mlscope", tmp_path)
    for name in ("numpy", "pyarrow", "duckdb", "pydantic", "click", "rich", *HEAVY):
        assert not _imported(loaded, name), f"`import mlscope` imported {name}"


def test_version_imports_no_data_stack(tmp_path: Path) -> None:
    code = ("import sys\nfrom mlscope.cli import main\nsys.argv = ['mlscope', '--version']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n")
    loaded = _loaded(code, tmp_path)
    # rich too: it is imported on the first message, not with the CLI.
    for name in ("numpy", "pyarrow", "duckdb", "pydantic", "jinja2", "sqlalchemy", "rich",
                 "yaml", "mlscope.charter", "mlscope.store", *HEAVY):
        assert not _imported(loaded, name), f"`mlscope --version` imported {name}"


def test_load_charter_imports_no_engine(project: Callable[..., Path]) -> None:
    path = project(charter=_plain_charter())
    loaded = _loaded(f"import mlscope\nmlscope.load_charter({str(path)!r})", path.parent)
    assert "mlscope.charter" in loaded
    # Without `where:` slices no predicate is parsed, so DuckDB is not needed yet.
    for name in ("duckdb", "pyarrow", "jinja2", "sqlalchemy", "mlscope.engine", *HEAVY):
        assert not _imported(loaded, name), f"load_charter imported {name}"


def test_evaluation_without_baselines_imports_no_pandas(
    project: Callable[..., Path],
) -> None:
    path = project(charter=_plain_charter())
    code = (f"import mlscope\nr = mlscope.evaluate({str(path)!r})\n"
            "assert r.winner is not None or r.status")
    loaded = _loaded(code, path.parent)
    assert "mlscope.engine" in loaded  # the evaluation did run
    # Nor the outputs' modules: the report, the store, the CLI's.
    for name in ("jinja2", "sqlalchemy", "alembic", "mlscope.report", "mlscope.store",
                 "rich", "click", "mlscope.cli", *HEAVY):
        assert not _imported(loaded, name), f"an evaluation without baselines imported {name}"


def test_point_estimates_do_not_import_numpy_ma(project: Callable[..., Path]) -> None:
    # NumPy imports numpy.ma on its first mention, about a tenth of a 20k-row evaluation's
    # own CPU; DuckDB hands back masked arrays only for columns with NULLs, so the checks
    # ask whether one exists before they look (mlscope.sql.is_masked). (With intervals,
    # NumPy's own np.quantile imports it.)
    ch = _plain_charter()
    ch["intervals"] = {"resamples": 0}
    path = project(charter=ch)
    loaded = _loaded(f"import mlscope\nmlscope.evaluate({str(path)!r})", path.parent)
    assert "mlscope.engine" in loaded
    assert "numpy.ma" not in loaded


@pytest.mark.parametrize(("column", "said"), [("row_id", "row_id"),
                                             ("p_good", "`good` score is missing")])
def test_nulls_are_still_found_in_a_fresh_interpreter(project: Callable[..., Path],
                                                      column: str, said: str) -> None:
    # The other side: DuckDB imports numpy.ma itself to hand back a column with NULLs, so
    # a fresh interpreter still sees them (two missing ids repeat each other; a missing
    # score is refused).
    from tests.conftest import binary_frame

    df = binary_frame()
    if column == "row_id":
        df["row_id"] = df["row_id"].astype("Int64")
    df.loc[[3, 7], column] = None
    path = project(df=df, charter=_plain_charter())
    code = ("import mlscope\nfrom mlscope.errors import InputError\n"
            f"try:\n    mlscope.evaluate({str(path)!r})\n"
            "except InputError as exc:\n"
            f"    assert {said!r} in str(exc), str(exc)\n"
            "else:\n    raise SystemExit('no error for the NULLs')\n")
    loaded = _loaded(code, path.parent)
    # The ids are read as a masked column (the score's NULLs are refused in SQL first).
    assert ("numpy.ma" in loaded) == (column == "row_id")


def test_baselines_still_load_when_the_charter_has_them(project: Callable[..., Path]) -> None:
    # The other side of the lazy imports: a charter with a baseline does import them, and
    # the baseline is evaluated (it is not silently dropped).
    ch = _plain_charter()
    ch["baselines"] = {"base": {"kind": "prior"}}
    path = project(charter=ch)
    code = (f"import mlscope\nr = mlscope.evaluate({str(path)!r})\n"
            "names = [m.name for m in r.models]\nassert 'base' in names, names")
    loaded = _loaded(code, path.parent)
    assert "mlscope.baselines.build" in loaded


def _run_code(path: Path, *flags: str) -> str:
    args = ["mlscope", "run", str(path), "--out", str(path.parent / "out"), "-q", *flags]
    return ("import sys\nfrom mlscope.cli import main\n"
            f"sys.argv = {args!r}\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n")


def test_run_without_store_imports_no_sqlalchemy(project: Callable[..., Path]) -> None:
    # `mlscope run` imports the store (SQLAlchemy: about a tenth of a 20k-row run's CPU)
    # only when it records the run; the server, profiling and monitoring never.
    path = project(charter=_plain_charter())
    loaded = _loaded(_run_code(path, "--no-store"), path.parent)
    assert "mlscope.report.html" in loaded  # the report was written
    for name in ("sqlalchemy", "mlscope.store", "mlscope.server", "mlscope.profile",
                 "mlscope.monitor", *HEAVY):
        assert not _imported(loaded, name), f"`mlscope run --no-store` imported {name}"


def test_run_records_in_the_store(project: Callable[..., Path]) -> None:
    # The other side: without --no-store the run is recorded, so the store is imported.
    path = project(charter=_plain_charter())
    loaded = _loaded(_run_code(path), path.parent)
    assert "mlscope.store" in loaded
    assert (path.parent / ".mlscope" / "store.sqlite").exists()
    for name in ("mlscope.server", *HEAVY):
        assert not _imported(loaded, name), f"`mlscope run` imported {name}"


def test_run_records_in_an_existing_store_without_sqlalchemy(
    project: Callable[..., Path],
) -> None:
    # The first run creates the store (SQLAlchemy and its migrations); later runs append to
    # it with sqlite3 alone (mlscope.store.quick), the rows being the same.
    path = project(charter=_plain_charter())
    _loaded(_run_code(path), path.parent)
    loaded = _loaded(_run_code(path), path.parent)
    assert "mlscope.store.quick" in loaded
    for name in ("sqlalchemy", "alembic", "mlscope.store.store", "mlscope.server", *HEAVY):
        assert not _imported(loaded, name), f"a second `mlscope run` imported {name}"
    from mlscope.store import Store

    with Store.open(path.parent / ".mlscope" / "store.sqlite", create=False) as db:
        runs = db.runs()
    assert [r.id for r in runs] == [2, 1]
    assert runs[0].winner == runs[1].winner
