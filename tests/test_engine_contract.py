"""Engine contract: every engine through the same cases, checked against the numpy engine.

In the style of ibis' backend suite: each (engine, case) pair is one test. The numpy
engine is the reference (exact; its numbers are checked against scikit-learn in the
metric suites); ``duckdb``, ``spark`` and ``binned`` (engine numpy, ``binned=64``) must
give the same (split, model, slice, metric) values, the same undefined reasons, point
values within 1e-9 (binned: ROC AUC and average precision within each value's
``error_bound``) and the same selection winner; the numpy param runs the reference again
(the same numbers twice). A case an engine does not support is
listed in :data:`UNSUPPORTED` with the exact :class:`InputError` it raises, as a strict
xfail: when the engine starts supporting it, the test fails until the table is updated.
Every table is generated with a fixed seed (``numpy.random.default_rng``), so the
reference (the "known truth") is the same on every run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlscope
from mlscope.errors import InputError
from mlscope.result import EvaluationResult
from tests.contract_tables import (
    all_metrics,
    binary_charter,
    binary_table,
    errors_charter,
    regression_charter,
    regression_table,
    write_case,
)
from tests.test_pipeline_tasks import CLASSES, multiclass_frame


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "the Spark engine needs pyspark (pip install mlscope[spark])"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "the Spark engine's local session needs Java 17+"
    return None


SPARK_MISSING = _spark_missing()
ENGINES = ("numpy", "duckdb", "spark", "binned")
BINS = 64
# Approximate in binned mode: the value carries a guaranteed error bound.
BOUNDED = {"roc_auc", "average_precision"}
# Refused in binned mode (they read each row's probability).
CALIBRATION = {"ece", "ece_debiased", "calibration_slope_error",
               "calibration_intercept_error"}

# ---------------------------------------------------------------------------------------
# Cases: each writes its (seeded) tables and charter into the module's folder.
# ---------------------------------------------------------------------------------------


def case_binary(folder: Path) -> Path:
    """test_backend_contract's binary table and charter (seed 11): weights, two slice
    columns, a cross, `where` slices (one matching no row), a one-class slice, a slice
    below min_size, every binary metric and the row bootstrap (40 resamples, seed 5)."""
    return write_case(folder, "binary", binary_charter(), {})


def case_regression(folder: Path) -> Path:
    """test_backend_contract's regression table (seed 12), a constant-target slice."""
    return write_case(folder, "regression", regression_charter(), {})


def case_errors(folder: Path) -> Path:
    """The `errors` task on the regression table (seed 12): two error measures."""
    return write_case(folder, "errors", errors_charter(), {})


def case_multiclass(folder: Path) -> Path:
    """test_pipeline_tasks' leaf-species table (seed 1, 600 rows, tied probabilities),
    with weights (seed 21), a slice column and a `where` slice."""
    df = multiclass_frame(n=600, seed=1)
    df["w"] = np.random.default_rng(21).choice([0.5, 1.0, 2.0], size=len(df))
    ch = {
        "project": "contract-multiclass", "task": "multiclass", "seed": 3,
        "data": {"table": "multiclass.parquet", "id": "image_id", "label": "species",
                 "split": "split", "weight": "w", "classes": CLASSES,
                 "models": {m: {c: f"{m}_{c}" for c in CLASSES}
                            for m in ("resnet", "vit", "tiny")}},
        "slices": {"columns": ["camera"], "where": {"oaky": "resnet_oak > 0.5"},
                   "min_size": 10},
        "metrics": all_metrics("multiclass", [], CLASSES),
        "selection": {"rule": "satisficing", "optimize": "accuracy"},
        "intervals": {"resamples": 30},
        # A cost matrix (cells not given cost 0): `expected_cost` on every engine.
        "costs": {"unit": "EUR", "matrix": {"oak": {"maple": 4.0, "birch": 1.0},
                                            "birch": {"oak": 2.0}, "maple": {"maple": -1.0}}},
    }
    return write_case(folder, "multiclass", ch, {"multiclass.parquet": df})


def case_custom(folder: Path) -> Path:
    """The binary table with a custom metric (a weighted score mean over positives,
    defined in `contract_metrics.py` beside the charter) next to two registry metrics."""
    (folder / "contract_metrics.py").write_text(
        "import numpy as np\n"
        "def pos_score(y, s, w):\n"
        "    return float(np.sum(w * y * s) / max(float(np.sum(w * y)), 1e-12))\n",
        encoding="utf-8")
    ch = binary_charter(metrics=["roc_auc", "brier", {"id": "pos_score",
                                                      "custom": "contract_metrics:pos_score",
                                                      "direction": "higher"}],
                        intervals={"resamples": 20})
    return write_case(folder, "custom", ch, {})


def _without_errors(ch: dict[str, Any]) -> dict[str, Any]:
    """``ch`` without its `data.errors` and the metrics on them."""
    del ch["data"]["errors"]
    ch["metrics"] = [m for m in ch["metrics"]
                     if not (isinstance(m, dict) and "error" in m)]
    return ch


def case_baselines(folder: Path) -> Path:
    """The binary table with a trivial `prior` baseline, fitted on its train split."""
    ch = binary_charter(metrics=["roc_auc", "log_loss", "brier", "accuracy"],
                        baselines={"prior": {"kind": "prior"}}, intervals={"resamples": 20})
    del ch["data"]["errors"]
    return write_case(folder, "baselines", ch, {})


def case_baselines_errors(folder: Path) -> Path:
    """A `prior` baseline in a charter that also has `data.errors` (error metrics)."""
    ch = binary_charter(metrics=["roc_auc", {"id": "lat", "metric": "error_mean",
                                             "error": "latency"}],
                        baselines={"prior": {"kind": "prior"}}, intervals={"resamples": 0})
    return write_case(folder, "baselines_errors", ch, {})


def case_logit(folder: Path) -> Path:
    """The binary table (seed 11) with its scores as logits (`data.score_type: logit`)."""
    df = binary_table()
    for m in ("good", "fair", "flat"):
        p = df[f"p_{m}"].clip(0.01, 0.99)
        df[f"z_{m}"] = np.log(p / (1 - p))
    ch = binary_charter("logit.parquet",
                        metrics=["roc_auc", "average_precision", "log_loss", "brier",
                                 "accuracy", {"id": "f1_best", "metric": "f1",
                                              "threshold": "optimize"}],
                        intervals={"resamples": 20})
    ch["data"].update(score_type="logit", models={m: f"z_{m}" for m in ("good", "fair", "flat")})
    del ch["data"]["errors"]
    return write_case(folder, "logit", ch, {"logit.parquet": df})


def case_buckets(folder: Path) -> Path:
    """The binary charter with `intervals.resampling: buckets` (32 buckets, 32 bins),
    without its error columns: binned mode's full check on the binary table is here."""
    ch = _without_errors(binary_charter(intervals={"resamples": 40, "resampling": "buckets",
                                                   "buckets": 32, "bins": 32}))
    return write_case(folder, "buckets", ch, {})


CASES: dict[str, Callable[[Path], Path]] = {
    "binary": case_binary, "regression": case_regression, "errors": case_errors,
    "multiclass": case_multiclass, "custom": case_custom, "baselines": case_baselines,
    "baselines_errors": case_baselines_errors,
    "logit": case_logit, "buckets": case_buckets,
}

# ---------------------------------------------------------------------------------------
# Known-unsupported (engine, case): the exact InputError each raises. A strict xfail: an
# engine that starts supporting a case fails its test until the entry is removed.
# ---------------------------------------------------------------------------------------

_NOT_BINNED = ("binned mode applies to binary tasks without custom metrics (this charter: "
               "task {}); evaluate exactly instead (drop --binned)")
_SPARK_LAYOUT = ("engine spark reads the wide layout: `data.table` (a Parquet/CSV path or "
                 "`spark:<db>.<table>`) with `models` (binary, regression) and/or `errors` "
                 "(a mapping model: column). Use --engine duckdb (out of core) or numpy")
_BINNED_ERRORS = ("binned mode bins the models' scores; the charter's error columns "
                  "(data.errors: latency) need the exact engine: drop --binned, or evaluate "
                  "the error columns in a charter of their own")
_SPARK_BASELINES = ("baselines that predict (trivial, learned, rule) are built with DuckDB "
                    "and NumPy; engine spark cannot use them yet: run with the default "
                    "engine, or keep only `external` baselines")
UNSUPPORTED: dict[tuple[str, str], str] = {
    ("binned", "regression"): _NOT_BINNED.format("regression"),
    ("binned", "errors"): _NOT_BINNED.format("errors"),
    ("binned", "multiclass"): _NOT_BINNED.format("multiclass"),
    ("binned", "custom"): _NOT_BINNED.format("binary, custom metrics"),
    ("spark", "multiclass"): "engine spark does not evaluate multiclass tasks yet; "
                             + _SPARK_LAYOUT,
    ("spark", "custom"): "custom metric(s) pos_score need every row in memory, which engine "
                         "spark never collects; drop them or use --engine numpy/duckdb",
    ("binned", "binary"): _BINNED_ERRORS,
    ("binned", "baselines_errors"): _BINNED_ERRORS,
    ("spark", "baselines_errors"): _SPARK_BASELINES,
    ("spark", "baselines"): _SPARK_BASELINES,
}

# Cases that fail with something other than InputError (a crash or a wrong number):
# (engine, case) -> (the exception raised, "BUG: ..."). Strict xfails too.
# (None now: a charter with `data.errors` and a predicting baseline crashed in DuckDB, and
# binned mode reported error metrics as undefined; both fixed, see the tests below.)
BUGS: dict[tuple[str, str], tuple[type[BaseException], str]] = {}


def _params() -> Iterator[Any]:
    for case in CASES:
        for engine in ENGINES:
            marks: list[Any] = []
            if engine == "spark":
                marks.append(pytest.mark.skipif(SPARK_MISSING is not None,
                                                reason=SPARK_MISSING or ""))
            if (engine, case) in UNSUPPORTED:
                marks.append(pytest.mark.xfail(strict=True, raises=InputError,
                                               reason=UNSUPPORTED[engine, case]))
            if (engine, case) in BUGS:
                exc, why = BUGS[engine, case]
                marks.append(pytest.mark.xfail(strict=True, raises=exc, reason=why))
            yield pytest.param(engine, case, id=f"{engine}-{case}", marks=marks)


# ---------------------------------------------------------------------------------------
# Fixtures and runs
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's folder, with the two base tables (binary.parquet, regression.parquet)."""
    path = tmp_path_factory.mktemp("engine-contract")
    binary_table().to_parquet(path / "binary.parquet", index=False)
    regression_table().to_parquet(path / "regression.parquet", index=False)
    return path


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    """One local[2] session for the module, started only when a spark case runs."""
    from mlscope.engine.spark_backend import get_session

    session = get_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def references(folder: Path) -> dict[str, tuple[Path, EvaluationResult]]:
    """Each case's charter and numpy result, computed once (filled on demand)."""
    return {}


def _reference(refs: dict[str, tuple[Path, EvaluationResult]], folder: Path, case: str
               ) -> tuple[Path, EvaluationResult]:
    if case not in refs:
        cpath = CASES[case](folder)
        refs[case] = (cpath, mlscope.evaluate(cpath, engine="numpy"))
    return refs[case]


def _run(engine: str, cpath: Path, request: pytest.FixtureRequest) -> EvaluationResult:
    if engine == "spark":
        return mlscope.evaluate(cpath, engine="spark",
                                spark=request.getfixturevalue("spark_session"))
    if engine == "binned":
        return mlscope.evaluate(_without_calibration(cpath), engine="numpy", binned=BINS)
    return mlscope.evaluate(cpath, engine=engine)  # type: ignore[arg-type]


def _without_calibration(cpath: Path) -> Path:
    """The charter without its calibration metrics, which binned mode refuses (they read
    each row's probability; test_binned_refuses_calibration_metrics)."""
    import yaml

    ch = yaml.safe_load(cpath.read_text(encoding="utf-8"))
    ch["metrics"] = [m for m in ch["metrics"]
                     if (m.get("metric") if isinstance(m, dict) else m) not in CALIBRATION]
    out = cpath.with_name(f"{cpath.stem}-binned.yaml")
    out.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return out


def test_binned_refuses_calibration_metrics(folder: Path,
                                            references: dict[str, Any]) -> None:
    # The buckets case: every binary metric, no error columns (refused before these).
    cpath, _ = _reference(references, folder, "buckets")
    with pytest.raises(InputError, match="calibration metrics"):
        mlscope.evaluate(cpath, engine="numpy", binned=BINS)


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a))


def _exact_intervals(engine: str, ref: EvaluationResult) -> bool:
    """Whether ``engine``'s intervals must equal numpy's (else: exist, contain the point).

    numpy and duckdb resample the same rows in memory with the same seed, by rows or by
    buckets. Spark brings a small split's rows to the driver in file order, so its row
    bootstrap is numpy's; its bucket bootstrap hashes the ids into buckets in Spark
    (xxhash64), other buckets than numpy's. Binned mode always bucket-bootstraps its bins.
    """
    if engine == "binned":
        return False
    return engine != "spark" or "buckets" not in ref.interval.note


def _assert_matches(engine: str, ref: EvaluationResult, got: EvaluationResult) -> None:
    key = lambda v: (v.split, v.model, v.slice, v.metric)  # noqa: E731
    want = {key(v): v for v in ref.values
            if not (engine == "binned" and v.metric in CALIBRATION)}
    have = {key(v): v for v in got.values}
    assert set(have) == set(want), (engine, set(have) ^ set(want))
    exact = _exact_intervals(engine, ref)
    # Binned mode searches operating points (`threshold: optimize`, precision_at_recall,
    # ...) among its bin edges, not every distinct score: the value is exact at the
    # threshold it reports, which may not be numpy's (docs/computation.md, binned mode).
    searched = {m.id for m in ref.metrics if m.operating_point} if engine == "binned" else set()
    missing = 0
    for k, a in want.items():
        b, where = have[k], (engine, *k)
        assert b.undefined == a.undefined, where
        assert (a.value is None) == (b.value is None), where
        if a.value is not None and b.value is not None:
            if engine == "binned" and a.metric in BOUNDED:
                assert b.error_bound is not None, where
                assert abs(a.value - b.value) <= b.error_bound + 1e-9, where
            elif a.metric not in searched:
                assert _close(a.value, b.value, 1e-9), (where, a.value, b.value)
        if a.lower is None or a.upper is None:
            if not exact and a.metric in CALIBRATION:
                # The recalibration fit is undefined in many resamples of a tiny slice
                # (the score separates the classes): other buckets than numpy's may
                # cross the share that gives an interval up, either way.
                continue
            assert b.lower is None, where
            assert b.upper is None, where
        elif exact:
            assert b.lower is not None, where
            assert b.upper is not None, where
            assert _close(a.lower, b.lower, 1e-9), (where, a.lower, b.lower)
            assert _close(a.upper, b.upper, 1e-9), (where, a.upper, b.upper)
        elif b.lower is None or b.upper is None:
            # Other buckets (or bins) than numpy's: in a tiny one-class cell a different
            # share of replicates is undefined, so an interval may be given up there.
            missing += 1
        elif a.metric not in CALIBRATION:
            # Calibration errors are biased upward under resampling (a sum of |gaps|), so
            # their percentile interval may lie wholly above the estimate on any engine.
            assert b.value is not None, where
            assert b.lower - 1e-12 <= b.value <= b.upper + 1e-12, where
    assert missing <= 0.01 * sum(v.lower is not None for v in ref.values), (engine, missing)
    assert (got.selection is None) == (ref.selection is None)
    if ref.selection is not None and got.selection is not None:
        assert got.selection.primary.winner == ref.selection.primary.winner


@pytest.mark.parametrize(("engine", "case"), list(_params()))
def test_engine_matches_numpy(engine: str, case: str, folder: Path,
                              references: dict[str, tuple[Path, EvaluationResult]],
                              request: pytest.FixtureRequest) -> None:
    cpath, ref = _reference(references, folder, case)
    try:
        got = _run(engine, cpath, request)
    except InputError as err:
        # A listed refusal must be the listed one, word for word; anything else fails.
        expected = UNSUPPORTED.get((engine, case))
        if expected is None or expected not in str(err):
            raise AssertionError(f"unexpected InputError: {err}") from err
        raise
    assert got.data["engine"] == ("numpy" if engine == "binned" else engine)
    if engine != "binned":  # the same resampling scheme (rows or buckets) was used
        assert got.interval.note == ref.interval.note
    _assert_matches(engine, ref, got)


def test_a_baseline_has_no_error_columns(folder: Path,
                                         references: dict[str, tuple[Path, EvaluationResult]]
                                         ) -> None:
    """A predicting baseline beside `data.errors`: the candidates' error metrics are
    computed, the baseline's are undefined with the reason (it once crashed in DuckDB)."""
    _, res = _reference(references, folder, "baselines_errors")
    cand = res.value("lat", "good", split="test")
    assert cand.value is not None
    assert cand.value > 0
    base = res.value("lat", "prior", split="test")
    assert base.value is None
    assert base.undefined == "a baseline has no error column `latency`: it predicts the label"
    assert res.value("roc_auc", "prior", split="test").value is not None
