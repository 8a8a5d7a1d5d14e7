"""The exact in-memory engine's core: one split's rows, aggregated per model and cell.

For each model the rows are sorted by score once (:class:`~mlscope.engine.numpy_backend.
Layout`); every slice grouping reuses that order, so the point estimate and each
row-bootstrap replicate are reductions of weights over fixed layouts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.data.source import EvalTable
from mlscope.engine.fused import binary_unit_cells, binary_unit_groupings, narrow_codes
from mlscope.engine.kernel_choice import Scratch
from mlscope.engine.loss_cells import log_loss_cells
from mlscope.engine.numpy_backend import (
    CodeArray,
    Layout,
    RowData,
    binary_cells,
    cell_codes,
    cell_counts,
    error_cells,
    regression_cells,
)
from mlscope.engine.plan import Grouping, SliceCell
from mlscope.engine.rowstats import batched_multiclass, multiclass_row_codes
from mlscope.engine.split import GroupedCells, SplitStatistics
from mlscope.metrics.stats import BinaryStats, Stats

__all__ = ["MAX_THREADS", "THREAD_ROWS", "ExactSplit"]

FloatArray = npt.NDArray[np.float64]
# Models are aggregated on threads from this many rows (times resamples) on; NumPy's sorts
# and reductions release the GIL, so two threads use both cores of a small machine.
THREAD_ROWS = 200_000
MAX_THREADS = 4


def _counted(cells: list[BinaryStats], losses: FloatArray | None = None) -> list[Stats]:
    """``cells`` flagged as row counts: the metrics may sum them in int32 without
    checking them first; with ``losses``, each cell's sum of its rows' log-loss terms
    (:func:`~mlscope.engine.loss_cells.log_loss_cells`)."""
    if losses is None:
        return [dataclasses.replace(st, counts=True) for st in cells]
    return [dataclasses.replace(st, counts=True, loss_sums={"log_loss": losses[i:i + 1]})
            for i, st in enumerate(cells)]


class ExactSplit:
    """One split's rows in memory, laid out once per model and grouping: the exact
    statistics of the point estimate and of every row-bootstrap replicate.

    Parameters
    ----------
    t
        The opened evaluation table (task, models, error columns).
    rows
        The split's rows (:func:`~mlscope.engine.numpy_backend.fetch_rows`).
    groupings, levels
        The slice groupings and each slice column's levels.
    y_shift
        Subtracted from regression labels before the sums (numerical stability).
    cache
        Keep each model's layouts between calls (when the row bootstrap reuses them).
    loss_terms
        The loss metrics the run computes (:attr:`~mlscope.engine.protocol.Request.
        loss_terms`): with ``"log_loss"``, the unit-weight point statistics of a model
        whose scores are probabilities carry each cell's sum of its rows' log-loss terms,
        one logarithm per row instead of two per distinct score and grouping.
    """

    def __init__(
        self, t: EvalTable, rows: RowData, groupings: list[Grouping], levels: list[list[str]],
        y_shift: float, *, cache: bool = True, loss_terms: frozenset[str] = frozenset(),
    ) -> None:
        self.t = t
        self.loss_terms = loss_terms
        self.rows = rows
        self.y_shift = y_shift
        # Layouts cost ~3 integers per row per model and grouping: kept between calls only
        # when the row bootstrap will reuse them; otherwise built one model at a time.
        self.cache = cache
        self.cells: list[tuple[CodeArray, list[SliceCell]]] = [
            cell_codes(rows, g, levels) for g in groupings
        ]
        # Rows per cell of each grouping: the same for every model and replicate.
        self.counts = [cell_counts(code, len(cells)) for code, cells in self.cells]
        self._layouts: dict[tuple[str, int, int], Layout] = {}
        # The unit-weight point path reads one-byte labels and narrow cell codes: built
        # once per split, shared by every model.
        self._narrow = [(narrow_codes(code, len(cells)), len(cells))
                        for code, cells in self.cells] if t.task == "binary" else []
        self._y8 = (rows.y != 0).astype(np.int8) if t.task == "binary" else None
        # The compiled kernel's sort buffers, shared by the models of one stats() call.
        self._scratch: Scratch | None = None
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
        values += [(f"e{e}", rows.errors[(e, m)]) for e in range(len(t.errors))
                   if (e, m) in rows.errors]
        for tag, value in values:
            order = np.argsort(value)  # ties form one segment: their order is irrelevant
            for gi, (code, cells) in enumerate(self.cells):
                out[(tag, m, gi)] = Layout(value, code, len(cells), order)
        if self.cache:
            self._layouts.update(out)
        return out

    def _has_layouts(self, m: int) -> bool:
        # Layouts kept for the row bootstrap are already paid for: reuse them.
        return self.cache and any(k[1] == m for k in self._layouts)

    def _log_losses(self, m: int, groupings: list[int]) -> list[FloatArray | None]:
        """Per grouping of ``groupings``, each cell's sum of model ``m``'s log-loss terms
        with every row weighing 1, where the run asks for log loss of probabilities."""
        if "log_loss" not in self.loss_terms or self.t.score_type_of(m) != "probability":
            return [None] * len(groupings)
        assert self._y8 is not None, "binary tasks only"
        return list(log_loss_cells(self.rows.scores.raw(m), self._y8,
                                   [self._narrow[gi] for gi in groupings]))

    def unit_binary(self, m: int, groupings: list[int]) -> list[list[Any]]:
        """Model ``m``'s binary statistics per cell of each of ``groupings`` (indices),
        every row weighing 1."""
        assert self._y8 is not None, "binary tasks only"
        cells = binary_unit_cells(self.rows.scores.raw(m), self._y8,
                                  [self._narrow[gi] for gi in groupings],
                                  self._scratch, self.rows.n * len(self.t.models),
                                  [self.counts[gi] for gi in groupings])
        losses = self._log_losses(m, groupings)
        return [_counted(per, loss) for per, loss in zip(cells, losses, strict=True)]

    def _grouped(self, m: int) -> GroupedCells:
        """Model ``m``'s unit-weight binary statistics, one grouping at a time."""
        assert self._y8 is not None, "binary tasks only"
        # The column as held (float32 from a float32 file): widened by the sort alone.
        build = binary_unit_groupings(self.rows.scores.raw(m), self._y8, self._narrow,
                                      self.rows.n * len(self.t.models), self.counts)
        # Every grouping's loss sums at once (one logarithm per row for all of them):
        # a number per cell, kept beside the grouping's rebuildable histograms.
        losses = self._log_losses(m, list(range(len(self.cells))))

        return GroupedCells(m, [[c.key for c in cells] for _, cells in self.cells],
                            lambda gi: _counted(build(gi), losses[gi]))

    def stats(self, W: FloatArray) -> SplitStatistics:
        """Every model's statistics under weights ``W`` (a batch when ``W`` is 2-D)."""
        t = self.t
        out = SplitStatistics()
        models = range(len(t.models))
        # Models are independent and NumPy's sorts, gathers and reductions release the GIL:
        # on a large split, two threads use both cores of a small machine.
        workers = min(len(t.models), os.cpu_count() or 1, MAX_THREADS)
        self._scratch = Scratch()
        try:
            if workers > 1 and self.rows.n * (W.shape[0] if W.ndim > 1 else 1) >= THREAD_ROWS:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    parts = list(pool.map(lambda m: self.model_stats(m, W), models))
            else:
                parts = [self.model_stats(m, W) for m in models]
        finally:
            self._scratch = None  # row-sized: not kept beyond the call
        for task_stats, error_stats in parts:
            out.task.update(task_stats)
            out.errors.update(error_stats)
        shell = self.shell()
        out.sizes, out.cells = shell.sizes, shell.cells
        return out

    def shell(self) -> SplitStatistics:
        """The split's cells and their sizes, without any model's statistics."""
        out = SplitStatistics()
        for (_, cells), counts in zip(self.cells, self.counts, strict=True):
            for i, cell in enumerate(cells):
                out.sizes[cell.key] = int(counts[i])
                out.cells[cell.key] = cell
        return out

    def model_stats(
        self, m: int, W: FloatArray, *, lazy: bool = False
    ) -> tuple[MutableMapping[tuple[int, str], Stats], dict[tuple[int, int, str], Stats]]:
        """Model ``m``'s task and error-column statistics per cell under weights ``W``.

        ``lazy``: where the unit-weight path applies (and the table has no error
        columns), the task's statistics come as :class:`~mlscope.engine.split.GroupedCells`,
        built one slice grouping at a time when read (the metrics stage's point
        estimates); otherwise, and by default, every cell's at once.
        """
        t, rows = self.t, self.rows
        unit = not t.has_weight
        task: dict[tuple[int, str], Stats] = {}
        errors: dict[tuple[int, int, str], Stats] = {}
        # Unit weights (the point estimate of an unweighted table): every sum is a count,
        # exact in any order, so one descending sort and one pass per grouping replace the
        # layouts (see mlscope.engine.fused).
        unit_point = (t.task == "binary" and W.ndim == 1 and not self._has_layouts(m)
                      and bool(np.all(W == 1.0)))
        if unit_point and lazy and not t.errors:
            return self._grouped(m), errors
        fused = self.unit_binary(m, list(range(len(self.cells)))) if unit_point else None
        need_layouts = (t.task not in ("multiclass", "binary") or t.errors
                        or (t.task == "binary" and fused is None))
        layouts = self.layouts(m) if need_layouts else {}
        for gi, (code, cells) in enumerate(self.cells):
            per: list[Any]
            if fused is not None:
                per = fused[gi]
            elif t.task == "binary":
                per = binary_cells(layouts[("s", m, gi)], rows.y, W, len(cells), whole=unit)
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
                if (f"e{e}", m, gi) not in layouts:
                    continue  # a baseline: no error columns
                errs = error_cells(layouts[(f"e{e}", m, gi)], W, len(cells), unit_weights=unit)
                for cell, est in zip(cells, errs, strict=True):
                    errors[(e, m, cell.key)] = est
        return task, errors
