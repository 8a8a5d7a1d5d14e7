"""Evaluate every model named by a charter: metrics, slices, intervals, selection.

The path is the one in the design notes: load the charter, open the data as one DuckDB view
(checked once), aggregate rows into exact histograms per split × model × slice, finalise
every metric from them, bootstrap the same statistics with shared resampling weights for
intervals, then apply the selection rule and check the requirements.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

import numpy as np
import numpy.typing as npt

from mlscope._version import __version__
from mlscope.baselines.build import baseline_family
from mlscope.charter.schema import Charter, HumanBaseline, MetricEntry
from mlscope.compare.wiring import (
    SliceMasks,
    blessed_model,
    check_verdict,
    paired_difference,
    requirement_checks,
)
from mlscope.data.source import EvalTable, open_evaluation
from mlscope.engine import duckdb_backend as ddb
from mlscope.engine.binned import COARSE_BINS, BinnedPass, binned_pass
from mlscope.engine.binned import error_bound as binned_error_bound
from mlscope.engine.bootstrap import percentile_interval, resample_counts
from mlscope.engine.bounded import boundary_interval, clip, effective_trials
from mlscope.engine.bucketed import bin_scores, bucketed_binary_cells
from mlscope.engine.numpy_backend import (
    Layout,
    RowData,
    binary_cells,
    cell_codes,
    error_cells,
    fetch_rows,
    regression_cells,
)
from mlscope.engine.plan import OVERALL, Grouping, SliceCell, plan_groupings
from mlscope.engine.rowstats import batched_multiclass, multiclass_row_codes
from mlscope.errors import CharterError, InputError
from mlscope.metrics.links import probability, threshold_on_scores
from mlscope.metrics.multiclass import confusion_matrix
from mlscope.metrics.registry import MetricSpec, get_metric
from mlscope.metrics.stats import BinaryStats, MulticlassStats, Stats
from mlscope.plugins import UserCodeError, UserFunction, load_callable, user_code
from mlscope.result import (
    BaselineInfo,
    ConfusionMatrix,
    Difference,
    EvaluationResult,
    IntervalInfo,
    MetricInfo,
    MetricValue,
    ModelInfo,
    RequirementCheck,
    SliceInfo,
    Standing,
    ThresholdChoice,
    new_run_id,
)

__all__ = ["Engine", "evaluate"]

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Engine = Literal["numpy", "duckdb", "spark"]
FloatArray = npt.NDArray[np.float64]
# Bootstrap replicates are processed in chunks so that a chunk's weight matrix stays small.
_CHUNK_CELLS = 4_000_000
# An interval is only formed when most replicates define the metric (a tiny slice may have
# one class in many resamples); otherwise it is left out and the reason recorded.
_MIN_DEFINED_SHARE = 0.9


@dataclass
class _Metric:
    """One metric of the charter, resolved: registry spec or custom function."""

    entry: MetricEntry
    info: MetricInfo
    spec: MetricSpec | None
    params: dict[str, Any]
    custom: UserFunction | None = None  # guarded: calls raise UserCodeError
    error_index: int | None = None

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class _SplitStats:
    """Statistics of one split under one weight matrix: (model, slice key) -> Stats."""

    task: dict[tuple[int, str], Stats] = field(default_factory=dict)
    errors: dict[tuple[int, int, str], Stats] = field(default_factory=dict)  # (e, m, slice)
    sizes: dict[str, int] = field(default_factory=dict)
    cells: dict[str, SliceCell] = field(default_factory=dict)


class _SplitEngine:
    """Layouts of one split's rows, reusable for the point estimate and every replicate."""

    def __init__(
        self, t: EvalTable, rows: RowData, groupings: list[Grouping], levels: list[list[str]],
        y_shift: float, *, cache: bool = True,
    ) -> None:
        self.t = t
        self.rows = rows
        self.y_shift = y_shift
        # Layouts cost ~3 integers per row per model and grouping: kept between calls only
        # when the row bootstrap will reuse them; otherwise built one model at a time.
        self.cache = cache
        self.cells: list[tuple[npt.NDArray[np.int64], list[SliceCell]]] = [
            cell_codes(rows, g, levels) for g in groupings
        ]
        self._layouts: dict[tuple[str, int, int], Layout] = {}
        self.mc_codes = (
            [multiclass_row_codes(rows.y.astype(np.int64), p) for p in rows.proba]
            if t.task == "multiclass" else []
        )

    def layouts(self, m: int) -> dict[tuple[str, int, int], Layout]:
        """The layouts of model ``m``: its scores (or absolute errors) and error columns."""
        if self.cache and any(k[1] == m for k in self._layouts):
            return {k: v for k, v in self._layouts.items() if k[1] == m}
        t, rows = self.t, self.rows
        out: dict[tuple[str, int, int], Layout] = {}
        values: list[tuple[str, FloatArray]] = []
        if t.task in ("binary", "regression"):
            values.append(("s", rows.scores[m] if t.task == "binary"
                           else np.abs(rows.scores[m] - rows.y)))
        values += [(f"e{e}", rows.errors[(e, m)]) for e in range(len(t.errors))]
        for tag, value in values:
            order = np.argsort(value)  # ties form one segment: their order is irrelevant
            for gi, (code, cells) in enumerate(self.cells):
                out[(tag, m, gi)] = Layout(value, code, len(cells), order)
        if self.cache:
            self._layouts.update(out)
        return out

    def stats(self, W: FloatArray) -> _SplitStats:
        t = self.t
        out = _SplitStats()
        models = range(len(t.models))
        # Models are independent and NumPy's sorts, gathers and reductions release the GIL:
        # on a large split, two threads use both cores of a small machine.
        workers = min(len(t.models), os.cpu_count() or 1, _MAX_THREADS)
        if workers > 1 and self.rows.n * (W.shape[0] if W.ndim > 1 else 1) >= _THREAD_ROWS:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(lambda m: self._model_stats(m, W), models))
        else:
            parts = [self._model_stats(m, W) for m in models]
        for task_stats, error_stats in parts:
            out.task.update(task_stats)
            out.errors.update(error_stats)
        shell = self.shell()
        out.sizes, out.cells = shell.sizes, shell.cells
        return out

    def shell(self) -> _SplitStats:
        """The split's cells and their sizes, without any model's statistics."""
        out = _SplitStats()
        for code, cells in self.cells:
            counts = np.bincount(code[code >= 0], minlength=len(cells))
            for i, cell in enumerate(cells):
                out.sizes[cell.key] = int(counts[i])
                out.cells[cell.key] = cell
        return out

    def _model_stats(
        self, m: int, W: FloatArray
    ) -> tuple[dict[tuple[int, str], Stats], dict[tuple[int, int, str], Stats]]:
        t, rows = self.t, self.rows
        unit = not t.has_weight
        task: dict[tuple[int, str], Stats] = {}
        errors: dict[tuple[int, int, str], Stats] = {}
        layouts = self.layouts(m) if t.task != "multiclass" or t.errors else {}
        for gi, (code, cells) in enumerate(self.cells):
            per: list[Any]
            if t.task == "binary":
                per = binary_cells(layouts[("s", m, gi)], rows.y, W, len(cells))
            elif t.task == "regression":
                per = regression_cells(
                    layouts[("s", m, gi)], rows.y, rows.scores[m], W, code,
                    len(cells), y_shift=self.y_shift, unit_weights=unit,
                )
            elif t.task == "multiclass":
                yi = rows.y.astype(np.int64)
                pred, rank, nll = self.mc_codes[m]
                per = []
                for i in range(len(cells)):
                    idx = np.flatnonzero(code == i)
                    per.append(batched_multiclass(
                        yi[idx], rows.proba[m][idx], tuple(t.classes), W[..., idx],
                        (pred[idx], rank[idx], nll[idx]),
                    ))
            else:
                per = []  # the errors task has no label: only its error columns
            if t.task != "errors":
                for cell, st in zip(cells, per, strict=True):
                    task[(m, cell.key)] = st
            for e in range(len(t.errors)):
                errs = error_cells(layouts[(f"e{e}", m, gi)], W, len(cells), unit_weights=unit)
                for cell, est in zip(cells, errs, strict=True):
                    errors[(e, m, cell.key)] = est
        return task, errors


def _metric_label(spec: MetricSpec, params: Mapping[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        if k in ("error", "cls") and v:
            parts.append(str(v))
        elif k == "threshold":
            if spec.chooser is None:
                parts.append("@best" if v == "optimize" else f"@{v:g}")
        elif k in ("recall", "precision"):
            parts.append(f"@{k}≥{v:g}")
        elif k == "k":
            parts.append(f"k={v}")
        elif k == "beta":
            parts.append(f"β={v:g}")
    return " ".join([spec.label, *parts])


def _resolve_metrics(charter: Charter, t: EvalTable, base_dir: Path) -> list[_Metric]:
    out = []
    for entry in charter.metrics:
        where = f"metric `{entry.id}`: "
        if entry.custom is not None:
            fn = load_callable(entry.custom, base_dir,
                               what=f"custom metric `{entry.id}` ({entry.custom})")
            info = MetricInfo(
                id=entry.id, name=entry.custom, label=entry.id.replace("_", " "),
                direction=entry.direction or "higher", params=dict(entry.params),
                description=f"custom metric {entry.custom}(y_true, y_score, sample_weight)",
                custom=True,
            )
            out.append(_Metric(entry, info, None, dict(entry.params), fn))
            continue
        assert entry.metric is not None
        task = "errors" if entry.metric.startswith("error_") else charter.task
        spec = get_metric(entry.metric, task=task if task != "errors" else None)
        score_type = t.score_type if charter.task == "binary" else "probability"
        if score_type == "score" and spec.needs_probability:
            raise InputError(
                f"{where}`{spec.name}` needs probabilities, but `data.score_type: score` "
                "says the scores only rank rows; remove the metric, or give probabilities "
                "or logits (`score_type: logit`)"
            )
        params = spec.resolve_params(entry.params, where=where, score_type=score_type)
        if charter.task == "multiclass":
            # `accuracy` is shared with binary; a multiclass prediction is the arg-max class,
            # so the binary threshold parameter has no meaning there.
            params.pop("threshold", None)
        if "error" in spec.params and params.get("error") not in t.errors:
            raise InputError(
                f"{where}`error: {params.get('error')}` names no column under data.errors "
                f"(errors: {', '.join(t.errors) or 'none'})"
            )
        info = MetricInfo(
            id=entry.id, name=spec.name, label=_metric_label(spec, params),
            direction=spec.direction, params=params, description=spec.description,
            bounds=spec.bounds, operating_point=spec.is_operating_point(params),
        )
        err = t.errors.index(params["error"]) if "error" in spec.params else None
        out.append(_Metric(entry, info, spec, params, error_index=err))
    return out


def _safe_float(x: Any) -> float | None:
    v = float(np.asarray(x))
    return v if np.isfinite(v) else None


def evaluate(
    charter: str | Path | Charter,
    *,
    base_dir: str | Path | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    engine: Engine = "numpy",
    progress: Progress | None = None,
    binned: int | None = None,
    spark: SparkSession | str | None = None,
    candidate: str | None = None,
    diagnose: bool | str = False,
    pairs: Sequence[tuple[str, str]] | None = None,
    mcnemar: str | None = None,
) -> EvaluationResult:
    """Evaluate the charter's models and select one.

    Parameters
    ----------
    charter
        Path to a charter YAML file, or a :class:`~mlscope.charter.schema.Charter`.
    base_dir
        Directory relative data paths are resolved against (default: the charter's).
    resamples
        Override the charter's number of bootstrap resamples (0 turns intervals off).
    seed
        Override the charter's seed.
    engine
        ``"numpy"`` (default): DuckDB reads and checks the data, NumPy aggregates in memory.
        ``"duckdb"``: the aggregation itself runs in DuckDB (spills to disk when the data
        does not fit in memory); multiclass point estimates still use NumPy.
        ``"spark"``: the data are read, checked and aggregated in Apache Spark and only
        the statistics come back (wide layout, binary/regression/errors; see
        ``docs/spark.md``).
    spark
        With ``engine="spark"``: the SparkSession to use (e.g. Databricks' ``spark``), or
        a master URL for a new one (``"local[4]"``, ``"spark://host:7077"``,
        ``"sc://host:15002"``); default: the active session, else ``local[2]``.
    binned
        Opt-in approximation for very large binary data: read the rows once, streaming,
        into this many score bins per model (e.g. 16384). Memory no longer grows with the
        rows; ROC AUC and average precision carry a guaranteed ``error_bound``, every
        other metric stays exact. See ``docs/computation.md``.
    diagnose
        ``True`` (the selected model) or a model name: add ``result.diagnosis`` — the four
        gaps against the upper baseline, the bottleneck and next steps, the weak slices
        (every pair of slice columns is searched too), the training history and learning
        curve when the charter gives them (``mlscope diagnose``; docs/diagnosis.md).
    candidate
        The model ``mlscope check`` holds to the gates and requirements (default: the
        selected model); the verdict is ``result.check``. When it is None and the rule
        selects the blessed model itself, the verdict keeps it (``result.check.keep``):
        the runner-up is compared with it and the blessed model's requirements decide.
        Naming the blessed model itself raises
        :class:`~mlscope.compare.keep.CandidateIsBlessed` (an ``InputError``).
    pairs
        ``(a, b)`` model pairs to compare (``a − b``) with paired tests on every metric,
        split and slice, into ``result.comparisons``; replaces the charter's
        ``compare.pairs`` (``mlscope compare``). Unknown names raise :class:`InputError`.
    mcnemar
        McNemar's method for those pairs (default: the charter's ``compare.mcnemar``).
    progress
        Called as ``progress(stage, done, total)`` as work completes (``stage`` is
        ``"point estimates"`` or ``"intervals <split>"``; units are splits, then
        resamples or models); the CLI draws a progress bar with it.

    Returns
    -------
    EvaluationResult
        Every metric per split, model and slice with intervals; the selection; the
        requirement checks. ``result.exit_code`` is 0 when a model was chosen and meets
        every requirement, 1 otherwise.

    Raises
    ------
    InputError
        For any problem with the charter or the data (the CLI exits with code 2).
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    charter_path: Path | None = None
    charter_warnings: list[str] = []
    if isinstance(charter, Charter):
        ch = charter
        bdir = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        from mlscope.charter import validate_charter

        charter_path = Path(charter)
        report = validate_charter(charter_path)
        if report.problems or report.charter is None:
            raise CharterError(report.problems)
        ch = report.charter
        charter_warnings = [str(w) for w in report.warnings]
        bdir = Path(base_dir) if base_dir is not None else charter_path.resolve().parent
    seed_ = ch.seed if seed is None else seed
    n_boot = ch.intervals.resamples if resamples is None else resamples
    if n_boot < 0:
        raise InputError(f"resamples must be >= 0, got {n_boot}")
    level = ch.intervals.level

    if engine == "spark":
        if binned is not None:
            raise InputError("binned mode (--binned) reads the rows with DuckDB; engine spark "
                             "aggregates exactly in Spark: drop one of the two")
        t = _spark_backend().open_spark_evaluation(ch, bdir, spark)
    else:
        t = open_evaluation(ch, bdir)
    warnings = charter_warnings + list(t.warnings)
    timings["open"] = time.perf_counter() - t0

    baseline_infos: list[BaselineInfo] = []
    if ch.baselines:
        if engine == "spark" and any(b.kind not in ("human", "external")
                                     for b in ch.baselines.values()):
            raise InputError(
                "baselines that predict (trivial, learned, rule) are built with DuckDB and "
                "NumPy; engine spark cannot use them yet: run with the default engine, or "
                "keep only `external` baselines")
        from mlscope.baselines.build import build_baselines

        tb = time.perf_counter()
        brun = build_baselines(ch, t, bdir, seed_)
        baseline_infos = brun.infos
        warnings.extend(brun.warnings)
        timings["baselines"] = time.perf_counter() - tb

    sel_split = ch.selection.split or ch.splits.selection
    rep_split = ch.splits.report if ch.splits.report in t.splits else None
    if rep_split == sel_split:
        rep_split = None
    order = [ch.splits.train] + [s for s in t.splits if s not in (
        ch.splits.train, sel_split, rep_split)] + [sel_split, rep_split]
    eval_splits = [s for s in dict.fromkeys(order) if s is not None and s in t.splits]
    boot_splits = [s for s in (sel_split, rep_split) if s is not None]
    crosses = list(ch.slices.crosses)
    diag_model: str | None = None
    if diagnose:
        diag_model = diagnose if isinstance(diagnose, str) else None
        from mlscope.diagnose.wiring import check_diagnosis_splits

        check_diagnosis_splits(ch, t, sel_split)
        # The gaps need intervals on the training splits too.
        boot_splits += [s for s in (ch.splits.train, ch.splits.train_dev)
                        if s is not None and s in t.splits and s not in boot_splits]
        # Error analysis searches every pair of slice columns as well.
        cols = list(ch.slices.columns)
        crosses += [[a, b] for i, a in enumerate(cols) for b in cols[i + 1:]]

    metrics = _resolve_metrics(ch, t, bdir)
    groupings = plan_groupings(
        t.slice_columns, ch.slices.columns, crosses, ch.slices.where
    )
    levels = (_spark_backend().slice_levels if engine == "spark" else ddb.slice_levels)(
        t, eval_splits)

    y_shift = 0.0
    if t.task == "regression" and engine == "spark":
        y_shift = _spark_backend().label_mean(t)
    elif t.task == "regression":
        row = t.con.execute("SELECT avg(__label) FROM ev").fetchone()
        y_shift = float(row[0]) if row and row[0] is not None else 0.0

    t1 = time.perf_counter()
    tick = progress or (lambda stage, done, total: None)
    bp: BinnedPass | None = None
    if binned is not None:
        bp = _binned_pass(ch, t, metrics, groupings, eval_splits, boot_splits, levels,
                          binned, n_boot, seed_, tick)
    need_rows = bp is None and (
        engine == "numpy" or any(m.custom for m in metrics) or t.task == "multiclass")
    rows = (
        fetch_rows(t, eval_splits, levels) if need_rows
        else fetch_rows(t, boot_splits, levels)
        if n_boot > 0 and bp is None and engine != "spark" else {}
    )
    engines: dict[str, _SplitEngine] = {}
    point: dict[str, _SplitStats] = {}
    if bp is not None:
        point = {s: _SplitStats(task=dict(bp.point[s]), sizes=bp.sizes[s], cells=bp.cells[s])
                 for s in eval_splits}
    bucketed = {s: n_boot > 0 and s in rows and _bucketed(ch, t, metrics, rows[s].n)
                for s in boot_splits}
    if bp is None:
        tick("point estimates", 0, len(eval_splits))
    for si, split in enumerate(eval_splits if bp is None else []):
        if split in rows and (engine == "numpy" or t.task == "multiclass"):
            engines[split] = _SplitEngine(
                t, rows[split], groupings, levels, y_shift,
                cache=n_boot > 0 and split in boot_splits and not bucketed[split])
            # Model statistics are built one model at a time below, so that only a
            # model's worth of histograms is held at once.
            point[split] = engines[split].shell()
        tick("point estimates", si + 1, len(eval_splits))
    if engine in ("duckdb", "spark") and t.task != "multiclass" and bp is None:
        point.update(_duckdb_point(t, groupings, eval_splits, levels,
                                   _spark_backend() if engine == "spark" else ddb))
    if engine == "spark" and n_boot > 0:
        # Only small splits' rows reach the driver (row bootstrap); binary splits from
        # BUCKET_MIN_ROWS rows on use the bucket bootstrap, its histogram built in Spark.
        n_split = {s: point[s].sizes.get(OVERALL, 0) for s in boot_splits}
        bucketed = {s: _bucketed(ch, t, metrics, n_split[s]) for s in boot_splits}
        rows = _spark_backend().fetch_rows(
            t, [s for s in boot_splits if not bucketed[s]], levels, n_split)
    timings["aggregate"] = time.perf_counter() - t1

    # Slices and their sizes per split.
    slice_infos: dict[str, SliceInfo] = {}
    for g in groupings:
        found = {k: c for s in eval_splits for k, c in point[s].cells.items() if c.grouping == g}
        if g.kind in ("overall", "where"):
            found = {c.key: c for c in [SliceCell(g, ())]}
        for cell in sorted(found.values(), key=lambda c: _level_order(c, levels)):
            slice_infos[cell.key] = SliceInfo(
                key=cell.key, kind=g.kind, columns=list(g.names), values=list(cell.values),
                definition=g.definition,
                sizes={s: point[s].sizes.get(cell.key, 0) for s in eval_splits},
            )

    # Per model: its statistics on every split, its operating thresholds (chosen on the
    # selection split, all rows), then its values; the statistics are dropped before the
    # next model so memory holds one model's histograms (two with threads) at a time.
    min_size = ch.slices.min_size
    t2 = time.perf_counter()

    confusion_by: dict[tuple[str, int], ConfusionMatrix] = {}

    def model_stats(mi: int) -> dict[str, _SplitStats]:
        out: dict[str, _SplitStats] = {}
        for split in eval_splits:
            eng = engines.get(split)
            if eng is None:
                out[split] = point[split]
                continue
            task_st, err_st = eng._model_stats(mi, rows[split].w)
            out[split] = _SplitStats(task=task_st, errors=err_st,
                                     sizes=point[split].sizes, cells=point[split].cells)
        return out

    # Trials behind each proportion-like value (engine.bounded.effective_trials), for the
    # exact interval of a value at the end of its range.
    trials: dict[tuple[str, int, str, str], float | None] = {}

    def run_model(mi: int) -> tuple[list[ThresholdChoice], dict[tuple[int, str], float | None],
                                     dict[tuple[str, int, str, str], MetricValue]]:
        name = t.models[mi]
        pm = model_stats(mi)
        rows_thr: list[ThresholdChoice] = []
        thr_m: dict[tuple[int, str], float | None] = {}
        for met in metrics:
            if met.spec is None or not met.spec.is_operating_point(met.params):
                continue
            st = _with_score_type(pm[sel_split].task.get((mi, OVERALL)), t.score_type_of(mi))
            thr = _choose_threshold(met, st) if st is not None else None
            thr_m[(mi, met.id)] = thr
            rows_thr.append(ThresholdChoice(
                model=name, metric=met.id, threshold=thr, chosen_on=sel_split,
                note=_threshold_note(thr, t.score_type_of(mi)),
            ))
        vals: dict[tuple[str, int, str, str], MetricValue] = {}
        for split in eval_splits:
            for skey, sinfo in slice_infos.items():
                n_rows = sinfo.sizes.get(split, 0)
                for met in metrics:
                    mv = MetricValue(split=split, model=name, slice=skey, metric=met.id,
                                     value=None, n_rows=n_rows)
                    if n_rows == 0:
                        mv.undefined = "no rows in this slice"
                    elif skey != OVERALL and n_rows < min_size:
                        mv.undefined = f"slice too small (n={n_rows} < min_size {min_size})"
                    else:
                        val, why = _compute(met, pm[split], mi, skey, thr_m,
                                            engines.get(split), W=None,
                                            score_type=t.score_type_of(mi),
                                            charter_scale=t.score_type)
                        mv.value, mv.undefined = _safe_float(val), why
                        if mv.value is None and mv.undefined is None:
                            mv.undefined = (
                                f"custom metric returned {float(val)!r} on these rows"
                                if met.custom is not None else "not defined on these rows")
                        st = pm[split].task.get((mi, skey))
                        if mv.value is not None and met.spec is not None:
                            thr = (thr_m.get((mi, met.id))
                                   if met.spec.is_operating_point(met.params)
                                   else met.params.get("threshold"))
                            trials[(split, mi, skey, met.id)] = effective_trials(
                                met.spec.name, st,
                                thr if isinstance(thr, int | float) else None)
                        if (bp is not None and mv.value is not None and met.spec is not None
                                and isinstance(st, BinaryStats)):
                            mv.error_bound = binned_error_bound(met.spec.name, st)
                    vals[(split, mi, skey, met.id)] = mv
        for split in eval_splits:
            mst = pm[split].task.get((mi, OVERALL))
            if isinstance(mst, MulticlassStats):
                confusion_by[(split, mi)] = ConfusionMatrix(
                    split=split, model=name, classes=list(mst.classes),
                    counts=confusion_matrix(mst).tolist())
        return rows_thr, thr_m, vals

    n_models = len(t.models)
    big = sum(r.n for r in rows.values()) >= _THREAD_ROWS
    workers = min(n_models, os.cpu_count() or 1, _MAX_THREADS) if engines and big else 1
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            per_model = list(pool.map(run_model, range(n_models)))
    else:
        per_model = [run_model(mi) for mi in range(n_models)]
    thresholds: dict[tuple[int, str], float | None] = {}
    threshold_rows: list[ThresholdChoice] = []
    found_values: dict[tuple[str, int, str, str], MetricValue] = {}
    for rows_thr, thr_m, vals in per_model:
        threshold_rows += rows_thr
        thresholds.update(thr_m)
        found_values.update(vals)
    # The documented order: split, then model, slice and metric.
    index: dict[tuple[str, int, str, str], MetricValue] = {
        (split, mi, skey, met.id): found_values[(split, mi, skey, met.id)]
        for split in eval_splits for mi in range(n_models)
        for skey in slice_infos for met in metrics
    }
    values: list[MetricValue] = list(index.values())
    if bp is not None:
        worst = max((v.error_bound for v in values if v.error_bound), default=0.0)
        warnings.append(
            f"binned mode ({binned} score bins per model): log loss, Brier and every "
            "threshold metric are exact; ROC AUC and average precision are within their "
            f"stated error bound (largest: {worst:.2g})"
        )
    timings["metrics"] = time.perf_counter() - t2

    # Bootstrap: the same resampling weights for every model, slice and metric.
    bounds_of = {met.id: met.info.bounds for met in metrics}
    t3 = time.perf_counter()
    reps: dict[tuple[str, int, str, str], FloatArray] = {}
    interval_note = ""
    bucketed_splits: list[str] = []
    if n_boot > 0 and bp is not None:
        reps.update(_binned_replicates(bp, metrics, t, slice_infos, thresholds, index,
                                       boot_splits))
        bucketed_splits = list(boot_splits)
    elif n_boot > 0:
        for si, split in enumerate(boot_splits):
            if engine == "spark" and bucketed[split]:
                bucketed_splits.append(split)
                reps.update(_spark_bucket_bootstrap(
                    t, metrics, slice_infos, thresholds, n_boot, seed_, si, index, split,
                    groupings, levels, ch.intervals.buckets, ch.intervals.bins, tick))
                continue
            eng = engines.get(split) or _SplitEngine(
                t, rows[split], groupings, levels, y_shift, cache=not bucketed[split])
            if bucketed[split]:
                bucketed_splits.append(split)
                reps.update(_bucket_bootstrap(
                    eng, metrics, t, slice_infos, thresholds, n_boot, seed_, si, index, split,
                    ch.intervals.buckets, ch.intervals.bins, tick))
            else:
                reps.update(_bootstrap(eng, metrics, t, slice_infos, thresholds, n_boot,
                                       seed_, si, min_size, index, split, tick))
    if n_boot > 0:
        for key, arr in reps.items():
            mv = index[key]
            if mv.value is None:
                continue
            ci = percentile_interval(arr, level, min_defined=_MIN_DEFINED_SHARE)
            if ci is not None:
                mv.lower, mv.upper = _in_range(ci, mv.value, bounds_of[key[3]],
                                               trials.get(key), level)
        interval_note = (
            "percentile bootstrap over rows of each split; the same resamples for every model "
            "and slice (paired); operating thresholds held at the value chosen on the "
            "selection split"
        )
        if bucketed_splits:
            interval_note += (
                f"; {' and '.join(bucketed_splits)}: rows resampled in "
                f"{ch.intervals.buckets} random buckets with scores in up to "
                f"{ch.intervals.bins if bp is None else COARSE_BINS} quantile bins (every "
                "threshold an exact bin edge), each interval shifted to centre on the "
                + ("exact" if bp is None else "binned") + " estimate"
            )
    timings["bootstrap"] = time.perf_counter() - t3

    # Selection on the selection split, overall.
    from mlscope.select import select

    table = {
        name: {met.id: index[(sel_split, mi, OVERALL, met.id)].value for met in metrics}
        for mi, name in enumerate(t.models)
    }
    infos = {met.id: met.info for met in metrics}
    baseline_models = [m for m in t.models if t.kinds.get(m, "candidate") != "candidate"]
    selection = select(ch, table, infos, split=sel_split, baselines=baseline_models)
    # The loader already warns about selecting on the report split; keep one such warning.
    warnings.extend(w for w in selection.warnings
                    if not (charter_warnings and "biases the reported estimate" in w))
    winner = selection.primary.winner
    if reps:
        from mlscope.select import decision_confidence

        sel_reps = {name: {met.id: reps[(sel_split, mi, OVERALL, met.id)] for met in metrics
                           if (sel_split, mi, OVERALL, met.id) in reps}
                    for mi, name in enumerate(t.models)}
        selection.confidence = decision_confidence(
            ch.selection, sel_reps, infos,
            candidates=[m for m in t.models if m not in baseline_models], winner=winner)
    blessed_name, blessed_stored, blessed_source = blessed_model(ch, t, bdir)
    top = winner or (selection.primary.ranking[0]["model"]
                     if selection.primary.ranking else None)
    # Differences against the selected (or best-ranked) model, and against the blessed one.
    references = list(dict.fromkeys(r for r in (top, blessed_name) if r is not None))

    t4 = time.perf_counter()
    differences: list[Difference] = []
    masks = SliceMasks(engines, slice_infos)
    for reference in references:
        ri = t.models.index(reference)
        for split in boot_splits:
            for mi in range(len(t.models)):
                if mi == ri:
                    continue
                for skey in slice_infos:
                    for met in metrics:
                        a, b = index[(split, mi, skey, met.id)], index[(split, ri, skey, met.id)]
                        if a.value is None or b.value is None:
                            continue
                        differences.append(paired_difference(
                            t, met, split, skey, mi, ri, a.value - b.value, reps, thresholds,
                            masks, level, seed=seed_))
    # Any pair the charter (or `mlscope compare`) asks for: the same tests, every slice.
    wanted = list(ch.compare.pairs) if pairs is None else list(pairs)
    comparisons = []
    if wanted:
        from mlscope.compare.pairs import compare_pairs

        comparisons = compare_pairs(
            t, wanted, metrics=metrics, splits=boot_splits, slices=list(slice_infos),
            index=index, reps=reps, thresholds=thresholds, masks=masks, level=level,
            mcnemar=mcnemar or ch.compare.mcnemar, seed=seed_,
            where="compare.pairs" if pairs is None else "compare")

    human = None
    # The ladder's item-bootstrap replicates: paired intervals for the gap to human level.
    human_reps: dict[tuple[str, str | None, str], Any] = {}
    hb = [b for b in ch.baselines.values() if isinstance(b, HumanBaseline)]
    if hb:
        from mlscope.baselines.build import human_level

        th = time.perf_counter()
        hsplit = hb[0].split or sel_split
        # Humans give labels: metrics at an operating point chosen per model, custom
        # metrics and error columns are not scored on them.
        hmetrics = [(met.id, met.spec.name, dict(met.params)) for met in metrics
                    if met.spec is not None and met.custom is None
                    and met.error_index is None and not met.info.operating_point]
        human = human_level(ch, t, bdir, hmetrics, split=hsplit,
                            resamples=min(n_boot, 1000) if n_boot else 0, level=level,
                            seed=seed_, replicates=human_reps)
        warnings.extend(f"human level: {w}" for w in human.warnings)
        timings["human"] = time.perf_counter() - th

    timings["differences"] = time.perf_counter() - t4
    standings: list[Standing] = []
    families = {m: (None if k == "candidate" else baseline_family(k))
                for m, k in t.kinds.items()}
    if any(f == "trivial" for f in families.values()):
        from mlscope.baselines.standing import UpperFigure, compute_standings

        # A requirement (a target) or a figure measured on other data is never the
        # ceiling: both are passed along only to be named as such.
        uppers = [UpperFigure(name=b.name, family="external", metric=k, value=v,
                              same_data=b.same_data, data=b.data, role=b.role)
                  for b in baseline_infos if b.family == "external"
                  for k, v in b.values.items()]
        if human is not None:
            uppers += _human_uppers(human, hb[0].split or sel_split, human_reps)
        standings = compute_standings(
            values=index, reps=reps, models=t.models, families=families,
            metrics=[m.info for m in metrics], splits=boot_splits, level=level,
            uppers=uppers)
        warnings.extend(_flag_warnings(standings, families, _decision_metrics(ch),
                                       sel_split))

    # Requirements: the chosen model on the report split (else the selection split).
    req_split = rep_split or sel_split
    requirements: list[RequirementCheck] = []
    if winner is not None:
        requirements = requirement_checks(ch, t, index, winner, req_split)
    check = None
    if ch.gates or ch.blessed is not None or candidate is not None:
        check = check_verdict(ch, t, candidate=candidate, winner=winner, blessed_name=blessed_name,
                       stored=blessed_stored, source=blessed_source,
                       split=req_split, index=index, differences=differences, reps=reps,
                       infos=infos, slices=list(slice_infos), level=level,
                       ranking=selection.primary.ranking)

    diagnosis = None
    if diagnose:
        from mlscope.diagnose.wiring import diagnose as run_diagnosis

        diagnosis = run_diagnosis(ch, t, bdir, model=diag_model or winner or top, index=index,
                              reps=reps, families=families, infos=infos,
                              slices=list(slice_infos.values()), standings=standings,
                              baselines=baseline_infos, human=human,
                              confusion=list(confusion_by.values()), level=level,
                              sel_split=sel_split, rep_split=rep_split,
                              thresholds=thresholds, metrics=metrics,
                              slicing=(groupings, levels, rows.get(sel_split), n_boot, seed_))

    if winner is None:
        status: Literal["requirements_met", "requirements_not_met", "no_decision"] = "no_decision"
    elif all(r.met for r in requirements):
        status = "requirements_met"
    else:
        status = "requirements_not_met"
    too_small = sum(1 for v in values if v.undefined and v.undefined.startswith("slice too small"))
    if too_small:
        small_slices = {v.slice for v in values if v.undefined
                        and v.undefined.startswith("slice too small")}
        warnings.append(
            f"{len(small_slices)} slice(s) have fewer than {min_size} rows on some split; "
            "their metrics are reported as undefined"
        )
    timings["total"] = time.perf_counter() - t0

    # Multiclass only: one matrix per split and model, in that order.
    confusion = [confusion_by[(split, mi)] for split in eval_splits
                 for mi in range(len(t.models)) if (split, mi) in confusion_by]

    return EvaluationResult(
        project=ch.project,
        task=ch.task,
        seed=seed_,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        mlscope_version=__version__,
        charter_path=str(charter_path) if charter_path else None,
        charter=_charter_dict(ch),
        data={"sources": t.sources, "rows": t.n_rows, "splits": t.splits,
              "rows_per_split": {s: slice_infos[OVERALL].sizes.get(s, 0) for s in eval_splits},
              "engine": engine},
        interval=IntervalInfo(method=ch.intervals.method, level=level, resamples=n_boot,
                              seed=seed_, note=interval_note),
        splits={"selection": sel_split, "report": rep_split, "train": (
            ch.splits.train if ch.splits.train in t.splits else None)},
        models=[ModelInfo(name=m, kind="candidate" if families.get(m) is None else "baseline",
                          family=families.get(m)) for m in t.models],
        metrics=[m.info for m in metrics],
        slices=list(slice_infos.values()),
        values=values,
        thresholds=threshold_rows,
        differences=differences,
        selection=selection,
        requirements=requirements,
        warnings=warnings,
        status=status,
        exit_code=0 if status == "requirements_met" else 1,
        confusion=confusion,
        baselines=baseline_infos,
        standings=standings,
        human=human,
        check=check,
        diagnosis=diagnosis,
        comparisons=comparisons,
        timings={k: round(v, 4) for k, v in timings.items()},
        run_id=new_run_id(),
    )


def _human_uppers(human: Any, split: str,
                  reps: Mapping[tuple[str, str | None, str], Any]) -> list[Any]:
    """Human level as a ceiling, per metric: the best rung, with every model's value on
    the rung's own items (so the gap closed compares like with like) and the item
    bootstrap replicates of both (for its interval)."""
    from mlscope.baselines.standing import UpperFigure

    out: list[Any] = []
    for mid, rung in human.best.items():
        hv = human.rung(rung).value(mid) if rung is not None else None
        if hv is None or hv.value is None:
            continue
        on_items: dict[str, float] = {}
        for mo in human.models:
            if mo.rung == rung and (v := mo.value(mid)) is not None and v.value is not None:
                on_items[mo.model] = float(v.value)
        out.append(UpperFigure(
            name=f"human ({rung})", family="human", metric=mid, value=hv.value, split=split,
            n_items=human.rung(rung).n_items, on_items=on_items,
            replicates={who: r for (rn, who, m), r in reps.items() if rn == rung and m == mid}))
    return out


def _flag_warnings(standings: list[Standing], families: dict[str, str | None],
                   decisive: set[str], sel_split: str) -> list[str]:
    """One warning per candidate and cause of not clearly beating the trivial baseline on
    the metrics the decision turns on: each names the cause and what to do."""
    by: dict[tuple[str, str], list[str]] = {}
    for st in standings:
        if (st.flag and st.split == sel_split and families.get(st.model) is None
                and st.metric in decisive):
            by.setdefault((st.model, st.flag_cause or "no_skill"), []).append(st.metric)
    out = []
    for (model, cause), mids in by.items():
        on = f"{', '.join(mids)} ({sel_split} split)"
        if cause == "calibration":
            out.append(f"{model} ranks well but is poorly calibrated: {on} no better than "
                       "the trivial baseline; calibrate the scores (Platt or isotonic) "
                       "before reading them as probabilities; see the standings")
        elif cause == "few_rows":
            out.append(f"{model} vs the trivial baseline on {on}: too few rows to tell; the "
                       "interval of the difference includes 0 and is wide; evaluate on more "
                       "rows; see the standings")
        else:
            how = ("is worse than the trivial baseline on {on}, beyond the interval"
                   if cause == "worse" else
                   "does not clearly beat the trivial baseline on {on}, and the interval "
                   "is tight")
            out.append(f"{model} {how.format(on=on)}: something is wrong — a bug, a leak "
                       "in a baseline, or a model that learned nothing; see the standings")
    return out


def _decision_metrics(ch: Charter) -> set[str]:
    """The metrics the selection rule and the requirements name."""
    from mlscope.select import _rule_metrics

    return set(_rule_metrics(ch.selection)) | set(ch.requirements)


def _charter_dict(ch: Charter) -> dict[str, Any]:
    from mlscope.charter import charter_to_dict

    return charter_to_dict(ch)


def _level_order(cell: SliceCell, levels: list[list[str]]) -> tuple[int, ...]:
    return tuple(
        levels[i].index(v) if v in levels[i] else 10**6
        for i, v in zip(cell.grouping.columns, cell.values, strict=True)
    )


def _threshold_note(thr: float | None, score_type: str) -> str:
    if thr is None:
        return "no threshold meets the condition"
    if score_type == "logit":
        # Chosen thresholds are distinct scores, so logits; say what probability that is.
        p = float(probability(np.asarray([thr]), score_type)[0])
        return f"a logit (probability {p:.6g})"
    if score_type == "score":
        return "on the scale of the scores"
    return ""


def _is_number(x: Any) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _with_score_type(st: Stats | None, score_type: str) -> Stats | None:
    """Binary statistics labelled with the scale of their scores (a view: no copy)."""
    if isinstance(st, BinaryStats) and st.score_type != score_type:
        return dataclasses.replace(st, score_type=score_type)
    return st


def _choose_threshold(met: _Metric, st: Stats) -> float | None:
    """The operating threshold, on the scale of the scores (a logit for logits)."""
    assert met.spec is not None
    try:
        if met.spec.chooser is not None:
            thr = met.spec.chooser(st, **met.params)
        else:
            from mlscope.metrics.binary import best_threshold

            thr = best_threshold(met.spec.name, st, **met.params)
    except (ValueError, ZeroDivisionError):
        return None
    thr = float(thr)
    return thr if np.isfinite(thr) else None


def _compute(
    met: _Metric,
    ss: _SplitStats,
    mi: int,
    skey: str,
    thresholds: Mapping[tuple[int, str], float | None],
    eng: _SplitEngine | None,
    W: FloatArray | None,
    score_type: str = "probability",
    charter_scale: str = "probability",
) -> tuple[Any, str | None]:
    """A metric's value (array over the batch) and, for point estimates, why undefined.

    ``score_type`` is what model ``mi``'s binary scores are (``EvalTable.score_type_of``):
    the statistics carry it to the metrics, and a fixed threshold from the charter (a
    probability) is converted to the scores' scale. Chosen thresholds already are on it.
    ``charter_scale`` is the candidates' ``score_type``: with ``score``, a fixed threshold
    is on their scale, which a baseline's probabilities do not share.
    """
    if met.custom is not None:
        return _custom(met, eng, mi, skey, W), None
    spec = met.spec
    assert spec is not None
    params = dict(met.params)
    given: float | None = None  # a fixed threshold as the charter gives it
    if spec.is_operating_point(params):
        thr = thresholds.get((mi, met.id))
        if thr is None:
            return np.nan, "no operating threshold could be chosen on the selection split"
        params["threshold"] = thr
    elif _is_number(params.get("threshold")):
        if charter_scale == "score" and score_type != "score":
            return np.nan, (
                f"the threshold {params['threshold']:g} is on the scale of the candidates' "
                "scores (`score_type: score`); this baseline predicts probabilities")
        given = params["threshold"]
        params["threshold"] = threshold_on_scores(given, score_type)
    if met.error_index is not None:
        st: Stats | None = ss.errors.get((met.error_index, mi, skey))
    else:
        st = _with_score_type(ss.task.get((mi, skey)), score_type)
    if st is None:
        return np.nan, "no rows in this slice"
    why = spec.undefined(st, **params) if W is None else None
    if why is not None:
        if given is not None and params["threshold"] != given:
            # Reasons name the threshold the user wrote, not its logit.
            conv = params["threshold"]
            why = why.replace(f"threshold {conv:g}", f"threshold {given:g} (logit {conv:g})")
        return np.nan, why
    return spec.fn(st, **params), None


def _custom(met: _Metric, eng: _SplitEngine | None, mi: int, skey: str,
            W: FloatArray | None) -> Any:
    if eng is None:
        raise InputError(f"custom metric `{met.id}` needs the row data")
    rows = eng.rows
    mask = np.ones(rows.n, dtype=bool)
    for code, cells in eng.cells:
        for i, cell in enumerate(cells):
            if cell.key == skey:
                mask = code == i
    score = rows.proba[mi] if eng.t.task == "multiclass" else rows.scores[mi]
    if eng.t.task == "binary" and eng.t.score_type_of(mi) == "logit":
        # Custom metrics are documented to receive probabilities, as they did before
        # logits were kept raw; `score_type: score` hands them the scores as given.
        score = probability(score, "logit")
    weights = rows.w if W is None else W
    assert met.custom is not None

    def call(w: FloatArray) -> float:
        # A bootstrap replicate is handed to the function as the rows it drew (weight =
        # draw count x row weight): rows drawn zero times are left out, so the function
        # sees a sample, as it would from any resampling library, never zero weights.
        keep = mask & (w > 0) if W is not None else mask
        fn = met.custom
        assert fn is not None
        try:
            # float() inside the guard too: it may run the returned object's __float__.
            with user_code(fn.what, fn.dirs):
                return float(fn(rows.y[keep], score[keep], w[keep]))
        except UserCodeError as exc:
            where = ", on a bootstrap resample" if W is not None else ""
            raise exc.at(f" (slice {skey}{where})") from exc.__cause__

    if weights.ndim == 1:
        return np.asarray(call(weights))
    return np.asarray([call(w) for w in weights])


def _bootstrap(
    eng: _SplitEngine,
    metrics: list[_Metric],
    t: EvalTable,
    slice_infos: Mapping[str, SliceInfo],
    thresholds: Mapping[tuple[int, str], float | None],
    n_boot: int,
    seed: int,
    split_index: int,
    min_size: int,
    index: Mapping[tuple[str, int, str, str], MetricValue],
    split: str,
    tick: Progress,
) -> dict[tuple[str, int, str, str], FloatArray]:
    """Replicate values of every defined metric; resample counts drawn once per replicate."""
    n = eng.rows.n
    rng = np.random.default_rng([seed, split_index])
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    out: dict[tuple[str, int, str, str], list[FloatArray]] = {}
    done = 0
    while done < n_boot:
        r = min(chunk, n_boot - done)
        W = resample_counts(rng, n, r) * eng.rows.w
        ss = eng.stats(W)
        for mi in range(len(t.models)):
            for skey in slice_infos:
                for met in metrics:
                    key = (split, mi, skey, met.id)
                    if index[key].value is None:
                        continue
                    val, _ = _compute(met, ss, mi, skey, thresholds, eng, W,
                                      score_type=t.score_type_of(mi),
                                      charter_scale=t.score_type)
                    arr = np.broadcast_to(np.asarray(val, dtype=np.float64), (r,))
                    out.setdefault(key, []).append(arr)
        done += r
        tick(f"intervals {split}", done, n_boot)
    return {k: np.concatenate(v) for k, v in out.items()}


def _in_range(ci: tuple[float, float], value: float, bounds: tuple[float | None, float | None],
              trials: float | None, level: float) -> tuple[float, float]:
    """A metric's bootstrap interval made to respect its range: when every replicate equals
    a value at an end of the range (a perfect slice), the exact Clopper–Pearson interval on
    the metric's trials replaces the point interval; any interval is then cut to the range
    (a bucket-bootstrap interval shifted onto the exact estimate may cross it)."""
    lo, hi = ci
    if lo == hi == value and trials is not None:
        exact = boundary_interval(value, trials, level, bounds)
        if exact is not None:
            lo, hi = exact
    return clip(lo, hi, bounds)


BUCKET_MIN_ROWS = 100_000
_THREAD_ROWS = 200_000
_MAX_THREADS = 4
Progress = Callable[[str, int, int], None]


def _binned_pass(
    ch: Charter, t: EvalTable, metrics: list[_Metric], groupings: list[Grouping],
    eval_splits: list[str], boot_splits: list[str], levels: list[list[str]], n_bins: int,
    n_boot: int, seed: int, tick: Progress,
) -> BinnedPass:
    if t.task != "binary" or any(m.custom is not None for m in metrics):
        raise InputError(
            "binned mode applies to binary tasks without custom metrics (this charter: task "
            f"{t.task}" + (", custom metrics" if any(m.custom is not None for m in metrics)
                           else "") + "); evaluate exactly instead (drop --binned)"
        )
    if n_bins < 16:
        raise InputError(f"binned mode needs at least 16 bins, got {n_bins}")
    # On the scale of each model's scores (a logit for logits); an edge another model does
    # not need only splits one of its bins.
    fixed = {edge for m in metrics if _is_number(th := m.params.get("threshold"))
             for mi in range(len(t.models))
             if np.isfinite(edge := threshold_on_scores(th, t.score_type_of(mi)))}
    loss = {m.spec.name for m in metrics
            if m.spec is not None and m.spec.name in ("brier", "log_loss")}
    return binned_pass(
        t, groupings, eval_splits, levels, n_bins=n_bins, thresholds=fixed, loss_terms=loss,
        boot_splits=boot_splits, n_boot=n_boot, n_buckets=ch.intervals.buckets, seed=seed,
        progress=lambda done: tick("rows read", done, t.n_rows),
    )


def _binned_replicates(
    bp: BinnedPass, metrics: list[_Metric], t: EvalTable, slice_infos: Mapping[str, SliceInfo],
    thresholds: Mapping[tuple[int, str], float | None],
    index: Mapping[tuple[str, int, str, str], MetricValue], boot_splits: list[str],
) -> dict[tuple[str, int, str, str], FloatArray]:
    """Bucket-bootstrap replicates from the pass's coarse histograms, centred on the value."""
    out: dict[tuple[str, int, str, str], FloatArray] = {}
    for split in boot_splits:
        for mi in range(len(t.models)):
            ss = _SplitStats(task={(mi, skey): st for skey in slice_infos
                                   if (st := bp.boot.get((split, mi, skey))) is not None})
            out.update(_shifted_replicates(ss, mi, split, metrics, slice_infos, thresholds,
                                           index, t.score_type_of(mi), t.score_type))
    return out


def _bucketed(ch: Charter, t: EvalTable, metrics: list[_Metric], n_rows: int) -> bool:
    """Whether a split's intervals use the bucket bootstrap (see mlscope.engine.bucketed)."""
    mode = ch.intervals.resampling
    if mode == "rows":
        return False
    eligible = t.task == "binary" and not any(m.custom is not None for m in metrics)
    if mode == "buckets":
        if not eligible:
            raise InputError(
                "intervals.resampling: buckets applies to binary tasks without custom metrics "
                f"(this charter: task {t.task}"
                + (", custom metrics" if any(m.custom is not None for m in metrics) else "")
                + "); use `rows` or `auto`"
            )
        return True
    return eligible and n_rows >= BUCKET_MIN_ROWS


def _threshold_edges(
    metrics: list[_Metric], thresholds: Mapping[tuple[int, str], float | None], mi: int,
    score_type: str = "probability",
) -> set[float]:
    """Every threshold a metric of model ``mi`` is evaluated at (fixed or chosen), on the
    scale of its scores."""
    edges: set[float] = set()
    for met in metrics:
        fixed = met.params.get("threshold")
        # A threshold at ±inf (probability 0 or 1 on logits) is beyond every score: it
        # needs no edge to be exact.
        if _is_number(fixed) and np.isfinite(edge := threshold_on_scores(fixed, score_type)):
            edges.add(edge)
        chosen = thresholds.get((mi, met.id))
        if chosen is not None:
            edges.add(float(chosen))
    return edges


def _shifted_replicates(
    ss: _SplitStats,
    mi: int,
    split: str,
    metrics: list[_Metric],
    slice_infos: Mapping[str, SliceInfo],
    thresholds: Mapping[tuple[int, str], float | None],
    index: Mapping[tuple[str, int, str, str], MetricValue],
    score_type: str = "probability",
    charter_scale: str = "probability",
) -> dict[tuple[str, int, str, str], FloatArray]:
    """Replicates from binned statistics of batch ``1 + R`` (element 0: binned point).

    Binning moves a value slightly, so only the replicates' spread is used: each is
    shifted by the difference between the reported estimate and the binned one.
    """
    out: dict[tuple[str, int, str, str], FloatArray] = {}
    for skey in slice_infos:
        if (mi, skey) not in ss.task:
            continue
        for met in metrics:
            key = (split, mi, skey, met.id)
            value = index[key].value
            if value is None:
                continue
            val, _ = _compute(met, ss, mi, skey, thresholds, None, np.empty(0),
                              score_type=score_type, charter_scale=charter_scale)
            arr = np.asarray(val, dtype=np.float64).reshape(-1)
            out[key] = arr[1:] + (value - arr[0])
    return out


def _bucket_bootstrap(
    eng: _SplitEngine,
    metrics: list[_Metric],
    t: EvalTable,
    slice_infos: Mapping[str, SliceInfo],
    thresholds: Mapping[tuple[int, str], float | None],
    n_boot: int,
    seed: int,
    split_index: int,
    index: Mapping[tuple[str, int, str, str], MetricValue],
    split: str,
    n_buckets: int,
    n_bins: int,
    tick: Progress,
) -> dict[tuple[str, int, str, str], FloatArray]:
    """Replicates from the bucket bootstrap, shifted to centre on the exact estimates."""
    rows = eng.rows
    rng = np.random.default_rng([seed, split_index])
    bucket = rng.integers(0, n_buckets, rows.n, dtype=np.int32)
    counts = resample_counts(rng, n_buckets, n_boot)
    y = rows.y.astype(np.int8)
    w = rows.w if t.has_weight else None
    out: dict[tuple[str, int, str, str], FloatArray] = {}
    stage = f"intervals {split}"
    tick(stage, 0, len(t.models))
    for mi in range(len(t.models)):
        # Every threshold a metric of this model is evaluated at becomes an exact edge.
        binned = bin_scores(rows.scores[mi], n_bins,
                            _threshold_edges(metrics, thresholds, mi, t.score_type_of(mi)), rng)
        ss = _SplitStats()
        for code, cells in eng.cells:
            per = bucketed_binary_cells(binned, y, w, code, len(cells), bucket, n_buckets,
                                        counts)
            for cell, st in zip(cells, per, strict=True):
                ss.task[(mi, cell.key)] = st
        out.update(_shifted_replicates(ss, mi, split, metrics, slice_infos, thresholds, index,
                                       t.score_type_of(mi), t.score_type))
        tick(stage, mi + 1, len(t.models))
    return out


def _duckdb_point(
    t: EvalTable, groupings: list[Grouping], splits: list[str], levels: list[list[str]],
    backend: Any = ddb,
) -> dict[str, _SplitStats]:
    """Point statistics from an SQL engine: ``backend`` is duckdb_backend or spark_backend."""
    out = {s: _SplitStats() for s in splits}
    agg: Mapping[Any, tuple[SliceCell, Any]]
    if t.task == "binary":
        agg = backend.aggregate_binary(t, groupings, splits, levels)
    elif t.task == "regression":
        agg = backend.aggregate_regression(t, groupings, splits, levels)
    else:
        agg = {}
    for (split, m, skey), (cell, st) in agg.items():
        out[split].task[(m, skey)] = st
        if m == 0:
            out[split].sizes[skey] = st.n_rows
            out[split].cells[skey] = cell
    nm = max(len(t.models), 1)
    for (split, key, skey), (cell, est) in backend.aggregate_errors(
        t, groupings, splits, levels
    ).items():
        e, m = divmod(key, nm)
        out[split].errors[(e, m, skey)] = est
        if t.task == "errors" and m == 0 and e == 0:
            out[split].sizes[skey] = est.n_rows
            out[split].cells[skey] = cell
    return out


def _spark_backend() -> Any:
    """The Spark engine module, imported only when engine spark is asked for."""
    from mlscope.engine import spark_backend

    return spark_backend


def _spark_bucket_bootstrap(
    t: EvalTable,
    metrics: list[_Metric],
    slice_infos: Mapping[str, SliceInfo],
    thresholds: Mapping[tuple[int, str], float | None],
    n_boot: int,
    seed: int,
    split_index: int,
    index: Mapping[tuple[str, int, str, str], MetricValue],
    split: str,
    groupings: list[Grouping],
    levels: list[list[str]],
    n_buckets: int,
    n_bins: int,
    tick: Progress,
) -> dict[tuple[str, int, str, str], FloatArray]:
    """The bucket bootstrap of :func:`_bucket_bootstrap`, its histogram built in Spark."""
    rng = np.random.default_rng([seed, split_index])
    counts = resample_counts(rng, n_buckets, n_boot)
    # Every threshold a metric of a model is evaluated at becomes an exact edge.
    edges = [_threshold_edges(metrics, thresholds, mi, t.score_type_of(mi))
             for mi in range(len(t.models))]
    n_rows = slice_infos[OVERALL].sizes.get(split, 0)
    hist = _spark_backend().bucket_histogram(
        t, split, split_index, groupings, levels, edges, n_rows=n_rows,
        n_buckets=n_buckets, n_bins=n_bins, seed=seed)
    out: dict[tuple[str, int, str, str], FloatArray] = {}
    stage = f"intervals {split}"
    tick(stage, 0, len(t.models))
    for mi in range(len(t.models)):
        ss = _SplitStats(task={(mi, k): st for k, st in hist.model_stats(mi, counts).items()})
        out.update(_shifted_replicates(ss, mi, split, metrics, slice_infos, thresholds, index,
                                       t.score_type_of(mi), t.score_type))
        tick(stage, mi + 1, len(t.models))
    return out
